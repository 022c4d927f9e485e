//! Inception-ResNet-v2 as timm defines it (`timm/models/inception_resnet_v2.py`, after Szegedy
//! et al. 2016), with a configurable number of input channels and outputs (Pollok et al.: 2
//! field components in, 5 design parameters out; the paper feeds it 299×299 maps).
//!
//! timm leaves every layer at PyTorch's default initialisation, which burn's defaults equal:
//! convolution and linear weights and biases U(±1/√fan_in), BatchNorm γ = 1, β = 0 (ε = 0.001
//! as in timm's `BasicConv2d`). Valid for inputs of at least 75×75 pixels.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d,
    MaxPool2dConfig,
};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::learn::model_error::ModelError;

/// BatchNorm ε of timm's `BasicConv2d`.
const BN_EPSILON: f64 = 1e-3;
/// Residual scales of the three repeated block types (timm: 0.17, 0.10, 0.20).
const SCALES: [f64; 3] = [0.17, 0.10, 0.20];
/// Repeats of Block35, Block17 and Block8 (the last Block8 without ReLU comes on top).
const REPEATS: [usize; 3] = [10, 20, 9];
/// Channels after the final 1×1 convolution.
const FEATURES: usize = 1536;

/// timm's `BasicConv2d`: bias-free convolution, BatchNorm (ε = 0.001), ReLU.
#[derive(Module, Debug)]
pub struct BasicConv {
    conv: Conv2d,
    bn: BatchNorm,
}

impl BasicConv {
    /// `[in, out]` channels, `[kh, kw]` kernel, stride, `[ph, pw]` zero padding.
    fn new(
        channels: [usize; 2],
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 2],
        device: &Device,
    ) -> Self {
        let [ph, pw] = padding;
        Self {
            conv: Conv2dConfig::new(channels, kernel)
                .with_stride([stride; 2])
                .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels[1])
                .with_epsilon(BN_EPSILON)
                .init(device),
        }
    }

    /// A square `k×k` convolution with padding `p`.
    fn square(c_in: usize, c_out: usize, k: usize, stride: usize, p: usize, d: &Device) -> Self {
        Self::new([c_in, c_out], [k, k], stride, [p, p], d)
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// Convolutions applied in sequence.
fn chain(convs: &[BasicConv], x: Tensor<4>) -> Tensor<4> {
    convs.iter().fold(x, |x, conv| conv.forward(x))
}

/// A 1×1 convolution with bias (the residual projection of the Inception-ResNet blocks).
fn projection(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [1, 1]).init(device)
}

fn max_pool() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}

/// Mixed_5b: 192 → 320 channels, four branches.
#[derive(Module, Debug)]
pub struct Mixed5b {
    branch0: BasicConv,
    branch1: Vec<BasicConv>,
    branch2: Vec<BasicConv>,
    pool: AvgPool2d,
    branch3: BasicConv,
}

impl Mixed5b {
    fn new(d: &Device) -> Self {
        Self {
            branch0: BasicConv::square(192, 96, 1, 1, 0, d),
            branch1: vec![
                BasicConv::square(192, 48, 1, 1, 0, d),
                BasicConv::square(48, 64, 5, 1, 2, d),
            ],
            branch2: vec![
                BasicConv::square(192, 64, 1, 1, 0, d),
                BasicConv::square(64, 96, 3, 1, 1, d),
                BasicConv::square(96, 96, 3, 1, 1, d),
            ],
            pool: AvgPool2dConfig::new([3, 3])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(false)
                .init(),
            branch3: BasicConv::square(192, 64, 1, 1, 0, d),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.branch0.forward(x.clone()),
                chain(&self.branch1, x.clone()),
                chain(&self.branch2, x.clone()),
                self.branch3.forward(self.pool.forward(x)),
            ],
            1,
        )
    }
}

/// Which of the three residual Inception blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// Block35 (35×35 grid at 299 input): 320 channels.
    A,
    /// Block17: 1088 channels, 1×7 / 7×1 factorised convolutions.
    B,
    /// Block8: 2080 channels, 1×3 / 3×1 factorised convolutions.
    C,
}

/// Block35, Block17 or Block8: relu?(x + scale · proj(concat(branches(x)))).
#[derive(Module, Debug)]
pub struct ResidualInception {
    branches: Vec<Vec<BasicConv>>,
    projection: Conv2d,
    scale: f64,
    with_relu: bool,
}

impl ResidualInception {
    fn new(kind: BlockKind, scale: f64, with_relu: bool, d: &Device) -> Self {
        let (branches, concat, channels) = match kind {
            BlockKind::A => (
                vec![
                    vec![BasicConv::square(320, 32, 1, 1, 0, d)],
                    vec![
                        BasicConv::square(320, 32, 1, 1, 0, d),
                        BasicConv::square(32, 32, 3, 1, 1, d),
                    ],
                    vec![
                        BasicConv::square(320, 32, 1, 1, 0, d),
                        BasicConv::square(32, 48, 3, 1, 1, d),
                        BasicConv::square(48, 64, 3, 1, 1, d),
                    ],
                ],
                128,
                320,
            ),
            BlockKind::B => (
                vec![
                    vec![BasicConv::square(1088, 192, 1, 1, 0, d)],
                    vec![
                        BasicConv::square(1088, 128, 1, 1, 0, d),
                        BasicConv::new([128, 160], [1, 7], 1, [0, 3], d),
                        BasicConv::new([160, 192], [7, 1], 1, [3, 0], d),
                    ],
                ],
                384,
                1088,
            ),
            BlockKind::C => (
                vec![
                    vec![BasicConv::square(2080, 192, 1, 1, 0, d)],
                    vec![
                        BasicConv::square(2080, 192, 1, 1, 0, d),
                        BasicConv::new([192, 224], [1, 3], 1, [0, 1], d),
                        BasicConv::new([224, 256], [3, 1], 1, [1, 0], d),
                    ],
                ],
                448,
                2080,
            ),
        };
        Self {
            branches,
            projection: projection(concat, channels, d),
            scale,
            with_relu,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mixed = Tensor::cat(
            self.branches
                .iter()
                .map(|branch| chain(branch, x.clone()))
                .collect(),
            1,
        );
        let out = self.projection.forward(mixed).mul_scalar(self.scale) + x;
        if self.with_relu { relu(out) } else { out }
    }
}

/// Mixed_6a (320 → 1088) or Mixed_7a (1088 → 2080): strided convolution branches beside a
/// 3×3/2 max pool.
#[derive(Module, Debug)]
pub struct Reduction {
    branches: Vec<Vec<BasicConv>>,
    pool: MaxPool2d,
}

impl Reduction {
    fn mixed_6a(d: &Device) -> Self {
        Self {
            branches: vec![
                vec![BasicConv::square(320, 384, 3, 2, 0, d)],
                vec![
                    BasicConv::square(320, 256, 1, 1, 0, d),
                    BasicConv::square(256, 256, 3, 1, 1, d),
                    BasicConv::square(256, 384, 3, 2, 0, d),
                ],
            ],
            pool: max_pool(),
        }
    }

    fn mixed_7a(d: &Device) -> Self {
        Self {
            branches: vec![
                vec![
                    BasicConv::square(1088, 256, 1, 1, 0, d),
                    BasicConv::square(256, 384, 3, 2, 0, d),
                ],
                vec![
                    BasicConv::square(1088, 256, 1, 1, 0, d),
                    BasicConv::square(256, 288, 3, 2, 0, d),
                ],
                vec![
                    BasicConv::square(1088, 256, 1, 1, 0, d),
                    BasicConv::square(256, 288, 3, 1, 1, d),
                    BasicConv::square(288, 320, 3, 2, 0, d),
                ],
            ],
            pool: max_pool(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut parts: Vec<Tensor<4>> = self
            .branches
            .iter()
            .map(|branch| chain(branch, x.clone()))
            .collect();
        parts.push(self.pool.forward(x));
        Tensor::cat(parts, 1)
    }
}

/// timm's `inception_resnet_v2`.
#[derive(Module, Debug)]
pub struct InceptionResNetV2 {
    /// conv2d_1a, 2a, 2b, (max pool), 3b, 4a, (max pool).
    stem: Vec<BasicConv>,
    pool: MaxPool2d,
    mixed_5b: Mixed5b,
    /// 10 × Block35.
    repeat_a: Vec<ResidualInception>,
    mixed_6a: Reduction,
    /// 20 × Block17.
    repeat_b: Vec<ResidualInception>,
    mixed_7a: Reduction,
    /// 9 × Block8 and the final Block8 without ReLU (scale 1).
    repeat_c: Vec<ResidualInception>,
    conv_7b: BasicConv,
    global_pool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl InceptionResNetV2 {
    /// Builds the network for `in_channels` inputs and `num_outputs` outputs (parameters
    /// initialise lazily from the device RNG).
    pub fn new(
        in_channels: usize,
        num_outputs: usize,
        device: &Device,
    ) -> Result<Self, ModelError> {
        if in_channels == 0 || num_outputs == 0 {
            return Err(ModelError::InvalidConfig(format!(
                "Inception-ResNet-v2 needs at least one input channel and one output \
                 ({in_channels} in, {num_outputs} out)"
            )));
        }
        let d = device;
        let stem = vec![
            BasicConv::square(in_channels, 32, 3, 2, 0, d),
            BasicConv::square(32, 32, 3, 1, 0, d),
            BasicConv::square(32, 64, 3, 1, 1, d),
            BasicConv::square(64, 80, 1, 1, 0, d),
            BasicConv::square(80, 192, 3, 1, 0, d),
        ];
        let repeat = |kind, count, scale| {
            (0..count)
                .map(|_| ResidualInception::new(kind, scale, true, d))
                .collect::<Vec<_>>()
        };
        let mut repeat_c = repeat(BlockKind::C, REPEATS[2], SCALES[2]);
        repeat_c.push(ResidualInception::new(BlockKind::C, 1.0, false, d));
        Ok(Self {
            stem,
            pool: max_pool(),
            mixed_5b: Mixed5b::new(d),
            repeat_a: repeat(BlockKind::A, REPEATS[0], SCALES[0]),
            mixed_6a: Reduction::mixed_6a(d),
            repeat_b: repeat(BlockKind::B, REPEATS[1], SCALES[1]),
            mixed_7a: Reduction::mixed_7a(d),
            repeat_c,
            conv_7b: BasicConv::square(2080, FEATURES, 1, 1, 0, d),
            global_pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(FEATURES, num_outputs).init(d),
        })
    }

    /// Maps `[batch, in_channels, h, w]` (h, w ≥ 75) to `[batch, num_outputs]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = chain(&self.stem[..3], x);
        let x = chain(&self.stem[3..], self.pool.forward(x));
        let x = self.mixed_5b.forward(self.pool.forward(x));
        let x = self.repeat_a.iter().fold(x, |x, b| b.forward(x));
        let x = self.mixed_6a.forward(x);
        let x = self.repeat_b.iter().fold(x, |x, b| b.forward(x));
        let x = self.mixed_7a.forward(x);
        let x = self.repeat_c.iter().fold(x, |x, b| b.forward(x));
        let x = self.conv_7b.forward(x);
        self.fc.forward(self.global_pool.forward(x).flatten(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};
    use burn::tensor::Distribution;

    // timm's published total for 3 inputs / 1000 classes is 55 843 464. With 2 inputs and 5
    // outputs: minus 3·3·32 = 288 conv2d_1a weights, head 1536·1000 + 1000 → 1536·5 + 5.
    #[test]
    fn parameter_counts_match_timm() {
        let device = Device::flex();
        let count = |c, n| trainable_params(&InceptionResNetV2::new(c, n, &device).expect("valid"));
        assert_eq!(count(3, 1000), 55_843_464);
        assert_eq!(count(2, 5), 55_843_464 - 288 - 1_537_000 + 7_685);
        assert_eq!(count(2, 5), 54_313_861);
        assert!(InceptionResNetV2::new(0, 5, &device).is_err());
    }

    #[test]
    fn smallest_input_gives_one_finite_row_per_sample() {
        // 75×75 is the smallest map the valid-padded stem and reductions accept (1×1 at the end).
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(3);
        let model = InceptionResNetV2::new(2, 5, &device).expect("valid");
        let x = Tensor::<4>::random([2, 2, 75, 75], Distribution::Default, &device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [2, 5]);
        assert!(to_vec(y).iter().all(|v| v.is_finite()));
    }
}
