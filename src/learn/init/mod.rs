//! Weight initialisers of the reference frameworks that burn 0.22 does not provide.
//!
//! Kornell et al. use TensorFlow 2's `he_normal` (a *truncated* normal); the torchvision models
//! use `kaiming_normal_` whose fan is computed PyTorch's way (groups not divided out), which
//! differs from burn's `Initializer::KaimingNormal` for grouped/depthwise convolutions.

pub mod he;
pub mod keras;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

/// Standard deviation of a unit normal truncated to `[-2, 2]` (TensorFlow's `VarianceScaling`
/// correction constant).
const TRUNCATED_UNIT_NORMAL_STD: f64 = 0.879_625_661_034_239_8;
/// TensorFlow truncates its normal at two standard deviations.
const TRUNCATION_BOUND: f64 = 2.0;

/// Draws a tensor from TensorFlow 2 / Keras `he_normal`: a normal truncated at ±2σ', where
/// σ' = √(2 / fan_in) / 0.8796…, so that the truncated distribution has standard deviation
/// √(2 / fan_in). Out-of-range draws are redrawn (TensorFlow's rejection semantics), using the
/// device RNG, so the result is reproducible after `device.seed(..)`.
pub fn he_normal<const D: usize>(
    shape: impl Into<Shape>,
    fan_in: usize,
    device: &Device,
) -> Tensor<D> {
    let shape = shape.into();
    let mut unit = Tensor::<D>::random(shape.clone(), Distribution::Normal(0.0, 1.0), device);
    loop {
        let outside = unit.clone().abs().greater_elem(TRUNCATION_BOUND);
        let any_outside: bool = outside.clone().any().into_scalar();
        if !any_outside {
            break;
        }
        let redraw = Tensor::<D>::random(shape.clone(), Distribution::Normal(0.0, 1.0), device);
        unit = unit.mask_where(outside, redraw);
    }
    let std = (2.0 / fan_in.max(1) as f64).sqrt() / TRUNCATED_UNIT_NORMAL_STD;
    unit.mul_scalar(std).detach()
}

/// A trainable parameter initialised with [`he_normal`].
pub fn he_normal_param<const D: usize>(
    shape: impl Into<Shape>,
    fan_in: usize,
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(he_normal(shape, fan_in, device))
}

/// Standard deviation of PyTorch's `kaiming_normal_(w, mode, nonlinearity="relu")`: √(2 / fan),
/// with the fan of a convolution weight `[out, in/groups, k, k]` being `in/groups·k²` (`fan_in`)
/// or `out·k²` (`fan_out`).
pub fn torch_kaiming_normal_std(fan: usize) -> f64 {
    (2.0 / fan.max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::test_support::{rng_lock, to_vec};

    #[test]
    fn he_normal_is_truncated_at_two_sigma_and_has_he_variance() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(7);
        let fan_in = 50;
        let n = 200_000;
        let values = to_vec(he_normal::<1>([n], fan_in, &device));
        let target_std = (2.0 / fan_in as f64).sqrt();
        let bound = 2.0 * target_std / TRUNCATED_UNIT_NORMAL_STD;
        let max_abs = values
            .iter()
            .fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
        assert!(
            max_abs <= bound * (1.0 + 1e-6),
            "max |w| {max_abs} > bound {bound}"
        );
        // the truncation bound is actually approached (a plain rescaled normal would exceed it)
        assert!(max_abs > 0.95 * bound);
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        // sampling error of the std is ≈ σ/√(2n) ≈ 0.16 %; 1 % is > 6 standard errors.
        assert!(
            (var.sqrt() / target_std - 1.0).abs() < 0.01,
            "std {}",
            var.sqrt()
        );
        assert!(
            mean.abs() < 5.0 * target_std / (n as f64).sqrt(),
            "mean {mean}"
        );
    }

    #[test]
    fn he_normal_is_reproducible_after_seeding() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(3);
        let a = to_vec(he_normal::<2>([8, 8], 8, &device));
        device.seed(3);
        let b = to_vec(he_normal::<2>([8, 8], 8, &device));
        assert_eq!(a, b);
    }
}
