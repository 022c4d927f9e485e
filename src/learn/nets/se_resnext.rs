//! SE-ResNeXt-50 (32×4d) (Hu et al.; Pollok et al.'s "SEResNeXt-50"): the torchvision ResNeXt-50
//! 32×4d with a squeeze-and-excitation block (ReLU, reduction 16, 1×1 convolutions with bias) on
//! every bottleneck's residual branch before the addition — the layout of Cadene's
//! `pretrainedmodels.se_resnext50_32x4d` and timm's `seresnext50_32x4d` (27 559 896 parameters
//! for 3 inputs / 1000 classes).
//!
//! Differences from Cadene's code that change no parameter: the stem max pool is torchvision's
//! (3×3, stride 2, padding 1; Cadene uses padding 0 with `ceil_mode`, same 56×56 output at 224²)
//! and the head pools adaptively (Cadene: fixed 7×7 average pool, which only fits 224² inputs).

use crate::learn::nets::resnet::ResNetConfig;

impl ResNetConfig {
    /// SE-ResNeXt-50 32×4d with `in_channels` inputs and `num_outputs` outputs.
    pub fn se_resnext50_32x4d(in_channels: usize, num_outputs: usize) -> Self {
        Self {
            squeeze_excitation: true,
            ..Self::resnext50_32x4d(in_channels, num_outputs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    #[test]
    fn reference_parameter_count_with_rgb_input_and_1000_classes() {
        let model = ResNetConfig::se_resnext50_32x4d(3, 1000)
            .init(&Device::flex())
            .expect("valid");
        assert_eq!(trainable_params(&model), 27_559_896);
    }

    #[test]
    fn parameter_count_with_two_inputs_and_five_outputs() {
        let model = ResNetConfig::se_resnext50_32x4d(2, 5)
            .init(&Device::flex())
            .expect("valid");
        // 27 559 896 − 7·7·64 (conv1) − (2048·1000 + 1000) + (2048·5 + 5)
        assert_eq!(trainable_params(&model), 25_518_005);
    }

    #[test]
    fn forward_shape() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(19);
        let model = ResNetConfig::se_resnext50_32x4d(2, 5)
            .init(&device)
            .expect("valid");
        let x = Tensor::<4>::random([1, 2, 64, 64], Distribution::Default, &device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [1, 5]);
        assert!(to_vec(y).iter().all(|v| v.is_finite()));
    }
}
