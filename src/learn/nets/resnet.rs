//! ResNet-18/50 and ResNeXt-50 (32×4d) as torchvision defines them (v1.5: the stride sits on the
//! 3×3 convolution of a bottleneck), with a configurable number of input channels and outputs
//! (Pollok et al.: 2 field components in, 5 design parameters out). SE-ResNeXt-50 reuses these
//! blocks (see `se_resnext`).
//!
//! Initialisation follows torchvision: convolutions `kaiming_normal_(mode="fan_out")`, BatchNorm
//! γ = 1, β = 0, the final `Linear` with PyTorch's default U(±1/√fan_in) (burn's default too).

use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::learn::model_error::ModelError;
use crate::learn::nets::squeeze_excitation::{SqueezeActivation, SqueezeExcitation};
use crate::learn::nets::torch_layers::{ConvBn, ConvSpec};

/// Channels of the stem convolution.
const STEM_CHANNELS: usize = 64;
/// Base widths (`planes`) of the four stages.
const STAGE_PLANES: [usize; 4] = [64, 128, 256, 512];
/// Channel expansion of a bottleneck block.
const BOTTLENECK_EXPANSION: usize = 4;
/// Squeeze ratio of the SE blocks of SE-ResNeXt (channels / 16).
const SE_REDUCTION: usize = 16;

/// Residual block type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3×3 convolutions (ResNet-18/34).
    Basic,
    /// 1×1 → 3×3 (grouped) → 1×1 with 4× expansion (ResNet-50, ResNeXt).
    Bottleneck,
}

/// Architecture of a [`ResNet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResNetConfig {
    /// Block type.
    pub block: BlockKind,
    /// Blocks per stage.
    pub stage_depths: [usize; 4],
    /// Groups of the 3×3 bottleneck convolution (ResNeXt cardinality).
    pub groups: usize,
    /// Width per group (64 for ResNet, 4 for ResNeXt 32×4d).
    pub width_per_group: usize,
    /// Whether bottlenecks end with a squeeze-and-excitation block (SE-ResNeXt).
    pub squeeze_excitation: bool,
    /// Input channels (3 for RGB; 2 for the (H_x, H_y) field maps).
    pub in_channels: usize,
    /// Outputs of the final linear layer.
    pub num_outputs: usize,
}

impl ResNetConfig {
    /// torchvision `resnet18`: basic blocks [2, 2, 2, 2].
    pub fn resnet18(in_channels: usize, num_outputs: usize) -> Self {
        Self {
            block: BlockKind::Basic,
            stage_depths: [2, 2, 2, 2],
            groups: 1,
            width_per_group: 64,
            squeeze_excitation: false,
            in_channels,
            num_outputs,
        }
    }

    /// torchvision `resnet50`: bottlenecks [3, 4, 6, 3].
    pub fn resnet50(in_channels: usize, num_outputs: usize) -> Self {
        Self {
            block: BlockKind::Bottleneck,
            stage_depths: [3, 4, 6, 3],
            ..Self::resnet18(in_channels, num_outputs)
        }
    }

    /// torchvision `resnext50_32x4d`: bottlenecks [3, 4, 6, 3], 32 groups of width 4.
    pub fn resnext50_32x4d(in_channels: usize, num_outputs: usize) -> Self {
        Self {
            groups: 32,
            width_per_group: 4,
            ..Self::resnet50(in_channels, num_outputs)
        }
    }

    /// Builds the network (parameters initialise lazily from the device RNG).
    pub fn init(&self, device: &Device) -> Result<ResNet, ModelError> {
        self.validate()?;
        let stem = ConvBn::new(
            ConvSpec::new([self.in_channels, STEM_CHANNELS], 7, 2),
            device,
        );
        let mut blocks = Vec::new();
        let mut in_planes = STEM_CHANNELS;
        for (stage, (&planes, &depth)) in STAGE_PLANES.iter().zip(&self.stage_depths).enumerate() {
            for index in 0..depth {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let block = match self.block {
                    BlockKind::Basic => {
                        ResidualBlock::Basic(BasicBlock::new(in_planes, planes, stride, device))
                    }
                    BlockKind::Bottleneck => ResidualBlock::Bottleneck(Bottleneck::new(
                        self, in_planes, planes, stride, device,
                    )),
                };
                in_planes = block.out_channels();
                blocks.push(block);
            }
        }
        Ok(ResNet {
            stem,
            max_pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(in_planes, self.num_outputs).init(device),
        })
    }

    fn validate(&self) -> Result<(), ModelError> {
        let invalid = |reason: &str| {
            Err(ModelError::InvalidConfig(format!(
                "ResNet: {reason} ({self:?})"
            )))
        };
        if self.in_channels == 0 || self.num_outputs == 0 {
            return invalid("needs at least one input channel and one output");
        }
        if self.groups == 0 || self.width_per_group == 0 || self.stage_depths.contains(&0) {
            return invalid("groups, width per group and stage depths must be positive");
        }
        if self.block == BlockKind::Basic
            && (self.groups != 1 || self.width_per_group != 64 || self.squeeze_excitation)
        {
            return invalid(
                "basic blocks support only groups = 1, width 64, no SE (as torchvision)",
            );
        }
        Ok(())
    }
}

/// Two 3×3 convolutions with an identity (or 1×1 projection) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// 3×3, stride s.
    first: ConvBn,
    /// 3×3.
    second: ConvBn,
    /// 1×1 projection when the shape changes.
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    fn new(in_planes: usize, planes: usize, stride: usize, device: &Device) -> Self {
        Self {
            first: ConvBn::new(ConvSpec::new([in_planes, planes], 3, stride), device),
            second: ConvBn::new(ConvSpec::new([planes, planes], 3, 1), device),
            downsample: projection(in_planes, planes, stride, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.first.forward(x.clone()));
        let out = self.second.forward(out);
        let shortcut = match &self.downsample {
            Some(projection) => projection.forward(x),
            None => x,
        };
        relu(out + shortcut)
    }
}

/// 1×1 reduce → 3×3 grouped (stride s) → 1×1 expand (→ SE), plus shortcut.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1×1, in → width.
    reduce: ConvBn,
    /// 3×3 grouped, stride s.
    grouped: ConvBn,
    /// 1×1, width → 4·planes.
    expand: ConvBn,
    /// Squeeze-and-excitation on the residual branch (SE-ResNeXt only).
    squeeze_excitation: Option<SqueezeExcitation>,
    /// 1×1 projection when the shape changes.
    downsample: Option<ConvBn>,
}

impl Bottleneck {
    fn new(
        config: &ResNetConfig,
        in_planes: usize,
        planes: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        // torchvision: width = int(planes · width_per_group / 64) · groups
        let width = planes * config.width_per_group / 64 * config.groups;
        let out = planes * BOTTLENECK_EXPANSION;
        let squeeze_excitation = config.squeeze_excitation.then(|| {
            SqueezeExcitation::new(out, out / SE_REDUCTION, SqueezeActivation::Relu, device)
        });
        Self {
            reduce: ConvBn::new(ConvSpec::new([in_planes, width], 1, 1), device),
            grouped: ConvBn::new(
                ConvSpec::new([width, width], 3, stride).groups(config.groups),
                device,
            ),
            expand: ConvBn::new(ConvSpec::new([width, out], 1, 1), device),
            squeeze_excitation,
            downsample: projection(in_planes, out, stride, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.reduce.forward(x.clone()));
        let out = relu(self.grouped.forward(out));
        let mut out = self.expand.forward(out);
        if let Some(se) = &self.squeeze_excitation {
            out = se.forward(out);
        }
        let shortcut = match &self.downsample {
            Some(projection) => projection.forward(x),
            None => x,
        };
        relu(out + shortcut)
    }
}

/// torchvision's `downsample`: 1×1 conv (stride s) + BN when stride ≠ 1 or channels change.
fn projection(in_planes: usize, out: usize, stride: usize, device: &Device) -> Option<ConvBn> {
    (stride != 1 || in_planes != out)
        .then(|| ConvBn::new(ConvSpec::new([in_planes, out], 1, stride), device))
}

/// One residual block of either kind.
// burn 0.22 implements `Module` for neither `Box` nor `Arc`, and a network holds at most 16
// blocks, so the inline size difference of the variants is immaterial.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// ResNet-18/34 block.
    Basic(BasicBlock),
    /// ResNet-50/ResNeXt block.
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Basic(block) => block.forward(x),
            Self::Bottleneck(block) => block.forward(x),
        }
    }

    fn out_channels(&self) -> usize {
        let last = match self {
            Self::Basic(block) => &block.second,
            Self::Bottleneck(block) => &block.expand,
        };
        last.conv.weight.lazy_shape().dims::<4>()[0]
    }
}

/// A torchvision-style ResNet/ResNeXt: 7×7/2 stem, 3×3/2 max pool, four stages, global average
/// pool, linear head.
#[derive(Module, Debug)]
pub struct ResNet {
    /// conv1 (7×7, stride 2, padding 3) + bn1.
    stem: ConvBn,
    /// 3×3 max pool, stride 2, padding 1.
    max_pool: MaxPool2d,
    /// All residual blocks of the four stages, in order.
    blocks: Vec<ResidualBlock>,
    /// Global average pool.
    pool: AdaptiveAvgPool2d,
    /// Linear head.
    fc: Linear,
}

impl ResNet {
    /// Maps `[batch, in_channels, h, w]` to `[batch, num_outputs]` (no output activation).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.max_pool.forward(relu(self.stem.forward(x)));
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        self.fc.forward(self.pool.forward(x).flatten(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};
    use burn::tensor::Distribution;

    // Expected counts: torchvision's published totals for 3 inputs / 1000 classes (ResNet-18
    // 11 689 512, ResNet-50 25 557 032, ResNeXt-50 32×4d 25 028 904), minus 7·7·64 = 3 136 conv1
    // weights for the lost input channel, with the head replaced: 512·1000+1000 → 512·5+5 or
    // 2048·1000+1000 → 2048·5+5.

    #[test]
    fn resnet18_parameter_count() {
        let model = ResNetConfig::resnet18(2, 5)
            .init(&Device::flex())
            .expect("valid");
        assert_eq!(
            trainable_params(&model),
            11_689_512 - 3_136 - 513_000 + 2_565
        );
        assert_eq!(trainable_params(&model), 11_175_941);
    }

    #[test]
    fn resnet50_parameter_count() {
        let model = ResNetConfig::resnet50(2, 5)
            .init(&Device::flex())
            .expect("valid");
        assert_eq!(
            trainable_params(&model),
            25_557_032 - 3_136 - 2_049_000 + 10_245
        );
        assert_eq!(trainable_params(&model), 23_515_141);
    }

    #[test]
    fn resnext50_parameter_count() {
        let model = ResNetConfig::resnext50_32x4d(2, 5)
            .init(&Device::flex())
            .expect("valid");
        assert_eq!(
            trainable_params(&model),
            25_028_904 - 3_136 - 2_049_000 + 10_245
        );
        assert_eq!(trainable_params(&model), 22_987_013);
    }

    #[test]
    fn torchvision_counts_with_rgb_input_and_1000_classes() {
        let device = Device::flex();
        let count = |config: ResNetConfig| trainable_params(&config.init(&device).expect("valid"));
        assert_eq!(count(ResNetConfig::resnet18(3, 1000)), 11_689_512);
        assert_eq!(count(ResNetConfig::resnet50(3, 1000)), 25_557_032);
        assert_eq!(count(ResNetConfig::resnext50_32x4d(3, 1000)), 25_028_904);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let device = Device::flex();
        assert!(ResNetConfig::resnet18(0, 5).init(&device).is_err());
        assert!(ResNetConfig::resnet50(2, 0).init(&device).is_err());
        let grouped_basic = ResNetConfig {
            groups: 32,
            ..ResNetConfig::resnet18(2, 5)
        };
        assert!(grouped_basic.init(&device).is_err());
    }

    fn output_dims(config: ResNetConfig, batch: usize) -> [usize; 2] {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(17);
        let model = config.init(&device).expect("valid");
        let x = Tensor::<4>::random([batch, 2, 64, 64], Distribution::Default, &device);
        let y = model.forward(x);
        let dims = y.dims();
        assert!(to_vec(y).iter().all(|v| v.is_finite()));
        dims
    }

    #[test]
    fn resnet18_forward_shape() {
        assert_eq!(output_dims(ResNetConfig::resnet18(2, 5), 2), [2, 5]);
    }

    #[test]
    fn resnet50_forward_shape() {
        assert_eq!(output_dims(ResNetConfig::resnet50(2, 5), 1), [1, 5]);
    }

    #[test]
    fn resnext50_forward_shape() {
        assert_eq!(output_dims(ResNetConfig::resnext50_32x4d(2, 5), 1), [1, 5]);
    }
}
