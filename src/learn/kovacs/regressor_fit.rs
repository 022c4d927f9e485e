//! Regressor training, k-fold epoch selection, prediction and persistence with plain
//! `ndarray` inputs and outputs.
//!
//! Targets are standardised with a [`Standardizer`] fitted on the training rows only; the
//! loss is the MSE in standardised units, and predictions are mapped back to target units.

use crate::learn::train::checkpoint::read_json;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::kovacs::regressor::{Regressor, RegressorConfig, Standardizer};
use crate::learn::stable_ids::save_model_dir;
use crate::learn::train::checkpoint::CheckpointConfig;
use crate::learn::train::cv::{CvSummary, k_folds, summarize};
use crate::learn::train::nadam::NadamConfig;
use crate::learn::train::policy::Policies;
use crate::learn::train::{
    BatchLoss, EpochRecord, LoopConfig, RunSpec, StepContext, TrainTask, run_epochs,
};

/// Everything that defines a regressor training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressorFitConfig {
    /// Input and target counts.
    pub model: RegressorConfig,
    /// Epoch loop (paper: 753 epochs, batch 16, learning rate 1e-4).
    pub schedule: LoopConfig,
    /// Optimizer hyper-parameters (paper: Keras Nadam).
    pub nadam: NadamConfig,
    /// Optional checkpointing / resume.
    pub checkpoint: Option<CheckpointConfig>,
}

impl Default for RegressorFitConfig {
    /// The paper's run: 512 → 6, 753 epochs, batch 16, Nadam with lr 1e-4.
    fn default() -> Self {
        Self {
            model: RegressorConfig::default(),
            schedule: LoopConfig {
                epochs: 753,
                batch_size: 16,
                learning_rate: 1e-4,
                seed: 0,
            },
            nadam: NadamConfig::default(),
            checkpoint: None,
        }
    }
}

/// A trained regressor with the target standardisation it was trained with.
#[derive(Debug, Clone)]
pub struct TrainedRegressor {
    /// Input and target counts.
    pub config: RegressorConfig,
    /// Target scaling fitted on the training rows.
    pub standardizer: Standardizer,
    model: Regressor,
    device: Device,
}

fn matrix_tensor(rows: ArrayView2<'_, f32>, device: &Device) -> Tensor<2> {
    let (n, d) = rows.dim();
    Tensor::from_data(
        TensorData::new(rows.iter().copied().collect::<Vec<f32>>(), [n, d]),
        device,
    )
}

fn check_inputs(
    config: &RegressorConfig,
    latents: ArrayView2<'_, f32>,
    targets: ArrayView2<'_, f32>,
    rows: &[usize],
) -> Result<(), LearnError> {
    if latents.ncols() != config.input_dim || targets.ncols() != config.targets {
        return Err(LearnError::Shape(format!(
            "latents {:?} / targets {:?} do not fit a {} → {} regressor",
            latents.shape(),
            targets.shape(),
            config.input_dim,
            config.targets
        )));
    }
    if latents.nrows() != targets.nrows() {
        return Err(LearnError::Shape(format!(
            "{} latent rows but {} target rows",
            latents.nrows(),
            targets.nrows()
        )));
    }
    if let Some(&bad) = rows.iter().find(|&&r| r >= latents.nrows()) {
        return Err(LearnError::Shape(format!(
            "row index {bad} out of range ({} rows)",
            latents.nrows()
        )));
    }
    let finite =
        |a: ArrayView2<'_, f32>| rows.iter().all(|&r| a.row(r).iter().all(|v| v.is_finite()));
    if !finite(latents) || !finite(targets) {
        return Err(LearnError::InvalidConfig(
            "latents and targets must be finite (NaN or Inf found)".into(),
        ));
    }
    Ok(())
}

struct RegressorTask<'a> {
    latents: ArrayView2<'a, f32>,
    scaled_targets: Array2<f32>,
}

impl TrainTask for RegressorTask<'_> {
    type Model = Regressor;
    type Batch = (Array2<f32>, Array2<f32>);

    fn load(&mut self, indices: &[usize]) -> Result<Self::Batch, LearnError> {
        Ok((
            self.latents.select(Axis(0), indices),
            self.scaled_targets.select(Axis(0), indices),
        ))
    }

    fn loss(
        &mut self,
        model: &Regressor,
        batch: Self::Batch,
        device: &Device,
        _: StepContext,
    ) -> BatchLoss {
        let (x, y) = batch;
        BatchLoss {
            total: model.forward_loss(
                matrix_tensor(x.view(), device),
                matrix_tensor(y.view(), device),
            ),
            parts: Vec::new(),
            tracked: None,
        }
    }
}

/// Trains the regressor on rows `train` of (`latents`, `targets`), reporting the validation
/// MSE (standardised units, train-fitted scaling) on rows `validation` after every epoch. A set
/// `cancel` flag stops it before the next epoch with [`LearnError::Cancelled`].
#[allow(clippy::too_many_arguments)] // data views, rows, cancel flag and callback are all distinct inputs
pub fn fit_regressor(
    device: &Device,
    config: &RegressorFitConfig,
    latents: ArrayView2<'_, f32>,
    targets: ArrayView2<'_, f32>,
    train: &[usize],
    validation: &[usize],
    cancel: Option<&AtomicBool>,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(TrainedRegressor, Vec<EpochRecord>), LearnError> {
    check_inputs(&config.model, latents, targets, train)?;
    check_inputs(&config.model, latents, targets, validation)?;
    if train.is_empty() {
        return Err(LearnError::InvalidConfig("no training rows".into()));
    }
    let standardizer = Standardizer::fit(targets.select(Axis(0), train).view())?;
    let fingerprint = serde_json::to_string(&(
        &config.model,
        config.schedule.batch_size,
        config.schedule.learning_rate,
        config.schedule.seed,
        &config.nadam,
        &standardizer,
    ))
    .map_err(|source| LearnError::Json {
        path: "<regressor fingerprint>".into(),
        source,
    })?;
    let mut task = RegressorTask {
        latents,
        scaled_targets: standardizer.transform(targets)?,
    };
    let model = config
        .model
        .init(&device.clone().autodiff(), config.schedule.seed)?;
    let spec = RunSpec {
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
        &spec,
        &Policies::default(),
        &mut |e| on_epoch(&e.record),
    )?;
    let trained = TrainedRegressor {
        config: config.model,
        standardizer,
        model: outcome.model.valid(),
        device: device.clone(),
    };
    Ok((trained, outcome.records()))
}

/// Four-fold (or `folds`-fold) cross-validation over `rows`: trains one fresh model per fold
/// for `config.schedule.epochs` epochs and averages the per-epoch validation curves. The
/// returned `best_epochs` is the epoch count to use for the final fit on all rows.
/// Checkpointing is disabled inside the folds.
#[allow(clippy::too_many_arguments)] // as fit_regressor, plus the fold count
pub fn cross_validate_regressor(
    device: &Device,
    config: &RegressorFitConfig,
    latents: ArrayView2<'_, f32>,
    targets: ArrayView2<'_, f32>,
    rows: &[usize],
    folds: usize,
    cancel: Option<&AtomicBool>,
    on_epoch: &mut dyn FnMut(usize, &EpochRecord),
) -> Result<CvSummary, LearnError> {
    let fold_config = RegressorFitConfig {
        checkpoint: None,
        ..config.clone()
    };
    let mut curves = Vec::with_capacity(folds);
    for (fold_index, fold) in k_folds(rows, folds, config.schedule.seed)?
        .iter()
        .enumerate()
    {
        let (_, history) = fit_regressor(
            device,
            &fold_config,
            latents,
            targets,
            &fold.train,
            &fold.validation,
            cancel,
            &mut |record| on_epoch(fold_index, record),
        )?;
        let curve = history
            .iter()
            .map(|r| {
                r.val_loss
                    .ok_or_else(|| LearnError::InvalidConfig("empty validation fold".into()))
            })
            .collect::<Result<Vec<f64>, LearnError>>()?;
        curves.push(curve);
    }
    summarize(curves)
}

const MODEL_FILE: &str = "regressor.bpk";
const META_FILE: &str = "regressor.json";

#[derive(Serialize, Deserialize)]
struct RegressorMeta {
    config: RegressorConfig,
    standardizer: Standardizer,
}

impl TrainedRegressor {
    /// Predictions `[n, targets]` in target units for latent codes `[n, input_dim]`.
    pub fn predict(&self, latents: ArrayView2<'_, f32>) -> Result<Array2<f32>, LearnError> {
        let (n, d) = latents.dim();
        if d != self.config.input_dim {
            return Err(LearnError::Shape(format!(
                "latents have {d} columns, the regressor expects {}",
                self.config.input_dim
            )));
        }
        let out = self.model.forward(matrix_tensor(latents, &self.device));
        let values = out
            .try_into_vec_as::<f32>()
            .map_err(|e| LearnError::TensorRead(format!("{e:?}")))?;
        let scaled = Array2::from_shape_vec((n, self.config.targets), values)
            .map_err(|e| LearnError::Shape(e.to_string()))?;
        self.standardizer.inverse(scaled.view())
    }

    /// Writes `regressor.bpk` (weights) and `regressor.json` (architecture + standardiser).
    pub fn save(&self, dir: &Path) -> Result<(), LearnError> {
        let meta = RegressorMeta {
            config: self.config,
            standardizer: self.standardizer.clone(),
        };
        save_model_dir(dir, MODEL_FILE, self.model.clone(), META_FILE, &meta)
    }

    /// Reads a model written by [`TrainedRegressor::save`] onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LearnError> {
        let meta_path = dir.join(META_FILE);
        let meta: RegressorMeta = read_json(&meta_path)?;
        let path = dir.join(MODEL_FILE);
        let model = meta
            .config
            .init(device, 0)?
            .try_load_file(&path)
            .map_err(|e| LearnError::record(&path, e))?;
        Ok(Self {
            config: meta.config,
            standardizer: meta.standardizer,
            model,
            device: device.clone(),
        })
    }
}

#[cfg(test)]
#[path = "regressor_fit_tests.rs"]
mod tests;
