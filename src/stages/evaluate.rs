//! `evaluate`: Table 3 (test MAE per anchor) and Figure 5 (parity plots) of Kovacs et al.

use super::learn_common::{runtime, tree_dir};
use super::micromag_common::ANCHOR_NAMES;
use super::regress_fit::{Labelled, labelled};
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::kovacs::regressor_fit::TrainedRegressor;
use crate::report::plot::parity_plot;

/// The `evaluate` stage kind.
pub struct EvaluateStage;

#[derive(serde::Deserialize)]
struct Split {
    train: Vec<usize>,
    test: Vec<usize>,
}

impl Stage for EvaluateStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let Labelled {
            latents, targets, ..
        } = labelled(ctx)?;
        let split: Split = serde_json::from_slice(&std::fs::read(ctx.input("split")?)?)?;
        let rt = runtime(ctx)?;
        let model = TrainedRegressor::load(&tree_dir(ctx, "model")?, &rt.device)?;
        let rows = latents.nrows();
        for (name, part) in [("train", &split.train), ("test", &split.test)] {
            if let Some(&bad) = part.iter().find(|&&i| i >= rows || i >= targets.nrows()) {
                return Err(format!(
                    "input split: {name} index {bad} is out of range ({rows} structures)"
                )
                .into());
            }
        }
        let pred = model.predict(latents.view())?;
        let mae = |rows: &[usize], k: usize| -> Option<f64> {
            (!rows.is_empty()).then(|| {
                rows.iter()
                    .map(|&i| f64::from((pred[[i, k]] - targets[[i, k]]).abs()))
                    .sum::<f64>()
                    / rows.len() as f64
            })
        };
        let mut metrics = serde_json::Map::new();
        for (k, name) in ANCHOR_NAMES.iter().enumerate() {
            let key = name.to_lowercase();
            for (metric, rows) in [("mae", &split.test), ("train_mae", &split.train)] {
                let value = mae(rows, k);
                // JSON would write NaN as null, which reads as "no test rows": refuse it instead.
                if let Some(v) = value.filter(|v| !v.is_finite()) {
                    return Err(format!(
                        "{metric}_{key} is {v}: the model predicts non-finite values"
                    )
                    .into());
                }
                metrics.insert(format!("{metric}_{key}"), serde_json::json!(value));
            }
        }
        metrics.insert("test_count".into(), serde_json::json!(split.test.len()));
        metrics.insert("train_count".into(), serde_json::json!(split.train.len()));
        ctx.write_json("metrics", &metrics)?;

        let mut csv = format!(
            "structure,split,{},{}\n",
            ANCHOR_NAMES.map(|n| format!("{n}_computed")).join(","),
            ANCHOR_NAMES.map(|n| format!("{n}_predicted")).join(",")
        );
        for (label, rows) in [("train", &split.train), ("test", &split.test)] {
            for &i in rows {
                let c: Vec<String> = (0..6).map(|k| format!("{:.6}", targets[[i, k]])).collect();
                let p: Vec<String> = (0..6).map(|k| format!("{:.6}", pred[[i, k]])).collect();
                csv.push_str(&format!("{i},{label},{},{}\n", c.join(","), p.join(",")));
            }
        }
        std::fs::write(ctx.output("predictions")?, csv)?;

        let dir = ctx.output("figures")?;
        for (k, file) in [(1, "mr.png"), (2, "hk90.png"), (5, "hc.png")] {
            let points = |rows: &[usize]| -> Vec<(f64, f64)> {
                rows.iter()
                    .map(|&i| (f64::from(targets[[i, k]]), f64::from(pred[[i, k]])))
                    .collect()
            };
            let unit = if k < 2 { "Ms" } else { "HA" };
            parity_plot(
                &dir.join(file),
                &format!("{}: computed vs predicted", ANCHOR_NAMES[k]),
                &format!("{} ({unit})", ANCHOR_NAMES[k]),
                &points(&split.train),
                &points(&split.test),
            )?;
        }
        Ok(())
    }
}
