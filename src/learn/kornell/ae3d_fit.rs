//! Training, encoding, decoding and persistence of the Kornell et al. autoencoder (Table 1,
//! loss eq. 9) with plain `ndarray` inputs and outputs.
//!
//! States are grain magnetizations in the paper's channels-last layout `(N, 4, 4, 4, 3)`
//! (grain indices i, j, k, then m_x, m_y, m_z); latent codes are `(N, 16)`.
//!
//! Recorded per epoch (Figure 5): besides the differentiated loss a1·L_MSE + a2·L_Norm, the
//! two terms unweighted, each the batch mean of the per-state sums of eq. (9) (L_MSE sums 192
//! squared differences, L_Norm 64 squared norm defects), on the training batches and on the
//! validation rows.

use crate::learn::train::checkpoint::read_json;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, Array5, ArrayView2, ArrayView5, Axis};
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::init::he::he_normal_init;
use crate::learn::kornell::ae3d::{
    Autoencoder3d, Autoencoder3dConfig, COMPONENTS, GRID, LATENT_DIM, ReconstructionLossWeights,
    reconstruction_terms,
};
use crate::learn::nets::dense::OutputActivation;
use crate::learn::stable_ids::save_model_dir;
use crate::learn::train::checkpoint::CheckpointConfig;
use crate::learn::train::nadam::NadamConfig;
use crate::learn::train::policy::MonitorSettings;
use crate::learn::train::{BatchLoss, LoopConfig, RunSpec, StepContext, TrainTask};
use crate::learn::train::{Epoch, run_epochs};

/// Values per state: 4·4·4 grains × 3 components.
const STATE_LEN: usize = GRID * GRID * GRID * COMPONENTS;
/// Rows per forward pass in [`TrainedAe3d`]'s inference methods.
pub const INFERENCE_CHUNK: usize = 1024;
/// Name of the L_MSE part in the epoch records.
const SQUARED_ERROR: &str = "squared_error";
/// Name of the L_Norm part in the epoch records.
const NORM_ERROR: &str = "norm_error";

/// Architecture and loss weighting of a trained autoencoder (what [`TrainedAe3d::save`] stores).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ae3dSpec {
    /// Weight a1 of L_MSE in eq. (9).
    pub a1: f64,
    /// Weight a2 of L_Norm in eq. (9).
    pub a2: f64,
    /// `false`: ELU on the reconstruction layer, as the paper states for all layers; `true`:
    /// a linear reconstruction layer.
    pub linear_output: bool,
}

/// Everything that defines an autoencoder training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ae3dFitConfig {
    /// Loss weights and output layer.
    pub spec: Ae3dSpec,
    /// Epoch loop (paper: batch 64, Nadam learning rate 1e-4; the epoch count is not given).
    pub schedule: LoopConfig,
    /// Optimizer hyper-parameters (paper: TensorFlow 2 Nadam).
    pub nadam: NadamConfig,
    /// Plateau schedule / early stopping; both off by default so that the per-epoch curves of
    /// different (a1, a2) cover the same epochs, as in Figure 5.
    pub monitor: MonitorSettings,
    /// Optional checkpointing / resume.
    pub checkpoint: Option<CheckpointConfig>,
}

impl Ae3dFitConfig {
    /// The paper's setting for loss weights (a1, a2): ELU output, batch 64, Nadam (Keras
    /// defaults) with learning rate 1e-4, `epochs` epochs, seed 0, no plateau schedule or early
    /// stopping, no checkpoints.
    pub fn paper(a1: f64, a2: f64, epochs: usize) -> Self {
        Self {
            spec: Ae3dSpec {
                a1,
                a2,
                linear_output: false,
            },
            schedule: LoopConfig {
                epochs,
                batch_size: 64,
                learning_rate: 1e-4,
                seed: 0,
            },
            nadam: NadamConfig::default(),
            monitor: MonitorSettings::default(),
            checkpoint: None,
        }
    }
}

/// Losses of one autoencoder epoch (Figure 5 plots the four error columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ae3dEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate of the epoch's updates.
    pub learning_rate: f64,
    /// Mean a1·L_MSE + a2·L_Norm over the training batches (the optimized quantity).
    pub train_loss: f64,
    /// Mean L_MSE over the training batches.
    pub train_squared_error: f64,
    /// Mean L_Norm over the training batches.
    pub train_norm_error: f64,
    /// Mean a1·L_MSE + a2·L_Norm on the validation rows after the epoch.
    pub val_loss: Option<f64>,
    /// Mean L_MSE on the validation rows.
    pub val_squared_error: Option<f64>,
    /// Mean L_Norm on the validation rows.
    pub val_norm_error: Option<f64>,
    /// Wall-clock seconds of the epoch (informational; not serialized, so that the history
    /// artifact is reproducible bit for bit).
    #[serde(skip)]
    pub seconds: f64,
}

fn part(parts: &[(String, f64)], name: &str) -> Option<f64> {
    parts.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

impl Ae3dEpoch {
    fn from_monitored(m: &Epoch) -> Self {
        let r = &m.record;
        Self {
            epoch: r.epoch,
            learning_rate: m.learning_rate,
            train_loss: r.train_loss,
            train_squared_error: part(&r.train_parts, SQUARED_ERROR).unwrap_or(f64::NAN),
            train_norm_error: part(&r.train_parts, NORM_ERROR).unwrap_or(f64::NAN),
            val_loss: r.val_loss,
            val_squared_error: part(&m.val_parts, SQUARED_ERROR),
            val_norm_error: part(&m.val_parts, NORM_ERROR),
            seconds: r.seconds,
        }
    }
}

/// A trained autoencoder ready for inference on its device.
#[derive(Debug, Clone)]
pub struct TrainedAe3d {
    /// Loss weights it was trained with and its output layer.
    pub spec: Ae3dSpec,
    model: Autoencoder3d,
    device: Device,
}

fn model_config(spec: &Ae3dSpec) -> Autoencoder3dConfig {
    Autoencoder3dConfig {
        output_activation: if spec.linear_output {
            OutputActivation::Identity
        } else {
            OutputActivation::Elu
        },
    }
}

/// Checks the `(N, 4, 4, 4, 3)` layout and that `rows` exist and hold finite values.
fn check_states(states: ArrayView5<'_, f32>, rows: &[usize]) -> Result<(), LearnError> {
    if states.shape()[1..] != [GRID, GRID, GRID, COMPONENTS] {
        return Err(LearnError::Shape(format!(
            "states are {:?}, the autoencoder expects (N, 4, 4, 4, 3)",
            states.shape()
        )));
    }
    if let Some(&bad) = rows.iter().find(|&&r| r >= states.len_of(Axis(0))) {
        return Err(LearnError::Shape(format!(
            "row index {bad} out of range ({} states)",
            states.len_of(Axis(0))
        )));
    }
    let finite = rows
        .iter()
        .all(|&r| states.index_axis(Axis(0), r).iter().all(|v| v.is_finite()));
    if !finite {
        return Err(LearnError::InvalidConfig(
            "states must be finite (NaN or Inf found)".into(),
        ));
    }
    Ok(())
}

/// States `rows` of `states` in burn's channels-first order `[b, 3, 4, 4, 4]`, flattened.
fn channels_first(states: ArrayView5<'_, f32>, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * STATE_LEN);
    for &row in rows {
        let state = states.index_axis(Axis(0), row);
        out.extend(state.permuted_axes([3, 0, 1, 2]).iter().copied());
    }
    out
}

fn states_tensor(values: Vec<f32>, device: &Device) -> Tensor<5> {
    let n = values.len() / STATE_LEN;
    Tensor::from_data(
        TensorData::new(values, [n, COMPONENTS, GRID, GRID, GRID]),
        device,
    )
}

fn read_values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, LearnError> {
    tensor
        .try_into_vec_as::<f32>()
        .map_err(|e| LearnError::TensorRead(format!("{e:?}")))
}

struct Ae3dTask<'a> {
    states: ArrayView5<'a, f32>,
    weights: ReconstructionLossWeights,
}

impl TrainTask for Ae3dTask<'_> {
    type Model = Autoencoder3d;
    type Batch = Vec<f32>;

    fn load(&mut self, indices: &[usize]) -> Result<Vec<f32>, LearnError> {
        Ok(channels_first(self.states, indices))
    }

    fn loss(
        &mut self,
        model: &Autoencoder3d,
        batch: Vec<f32>,
        device: &Device,
        _: StepContext,
    ) -> BatchLoss {
        let states = states_tensor(batch, device);
        let terms = reconstruction_terms(model.forward(states.clone()), states);
        BatchLoss {
            total: terms.weighted(self.weights).mean(),
            parts: vec![
                (SQUARED_ERROR, terms.squared_error.mean()),
                (NORM_ERROR, terms.norm_error.mean()),
            ],
            tracked: None,
        }
    }
}

/// Trains the autoencoder on states `train` of `states` (`(N, 4, 4, 4, 3)`), evaluating on
/// `validation` after every epoch ([`crate::learn::train::validation_split::split_validation`] draws
/// the paper's seeded 20 %). Initial weights come from `config.schedule.seed` alone.
///
/// `device` is the plain device; training uses its autodiff version. Returns the inference
/// model (the last epoch's, or the best epoch's with early stopping) and one record per epoch.
pub fn fit_ae3d(
    device: &Device,
    config: &Ae3dFitConfig,
    states: ArrayView5<'_, f32>,
    train: &[usize],
    validation: &[usize],
    cancel: Option<&AtomicBool>,
    on_epoch: &mut dyn FnMut(&Ae3dEpoch),
) -> Result<(TrainedAe3d, Vec<Ae3dEpoch>), LearnError> {
    check_states(states, train)?;
    check_states(states, validation)?;
    let spec = config.spec;
    let weights_ok = spec.a1.is_finite()
        && spec.a2.is_finite()
        && spec.a1 >= 0.0
        && spec.a2 >= 0.0
        && spec.a1 + spec.a2 > 0.0;
    if !weights_ok {
        return Err(LearnError::InvalidConfig(format!(
            "loss weights must be finite, non-negative and not both zero, got a1 = {}, a2 = {}",
            spec.a1, spec.a2
        )));
    }
    let fingerprint = serde_json::to_string(&(
        &spec,
        config.schedule.batch_size,
        config.schedule.learning_rate,
        config.schedule.seed,
        &config.nadam,
    ))
    .map_err(|source| LearnError::Json {
        path: "<ae3d fingerprint>".into(),
        source,
    })?;
    let model = he_normal_init(
        model_config(&spec).init(&device.clone().autodiff()),
        config.schedule.seed,
    );
    let mut task = Ae3dTask {
        states,
        weights: ReconstructionLossWeights {
            a1: spec.a1,
            a2: spec.a2,
        },
    };
    let run = RunSpec {
        device,
        config: &config.schedule,
        train,
        validation,
        checkpoint: config.checkpoint.as_ref(),
        fingerprint: &fingerprint,
        cancel,
    };
    let outcome = run_epochs(
        &mut task,
        model,
        config.nadam.init(),
        &run,
        &config.monitor.into(),
        &mut |m| on_epoch(&Ae3dEpoch::from_monitored(m)),
    )?;
    let history = outcome
        .history
        .iter()
        .map(Ae3dEpoch::from_monitored)
        .collect();
    let (_, model) = outcome.selected();
    let trained = TrainedAe3d {
        spec,
        model,
        device: device.clone(),
    };
    Ok((trained, history))
}

const MODEL_FILE: &str = "ae3d.bpk";
const SPEC_FILE: &str = "ae3d.json";

impl TrainedAe3d {
    /// Latent codes `(N, 16)` of states `(N, 4, 4, 4, 3)`, [`INFERENCE_CHUNK`] rows at a time.
    pub fn encode(&self, states: ArrayView5<'_, f32>) -> Result<Array2<f32>, LearnError> {
        let n = states.len_of(Axis(0));
        let rows: Vec<usize> = (0..n).collect();
        check_states(states, &rows)?;
        let mut values = Vec::with_capacity(n * LATENT_DIM);
        for chunk in rows.chunks(INFERENCE_CHUNK) {
            let input = states_tensor(channels_first(states, chunk), &self.device);
            values.extend(read_values(self.model.encode(input))?);
        }
        Array2::from_shape_vec((n, LATENT_DIM), values)
            .map_err(|e| LearnError::Shape(e.to_string()))
    }

    /// States `(N, 4, 4, 4, 3)` decoded from latent codes `(N, 16)`.
    pub fn decode(&self, latents: ArrayView2<'_, f32>) -> Result<Array5<f32>, LearnError> {
        let (n, d) = latents.dim();
        if d != LATENT_DIM {
            return Err(LearnError::Shape(format!(
                "latent codes have {d} columns, the autoencoder expects {LATENT_DIM}"
            )));
        }
        let mut values = Vec::with_capacity(n * STATE_LEN);
        for chunk in latents.axis_chunks_iter(Axis(0), INFERENCE_CHUNK) {
            let rows = chunk.nrows();
            let data = TensorData::new(chunk.iter().copied().collect::<Vec<f32>>(), [rows, d]);
            let decoded = self.model.decode(Tensor::from_data(data, &self.device));
            values.extend(read_values(decoded)?);
        }
        let first = Array5::from_shape_vec((n, COMPONENTS, GRID, GRID, GRID), values)
            .map_err(|e| LearnError::Shape(e.to_string()))?;
        Ok(first
            .permuted_axes([0, 2, 3, 4, 1])
            .as_standard_layout()
            .into_owned())
    }

    /// Reconstructions `(N, 4, 4, 4, 3)` of states `(N, 4, 4, 4, 3)` (decode ∘ encode).
    pub fn reconstruct(&self, states: ArrayView5<'_, f32>) -> Result<Array5<f32>, LearnError> {
        self.decode(self.encode(states)?.view())
    }

    /// Writes `ae3d.bpk` (weights) and `ae3d.json` (loss weights, output layer) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnError> {
        save_model_dir(dir, MODEL_FILE, self.model.clone(), SPEC_FILE, &self.spec)
    }

    /// Reads a model written by [`TrainedAe3d::save`] onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LearnError> {
        let spec_path = dir.join(SPEC_FILE);
        let spec: Ae3dSpec = read_json(&spec_path)?;
        let path = dir.join(MODEL_FILE);
        let model = model_config(&spec)
            .init(device)
            .try_load_file(&path)
            .map_err(|e| LearnError::record(&path, e))?;
        Ok(Self {
            spec,
            model,
            device: device.clone(),
        })
    }
}

#[cfg(test)]
#[path = "ae3d_fit_tests.rs"]
mod tests;
