//! `rollout_fit`: the Kornell latent predictor with the recursive l-step loss.

use ndarray::{Array1, Ix2};

use super::choice::choose;
use super::kornell_common::{esw_field, esw_states, states_of, test_simulation};
use super::learn_common::{loss_plot, runtime, tree_dir};
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::read_npy_nd;
use crate::learn::kornell::ae3d_fit::TrainedAe3d;
use crate::learn::kornell::rollout_fit::{RolloutFitConfig, fit_rollout};
use crate::learn::kornell::rollout_windows::SimSequence;
use crate::learn::train::LoopConfig;

/// A snake_case string parameter parsed into one of the serde enums of the learning layer.
fn parse_choice<T: serde::de::DeserializeOwned>(ctx: &StageContext, name: &str) -> StageResult<T> {
    let text = ctx.str(name)?;
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| format!("parameter `{name}` = {text:?}: {e}").into())
}

/// The training seed of replicate `r`: the stage's own seed for r = 0, else one derived from it
/// and r (blake3, as stage seeds derive from the experiment seed).
pub fn replicate_seed(stage_seed: u64, r: usize) -> u64 {
    if r == 0 {
        stage_seed
    } else {
        crate::engine::resolve::derive_seed(stage_seed, &format!("replicate-{r}"))
    }
}

/// The `rollout_fit` stage kind.
pub struct RolloutFitStage;

impl Stage for RolloutFitStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let m = esw_states(ctx)?;
        let field = esw_field(ctx)?.mapv(|v| v as f32);
        let weights = read_npy_nd::<f64, Ix2>(ctx.input("weights")?)?;
        let sims = m.shape()[0];
        let test = test_simulation(ctx, sims)?;
        let rt = runtime(ctx)?;
        let ae = TrainedAe3d::load(&tree_dir(ctx, "autoencoder")?, &rt.device)?;
        let mut seqs = Vec::new();
        for s in (0..sims).filter(|&s| s != test) {
            let latents = ae.encode(states_of(&m, &[s]).view())?;
            seqs.push(SimSequence {
                latents,
                fields: field.clone(),
                sample_weights: Array1::from(weights.row(s).mapv(|v| v as f32).to_vec()),
            });
        }
        let epochs = ctx.usize("max_epochs")?;
        let mut config = RolloutFitConfig::paper(ctx.usize("t")?, ctx.usize("l")?, epochs);
        config.window_weight = parse_choice(ctx, "window_weight")?;
        config.field_feed = parse_choice(ctx, "field_feed")?;
        config.hidden = vec![ctx.usize("hidden_width")?; ctx.usize("hidden_layers")?];
        config.increment = choose(
            "predict",
            ctx.str("predict")?,
            &[("state", false), ("increment", true)],
        )?;
        // an increment can be any sign and size: ELU would bound it below by −1
        config.linear_output = config.increment;
        config.field_scale = ctx.f64("field_scale")? as f32;
        config.schedule = LoopConfig {
            epochs,
            batch_size: ctx.usize("batch_size")?,
            learning_rate: ctx.f64("lr")?,
            seed: replicate_seed(ctx.seed(), ctx.usize("replicate")?),
        };
        let bar = ctx.progress(
            "predictor epochs (early stopping may end sooner)",
            epochs as u64,
        );
        let (model, history) = fit_rollout(
            &rt.device,
            &config,
            &seqs,
            Some(ctx.cancel_flag()),
            &mut |e| {
                bar.inc(1);
                bar.message(format!(
                    "loss {:.5}, lr {:.1e}",
                    e.record.train_loss, e.learning_rate
                ));
            },
        )?;
        ctx.check_cancelled()?;
        ctx.log(format!(
            "selected epoch {} of {} (stopped early: {})",
            model.selected_epoch,
            history.len(),
            model.stopped_early
        ));
        model.save(&ctx.output("model")?)?;
        let rows: Vec<serde_json::Value> = history.iter().map(|e| serde_json::json!({"epoch": e.record.epoch, "train_loss": e.record.train_loss, "val_loss": e.record.val_loss, "learning_rate": e.learning_rate})).collect();
        ctx.write_json("history", &rows)?;
        let train: Vec<(f64, f64)> = history
            .iter()
            .map(|e| (e.record.epoch as f64, e.record.train_loss))
            .collect();
        let val: Vec<(f64, f64)> = history
            .iter()
            .filter_map(|e| e.record.val_loss.map(|v| (e.record.epoch as f64, v)))
            .collect();
        loss_plot(
            &ctx.output("plot")?,
            &format!(
                "latent predictor, t = {}, l = {}",
                ctx.usize("t")?,
                ctx.usize("l")?
            ),
            &[("train", train), ("validation", val)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::replicate_seed;

    #[test]
    fn replicate_zero_keeps_the_stage_seed_and_others_get_distinct_derived_seeds() {
        assert_eq!(replicate_seed(2024, 0), 2024);
        let seeds: Vec<u64> = (0..5).map(|r| replicate_seed(2024, r)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 5, "{seeds:?}");
        assert_eq!(replicate_seed(2024, 3), seeds[3], "deterministic");
        assert_ne!(
            replicate_seed(2025, 3),
            seeds[3],
            "depends on the stage seed"
        );
    }
}
