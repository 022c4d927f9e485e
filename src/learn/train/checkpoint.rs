//! Training checkpoints of the epoch loop: model and optimizer as burnpack files plus a JSON side
//! file, and the best epoch's weights when the run keeps them. One layout for every model.
//!
//! Layout in the checkpoint directory, for epoch N (six digits):
//! `epoch-NNNNNN.model.bpk`, `epoch-NNNNNN.optim.bpk`, `epoch-NNNNNN.json`, and, with keep-best
//! or early stopping, `best-BBBBBB.model.bpk` for the best epoch B ≤ N. The best snapshot and the
//! burnpack files are written first and the JSON last (temp file + rename), so a checkpoint
//! counts only once all its files are complete. After a successful write, older checkpoints and
//! best snapshots in the directory are removed.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::train::EpochRecord;

/// Where and how often to checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    /// Directory holding the checkpoint files (created if missing).
    pub dir: PathBuf,
    /// Write a checkpoint every this many epochs (and always after the last epoch).
    pub every_epochs: usize,
    /// Continue from the latest checkpoint in `dir` when one exists.
    pub resume: bool,
}

/// Contents of the JSON side file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Last completed epoch (1-based).
    pub epoch: usize,
    /// Optimizer steps taken up to and including `epoch`.
    pub optimizer_steps: u64,
    /// Caller-defined identity of the run configuration.
    pub fingerprint: String,
    /// Per-epoch records for epochs 1..=epoch. Stored with losses as decimal strings, because
    /// serde_json's default float parser is not exactly round-tripping (1 ulp off at times)
    /// and a resumed history must equal the uninterrupted one bit for bit.
    #[serde(with = "exact_history")]
    pub history: Vec<EpochRecord>,
    /// Per epoch, the learning rate as an `f64` bit pattern (exact round trip).
    #[serde(default)]
    pub learning_rates: Vec<u64>,
    /// Per epoch, the validation loss parts with values as `f64` bit patterns.
    #[serde(default)]
    pub val_parts: Vec<Vec<(String, u64)>>,
}

/// Serde adapter writing every f64 of the history as Rust's shortest round-trip decimal
/// string and parsing it back with the (correctly rounded) standard-library parser.
mod exact_history {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::EpochRecord;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        epoch: usize,
        train_loss: String,
        val_loss: Option<String>,
        train_parts: Vec<(String, String)>,
        optimizer_steps: u64,
        seconds: String,
    }

    fn text(v: f64) -> String {
        format!("{v:?}")
    }

    fn number<E: serde::de::Error>(s: &str) -> Result<f64, E> {
        s.parse::<f64>()
            .map_err(|e| E::custom(format!("bad number `{s}`: {e}")))
    }

    pub fn serialize<S: Serializer>(history: &[EpochRecord], s: S) -> Result<S::Ok, S::Error> {
        let stored: Vec<Stored> = history
            .iter()
            .map(|r| Stored {
                epoch: r.epoch,
                train_loss: text(r.train_loss),
                val_loss: r.val_loss.map(text),
                train_parts: r
                    .train_parts
                    .iter()
                    .map(|(k, v)| (k.clone(), text(*v)))
                    .collect(),
                optimizer_steps: r.optimizer_steps,
                seconds: text(r.seconds),
            })
            .collect();
        stored.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EpochRecord>, D::Error> {
        let stored = Vec::<Stored>::deserialize(d)?;
        stored
            .into_iter()
            .map(|r| {
                Ok(EpochRecord {
                    epoch: r.epoch,
                    train_loss: number(&r.train_loss)?,
                    val_loss: r.val_loss.as_deref().map(number).transpose()?,
                    train_parts: r
                        .train_parts
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), number(v)?)))
                        .collect::<Result<_, D::Error>>()?,
                    optimizer_steps: r.optimizer_steps,
                    seconds: number(&r.seconds)?,
                })
            })
            .collect()
    }
}

fn stem(epoch: usize) -> String {
    format!("epoch-{epoch:06}")
}

/// Path of the model file of `epoch`'s checkpoint.
pub fn model_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("{}.model.bpk", stem(epoch)))
}

/// Path of the optimizer file of `epoch`'s checkpoint.
pub fn optimizer_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("{}.optim.bpk", stem(epoch)))
}

fn meta_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("{}.json", stem(epoch)))
}

/// Writes the checkpoint of `meta.epoch` and removes older ones.
pub fn save<M: Module>(
    dir: &Path,
    meta: &CheckpointMeta,
    model: &M,
    optimizer: &ModuleOptimizer,
) -> Result<(), LearnError> {
    fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
    let model_file = model_path(dir, meta.epoch);
    model
        .clone()
        .save_file(&model_file)
        .map_err(|e| LearnError::record(&model_file, e))?;
    let optim_file = optimizer_path(dir, meta.epoch);
    optimizer
        .save(&optim_file)
        .map_err(|e| LearnError::record(&optim_file, e))?;
    let json_file = meta_path(dir, meta.epoch);
    write_json_atomic(&json_file, meta)?;
    for epoch in checkpoint_epochs(dir)? {
        if epoch != meta.epoch {
            remove_checkpoint(dir, epoch)?;
        }
    }
    tracing::debug!(epoch = meta.epoch, dir = %dir.display(), "checkpoint written");
    Ok(())
}

/// The metadata of the newest complete checkpoint in `dir`, if any.
pub fn latest(dir: &Path) -> Result<Option<CheckpointMeta>, LearnError> {
    let Some(epoch) = checkpoint_epochs(dir)?.into_iter().max() else {
        return Ok(None);
    };
    let path = meta_path(dir, epoch);
    Ok(Some(read_json(&path)?))
}

/// The newest complete checkpoint in `dir` written for `fingerprint`.
///
/// The resume folder is keyed by the stage's key, so a side file that does not parse, that names
/// another epoch, or that belongs to another configuration is debris (a tampered, truncated or
/// foreign file), not a result: it is removed with a warning and `None` is returned, so the
/// training starts from scratch instead of failing on every run.
pub fn latest_for(dir: &Path, fingerprint: &str) -> Result<Option<CheckpointMeta>, LearnError> {
    let Some(epoch) = checkpoint_epochs(dir)?.into_iter().max() else {
        return Ok(None);
    };
    let path = meta_path(dir, epoch);
    let problem = match read_json::<CheckpointMeta>(&path) {
        Ok(meta) if meta.fingerprint == fingerprint && meta.epoch == epoch => {
            return Ok(Some(meta));
        }
        Ok(meta) if meta.epoch != epoch => format!("it claims epoch {}", meta.epoch),
        Ok(_) => "it belongs to another configuration".to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!(
        file = %path.display(),
        problem,
        "discarding an unusable checkpoint; training starts from scratch"
    );
    for epoch in checkpoint_epochs(dir)? {
        remove_checkpoint(dir, epoch)?;
    }
    Ok(None)
}

/// Loads the model and optimizer of `meta`'s checkpoint into `model` and `optimizer`.
///
/// Parameter ids are restored from the model file, so the optimizer state (keyed by id)
/// attaches to the right tensors.
pub fn restore<M: Module>(
    dir: &Path,
    meta: &CheckpointMeta,
    model: M,
    optimizer: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer), LearnError> {
    let model_file = model_path(dir, meta.epoch);
    let model = model
        .try_load_file(&model_file)
        .map_err(|e| LearnError::record(&model_file, e))?;
    let optim_file = optimizer_path(dir, meta.epoch);
    let optimizer = optimizer
        .load(&optim_file)
        .map_err(|e| LearnError::record(&optim_file, e))?;
    Ok((model, optimizer))
}

/// The file of the best epoch's (inference) weights.
pub fn best_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("best-{epoch:06}.model.bpk"))
}

/// Writes the best snapshot of `epoch` unless it is already on disk (temp file + rename).
pub fn save_best<M: Module>(dir: &Path, epoch: usize, model: &M) -> Result<(), LearnError> {
    let path = best_path(dir, epoch);
    if path.exists() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
    let tmp = path.with_extension("bpk.tmp");
    model
        .clone()
        .save_file(&tmp)
        .map_err(|e| LearnError::record(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| LearnError::io(&path, e))
}

/// Loads the best snapshot of `epoch` into `model` (an inference model of the same shape).
pub fn load_best<M: Module>(dir: &Path, epoch: usize, model: M) -> Result<M, LearnError> {
    let path = best_path(dir, epoch);
    model
        .try_load_file(&path)
        .map_err(|e| LearnError::record(&path, e))
}

/// Removes the best snapshots other than `keep`'s.
pub fn remove_stale_best(dir: &Path, keep: Option<usize>) -> Result<(), LearnError> {
    let entries = fs::read_dir(dir).map_err(|e| LearnError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LearnError::io(dir, e))?;
        let name = entry.file_name();
        let stale = name
            .to_str()
            .and_then(|n| n.strip_prefix("best-"))
            .and_then(|n| n.strip_suffix(".model.bpk"))
            .and_then(|digits| digits.parse::<usize>().ok())
            .is_some_and(|epoch| Some(epoch) != keep);
        if stale {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| LearnError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Reads a JSON side file, naming the file in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LearnError> {
    let text = fs::read_to_string(path).map_err(|e| LearnError::io(path, e))?;
    serde_json::from_str(&text).map_err(|source| LearnError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `value` as pretty JSON through a temporary file and a rename.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), LearnError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| LearnError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        // Durable before the rename makes it visible: a crash never leaves a renamed, empty file.
        file.sync_all()
    };
    write().map_err(|e| LearnError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| LearnError::io(path, e))
}

/// Epoch numbers of the complete checkpoints (those with a JSON side file) in `dir`.
fn checkpoint_epochs(dir: &Path) -> Result<Vec<usize>, LearnError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LearnError::io(dir, e)),
    };
    let mut epochs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LearnError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(epoch) = name
            .strip_prefix("epoch-")
            .and_then(|rest| rest.strip_suffix(".json"))
            .and_then(|digits| digits.parse::<usize>().ok())
        {
            epochs.push(epoch);
        }
    }
    Ok(epochs)
}

fn remove_checkpoint(dir: &Path, epoch: usize) -> Result<(), LearnError> {
    // Remove the JSON first so a partially removed checkpoint is never picked up.
    for path in [
        meta_path(dir, epoch),
        model_path(dir, epoch),
        optimizer_path(dir, epoch),
    ] {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LearnError::io(&path, e)),
        }
    }
    Ok(())
}
