//! Parameter-sharing multi-target regressor of Kovacs et al., Table 2, and target
//! standardisation.
//!
//! Shared trunk: latent → 512 → 1024 → 512 → 256 → 128 → 64 (ELU after every layer). One
//! head per target: 64 → 32 → 16 → 8 → 4 → 2 (ELU) → 1 (linear). Six targets
//! (M1, Mr, Hk90, Hk80, Hk70, Hc) and a 512-dim latent give 1 502 006 parameters.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::elu;
use burn::tensor::{Device, Tensor};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::init::keras::keras_init;

/// Widths of the shared trunk layers.
pub const TRUNK_UNITS: [usize; 6] = [512, 1024, 512, 256, 128, 64];
/// Widths of the hidden layers of each regression head (a linear 1-unit output follows).
pub const HEAD_UNITS: [usize; 5] = [32, 16, 8, 4, 2];

/// Input and output sizes of the regressor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegressorConfig {
    /// Latent dimension of the inputs (512 in the paper).
    pub input_dim: usize,
    /// Number of targets, one head each (6 in the paper).
    pub targets: usize,
}

impl Default for RegressorConfig {
    /// The paper's configuration: 512 inputs, six targets.
    fn default() -> Self {
        Self {
            input_dim: 512,
            targets: 6,
        }
    }
}

impl RegressorConfig {
    /// Builds the model on `device` with Keras-default weights drawn from `seed`.
    pub fn init(&self, device: &Device, seed: u64) -> Result<Regressor, LearnError> {
        if self.input_dim == 0 || self.targets == 0 {
            return Err(LearnError::InvalidConfig(
                "regressor needs input_dim >= 1 and targets >= 1".into(),
            ));
        }
        let trunk = chain(self.input_dim, &TRUNK_UNITS, device);
        let heads = (0..self.targets)
            .map(|_| RegressionHead {
                hidden: chain(TRUNK_UNITS[5], &HEAD_UNITS, device),
                output: LinearConfig::new(HEAD_UNITS[4], 1).init(device),
            })
            .collect();
        Ok(keras_init(Regressor { trunk, heads }, seed))
    }
}

fn chain(input: usize, widths: &[usize], device: &Device) -> Vec<Linear> {
    let mut layers = Vec::with_capacity(widths.len());
    let mut d_in = input;
    for &d_out in widths {
        layers.push(LinearConfig::new(d_in, d_out).init(device));
        d_in = d_out;
    }
    layers
}

/// One target's head: ELU hidden layers and a linear scalar output.
#[derive(Module, Debug)]
pub struct RegressionHead {
    hidden: Vec<Linear>,
    output: Linear,
}

/// Shared trunk plus one head per target.
#[derive(Module, Debug)]
pub struct Regressor {
    trunk: Vec<Linear>,
    heads: Vec<RegressionHead>,
}

impl Regressor {
    /// `[B, input_dim]` latents → `[B, targets]` standardised predictions.
    pub fn forward(&self, latents: Tensor<2>) -> Tensor<2> {
        let mut shared = latents;
        for layer in &self.trunk {
            shared = elu(layer.forward(shared), 1.0);
        }
        let outputs = self
            .heads
            .iter()
            .map(|head| {
                let mut h = shared.clone();
                for layer in &head.hidden {
                    h = elu(layer.forward(h), 1.0);
                }
                head.output.forward(h)
            })
            .collect();
        Tensor::cat(outputs, 1)
    }

    /// Mean squared error over batch and targets against standardised targets.
    pub fn forward_loss(&self, latents: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        (self.forward(latents) - targets).square().mean()
    }
}

/// Per-target mean and standard deviation fitted on the training targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Per-target mean.
    pub mean: Vec<f32>,
    /// Per-target population standard deviation (1 where a target is constant).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits mean and population standard deviation (ddof 0, as scikit-learn's
    /// `StandardScaler`) of each column, accumulating sequentially in f64.
    pub fn fit(targets: ArrayView2<'_, f32>) -> Result<Self, LearnError> {
        let n = targets.nrows();
        if n == 0 {
            return Err(LearnError::Shape("cannot standardise zero rows".into()));
        }
        let mut mean = Vec::with_capacity(targets.ncols());
        let mut std = Vec::with_capacity(targets.ncols());
        for column in targets.axis_iter(Axis(1)) {
            let m = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
            let var = column
                .iter()
                .map(|&v| (f64::from(v) - m).powi(2))
                .sum::<f64>()
                / n as f64;
            let s = var.sqrt();
            mean.push(m as f32);
            std.push(if s > 0.0 && s.is_finite() {
                s as f32
            } else {
                1.0
            });
        }
        Ok(Self { mean, std })
    }

    fn check(&self, columns: usize) -> Result<(), LearnError> {
        if columns == self.mean.len() {
            Ok(())
        } else {
            Err(LearnError::Shape(format!(
                "{columns} target columns, standardiser has {}",
                self.mean.len()
            )))
        }
    }

    /// (y − mean) / std, column-wise.
    pub fn transform(&self, targets: ArrayView2<'_, f32>) -> Result<Array2<f32>, LearnError> {
        self.check(targets.ncols())?;
        let mean = Array1::from(self.mean.clone());
        let std = Array1::from(self.std.clone());
        Ok((&targets - &mean) / &std)
    }

    /// y · std + mean, column-wise.
    pub fn inverse(&self, scaled: ArrayView2<'_, f32>) -> Result<Array2<f32>, LearnError> {
        self.check(scaled.ncols())?;
        let mean = Array1::from(self.mean.clone());
        let std = Array1::from(self.std.clone());
        Ok(&scaled * &std + &mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn paper_parameter_count() {
        let model = RegressorConfig::default()
            .init(&Device::flex(), 0)
            .expect("paper config");
        assert_eq!(model.num_params(), 1_502_006);
    }

    #[test]
    fn one_output_per_head() {
        let device = Device::flex();
        let model = RegressorConfig {
            input_dim: 10,
            targets: 3,
        }
        .init(&device, 2)
        .expect("small config");
        let out = model.forward(Tensor::<2>::ones([4, 10], &device));
        assert_eq!(out.dims(), [4, 3]);
    }

    #[test]
    fn standardizer_round_trip() {
        let y = array![[1.0f32, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]];
        let s = Standardizer::fit(y.view()).expect("fit");
        assert_eq!(s.mean, vec![3.0, 5.0, 5.0]);
        // Population std of (1, 3, 5) is sqrt(8/3); the constant column falls back to 1.
        assert!((s.std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(s.std[1], 1.0);
        let z = s.transform(y.view()).expect("transform");
        for column in z.axis_iter(Axis(1)) {
            assert!(column.sum().abs() < 1e-5);
        }
        let back = s.inverse(z.view()).expect("inverse");
        for (a, b) in back.iter().zip(y.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
        assert!(s.transform(array![[1.0f32, 2.0]].view()).is_err());
    }
}
