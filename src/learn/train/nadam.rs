//! Nadam optimizer (Dozat 2016) in the form used by Keras (TF 2 `optimizer_v2.Nadam`) and
//! PyTorch (`torch.optim.NAdam`); burn 0.22 has no Nadam.
//!
//! For step t = 1, 2, … with gradient g:
//!
//! ```text
//! μ_t      = β1 · (1 − ½ · 0.96^(t·ψ))            ψ = momentum decay (0.004)
//! Π_t      = μ_1 · … · μ_t
//! m_t      = β1 m_{t−1} + (1 − β1) g
//! v_t      = β2 v_{t−1} + (1 − β2) g²
//! v̂        = v_t / (1 − β2^t)
//! θ_t      = θ_{t−1} − lr · [ (1 − μ_t) g / (1 − Π_t) + μ_{t+1} m_t / (1 − Π_{t+1}) ] / (√v̂ + ε)
//! ```
//!
//! Keras and PyTorch implement exactly this update; they differ only in the default ε:
//! Keras 1e-7, PyTorch 1e-8. The Kovacs paper trained with Keras' Nadam ("nomenclature as
//! specified in Keras"), so [`NadamConfig::default`] uses **ε = 1e-7**. PyTorch's
//! `weight_decay`/`decoupled_weight_decay` options are not implemented (both default off).
//!
//! State per parameter: the step count t, the running product Π_t (f64), m and v. Π and the
//! scalar coefficients are computed in f64 on the host; Keras keeps one shared Π for all
//! variables, which equals ours because every parameter is stepped every iteration.

use burn::backend::DispatchDevice;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_pack::Scalar;

use crate::learn::train::nadam_host::{NadamCoefficients, nadam_update};

/// Hyper-parameters of [`Nadam`]. Defaults are Keras' (β1 0.9, β2 0.999, ε 1e-7, ψ 0.004).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NadamConfig {
    /// Exponential decay of the first moment (β1).
    pub beta_1: f64,
    /// Exponential decay of the second moment (β2).
    pub beta_2: f64,
    /// Added to √v̂ for numerical stability (Keras 1e-7, PyTorch 1e-8).
    pub epsilon: f64,
    /// Momentum-schedule decay ψ (Keras `schedule_decay`, PyTorch `momentum_decay`).
    pub momentum_decay: f64,
}

impl Default for NadamConfig {
    fn default() -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            momentum_decay: 0.004,
        }
    }
}

impl NadamConfig {
    /// PyTorch's defaults (`torch.optim.NAdam`: ε = 1e-8).
    pub fn pytorch() -> Self {
        Self {
            epsilon: 1e-8,
            ..Self::default()
        }
    }

    /// Returns the config with ε replaced.
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The bare per-tensor optimizer.
    pub fn build(&self) -> Nadam {
        Nadam {
            config: *self,
            fused: true,
        }
    }

    /// The optimizer with the fused host update disabled: every step runs as tensor ops, as on
    /// the GPU backends. For tests comparing the two paths.
    #[cfg(test)]
    pub(crate) fn build_tensor_ops(&self) -> Nadam {
        Nadam {
            config: *self,
            fused: false,
        }
    }

    /// A whole-module optimizer (`optim.step(lr, model, grads)`).
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// μ_t = β1 (1 − ½ 0.96^(tψ)).
    fn mu(&self, t: u64) -> f64 {
        self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * self.momentum_decay))
    }
}

/// The Nadam optimizer; wrap it with [`NadamConfig::init`] to optimize a module.
#[derive(Debug, Clone)]
pub struct Nadam {
    config: NadamConfig,
    /// Use the fused host update on flex `f32` tensors (always, outside tests).
    fused: bool,
}

/// Nadam state of one parameter tensor.
#[derive(Clone)]
pub struct NadamState<const D: usize> {
    /// Number of steps taken (t after the step).
    pub step: u64,
    /// Π_t = μ_1 ⋯ μ_t.
    pub mu_product: f64,
    /// First moment m_t.
    pub exp_avg: Tensor<D>,
    /// Second moment v_t.
    pub exp_avg_sq: Tensor<D>,
}

impl<const D: usize> RecordState for NadamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "step", Scalar::UInt(self.step));
        out.push_scalar(prefix, "mu_product", Scalar::Float(self.mu_product));
        out.push_tensor(prefix, "exp_avg", self.exp_avg.to_data());
        out.push_tensor(prefix, "exp_avg_sq", self.exp_avg_sq.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let step = match src.take_scalar(prefix, "step")? {
            Scalar::UInt(v) => v,
            Scalar::Int(v) => u64::try_from(v).ok()?,
            _ => return None,
        };
        let mu_product = match src.take_scalar(prefix, "mu_product")? {
            Scalar::Float(v) => v,
            _ => return None,
        };
        let exp_avg = Tensor::from_data(src.take_tensor(prefix, "exp_avg")?, device);
        let exp_avg_sq = Tensor::from_data(src.take_tensor(prefix, "exp_avg_sq")?, device);
        Some(Self {
            step,
            mu_product,
            exp_avg,
            exp_avg_sq,
        })
    }
}

impl Optimizer for Nadam {
    type State<const D: usize> = NadamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, mu_product) = state.as_ref().map_or((0, 1.0), |s| (s.step, s.mu_product));
        let t = step + 1;
        let mu = c.mu(t);
        let mu_next = c.mu(t + 1);
        let mu_product = mu_product * mu;
        let mu_product_next = mu_product * mu_next;
        let grad_coef = lr * (1.0 - mu) / (1.0 - mu_product);
        let momentum_coef = lr * mu_next / (1.0 - mu_product_next);
        let bias_correction_2 = 1.0 - c.beta_2.powf(t as f64);

        if self.fused && is_flex_f32(&tensor) && is_flex_f32(&grad) {
            let coefficients = NadamCoefficients {
                beta_1: c.beta_1 as f32,
                one_minus_beta_1: (1.0 - c.beta_1) as f32,
                beta_2: c.beta_2 as f32,
                one_minus_beta_2: (1.0 - c.beta_2) as f32,
                bias_correction_2: bias_correction_2 as f32,
                epsilon: c.epsilon as f32,
                grad_coef: grad_coef as f32,
                momentum_coef: momentum_coef as f32,
            };
            return fused_step(coefficients, tensor, grad, state, t, mu_product);
        }

        let (exp_avg, exp_avg_sq) = match state {
            Some(s) => (s.exp_avg, s.exp_avg_sq),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let exp_avg = exp_avg
            .mul_scalar(c.beta_1)
            .add(grad.clone().mul_scalar(1.0 - c.beta_1));
        let exp_avg_sq = exp_avg_sq
            .mul_scalar(c.beta_2)
            .add(grad.clone().square().mul_scalar(1.0 - c.beta_2));
        let denom = exp_avg_sq
            .clone()
            .div_scalar(bias_correction_2)
            .sqrt()
            .add_scalar(c.epsilon);
        let update = grad
            .mul_scalar(grad_coef)
            .add(exp_avg.clone().mul_scalar(momentum_coef))
            .div(denom);

        let state = NadamState {
            step: t,
            mu_product,
            exp_avg,
            exp_avg_sq,
        };
        (tensor.sub(update), Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.exp_avg = state.exp_avg.to_device(device);
        state.exp_avg_sq = state.exp_avg_sq.to_device(device);
        state
    }
}

/// Whether `tensor` is an `f32` tensor on the flex CPU backend, where its data can be updated
/// on the host without a device round trip.
fn is_flex_f32<const D: usize>(tensor: &Tensor<D>) -> bool {
    tensor.dtype() == DType::F32 && matches!(tensor.device().as_dispatch(), DispatchDevice::Flex(_))
}

/// Host data of a flex tensor as an owned `f32` buffer (zero-copy when the tensor is the sole
/// owner of its contiguous storage; other float dtypes are converted).
fn host_f32<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    match tensor.try_into_vec_as::<f32>() {
        Ok(values) => values,
        Err(e) => unreachable!("a flex float tensor converts to f32: {e:?}"),
    }
}

/// The flex path of [`Nadam::step`]: one fused pass over host slices (see [`crate::learn::train::nadam_host`]).
fn fused_step<const D: usize>(
    coefficients: NadamCoefficients,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    state: Option<NadamState<D>>,
    t: u64,
    mu_product: f64,
) -> (Tensor<D>, Option<NadamState<D>>) {
    let device = tensor.device();
    let shape = tensor.shape();
    let numel = shape.num_elements();
    let (mut exp_avg, mut exp_avg_sq) = match state {
        Some(s) => (host_f32(s.exp_avg), host_f32(s.exp_avg_sq)),
        None => (vec![0.0; numel], vec![0.0; numel]),
    };
    let mut param = host_f32(tensor);
    let grad = host_f32(grad);
    nadam_update(
        &coefficients,
        &mut param,
        &grad,
        &mut exp_avg,
        &mut exp_avg_sq,
    );
    let to_tensor =
        |values: Vec<f32>| Tensor::<D>::from_data(TensorData::new(values, shape.clone()), &device);
    let state = NadamState {
        step: t,
        mu_product,
        exp_avg: to_tensor(exp_avg),
        exp_avg_sq: to_tensor(exp_avg_sq),
    };
    (to_tensor(param), Some(state))
}

#[cfg(test)]
#[path = "nadam_tests.rs"]
mod tests;
