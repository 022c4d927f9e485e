//! `grain_sampling`: draws the structure set and a preview image.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::structures::{StructureEntry, StructureSet};
use crate::engine::{Stage, StageContext, StageResult};
use crate::physics::micromag::grains::GrainSampling;
use crate::report::image_grid::{Colormap, ImageGrid, image_grid};

/// The `grain_sampling` stage kind.
pub struct GrainSamplingStage;

impl Stage for GrainSamplingStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let sampling = GrainSampling {
            nx: ctx.usize("nx")?,
            ny: ctx.usize("ny")?,
            cell_size: ctx.f64("cell_size_nm")? * 1e-9,
            grains_min: ctx.usize("grains_min")?,
            grains_max: ctx.usize("grains_max")?,
            theta_max: ctx.f64("theta_max_deg")?.to_radians(),
        };
        sampling.validate()?;
        let count = ctx.usize("count")?;
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed());
        let seeds: Vec<u64> = (0..count).map(|_| rng.random()).collect();
        let bar = ctx.progress("structures", count as u64);
        let mut items = Vec::with_capacity(count);
        let mut previews: Vec<(String, Array2<f32>)> = Vec::new();
        let preview = ctx.usize("preview")?;
        for (i, seed) in seeds.into_iter().enumerate() {
            ctx.check_cancelled()?;
            let s = sampling.sample(seed)?;
            if i < preview {
                previews.push((
                    format!("#{i}: n_g {}, θ {:.0}°", s.n_grains, s.theta.to_degrees()),
                    s.easy_axis_x_canonical(),
                ));
            }
            items.push(StructureEntry {
                seed,
                n_grains: s.n_grains,
                theta: s.theta,
            });
            bar.inc(1);
        }
        let mean_grains =
            items.iter().map(|e| e.n_grains as f64).sum::<f64>() / count.max(1) as f64;
        ctx.log(format!(
            "sampled {count} structures, mean n_g {mean_grains:.1}"
        ));
        ctx.write_json("structures", &StructureSet { sampling, items })?;
        let grid = ImageGrid {
            title: "grain structures: x-component of the easy axis".into(),
            images: previews
                .iter()
                .map(|(c, a)| (c.clone(), a.view()))
                .collect(),
            cols: previews.len().clamp(1, 3),
            colormap: Colormap::EASY_AXIS_X,
            colorbar_label: "u_x".into(),
        };
        image_grid(&ctx.output("preview")?, &grid)?;
        Ok(())
    }
}
