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
    /// Value-axis label (the report column).
    pub y_label: String,
    /// One label per point (`p000: t=4, l=8`), written left of its row.
    pub labels: Vec<String>,
    /// The spread per point (`None`: no value, drawn as nothing).
    pub spreads: Vec<Option<Spread>>,
}

/// Height of one point's row (pixels).
const ROW: u32 = 30;

/// Characters in the longest point label.
fn longest_label(chart: &SpreadChart) -> u32 {
    chart
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0) as u32
}

/// Size of a chart: one row per point (a forest plot, so that long labels stay readable), the
/// label column as wide as the longest label.
fn size(chart: &SpreadChart) -> (u32, u32) {
    let longest = longest_label(chart);
    (
        (760 + 9 * longest).min(4000),
        (170 + ROW * chart.spreads.len() as u32).min(16_000),
    )
}

/// Width of the label column: the longest label at the tick font, plus a margin.
fn label_area(chart: &SpreadChart) -> u32 {
    (9 * longest_label(chart) + 24).clamp(60, 3000)
}

/// Draws `chart` to `path` (PNG): one row per point, top to bottom, the value along x.
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
    let (v0, v1) = (lo - pad, hi + pad);
    // row i at y = n − 1 − i: the first point on top
    let row_y = |i: usize| (n - 1 - i) as f64;
    let err = drawing_error(path);
    let root = GlyphBackend(BitMapBackend::new(path, size(chart))).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let mut plot = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", TITLE_FONT - 4))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(label_area(chart))
        .build_cartesian_2d(v0..v1, -0.6f64..n as f64 - 0.4)
        .map_err(&err)?;
    let labels = chart.labels.clone();
    plot.configure_mesh()
        .x_desc(chart.y_label.as_str())
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .label_style(("sans-serif", TICK_FONT))
        .y_labels(n.min(400))
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[labels.len() - 1 - i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|v| format_tick(*v, v1 - v0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(&err)?;
    let grey = RGBColor(150, 150, 150);
    let color = PALETTE[0];
    for (i, s) in chart.spreads.iter().enumerate() {
        let Some(s) = s else { continue };
        let y = row_y(i);
        let cap = |x: f64, h: f64, style: ShapeStyle| {
            PathElement::new(vec![(x, y - h), (x, y + h)], style)
        };
        let thin = grey.stroke_width(1);
        let thick = color.stroke_width(4);
        plot.draw_series([
            PathElement::new(vec![(s.min, y), (s.max, y)], thin),
            cap(s.min, 0.15, thin),
            cap(s.max, 0.15, thin),
            PathElement::new(vec![(s.mean - s.sd, y), (s.mean + s.sd, y)], thick),
            cap(s.mean - s.sd, 0.25, color.stroke_width(2)),
            cap(s.mean + s.sd, 0.25, color.stroke_width(2)),
        ])
        .map_err(&err)?;
        plot.draw_series([Circle::new((s.mean, y), 5, BLACK.filled())])
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
                labels: table
                    .rows
                    .iter()
                    .map(|r| match r.label(&table.axes) {
                        l if l.is_empty() => r.point.clone(),
                        l => format!("{}: {l}", r.point),
                    })
                    .collect(),
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
            labels: vec![
                "p000: t=4".into(),
                "p001: t=8".into(),
                "p002: t=16, l=4".into(),
            ],
            spreads: vec![spread(1.0, 0.1, 0.8, 1.3), None, spread(0.5, 0.2, 0.2, 0.9)],
        };
        spread_plot(&path, &chart).expect("draw");
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&path).expect("png"),
        ));
        let reader = decoder.read_info().expect("header");
        assert_eq!(
            (reader.info().width, reader.info().height),
            size(&chart),
            "one row per point"
        );
        assert_eq!(size(&chart).1, 170 + 3 * ROW);
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
