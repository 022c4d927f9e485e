//! Learning models, optimizers and training loops (burn 0.22, f32).
//!
//! Engine-agnostic: callers hand in plain `ndarray` data or batch-loader closures and get plain
//! `ndarray` results and trained models back. Nothing here knows about manifests or caching.

pub mod ae3d;
pub mod ae3d_fit;
pub mod backend;
pub mod checkpoint;
pub mod cv;
pub mod dense;
pub mod densenet;
pub mod device_rng;
pub mod efficientnet;
pub mod error;
pub mod fast;
pub mod finite;
pub mod he_init;
pub mod inception_resnet_v2;
pub mod init;
pub mod inverse_checkpoint;
pub mod inverse_cnn;
pub mod inverse_fit;
pub mod inverse_metrics;
pub mod inverse_model;
pub mod keras_init;
pub mod model_error;
pub mod monitored_train;
pub mod nadam;
pub mod nadam_host;
pub mod param_count;
pub mod plateau;
pub mod regressor;
pub mod regressor_fit;
pub mod resnet;
pub mod rollout;
pub mod rollout_fit;
pub mod rollout_windows;
pub mod sample_weighting;
pub mod se_resnext;
pub mod squeeze_excitation;
pub mod stable_ids;
pub mod torch_layers;
pub mod train;
pub mod vae;
pub mod vae_fit;
pub mod validation_split;

#[cfg(test)]
mod test_support;

pub use backend::{BackendChoice, LearnRuntime};
pub use error::LearnError;
