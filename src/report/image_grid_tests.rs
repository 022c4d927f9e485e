use super::*;
use crate::report::plot::{
    ensure_font,
    tests::{assert_drawn, png_size},
};
use crate::report::text::GlyphBackend;
use ndarray::Array2;

#[test]
fn red_blue_colormap_ends_middle_and_nan() {
    let map = Colormap::EASY_AXIS_X;
    assert_eq!(map.color(-1.0), RGBColor(103, 0, 31));
    assert_eq!(map.color(1.0), RGBColor(5, 48, 97));
    assert_eq!(map.color(0.0), RGBColor(247, 247, 247));
    assert_eq!(map.color(-7.0), map.color(-1.0));
    assert_eq!(map.color(f32::NAN), RGBColor(190, 190, 190));
    // Halfway between the first two anchors.
    assert_eq!(map.color(-0.9), RGBColor(141, 12, 37));
    let RGBColor(r, _, b) = map.color(-0.5);
    assert!(r > b, "negative values are red");
}

/// Renders `grid` into an RGB buffer and returns the pixel getter.
fn render(grid: &ImageGrid<'_>) -> (Vec<u8>, u32) {
    ensure_font().unwrap();
    let (w, h) = image_grid_size(grid);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let area = GlyphBackend(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
        render_image_grid(&area, grid).unwrap();
        area.present().unwrap();
    }
    (buf, w)
}

fn pixel(buf: &[u8], width: u32, (x, y): (i32, i32)) -> RGBColor {
    let at = ((y as u32 * width + x as u32) * 3) as usize;
    RGBColor(buf[at], buf[at + 1], buf[at + 2])
}

#[test]
fn row_zero_is_drawn_at_the_bottom_and_column_zero_at_the_left() {
    // 4 rows × 2 columns: value −1 in row 0 / column 0 only, +1 in the top row.
    let mut img = Array2::<f32>::zeros((4, 2));
    img[[0, 0]] = -1.0;
    img.row_mut(3).fill(1.0);
    let grid = ImageGrid {
        title: String::new(),
        images: vec![("test".into(), img.view())],
        cols: 1,
        colormap: Colormap::EASY_AXIS_X,
        colorbar_label: "u_x".into(),
    };
    let layout = Layout::new(&grid);
    assert_eq!(layout.scale, 80);
    let (buf, w) = render(&grid);
    let (x0, y0) = layout.origin(0);
    let s = layout.scale as i32;
    let centre = |row: i32, col: i32| (x0 + col * s + s / 2, y0 + (3 - row) * s + s / 2);
    assert_eq!(
        pixel(&buf, w, centre(0, 0)),
        Colormap::EASY_AXIS_X.color(-1.0)
    );
    assert_eq!(
        pixel(&buf, w, centre(0, 1)),
        Colormap::EASY_AXIS_X.color(0.0)
    );
    assert_eq!(
        pixel(&buf, w, centre(3, 0)),
        Colormap::EASY_AXIS_X.color(1.0)
    );
    assert_eq!(
        pixel(&buf, w, centre(3, 1)),
        Colormap::EASY_AXIS_X.color(1.0)
    );
    // Colour bar: blue at the top, red at the bottom.
    let bar_x = (w - COLORBAR_AREA + GAP) as i32 + 5;
    assert_eq!(
        pixel(&buf, w, (bar_x, y0)),
        Colormap::EASY_AXIS_X.color(1.0)
    );
    assert_eq!(
        pixel(&buf, w, (bar_x, y0 + 4 * s - 1)),
        Colormap::EASY_AXIS_X.color(-1.0)
    );
}

#[test]
fn grid_of_three_images_is_written_as_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grains.png");
    let images: Vec<Array2<f32>> = (0..3)
        .map(|k| Array2::from_shape_fn((160, 160), |(r, c)| ((r + c + k) % 40) as f32 / 20.0 - 1.0))
        .collect();
    let grid = ImageGrid {
        title: "grains".into(),
        images: images
            .iter()
            .map(|im| ("x".to_string(), im.view()))
            .collect(),
        cols: 2,
        colormap: Colormap::EASY_AXIS_X,
        colorbar_label: "u_x".into(),
    };
    image_grid(&path, &grid).unwrap();
    assert_drawn(&path);
    let size = png_size(&path);
    assert_eq!(size, image_grid_size(&grid));
    // 2 columns of 320 px, 2 rows.
    assert_eq!(
        size,
        (
            2 * MARGIN + 2 * 320 + GAP + COLORBAR_AREA,
            2 * MARGIN + 44 + 2 * (CAPTION + 320) + GAP
        )
    );
    let empty = ImageGrid {
        images: vec![],
        ..grid
    };
    assert!(matches!(
        image_grid(&path, &empty),
        Err(PlotError::NoData(_))
    ));
}

/// The titles the stages draw, at every grid size the stages use (tiny profiles to the paper's
/// 160×160 and beyond, one panel or three): every title line fits the panels' span, and the
/// rendered title's ink stays inside the canvas' margins (issue 17: at 160×160 the structure
/// title was clipped to "cture (x-component of the easy axis)").
#[test]
fn titles_fit_at_every_grid_size() {
    let titles = [
        "structure (x-component of the easy axis)",
        "grain structures: x-component of the easy axis",
        "μ0H at z = 0.5 cm (T; colours clipped at half the maximum)",
        "test samples: original (top) and decoded (bottom)",
    ];
    for n in [
        8usize, 16, 24, 32, 48, 64, 100, 128, 160, 161, 200, 256, 320,
    ] {
        for (images, cols) in [(1usize, 1usize), (3, 3)] {
            for title in titles {
                let ims: Vec<Array2<f32>> = (0..images).map(|_| Array2::zeros((n, n))).collect();
                let grid = ImageGrid {
                    title: title.into(),
                    images: ims.iter().map(|im| ("c".to_string(), im.view())).collect(),
                    cols,
                    colormap: Colormap::EASY_AXIS_X,
                    colorbar_label: "u_x".into(),
                };
                let layout = Layout::new(&grid);
                let (lines, size) = &layout.title;
                assert_eq!(lines.join(" "), title, "{n}: the whole title is drawn");
                let (w, _) = layout.size();
                let span = f64::from(cols as u32 * layout.panel_w + (cols as u32 - 1) * GAP);
                for line in lines {
                    let width = crate::report::text::text_width(line, f64::from(*size));
                    assert!(
                        width <= span && width <= f64::from(w),
                        "{n}: {line:?} {width} px"
                    );
                }
                let (buf, w) = render(&grid);
                let band = MARGIN as usize..(MARGIN + layout.title_h) as usize;
                let inked: Vec<usize> = (0..w as usize)
                    .filter(|&c| band.clone().any(|r| buf[(r * w as usize + c) * 3] < 200))
                    .collect();
                let (first, last) = (inked[0], inked[inked.len() - 1]);
                assert!(
                    first + 1 >= MARGIN as usize && last < MARGIN as usize + span as usize + 1,
                    "{n}×{n}, {images} image(s): title ink spans columns {first}..={last} of {w}"
                );
            }
        }
    }
}
