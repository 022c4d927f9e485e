//! `cubic_grains`: easy axes of the cubic-grain magnets, one set per simulation.

use ndarray::Array5;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::write_npy;
use crate::physics::esw::cubic_grains::sample_cap_axes;

/// The `cubic_grains` stage kind.
pub struct CubicGrainsStage;

impl Stage for CubicGrainsStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let g = ctx.i64s("grains")?;
        let [nx, ny, nz] = <[i64; 3]>::try_from(g.as_slice())
            .map_err(|_| "`grains` must have three entries [nx, ny, nz]")?
            .map(|v| v as usize);
        let sims = ctx.usize("simulations")?;
        let half = ctx.f64("cap_half_angle_deg")?.to_radians();
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed());
        let mut axes = Array5::<f64>::zeros((sims, nx, ny, nz, 3));
        for s in 0..sims {
            // Flat grain order of the eSW model: row-major over (ix, iy, iz).
            for (k, a) in sample_cap_axes(nx * ny * nz, half, &mut rng)
                .into_iter()
                .enumerate()
            {
                let (ix, iy, iz) = (k / (ny * nz), (k / nz) % ny, k % nz);
                for c in 0..3 {
                    axes[[s, ix, iy, iz, c]] = a[c];
                }
            }
        }
        write_npy(&ctx.output("axes")?, &axes)?;
        Ok(())
    }
}
