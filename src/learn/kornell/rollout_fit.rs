//! Training, recursive curve prediction and persistence of the Kornell et al. latent predictor
//! with the l-step recursive loss (eqs. 10–12) and the eq. (8) sample weights.
//!
//! The paper's procedure (§4.1, §4.3): Nadam with initial learning rate 1e-4, batch 64, 20 % of
//! the training windows held out for validation, Keras `ReduceLROnPlateau` and early stopping
//! on the validation loss. The callbacks' settings are not given; see
//! [`crate::learn::train::policy`] for the defaults chosen. The loss of a batch is Σ_b w_b·L_PRED,b / B
//! (Keras's reduction of weighted per-sample losses); the validation loss is weighted the same
//! way, as Keras weights a `validation_split` with the split-off sample weights.

use crate::learn::train::checkpoint::read_json;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::init::he::he_normal_init;
use crate::learn::kornell::rollout::{
    DEFAULT_HIDDEN, LatentPredictor, LatentPredictorConfig, RolloutWindows,
    recursive_loss_per_sample,
};
use crate::learn::kornell::rollout_windows::{
    FieldFeed, SimSequence, Window, WindowBatch, WindowLayout, WindowWeight, check_sims,
    enumerate_windows, gather,
};
use crate::learn::nets::dense::OutputActivation;
use crate::learn::stable_ids::save_model_dir;
use crate::learn::train::checkpoint::CheckpointConfig;
use crate::learn::train::nadam::NadamConfig;
use crate::learn::train::policy::MonitorSettings;
use crate::learn::train::policy::{EarlyStoppingConfig, ReduceLrOnPlateauConfig};
use crate::learn::train::sample_weighting::weighted_batch_mean;
use crate::learn::train::validation_split::split_validation;
use crate::learn::train::{BatchLoss, LoopConfig, RunSpec, StepContext, TrainTask};
use crate::learn::train::{Epoch, run_epochs};

/// Name of the unweighted mean L_PRED part in the epoch records.
pub const UNWEIGHTED_PART: &str = "unweighted";
/// The paper's sweep amplitude (tesla): fields ±8 T map to ±1.
pub const DEFAULT_FIELD_SCALE: f32 = 8.0;

/// Which windows are held out for validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutValidation {
    /// A seeded random fraction of all windows (the paper's 20 %; neighbouring windows of one
    /// curve overlap, so this validates interpolation along known curves).
    RandomWindows {
        /// Held-out fraction in [0, 1).
        fraction: f64,
    },
    /// Every window of the listed simulations (validates on unseen microstructures).
    Simulations {
        /// Indices into the simulation list.
        sims: Vec<usize>,
    },
}

/// Architecture and input scaling of a predictor (what [`TrainedRollout::save`] stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    /// t: known states per prediction.
    pub history_len: usize,
    /// d: latent dimension.
    pub latent_dim: usize,
    /// Hidden ELU layer widths.
    pub hidden: Vec<usize>,
    /// `false`: ELU output layer (paper: ELU everywhere); `true`: linear output.
    pub linear_output: bool,
    /// Fields are divided by this before entering the network.
    pub field_scale: f32,
    /// The network predicts the increment over the newest state (absent in older saves: false).
    #[serde(default)]
    pub increment: bool,
}

/// Everything that defines a predictor training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutFitConfig {
    /// t: known states per window.
    pub t: usize,
    /// l: recursive steps in the loss.
    pub l: usize,
    /// Hidden ELU layer widths (not given in the paper).
    pub hidden: Vec<usize>,
    /// Linear instead of ELU output layer.
    pub linear_output: bool,
    /// Field normalisation (default 8: tesla → [−1, 1]).
    pub field_scale: f32,
    /// Predict e^(i) − e^(i−1) instead of e^(i) (see [`crate::learn::kornell::rollout`]).
    pub increment: bool,
    /// Field per recursive step in training windows.
    pub field_feed: FieldFeed,
    /// Which eq. (8) weight a window carries.
    pub window_weight: WindowWeight,
    /// Held-out windows.
    pub validation: RolloutValidation,
    /// Epoch loop: `epochs` is the maximum, `learning_rate` the initial rate.
    pub schedule: LoopConfig,
    /// Optimizer hyper-parameters.
    pub nadam: NadamConfig,
    /// Plateau schedule and early stopping.
    pub monitor: MonitorSettings,
    /// Optional checkpointing / resume.
    pub checkpoint: Option<CheckpointConfig>,
}

impl RolloutFitConfig {
    /// The paper's procedure for (t, l): batch 64, Nadam lr 1e-4, 20 % random validation
    /// windows, plateau schedule and early stopping with the defaults of
    /// [`crate::learn::train::policy`], at most `max_epochs` epochs; [`DEFAULT_HIDDEN`] ELU layers,
    /// advancing fields scaled by 8 T, first-target weights, seed 0.
    pub fn paper(t: usize, l: usize, max_epochs: usize) -> Self {
        Self {
            t,
            l,
            hidden: DEFAULT_HIDDEN.to_vec(),
            linear_output: false,
            field_scale: DEFAULT_FIELD_SCALE,
            increment: false,
            field_feed: FieldFeed::Advancing,
            window_weight: WindowWeight::FirstTarget,
            validation: RolloutValidation::RandomWindows { fraction: 0.2 },
            schedule: LoopConfig {
                epochs: max_epochs,
                batch_size: 64,
                learning_rate: 1e-4,
                seed: 0,
            },
            nadam: NadamConfig::default(),
            monitor: MonitorSettings {
                plateau: Some(ReduceLrOnPlateauConfig::default()),
                early_stopping: Some(EarlyStoppingConfig::default()),
            },
            checkpoint: None,
        }
    }

    fn layout(&self) -> WindowLayout {
        WindowLayout {
            history_len: self.t,
            rollout_len: self.l,
            field_feed: self.field_feed,
            window_weight: self.window_weight,
            field_scale: self.field_scale,
        }
    }
}

/// A trained latent predictor ready for recursive inference on its device.
#[derive(Debug, Clone)]
pub struct TrainedRollout {
    /// Architecture and field scaling.
    pub spec: RolloutSpec,
    /// Epoch whose weights the model holds (the best one with early stopping).
    pub selected_epoch: usize,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    model: LatentPredictor,
    device: Device,
}

fn predictor_config(spec: &RolloutSpec) -> LatentPredictorConfig {
    LatentPredictorConfig {
        history_len: spec.history_len,
        latent_dim: spec.latent_dim,
        hidden: spec.hidden.clone(),
        output_activation: if spec.linear_output {
            OutputActivation::Identity
        } else {
            OutputActivation::Elu
        },
        increment: spec.increment,
    }
}

fn model_error(e: impl std::fmt::Display) -> LearnError {
    LearnError::InvalidConfig(e.to_string())
}

struct RolloutTask<'a> {
    sims: &'a [SimSequence],
    windows: Vec<Window>,
    layout: WindowLayout,
    latent_dim: usize,
}

impl TrainTask for RolloutTask<'_> {
    type Model = LatentPredictor;
    type Batch = WindowBatch;

    fn load(&mut self, indices: &[usize]) -> Result<WindowBatch, LearnError> {
        let windows: Vec<Window> = indices.iter().map(|&i| self.windows[i]).collect();
        Ok(gather(self.sims, &windows, &self.layout))
    }

    fn loss(
        &mut self,
        model: &LatentPredictor,
        batch: WindowBatch,
        device: &Device,
        _: StepContext,
    ) -> BatchLoss {
        let (b, t, l, d) = (
            batch.len,
            self.layout.history_len,
            self.layout.rollout_len,
            self.latent_dim,
        );
        let windows = RolloutWindows {
            history: Tensor::from_data(TensorData::new(batch.history, [b, t, d]), device),
            fields: Tensor::from_data(TensorData::new(batch.fields, [b, l]), device),
            targets: Tensor::from_data(TensorData::new(batch.targets, [b, l, d]), device),
        };
        let weights = Tensor::from_data(TensorData::new(batch.weights, [b]), device);
        let per_sample = recursive_loss_per_sample(model, windows)
            .expect("window shapes follow the validated t, l and d");
        let total = weighted_batch_mean(per_sample.clone(), weights)
            .expect("one weight per window by construction");
        BatchLoss {
            total,
            parts: vec![(UNWEIGHTED_PART, per_sample.mean())],
            tracked: None,
        }
    }
}

/// Window indices for training and validation.
fn split_windows(
    windows: &[Window],
    validation: &RolloutValidation,
    sims: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), LearnError> {
    let all: Vec<usize> = (0..windows.len()).collect();
    match validation {
        RolloutValidation::RandomWindows { fraction } => {
            let split = split_validation(&all, *fraction, seed)?;
            Ok((split.train, split.validation))
        }
        RolloutValidation::Simulations { sims: held } => {
            if let Some(bad) = held.iter().find(|&&s| s >= sims) {
                return Err(LearnError::InvalidConfig(format!(
                    "validation simulation {bad} does not exist ({sims} simulations)"
                )));
            }
            Ok(all
                .into_iter()
                .partition(|&i| !held.contains(&windows[i].sim)))
        }
    }
}

/// Trains the latent predictor on windows cut from `sims` (see
/// [`crate::learn::kornell::rollout_windows`]), calling `on_epoch` after each epoch. Initial weights
/// come from `config.schedule.seed` alone. Returns the inference model (the best validation
/// epoch's weights when early stopping is on) and one record per epoch, each with the learning
/// rate it used; `record.train_parts` holds the unweighted mean L_PRED as
/// [`UNWEIGHTED_PART`], `val_parts` its validation counterpart.
pub fn fit_rollout(
    device: &Device,
    config: &RolloutFitConfig,
    sims: &[SimSequence],
    cancel: Option<&AtomicBool>,
    on_epoch: &mut dyn FnMut(&Epoch),
) -> Result<(TrainedRollout, Vec<Epoch>), LearnError> {
    let latent_dim = check_sims(sims)?;
    if config.t == 0 || config.l == 0 {
        return Err(LearnError::InvalidConfig(format!(
            "t and l must be >= 1, got t = {}, l = {}",
            config.t, config.l
        )));
    }
    if !(config.field_scale.is_finite() && config.field_scale > 0.0) {
        return Err(LearnError::InvalidConfig(format!(
            "field_scale must be positive, got {}",
            config.field_scale
        )));
    }
    let windows = enumerate_windows(sims, config.t, config.l);
    if windows.is_empty() {
        return Err(LearnError::InvalidConfig(format!(
            "no simulation has the t + l = {} steps a window needs",
            config.t + config.l
        )));
    }
    let (train, validation) = split_windows(
        &windows,
        &config.validation,
        sims.len(),
        config.schedule.seed,
    )?;
    let spec = RolloutSpec {
        history_len: config.t,
        latent_dim,
        hidden: config.hidden.clone(),
        linear_output: config.linear_output,
        field_scale: config.field_scale,
        increment: config.increment,
    };
    let fingerprint = serde_json::to_string(&(
        &spec,
        config.l,
        config.field_feed,
        config.window_weight,
        &config.validation,
        config.schedule.batch_size,
        config.schedule.learning_rate,
        config.schedule.seed,
        &config.nadam,
    ))
    .map_err(|source| LearnError::Json {
        path: "<rollout fingerprint>".into(),
        source,
    })?;
    let model = predictor_config(&spec)
        .init(&device.clone().autodiff())
        .map_err(model_error)?;
    let model = he_normal_init(model, config.schedule.seed);
    // increment form: the untrained step is the identity (see the rollout module docs)
    let model = if config.increment {
        model.with_zero_output_layer()
    } else {
        model
    };
    tracing::info!(
        windows = windows.len(),
        train = train.len(),
        validation = validation.len(),
        t = config.t,
        l = config.l,
        "training the latent predictor"
    );
    let mut task = RolloutTask {
        sims,
        windows,
        layout: config.layout(),
        latent_dim,
    };
    let run = RunSpec {
        device,
        config: &config.schedule,
        train: &train,
        validation: &validation,
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
        on_epoch,
    )?;
    let stopped_early = outcome.stopped_early;
    let history = outcome.history.clone();
    let (selected_epoch, model) = outcome.selected();
    let trained = TrainedRollout {
        spec,
        selected_epoch,
        stopped_early,
        model,
        device: device.clone(),
    };
    Ok((trained, history))
}

const MODEL_FILE: &str = "rollout.bpk";
const SPEC_FILE: &str = "rollout.json";

/// What [`TrainedRollout::save`] writes next to the weights.
#[derive(Serialize, Deserialize)]
struct RolloutMeta {
    spec: RolloutSpec,
    selected_epoch: usize,
    stopped_early: bool,
}

impl TrainedRollout {
    /// Predicts a whole curve recursively from its first t encoded states `(t, d)` and the
    /// field of every step `(S)` (same unit as in training): row j < t of the result `(S, d)`
    /// is the given state, row j ≥ t is P(H^(j−1), rows j−t … j−1), every prediction being fed
    /// back as input.
    pub fn predict_curve(
        &self,
        first_t_latents: ArrayView2<'_, f32>,
        fields: ArrayView1<'_, f32>,
    ) -> Result<Array2<f32>, LearnError> {
        let (t, d) = (self.spec.history_len, self.spec.latent_dim);
        let steps = fields.len();
        if first_t_latents.dim() != (t, d) || steps < t {
            return Err(LearnError::Shape(format!(
                "predict_curve needs ({t}, {d}) starting states and at least {t} fields, got {:?} \
                 and {steps}",
                first_t_latents.shape()
            )));
        }
        if !first_t_latents.iter().chain(&fields).all(|v| v.is_finite()) {
            return Err(LearnError::InvalidConfig(
                "starting states and fields must be finite".into(),
            ));
        }
        let mut curve = first_t_latents.to_owned();
        if steps == t {
            return Ok(curve);
        }
        let history = Tensor::<3>::from_data(
            TensorData::new(first_t_latents.iter().copied().collect(), [1, t, d]),
            &self.device,
        );
        let scaled: Vec<f32> = fields
            .iter()
            .skip(t - 1)
            .take(steps - t)
            .map(|h| h / self.spec.field_scale)
            .collect();
        let feed = Tensor::<2>::from_data(TensorData::new(scaled, [1, steps - t]), &self.device);
        let predicted = self.model.rollout(history, feed).map_err(model_error)?;
        let values = predicted
            .try_into_vec_as::<f32>()
            .map_err(|e| LearnError::TensorRead(format!("{e:?}")))?;
        let predicted = Array2::from_shape_vec((steps - t, d), values)
            .map_err(|e| LearnError::Shape(e.to_string()))?;
        curve
            .append(Axis(0), predicted.view())
            .map_err(|e| LearnError::Shape(e.to_string()))?;
        Ok(curve)
    }

    /// Writes `rollout.bpk` (weights) and `rollout.json` (spec, selected epoch) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnError> {
        let meta = RolloutMeta {
            spec: self.spec.clone(),
            selected_epoch: self.selected_epoch,
            stopped_early: self.stopped_early,
        };
        save_model_dir(dir, MODEL_FILE, self.model.clone(), SPEC_FILE, &meta)
    }

    /// Reads a model written by [`TrainedRollout::save`] onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LearnError> {
        let meta_path = dir.join(SPEC_FILE);
        let meta: RolloutMeta = read_json(&meta_path)?;
        let path = dir.join(MODEL_FILE);
        let model = predictor_config(&meta.spec)
            .init(device)
            .map_err(model_error)?
            .try_load_file(&path)
            .map_err(|e| LearnError::record(&path, e))?;
        Ok(Self {
            spec: meta.spec,
            selected_epoch: meta.selected_epoch,
            stopped_early: meta.stopped_early,
            model,
            device: device.clone(),
        })
    }
}

#[cfg(test)]
#[path = "rollout_fit_tests.rs"]
mod tests;
