//! `rollout_eval`: the whole test curve predicted recursively (Figure 8 of Kornell et al.).

use ndarray::s;

use super::kornell_common::{esw_field, esw_states, mean_mz, states_of, test_simulation};
use super::learn_common::{runtime, tree_dir};
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::kornell::ae3d_fit::TrainedAe3d;
use crate::learn::kornell::rollout_fit::TrainedRollout;
use crate::report::plot::{LineChart, Series, SeriesStyle, line_plot};

/// The `rollout_eval` stage kind.
pub struct RolloutEvalStage;

impl Stage for RolloutEvalStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let m = esw_states(ctx)?;
        let field = esw_field(ctx)?;
        let test = test_simulation(ctx, m.shape()[0])?;
        let rt = runtime(ctx)?;
        let ae = TrainedAe3d::load(&tree_dir(ctx, "autoencoder")?, &rt.device)?;
        let predictor = TrainedRollout::load(&tree_dir(ctx, "predictor")?, &rt.device)?;
        let truth = states_of(&m, &[test]);
        let latents = ae.encode(truth.view())?;
        let t = predictor.spec.history_len;
        let curve =
            predictor.predict_curve(latents.slice(s![..t, ..]), field.mapv(|v| v as f32).view())?;
        let decoded = ae.decode(curve.view())?;
        let (mt, mp) = (mean_mz(&truth), mean_mz(&decoded));
        let mae = mt.iter().zip(&mp).map(|(a, b)| (a - b).abs()).sum::<f64>() / mt.len() as f64;
        let pts =
            |v: &[f64]| -> Vec<(f64, f64)> { field.iter().zip(v).map(|(h, m)| (*h, *m)).collect() };
        line_plot(
            &ctx.output("plot")?,
            &LineChart {
                title: format!(
                    "test simulation {test}: recursive prediction from the first {t} states"
                ),
                x_label: "μ0 H_ext (T)".into(),
                y_label: "mean m_z".into(),
                series: vec![
                    Series {
                        name: "eSW".into(),
                        points: pts(&mt),
                        style: SeriesStyle::Line,
                    },
                    Series {
                        name: "predicted".into(),
                        points: pts(&mp),
                        style: SeriesStyle::Line,
                    },
                ],
                markers: vec![],
                log_y: false,
            },
        )?;
        ctx.write_json(
            "metrics",
            &serde_json::json!({"mae_mz": mae, "t": t, "test_simulation": test}),
        )
    }
}
