//! Squeeze-and-excitation block (Hu et al.) as used by SE-ResNeXt and EfficientNet.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, silu};

use crate::learn::nets::torch_layers::ConvSpec;

/// Activation between the two 1×1 convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqueezeActivation {
    /// ReLU (SE-ResNeXt).
    Relu,
    /// SiLU/swish (EfficientNet).
    Silu,
}

/// x · σ(W₂ act(W₁ avgpool(x) + b₁) + b₂), with W₁, W₂ 1×1 convolutions with bias.
#[derive(Module, Debug)]
pub struct SqueezeExcitation {
    /// channels → squeezed.
    reduce: Conv2d,
    /// squeezed → channels.
    expand: Conv2d,
    /// Activation after `reduce`.
    #[module(skip)]
    activation: SqueezeActivation,
}

impl SqueezeExcitation {
    /// Builds the block (weights `kaiming_normal_(fan_out)`, biases zero).
    pub fn new(
        channels: usize,
        squeezed: usize,
        activation: SqueezeActivation,
        device: &Device,
    ) -> Self {
        Self {
            reduce: ConvSpec::new([channels, squeezed], 1, 1)
                .with_bias()
                .init(device),
            expand: ConvSpec::new([squeezed, channels], 1, 1)
                .with_bias()
                .init(device),
            activation,
        }
    }

    /// Rescales the channels of `x` `[batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pooled = x.clone().mean_dim(2).mean_dim(3);
        let hidden = self.reduce.forward(pooled);
        let hidden = match self.activation {
            SqueezeActivation::Relu => relu(hidden),
            SqueezeActivation::Silu => silu(hidden),
        };
        x * sigmoid(self.expand.forward(hidden))
    }
}
