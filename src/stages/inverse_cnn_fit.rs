//! `inverse_cnn_fit`: an inverse-design CNN on field maps computed per batch.

use super::learn_common::{loss_plot, runtime};
use super::pollok_common::{DesignSet, batch};
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::LearnError;
use crate::learn::pollok::fit::{InverseFitConfig, Split, fit_inverse_cnn};
use crate::learn::train::checkpoint::CheckpointConfig;

/// The `inverse_cnn_fit` stage kind.
pub struct InverseCnnFitStage;

impl Stage for InverseCnnFitStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = DesignSet::load(ctx.input("designs")?)?;
        let resolution = ctx.usize("resolution")?;
        let epochs = ctx.usize("epochs")?;
        let config = InverseFitConfig {
            arch: ctx.str("arch")?.parse()?,
            epochs,
            batch_size: ctx.usize("batch_size")?,
            learning_rate: ctx.f64("lr")?,
            lr_step_epochs: ctx.usize("lr_step_epochs")?,
            lr_gamma: ctx.f64("lr_gamma")?,
            momentum: ctx.f64("momentum")?,
            weight_decay: ctx.f64("weight_decay")?,
            seed: ctx.seed(),
        };
        let rt = runtime(ctx)?;
        let mut loader = |split: Split, rows: &[usize]| {
            let ids: Vec<usize> = match split {
                Split::Train => rows.iter().map(|&r| set.train[r]).collect(),
                Split::Validation => rows.iter().map(|&r| set.validation[r]).collect(),
            };
            batch(&set, &ids, resolution).map_err(|e| LearnError::Loader(e.to_string()))
        };
        let checkpoint = CheckpointConfig {
            dir: ctx.resume_dir()?,
            every_epochs: ctx.usize("checkpoint_every")?,
            resume: true,
        };
        let bar = ctx.progress("CNN epochs", epochs as u64);
        let (model, history) = fit_inverse_cnn(
            &rt.device,
            &config,
            set.train.len(),
            set.validation.len(),
            Some(&checkpoint),
            &mut loader,
            Some(ctx.cancel_flag()),
            &mut |r| {
                bar.inc(1);
                bar.message(format!(
                    "RMSE {:.4} / validation {:.4}",
                    r.train_loss,
                    r.val_loss.unwrap_or(f64::NAN)
                ));
                ctx.log(format!(
                    "epoch {}: train RMSE {:.5}, validation RMSE {:?}",
                    r.epoch, r.train_loss, r.val_loss
                ));
            },
        )?;
        ctx.check_cancelled()?;
        model.save(&ctx.output("model")?)?;
        let rows: Vec<serde_json::Value> = history.iter().map(|r| serde_json::json!({"epoch": r.epoch, "train_rmse": r.train_loss, "val_rmse": r.val_loss})).collect();
        ctx.write_json("history", &rows)?;
        loss_plot(
            &ctx.output("plot")?,
            &format!(
                "{} at {resolution}×{resolution}: RMSE per epoch",
                ctx.str("arch")?
            ),
            &[
                (
                    "train",
                    history
                        .iter()
                        .map(|r| (r.epoch as f64, r.train_loss))
                        .collect(),
                ),
                (
                    "validation",
                    history
                        .iter()
                        .filter_map(|r| r.val_loss.map(|v| (r.epoch as f64, v)))
                        .collect(),
                ),
            ],
        )
    }
}
