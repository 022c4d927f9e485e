//! burn 0.22 models (f32) of the three papers, their losses and parameter bookkeeping.

pub mod ae3d;
pub mod dense;
pub mod densenet;
pub mod efficientnet;
pub mod error;
pub mod init;
pub mod param_count;
pub mod resnet;
pub mod rollout;
pub mod sample_weighting;
pub mod se_resnext;
pub mod squeeze_excitation;
pub mod torch_layers;

#[cfg(test)]
mod test_support;
