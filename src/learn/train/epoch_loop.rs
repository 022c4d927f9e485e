//! The one epoch loop: seeded shuffles, minibatches from the task's loader, a validation pass
//! after every epoch, the [`Policies`] (learning-rate schedule, keep-best, early stopping),
//! divergence checks and checkpoint/resume in the layout of [`super::checkpoint`].
//!
//! The learning rate, the best epoch and the early-stopping state are not stored: they are a
//! pure function of the epoch number and the validation losses in the checkpoint's history and
//! are rebuilt with [`Policies::replay`], so a resumed run continues bit for bit.

use std::fs;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, CheckpointMeta};
use super::finite::all_params_finite;
use super::policy::{Policies, ValidationMonitor};
use super::{
    EpochRecord, LossParts, RunSpec, StepContext, TrainTask, ValidationPass, accumulate_parts,
    check_cancel, minibatches, read_scalar, shuffled,
};
use crate::learn::error::LearnError;

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epoch {
    /// Losses of the epoch (`val_loss` included).
    pub record: EpochRecord,
    /// Sample-weighted means of the named loss parts over the validation pass (empty without
    /// validation rows or named parts).
    pub val_parts: LossParts,
    /// Learning rate used for this epoch's updates.
    pub learning_rate: f64,
}

/// Result of [`run_epochs`].
pub struct TrainOutcome<M> {
    /// The training model after the last epoch (autodiff device).
    pub model: M,
    /// Optimizer state at the end.
    pub optimizer: ModuleOptimizer,
    /// One entry per epoch, from epoch 1 (resumed runs include the restored epochs).
    pub history: Vec<Epoch>,
    /// With keep-best or early stopping: the best epoch and its inference weights.
    pub best: Option<(usize, M)>,
    /// Whether early stopping ended the run before `config.epochs`.
    pub stopped_early: bool,
}

impl<M: Module> TrainOutcome<M> {
    /// The per-epoch loss records.
    pub fn records(&self) -> Vec<EpochRecord> {
        self.history.iter().map(|e| e.record.clone()).collect()
    }

    /// The inference model the policies select, with its 1-based epoch (0 when no epoch ran):
    /// the best epoch's weights when the run kept them, otherwise the last epoch's.
    pub fn selected(self) -> (usize, M) {
        match self.best {
            Some(best) => best,
            None => (self.history.len(), self.model.valid()),
        }
    }
}

/// Trains `model` (on the autodiff device) for `spec.config.epochs` epochs under `policies`,
/// calling `on_epoch` after each one; `spec.config.learning_rate` is the initial rate.
///
/// A non-finite training loss aborts with [`LearnError::Diverged`] before the parameter update;
/// a non-finite weight after an epoch or a non-finite validation loss with
/// [`LearnError::NonFinite`], before that epoch's checkpoint. With a checkpoint config whose
/// `resume` is set, the newest checkpoint written by a run of the same fingerprint and policies
/// replaces `model`, `optimizer` and the history, and training continues after its epoch (a
/// rerun may ask for more epochs, not fewer). The plateau schedule and early stopping watch the
/// validation loss, so they need validation rows.
pub fn run_epochs<T: TrainTask>(
    task: &mut T,
    model: T::Model,
    optimizer: ModuleOptimizer,
    spec: &RunSpec<'_>,
    policies: &Policies,
    on_epoch: &mut dyn FnMut(&Epoch),
) -> Result<TrainOutcome<T::Model>, LearnError> {
    let cfg = spec.config;
    cfg.validate()?;
    policies.validate()?;
    if spec.train.is_empty() {
        return Err(LearnError::InvalidConfig("no training samples".into()));
    }
    if policies.watches_validation() && spec.validation.is_empty() {
        return Err(LearnError::InvalidConfig(
            "the plateau schedule and early stopping need validation samples".into(),
        ));
    }
    let fingerprint = serde_json::to_string(&(spec.fingerprint, policies)).map_err(|source| {
        LearnError::Json {
            path: "<training fingerprint>".into(),
            source,
        }
    })?;
    let mut state = LoopState {
        model,
        optimizer,
        monitor: policies.monitor(cfg.learning_rate)?,
        history: Vec::new(),
        steps: 0,
        best: None,
        stopped: false,
    };
    if let Some(ck) = spec.checkpoint.filter(|c| c.resume)
        && let Some(meta) = checkpoint::latest_for(&ck.dir, &fingerprint)?
    {
        state.resume(&ck.dir, meta, policies, spec)?;
    }
    if state.history.len() > cfg.epochs {
        return Err(LearnError::InvalidConfig(format!(
            "the checkpoint holds {} epochs, more than the {} asked for",
            state.history.len(),
            cfg.epochs
        )));
    }

    let train_device = spec.device.clone().autodiff();
    let first_epoch = state.history.len() + 1;
    for epoch in first_epoch..=cfg.epochs {
        if state.stopped {
            break;
        }
        check_cancel(spec, epoch)?;
        let started = Instant::now();
        let learning_rate = policies.learning_rate(cfg.learning_rate, epoch, &state.monitor);
        let order = shuffled(spec.train, cfg.seed, epoch);
        let mut train_sum = 0.0f64;
        let mut train_parts: LossParts = Vec::new();
        for (batch_index, indices) in minibatches(&order, cfg.batch_size).enumerate() {
            let batch = task.load(indices)?;
            let ctx = StepContext {
                epoch,
                batch: batch_index,
                validation: false,
                seed: cfg.seed,
            };
            let loss = task.loss(&state.model, batch, &train_device, ctx);
            let value = finite_loss(&loss.total, epoch, batch_index)?;
            let tracked = match &loss.tracked {
                Some(t) => read_scalar(t)?,
                None => value,
            };
            let weight = indices.len() as f64;
            train_sum += tracked * weight;
            accumulate_parts(&mut train_parts, &loss.parts, weight)?;
            let grads = GradientsParams::from_grads(loss.total.backward(), &state.model);
            state.model = state.optimizer.step(learning_rate, state.model, grads);
            state.steps += 1;
        }
        if !all_params_finite(&state.model) {
            return Err(LearnError::NonFinite(format!(
                "a weight is NaN or infinite after epoch {epoch}"
            )));
        }
        // `valid()` copies the BatchNorm running statistics: a clone of the training model
        // would share them with later epochs.
        let inference = state.model.valid();
        let pass = ValidationPass {
            indices: spec.validation,
            batch_size: cfg.batch_size,
            device: spec.device,
            epoch,
            seed: cfg.seed,
        };
        let (val_loss, val_parts) = if spec.validation.is_empty() {
            (None, Vec::new())
        } else {
            task.validate(&inference, &pass)?
        };
        if let Some(v) = val_loss.filter(|v| !v.is_finite()) {
            tracing::error!(epoch, val_loss = v, "validation loss is not finite");
            return Err(LearnError::NonFinite(format!(
                "validation loss is {v} at epoch {epoch}"
            )));
        }
        let n = spec.train.len() as f64;
        let record = EpochRecord {
            epoch,
            train_loss: task.epoch_loss(train_sum / n),
            val_loss,
            train_parts: train_parts.into_iter().map(|(k, v)| (k, v / n)).collect(),
            optimizer_steps: state.steps,
            seconds: started.elapsed().as_secs_f64(),
        };
        let new_best = match val_loss {
            Some(v) => {
                let step = state.monitor.observe(v);
                state.stopped = step.stop;
                step.new_best
            }
            // Without validation rows the last epoch is the best one.
            None => true,
        };
        if policies.tracks_best() && new_best {
            state.best = Some((epoch, inference));
        }
        tracing::info!(
            epoch,
            train_loss = record.train_loss,
            val_loss = ?record.val_loss,
            learning_rate,
            best = policies.tracks_best() && new_best,
            seconds = record.seconds,
            "epoch finished"
        );
        state.history.push(Epoch {
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
    Ok(TrainOutcome {
        model: state.model,
        optimizer: state.optimizer,
        history: state.history,
        best: state.best,
        stopped_early: state.stopped,
    })
}

/// The default validation pass of [`TrainTask::validate`]: sample-weighted means of the loss
/// and its named parts over minibatches of the validation indices.
pub fn mean_validation<T: TrainTask>(
    task: &mut T,
    inference: &T::Model,
    pass: &ValidationPass<'_>,
) -> Result<(Option<f64>, LossParts), LearnError> {
    if pass.indices.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut sum = 0.0f64;
    let mut parts: LossParts = Vec::new();
    for (batch_index, indices) in minibatches(pass.indices, pass.batch_size).enumerate() {
        let batch = task.load(indices)?;
        let ctx = StepContext {
            epoch: pass.epoch,
            batch: batch_index,
            validation: true,
            seed: pass.seed,
        };
        let loss = task.loss(inference, batch, pass.device, ctx);
        let weight = indices.len() as f64;
        sum += read_scalar(&loss.total)? * weight;
        accumulate_parts(&mut parts, &loss.parts, weight)?;
    }
    let n = pass.indices.len() as f64;
    Ok((
        Some(sum / n),
        parts.into_iter().map(|(k, v)| (k, v / n)).collect(),
    ))
}

struct LoopState<M: Module> {
    model: M,
    optimizer: ModuleOptimizer,
    monitor: ValidationMonitor,
    history: Vec<Epoch>,
    steps: u64,
    /// Epoch and inference weights of the best-weights snapshot.
    best: Option<(usize, M)>,
    stopped: bool,
}

impl<M: Module> LoopState<M> {
    /// Restores a checkpoint into the freshly initialised state (called before any training).
    fn resume(
        &mut self,
        dir: &Path,
        meta: CheckpointMeta,
        policies: &Policies,
        spec: &RunSpec<'_>,
    ) -> Result<(), LearnError> {
        let n = meta.history.len();
        if meta.learning_rates.len() != n || meta.val_parts.len() != n {
            return Err(LearnError::InvalidConfig(format!(
                "the checkpoint of epoch {} in {} holds {n} records but {} learning rates and {} \
                 validation parts",
                meta.epoch,
                dir.display(),
                meta.learning_rates.len(),
                meta.val_parts.len()
            )));
        }
        let val_losses: Vec<f64> = meta.history.iter().filter_map(|r| r.val_loss).collect();
        let (monitor, decisions) = policies.replay(spec.config.learning_rate, &val_losses)?;
        self.stopped = decisions.last().is_some_and(|d| d.stop);
        let best_epoch = if !policies.tracks_best() {
            None
        } else if spec.validation.is_empty() {
            Some(meta.epoch)
        } else {
            monitor.best_epoch()
        };
        if let Some(epoch) = best_epoch {
            let best = checkpoint::load_best(dir, epoch, self.model.valid())?;
            self.best = Some((epoch, best));
        }
        let (model, optimizer) =
            checkpoint::restore(dir, &meta, self.model.clone(), self.optimizer.clone())?;
        self.model = model;
        self.optimizer = optimizer;
        self.monitor = monitor;
        self.steps = meta.optimizer_steps;
        self.history = meta
            .history
            .into_iter()
            .zip(meta.learning_rates)
            .zip(meta.val_parts)
            .map(|((record, rate), parts)| Epoch {
                record,
                val_parts: parts
                    .into_iter()
                    .map(|(k, bits)| (k, f64::from_bits(bits)))
                    .collect(),
                learning_rate: f64::from_bits(rate),
            })
            .collect();
        tracing::info!(epoch = meta.epoch, dir = %dir.display(), "resumed from checkpoint");
        Ok(())
    }

    /// The best snapshot first, then the checkpoint (whose JSON commits it), then older best
    /// snapshots are removed.
    fn write_checkpoint(&self, dir: &Path, fingerprint: &str) -> Result<(), LearnError> {
        fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
        if let Some((epoch, best)) = &self.best {
            checkpoint::save_best(dir, *epoch, best)?;
        }
        let meta = CheckpointMeta {
            epoch: self.history.len(),
            optimizer_steps: self.steps,
            fingerprint: fingerprint.to_string(),
            history: self.history.iter().map(|h| h.record.clone()).collect(),
            learning_rates: self
                .history
                .iter()
                .map(|h| h.learning_rate.to_bits())
                .collect(),
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
        checkpoint::save(dir, &meta, &self.model, &self.optimizer)?;
        checkpoint::remove_stale_best(dir, self.best.as_ref().map(|(e, _)| *e))
    }
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
