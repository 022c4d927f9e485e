//! `inverse_cnn_eval`: Table I metrics, physical errors and the field-space error.

use ndarray::{Array2, Axis, concatenate};

use super::learn_common::{runtime, tree_dir};
use super::pollok_common::{DesignSet, batch};
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::pollok::metrics::{per_target_mae_percent, rmse};
use crate::learn::pollok::model::TrainedInverseCnn;
use crate::physics::prism_design::{DesignSpace, design_from_targets, field_map};

/// The `inverse_cnn_eval` stage kind.
pub struct InverseCnnEvalStage;

/// Spans of the five targets: x, y, a normalised to [0, 1]; Mx, My in [−1, 1].
const SPANS: [f64; 5] = [1.0, 1.0, 1.0, 2.0, 2.0];

impl Stage for InverseCnnEvalStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = DesignSet::load(ctx.input("designs")?)?;
        let rt = runtime(ctx)?;
        let model = TrainedInverseCnn::load(&tree_dir(ctx, "model")?, &rt.device)?;
        let resolution = model.info.input_size[0];
        let mut preds = Vec::new();
        let mut truths = Vec::new();
        let bar = ctx.progress("test designs", set.test.len() as u64);
        for chunk in set.test.chunks(ctx.usize("batch_size")?) {
            ctx.check_cancelled()?;
            let (maps, t) = batch(&set, chunk, resolution)?;
            preds.push(model.predict(maps.view())?);
            truths.push(t);
            bar.inc(chunk.len() as u64);
        }
        let cat = |v: &[Array2<f32>]| -> StageResult<Array2<f32>> {
            Ok(concatenate(
                Axis(0),
                &v.iter().map(|a| a.view()).collect::<Vec<_>>(),
            )?)
        };
        let (pred, truth) = (cat(&preds)?, cat(&truths)?);
        let mae = per_target_mae_percent(pred.view(), truth.view(), SPANS)?;
        let space = DesignSpace::default();
        let (mut pos_um, mut side_um, mut mag_mt, mut phi_deg, mut field_l2) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut csv = String::from("design,x,y,a,mx,my,x_pred,y_pred,a_pred,mx_pred,my_pred\n");
        for (k, &i) in set.test.iter().enumerate() {
            let p: [f64; 5] = std::array::from_fn(|j| f64::from(pred[[k, j]]));
            let d = set.design(i);
            let q = design_from_targets(p, &space);
            pos_um += 0.5 * ((d.x_cm - q.x_cm).abs() + (d.y_cm - q.y_cm).abs()) * 1e4;
            side_um += (d.side_cm - q.side_cm).abs() * 1e4;
            mag_mt += (d.magnetization_t - q.magnetization_t).abs() * 1e3;
            let dphi = (d.phi_rad - q.phi_rad).rem_euclid(std::f64::consts::TAU);
            phi_deg += dphi.min(std::f64::consts::TAU - dphi).to_degrees();
            let (f_true, f_pred) = (
                field_map(&d, resolution)?,
                field_map(&q, resolution)
                    .unwrap_or_else(|_| ndarray::Array3::zeros((2, resolution, resolution))),
            );
            let num: f64 = f_true
                .iter()
                .zip(f_pred.iter())
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            let den: f64 = f_true.iter().map(|a| f64::from(*a).powi(2)).sum();
            field_l2 += (num / den.max(1e-300)).sqrt();
            let row: Vec<String> = (0..5)
                .map(|j| format!("{:.6}", truth[[k, j]]))
                .chain(p.iter().map(|v| format!("{v:.6}")))
                .collect();
            csv.push_str(&format!("{i},{}\n", row.join(",")));
        }
        let n = set.test.len().max(1) as f64;
        std::fs::write(ctx.output("predictions")?, csv)?;
        ctx.write_json(
            "metrics",
            &serde_json::json!({
                "test_count": set.test.len(),
                "rmse_percent": 100.0 * rmse(pred.view(), truth.view())?,
                "mae_percent_x": mae[0], "mae_percent_y": mae[1], "mae_percent_a": mae[2], "mae_percent_mx": mae[3], "mae_percent_my": mae[4],
                "position_error_um": pos_um / n, "side_error_um": side_um / n, "magnetization_error_mt": mag_mt / n, "angle_error_deg": phi_deg / n,
                "field_relative_l2": field_l2 / n,
            }),
        )
    }
}
