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
        // a rollout that grew past f32 is a failed prediction, never a number (JSON would
        // silently write its NaN MAE as null)
        if let Some(k) = mp.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "the recursive prediction diverged: M/Ms is not finite from step {k} \
                 (μ0H = {} T) on",
                field[k]
            )
            .into());
        }
        let mae = mt.iter().zip(&mp).map(|(a, b)| (a - b).abs()).sum::<f64>() / mt.len() as f64;
        let threshold = ctx.f64("departure_threshold")?;
        let departure = first_departure(&mt, &mp, t, threshold);
        let departure_field = field[departure.unwrap_or(field.len() - 1)];
        let mut csv = String::from("field_t,esw_mz,predicted_mz\n");
        for ((h, a), b) in field.iter().zip(&mt).zip(&mp) {
            csv.push_str(&format!("{h},{a},{b}\n"));
        }
        std::fs::write(ctx.output("curve")?, csv)?;
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
            &serde_json::json!({
                "mae_mz": mae,
                "departure_field": departure_field,
                "departed": departure.is_some(),
                "departure_threshold": threshold,
                "t": t,
                "test_simulation": test,
            }),
        )
    }
}

/// The first step at or after `from` (the first predicted state) where the predicted curve is
/// farther than `threshold` from the truth.
pub fn first_departure(
    truth: &[f64],
    predicted: &[f64],
    from: usize,
    threshold: f64,
) -> Option<usize> {
    truth
        .iter()
        .zip(predicted)
        .enumerate()
        .skip(from)
        .find(|(_, (a, b))| (*a - *b).abs() > threshold)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::first_departure;

    #[test]
    fn departure_is_the_first_predicted_step_beyond_the_threshold() {
        let truth = [1.0, 1.0, 1.0, 0.5, -1.0];
        // the given starting state (index 0) is never counted; index 2 is exactly 0.1 off: not beyond
        let predicted = [0.0, 1.05, 0.9, 0.2, -1.0];
        assert_eq!(first_departure(&truth, &predicted, 1, 0.1), Some(3));
        assert_eq!(first_departure(&truth, &predicted, 1, 0.5), None);
        assert_eq!(first_departure(&truth, &predicted, 0, 0.1), Some(0));
    }
}
