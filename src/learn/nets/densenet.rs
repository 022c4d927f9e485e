//! DenseNet-169 as torchvision defines it (`densenet169`: growth 32, blocks [6, 12, 32, 32],
//! 64 initial features, bottleneck width 4·growth, compression 0.5, no dropout), with a
//! configurable number of input channels and outputs.
//!
//! Initialisation follows torchvision: convolutions `kaiming_normal_` (mode fan_in), BatchNorm
//! γ = 1, β = 0, classifier weight PyTorch default U(±1/√fan_in) and bias zero.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d,
    MaxPool2dConfig,
};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::learn::model_error::ModelError;
use crate::learn::nets::torch_layers::{ConvSpec, Fan, batch_norm};

/// Architecture of a [`DenseNet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseNetConfig {
    /// Feature maps added by each dense layer (k).
    pub growth_rate: usize,
    /// Dense layers per block.
    pub block_layers: [usize; 4],
    /// Channels of the stem convolution.
    pub initial_features: usize,
    /// Width of a dense layer's 1×1 bottleneck, in units of the growth rate.
    pub bottleneck_factor: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Outputs of the classifier.
    pub num_outputs: usize,
}

impl DenseNetConfig {
    /// torchvision `densenet169`.
    pub fn densenet169(in_channels: usize, num_outputs: usize) -> Self {
        Self {
            growth_rate: 32,
            block_layers: [6, 12, 32, 32],
            initial_features: 64,
            bottleneck_factor: 4,
            in_channels,
            num_outputs,
        }
    }

    /// Builds the network (parameters initialise lazily from the device RNG).
    pub fn init(&self, device: &Device) -> Result<DenseNet, ModelError> {
        if [
            self.growth_rate,
            self.initial_features,
            self.bottleneck_factor,
            self.in_channels,
            self.num_outputs,
        ]
        .contains(&0)
            || self.block_layers.contains(&0)
        {
            return Err(ModelError::InvalidConfig(format!(
                "DenseNet: all sizes must be positive ({self:?})"
            )));
        }
        let conv = |spec: ConvSpec| spec.fan(Fan::In).init(device);
        let mut features = self.initial_features;
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for (index, &layers) in self.block_layers.iter().enumerate() {
            let bottleneck = self.bottleneck_factor * self.growth_rate;
            let block = (0..layers)
                .map(|layer| {
                    let c_in = features + layer * self.growth_rate;
                    DenseLayer {
                        norm1: batch_norm(c_in, device),
                        conv1: conv(ConvSpec::new([c_in, bottleneck], 1, 1)),
                        norm2: batch_norm(bottleneck, device),
                        conv2: conv(ConvSpec::new([bottleneck, self.growth_rate], 3, 1)),
                    }
                })
                .collect();
            blocks.push(DenseBlock { layers: block });
            features += layers * self.growth_rate;
            if index + 1 < self.block_layers.len() {
                transitions.push(Transition {
                    norm: batch_norm(features, device),
                    conv: conv(ConvSpec::new([features, features / 2], 1, 1)),
                    pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
                });
                features /= 2;
            }
        }
        let mut classifier = LinearConfig::new(features, self.num_outputs).init(device);
        classifier.bias = Some(burn::module::Param::from_tensor(Tensor::zeros(
            [self.num_outputs],
            device,
        )));
        Ok(DenseNet {
            conv0: conv(ConvSpec::new(
                [self.in_channels, self.initial_features],
                7,
                2,
            )),
            norm0: batch_norm(self.initial_features, device),
            pool0: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks,
            transitions,
            norm5: batch_norm(features, device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            classifier,
        })
    }
}

/// BN → ReLU → 1×1 conv → BN → ReLU → 3×3 conv, producing `growth_rate` new maps.
#[derive(Module, Debug)]
pub struct DenseLayer {
    norm1: BatchNorm,
    conv1: Conv2d,
    norm2: BatchNorm,
    conv2: Conv2d,
}

impl DenseLayer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv1.forward(relu(self.norm1.forward(x)));
        self.conv2.forward(relu(self.norm2.forward(x)))
    }
}

/// Dense layers, each seeing the concatenation of the block input and all earlier outputs.
#[derive(Module, Debug)]
pub struct DenseBlock {
    layers: Vec<DenseLayer>,
}

impl DenseBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.layers.iter().fold(x, |features, layer| {
            let new = layer.forward(features.clone());
            Tensor::cat(vec![features, new], 1)
        })
    }
}

/// BN → ReLU → 1×1 conv (halving the channels) → 2×2 average pool.
#[derive(Module, Debug)]
pub struct Transition {
    norm: BatchNorm,
    conv: Conv2d,
    pool: AvgPool2d,
}

impl Transition {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool
            .forward(self.conv.forward(relu(self.norm.forward(x))))
    }
}

/// torchvision-style DenseNet.
#[derive(Module, Debug)]
pub struct DenseNet {
    /// 7×7 stride-2 stem convolution.
    conv0: Conv2d,
    norm0: BatchNorm,
    /// 3×3 stride-2 max pool, padding 1.
    pool0: MaxPool2d,
    blocks: Vec<DenseBlock>,
    /// One fewer than the blocks.
    transitions: Vec<Transition>,
    norm5: BatchNorm,
    pool: AdaptiveAvgPool2d,
    classifier: Linear,
}

impl DenseNet {
    /// Maps `[batch, in_channels, h, w]` to `[batch, num_outputs]` (no output activation).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self
            .pool0
            .forward(relu(self.norm0.forward(self.conv0.forward(x))));
        for (index, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if let Some(transition) = self.transitions.get(index) {
                x = transition.forward(x);
            }
        }
        let x = relu(self.norm5.forward(x));
        self.classifier.forward(self.pool.forward(x).flatten(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};
    use burn::tensor::Distribution;

    #[test]
    fn torchvision_parameter_count_with_rgb_input_and_1000_classes() {
        let model = DenseNetConfig::densenet169(3, 1000)
            .init(&Device::flex())
            .expect("valid");
        assert_eq!(trainable_params(&model), 14_149_480);
    }

    #[test]
    fn parameter_count_with_two_inputs_and_five_outputs() {
        let model = DenseNetConfig::densenet169(2, 5)
            .init(&Device::flex())
            .expect("valid");
        // 14 149 480 − 7·7·64 (conv0) − (1664·1000 + 1000) + (1664·5 + 5)
        assert_eq!(trainable_params(&model), 12_489_669);
    }

    #[test]
    fn forward_shape() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(23);
        let model = DenseNetConfig::densenet169(2, 5)
            .init(&device)
            .expect("valid");
        let x = Tensor::<4>::random([1, 2, 64, 64], Distribution::Default, &device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [1, 5]);
        assert!(to_vec(y).iter().all(|v| v.is_finite()));
    }
}
