//! Grids of colour-mapped images (grain structures coloured by the easy axis' x-component,
//! latent codes) with captions and a colour bar, written as PNG.
//!
//! Orientation: like the physical sample, y points up. Array row 0 (y index 0) is drawn at the
//! bottom of its panel and column 0 (x index 0) at the left; cells are square, scaled by a whole
//! number of pixels.

use super::plot::{LABEL_FONT, PlotError, TICK_FONT, TITLE_FONT, drawing_error, prepare_png};
use super::text::{GlyphBackend, wrap};
use ndarray::ArrayView2;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Maps values to colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Colormap {
    /// Diverging red (at `min`) → white → blue (at `max`), ColorBrewer RdBu; values outside are
    /// clamped, NaN is grey.
    RedBlue {
        /// Value shown red.
        min: f32,
        /// Value shown blue.
        max: f32,
    },
}

impl Colormap {
    /// The paper's map for the easy axis' x-component: −1 red, +1 blue.
    pub const EASY_AXIS_X: Colormap = Colormap::RedBlue {
        min: -1.0,
        max: 1.0,
    };

    /// ColorBrewer RdBu (11 classes), from red to blue.
    const RED_BLUE: [(u8, u8, u8); 11] = [
        (103, 0, 31),
        (178, 24, 43),
        (214, 96, 77),
        (244, 165, 130),
        (253, 219, 199),
        (247, 247, 247),
        (209, 229, 240),
        (146, 197, 222),
        (67, 147, 195),
        (33, 102, 172),
        (5, 48, 97),
    ];

    /// Value range `(min, max)` shown by the colour bar.
    pub fn range(&self) -> (f32, f32) {
        match *self {
            Colormap::RedBlue { min, max } => (min, max),
        }
    }

    /// Colour of `value`.
    pub fn color(&self, value: f32) -> RGBColor {
        if value.is_nan() {
            return RGBColor(190, 190, 190);
        }
        let (min, max) = self.range();
        let t = if max > min {
            ((value - min) / (max - min)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let scaled = t * (Self::RED_BLUE.len() - 1) as f32;
        let k = (scaled.floor() as usize).min(Self::RED_BLUE.len() - 2);
        let f = scaled - k as f32;
        let (a, b) = (Self::RED_BLUE[k], Self::RED_BLUE[k + 1]);
        let mix = |p: u8, q: u8| (f32::from(p) + f * (f32::from(q) - f32::from(p))).round() as u8;
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// A captioned grid of images sharing one colour map.
#[derive(Debug, Clone)]
pub struct ImageGrid<'a> {
    /// Title above the grid (may be empty).
    pub title: String,
    /// `(caption, image)` pairs, image shape `(ny, nx)` with row index = y.
    pub images: Vec<(String, ArrayView2<'a, f32>)>,
    /// Images per row (at least 1).
    pub cols: usize,
    /// Colour map for all images.
    pub colormap: Colormap,
    /// Label above the colour bar, e.g. `"u_x"`.
    pub colorbar_label: String,
}

/// Target edge length of one image in pixels (rounded down to a whole scale factor).
const TARGET_PANEL: usize = 320;
const MARGIN: u32 = 20;
const GAP: u32 = 24;
const CAPTION: u32 = 30;
const COLORBAR_WIDTH: u32 = 22;
const COLORBAR_AREA: u32 = 110;

/// Smallest title font size: below it a long word gets a line of its own instead.
const MIN_TITLE_FONT: u32 = 14;

/// Pixel layout of a grid.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    scale: usize,
    panel_w: u32,
    panel_h: u32,
    cols: usize,
    rows: usize,
    title_h: u32,
    /// The title broken into lines that fit above the panels, and its font size.
    title: (Vec<String>, u32),
}

impl Layout {
    fn new(grid: &ImageGrid<'_>) -> Self {
        let max_nx = grid
            .images
            .iter()
            .map(|(_, im)| im.ncols())
            .max()
            .unwrap_or(1)
            .max(1);
        let max_ny = grid
            .images
            .iter()
            .map(|(_, im)| im.nrows())
            .max()
            .unwrap_or(1)
            .max(1);
        let scale = (TARGET_PANEL / max_nx.max(max_ny)).max(1);
        let cols = grid.cols.clamp(1, grid.images.len().max(1));
        let to_px = |n: usize| u32::try_from(n * scale).unwrap_or(u32::MAX / 4);
        let panel_w = to_px(max_nx);
        // The title is wrapped (and shrunk only if one word is too wide) to the panels' span, so
        // that no glyph is clipped however narrow the grid.
        let span = cols as u32 * panel_w + (cols as u32 - 1) * GAP;
        let title = wrap(&grid.title, TITLE_FONT, MIN_TITLE_FONT, f64::from(span));
        let title_h = match title.0.len() as u32 {
            0 => 0,
            n => n * line_height(title.1) + 14,
        };
        Self {
            scale,
            panel_w,
            panel_h: to_px(max_ny),
            cols,
            rows: grid.images.len().div_ceil(cols),
            title_h,
            title,
        }
    }

    /// Horizontal centre of the panels' span (where the title is centred).
    fn panels_centre(&self) -> i32 {
        let cols = self.cols as u32;
        (MARGIN + (cols * self.panel_w + (cols - 1) * GAP) / 2) as i32
    }

    fn size(&self) -> (u32, u32) {
        let (cols, rows) = (self.cols as u32, self.rows as u32);
        let w = 2 * MARGIN + cols * self.panel_w + (cols - 1) * GAP + COLORBAR_AREA;
        let h = 2 * MARGIN + self.title_h + rows * (CAPTION + self.panel_h) + (rows - 1) * GAP;
        (w, h)
    }

    /// Top-left pixel of the image in panel `k`.
    fn origin(&self, k: usize) -> (i32, i32) {
        let (row, col) = ((k / self.cols) as u32, (k % self.cols) as u32);
        let x = MARGIN + col * (self.panel_w + GAP);
        let y = MARGIN + self.title_h + row * (CAPTION + self.panel_h + GAP) + CAPTION;
        (x as i32, y as i32)
    }
}

/// Pixel size of the PNG that [`image_grid`] writes for `grid`.
pub fn image_grid_size(grid: &ImageGrid<'_>) -> (u32, u32) {
    Layout::new(grid).size()
}

/// Writes `grid` to `path` as PNG (size [`image_grid_size`]).
pub fn image_grid(path: &Path, grid: &ImageGrid<'_>) -> Result<(), PlotError> {
    prepare_png(path)?;
    if grid.images.is_empty() {
        return Err(PlotError::NoData(format!(
            "no image for `{}`",
            path.display()
        )));
    }
    let root = GlyphBackend(BitMapBackend::new(path, image_grid_size(grid))).into_drawing_area();
    render_image_grid(&root, grid).map_err(drawing_error(path))?;
    root.present().map_err(drawing_error(path))
}

fn centered(size: u32) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center))
}

/// Draws `grid` on `area`, which must be [`image_grid_size`] pixels large.
pub(crate) fn render_image_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &ImageGrid<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let layout = Layout::new(grid);
    area.fill(&WHITE)?;
    let (lines, size) = &layout.title;
    let step = line_height(*size) as i32;
    for (i, line) in lines.iter().enumerate() {
        let y = MARGIN as i32 + 4 + step * i as i32 + step / 2;
        area.draw_text(line, &centered(*size), (layout.panels_centre(), y))?;
    }
    let s = layout.scale as i32;
    for (k, (caption, image)) in grid.images.iter().enumerate() {
        let (x0, y0) = layout.origin(k);
        let (ny, nx) = image.dim();
        let cx = x0 + (nx as i32 * s) / 2;
        area.draw_text(
            caption,
            &centered(LABEL_FONT),
            (cx, y0 - CAPTION as i32 / 2),
        )?;
        for ((row, col), &value) in image.indexed_iter() {
            let color = grid.colormap.color(value);
            // Row index = y: row 0 at the bottom.
            let top = y0 + (ny - 1 - row) as i32 * s;
            let left = x0 + col as i32 * s;
            for dy in 0..s {
                for dx in 0..s {
                    area.draw_pixel((left + dx, top + dy), &color)?;
                }
            }
        }
        let frame = [(x0 - 1, y0 - 1), (x0 + nx as i32 * s, y0 + ny as i32 * s)];
        area.draw(&Rectangle::new(frame, BLACK.stroke_width(1)))?;
    }
    draw_colorbar(area, grid, &layout)
}

/// Distance between the baselines of two title lines at font `size`.
fn line_height(size: u32) -> u32 {
    (size * 23).div_ceil(20)
}

fn draw_colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &ImageGrid<'_>,
    layout: &Layout,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, _) = layout.size();
    let x0 = (width - COLORBAR_AREA + GAP) as i32;
    let (_, top) = layout.origin(0);
    let height = layout.panel_h as i32;
    let (min, max) = grid.colormap.range();
    for py in 0..height {
        // The top pixel row is exactly `max`, the bottom one exactly `min`, as the end ticks.
        let t = 1.0 - py as f32 / (height - 1).max(1) as f32;
        let color = grid.colormap.color(min + t * (max - min));
        for px in 0..COLORBAR_WIDTH as i32 {
            area.draw_pixel((x0 + px, top + py), &color)?;
        }
    }
    let frame = [
        (x0 - 1, top - 1),
        (x0 + COLORBAR_WIDTH as i32, top + height),
    ];
    area.draw(&Rectangle::new(frame, BLACK.stroke_width(1)))?;
    let tick_style = ("sans-serif", TICK_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for k in 0..=4 {
        let t = k as f32 / 4.0;
        let y = top + ((1.0 - t) * (height - 1) as f32).round() as i32;
        let right = x0 + COLORBAR_WIDTH as i32;
        area.draw(&PathElement::new(vec![(right, y), (right + 5, y)], BLACK))?;
        let value = f64::from(min + t * (max - min));
        let span = f64::from(max - min);
        area.draw_text(
            &super::plot::format_tick(value, span),
            &tick_style,
            (right + 8, y),
        )?;
    }
    let label_x = x0 + COLORBAR_WIDTH as i32 / 2;
    area.draw_text(
        &grid.colorbar_label,
        &centered(TICK_FONT),
        (label_x, top - CAPTION as i32 / 2),
    )
}

#[cfg(test)]
#[path = "image_grid_tests.rs"]
mod tests;
