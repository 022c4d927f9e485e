//! Keras-style dense building blocks shared by the Kornell et al. models: `Dense` layers with
//! `he_normal` kernels, zero biases and ELU activations.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::elu;

use crate::learn::init::he_normal_param;

/// Keras's default ELU slope for negative inputs.
pub const ELU_ALPHA: f64 = 1.0;

/// Activation applied by a model's last layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputActivation {
    /// ELU, as Kornell et al. state for "all layers" (the default).
    #[default]
    Elu,
    /// No activation (a linear output layer).
    Identity,
}

impl OutputActivation {
    /// Applies the activation.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Elu => elu(x, ELU_ALPHA),
            Self::Identity => x,
        }
    }
}

/// A `Dense(d_output, kernel_initializer="he_normal")` layer: kernel `[d_input, d_output]` drawn
/// from truncated He normal (fan-in `d_input`), bias zero (Keras's default).
pub fn he_normal_linear(d_input: usize, d_output: usize, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(d_input, d_output)
        .with_initializer(Initializer::Zeros)
        .init(device);
    linear.weight = he_normal_param([d_input, d_output], d_input, device);
    linear
}

/// Applies `layers` in order with ELU after every layer but the last, and `output` after the last.
pub fn forward_dense_stack(
    layers: &[Linear],
    input: Tensor<2>,
    output: OutputActivation,
) -> Tensor<2> {
    let last = layers.len().saturating_sub(1);
    layers.iter().enumerate().fold(input, |x, (index, layer)| {
        let y = layer.forward(x);
        if index == last {
            output.apply(y)
        } else {
            elu(y, ELU_ALPHA)
        }
    })
}
