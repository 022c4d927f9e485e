//! Latent-space predictor of Kornell et al. (§3.3, §4.3) and its l-step recursive loss
//! (eqs. 10–12).
//!
//! The predictor P maps the t previous latent states e^(i−t), …, e^(i−1) (16 each, oldest first)
//! and the applied field H_ext^(i−1) to e^(i). The paper gives no layer sizes, layer count or
//! parameter count for P (only "enough hidden layers", ELU everywhere, `he_normal`), so the hidden
//! widths are a configuration value; [`LatentPredictorConfig::new`] uses four hidden layers of 64.
//!
//! Field per recursive step: the paper's sample b^(i) carries only H_ext^(i−1), while its
//! definition of ê^(j) writes H_ext^(i). Here every step gets its own field: predicting e^(i+s)
//! uses `fields[:, s]`, which the caller fills with H_ext^(i−1+s) (consistent with P's
//! definition in §3.3) or with the constant H_ext^(i−1) for the literal reading of b^(i).

use burn::module::{ModuleMapper, Param};
use burn::nn::Linear;
use burn::prelude::*;

use crate::learn::init::keras::with_host_values;

use crate::learn::kornell::ae3d::LATENT_DIM;
use crate::learn::model_error::{ModelError, check_shape};
use crate::learn::nets::dense::{OutputActivation, forward_dense_stack, he_normal_linear};
use crate::learn::train::sample_weighting::weighted_batch_mean;

/// Hidden widths used by [`LatentPredictorConfig::new`] (the paper does not give them).
pub const DEFAULT_HIDDEN: [usize; 4] = [64, 64, 64, 64];

/// Architecture of a [`LatentPredictor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatentPredictorConfig {
    /// t: number of previous latent states fed to the predictor.
    pub history_len: usize,
    /// d: dimension of a latent state (16 for the Table 1 autoencoder).
    pub latent_dim: usize,
    /// Widths of the hidden dense layers (ELU).
    pub hidden: Vec<usize>,
    /// Activation of the output layer (ELU per the paper: its targets are ELU outputs).
    pub output_activation: OutputActivation,
    /// Predict the increment e^(i) − e^(i−1) and add it to the newest state (see the module docs).
    pub increment: bool,
}

impl LatentPredictorConfig {
    /// t previous states of the Table 1 latent space, [`DEFAULT_HIDDEN`] hidden layers, ELU output.
    pub fn new(history_len: usize) -> Self {
        Self {
            history_len,
            latent_dim: LATENT_DIM,
            hidden: DEFAULT_HIDDEN.to_vec(),
            output_activation: OutputActivation::Elu,
            increment: false,
        }
    }

    /// Number of inputs: t·d latent values plus the field.
    pub fn input_dim(&self) -> usize {
        self.history_len * self.latent_dim + 1
    }

    /// Builds the predictor (draws from the device RNG: seed it first).
    pub fn init(&self, device: &Device) -> Result<LatentPredictor, ModelError> {
        if self.history_len == 0 || self.latent_dim == 0 || self.hidden.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "latent predictor needs t ≥ 1, d ≥ 1 and non-zero hidden widths, got t = {}, d = {}, hidden = {:?}",
                self.history_len, self.latent_dim, self.hidden
            )));
        }
        let widths = self.hidden.iter().copied().chain([self.latent_dim]);
        let mut d_in = self.input_dim();
        let layers = widths
            .map(|d_out| {
                let layer = he_normal_linear(d_in, d_out, device);
                d_in = d_out;
                layer
            })
            .collect();
        Ok(LatentPredictor {
            layers,
            history_len: self.history_len,
            latent_dim: self.latent_dim,
            output_activation: self.output_activation,
            increment: self.increment,
        })
    }
}

/// Dense ELU network P(H_ext, e^(i−t), …, e^(i−1)) ↦ e^(i).
#[derive(Module, Debug)]
pub struct LatentPredictor {
    /// Hidden layers followed by the output layer.
    layers: Vec<Linear>,
    /// t.
    history_len: usize,
    /// d.
    latent_dim: usize,
    /// Activation of the output layer.
    #[module(skip)]
    output_activation: OutputActivation,
    /// Whether the network's output is an increment added to the newest state.
    #[module(skip)]
    increment: bool,
}

impl LatentPredictor {
    /// t, the number of previous states the predictor takes.
    pub fn history_len(&self) -> usize {
        self.history_len
    }

    /// d, the latent dimension.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// The same network with the output layer's weights and bias set to zero (P ≡ 0 until
    /// trained; the gradients of those weights are not zero, so training moves them).
    pub fn with_zero_output_layer(mut self) -> Self {
        if let Some(last) = self.layers.pop() {
            self.layers.push(last.map(&mut ZeroParams));
        }
        self
    }

    /// One step: `history` `[batch, t, d]` (oldest first), `field` `[batch, 1]` → `[batch, d]`.
    /// The network input is the flattened history followed by the field; in increment form the
    /// network's output is added to the newest state.
    pub fn forward(&self, history: Tensor<3>, field: Tensor<2>) -> Tensor<2> {
        let newest = self
            .increment
            .then(|| history.clone().narrow(1, self.history_len - 1, 1));
        let flat: Tensor<2> = history.flatten(1, 2);
        let input = Tensor::cat(vec![flat, field], 1);
        let out = forward_dense_stack(&self.layers, input, self.output_activation);
        match newest {
            Some(newest) => out + newest.squeeze_dim::<2>(1),
            None => out,
        }
    }

    /// Recursive prediction of eq. (10): starting from `history` `[batch, t, d]`, predicts one
    /// state per column of `fields` `[batch, l]`, feeding each prediction back as the newest
    /// history entry. Returns `[batch, l, d]`. On an autodiff device the graph is unrolled over
    /// all l steps.
    pub fn rollout(&self, history: Tensor<3>, fields: Tensor<2>) -> Result<Tensor<3>, ModelError> {
        let [batch, steps] = fields.dims();
        check_shape(
            "rollout history",
            &[batch, self.history_len, self.latent_dim],
            &history.dims(),
        )?;
        if steps == 0 {
            return Err(ModelError::InvalidConfig(
                "a rollout needs at least one step (l ≥ 1)".into(),
            ));
        }
        let mut window = history;
        let mut predictions = Vec::with_capacity(steps);
        for step in 0..steps {
            let field = fields.clone().narrow(1, step, 1);
            let next: Tensor<3> = self.forward(window.clone(), field).unsqueeze_dim(1);
            window = if self.history_len == 1 {
                next.clone()
            } else {
                Tensor::cat(
                    vec![window.narrow(1, 1, self.history_len - 1), next.clone()],
                    1,
                )
            };
            predictions.push(next);
        }
        Ok(Tensor::cat(predictions, 1))
    }
}

/// Sets every float parameter it maps to zero.
struct ZeroParams;

impl ModuleMapper for ZeroParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let count = param.lazy_shape().to_vec().iter().product();
        with_host_values(param, vec![0.0; count])
    }
}

/// Training windows b^(i) for the recursive loss: t known states, l fields and l targets.
#[derive(Clone, Debug)]
pub struct RolloutWindows {
    /// e^(i−t), …, e^(i−1): `[batch, t, d]`.
    pub history: Tensor<3>,
    /// The field fed at each predicted step: `[batch, l]` (see the module docs).
    pub fields: Tensor<2>,
    /// e^(i), …, e^(i+l−1): `[batch, l, d]`.
    pub targets: Tensor<3>,
}

/// Per-sample L_PRED of eq. (12): Σ_{j<l} Σ_d (e_d^(j) − ê_d^(j))² with the predictions fed back
/// as in eq. (10). Returns `[batch]`.
pub fn recursive_loss_per_sample(
    model: &LatentPredictor,
    windows: RolloutWindows,
) -> Result<Tensor<1>, ModelError> {
    let [batch, steps] = windows.fields.dims();
    check_shape(
        "rollout targets",
        &[batch, steps, model.latent_dim()],
        &windows.targets.dims(),
    )?;
    let predictions = model.rollout(windows.history, windows.fields)?;
    Ok((windows.targets - predictions)
        .square()
        .sum_dims_squeeze::<1, _>(&[1, 2]))
}

/// The training loss: per-sample L_PRED weighted by the eq. (8) sample weights `[batch]` and
/// reduced as Keras does, Σ_b w_b·L_PRED,b / B (shape `[1]`).
pub fn recursive_loss(
    model: &LatentPredictor,
    windows: RolloutWindows,
    sample_weights: Tensor<1>,
) -> Result<Tensor<1>, ModelError> {
    weighted_batch_mean(recursive_loss_per_sample(model, windows)?, sample_weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::nets::param_count::trainable_params;
    use crate::learn::test_support::{rng_lock, to_vec};
    use burn::optim::GradientsParams;
    use burn::tensor::Distribution;

    #[test]
    fn parameter_count_of_the_default_architecture() {
        let model = LatentPredictorConfig::new(4)
            .init(&Device::flex())
            .expect("valid config");
        // inputs 4·16 + 1 = 65: 65·64+64 + 3·(64·64+64) + 64·16+16 = 4224 + 12480 + 1040
        assert_eq!(trainable_params(&model), 17_744);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let device = Device::flex();
        assert!(LatentPredictorConfig::new(0).init(&device).is_err());
        let mut config = LatentPredictorConfig::new(2);
        config.hidden = vec![8, 0];
        assert!(config.init(&device).is_err());
    }

    #[test]
    fn forward_and_rollout_shapes() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(5);
        let model = LatentPredictorConfig::new(3)
            .init(&device)
            .expect("valid config");
        let history = Tensor::<3>::random([2, 3, 16], Distribution::Default, &device);
        let fields = Tensor::<2>::random([2, 5], Distribution::Default, &device);
        assert_eq!(
            model
                .forward(history.clone(), fields.clone().narrow(1, 0, 1))
                .dims(),
            [2, 16]
        );
        assert_eq!(
            model
                .rollout(history.clone(), fields)
                .expect("shapes")
                .dims(),
            [2, 5, 16]
        );
        let wrong = Tensor::<2>::zeros([2, 0], &device);
        assert!(model.rollout(history, wrong).is_err());
    }

    /// Windows whose targets are the model's own recursive predictions plus `offset`.
    fn self_consistent_windows(
        model: &LatentPredictor,
        offset: f32,
        device: &Device,
    ) -> RolloutWindows {
        let (t, d, l) = (model.history_len(), model.latent_dim(), 4);
        let history = Tensor::<3>::random([3, t, d], Distribution::Uniform(-1.0, 1.0), device);
        let fields = Tensor::<2>::random([3, l], Distribution::Uniform(-8.0, 8.0), device);
        // feed back by hand, step by step, with forward()
        let mut window = history.clone();
        let mut targets = Vec::new();
        for step in 0..l {
            let next: Tensor<3> = model
                .forward(window.clone(), fields.clone().narrow(1, step, 1))
                .unsqueeze_dim(1);
            window = Tensor::cat(vec![window.narrow(1, 1, t - 1), next.clone()], 1);
            targets.push(next);
        }
        RolloutWindows {
            history,
            fields,
            targets: Tensor::cat(targets, 1).add_scalar(offset),
        }
    }

    #[test]
    fn recursive_loss_is_zero_on_own_rollout_and_l_d_delta_squared_when_offset() {
        let _guard = rng_lock();
        let device = Device::flex();
        device.seed(11);
        let model = LatentPredictorConfig::new(2)
            .init(&device)
            .expect("valid config");
        let exact = self_consistent_windows(&model, 0.0, &device);
        let per_sample = to_vec(recursive_loss_per_sample(&model, exact.clone()).expect("shapes"));
        assert!(per_sample.iter().all(|v| v.abs() < 1e-8), "{per_sample:?}");
        // every target shifted by δ = 0.1: L = l·d·δ² = 4·16·0.01 = 0.64 per sample
        let shifted = RolloutWindows {
            targets: exact.targets.add_scalar(0.1),
            ..exact
        };
        let per_sample =
            to_vec(recursive_loss_per_sample(&model, shifted.clone()).expect("shapes"));
        for v in &per_sample {
            assert!((v - 0.64).abs() < 1e-4, "{per_sample:?}");
        }
        // weights (1, 0, 2): (0.64 + 0 + 1.28) / 3 = 0.64
        let weights = Tensor::<1>::from_floats([1.0, 0.0, 2.0], &device);
        let loss = to_vec(recursive_loss(&model, shifted.clone(), weights).expect("shapes"));
        assert!((loss[0] - 0.64).abs() < 1e-4, "{loss:?}");
        let bad_weights = Tensor::<1>::from_floats([1.0, 0.0], &device);
        assert!(recursive_loss(&model, shifted, bad_weights).is_err());
    }

    #[test]
    fn gradients_flow_through_every_unrolled_step() {
        let _guard = rng_lock();
        let device = Device::flex().autodiff();
        device.seed(13);
        let model = LatentPredictorConfig::new(2)
            .init(&device)
            .expect("valid config");
        let windows = self_consistent_windows(&model.valid(), 0.0, &Device::flex());
        // move the windows to the autodiff device; only the last target is off (by 0.5), so all
        // loss comes from step l−1, whose input holds two fed-back predictions
        let l = windows.fields.dims()[1];
        let offset = Tensor::<3>::zeros([3, l - 1, 16], &device);
        let last = Tensor::<3>::full([3, 1, 16], 0.5, &device);
        let targets = Tensor::from_inner(windows.targets) + Tensor::cat(vec![offset, last], 1);
        let history = Tensor::<3>::from_inner(windows.history).require_grad();
        let windows = RolloutWindows {
            history: history.clone(),
            fields: Tensor::from_inner(windows.fields),
            targets,
        };
        let weights = Tensor::<1>::ones([3], &device);
        let loss = recursive_loss(&model, windows, weights).expect("shapes");
        let loss_value = to_vec(loss.clone().inner())[0];
        assert!((loss_value - 16.0 * 0.25).abs() < 1e-3, "{loss_value}");
        let grads = loss.backward();
        // the history only reaches step l−1 = 3 (t = 2) through fed-back predictions
        let history_grad = history.grad(&grads).expect("history gradient");
        let grad_norm: f32 = to_vec(history_grad.square().sum())[0];
        assert!(grad_norm > 0.0 && grad_norm.is_finite(), "{grad_norm}");
        let params = GradientsParams::from_grads(grads, &model);
        assert_eq!(params.len(), 2 * 5, "every weight and bias gets a gradient");
    }
}
