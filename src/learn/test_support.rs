//! Helpers for the unit tests of the learning models.

use std::sync::{Mutex, MutexGuard};

use burn::prelude::*;

/// burn-flex keeps one process-wide RNG, so tests that seed it and then draw (model
/// initialisation, random inputs) hold this lock to keep their draws uninterleaved.
static RNG_LOCK: Mutex<()> = Mutex::new(());

/// Takes the RNG lock (a poisoned lock is still usable: the guarded data is `()`).
pub fn rng_lock() -> MutexGuard<'static, ()> {
    RNG_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Copies a float tensor to a `Vec<f32>` (row-major).
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .expect("float tensor data is f32")
}
