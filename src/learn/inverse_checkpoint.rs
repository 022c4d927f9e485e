//! Per-epoch checkpoints of an inverse-design CNN training run, so an interrupted run resumes
//! where it stopped and ends with bitwise the same weights as an uninterrupted one.
//!
//! Besides the generic checkpoint of [`super::checkpoint`] (training model with its BatchNorm
//! running statistics, SGD momentum state, per-epoch history), the run keeps the inference
//! snapshot of its best-validation epoch as `best-epoch-NNNNNN.bpk`. It is written when the
//! epoch improves, before the epoch's checkpoint (whose JSON side file is written last), and
//! older best snapshots are pruned only after a checkpoint that no longer refers to them is
//! complete, so every complete checkpoint finds its best snapshot on disk.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::Serialize;

use super::checkpoint::{self, CheckpointConfig, CheckpointMeta};
use super::device_rng::lock_device_rng;
use super::error::LearnError;
use super::inverse_cnn::{Architecture, InverseCnn};
use super::inverse_fit::InverseFitConfig;
use super::train::EpochRecord;

const BEST_PREFIX: &str = "best-epoch-";
const BEST_SUFFIX: &str = ".bpk";

/// The best-validation epoch so far: (validation RMSE or NaN without a validation split,
/// 1-based epoch, inference-mode network).
pub(super) type Best = (f64, usize, InverseCnn);

/// Whether an epoch with validation RMSE `current` replaces `best` (the first epoch always
/// does; without a validation split every epoch does, so the last one wins).
pub(super) fn improves(best: Option<f64>, current: Option<f64>) -> bool {
    match (best, current) {
        (Some(best), Some(current)) => current < best,
        _ => true,
    }
}

/// Identity of a run for resuming: every setting but the number of epochs (a run may be
/// resumed with more epochs), plus the split sizes.
pub(super) fn fingerprint(
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

fn best_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("{BEST_PREFIX}{epoch:06}{BEST_SUFFIX}"))
}

/// State of a run restored from its newest checkpoint.
pub(super) struct Resumed {
    /// Training model (autodiff device) after the checkpointed epoch.
    pub model: InverseCnn,
    /// Optimizer with its momentum state.
    pub optimizer: ModuleOptimizer,
    /// Records of epochs `1..=checkpointed epoch`.
    pub history: Vec<EpochRecord>,
    /// Optimizer steps so far.
    pub steps: u64,
    /// The best epoch among them, with its inference snapshot.
    pub best: Best,
}

/// The newest usable checkpoint in `ck.dir` for `fingerprint` when `ck.resume` is set (see
/// [`checkpoint::latest_for`]: unusable ones are discarded).
pub(super) fn resumable(
    ck: &CheckpointConfig,
    fingerprint: &str,
) -> Result<Option<CheckpointMeta>, LearnError> {
    if ck.resume {
        checkpoint::latest_for(&ck.dir, fingerprint)
    } else {
        Ok(None)
    }
}

/// Restores the checkpoint `meta` (from [`resumable`]) into `model` / `optimizer` and loads the
/// best snapshot it refers to onto `device`.
pub(super) fn resume(
    ck: &CheckpointConfig,
    meta: CheckpointMeta,
    fingerprint: &str,
    arch: Architecture,
    (model, optimizer): (InverseCnn, ModuleOptimizer),
    device: &Device,
) -> Result<Resumed, LearnError> {
    if meta.fingerprint != fingerprint {
        return Err(LearnError::InvalidConfig(format!(
            "checkpoint in {} belongs to a different configuration",
            ck.dir.display()
        )));
    }
    let Some((best_rmse, best_epoch)) = best_of(&meta.history) else {
        return Err(LearnError::InvalidConfig(format!(
            "checkpoint in {} has no epoch records",
            ck.dir.display()
        )));
    };
    let (model, optimizer) = checkpoint::restore(&ck.dir, &meta, model, optimizer)?;
    let path = best_path(&ck.dir, best_epoch);
    let snapshot = {
        // As in `TrainedInverseCnn::load`: keep lazy initial draws out of seeded sections.
        let _rng_guard = lock_device_rng();
        arch.init(device)?
            .try_load_file(&path)
            .map_err(|e| LearnError::record(&path, e))?
            .valid()
    };
    tracing::info!(epoch = meta.epoch, best_epoch, dir = %ck.dir.display(), "resumed from checkpoint");
    Ok(Resumed {
        model,
        optimizer,
        steps: meta.optimizer_steps,
        history: meta.history,
        best: (best_rmse, best_epoch, snapshot),
    })
}

/// The best epoch of `history` by the rule of [`improves`], as (RMSE or NaN, epoch).
fn best_of(history: &[EpochRecord]) -> Option<(f64, usize)> {
    let mut best: Option<(Option<f64>, usize)> = None;
    for record in history {
        if improves(best.and_then(|(v, _)| v), record.val_loss) {
            best = Some((record.val_loss, record.epoch));
        }
    }
    best.map(|(v, epoch)| (v.unwrap_or(f64::NAN), epoch))
}

/// Writes the best snapshot when `epoch` improved.
pub(super) fn save_best_if_new(
    ck: &CheckpointConfig,
    epoch: usize,
    best: &Best,
) -> Result<(), LearnError> {
    if best.1 != epoch {
        return Ok(());
    }
    fs::create_dir_all(&ck.dir).map_err(|e| LearnError::io(&ck.dir, e))?;
    let path = best_path(&ck.dir, epoch);
    best.2
        .clone()
        .save_file(&path)
        .map_err(|e| LearnError::record(&path, e))
}

/// Writes the checkpoint of the last record of `history` when it is due (every
/// `ck.every_epochs` epochs and after the last one), then prunes best snapshots other than
/// `best_epoch`'s.
pub(super) fn save_if_due(
    ck: &CheckpointConfig,
    meta: CheckpointMeta,
    last_epoch: usize,
    model: &InverseCnn,
    optimizer: &ModuleOptimizer,
    best_epoch: usize,
) -> Result<(), LearnError> {
    if !meta.epoch.is_multiple_of(ck.every_epochs.max(1)) && meta.epoch != last_epoch {
        return Ok(());
    }
    checkpoint::save(&ck.dir, &meta, model, optimizer)?;
    let entries = fs::read_dir(&ck.dir).map_err(|e| LearnError::io(&ck.dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LearnError::io(&ck.dir, e))?;
        let name = entry.file_name();
        let stale = name
            .to_str()
            .and_then(|n| n.strip_prefix(BEST_PREFIX))
            .and_then(|n| n.strip_suffix(BEST_SUFFIX))
            .and_then(|digits| digits.parse::<usize>().ok())
            .is_some_and(|epoch| epoch != best_epoch);
        if stale {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| LearnError::io(&path, e))?;
        }
    }
    Ok(())
}
