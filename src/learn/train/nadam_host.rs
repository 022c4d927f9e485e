//! Fused, in-place Nadam update over host `f32` slices (the flex fast path of
//! [`crate::learn::train::nadam::Nadam`]).
//!
//! The tensor-op form makes about ten passes over every parameter per step (each `mul_scalar`,
//! `add`, `sqrt`, `div` is one); this does one. The arithmetic is the same sequence of `f32`
//! operations in the same order as the tensor form (every scalar rounded to `f32` first, as
//! flex does), so both paths give bitwise-identical parameters and moments
//! (`nadam_tests::fused_path_matches_tensor_ops_bitwise`). Element-wise, so splitting the
//! slices across rayon workers cannot change any bit either.

use rayon::prelude::*;

/// Elements per rayon task: large enough to amortise the task, small enough to balance.
const CHUNK: usize = 1 << 15;

/// Per-step scalars of the Nadam update, already rounded to `f32`.
#[derive(Debug, Clone, Copy)]
pub struct NadamCoefficients {
    /// β1.
    pub beta_1: f32,
    /// 1 − β1.
    pub one_minus_beta_1: f32,
    /// β2.
    pub beta_2: f32,
    /// 1 − β2.
    pub one_minus_beta_2: f32,
    /// 1 − β2^t.
    pub bias_correction_2: f32,
    /// ε.
    pub epsilon: f32,
    /// lr (1 − μ_t) / (1 − Π_t).
    pub grad_coef: f32,
    /// lr μ_{t+1} / (1 − Π_{t+1}).
    pub momentum_coef: f32,
}

/// Applies one Nadam step in place: updates `exp_avg`, `exp_avg_sq` and `param` from `grad`.
///
/// All four slices must have the same length (checked; a mismatch is a caller bug).
pub fn nadam_update(
    c: &NadamCoefficients,
    param: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
) {
    assert!(
        param.len() == grad.len()
            && param.len() == exp_avg.len()
            && param.len() == exp_avg_sq.len(),
        "nadam_update: slice lengths differ"
    );
    let one = |p: &mut f32, g: f32, m: &mut f32, v: &mut f32| {
        let mi = *m * c.beta_1 + g * c.one_minus_beta_1;
        let vi = *v * c.beta_2 + g * g * c.one_minus_beta_2;
        let denom = (vi / c.bias_correction_2).sqrt() + c.epsilon;
        *p -= (g * c.grad_coef + mi * c.momentum_coef) / denom;
        *m = mi;
        *v = vi;
    };
    let kernel = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
        // Fixed-width lanes: the compiler turns the inner loop into vector instructions
        // (same operations per element, so the same bits as the scalar tail).
        const LANES: usize = 16;
        let mut pc = p.chunks_exact_mut(LANES);
        let mut gc = g.chunks_exact(LANES);
        let mut mc = m.chunks_exact_mut(LANES);
        let mut vc = v.chunks_exact_mut(LANES);
        for (((p, g), m), v) in (&mut pc).zip(&mut gc).zip(&mut mc).zip(&mut vc) {
            let (p, g, m, v): (
                &mut [f32; LANES],
                &[f32; LANES],
                &mut [f32; LANES],
                &mut [f32; LANES],
            ) = match (p.try_into(), g.try_into(), m.try_into(), v.try_into()) {
                (Ok(p), Ok(g), Ok(m), Ok(v)) => (p, g, m, v),
                _ => unreachable!("chunks_exact yields LANES elements"),
            };
            for i in 0..LANES {
                one(&mut p[i], g[i], &mut m[i], &mut v[i]);
            }
        }
        let tail = pc.into_remainder().iter_mut().zip(gc.remainder());
        for ((p, &g), (m, v)) in tail.zip(mc.into_remainder().iter_mut().zip(vc.into_remainder())) {
            one(p, g, m, v);
        }
    };
    if param.len() <= CHUNK || rayon::current_num_threads() == 1 {
        kernel(param, grad, exp_avg, exp_avg_sq);
        return;
    }
    param
        .par_chunks_mut(CHUNK)
        .zip(grad.par_chunks(CHUNK))
        .zip(exp_avg.par_chunks_mut(CHUNK))
        .zip(exp_avg_sq.par_chunks_mut(CHUNK))
        .for_each(|(((p, g), m), v)| kernel(p, g, m, v));
}
