//! Bands over a sweep's replicates: for a CSV output of one stage (a curve per variant), per
//! sweep point and per x value, the mean, sample standard deviation, minimum and maximum of chosen
//! y columns over the point's replicates. It is the data of a "curve with a band over seeds"
//! figure (drawn by `report::band_plot`), written beside it as `sweep_band_<stage>_<output>.csv`.
//!
//! ```toml
//! [sweep]
//! bands = [{ csv = "eval.curve", x = "field_t", y = ["esw_mz", "predicted_mz"] }]
//! # optional in an entry: y_range = [-1.5, 1.5] (the figure's y axis; default: the data's range)
//! ```
//!
//! Every replicate of a point must share the x column (same length and values): a band over
//! curves sampled at different x would need an interpolation the engine does not guess.

use std::ops::Range;

use toml::Value;

use super::error::{EngineError, Result};
use super::manifest::Located;
use super::sweep::Sweep;
use super::sweep_groups::{Spread, group_table};
use crate::io::csv::csv_row;

/// One `bands` entry: which CSV output, its x column and the y columns banded over replicates.
#[derive(Debug, Clone, PartialEq)]
pub struct BandSpec {
    /// The stage writing the CSV.
    pub stage: String,
    /// Its output (a CSV file with a header row).
    pub output: String,
    /// The x column.
    pub x: String,
    /// The y columns, one band each.
    pub y: Vec<String>,
    /// The y axis of the figure (`None`: the data's range; set it when a few runaway curves
    /// would otherwise flatten every other one).
    pub y_range: Option<(f64, f64)>,
}

impl BandSpec {
    /// `sweep_band_<stage>_<output>` (characters other than ASCII letters and digits as `_`): the
    /// stem of the band's CSV and PNG.
    pub fn file_stem(&self) -> String {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        };
        format!("sweep_band_{}_{}", safe(&self.stage), safe(&self.output))
    }
}

/// Parses `bands = [{ csv = "<stage>.<output>", x = "<column>", y = ["<column>", …] }, …]`.
pub fn parse_bands(
    located: &Located<Value>,
    err: &dyn Fn(Option<Range<usize>>, String) -> EngineError,
) -> Result<Vec<BandSpec>> {
    let usage = "`bands` must be an array of tables: bands = [{ csv = \"eval.curve\", x = \"field\", \
                 y = [\"truth\", \"predicted\"] }] (csv: <stage>.<output> of a CSV output; x, y: \
                 its column names; optional y_range = [low, high]: the figure's y axis)";
    let fail = || err(located.span.clone(), usage.into());
    let Value::Array(list) = &located.value else {
        return Err(fail());
    };
    if list.is_empty() {
        return Err(fail());
    }
    list.iter()
        .map(|item| {
            let Value::Table(t) = item else {
                return Err(fail());
            };
            if let Some(k) = t
                .keys()
                .find(|k| !["csv", "x", "y", "y_range"].contains(&k.as_str()))
            {
                return Err(err(
                    located.span.clone(),
                    format!("unknown key `{k}` in a `bands` entry (known: csv, x, y, y_range)"),
                ));
            }
            let (stage, output) = t
                .get("csv")
                .and_then(Value::as_str)
                .and_then(|s| s.split_once('.'))
                .filter(|(s, o)| !s.is_empty() && !o.is_empty() && !o.contains('.'))
                .ok_or_else(fail)?;
            let x = t.get("x").and_then(Value::as_str).ok_or_else(fail)?;
            let y: Vec<String> = match t.get("y") {
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).ok_or_else(fail))
                    .collect::<Result<_>>()?,
                _ => return Err(fail()),
            };
            let number = |v: &Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            let y_range = match t.get("y_range") {
                None => None,
                Some(Value::Array(a)) => match a.as_slice() {
                    [lo, hi] => match (number(lo), number(hi)) {
                        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
                            Some((lo, hi))
                        }
                        _ => return Err(fail()),
                    },
                    _ => return Err(fail()),
                },
                Some(_) => return Err(fail()),
            };
            Ok(BandSpec {
                stage: stage.to_string(),
                output: output.to_string(),
                x: x.to_string(),
                y,
                y_range,
            })
        })
        .collect()
}

/// One y column of one point: per x, the spread over the replicates.
#[derive(Debug, Clone, PartialEq)]
pub struct BandSeries {
    /// The column.
    pub column: String,
    /// One spread per x value.
    pub spreads: Vec<Spread>,
}

/// One sweep point's bands.
#[derive(Debug, Clone, PartialEq)]
pub struct BandGroup {
    /// `p000`, …
    pub point: String,
    /// The point's own parameters (`t=4, l=8`).
    pub label: String,
    /// How many replicates had the CSV.
    pub n: usize,
    /// The shared x values (empty when no replicate had the CSV).
    pub x: Vec<f64>,
    /// One band per y column.
    pub series: Vec<BandSeries>,
}

/// The bands of one [`BandSpec`] over every point of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct BandTable {
    /// What was banded.
    pub spec: BandSpec,
    /// Replicates per point.
    pub replicates: usize,
    /// One entry per point.
    pub groups: Vec<BandGroup>,
}

/// A CSV's named numeric columns, in file order.
fn columns(text: &str, names: &[&str]) -> std::result::Result<Vec<Vec<f64>>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or("the CSV is empty")?
        .split(',')
        .map(str::trim)
        .collect();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| format!("no column `{n}` (the columns are {})", header.join(", ")))
        })
        .collect::<std::result::Result<_, _>>()?;
    let mut out = vec![Vec::new(); names.len()];
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        for (k, &i) in idx.iter().enumerate() {
            let v: f64 = cells
                .get(i)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("row {}: `{}` is not a number", row + 2, names[k]))?;
            out[k].push(v);
        }
    }
    Ok(out)
}

/// The bands of `spec`. `read(variant)` returns the variant's CSV text (`None`: the variant has
/// none, e.g. it failed; it is left out of its point's band). An error says which variant's CSV
/// is unusable (a missing column, a non-number, an x column differing from its point's first).
pub fn band_table(
    sweep: &Sweep,
    spec: &BandSpec,
    read: &dyn Fn(usize) -> Option<String>,
) -> std::result::Result<BandTable, String> {
    let labels = group_table(sweep, &|_, _| None);
    let mut names: Vec<&str> = vec![spec.x.as_str()];
    names.extend(spec.y.iter().map(String::as_str));
    let mut groups = Vec::new();
    for (g, row) in labels.rows.iter().enumerate() {
        let mut x: Vec<f64> = Vec::new();
        let mut ys: Vec<Vec<Vec<f64>>> = Vec::new();
        for (vi, p) in sweep.points.iter().enumerate() {
            if p.group != g {
                continue;
            }
            let Some(text) = read(vi) else { continue };
            let mut cols = columns(&text, &names)
                .map_err(|e| format!("{} ({}.{}): {e}", p.name, spec.stage, spec.output))?;
            let own_x = cols.remove(0);
            if ys.is_empty() {
                x = own_x;
            } else if own_x != x {
                return Err(format!(
                    "{} ({}.{}): its `{}` column differs from that of the first replicate of \
                     {}; a band needs the same x for every replicate",
                    p.name, spec.stage, spec.output, spec.x, row.point
                ));
            }
            ys.push(cols);
        }
        let series = spec
            .y
            .iter()
            .enumerate()
            .map(|(k, column)| BandSeries {
                column: column.clone(),
                spreads: (0..x.len())
                    .filter_map(|i| Spread::of(&ys.iter().map(|r| r[k][i]).collect::<Vec<_>>()))
                    .collect(),
            })
            .collect();
        groups.push(BandGroup {
            point: row.point.clone(),
            label: row.label(&labels.axes),
            n: ys.len(),
            x,
            series,
        });
    }
    Ok(BandTable {
        spec: spec.clone(),
        replicates: sweep.replicates,
        groups,
    })
}

/// The band table as CSV: one row per point and x, with the number of replicates and the mean,
/// sd, min, max per y column (`sweep_groups.csv` names each point's parameters); `fmt` prints a
/// number.
pub fn band_csv(table: &BandTable, fmt: &dyn Fn(f64) -> String) -> String {
    let mut header = vec!["point".to_string(), "n".to_string(), table.spec.x.clone()];
    for y in &table.spec.y {
        for stat in ["mean", "sd", "min", "max"] {
            header.push(format!("{y}.{stat}"));
        }
    }
    let mut out = csv_row(&header);
    for g in &table.groups {
        for (i, x) in g.x.iter().enumerate() {
            let mut cells = vec![g.point.clone(), g.n.to_string(), fmt(*x)];
            for s in &g.series {
                let sp = s.spreads[i];
                cells.extend([fmt(sp.mean), fmt(sp.sd), fmt(sp.min), fmt(sp.max)]);
            }
            out.push_str(&csv_row(&cells));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::resolve::Override;
    use crate::engine::sweep::SweepPoint;

    fn located(src: &str) -> Located<Value> {
        let v: toml::Table = toml::from_str(&format!("bands = {src}")).expect("toml");
        Located {
            value: v["bands"].clone(),
            key_span: None,
            span: None,
        }
    }

    fn err(_: Option<Range<usize>>, msg: String) -> EngineError {
        EngineError::Usage(msg)
    }

    #[test]
    fn parses_entries_and_explains_bad_ones() {
        let bands = parse_bands(
            &located(r#"[{ csv = "eval.curve", x = "field", y = ["truth", "pred"] }]"#),
            &err,
        )
        .expect("valid");
        assert_eq!(
            bands,
            vec![BandSpec {
                stage: "eval".into(),
                output: "curve".into(),
                x: "field".into(),
                y: vec!["truth".into(), "pred".into()],
                y_range: None,
            }]
        );
        let ranged = parse_bands(
            &located(r#"[{ csv = "eval.curve", x = "f", y = ["a"], y_range = [-1, 1.5] }]"#),
            &err,
        )
        .expect("valid");
        assert_eq!(ranged[0].y_range, Some((-1.0, 1.5)));
        assert_eq!(bands[0].file_stem(), "sweep_band_eval_curve");
        for bad in [
            "[]",
            r#""eval.curve""#,
            r#"[{ csv = "curve", x = "f", y = ["a"] }]"#,
            r#"[{ csv = "eval.curve.x", x = "f", y = ["a"] }]"#,
            r#"[{ csv = "eval.curve", y = ["a"] }]"#,
            r#"[{ csv = "eval.curve", x = "f", y = [] }]"#,
            r#"[{ csv = "eval.curve", x = "f", y = "a" }]"#,
            r#"[{ csv = "eval.curve", x = "f", y = ["a"], y_range = [1, -1] }]"#,
            r#"[{ csv = "eval.curve", x = "f", y = ["a"], y_range = [0] }]"#,
        ] {
            let e = parse_bands(&located(bad), &err).expect_err(bad).to_string();
            assert!(e.contains("`bands` must be"), "{bad}: {e}");
        }
        let e = parse_bands(
            &located(r#"[{ csv = "eval.curve", x = "f", y = ["a"], colour = "red" }]"#),
            &err,
        )
        .expect_err("unknown key")
        .to_string();
        assert!(e.contains("unknown key `colour`"), "{e}");
    }

    /// Two points × three replicates; variant `vi`'s CSV is `x, a = vi + x, b = −vi`.
    fn sweep() -> Sweep {
        let points = (0..6)
            .map(|vi| SweepPoint {
                name: format!("v{vi:03}"),
                overrides: vec![Override {
                    stage: "fit".into(),
                    param: "t".into(),
                    value: Value::Integer(4 * (1 + vi as i64 / 3)),
                    span: None,
                }],
                group: vi / 3,
                replicate: Some(vi % 3),
                own_overrides: 1,
            })
            .collect();
        Sweep {
            points,
            report: Vec::new(),
            replicates: 3,
            bands: Vec::new(),
        }
    }

    fn spec() -> BandSpec {
        BandSpec {
            stage: "eval".into(),
            output: "curve".into(),
            x: "x".into(),
            y: vec!["b".into(), "a".into()],
            y_range: None,
        }
    }

    fn csv(vi: usize) -> String {
        format!("a,x,b\n{},0,-{vi}\n{},1,-{vi}\n", vi, vi + 1)
    }

    #[test]
    fn bands_are_the_spread_over_each_points_replicates() {
        // variant 5 failed: the second point's band is over two replicates
        let read = |vi: usize| (vi != 5).then(|| csv(vi));
        let table = band_table(&sweep(), &spec(), &read).expect("bands");
        assert_eq!(table.groups.len(), 2);
        let (g0, g1) = (&table.groups[0], &table.groups[1]);
        assert_eq!(
            (g0.point.as_str(), g0.label.as_str(), g0.n),
            ("p000", "t=4", 3)
        );
        assert_eq!((g1.label.as_str(), g1.n), ("t=8", 2));
        assert_eq!(g0.x, vec![0.0, 1.0]);
        assert_eq!(g0.series[0].column, "b");
        // b over v000–v002 is 0, −1, −2 at every x
        let b = g0.series[0].spreads[1];
        assert_eq!((b.mean, b.sd, b.min, b.max, b.n), (-1.0, 1.0, -2.0, 0.0, 3));
        // a over v003, v004 at x = 1 is 4, 5
        let a = g1.series[1].spreads[1];
        assert_eq!((a.mean, a.min, a.max, a.n), (4.5, 4.0, 5.0, 2));
        let text = band_csv(&table, &|v| format!("{v}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "point,n,x,b.mean,b.sd,b.min,b.max,a.mean,a.sd,a.min,a.max"
        );
        // (v000's b is written "-0": its maximum prints as -0)
        assert_eq!(lines[1], "p000,3,0,-1,1,-2,-0,1,1,0,2");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn unusable_csvs_are_named() {
        let missing = |vi: usize| {
            Some(if vi == 4 {
                "a,x\n1,0\n".into()
            } else {
                csv(vi)
            })
        };
        let e = band_table(&sweep(), &spec(), &missing).expect_err("no b");
        assert!(e.starts_with("v004 (eval.curve): no column `b`"), "{e}");
        let shifted = |vi: usize| {
            Some(if vi == 1 {
                "a,x,b\n0,0.5,0\n1,1,0\n".into()
            } else {
                csv(vi)
            })
        };
        let e = band_table(&sweep(), &spec(), &shifted).expect_err("x differs");
        assert!(
            e.contains("v001") && e.contains("differs from that of the first replicate of p000"),
            "{e}"
        );
        let text = |vi: usize| {
            Some(if vi == 0 {
                "a,x,b\n1,0,oops\n".into()
            } else {
                csv(vi)
            })
        };
        let e = band_table(&sweep(), &spec(), &text).expect_err("not a number");
        assert!(e.contains("row 2: `b` is not a number"), "{e}");
    }
}
