//! `encode`: latent means of structures under a trained VAE.

use std::path::Path;

use super::learn_common::{image_loader, runtime};
use super::structures::StructureSet;
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::write_npy;
use crate::learn::kovacs::vae_fit::TrainedVae;

/// The `encode` stage kind.
pub struct EncodeStage;

/// Loads a VAE directory input (the files of a `vae_fit.model` tree).
pub fn load_vae(
    ctx: &StageContext,
    port: &str,
    device: &burn::prelude::Device,
) -> StageResult<TrainedVae> {
    let dir = super::learn_common::tree_dir(ctx, port)?;
    Ok(TrainedVae::load(Path::new(&dir), device)?)
}

impl Stage for EncodeStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = StructureSet::load(ctx.input("structures")?)?;
        let n = match ctx.usize("count")? {
            0 => set.items.len(),
            c => c.min(set.items.len()),
        };
        let rt = runtime(ctx)?;
        let vae = load_vae(ctx, "model", &rt.device)?;
        let latents = vae.encode_streamed(n, ctx.usize("batch_size")?, image_loader(&set))?;
        write_npy(&ctx.output("latents")?, &latents)?;
        Ok(())
    }
}
