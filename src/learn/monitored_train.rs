//! Epoch loop with a validation monitor: the [`crate::learn::train::run_epochs`] loop plus a
//! learning rate that follows [`ReduceLrOnPlateauConfig`], early stopping that returns the best
//! epoch's weights ([`EarlyStoppingConfig`]), and the named loss parts of the validation pass.
//!
//! It reuses [`TrainTask`], [`RunSpec`] (its `config.learning_rate` is the *initial* rate), the
//! seeded shuffles and the checkpoint files of [`crate::learn::checkpoint`]. Next to each
//! checkpoint it writes, before the checkpoint's JSON commits it:
//! - `monitor-NNNNNN.json`: the validation parts of epochs 1..=N (f64 bit patterns);
//! - `best-BBBBBB.model.bpk`: the best epoch's weights, with early stopping.
//!
//! The learning rate and the early-stopping state are not stored: they are a pure function of
//! the validation losses in the checkpoint's history and are rebuilt with
//! [`ValidationMonitor::replay`], so a resumed run continues bit for bit.

use crate::learn::checkpoint::read_json;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, CheckpointMeta, write_json_atomic};
use super::error::LearnError;
use super::plateau::{EarlyStoppingConfig, ReduceLrOnPlateauConfig, ValidationMonitor};
use super::train::{
    EpochRecord, RunSpec, StepContext, TrainTask, check_cancel, minibatches, read_scalar, shuffled,
};

/// Named loss parts with their sample-weighted means.
pub type LossParts = Vec<(String, f64)>;

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoredEpoch {
    /// Losses as [`crate::learn::train::run_epochs`] records them (`val_loss` included).
    pub record: EpochRecord,
    /// Sample-weighted means of the named loss parts over the validation pass (empty without
    /// validation rows).
    pub val_parts: LossParts,
    /// Learning rate used for this epoch's updates.
    pub learning_rate: f64,
}

/// The plateau schedule and early stopping of a monitored run (both optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorSettings {
    /// Reduce the learning rate when the validation loss stalls.
    pub plateau: Option<ReduceLrOnPlateauConfig>,
    /// Stop when the validation loss stalls and return the best epoch's weights.
    pub early_stopping: Option<EarlyStoppingConfig>,
}

/// Result of [`run_monitored`].
pub struct MonitoredOutcome<M> {
    /// Inference model (`valid()`): the best epoch's weights with early stopping, otherwise
    /// the last epoch's.
    pub model: M,
    /// 1-based epoch whose weights `model` holds (0 when no epoch ran).
    pub selected_epoch: usize,
    /// One entry per epoch, from epoch 1 (resumed runs include the restored epochs).
    pub history: Vec<MonitoredEpoch>,
    /// Whether early stopping ended the run before `config.epochs`.
    pub stopped_early: bool,
}

/// Side file written next to each checkpoint.
#[derive(Serialize, Deserialize)]
struct MonitorFile {
    epoch: usize,
    /// Per epoch, the validation parts with values as `f64::to_bits` (exact round trip).
    val_parts: Vec<Vec<(String, u64)>>,
}

fn monitor_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("monitor-{epoch:06}.json"))
}

fn best_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("best-{epoch:06}.model.bpk"))
}

/// Trains like [`crate::learn::train::run_epochs`] with the learning rate, early stopping and
/// best-weights selection of `settings`, calling `on_epoch` after every epoch.
///
/// The plateau schedule and early stopping watch the validation loss, so they need validation
/// rows. A non-finite training or validation loss aborts with [`LearnError::Diverged`].
pub fn run_monitored<T: TrainTask>(
    task: &mut T,
    model: T::Model,
    optimizer: ModuleOptimizer,
    spec: &RunSpec<'_>,
    settings: MonitorSettings,
    on_epoch: &mut dyn FnMut(&MonitoredEpoch),
) -> Result<MonitoredOutcome<T::Model>, LearnError> {
    let cfg = spec.config;
    if cfg.batch_size == 0 {
        return Err(LearnError::InvalidConfig("batch_size must be >= 1".into()));
    }
    if spec.train.is_empty() {
        return Err(LearnError::InvalidConfig("no training samples".into()));
    }
    let monitored = settings.plateau.is_some() || settings.early_stopping.is_some();
    if monitored && spec.validation.is_empty() {
        return Err(LearnError::InvalidConfig(
            "the plateau schedule and early stopping need validation samples".into(),
        ));
    }
    let fingerprint = serde_json::to_string(&(spec.fingerprint, &settings)).map_err(|source| {
        LearnError::Json {
            path: "<monitored fingerprint>".into(),
            source,
        }
    })?;
    let monitor =
        ValidationMonitor::new(cfg.learning_rate, settings.plateau, settings.early_stopping)?;
    let mut state = LoopState {
        model,
        optimizer,
        monitor,
        history: Vec::new(),
        steps: 0,
        best: None,
        stopped: false,
    };
    if let Some(ck) = spec.checkpoint.filter(|c| c.resume)
        && let Some(meta) = checkpoint::latest_for(&ck.dir, &fingerprint)?
    {
        state.resume(&ck.dir, meta, settings)?;
    }

    let train_device = spec.device.clone().autodiff();
    let first_epoch = state.history.len() + 1;
    for epoch in first_epoch..=cfg.epochs {
        if state.stopped {
            break;
        }
        check_cancel(spec, epoch)?;
        let started = Instant::now();
        let learning_rate = state.monitor.learning_rate();
        let order = shuffled(spec.train, cfg.seed, epoch);
        let mut train_sum = 0.0f64;
        let mut train_parts: Vec<(String, f64)> = Vec::new();
        for (batch_index, indices) in minibatches(&order, cfg.batch_size).enumerate() {
            let batch = task.load(indices)?;
            let ctx = StepContext {
                epoch,
                batch: batch_index,
                validation: false,
                seed: cfg.seed,
            };
            let loss = task.loss(&state.model, batch, &train_device, ctx);
            let weight = indices.len() as f64;
            train_sum += finite_loss(&loss.total, epoch, batch_index)? * weight;
            crate::learn::train::accumulate_parts(&mut train_parts, &loss.parts, weight)?;
            let grads = GradientsParams::from_grads(loss.total.backward(), &state.model);
            state.model = state.optimizer.step(learning_rate, state.model, grads);
            state.steps += 1;
        }
        let inference = state.model.valid();
        let (val_loss, val_parts) = evaluate(task, &inference, spec, epoch)?;
        let n = spec.train.len() as f64;
        let record = EpochRecord {
            epoch,
            train_loss: train_sum / n,
            val_loss,
            train_parts: train_parts.into_iter().map(|(k, v)| (k, v / n)).collect(),
            optimizer_steps: state.steps,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(v) = val_loss {
            let step = state.monitor.observe(v);
            if step.new_best {
                state.best = Some((epoch, inference));
            }
            state.stopped = step.stop;
        }
        tracing::info!(
            epoch,
            train_loss = record.train_loss,
            val_loss = ?record.val_loss,
            learning_rate,
            seconds = record.seconds,
            "epoch finished"
        );
        state.history.push(MonitoredEpoch {
            record,
            val_parts,
            learning_rate,
        });
        if let Some(ck) = spec.checkpoint
            && (epoch % ck.every_epochs.max(1) == 0 || epoch == cfg.epochs || state.stopped)
        {
            state.write_checkpoint(&ck.dir, &fingerprint)?;
        }
        if state.stopped {
            tracing::info!(epoch, best_epoch = ?state.monitor.best_epoch(), "early stopping");
        }
        if let Some(last) = state.history.last() {
            on_epoch(last);
        }
    }
    Ok(state.finish(settings.early_stopping.is_some()))
}

struct LoopState<M: Module> {
    model: M,
    optimizer: ModuleOptimizer,
    monitor: ValidationMonitor,
    history: Vec<MonitoredEpoch>,
    steps: u64,
    /// Epoch and inference weights of the early-stopping snapshot.
    best: Option<(usize, M)>,
    stopped: bool,
}

impl<M: Module> LoopState<M> {
    /// Restores a checkpoint into the freshly initialised state (called before any training).
    fn resume(
        &mut self,
        dir: &Path,
        meta: CheckpointMeta,
        settings: MonitorSettings,
    ) -> Result<(), LearnError> {
        let path = monitor_path(dir, meta.epoch);
        let side: MonitorFile = read_json(&path)?;
        if side.epoch != meta.epoch || side.val_parts.len() != meta.history.len() {
            return Err(LearnError::InvalidConfig(format!(
                "{} does not match the checkpoint of epoch {}",
                path.display(),
                meta.epoch
            )));
        }
        let val_losses: Vec<f64> = meta.history.iter().filter_map(|r| r.val_loss).collect();
        let initial_rate = self.monitor.learning_rate();
        let (monitor, decisions) = ValidationMonitor::replay(
            initial_rate,
            settings.plateau,
            settings.early_stopping,
            &val_losses,
        )?;
        let (model, optimizer) =
            checkpoint::restore(dir, &meta, self.model.clone(), self.optimizer.clone())?;
        let mut rate = initial_rate;
        let mut decisions = decisions.into_iter();
        for (record, parts) in meta.history.into_iter().zip(side.val_parts) {
            let learning_rate = rate;
            if record.val_loss.is_some()
                && let Some(step) = decisions.next()
            {
                rate = step.next_learning_rate;
                self.stopped = step.stop;
            }
            self.history.push(MonitoredEpoch {
                record,
                val_parts: parts
                    .into_iter()
                    .map(|(k, bits)| (k, f64::from_bits(bits)))
                    .collect(),
                learning_rate,
            });
        }
        if let Some(best_epoch) = monitor.best_epoch() {
            let best_file = best_path(dir, best_epoch);
            let best = self
                .model
                .valid()
                .try_load_file(&best_file)
                .map_err(|e| LearnError::record(&best_file, e))?;
            self.best = Some((best_epoch, best));
        }
        self.model = model;
        self.optimizer = optimizer;
        self.monitor = monitor;
        self.steps = meta.optimizer_steps;
        tracing::info!(epoch = meta.epoch, dir = %dir.display(), "resumed from checkpoint");
        Ok(())
    }

    /// Side file and best snapshot first, then the checkpoint (whose JSON commits it), then
    /// the side files of older checkpoints are removed.
    fn write_checkpoint(&self, dir: &Path, fingerprint: &str) -> Result<(), LearnError> {
        let epoch = self.history.len();
        fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
        let side = MonitorFile {
            epoch,
            val_parts: self
                .history
                .iter()
                .map(|h| {
                    h.val_parts
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_bits()))
                        .collect()
                })
                .collect(),
        };
        write_json_atomic(&monitor_path(dir, epoch), &side)?;
        let best_epoch = self.best.as_ref().map(|(e, _)| *e);
        if let Some((best_epoch, best)) = &self.best {
            let path = best_path(dir, *best_epoch);
            if !path.exists() {
                let tmp = path.with_extension("bpk.tmp");
                best.clone()
                    .save_file(&tmp)
                    .map_err(|e| LearnError::record(&tmp, e))?;
                fs::rename(&tmp, &path).map_err(|e| LearnError::io(&path, e))?;
            }
        }
        let meta = CheckpointMeta {
            epoch,
            optimizer_steps: self.steps,
            fingerprint: fingerprint.to_string(),
            history: self.history.iter().map(|h| h.record.clone()).collect(),
        };
        checkpoint::save(dir, &meta, &self.model, &self.optimizer)?;
        remove_stale(dir, epoch, best_epoch)
    }

    fn finish(self, early_stopping: bool) -> MonitoredOutcome<M> {
        let last_epoch = self.history.len();
        let (selected_epoch, model) = match self.best {
            Some((epoch, best)) if early_stopping => (epoch, best),
            _ => (last_epoch, self.model.valid()),
        };
        MonitoredOutcome {
            model,
            selected_epoch,
            history: self.history,
            stopped_early: self.stopped,
        }
    }
}

/// Removes `monitor-*.json` other than `epoch`'s and `best-*.model.bpk` other than `best`'s.
fn remove_stale(dir: &Path, epoch: usize, best: Option<usize>) -> Result<(), LearnError> {
    let entries = fs::read_dir(dir).map_err(|e| LearnError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LearnError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = if let Some(digits) = name
            .strip_prefix("monitor-")
            .and_then(|r| r.strip_suffix(".json"))
        {
            digits.parse::<usize>().is_ok_and(|e| e != epoch)
        } else if let Some(digits) = name
            .strip_prefix("best-")
            .and_then(|r| r.strip_suffix(".model.bpk"))
        {
            digits.parse::<usize>().is_ok_and(|e| Some(e) != best)
        } else {
            false
        };
        if stale {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| LearnError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Sample-weighted validation loss and parts with the inference model.
fn evaluate<T: TrainTask>(
    task: &mut T,
    inference: &T::Model,
    spec: &RunSpec<'_>,
    epoch: usize,
) -> Result<(Option<f64>, LossParts), LearnError> {
    if spec.validation.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut sum = 0.0f64;
    let mut parts: Vec<(String, f64)> = Vec::new();
    for (batch_index, indices) in minibatches(spec.validation, spec.config.batch_size).enumerate() {
        let batch = task.load(indices)?;
        let ctx = StepContext {
            epoch,
            batch: batch_index,
            validation: true,
            seed: spec.config.seed,
        };
        let loss = task.loss(inference, batch, spec.device, ctx);
        let weight = indices.len() as f64;
        sum += finite_loss(&loss.total, epoch, batch_index)? * weight;
        crate::learn::train::accumulate_parts(&mut parts, &loss.parts, weight)?;
    }
    let n = spec.validation.len() as f64;
    Ok((
        Some(sum / n),
        parts.into_iter().map(|(k, v)| (k, v / n)).collect(),
    ))
}

fn finite_loss(total: &Tensor<1>, epoch: usize, batch: usize) -> Result<f64, LearnError> {
    let value = read_scalar(total)?;
    if value.is_finite() {
        Ok(value)
    } else {
        tracing::error!(epoch, batch, loss = value, "training diverged");
        Err(LearnError::Diverged {
            epoch,
            batch,
            loss: value,
        })
    }
}
