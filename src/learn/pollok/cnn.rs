//! The CNNs Pollok et al. compare for inverse magnet design: two field channels (H_x, H_y) in,
//! five design parameters (x, y, a, M_x, M_y) out, trained with an RMSE loss.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::nets::densenet::{DenseNet, DenseNetConfig};
use crate::learn::nets::efficientnet::{EfficientNet, EfficientNetConfig};
use crate::learn::nets::inception_resnet_v2::InceptionResNetV2;
use crate::learn::nets::resnet::{ResNet, ResNetConfig};

/// Input channels: the in-plane field components (H_x, H_y).
pub const FIELD_CHANNELS: usize = 2;
/// Outputs: the design vector (x, y, a, M_x, M_y).
pub const DESIGN_PARAMETERS: usize = 5;

/// One of the torchvision/timm architectures of Pollok et al., Table I.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Architecture {
    /// ResNet-18 (not in the paper's table; a small member of the family for quick runs).
    #[serde(rename = "resnet18")]
    ResNet18,
    /// ResNet-50.
    #[serde(rename = "resnet50")]
    ResNet50,
    /// ResNeXt-50 (32×4d).
    #[serde(rename = "resnext50_32x4d")]
    ResNeXt50,
    /// SE-ResNeXt-50 (32×4d).
    #[serde(rename = "se_resnext50_32x4d")]
    SeResNeXt50,
    /// DenseNet-169.
    #[serde(rename = "densenet169")]
    DenseNet169,
    /// EfficientNet-B1 (dropout 0.2, stochastic depth 0.2 while training).
    #[serde(rename = "efficientnet_b1")]
    EfficientNetB1,
    /// Inception-ResNet-v2 (timm; the paper trains it on 299×299 maps, at least 75×75).
    #[serde(rename = "inception_resnet_v2")]
    InceptionResNetV2,
}

impl Architecture {
    /// Every supported architecture.
    pub const ALL: [Self; 7] = [
        Self::ResNet18,
        Self::ResNet50,
        Self::ResNeXt50,
        Self::SeResNeXt50,
        Self::DenseNet169,
        Self::EfficientNetB1,
        Self::InceptionResNetV2,
    ];

    /// The torchvision-style name used in manifests (`resnet50`, `resnext50_32x4d`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::ResNet18 => "resnet18",
            Self::ResNet50 => "resnet50",
            Self::ResNeXt50 => "resnext50_32x4d",
            Self::SeResNeXt50 => "se_resnext50_32x4d",
            Self::DenseNet169 => "densenet169",
            Self::EfficientNetB1 => "efficientnet_b1",
            Self::InceptionResNetV2 => "inception_resnet_v2",
        }
    }

    /// Whether the training forward pass draws random numbers (dropout, stochastic depth).
    pub fn has_stochastic_layers(self) -> bool {
        self == Self::EfficientNetB1
    }

    /// Builds the 2-in, 5-out network on `device`. Parameters are lazy and draw from the device
    /// RNG on first use: see [`crate::learn::device_rng::init_seeded`].
    pub fn init(self, device: &Device) -> Result<InverseCnn, LearnError> {
        let (c, n) = (FIELD_CHANNELS, DESIGN_PARAMETERS);
        let model = match self {
            Self::ResNet18 => ResNetConfig::resnet18(c, n)
                .init(device)
                .map(InverseCnn::ResNet),
            Self::ResNet50 => ResNetConfig::resnet50(c, n)
                .init(device)
                .map(InverseCnn::ResNet),
            Self::ResNeXt50 => ResNetConfig::resnext50_32x4d(c, n)
                .init(device)
                .map(InverseCnn::ResNet),
            Self::SeResNeXt50 => ResNetConfig::se_resnext50_32x4d(c, n)
                .init(device)
                .map(InverseCnn::ResNet),
            Self::DenseNet169 => DenseNetConfig::densenet169(c, n)
                .init(device)
                .map(InverseCnn::DenseNet),
            Self::EfficientNetB1 => EfficientNetConfig::efficientnet_b1(c, n)
                .init(device)
                .map(InverseCnn::EfficientNet),
            Self::InceptionResNetV2 => {
                InceptionResNetV2::new(c, n, device).map(InverseCnn::InceptionResNet)
            }
        };
        model.map_err(|e| LearnError::InvalidConfig(e.to_string()))
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = LearnError;

    /// Parses the names of [`Architecture::name`] (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|arch| arch.name() == wanted)
            .ok_or_else(|| {
                LearnError::InvalidConfig(format!(
                    "unknown architecture `{s}` (expected one of: {})",
                    Self::ALL.map(Self::name).join(", ")
                ))
            })
    }
}

/// A built inverse-design network of any supported architecture.
// burn 0.22 implements `Module` for neither `Box` nor `Arc`; one network per value, so the
// inline size difference of the variants is immaterial.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum InverseCnn {
    /// ResNet-18/50, ResNeXt-50 or SE-ResNeXt-50.
    ResNet(ResNet),
    /// DenseNet-169.
    DenseNet(DenseNet),
    /// EfficientNet-B1.
    EfficientNet(EfficientNet),
    /// Inception-ResNet-v2.
    InceptionResNet(InceptionResNetV2),
}

impl InverseCnn {
    /// Maps field maps `[batch, 2, h, w]` to design vectors `[batch, 5]`. BatchNorm uses batch
    /// statistics (and updates its running ones) on an autodiff device with training enabled,
    /// the running statistics otherwise (after `valid()`).
    pub fn forward(&self, fields: Tensor<4>) -> Tensor<2> {
        match self {
            Self::ResNet(net) => net.forward(fields),
            Self::DenseNet(net) => net.forward(fields),
            Self::EfficientNet(net) => net.forward(fields),
            Self::InceptionResNet(net) => net.forward(fields),
        }
    }
}

/// Mean squared error over all elements of `[batch, targets]` (shape `[1]`).
pub fn mse_loss(predictions: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (predictions - targets).powi_scalar(2).mean()
}

/// Pollok et al.'s loss: √(mean over the batch and the 5 targets of the squared error).
pub fn rmse_loss(predictions: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    mse_loss(predictions, targets).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for arch in Architecture::ALL {
            assert_eq!(arch.name().parse::<Architecture>().ok(), Some(arch));
            let json = serde_json::to_string(&arch).expect("serialise");
            assert_eq!(json, format!("\"{}\"", arch.name()));
            let back: Architecture = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, arch);
        }
        assert_eq!(
            " ResNeXt50_32x4d ".parse::<Architecture>().ok(),
            Some(Architecture::ResNeXt50)
        );
        assert_eq!(
            "inception_resnet_v2".parse::<Architecture>().ok(),
            Some(Architecture::InceptionResNetV2)
        );
        assert!("inception_v4".parse::<Architecture>().is_err());
    }

    #[test]
    fn rmse_loss_of_known_errors() {
        let device = Device::flex();
        let tensor = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [2, 2]), &device);
        // errors 1, −1, 2, 0 → MSE (1 + 1 + 4 + 0) / 4 = 1.5
        let loss = rmse_loss(
            tensor(vec![1.0, 0.0, 3.0, 5.0]),
            tensor(vec![0.0, 1.0, 1.0, 5.0]),
        );
        let value = loss.into_scalar::<f32>();
        assert!((value - 1.5f32.sqrt()).abs() < 1e-7, "{value}");
    }
}
