//! Kornell et al.: the 3D convolutional autoencoder of grain magnetizations (Table 1) and the
//! latent-space predictor with its recursive rollout loss (§3.3, §4.3), with their training.

pub mod ae3d;
pub mod ae3d_fit;
pub mod rollout;
pub mod rollout_fit;
pub mod rollout_windows;
