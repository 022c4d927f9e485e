//! Error-bar charts of a sweep's replicate summary: per sweep point, the mean ± sample standard
//! deviation over its replicates (a thick bar with a dot), the minimum and maximum (a thin grey
//! whisker), so that "which configuration is better, and is the difference larger than the
//! spread" is read at a glance. Domain-agnostic: it draws whatever report column it is given.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::plot::{
    LABEL_FONT, PALETTE, PlotError, TICK_FONT, TITLE_FONT, drawing_error, format_tick, prepare_png,
};
use super::text::GlyphBackend;
use crate::engine::cache::Cache;
use crate::engine::executor::RunReport;
use crate::engine::plan::Plan;
use crate::engine::results::{report_value, write_if_changed};
use crate::engine::sweep::Sweep;
use crate::engine::sweep_groups::{GroupTable, Spread, group_table};

/// One error-bar chart: a label and a spread per sweep point.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadChart {
    /// Title above the plot.
    pub title: String,
    /// y-axis label (the report column).
    pub y_label: String,
    /// One x tick per point (`p000`, …).
    pub labels: Vec<String>,
    /// The spread per point (`None`: no value, drawn as nothing).
    pub spreads: Vec<Option<Spread>>,
}

/// Width of a chart: 40 px per point, at least 640.
fn width(points: usize) -> u32 {
    (160 + 40 * points as u32).clamp(640, 4000)
}

/// Draws `chart` to `path` (PNG).
pub fn spread_plot(path: &Path, chart: &SpreadChart) -> Result<(), PlotError> {
    prepare_png(path)?;
    let n = chart.spreads.len();
    let (lo, hi) = chart
        .spreads
        .iter()
        .flatten()
        .flat_map(|s| [s.min, s.max, s.mean - s.sd, s.mean + s.sd])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if n == 0 || lo > hi {
        return Err(PlotError::NoData(format!(
            "no sweep point has a value for `{}`",
            chart.y_label
        )));
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    let (y0, y1) = (lo - pad, hi + pad);
    let err = drawing_error(path);
    let root = GlyphBackend(BitMapBackend::new(path, (width(n), 560))).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let mut plot = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", TITLE_FONT))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.6f64..n as f64 - 0.4, y0..y1)
        .map_err(&err)?;
    let labels = chart.labels.clone();
    plot.configure_mesh()
        .x_desc("sweep point (sweep_groups.md names its parameters)")
        .y_desc(chart.y_label.as_str())
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .label_style(("sans-serif", TICK_FONT))
        .x_labels(n.min(40))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| format_tick(*v, y1 - y0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(&err)?;
    let grey = RGBColor(150, 150, 150);
    let color = PALETTE[0];
    for (i, s) in chart.spreads.iter().enumerate() {
        let Some(s) = s else { continue };
        let x = i as f64;
        let cap = |y: f64, w: f64, style: ShapeStyle| {
            PathElement::new(vec![(x - w, y), (x + w, y)], style)
        };
        let thin = grey.stroke_width(1);
        let thick = color.stroke_width(4);
        plot.draw_series([
            PathElement::new(vec![(x, s.min), (x, s.max)], thin),
            cap(s.min, 0.12, thin),
            cap(s.max, 0.12, thin),
            PathElement::new(vec![(x, s.mean - s.sd), (x, s.mean + s.sd)], thick),
            cap(s.mean - s.sd, 0.2, color.stroke_width(2)),
            cap(s.mean + s.sd, 0.2, color.stroke_width(2)),
        ])
        .map_err(&err)?;
        plot.draw_series([Circle::new((x, s.mean), 5, BLACK.filled())])
            .map_err(&err)?;
    }
    root.present().map_err(&err)
}

/// The file of a report column's chart: `sweep_groups_<column with dots as underscores>.png`.
pub fn chart_file(column: &str) -> String {
    let safe: String = column
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("sweep_groups_{safe}.png")
}

/// The digest a set of charts was drawn from (their data and this file's code): charts whose
/// digest is unchanged are not redrawn, so a cached rerun writes nothing.
fn charts_digest(table: &GroupTable) -> String {
    let mut h = blake3::Hasher::new();
    h.update(include_str!("spread_plot.rs").as_bytes());
    h.update(format!("{table:?}").as_bytes());
    h.finalize().to_hex().to_string()
}

/// For a sweep with `replicates`: one chart per report column with a value under
/// `results/<experiment>/`, redrawn only when the summary they show changed (a stamp file
/// `.sweep_groups.drawn` holds the digest). Returns the charts (drawn now or before).
pub fn write_spread_charts(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    results: &Path,
    sweep: Option<&Sweep>,
) -> Result<Vec<PathBuf>, PlotError> {
    let Some(sweep) = sweep.filter(|s| s.replicates > 0) else {
        return Ok(Vec::new());
    };
    let Some(first) = plan.variants.first() else {
        return Ok(Vec::new());
    };
    let dir = results.join(&first.experiment.name);
    let value =
        |vi: usize, col: &str| report_value(plan, report, cache, vi, col).and_then(|v| v.as_f64());
    let table = group_table(sweep, &value);
    let charts: Vec<(usize, PathBuf)> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(k, _)| table.rows.iter().any(|r| r.spreads[*k].is_some()))
        .map(|(k, col)| (k, dir.join(chart_file(col))))
        .collect();
    let stamp = dir.join(".sweep_groups.drawn");
    let digest = charts_digest(&table);
    let current = std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest)
        && charts.iter().all(|(_, p)| p.is_file());
    if !current {
        for (k, path) in &charts {
            let chart = SpreadChart {
                title: format!(
                    "{}: mean ± sd (bar), min–max (grey) over {} replicates",
                    table.columns[*k], table.replicates
                ),
                y_label: table.columns[*k].clone(),
                labels: table.rows.iter().map(|r| r.point.clone()).collect(),
                spreads: table.rows.iter().map(|r| r.spreads[*k]).collect(),
            };
            spread_plot(path, &chart)?;
        }
        write_if_changed(&stamp, digest.as_bytes()).map_err(|e| PlotError::Drawing {
            path: stamp.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(charts.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(mean: f64, sd: f64, min: f64, max: f64) -> Option<Spread> {
        Some(Spread {
            mean,
            sd,
            min,
            max,
            n: 5,
        })
    }

    #[test]
    fn draws_bars_for_points_with_values_and_refuses_an_empty_chart() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.png");
        let chart = SpreadChart {
            title: "eval.metrics.mae_mz".into(),
            y_label: "eval.metrics.mae_mz".into(),
            labels: vec!["p000".into(), "p001".into(), "p002".into()],
            spreads: vec![spread(1.0, 0.1, 0.8, 1.3), None, spread(0.5, 0.2, 0.2, 0.9)],
        };
        spread_plot(&path, &chart).expect("draw");
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&path).expect("png"),
        ));
        let reader = decoder.read_info().expect("header");
        assert_eq!(reader.info().width, width(3));
        let empty = SpreadChart {
            spreads: vec![None, None, None],
            ..chart
        };
        assert!(matches!(
            spread_plot(&dir.path().join("e.png"), &empty),
            Err(PlotError::NoData(_))
        ));
    }

    #[test]
    fn chart_files_are_plain_names() {
        assert_eq!(
            chart_file("eval.metrics.mae_mz"),
            "sweep_groups_eval_metrics_mae_mz.png"
        );
        assert_eq!(chart_file("a/../b"), "sweep_groups_a____b.png");
    }
}
