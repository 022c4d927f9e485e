//! Layers built and initialised the way the PyTorch reference models (torchvision, timm) do it.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;

use crate::learn::init::torch_kaiming_normal_std;

/// Which fan `kaiming_normal_` scales by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fan {
    /// `mode="fan_in"`: in_channels/groups · k².
    In,
    /// `mode="fan_out"`: out_channels · k² (PyTorch does not divide by groups).
    Out,
}

/// A square 2-D convolution as written in the reference model code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// [in, out] channels.
    pub channels: [usize; 2],
    /// Kernel edge.
    pub kernel: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Channel groups (in = out = groups for a depthwise convolution).
    pub groups: usize,
    /// Whether the convolution has a bias.
    pub bias: bool,
    /// Fan used by the weight initialisation.
    pub fan: Fan,
}

impl ConvSpec {
    /// A bias-free, ungrouped `k×k` convolution with "same"-style padding `(k − 1) / 2`,
    /// initialised with `kaiming_normal_(mode="fan_out")` (the torchvision ResNet default).
    pub fn new(channels: [usize; 2], kernel: usize, stride: usize) -> Self {
        Self {
            channels,
            kernel,
            stride,
            padding: (kernel - 1) / 2,
            groups: 1,
            bias: false,
            fan: Fan::Out,
        }
    }

    /// Sets the number of groups.
    pub fn groups(self, groups: usize) -> Self {
        Self { groups, ..self }
    }

    /// Adds a bias (initialised to zero).
    pub fn with_bias(self) -> Self {
        Self { bias: true, ..self }
    }

    /// Sets the fan of the weight initialisation.
    pub fn fan(self, fan: Fan) -> Self {
        Self { fan, ..self }
    }

    /// Builds the convolution: weight `N(0, 2/fan)` (PyTorch `kaiming_normal_`, relu gain),
    /// bias zero. Parameters initialise lazily from the device RNG.
    pub fn init(&self, device: &Device) -> Conv2d {
        let [c_in, c_out] = self.channels;
        let fan = match self.fan {
            Fan::In => c_in / self.groups * self.kernel * self.kernel,
            Fan::Out => c_out * self.kernel * self.kernel,
        };
        let p = self.padding;
        let mut conv = Conv2dConfig::new(self.channels, [self.kernel; 2])
            .with_stride([self.stride; 2])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_groups(self.groups)
            .with_bias(self.bias)
            .with_initializer(Initializer::Zeros)
            .init(device);
        let normal = Initializer::Normal {
            mean: 0.0,
            std: torch_kaiming_normal_std(fan),
        };
        conv.weight = normal.init(
            [c_out, c_in / self.groups, self.kernel, self.kernel],
            device,
        );
        conv
    }
}

/// `nn.BatchNorm2d(channels)`: ε = 1e-5, momentum 0.1, γ = 1, β = 0.
pub fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// A convolution followed by batch normalisation (no activation).
#[derive(Module, Debug)]
pub struct ConvBn {
    /// The convolution.
    pub conv: Conv2d,
    /// Its batch normalisation.
    pub bn: BatchNorm,
}

impl ConvBn {
    /// Builds the pair from a convolution spec.
    pub fn new(spec: ConvSpec, device: &Device) -> Self {
        Self {
            conv: spec.init(device),
            bn: batch_norm(spec.channels[1], device),
        }
    }

    /// `bn(conv(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(crate::learn::fast::conv2d(&self.conv, x))
    }
}

/// Replaces a linear layer's parameters by `U(-bound, bound)` weights and a zero bias.
pub fn reinit_linear_uniform(linear: &mut burn::nn::Linear, bound: f64, device: &Device) {
    let [d_in, d_out] = linear.weight.lazy_shape().dims();
    linear.weight = Initializer::Uniform {
        min: -bound,
        max: bound,
    }
    .init([d_in, d_out], device);
    linear.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
}
