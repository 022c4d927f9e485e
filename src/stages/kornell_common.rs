//! Shared plumbing of the Kornell learning stages: grain states from the eSW output and the
//! test-simulation choice.

use ndarray::{Array1, Array5, Array6, Axis, Ix1, Ix6};

use crate::engine::{StageContext, StageResult};
use crate::io::npy::read_npy_nd;

/// The eSW magnetizations `(simulations, steps, nx, ny, nz, 3)` as f32.
pub fn esw_states(ctx: &StageContext) -> StageResult<Array6<f32>> {
    let m = read_npy_nd::<f64, Ix6>(ctx.input("m")?)?;
    if m.shape()[2..] != [4, 4, 4, 3] {
        return Err(format!(
            "the autoencoder needs 4×4×4 grains with 3 components; got {:?}",
            m.shape()
        )
        .into());
    }
    Ok(m.mapv(|v| v as f32))
}

/// The applied field per step (T).
pub fn esw_field(ctx: &StageContext) -> StageResult<Array1<f64>> {
    Ok(read_npy_nd::<f64, Ix1>(ctx.input("field")?)?)
}

/// Index of the test simulation (`test_simulation`, −1 = the last).
pub fn test_simulation(ctx: &StageContext, sims: usize) -> StageResult<usize> {
    let t = ctx.i64("test_simulation")?;
    let i = if t < 0 { sims as i64 + t } else { t };
    if sims < 2 || i < 0 || i as usize >= sims {
        return Err(format!(
            "test_simulation {t} is not one of {sims} simulations (need at least 2)"
        )
        .into());
    }
    Ok(i as usize)
}

/// All states of the given simulations, flattened to `(n, 4, 4, 4, 3)`.
pub fn states_of(m: &Array6<f32>, sims: &[usize]) -> Array5<f32> {
    let views: Vec<_> = sims.iter().map(|&s| m.index_axis(Axis(0), s)).collect();
    ndarray::concatenate(Axis(0), &views).unwrap_or_else(|_| Array5::zeros((0, 4, 4, 4, 3)))
}

/// M(H)/Ms = mean m_z over the grains, per state.
pub fn mean_mz(states: &Array5<f32>) -> Vec<f64> {
    states
        .outer_iter()
        .map(|s| {
            s.index_axis(Axis(3), 2)
                .iter()
                .map(|v| f64::from(*v))
                .sum::<f64>()
                / 64.0
        })
        .collect()
}
