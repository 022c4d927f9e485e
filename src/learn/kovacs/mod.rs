//! Kovacs et al.: the convolutional VAE of grain structures (Table 1) and the parameter-sharing
//! regressor of demagnetization-curve anchors (Table 2), with their training.

pub mod regressor;
pub mod regressor_fit;
pub mod vae;
pub mod vae_fit;
