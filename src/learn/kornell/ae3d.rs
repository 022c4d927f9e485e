//! Convolutional autoencoder of Kornell et al. (Table 1) for the magnetization of the 4×4×4 grain
//! lattice, and its norm-preserving loss (eq. 9).
//!
//! Layout: burn is channels-first, so a state is `[batch, 3, 4, 4, 4]` (components m_x, m_y, m_z;
//! then the grain indices i, j, k). [`channels_last_to_first`] converts the paper's/Keras's
//! `[batch, 4, 4, 4, 3]` layout.
//!
//! Table 1 lists, after the input, Conv3D(4 filters, 2×2×2, stride 2) → 100 params, Flatten(32),
//! Dense 32 (1056), Dense 32 (1056), Dense 16 (528), Dense 16 (272), Dense 16 (272), Dense 32 (544),
//! Dense 32 (1056), Reshape(2,2,2,4), Conv3DTranspose(3 filters, 2×2×2, stride 2) → 99 params:
//! 4 983 in total. The text gives the encoder three dense layers and the decoder the mirrored
//! three, so the seven dense layers are read as 3 (encoder) + 1 central latent layer (16→16) + 3
//! (decoder); the latent code is the output of that central layer. All layers use ELU (§4.1),
//! kernels `he_normal`, biases zero.

use burn::nn::conv::{Conv3d, Conv3dConfig, ConvTranspose3d, ConvTranspose3dConfig};
use burn::nn::{Initializer, Linear};
use burn::prelude::*;
use burn::tensor::activation::elu;

use crate::learn::init::he_normal_param;
use crate::learn::nets::dense::{
    ELU_ALPHA, OutputActivation, forward_dense_stack, he_normal_linear,
};

/// Grains per edge of the cubic grain lattice.
pub const GRID: usize = 4;
/// Magnetization components per grain (the input channels).
pub const COMPONENTS: usize = 3;
/// Filters of the strided 3-D convolution.
pub const CONV_FILTERS: usize = 4;
/// Kernel edge and stride of the (transposed) convolution.
pub const CONV_KERNEL: usize = 2;
/// Dimension of the latent space.
pub const LATENT_DIM: usize = 16;
/// Flattened size of the convolution output (4 filters on a 2×2×2 grid).
const FLAT: usize = CONV_FILTERS * 8;
/// Widths of the encoder's dense layers, the last being the central latent layer.
const ENCODER_WIDTHS: [usize; 4] = [32, 32, 16, LATENT_DIM];
/// Widths of the decoder's dense layers.
const DECODER_WIDTHS: [usize; 3] = [16, 32, 32];

/// Hyper-parameters of [`Autoencoder3d`] that the paper leaves open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Autoencoder3dConfig {
    /// Activation of the reconstruction layer (ELU per the paper; `Identity` for a linear output).
    pub output_activation: OutputActivation,
}

/// The Table 1 convolutional autoencoder (4 983 trainable parameters).
#[derive(Module, Debug)]
pub struct Autoencoder3d {
    /// Conv3D, 3 → 4 channels, kernel 2, stride 2.
    encoder_conv: Conv3d,
    /// Dense 32 → 32 → 32 → 16 → 16 (latent).
    encoder_dense: Vec<Linear>,
    /// Dense 16 → 16 → 32 → 32.
    decoder_dense: Vec<Linear>,
    /// Conv3DTranspose, 4 → 3 channels, kernel 2, stride 2.
    decoder_conv: ConvTranspose3d,
    /// Activation of the reconstruction layer.
    #[module(skip)]
    output_activation: OutputActivation,
}

impl Autoencoder3dConfig {
    /// Builds the autoencoder on `device` (draws from the device RNG: seed it first).
    pub fn init(&self, device: &Device) -> Autoencoder3d {
        let kernel = [CONV_KERNEL; 3];
        let kernel_volume = CONV_KERNEL.pow(3);
        let mut encoder_conv = Conv3dConfig::new([COMPONENTS, CONV_FILTERS], kernel)
            .with_stride(kernel)
            .with_initializer(Initializer::Zeros)
            .init(device);
        // Keras fan-in of a Conv3D kernel (2,2,2,in,out): 2·2·2·in.
        encoder_conv.weight = he_normal_param(
            [
                CONV_FILTERS,
                COMPONENTS,
                CONV_KERNEL,
                CONV_KERNEL,
                CONV_KERNEL,
            ],
            kernel_volume * COMPONENTS,
            device,
        );
        let mut decoder_conv = ConvTranspose3dConfig::new([CONV_FILTERS, COMPONENTS], kernel)
            .with_stride(kernel)
            .with_initializer(Initializer::Zeros)
            .init(device);
        // Keras stores a Conv3DTranspose kernel as (2,2,2,out,in), so its "fan-in" is 2·2·2·out.
        decoder_conv.weight = he_normal_param(
            [
                CONV_FILTERS,
                COMPONENTS,
                CONV_KERNEL,
                CONV_KERNEL,
                CONV_KERNEL,
            ],
            kernel_volume * COMPONENTS,
            device,
        );
        Autoencoder3d {
            encoder_conv,
            encoder_dense: dense_chain(FLAT, &ENCODER_WIDTHS, device),
            decoder_dense: dense_chain(LATENT_DIM, &DECODER_WIDTHS, device),
            decoder_conv,
            output_activation: self.output_activation,
        }
    }
}

/// Dense layers `d_input → widths[0] → widths[1] → …`.
fn dense_chain(d_input: usize, widths: &[usize], device: &Device) -> Vec<Linear> {
    let mut d_in = d_input;
    widths
        .iter()
        .map(|&d_out| {
            let layer = he_normal_linear(d_in, d_out, device);
            d_in = d_out;
            layer
        })
        .collect()
}

impl Autoencoder3d {
    /// Encodes states `[batch, 3, 4, 4, 4]` to latent codes `[batch, 16]`.
    pub fn encode(&self, states: Tensor<5>) -> Tensor<2> {
        let features = elu(self.encoder_conv.forward(states), ELU_ALPHA);
        let flat: Tensor<2> = features.flatten(1, 4);
        forward_dense_stack(&self.encoder_dense, flat, OutputActivation::Elu)
    }

    /// Decodes latent codes `[batch, 16]` to states `[batch, 3, 4, 4, 4]`.
    pub fn decode(&self, latent: Tensor<2>) -> Tensor<5> {
        let [batch, _] = latent.dims();
        let hidden = forward_dense_stack(&self.decoder_dense, latent, OutputActivation::Elu);
        let grid = hidden.reshape([batch, CONV_FILTERS, 2, 2, 2]);
        self.output_activation
            .apply(self.decoder_conv.forward(grid))
    }

    /// Reconstructs states `[batch, 3, 4, 4, 4]`.
    pub fn forward(&self, states: Tensor<5>) -> Tensor<5> {
        self.decode(self.encode(states))
    }
}

/// Converts states from the paper's channels-last `[batch, 4, 4, 4, 3]` to `[batch, 3, 4, 4, 4]`.
pub fn channels_last_to_first(states: Tensor<5>) -> Tensor<5> {
    states.permute([0, 4, 1, 2, 3])
}

/// Relative weights a1, a2 of the two terms of eq. (9).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReconstructionLossWeights {
    /// Weight of the summed squared error.
    pub a1: f64,
    /// Weight of the norm error.
    pub a2: f64,
}

impl Default for ReconstructionLossWeights {
    /// a1 = 0.85, a2 = 0.15: the setting the paper keeps for the predictor (§4.3).
    fn default() -> Self {
        Self { a1: 0.85, a2: 0.15 }
    }
}

/// The two terms of eq. (9), per sample (`[batch]` each).
#[derive(Clone, Debug)]
pub struct ReconstructionTerms {
    /// L_MSE = Σ_{ijk} Σ_l (x_ijkl − x̂_ijkl)² (a sum, as in eq. 9, not a mean).
    pub squared_error: Tensor<1>,
    /// L_Norm = Σ_{ijk} (1 − |x̂_ijk|)².
    pub norm_error: Tensor<1>,
}

impl ReconstructionTerms {
    /// Per-sample loss a1·L_MSE + a2·L_Norm (`[batch]`).
    pub fn weighted(&self, weights: ReconstructionLossWeights) -> Tensor<1> {
        self.squared_error.clone().mul_scalar(weights.a1)
            + self.norm_error.clone().mul_scalar(weights.a2)
    }
}

/// Evaluates the two terms of eq. (9) for reconstructions and targets `[batch, 3, 4, 4, 4]`.
/// As in the paper, |x̂| is an exact square root, whose gradient is undefined where a
/// reconstructed vector is exactly zero.
pub fn reconstruction_terms(reconstruction: Tensor<5>, target: Tensor<5>) -> ReconstructionTerms {
    let squared_error = (target - reconstruction.clone())
        .square()
        .sum_dims_squeeze::<1, _>(&[1, 2, 3, 4]);
    let lengths = reconstruction.square().sum_dim(1).sqrt();
    let norm_error = lengths
        .neg()
        .add_scalar(1.0)
        .square()
        .sum_dims_squeeze::<1, _>(&[1, 2, 3, 4]);
    ReconstructionTerms {
        squared_error,
        norm_error,
    }
}

/// Empirical risk of eq. (7) with the loss of eq. (9): the batch mean of a1·L_MSE + a2·L_Norm
/// (shape `[1]`).
pub fn reconstruction_loss(
    reconstruction: Tensor<5>,
    target: Tensor<5>,
    weights: ReconstructionLossWeights,
) -> Tensor<1> {
    reconstruction_terms(reconstruction, target)
        .weighted(weights)
        .mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};

    #[test]
    fn parameter_count_matches_table_1() {
        let model = Autoencoder3dConfig::default().init(&Device::flex());
        assert_eq!(trainable_params(&model), 4983);
        // row by row, as printed in Table 1
        assert_eq!(trainable_params(&model.encoder_conv), 100);
        let dense: Vec<usize> = model
            .encoder_dense
            .iter()
            .chain(&model.decoder_dense)
            .map(trainable_params)
            .collect();
        assert_eq!(dense, [1056, 1056, 528, 272, 272, 544, 1056]);
        assert_eq!(trainable_params(&model.decoder_conv), 99);
    }

    #[test]
    fn forward_shapes() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(1);
        let model = Autoencoder3dConfig::default().init(&device);
        let states = Tensor::<5>::random(
            [2, 3, 4, 4, 4],
            burn::tensor::Distribution::Default,
            &device,
        );
        assert_eq!(model.encode(states.clone()).dims(), [2, LATENT_DIM]);
        assert_eq!(model.forward(states).dims(), [2, 3, 4, 4, 4]);
    }

    #[test]
    fn channels_last_conversion_moves_components_to_axis_one() {
        let device = Device::flex();
        // one sample, grain (i, j, k) = (1, 2, 3) has m = (10, 20, 30), all else 0
        let mut data = vec![0.0f32; 4 * 4 * 4 * 3];
        for (l, value) in [10.0, 20.0, 30.0].into_iter().enumerate() {
            data[((4 + 2) * 4 + 3) * 3 + l] = value;
        }
        let last = Tensor::<1>::from_floats(data.as_slice(), &device).reshape([1, 4, 4, 4, 3]);
        let first = channels_last_to_first(last);
        assert_eq!(first.dims(), [1, 3, 4, 4, 4]);
        let flat = to_vec(first.reshape([192]));
        for (l, value) in [10.0, 20.0, 30.0].into_iter().enumerate() {
            assert_eq!(flat[l * 64 + (4 + 2) * 4 + 3], value);
        }
    }

    #[test]
    fn loss_matches_eq_9_by_hand() {
        let device = Device::flex();
        // target: every grain m = (0, 0, 1); reconstruction: every grain (1.2, 0, 1.6), |x̂| = 2
        let target = Tensor::<1>::from_floats([0.0, 0.0, 1.0], &device)
            .reshape([1, 3, 1, 1, 1])
            .repeat(&[2, 1, 4, 4, 4]);
        let reconstruction = Tensor::<1>::from_floats([1.2, 0.0, 1.6], &device)
            .reshape([1, 3, 1, 1, 1])
            .repeat(&[2, 1, 4, 4, 4]);
        let terms = reconstruction_terms(reconstruction.clone(), target.clone());
        // L_MSE = 64·(1.44 + 0.36) = 115.2; L_Norm = 64·(1 − 2)² = 64
        for (got, want) in to_vec(terms.squared_error.clone())
            .into_iter()
            .zip([115.2, 115.2])
        {
            assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        }
        for got in to_vec(terms.norm_error.clone()) {
            assert!((got - 64.0).abs() < 1e-4, "{got}");
        }
        let loss = to_vec(reconstruction_loss(
            reconstruction,
            target.clone(),
            Default::default(),
        ));
        // 0.85·115.2 + 0.15·64 = 107.52
        assert!((loss[0] - 107.52).abs() < 1e-3, "{loss:?}");
        // a perfect reconstruction of unit vectors has zero loss
        let zero = to_vec(reconstruction_loss(
            target.clone(),
            target,
            Default::default(),
        ));
        assert!(zero[0].abs() < 1e-6);
    }
}
