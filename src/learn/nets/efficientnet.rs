//! EfficientNet-B1 as torchvision defines it (`efficientnet_b1`: width 1.0, depth 1.1, dropout
//! 0.2, stochastic depth 0.2, SiLU, BatchNorm ε = 1e-5), with a configurable number of input
//! channels and outputs. Its trainable-parameter count (7 794 184 for 3 inputs / 1000 classes)
//! equals Keras's `EfficientNetB1`.
//!
//! Initialisation follows torchvision: convolutions `kaiming_normal_(mode="fan_out")` with zero
//! biases, BatchNorm γ = 1, β = 0, classifier U(±1/√out_features) with zero bias.

use burn::module::{Flag, Param};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::silu;

use crate::learn::model_error::ModelError;
use crate::learn::nets::squeeze_excitation::{SqueezeActivation, SqueezeExcitation};
use crate::learn::nets::torch_layers::{ConvBn, ConvSpec, reinit_linear_uniform};

/// One stage of the B0 baseline: (expand ratio, kernel, stride, in, out, layers).
type StageSpec = (usize, usize, usize, usize, usize, usize);

/// torchvision's B0 stage table (before width/depth scaling).
const B0_STAGES: [StageSpec; 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// Channels are rounded to multiples of this (`_make_divisible`).
const CHANNEL_DIVISOR: usize = 8;

/// torchvision's `_make_divisible(value, 8)`: nearest multiple of 8, never below 8 nor more than
/// 10 % below `value`.
fn make_divisible(value: f64) -> usize {
    let divisor = CHANNEL_DIVISOR as f64;
    let rounded = (((value + divisor / 2.0) / divisor).floor() * divisor).max(divisor);
    let rounded = if rounded < 0.9 * value {
        rounded + divisor
    } else {
        rounded
    };
    rounded as usize
}

/// Architecture of an [`EfficientNet`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EfficientNetConfig {
    /// Channel multiplier.
    pub width_mult: f64,
    /// Layer-count multiplier.
    pub depth_mult: f64,
    /// Dropout before the classifier.
    pub dropout: f64,
    /// Final stochastic-depth drop probability (linearly ramped over the blocks).
    pub stochastic_depth: f64,
    /// Input channels.
    pub in_channels: usize,
    /// Outputs of the classifier.
    pub num_outputs: usize,
}

impl EfficientNetConfig {
    /// torchvision `efficientnet_b1`.
    pub fn efficientnet_b1(in_channels: usize, num_outputs: usize) -> Self {
        Self {
            width_mult: 1.0,
            depth_mult: 1.1,
            dropout: 0.2,
            stochastic_depth: 0.2,
            in_channels,
            num_outputs,
        }
    }

    /// Builds the network (parameters initialise lazily from the device RNG).
    pub fn init(&self, device: &Device) -> Result<EfficientNet, ModelError> {
        let probabilities_ok =
            (0.0..1.0).contains(&self.dropout) && (0.0..1.0).contains(&self.stochastic_depth);
        if self.in_channels == 0
            || self.num_outputs == 0
            || !(self.width_mult > 0.0 && self.depth_mult > 0.0)
            || !probabilities_ok
        {
            return Err(ModelError::InvalidConfig(format!(
                "EfficientNet: invalid configuration {self:?}"
            )));
        }
        let width = |channels: usize| make_divisible(channels as f64 * self.width_mult);
        let depth = |layers: usize| (layers as f64 * self.depth_mult).ceil() as usize;
        let total_blocks: usize = B0_STAGES.iter().map(|stage| depth(stage.5)).sum();
        let stem_channels = width(B0_STAGES[0].3);
        let stem = ConvBn::new(
            ConvSpec::new([self.in_channels, stem_channels], 3, 2),
            device,
        );
        let mut blocks = Vec::with_capacity(total_blocks);
        for &(expand, kernel, stride, c_in, c_out, layers) in &B0_STAGES {
            for layer in 0..depth(layers) {
                let (block_in, block_stride) = if layer == 0 {
                    (width(c_in), stride)
                } else {
                    (width(c_out), 1)
                };
                let drop = self.stochastic_depth * blocks.len() as f64 / total_blocks as f64;
                blocks.push(MbConv::new(
                    MbConvSpec {
                        expand,
                        kernel,
                        stride: block_stride,
                        channels: [block_in, width(c_out)],
                        drop,
                    },
                    device,
                ));
            }
        }
        let last_in = width(B0_STAGES[B0_STAGES.len() - 1].4);
        let last_out = 4 * last_in;
        let mut classifier = LinearConfig::new(last_out, self.num_outputs).init(device);
        reinit_linear_uniform(
            &mut classifier,
            1.0 / (self.num_outputs as f64).sqrt(),
            device,
        );
        Ok(EfficientNet {
            stem,
            blocks,
            head: ConvBn::new(ConvSpec::new([last_in, last_out], 1, 1), device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier,
        })
    }
}

/// Hyper-parameters of one MBConv block.
#[derive(Clone, Copy, Debug, PartialEq)]
struct MbConvSpec {
    expand: usize,
    kernel: usize,
    stride: usize,
    channels: [usize; 2],
    drop: f64,
}

/// Drops the whole residual branch of a sample with probability `prob` during training and
/// rescales survivors by 1/(1 − prob) (torchvision `StochasticDepth(p, "row")`).
#[derive(Module, Debug)]
pub struct StochasticDepth {
    /// Drop probability.
    prob: f64,
    /// Whether the layer takes part in training (as burn's `Dropout`).
    training: Param<Flag>,
}

impl StochasticDepth {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if !self.training.is_enabled() || !x.device().is_autodiff() || self.prob == 0.0 {
            return x;
        }
        let survival = 1.0 - self.prob;
        let [batch, _, _, _] = x.dims();
        let keep = Tensor::<4>::random(
            [batch, 1, 1, 1],
            Distribution::Bernoulli(survival),
            &x.device(),
        );
        x * keep.div_scalar(survival)
    }
}

/// Inverted residual block: 1×1 expand (SiLU) → k×k depthwise (SiLU) → SE → 1×1 project, with a
/// stochastic-depth identity shortcut when the shape is kept.
#[derive(Module, Debug)]
pub struct MbConv {
    /// Absent when the expand ratio is 1.
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    squeeze_excitation: SqueezeExcitation,
    project: ConvBn,
    /// Present when stride is 1 and channels are kept.
    residual: Option<StochasticDepth>,
}

impl MbConv {
    fn new(spec: MbConvSpec, device: &Device) -> Self {
        let [c_in, c_out] = spec.channels;
        let expanded = make_divisible((c_in * spec.expand) as f64);
        let expand =
            (expanded != c_in).then(|| ConvBn::new(ConvSpec::new([c_in, expanded], 1, 1), device));
        let depthwise = ConvBn::new(
            ConvSpec::new([expanded, expanded], spec.kernel, spec.stride).groups(expanded),
            device,
        );
        let squeezed = (c_in / 4).max(1);
        let residual = (spec.stride == 1 && c_in == c_out).then(|| StochasticDepth {
            prob: spec.drop,
            training: Param::from_bool(true),
        });
        Self {
            expand,
            depthwise,
            squeeze_excitation: SqueezeExcitation::new(
                expanded,
                squeezed,
                SqueezeActivation::Silu,
                device,
            ),
            project: ConvBn::new(ConvSpec::new([expanded, c_out], 1, 1), device),
            residual,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut out = x.clone();
        if let Some(expand) = &self.expand {
            out = silu(expand.forward(out));
        }
        let out = silu(self.depthwise.forward(out));
        let out = self.project.forward(self.squeeze_excitation.forward(out));
        match &self.residual {
            Some(stochastic_depth) => stochastic_depth.forward(out) + x,
            None => out,
        }
    }
}

/// torchvision-style EfficientNet.
#[derive(Module, Debug)]
pub struct EfficientNet {
    /// 3×3 stride-2 convolution + BN (+ SiLU).
    stem: ConvBn,
    blocks: Vec<MbConv>,
    /// 1×1 convolution to 4× channels + BN (+ SiLU).
    head: ConvBn,
    pool: AdaptiveAvgPool2d,
    dropout: Dropout,
    classifier: Linear,
}

impl EfficientNet {
    /// Maps `[batch, in_channels, h, w]` to `[batch, num_outputs]` (no output activation).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = silu(self.stem.forward(x));
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        let x = silu(self.head.forward(x));
        let x: Tensor<2> = self.pool.forward(x).flatten(1, 3);
        self.classifier.forward(self.dropout.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};

    #[test]
    fn make_divisible_matches_torchvision() {
        assert_eq!(make_divisible(32.0), 32);
        assert_eq!(make_divisible(16.0 * 6.0), 96);
        assert_eq!(make_divisible(3.0), 8);
        // round to the nearest multiple of 8: 39.6 → 40, 50.4 → 48
        assert_eq!(make_divisible(39.6), 40);
        assert_eq!(make_divisible(50.4), 48);
    }

    #[test]
    fn torchvision_parameter_count_with_rgb_input_and_1000_classes() {
        let model = EfficientNetConfig::efficientnet_b1(3, 1000)
            .init(&Device::flex())
            .expect("valid");
        assert_eq!(model.blocks.len(), 23);
        assert_eq!(trainable_params(&model), 7_794_184);
    }

    #[test]
    fn parameter_count_with_two_inputs_and_five_outputs() {
        let model = EfficientNetConfig::efficientnet_b1(2, 5)
            .init(&Device::flex())
            .expect("valid");
        // 7 794 184 − 3·3·32 (stem) − (1280·1000 + 1000) + (1280·5 + 5)
        assert_eq!(trainable_params(&model), 6_519_301);
    }

    #[test]
    fn forward_shape_in_inference_and_training() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(29);
        let model = EfficientNetConfig::efficientnet_b1(2, 5)
            .init(&device)
            .expect("valid");
        let x = Tensor::<4>::random([1, 2, 64, 64], Distribution::Default, &device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [1, 5]);
        assert!(to_vec(y).iter().all(|v| v.is_finite()));
        // on the autodiff device dropout and stochastic depth are active
        let train_device = device.autodiff();
        let model = EfficientNetConfig::efficientnet_b1(2, 5)
            .init(&train_device)
            .expect("valid");
        let x = Tensor::<4>::random([2, 2, 64, 64], Distribution::Default, &train_device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [2, 5]);
        assert!(to_vec(y.inner()).iter().all(|v| v.is_finite()));
    }
}
