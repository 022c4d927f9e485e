//! `vae_fit`: trains the Kovacs VAE on streamed structure images, with resumable checkpoints.

use super::learn_common::{epoch_reporter, image_loader, runtime, write_history};
use super::structures::StructureSet;
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::kovacs::vae::VaeConfig;
use crate::learn::kovacs::vae_fit::{VaeFitConfig, fit_vae};
use crate::learn::train::LoopConfig;
use crate::learn::train::checkpoint::CheckpointConfig;

/// The `vae_fit` stage kind.
pub struct VaeFitStage;

impl Stage for VaeFitStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = StructureSet::load(ctx.input("structures")?)?;
        if set.sampling.nx != set.sampling.ny {
            return Err(format!(
                "the VAE needs square images; structures are {}×{}",
                set.sampling.nx, set.sampling.ny
            )
            .into());
        }
        let n = match ctx.usize("count")? {
            0 => set.items.len(),
            c => c.min(set.items.len()),
        };
        let n_val = ((n as f64) * ctx.f64("validation_fraction")?).round() as usize;
        let (train, validation) = super::learn_common::split(n, n_val, ctx.seed());
        let rt = runtime(ctx)?;
        let epochs = ctx.usize("epochs")?;
        let config = VaeFitConfig {
            model: VaeConfig {
                input_size: set.sampling.nx,
                latent_dim: ctx.usize("latent_dim")?,
                kl_weight: ctx.f64("kl_weight")?,
            },
            schedule: LoopConfig {
                epochs,
                batch_size: ctx.usize("batch_size")?,
                learning_rate: ctx.f64("lr")?,
                seed: ctx.seed(),
            },
            checkpoint: Some(CheckpointConfig {
                dir: ctx.resume_dir()?,
                every_epochs: ctx.usize("checkpoint_every")?,
                resume: true,
            }),
            ..VaeFitConfig::default()
        };
        ctx.log(format!(
            "training on {} structures, validating on {}",
            train.len(),
            validation.len()
        ));
        let mut report = epoch_reporter(ctx, "VAE epochs", epochs);
        let (vae, history) = fit_vae(
            &rt.device,
            &config,
            &train,
            &validation,
            image_loader(&set),
            Some(ctx.cancel_flag()),
            &mut |r| {
                report(r);
            },
        )?;
        ctx.check_cancelled()?;
        vae.save(&ctx.output("model")?)?;
        write_history(ctx, &history, "VAE loss", "history", "plot")
    }
}
