//! Training of the Pollok et al. inverse-design CNNs: SGD with momentum and weight decay, a
//! learning rate decayed in steps of whole epochs, the RMSE loss, and the weights of the epoch
//! with the lowest validation RMSE as the result.
//!
//! Field maps and targets arrive batch by batch from a caller's loader, so datasets larger than
//! memory (60 000 × 2 × 224² floats ≈ 24 GB) stream from disk.
//!
//! Determinism: initial weights come from the device RNG seeded with a value derived from the
//! seed, under the process-wide device-RNG lock, materialised eagerly; the shuffle of epoch e
//! depends on (seed, e) only; EfficientNet's dropout and stochastic depth draw from the device
//! RNG re-seeded per (seed, epoch, batch). On flex with a fixed thread count the run is
//! bitwise reproducible; GPU backends are not.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, Array4, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::learn::device_rng::{init_seeded, with_seeded_rng};
use crate::learn::error::LearnError;
use crate::learn::pollok::cnn::{
    Architecture, DESIGN_PARAMETERS, FIELD_CHANNELS, InverseCnn, mse_loss,
};
use crate::learn::pollok::metrics::SquaredErrorSum;
use crate::learn::pollok::model::{
    InverseModelInfo, TrainedInverseCnn, design_array, fields_tensor,
};
use crate::learn::train::checkpoint::CheckpointConfig;
use crate::learn::train::policy::{LrSchedule, Policies};
use crate::learn::train::{
    BatchLoss, EpochRecord, LoopConfig, LossParts, RunSpec, StepContext, TrainTask, ValidationPass,
    derive_seed, minibatches, run_epochs,
};

/// Purpose tag of the weight-initialisation seed.
const INIT_TAG: u64 = 0x494E_4954;
/// Purpose tag of the per-batch dropout / stochastic-depth seeds.
const NOISE_TAG: u64 = 0x4E4F_4953;
/// PyTorch's SGD dampening default (burn's `MomentumConfig` defaults to 0.1).
const DAMPENING: f64 = 0.0;

/// Which part of the dataset a loader call is for; indices count from 0 within the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training samples `0..n_train`.
    Train,
    /// Validation samples `0..n_validation`.
    Validation,
}

/// Field maps `[batch, 2, h, w]` and design vectors `[batch, 5]` of the requested indices.
pub type FieldBatch = (Array4<f32>, Array2<f32>);

/// A caller's batch source: `loader(split, indices)` returns the [`FieldBatch`] of `indices`.
pub type FieldLoader<'a> = dyn FnMut(Split, &[usize]) -> Result<FieldBatch, LearnError> + 'a;

/// Hyper-parameters of a training run (defaults: the paper's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InverseFitConfig {
    /// Network architecture.
    pub arch: Architecture,
    /// Passes over the training set (paper: 100).
    pub epochs: usize,
    /// Samples per minibatch (paper: 60); also the validation/prediction chunk size.
    pub batch_size: usize,
    /// Initial learning rate (paper: 0.1).
    pub learning_rate: f64,
    /// The learning rate is multiplied by `lr_gamma` every this many epochs (paper: 30).
    pub lr_step_epochs: usize,
    /// Decay factor of the step schedule (paper: 0.1).
    pub lr_gamma: f64,
    /// SGD momentum, dampening 0 as in PyTorch (paper: 0.9).
    pub momentum: f64,
    /// L2 weight decay added to every gradient, PyTorch-style (paper: 1e-4).
    pub weight_decay: f64,
    /// Seed of initial weights, shuffles and dropout.
    pub seed: u64,
}

impl InverseFitConfig {
    /// The paper's settings for `arch`.
    pub fn paper(arch: Architecture) -> Self {
        Self {
            arch,
            epochs: 100,
            batch_size: 60,
            learning_rate: 0.1,
            lr_step_epochs: 30,
            lr_gamma: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            seed: 0,
        }
    }

    /// Learning rate of 1-based `epoch`: lr · γ^⌊(epoch − 1) / step⌋ (PyTorch `StepLR` stepped
    /// once per epoch; epochs 1–30 at 0.1, 31–60 at 0.01, ...).
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        let decays = epoch.saturating_sub(1) / self.lr_step_epochs.max(1);
        self.learning_rate
            * self
                .lr_gamma
                .powi(i32::try_from(decays).unwrap_or(i32::MAX))
    }

    /// SGD as PyTorch's `optim.SGD(momentum, weight_decay)`: g ← g + λθ; v ← μv + g (v = g at
    /// the first step); θ ← θ − lr·v.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let momentum = (self.momentum > 0.0).then(|| {
            MomentumConfig::new()
                .with_momentum(self.momentum)
                .with_dampening(DAMPENING)
                .with_nesterov(false)
        });
        let weight_decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        SgdConfig::new()
            .with_momentum(momentum)
            .with_weight_decay(weight_decay)
            .init()
    }

    fn validate(&self) -> Result<(), LearnError> {
        let problem = if self.epochs == 0 || self.batch_size == 0 || self.lr_step_epochs == 0 {
            Some("epochs, batch_size and lr_step_epochs must be at least 1")
        } else if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            Some("learning_rate must be positive")
        } else if !(self.lr_gamma.is_finite() && self.lr_gamma >= 0.0) {
            Some("lr_gamma must be finite and non-negative")
        } else if !(0.0..1.0).contains(&self.momentum) {
            Some("momentum must lie in [0, 1)")
        } else if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            Some("weight_decay must be finite and non-negative")
        } else {
            None
        };
        match problem {
            Some(reason) => Err(LearnError::InvalidConfig(format!("{reason}: {self:?}"))),
            None => Ok(()),
        }
    }
}

impl Default for InverseFitConfig {
    /// The paper's best-documented run: ResNet-50 with its SGD settings.
    fn default() -> Self {
        Self::paper(Architecture::ResNet50)
    }
}

/// The caller's loader plus the shape checks every batch goes through.
struct BatchSource<'a> {
    loader: &'a mut FieldLoader<'a>,
    input_size: Option<[usize; 2]>,
}

impl BatchSource<'_> {
    fn load(&mut self, split: Split, indices: &[usize]) -> Result<FieldBatch, LearnError> {
        let (fields, targets) = (self.loader)(split, indices)?;
        let (b, c, h, w) = fields.dim();
        if b != indices.len() || c != FIELD_CHANNELS || targets.dim() != (b, DESIGN_PARAMETERS) {
            return Err(LearnError::Shape(format!(
                "{split:?} batch of {} samples: fields {:?}, targets {:?}; expected \
                 [{}, {FIELD_CHANNELS}, h, w] and [{}, {DESIGN_PARAMETERS}]",
                indices.len(),
                fields.shape(),
                targets.shape(),
                indices.len(),
                indices.len()
            )));
        }
        match self.input_size {
            Some(size) if size != [h, w] => {
                return Err(LearnError::Shape(format!(
                    "{split:?} field maps are {h}×{w}, earlier batches {}×{}",
                    size[0], size[1]
                )));
            }
            _ => self.input_size = Some([h, w]),
        }
        if !fields.iter().chain(targets.iter()).all(|v| v.is_finite()) {
            return Err(LearnError::InvalidConfig(format!(
                "{split:?} batch contains NaN or Inf"
            )));
        }
        Ok((fields, targets))
    }
}

fn targets_tensor(targets: ArrayView2<'_, f32>, device: &Device) -> Tensor<2> {
    let (n, d) = targets.dim();
    Tensor::from_data(
        TensorData::new(targets.iter().copied().collect::<Vec<f32>>(), [n, d]),
        device,
    )
}

/// The inverse CNN as a [`TrainTask`]: batches from the caller's loader, the RMSE differentiated
/// with the MSE tracked (the epoch's training loss is √(Σ n_b·MSE_b / n)), per-batch noise for
/// the stochastic architectures, and the validation RMSE over all predictions.
struct InverseTask<'a, 'b> {
    source: &'a mut BatchSource<'b>,
    config: &'a InverseFitConfig,
}

impl TrainTask for InverseTask<'_, '_> {
    type Model = InverseCnn;
    type Batch = FieldBatch;

    fn load(&mut self, indices: &[usize]) -> Result<FieldBatch, LearnError> {
        self.source.load(Split::Train, indices)
    }

    fn loss(
        &mut self,
        model: &InverseCnn,
        (fields, targets): FieldBatch,
        device: &Device,
        ctx: StepContext,
    ) -> BatchLoss {
        let x = fields_tensor(fields.view(), device);
        let y = targets_tensor(targets.view(), device);
        let predictions = if self.config.arch.has_stochastic_layers() {
            let noise = derive_seed(
                self.config.seed,
                &[NOISE_TAG, ctx.epoch as u64, ctx.batch as u64],
            );
            with_seeded_rng(device, noise, || model.forward(x))
        } else {
            model.forward(x)
        };
        let mse = mse_loss(predictions, y);
        BatchLoss {
            total: mse.clone().sqrt(),
            parts: Vec::new(),
            tracked: Some(mse),
        }
    }

    fn epoch_loss(&self, weighted_mean: f64) -> f64 {
        weighted_mean.sqrt()
    }

    /// RMSE over the validation split with the inference-mode network (batches of `batch_size`,
    /// the chunking [`TrainedInverseCnn::predict`] uses, so the two agree bit for bit).
    fn validate(
        &mut self,
        network: &InverseCnn,
        pass: &ValidationPass<'_>,
    ) -> Result<(Option<f64>, LossParts), LearnError> {
        let mut squared = SquaredErrorSum::default();
        for batch in minibatches(pass.indices, pass.batch_size) {
            let (fields, targets) = self.source.load(Split::Validation, batch)?;
            let predictions =
                design_array(network.forward(fields_tensor(fields.view(), pass.device)))?;
            squared.add(predictions.view(), targets.view())?;
        }
        Ok((squared.rmse(), Vec::new()))
    }
}

/// Trains `config.arch` on `n_train` samples with the one epoch loop ([`run_epochs`]),
/// evaluating the RMSE on `n_validation` samples (inference mode) after every epoch, and returns
/// the network of the epoch with the lowest validation RMSE (the last epoch's when
/// `n_validation` is 0) with one record per epoch.
///
/// `loader(split, indices)` returns the field maps `[k, 2, h, w]` and targets `[k, 5]` of
/// `indices` (positions within the split); all batches must share `h × w`. With `checkpoint`,
/// the run writes a checkpoint every `every_epochs` epochs and after the last (layout of
/// [`crate::learn::train::checkpoint`]) and, when `resume` is set, continues from the newest one
/// written by a run of the same configuration and split sizes (the epoch count may grow); the
/// result is then bitwise that of an uninterrupted run. Records hold the training RMSE
/// √(Σ_batches n_b·MSE_b / n_train) of the epoch's running predictions in `train_loss` and the
/// validation RMSE in `val_loss`. A non-finite training loss aborts with
/// [`LearnError::Diverged`], a non-finite validation RMSE with [`LearnError::NonFinite`]. A set
/// `cancel` flag stops the run before the next epoch with [`LearnError::Cancelled`] (the last
/// checkpoint lets a rerun resume).
#[allow(clippy::too_many_arguments)] // sizes, checkpointing, loader, cancel flag and callback are distinct
pub fn fit_inverse_cnn(
    device: &Device,
    config: &InverseFitConfig,
    n_train: usize,
    n_validation: usize,
    checkpoint: Option<&CheckpointConfig>,
    loader: &mut FieldLoader<'_>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(TrainedInverseCnn, Vec<EpochRecord>), LearnError> {
    config.validate()?;
    if n_train == 0 {
        return Err(LearnError::InvalidConfig("no training samples".into()));
    }
    let train_device = device.clone().autodiff();
    let model = init_seeded(&train_device, derive_seed(config.seed, &[INIT_TAG]), || {
        config.arch.init(&train_device)
    })?;
    let mut source = BatchSource {
        loader,
        input_size: None,
    };
    let train: Vec<usize> = (0..n_train).collect();
    let validation: Vec<usize> = (0..n_validation).collect();
    let loop_config = LoopConfig {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        seed: config.seed,
    };
    let fingerprint = run_fingerprint(config, n_train, n_validation)?;
    let spec = RunSpec {
        device,
        config: &loop_config,
        train: &train,
        validation: &validation,
        checkpoint,
        fingerprint: &fingerprint,
        cancel,
    };
    let policies = Policies {
        schedule: LrSchedule::Step {
            every_epochs: config.lr_step_epochs,
            gamma: config.lr_gamma,
        },
        keep_best: true,
        early_stopping: None,
    };
    let mut task = InverseTask {
        source: &mut source,
        config,
    };
    let outcome = run_epochs(
        &mut task,
        model,
        config.optimizer(),
        &spec,
        &policies,
        &mut |e| on_epoch(&e.record),
    )?;
    let history = outcome.records();
    let (best_epoch, network) = outcome.selected();
    let input_size = match source.input_size {
        Some(size) => size,
        // Every epoch was restored from a checkpoint: read the size off one training sample.
        None => {
            source.load(Split::Train, &[0])?;
            source.input_size.ok_or_else(|| {
                LearnError::Shape("the training split yields no field maps".into())
            })?
        }
    };
    let info = InverseModelInfo {
        arch: config.arch,
        input_size,
        best_epoch,
        prediction_batch: config.batch_size,
    };
    Ok((
        TrainedInverseCnn::new(info, network, device.clone()),
        history,
    ))
}

/// Identity of a run for resuming: every setting but the number of epochs (a run may be
/// resumed with more epochs), plus the split sizes.
fn run_fingerprint(
    config: &InverseFitConfig,
    n_train: usize,
    n_validation: usize,
) -> Result<String, LearnError> {
    #[derive(Serialize)]
    struct Identity<'a> {
        config: &'a InverseFitConfig,
        n_train: usize,
        n_validation: usize,
    }
    let config = InverseFitConfig {
        epochs: 0,
        ..config.clone()
    };
    serde_json::to_string(&Identity {
        config: &config,
        n_train,
        n_validation,
    })
    .map_err(|source| LearnError::Json {
        path: "<inverse CNN fingerprint>".into(),
        source,
    })
}

#[cfg(test)]
#[path = "fit_tests.rs"]
mod tests;
