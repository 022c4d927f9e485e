//! Helpers for the unit tests of the learning models.

use burn::prelude::*;

use super::device_rng::{DeviceRngGuard, lock_device_rng};

/// burn-flex keeps one process-wide RNG, so tests that seed it and then draw (model
/// initialisation, random inputs) hold this lock to keep their draws uninterleaved. It is the
/// same re-entrant lock production code takes ([`lock_device_rng`]): two locks would let a fit
/// in one test reseed the device between another test's seeding and its draws.
pub fn rng_lock() -> DeviceRngGuard {
    lock_device_rng()
}

/// Copies a float tensor to a `Vec<f32>` (row-major).
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .expect("float tensor data is f32")
}
