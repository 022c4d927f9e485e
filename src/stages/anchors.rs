//! `anchors`: the six anchor points of every curve, with explicit "not reached" flags.

use ndarray::{Array2, Ix1, Ix2};

use super::micromag_common::{ANCHOR_NAMES, anchor_row};
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::{read_npy_nd, write_npy};
use crate::physics::micromag::anchors::anchors;
use crate::report::plot::{LineChart, Marker, Series, SeriesStyle, line_plot};

/// The `anchors` stage kind.
pub struct AnchorsStage;

impl Stage for AnchorsStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let h = read_npy_nd::<f64, Ix1>(ctx.input("h")?)?.to_vec();
        let m = read_npy_nd::<f64, Ix2>(ctx.input("m")?)?;
        if m.ncols() != h.len() {
            return Err(
                format!("m has {} steps per curve but h has {}", m.ncols(), h.len()).into(),
            );
        }
        // A NaN or ∞ would make every anchor "not reached" and silently drop the curve downstream.
        if let Some(j) = h.iter().position(|v| !v.is_finite()) {
            return Err(format!("input h: field step {j} is {} (not finite)", h[j]).into());
        }
        if let Some(((i, j), v)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(format!(
                "input m: curve {i} (row {i}) holds {v} at step {j}; a curve must be finite"
            )
            .into());
        }
        let h_end = h.last().copied().unwrap_or(0.0);
        let n = m.nrows();
        let mut values = Array2::<f64>::zeros((n, 6));
        let mut reached = Array2::<bool>::from_elem((n, 6), false);
        let mut csv = format!("structure,{}\n", ANCHOR_NAMES.join(","));
        for (i, row) in m.outer_iter().enumerate() {
            let a = anchors(&h, row.as_slice().ok_or("m is not contiguous")?);
            let (v, r) = anchor_row(&a, h_end);
            let cells: Vec<String> = (0..6)
                .map(|k| {
                    if r[k] {
                        format!("{:.6}", v[k])
                    } else {
                        "not reached".into()
                    }
                })
                .collect();
            csv.push_str(&format!("{i},{}\n", cells.join(",")));
            for k in 0..6 {
                values[[i, k]] = v[k];
                reached[[i, k]] = r[k];
            }
        }
        write_npy(&ctx.output("anchors")?, &values)?;
        write_npy(&ctx.output("reached")?, &reached)?;
        std::fs::write(ctx.output("csv")?, csv)?;
        let mut metrics = serde_json::Map::new();
        for (k, name) in ANCHOR_NAMES.iter().enumerate() {
            let col: Vec<f64> = (0..n)
                .filter(|&i| reached[[i, k]])
                .map(|i| values[[i, k]])
                .collect();
            let mean = if col.is_empty() {
                None
            } else {
                Some(col.iter().sum::<f64>() / col.len() as f64)
            };
            metrics.insert(
                format!("mean_{}", name.to_lowercase()),
                serde_json::json!(mean),
            );
            metrics.insert(
                format!("not_reached_{}", name.to_lowercase()),
                serde_json::json!(n - col.len()),
            );
        }
        metrics.insert("curves".into(), serde_json::json!(n));
        ctx.write_json("metrics", &metrics)?;

        let shown = ctx.usize("plot_curves")?.min(n);
        let mut series = Vec::new();
        let mut markers = Vec::new();
        for i in 0..shown {
            series.push(Series {
                name: format!("structure {i}"),
                points: h
                    .iter()
                    .zip(m.row(i).iter())
                    .map(|(a, b)| (*a, *b))
                    .collect(),
                style: SeriesStyle::Line,
            });
            let (mr, reached_mr) = (values[[i, 1]], reached[[i, 1]]);
            for (k, name) in ANCHOR_NAMES.iter().enumerate() {
                if !reached[[i, k]] || (k >= 2 && !reached_mr) {
                    continue;
                }
                let (x, y) = match k {
                    0 => (1.0, values[[i, 0]]),
                    1 => (0.0, mr),
                    2 => (values[[i, 2]], 0.9 * mr),
                    3 => (values[[i, 3]], 0.8 * mr),
                    4 => (values[[i, 4]], 0.7 * mr),
                    _ => (values[[i, 5]], 0.0),
                };
                markers.push(Marker {
                    label: if shown == 1 {
                        name.to_string()
                    } else {
                        format!("{name}#{i}")
                    },
                    x,
                    y,
                });
            }
        }
        line_plot(
            &ctx.output("plot")?,
            &LineChart {
                title: "demagnetization curves and anchor points".into(),
                x_label: "H / HA".into(),
                y_label: "M / Ms".into(),
                series,
                markers,
                log_y: false,
            },
        )?;
        Ok(())
    }
}
