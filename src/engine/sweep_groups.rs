//! The replicate summary of a sweep with `replicates`: one row per sweep point, and for every
//! report column the mean, sample standard deviation, minimum and maximum over the point's
//! replicates (seeds, held-out sets), with how many replicates had a value.
//!
//! Written beside the per-variant table as `sweep_groups.csv` (one column per statistic) and
//! `sweep_groups.md` (`mean ± sd [min, max] (n)` per cell).

use std::fmt::Write as _;

use super::key::display_value;
use super::sweep::Sweep;
use crate::io::csv::csv_row;

/// A value as a table cell (sweep summaries): strings bare, so that a CSV reader gets `uniform`
/// rather than `"uniform"`; everything else as [`display_value`]. (Kept out of `key.rs`, which
/// every stage's fingerprint covers: a display helper there would invalidate every cached stage.)
pub fn cell_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => display_value(other),
    }
}

/// Mean, sample standard deviation (0 for one value), minimum, maximum and count of `values`;
/// `None` when there are none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 when n = 1).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values` (summed in the given order: deterministic).
    pub fn of(values: &[f64]) -> Option<Spread> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread {
            mean,
            sd,
            min,
            max,
            n,
        })
    }
}

/// One sweep point of the replicate summary.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// `p000`, `p001`, … (the point's index before replication).
    pub point: String,
    /// The variants it spans, `v000–v004`.
    pub variants: String,
    /// The point's own parameter values, one per [`GroupTable::axes`] entry (empty when unset).
    pub own: Vec<String>,
    /// Per report column: the spread over the point's replicates (`None`: no replicate has a value).
    pub spreads: Vec<Option<Spread>>,
}

/// The replicate summary of a sweep: one row per point.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTable {
    /// The points' own parameters (`<stage>.<param>`), in order of first appearance.
    pub axes: Vec<String>,
    /// The report columns (`<stage>.<output>.<key>`).
    pub columns: Vec<String>,
    /// Number of replicates per point.
    pub replicates: usize,
    /// One row per point.
    pub rows: Vec<GroupRow>,
}

impl GroupRow {
    /// `t=4, l=8`-style label of the point's own parameters (the stage prefix dropped when the
    /// parameter name alone is unambiguous within `axes`).
    pub fn label(&self, axes: &[String]) -> String {
        let short = |a: &String| {
            let param = a.split_once('.').map_or(a.as_str(), |(_, p)| p);
            let clash = axes
                .iter()
                .filter(|b| b.split_once('.').map_or(b.as_str(), |(_, p)| p) == param)
                .count()
                > 1;
            if clash { a.clone() } else { param.to_string() }
        };
        axes.iter()
            .zip(&self.own)
            .filter(|(_, v)| !v.is_empty())
            .map(|(a, v)| format!("{}={}", short(a), v.trim_matches('"')))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The replicate summary. `value(variant, column)` reads one numeric report value (`None` when
/// the variant has none, e.g. it failed).
pub fn group_table(sweep: &Sweep, value: &dyn Fn(usize, &str) -> Option<f64>) -> GroupTable {
    let groups = sweep.points.iter().map(|p| p.group + 1).max().unwrap_or(0);
    let axes = sweep.parameter_names(true);
    let mut rows = Vec::new();
    for g in 0..groups {
        let vis: Vec<usize> = (0..sweep.points.len())
            .filter(|&vi| sweep.points[vi].group == g)
            .collect();
        let (Some(&first), Some(&last)) = (vis.first(), vis.last()) else {
            continue;
        };
        let point = &sweep.points[first];
        let variants = if first == last {
            point.name.clone()
        } else {
            format!("{}–{}", point.name, sweep.points[last].name)
        };
        let own = axes
            .iter()
            .map(|a| {
                point.overrides[..point.own_overrides]
                    .iter()
                    .find(|o| format!("{}.{}", o.stage, o.param) == *a)
                    .map_or_else(String::new, |o| cell_value(&o.value))
            })
            .collect();
        let spreads = sweep
            .report
            .iter()
            .map(|col| {
                let values: Vec<f64> = vis.iter().filter_map(|&vi| value(vi, col)).collect();
                Spread::of(&values)
            })
            .collect();
        rows.push(GroupRow {
            point: format!("p{g:03}"),
            variants,
            own,
            spreads,
        });
    }
    GroupTable {
        axes,
        columns: sweep.report.clone(),
        replicates: sweep.replicates,
        rows,
    }
}

/// The CSV and Markdown texts of the replicate summary (see [`group_table`]); `fmt` prints a number.
pub fn group_tables(
    experiment: &str,
    sweep: &Sweep,
    value: &dyn Fn(usize, &str) -> Option<f64>,
    fmt: &dyn Fn(f64) -> String,
) -> (String, String) {
    render(experiment, &group_table(sweep, value), fmt)
}

/// CSV (one column per statistic) and Markdown (`mean ± sd [min, max] (n)` per cell) texts.
pub fn render(
    experiment: &str,
    table: &GroupTable,
    fmt: &dyn Fn(f64) -> String,
) -> (String, String) {
    let mut header = vec!["point".to_string(), "variants".to_string()];
    header.extend(table.axes.iter().cloned());
    let mut csv_header = header.clone();
    for col in &table.columns {
        for stat in ["mean", "sd", "min", "max", "n"] {
            csv_header.push(format!("{col}.{stat}"));
        }
    }
    let mut md_header = header;
    md_header.extend(table.columns.iter().cloned());
    let mut csv = csv_row(&csv_header);
    let mut md = format!(
        "# Replicate summary: {experiment}\n\nPer sweep point, over its {} replicates: \
         mean ± sample standard deviation [min, max] (n replicates with a value).\n\n| {} |\n|{}\n",
        table.replicates,
        md_header.join(" | "),
        "---|".repeat(md_header.len())
    );
    for row in &table.rows {
        let mut cells = vec![row.point.clone(), row.variants.clone()];
        cells.extend(row.own.iter().cloned());
        let mut csv_cells = cells.clone();
        let mut md_row = cells;
        for spread in &row.spreads {
            match spread {
                Some(s) => {
                    csv_cells.extend([fmt(s.mean), fmt(s.sd), fmt(s.min), fmt(s.max)]);
                    csv_cells.push(s.n.to_string());
                    md_row.push(format!(
                        "{} ± {} [{}, {}] ({})",
                        fmt(s.mean),
                        fmt(s.sd),
                        fmt(s.min),
                        fmt(s.max),
                        s.n
                    ));
                }
                None => {
                    csv_cells.extend(["", "", "", ""].map(String::from));
                    csv_cells.push("0".into());
                    md_row.push(String::new());
                }
            }
        }
        csv.push_str(&csv_row(&csv_cells));
        let _ = writeln!(
            md,
            "| {} |",
            md_row
                .iter()
                .map(|c| if c.is_empty() { "—" } else { c.as_str() })
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    (csv, md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::resolve::Override;
    use crate::engine::sweep::SweepPoint;

    fn ov(stage: &str, param: &str, v: i64) -> Override {
        Override {
            stage: stage.into(),
            param: param.into(),
            value: toml::Value::Integer(v),
            span: None,
        }
    }

    #[test]
    fn spread_of_known_values() {
        let s = Spread::of(&[1.0, 2.0, 3.0, 4.0]).expect("values");
        assert_eq!((s.mean, s.min, s.max, s.n), (2.5, 1.0, 4.0, 4));
        // sample variance: (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
        assert!((s.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(Spread::of(&[7.0]).expect("one").sd, 0.0);
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn one_row_per_point_with_statistics_over_its_replicates() {
        // 2 points (fit.t = 4, 8) × 3 replicates (fit.replicate = 0, 1, 2)
        let mut points = Vec::new();
        for (g, t) in [4, 8].into_iter().enumerate() {
            for r in 0..3 {
                points.push(SweepPoint {
                    name: format!("v{:03}", points.len()),
                    overrides: vec![ov("fit", "t", t), ov("fit", "replicate", r)],
                    group: g,
                    replicate: Some(r as usize),
                    own_overrides: 1,
                });
            }
        }
        let sweep = Sweep {
            points,
            report: vec!["eval.metrics.mae".into()],
            replicates: 3,
            bands: Vec::new(),
        };
        // variant vi's value is vi (the second point's third replicate failed: no value)
        let value = |vi: usize, _: &str| (vi != 5).then_some(vi as f64);
        let (csv, md) = group_tables("study", &sweep, &value, &|f| format!("{f}"));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "point,variants,fit.t,eval.metrics.mae.mean,eval.metrics.mae.sd,eval.metrics.mae.min,eval.metrics.mae.max,eval.metrics.mae.n"
        );
        assert_eq!(lines[1], "p000,v000–v002,4,1,1,0,2,3");
        // values 3 and 4: mean 3.5, sd √0.5
        let sd = 0.5f64.sqrt();
        assert_eq!(lines[2], format!("p001,v003–v005,8,3.5,{sd},3,4,2"));
        assert_eq!(lines.len(), 3);
        assert!(
            md.contains("| p000 | v000–v002 | 4 | 1 ± 1 [0, 2] (3) |"),
            "{md}"
        );
    }
}
