//! Curves with a band over replicates, one small panel per sweep point (a figure such as
//! "Figure 8 with a band over seeds"): per y column, the mean over the point's replicates as a line
//! and their minimum–maximum as a shaded band, on axes shared by every panel so that panels
//! compare at a glance. Domain-agnostic: it draws whatever `bands` entry of a sweep it is given.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::plot::{PALETTE, PlotError, TICK_FONT, drawing_error, format_tick, prepare_png};
use super::text::GlyphBackend;
use crate::engine::cache::Cache;
use crate::engine::executor::RunReport;
use crate::engine::plan::Plan;
use crate::engine::results::write_if_changed;
use crate::engine::sweep::Sweep;
use crate::engine::sweep_bands::{BandSpec, BandTable, band_csv, band_table};

/// Size of one panel (pixels).
const PANEL: (u32, u32) = (440, 330);
/// Height of the title and legend strip above the panels.
const HEADER: u32 = 90;

/// Panels per row: up to 5, fewer for small sweeps.
fn grid(n: usize) -> (usize, usize) {
    let cols = (n as f64).sqrt().ceil().clamp(1.0, 5.0) as usize;
    (cols, n.div_ceil(cols).max(1))
}

/// `[lo, hi]` of `values`, padded by 4 % (±0.5 when flat); `None` when no value is finite.
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    (lo <= hi).then(|| {
        let pad = if hi > lo { 0.04 * (hi - lo) } else { 0.5 };
        (lo - pad, hi + pad)
    })
}

/// Draws `table` to `path` (PNG): one panel per point, series `k` in palette colour `k`.
pub fn band_plot(path: &Path, table: &BandTable) -> Result<(), PlotError> {
    prepare_png(path)?;
    let spec = &table.spec;
    let groups: Vec<_> = table.groups.iter().collect();
    let xs = range(groups.iter().flat_map(|g| g.x.iter().copied()));
    let ys = spec.y_range.or_else(|| {
        range(
            groups
                .iter()
                .flat_map(|g| g.series.iter())
                .flat_map(|s| s.spreads.iter())
                .flat_map(|s| [s.min, s.max]),
        )
    });
    let (Some((x0, x1)), Some((y0, y1))) = (xs, ys) else {
        return Err(PlotError::NoData(format!(
            "no variant has a usable `{}.{}`",
            spec.stage, spec.output
        )));
    };
    let (cols, rows) = grid(groups.len());
    let size = (PANEL.0 * cols as u32, HEADER + PANEL.1 * rows as u32);
    let err = drawing_error(path);
    let root = GlyphBackend(BitMapBackend::new(path, size)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let (header, body) = root.split_vertically(HEADER);
    let title = format!(
        "{}.{}: mean over replicates (line) and min–max (band), per sweep point (n = replicates with data)",
        spec.stage, spec.output
    );
    header
        .draw(&Text::new(title, (16, 12), ("sans-serif", 22)))
        .map_err(&err)?;
    let mut at = 16i32;
    for (k, y) in spec.y.iter().enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        header
            .draw(&Rectangle::new(
                [(at, 56), (at + 28, 70)],
                c.mix(0.3).filled(),
            ))
            .map_err(&err)?;
        header
            .draw(&PathElement::new(
                vec![(at, 63), (at + 28, 63)],
                c.stroke_width(3),
            ))
            .map_err(&err)?;
        header
            .draw(&Text::new(y.clone(), (at + 36, 54), ("sans-serif", 18)))
            .map_err(&err)?;
        at += 60 + 11 * y.chars().count() as i32;
    }
    for (panel, g) in body.split_evenly((rows, cols)).iter().zip(&groups) {
        let caption = if g.label.is_empty() {
            format!("{} (n = {})", g.point, g.n)
        } else {
            format!("{}: {} (n = {})", g.point, g.label, g.n)
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(48)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc(spec.x.as_str())
            .axis_desc_style(("sans-serif", TICK_FONT - 2))
            .label_style(("sans-serif", TICK_FONT - 3))
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|v| format_tick(*v, x1 - x0))
            .y_label_formatter(&|v| format_tick(*v, y1 - y0))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.1))
            .draw()
            .map_err(&err)?;
        for (k, s) in g.series.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            // values beyond the axis are drawn at its edge (a runaway curve stays in its panel)
            let clip = |v: f64| v.clamp(y0, y1);
            let upper = g.x.iter().zip(&s.spreads).map(|(x, s)| (*x, clip(s.max)));
            let lower =
                g.x.iter()
                    .zip(&s.spreads)
                    .rev()
                    .map(|(x, s)| (*x, clip(s.min)));
            chart
                .draw_series([Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    c.mix(0.25).filled(),
                )])
                .map_err(&err)?;
            chart
                .draw_series(LineSeries::new(
                    g.x.iter().zip(&s.spreads).map(|(x, s)| (*x, clip(s.mean))),
                    c.stroke_width(2),
                ))
                .map_err(&err)?;
        }
    }
    root.present().map_err(&err)
}

/// Wraps an error writing `path`.
fn io_err(path: &Path) -> impl Fn(crate::engine::error::EngineError) -> PlotError + '_ {
    move |e| PlotError::Drawing {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The digest a band figure is drawn from: this code, the spec, the points and the digest of
/// every variant's CSV (`None` for a variant without one). Unchanged: nothing is re-read or redrawn.
fn band_digest(spec: &BandSpec, sweep: &Sweep, csv_digests: &[Option<String>]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(include_str!("band_plot.rs").as_bytes());
    h.update(include_str!("../engine/sweep_bands.rs").as_bytes());
    h.update(format!("{spec:?}").as_bytes());
    for (p, d) in sweep.points.iter().zip(csv_digests) {
        h.update(format!("{}|{}|{:?}|{d:?}\n", p.name, p.group, p.label()).as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// For every `bands` entry of the sweep: `sweep_band_<stage>_<output>.{csv,png}` under
/// `results/<experiment>/`, redrawn only when a variant's CSV changed (a stamp file
/// `.<stem>.drawn` holds the digest). Returns the files (written now or before).
pub fn write_band_charts(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    results: &Path,
    sweep: Option<&Sweep>,
) -> Result<Vec<PathBuf>, PlotError> {
    let Some(sweep) = sweep.filter(|s| !s.bands.is_empty()) else {
        return Ok(Vec::new());
    };
    let Some(first) = plan.variants.first() else {
        return Ok(Vec::new());
    };
    let dir = results.join(&first.experiment.name);
    let mut files = Vec::new();
    for spec in &sweep.bands {
        let digests: Vec<Option<String>> = (0..sweep.points.len())
            .map(|vi| {
                let j = *plan.index.get(&(vi, spec.stage.clone()))?;
                let rec = report.records.get(j)?.as_ref()?;
                Some(rec.outputs.get(&spec.output)?.digest.clone())
            })
            .collect();
        if digests.iter().all(Option::is_none) {
            continue;
        }
        let stem = spec.file_stem();
        let (png, csv) = (
            dir.join(format!("{stem}.png")),
            dir.join(format!("{stem}.csv")),
        );
        let stamp = dir.join(format!(".{stem}.drawn"));
        let digest = band_digest(spec, sweep, &digests);
        let current = std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest)
            && png.is_file()
            && csv.is_file();
        if !current {
            let read = |vi: usize| {
                let bytes = cache.read_intact(digests[vi].as_ref()?).ok()?;
                String::from_utf8(bytes).ok()
            };
            let table = band_table(sweep, spec, &read).map_err(PlotError::NoData)?;
            write_if_changed(&csv, band_csv(&table, &|v| format!("{v}")).as_bytes())
                .map_err(io_err(&csv))?;
            band_plot(&png, &table)?;
            write_if_changed(&stamp, digest.as_bytes()).map_err(io_err(&stamp))?;
        }
        files.extend([csv, png]);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sweep_bands::{BandGroup, BandSeries};
    use crate::engine::sweep_groups::Spread;
    use crate::report::plot::tests::{assert_drawn, png_size};

    /// Fraction of pixels that are neither white nor grey.
    fn coloured_fraction(path: &Path) -> f64 {
        let decoder = png::Decoder::new(std::fs::File::open(path).expect("open"));
        let mut reader = decoder.read_info().expect("png");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("frame");
        let samples = info.color_type.samples();
        let px = buf[..info.buffer_size()].chunks(samples);
        let n = px.len();
        px.filter(|p| !(p[0] == p[1] && p[1] == p[2])).count() as f64 / n as f64
    }

    fn group(point: &str, n: usize, shift: f64) -> BandGroup {
        let x: Vec<f64> = (0..50).map(|i| 1.0 - i as f64 / 25.0).collect();
        let band = |off: f64| BandSeries {
            column: String::new(),
            spreads: x
                .iter()
                .map(|v| Spread {
                    mean: (3.0 * v).tanh() + off,
                    sd: 0.05,
                    min: (3.0 * v).tanh() + off - 0.1,
                    max: (3.0 * v).tanh() + off + 0.1,
                    n,
                })
                .collect(),
        };
        BandGroup {
            point: point.into(),
            label: format!("t={n}"),
            n,
            x: x.clone(),
            series: vec![band(0.0), band(shift)],
        }
    }

    #[test]
    fn draws_one_panel_per_point_and_refuses_a_table_without_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = BandSpec {
            stage: "eval".into(),
            output: "curve".into(),
            x: "field".into(),
            y: vec!["truth".into(), "predicted".into()],
            y_range: None,
        };
        let table = BandTable {
            spec: spec.clone(),
            replicates: 3,
            groups: (0..7)
                .map(|i| group(&format!("p{i:03}"), 3, 0.1 * i as f64))
                .collect(),
        };
        let path = dir.path().join("b.png");
        band_plot(&path, &table).expect("draw");
        // 7 points: 3 columns × 3 rows of panels under the header
        assert_eq!(png_size(&path), (3 * PANEL.0, HEADER + 3 * PANEL.1));
        assert_drawn(&path);
        assert!(
            coloured_fraction(&path) > 0.02,
            "the bands and lines are drawn in colour"
        );
        let empty = BandTable {
            spec,
            replicates: 3,
            groups: vec![BandGroup {
                point: "p000".into(),
                label: String::new(),
                n: 0,
                x: Vec::new(),
                series: Vec::new(),
            }],
        };
        assert!(matches!(
            band_plot(&dir.path().join("e.png"), &empty),
            Err(PlotError::NoData(_))
        ));
    }

    #[test]
    fn grid_is_at_most_five_wide() {
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(4), (2, 2));
        assert_eq!(grid(7), (3, 3));
        assert_eq!(grid(25), (5, 5));
        assert_eq!(grid(30), (5, 6));
    }
}
