//! Reproducible use of burn's device random generator.
//!
//! burn initialises parameters lazily (on first access) from the device RNG, and on flex that RNG
//! is one process-wide stream: whatever else draws from it in between (another model, another
//! thread) changes the values. Code that wants seed-determined draws takes [`lock_device_rng`],
//! seeds the device and finishes all its draws before releasing the lock;
//! [`init_seeded`] does that for model construction by materialising every parameter eagerly.

use std::sync::{Mutex, MutexGuard};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

/// Serialises seeded use of burn's process-global device RNG.
static DEVICE_RNG_LOCK: Mutex<()> = Mutex::new(());

/// Takes the process-wide device-RNG lock (a poisoned lock is still usable: it guards `()`).
pub fn lock_device_rng() -> MutexGuard<'static, ()> {
    DEVICE_RNG_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `draw` with the device RNG seeded to `seed`, holding [`lock_device_rng`] throughout, so
/// every random tensor `draw` creates depends only on `seed` and the order of its own draws.
pub fn with_seeded_rng<R>(device: &Device, seed: u64, draw: impl FnOnce() -> R) -> R {
    let _guard = lock_device_rng();
    device.seed(seed);
    draw()
}

/// Builds a module with `build` and initialises all its lazy parameters in module order, under
/// the device-RNG lock with the device seeded to `seed`: the initial weights depend on `seed`
/// alone (for a given backend), not on when parameters are first used or on other threads.
/// Errors of `build` are passed through.
pub fn init_seeded<M: Module, E>(
    device: &Device,
    seed: u64,
    build: impl FnOnce() -> Result<M, E>,
) -> Result<M, E> {
    with_seeded_rng(device, seed, || {
        let module = build()?;
        module.visit(&mut Materialize);
        Ok(module)
    })
}

/// Forces lazy parameters to draw their initial values (cached in the parameter).
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        drop(param.val());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    fn weights(linear: &Linear) -> Vec<f32> {
        linear
            .weight
            .val()
            .try_into_vec_as::<f32>()
            .expect("f32 weights")
    }

    fn linear(device: &Device, seed: u64) -> Linear {
        let built: Result<Linear, ()> =
            init_seeded(device, seed, || Ok(LinearConfig::new(6, 4).init(device)));
        built.expect("infallible build")
    }

    #[test]
    fn seeded_initialisation_ignores_later_draws() {
        let device = Device::flex();
        let a = linear(&device, 5);
        assert!(a.weight.is_initialized());
        // a draw from the global stream after construction must not change `a`, and a second
        // model from the same seed must get the same weights
        let _noise = with_seeded_rng(&device, 99, || {
            Tensor::<1>::random([16], burn::tensor::Distribution::Default, &device)
        });
        let b = linear(&device, 5);
        let c = linear(&device, 6);
        assert_eq!(weights(&a), weights(&b));
        assert_ne!(weights(&a), weights(&c));
    }
}
