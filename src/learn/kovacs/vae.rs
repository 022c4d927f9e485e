//! Convolutional variational autoencoder of Kovacs et al., Table 1.
//!
//! Encoder: five stride-2 convolutions (4×4 kernel with one pixel of padding on each side —
//! Keras "same" — for the first, 2×2 without padding after; 16, 32, 64, 128, 256 channels,
//! ELU), flatten (256·(S/32)² = 6400 for S = 160), dense 2048 (ELU), then two linear dense
//! heads for the latent mean and log-variance (512 each). Decoder: dense 2048 (ELU), dense
//! 6400 (ELU), reshape to 256×5×5, four 2×2 stride-2 transposed convolutions (128, 64, 32, 16,
//! ELU) and a final 4×4 stride-2 transposed convolution with padding 1 to one channel with
//! tanh. Parameter counts for S = 160, latent 512: encoder 15 382 256, decoder 14 338 801.
//!
//! Layout is burn's NCHW: the flatten order is (channel, row, column) where Keras flattens
//! (row, column, channel); this permutes the dense weights but changes no count or result
//! distribution.
//!
//! Loss, per sample and averaged over the batch, with P = S² pixels:
//! `L = mean_p (x̂ − x)² + β · KL / P`, `KL = −½ Σ_j (1 + log σ²_j − μ²_j − σ²_j)`.
//! With β = 1 this is the usual ELBO of the Keras VAE example (sum of squared errors over
//! pixels + KL) divided by P, which keeps the numbers per pixel; the optimum is the same.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::fast::{self, elu};
use crate::learn::init::keras::keras_init;

/// Channels of the five encoder convolutions (decoder uses them in reverse).
pub const CONV_CHANNELS: [usize; 5] = [16, 32, 64, 128, 256];
/// Width of the dense layer between convolutions and latent heads.
pub const DENSE_UNITS: usize = 2048;

/// Shape of the VAE: square single-channel images of side `input_size`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Image side in pixels; a positive multiple of 32 (160 in the paper).
    pub input_size: usize,
    /// Latent dimension (512 in the paper).
    pub latent_dim: usize,
    /// Weight β of the KL term (see the module docs); 1 gives the per-pixel ELBO.
    pub kl_weight: f64,
}

impl Default for VaeConfig {
    /// The paper's configuration: 160×160 inputs, 512 latent dimensions, β = 1.
    fn default() -> Self {
        Self {
            input_size: 160,
            latent_dim: 512,
            kl_weight: 1.0,
        }
    }
}

impl VaeConfig {
    /// Checks the input size and latent dimension.
    pub fn validate(&self) -> Result<(), LearnError> {
        if self.input_size == 0 || !self.input_size.is_multiple_of(32) {
            return Err(LearnError::InvalidConfig(format!(
                "VAE input size must be a positive multiple of 32, got {}",
                self.input_size
            )));
        }
        if self.latent_dim == 0 {
            return Err(LearnError::InvalidConfig("latent_dim must be >= 1".into()));
        }
        if !(self.kl_weight.is_finite() && self.kl_weight >= 0.0) {
            return Err(LearnError::InvalidConfig(format!(
                "kl_weight must be finite and >= 0, got {}",
                self.kl_weight
            )));
        }
        Ok(())
    }

    /// Side of the bottleneck feature map (input / 32).
    pub fn bottleneck_side(&self) -> usize {
        self.input_size / 32
    }

    /// Length of the flattened bottleneck (256 · side²).
    pub fn flat_dim(&self) -> usize {
        CONV_CHANNELS[4] * self.bottleneck_side().pow(2)
    }

    /// Builds the model on `device` with Keras-default weights drawn from `seed`.
    pub fn init(&self, device: &Device, seed: u64) -> Result<Vae, LearnError> {
        self.validate()?;
        let mut convs = Vec::with_capacity(5);
        let mut in_channels = 1;
        for (i, &out) in CONV_CHANNELS.iter().enumerate() {
            let (kernel, padding) = if i == 0 {
                (4, PaddingConfig2d::Explicit(1, 1, 1, 1))
            } else {
                (2, PaddingConfig2d::Valid)
            };
            convs.push(
                Conv2dConfig::new([in_channels, out], [kernel, kernel])
                    .with_stride([2, 2])
                    .with_padding(padding)
                    .init(device),
            );
            in_channels = out;
        }
        let encoder = VaeEncoder {
            convs,
            dense: LinearConfig::new(self.flat_dim(), DENSE_UNITS).init(device),
            mean: LinearConfig::new(DENSE_UNITS, self.latent_dim).init(device),
            log_var: LinearConfig::new(DENSE_UNITS, self.latent_dim).init(device),
        };
        let mut deconvs = Vec::with_capacity(5);
        for i in (0..5).rev() {
            let input = CONV_CHANNELS[i];
            let (output, kernel, padding) = if i == 0 {
                (1, 4, [1, 1])
            } else {
                (CONV_CHANNELS[i - 1], 2, [0, 0])
            };
            deconvs.push(
                ConvTranspose2dConfig::new([input, output], [kernel, kernel])
                    .with_stride([2, 2])
                    .with_padding(padding)
                    .init(device),
            );
        }
        let decoder = VaeDecoder {
            dense_1: LinearConfig::new(self.latent_dim, DENSE_UNITS).init(device),
            dense_2: LinearConfig::new(DENSE_UNITS, self.flat_dim()).init(device),
            deconvs,
            bottleneck_side: self.bottleneck_side(),
        };
        Ok(keras_init(Vae { encoder, decoder }, seed))
    }
}

/// Convolutional encoder producing latent mean and log-variance.
#[derive(Module, Debug)]
pub struct VaeEncoder {
    convs: Vec<Conv2d>,
    dense: Linear,
    mean: Linear,
    log_var: Linear,
}

impl VaeEncoder {
    /// `[B, 1, S, S]` images → (`[B, latent]` mean, `[B, latent]` log-variance).
    pub fn forward(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let mut x = images;
        for conv in &self.convs {
            x = elu(fast::conv2d(conv, x));
        }
        let h = elu(self.dense.forward(x.flatten::<2>(1, 3)));
        (self.mean.forward(h.clone()), self.log_var.forward(h))
    }
}

/// Decoder mirroring the encoder with transposed convolutions.
#[derive(Module, Debug)]
pub struct VaeDecoder {
    dense_1: Linear,
    dense_2: Linear,
    deconvs: Vec<ConvTranspose2d>,
    #[module(skip)]
    bottleneck_side: usize,
}

impl VaeDecoder {
    /// `[B, latent]` codes → `[B, 1, S, S]` images in (−1, 1).
    pub fn forward(&self, latent: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latent.dims();
        let h = elu(self.dense_1.forward(latent));
        let h = elu(self.dense_2.forward(h));
        let side = self.bottleneck_side;
        let mut x: Tensor<4> = h.reshape([batch, CONV_CHANNELS[4], side, side]);
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = fast::conv_transpose2d(deconv, x);
            x = if i == last { tanh(x) } else { elu(x) };
        }
        x
    }
}

/// Encoder + decoder.
#[derive(Module, Debug)]
pub struct Vae {
    /// Image → latent distribution.
    pub encoder: VaeEncoder,
    /// Latent code → image.
    pub decoder: VaeDecoder,
}

/// The loss of one batch and its two parts (all shape `[1]`).
pub struct VaeLossTerms {
    /// `reconstruction + β · kl / P`, the differentiated quantity.
    pub total: Tensor<1>,
    /// Mean squared error per pixel.
    pub reconstruction: Tensor<1>,
    /// KL divergence per sample (summed over latent dimensions, averaged over the batch).
    pub kl: Tensor<1>,
}

impl Vae {
    /// Loss of a batch `[B, 1, S, S]` given standard-normal noise `[B, latent]` for the
    /// reparameterisation z = μ + exp(½ log σ²) ⊙ ε.
    pub fn forward_loss(
        &self,
        images: Tensor<4>,
        noise: Tensor<2>,
        kl_weight: f64,
    ) -> VaeLossTerms {
        let [_, _, height, width] = images.dims();
        let (mean, log_var) = self.encoder.forward(images.clone());
        let z = mean.clone() + log_var.clone().mul_scalar(0.5).exp() * noise;
        let reconstruction = (self.decoder.forward(z) - images).square().mean();
        let kl = kl_divergence(mean, log_var);
        let pixels = (height * width) as f64;
        let total = reconstruction.clone() + kl.clone().mul_scalar(kl_weight / pixels);
        VaeLossTerms {
            total,
            reconstruction,
            kl,
        }
    }
}

/// KL(q(z|x) ‖ N(0, I)) per sample, summed over latent dimensions and averaged over the batch.
pub fn kl_divergence(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let terms = log_var.clone().add_scalar(1.0) - mean.square() - log_var.exp();
    terms.sum_dim(1).mean().mul_scalar(-0.5)
}

/// Number of trainable parameters of the encoder and the decoder.
pub fn parameter_counts(vae: &Vae) -> (usize, usize) {
    (vae.encoder.num_params(), vae.decoder.num_params())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_parameter_counts() {
        let vae = VaeConfig::default()
            .init(&Device::flex(), 0)
            .expect("paper config");
        assert_eq!(parameter_counts(&vae), (15_382_256, 14_338_801));
    }

    #[test]
    fn shapes_round_trip_for_small_inputs() {
        let device = Device::flex();
        let config = VaeConfig {
            input_size: 64,
            latent_dim: 8,
            kl_weight: 1.0,
        };
        let vae = config.init(&device, 1).expect("small config");
        let images = Tensor::<4>::zeros([3, 1, 64, 64], &device);
        let (mean, log_var) = vae.encoder.forward(images);
        assert_eq!(mean.dims(), [3, 8]);
        assert_eq!(log_var.dims(), [3, 8]);
        let decoded = vae.decoder.forward(mean);
        assert_eq!(decoded.dims(), [3, 1, 64, 64]);
        let values = decoded.try_into_vec_as::<f32>().expect("read");
        assert!(values.iter().all(|v| v.abs() < 1.0));
    }

    #[test]
    fn rejects_sizes_that_are_not_multiples_of_32() {
        let config = VaeConfig {
            input_size: 100,
            ..VaeConfig::default()
        };
        assert!(config.init(&Device::flex(), 0).is_err());
    }

    #[test]
    fn kl_term_matches_closed_form() {
        // Two samples: KL_b = -1/2 Σ_j (1 + lv - μ² - e^lv), averaged over b.
        let device = Device::flex();
        let rows = [[(0.5f64, 0.2f64), (-1.0, -0.4)], [(0.0, 0.0), (2.0, 1.0)]];
        let mean = Tensor::<2>::from_floats([[0.5, -1.0], [0.0, 2.0]], &device);
        let log_var = Tensor::<2>::from_floats([[0.2, -0.4], [0.0, 1.0]], &device);
        let expected: f64 = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&(m, lv)| -0.5 * (1.0 + lv - m * m - lv.exp()))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 2.0;
        let got = f64::from(kl_divergence(mean, log_var).into_scalar::<f32>());
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        // A posterior equal to the prior has zero divergence.
        let zero = kl_divergence(
            Tensor::<2>::zeros([4, 3], &device),
            Tensor::<2>::zeros([4, 3], &device),
        );
        assert_eq!(zero.into_scalar::<f32>(), 0.0);
    }
}
