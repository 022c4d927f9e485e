use super::*;

/// Width and height from a PNG file, after checking its signature, IHDR and final IEND chunk.
pub(crate) fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(
        &bytes[8..16],
        b"\x00\x00\x00\x0dIHDR",
        "IHDR first, 13 bytes long"
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(bytes[24], 8, "8 bits per channel");
    assert_eq!(
        &bytes[bytes.len() - 12..],
        b"\x00\x00\x00\x00IEND\xae\x42\x60\x82",
        "ends with IEND"
    );
    (be(16), be(20))
}

/// Fraction of a PNG's pixels that differ from its top-left (background) pixel: a blank image
/// has none, so a test that checks it cannot pass on an empty plot.
pub(crate) fn ink_fraction(path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let samples = info.color_type.samples();
    let bytes = &buf[..info.buffer_size()];
    let background = &bytes[..samples];
    let ink = bytes.chunks(samples).filter(|p| *p != background).count();
    ink as f64 / (bytes.len() / samples) as f64
}

/// Asserts that a plot has drawn content (axes, labels, data) without being one colour.
pub(crate) fn assert_drawn(path: &Path) {
    let ink = ink_fraction(path);
    assert!(
        ink > 0.01 && ink < 0.9,
        "{}: {ink} of the pixels drawn",
        path.display()
    );
}

#[test]
fn a_blank_png_fails_the_drawn_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blank.png");
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), 64, 48);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&vec![255u8; 64 * 48 * 3]).unwrap();
    drop(w);
    assert_eq!(ink_fraction(&path), 0.0);
    assert!(std::panic::catch_unwind(|| assert_drawn(&path)).is_err());
}

/// A demagnetization-like curve M(H) = tanh-shaped switching at H = −0.3 (field in units of HA).
fn demag_like_chart() -> LineChart {
    let curve: Vec<(f64, f64)> = (0..=200)
        .map(|k| {
            let h = 1.0 - 0.01 * f64::from(k);
            (h, 0.9 * ((h + 0.3) / 0.08).tanh() + 0.05 * h)
        })
        .collect();
    let m = |h: f64| 0.9 * ((h + 0.3) / 0.08).tanh() + 0.05 * h;
    let markers = [("M1", 1.0), ("Mr", 0.0), ("Hk,90", -0.22), ("Hc", -0.3)]
        .into_iter()
        .map(|(label, x)| Marker {
            label: label.to_string(),
            x,
            y: m(x),
        })
        .collect();
    LineChart {
        title: "Demagnetization curve".into(),
        x_label: "μ0 H / μ0 HA".into(),
        y_label: "M / Ms".into(),
        series: vec![Series {
            name: "computed".into(),
            points: curve,
            style: SeriesStyle::Line,
        }],
        markers,
        log_y: false,
    }
}

#[test]
fn line_plot_writes_a_png_of_the_declared_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demag.png");
    line_plot(&path, &demag_like_chart()).unwrap();
    assert_eq!(png_size(&path), LINE_CHART_SIZE);
    assert_drawn(&path);
}

#[test]
fn log_y_loss_curves_skip_non_positive_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.png");
    let loss = |scale: f64| -> Vec<(f64, f64)> {
        (0..100)
            .map(|e| (f64::from(e), scale * (-0.05 * f64::from(e)).exp()))
            .collect()
    };
    let mut validation = loss(2.0);
    validation[3].1 = 0.0;
    validation[4].1 = f64::NAN;
    let chart = LineChart {
        title: "VAE loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        series: vec![
            Series {
                name: "train".into(),
                points: loss(1.0),
                style: SeriesStyle::Line,
            },
            Series {
                name: "validation".into(),
                points: validation,
                style: SeriesStyle::Markers,
            },
        ],
        markers: vec![],
        log_y: true,
    };
    line_plot(&path, &chart).unwrap();
    assert_eq!(png_size(&path), LINE_CHART_SIZE);
    assert_drawn(&path);
}

#[test]
fn parity_plot_writes_a_png_with_a_square_plot_area() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parity.png");
    let train: Vec<(f64, f64)> = (0..50)
        .map(|k| (f64::from(k) / 50.0, f64::from(k) / 49.0))
        .collect();
    let test = vec![(0.2, 0.25), (0.5, 0.45), (f64::NAN, 1.0)];
    parity_plot(&path, "Hc", "Hc / HA", &train, &test).unwrap();
    assert_eq!(
        png_size(&path),
        (PARITY_PLOT_SIZE + 130, PARITY_PLOT_SIZE + 160)
    );
    assert_drawn(&path);
}

#[test]
fn bad_paths_and_empty_data_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("demag.jpg");
    assert!(matches!(
        line_plot(&jpg, &demag_like_chart()),
        Err(PlotError::NotPng { .. })
    ));
    let png = dir.path().join("empty.png");
    assert!(matches!(
        line_plot(&png, &LineChart::default()),
        Err(PlotError::NoData(_))
    ));
    assert!(matches!(
        parity_plot(&png, "", "", &[], &[]),
        Err(PlotError::NoData(_))
    ));
    assert!(!png.exists());
    let missing_dir = dir.path().join("no/such/dir/x.png");
    assert!(matches!(
        line_plot(&missing_dir, &demag_like_chart()),
        Err(PlotError::Drawing { .. })
    ));
}

#[test]
fn tick_labels_are_short() {
    let cases = [
        (0.0, "0"),
        (0.5, "0.5"),
        (-0.25, "-0.25"),
        (1.0, "1"),
        (1234.0, "1234"),
        (1e-4, "1e-4"),
        (2.5e6, "2.5e6"),
        (-1e-8, "-1e-8"),
    ];
    for (v, text) in cases {
        assert_eq!(format_tick(v, 1.0), text);
    }
    // Rounding residue of a tick at zero, relative to the axis span.
    assert_eq!(format_tick(-2.220446049250313e-16, 2.0), "0");
    assert_eq!(format_tick(1e-12, 1e-11), "1e-12");
}

#[test]
fn padded_range_pads_and_handles_degenerate_input() {
    assert_eq!(padded_range([0.0, 10.0].into_iter(), 0.1), Some(-1.0..11.0));
    assert_eq!(padded_range([2.0, 2.0].into_iter(), 0.1), Some(1.8..2.2));
    assert_eq!(padded_range([0.0].into_iter(), 0.1), Some(-0.5..0.5));
    assert_eq!(padded_range([f64::NAN].into_iter(), 0.1), None);
}
