//! Learning models, optimizers and training loops (burn 0.22, f32).
//!
//! Folders by concern: [`train`] (the epoch loop and its policies, checkpoints, optimizers, data
//! splits), [`nets`] (network architectures and their building blocks), [`init`] (weight
//! initialisers), one folder per paper for its models and their training ([`kovacs`], [`kornell`],
//! [`pollok`]), and [`fast`] (fused CPU kernels for the flex backend).
//!
//! Engine-agnostic: callers hand in plain `ndarray` data or batch-loader closures and get plain
//! `ndarray` results and trained models back. Nothing here knows about manifests or caching.

pub mod backend;
pub mod device_rng;
pub mod error;
pub mod fast;
pub mod init;
pub mod kornell;
pub mod kovacs;
pub mod model_error;
pub mod nets;
pub mod pollok;
pub mod stable_ids;
pub mod train;

#[cfg(test)]
mod test_support;

pub use backend::{BackendChoice, LearnRuntime};
pub use error::LearnError;
