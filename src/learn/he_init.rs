//! Host-seeded TensorFlow `he_normal` initialisation for the Kornell et al. models.
//!
//! [`crate::learn::init::he_normal`] draws from burn's device RNG, which is process-global on
//! flex and shared with everything else that runs. [`he_normal_init`] re-draws every kernel of
//! a module from `ChaCha8Rng::seed_from_u64(seed)` on the host, visiting parameters in module
//! order (as [`crate::learn::keras_init::keras_init`] does for Glorot), so the initial weights
//! depend only on the seed: not on the backend, the thread count or other users of the RNG.
//!
//! Distribution: a normal truncated at ±2σ' (out-of-range draws are redrawn), σ' =
//! √(2 / fan_in) / 0.8796…, so that the truncated distribution has standard deviation
//! √(2 / fan_in) (TensorFlow 2's `VarianceScaling(2, "fan_in", "truncated_normal")`). Biases
//! (rank-1 parameters) become zero, Keras's default.

use crate::learn::keras_init::with_host_values;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Standard deviation of a unit normal truncated to [−2, 2].
const TRUNCATED_UNIT_NORMAL_STD: f64 = 0.879_625_661_034_239_8;
/// TensorFlow truncates at two standard deviations.
const TRUNCATION_BOUND: f64 = 2.0;

/// Keras's fan-in of a burn parameter of shape `dims`.
///
/// Rank 2 is a `Linear` kernel `[in, out]`: `in`. Rank ≥ 3 is a convolution kernel, burn's
/// `[out, in, k…]` for a convolution and `[in, out, k…]` for a transposed one; Keras stores
/// them as `(k…, in, out)` and `(k…, out, in)` and takes `shape[-2]·Πk` as the fan-in, which
/// is `dims[1]·Πk` in both burn layouts. Rank ≤ 1 has no fan-in (`None`).
pub fn keras_fan_in(dims: &[usize]) -> Option<usize> {
    match dims {
        [] | [_] => None,
        [d_in, _] => Some(*d_in),
        [_, second, kernel @ ..] => Some(second * kernel.iter().product::<usize>()),
    }
}

/// Re-initialises every float parameter of `module` with `he_normal` kernels and zero biases
/// drawn from `seed`. Parameters stay lazy: values are materialised on the module's device on
/// first use. Valid for modules built from `Linear`, `Conv*d` and `ConvTranspose*d` layers
/// without groups (the Kornell autoencoder and latent predictor).
pub fn he_normal_init<M: Module>(module: M, seed: u64) -> M {
    let mut mapper = HeNormal {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    module.map(&mut mapper)
}

struct HeNormal {
    rng: ChaCha8Rng,
}

impl HeNormal {
    /// A unit normal truncated to [−2, 2] (Box–Muller, both outputs used, rejection outside).
    fn truncated_unit_normals(&mut self, count: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(count + 1);
        while out.len() < count {
            let u1: f64 = 1.0 - self.rng.random::<f64>();
            let u2: f64 = self.rng.random::<f64>();
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = std::f64::consts::TAU * u2;
            for z in [radius * angle.cos(), radius * angle.sin()] {
                if z.abs() <= TRUNCATION_BOUND {
                    out.push(z);
                }
            }
        }
        out.truncate(count);
        out
    }

    fn values(&mut self, dims: &[usize]) -> Vec<f32> {
        let count: usize = dims.iter().product();
        match keras_fan_in(dims) {
            None => vec![0.0; count],
            Some(fan_in) => {
                let std = (2.0 / fan_in.max(1) as f64).sqrt() / TRUNCATED_UNIT_NORMAL_STD;
                self.truncated_unit_normals(count)
                    .into_iter()
                    .map(|z| (z * std) as f32)
                    .collect()
            }
        }
    }
}

impl ModuleMapper for HeNormal {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.values(&param.lazy_shape().to_vec());
        with_host_values(param, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    fn weights(linear: &Linear) -> Vec<f32> {
        linear.weight.val().try_into_vec_as::<f32>().expect("read")
    }

    #[test]
    fn fan_in_follows_keras_for_dense_and_3d_convolutions() {
        assert_eq!(keras_fan_in(&[32, 16]), Some(32));
        // Conv3d 3 → 4 channels, kernel 2³: burn [4, 3, 2, 2, 2], Keras (2,2,2,3,4): 24
        assert_eq!(keras_fan_in(&[4, 3, 2, 2, 2]), Some(24));
        // ConvTranspose3d 3 → 4 channels, kernel 3³: burn [3, 4, 3, 3, 3] (in first), Keras
        // (3,3,3,4,3): fan-in 27 · 4 (its output channels), not 27 · 3
        assert_eq!(keras_fan_in(&[3, 4, 3, 3, 3]), Some(108));
        assert_eq!(keras_fan_in(&[7]), None);
    }

    #[test]
    fn truncated_he_statistics_zero_bias_and_seed_determinism() {
        let device = Device::flex();
        let fan_in = 200;
        let a = he_normal_init(LinearConfig::new(fan_in, 250).init(&device), 3);
        let b = he_normal_init(LinearConfig::new(fan_in, 250).init(&device), 3);
        let c = he_normal_init(LinearConfig::new(fan_in, 250).init(&device), 4);
        let wa = weights(&a);
        assert_eq!(wa, weights(&b));
        assert_ne!(wa, weights(&c));
        let target_std = (2.0 / fan_in as f64).sqrt();
        let bound = TRUNCATION_BOUND * target_std / TRUNCATED_UNIT_NORMAL_STD;
        let max_abs = wa.iter().fold(0.0f64, |m, &w| m.max(f64::from(w).abs()));
        assert!(max_abs <= bound * (1.0 + 1e-6), "{max_abs} > {bound}");
        // 50 000 draws: a plain normal would exceed the bound ~2 300 times; the truncated one
        // gets close to it.
        assert!(max_abs > 0.98 * bound, "{max_abs}");
        let n = wa.len() as f64;
        let mean = wa.iter().map(|&w| f64::from(w)).sum::<f64>() / n;
        let var = wa
            .iter()
            .map(|&w| (f64::from(w) - mean).powi(2))
            .sum::<f64>()
            / n;
        // standard error of the std ≈ σ/√(2n) ≈ 0.3 %; 1.5 % is 5 standard errors
        assert!(
            (var.sqrt() / target_std - 1.0).abs() < 0.015,
            "std {}",
            var.sqrt()
        );
        assert!(mean.abs() < 5.0 * target_std / n.sqrt(), "mean {mean}");
        let bias = a.bias.as_ref().expect("bias").val();
        let bias = bias.try_into_vec_as::<f32>().expect("read");
        assert!(bias.iter().all(|&v| v == 0.0));
    }
}
