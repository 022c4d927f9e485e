//! What a running stage sees: its resolved parameters, seed, input files, output paths, a cancel
//! flag, progress bars, a log, and a per-item cache for fan-out work.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::Value;

use super::cache::Cache;
use super::catalog::KindSpec;
use super::progress::{ItemBar, ProgressView};

/// Error type of stage implementations: any error, with its message shown to the user.
pub type StageError = Box<dyn std::error::Error + Send + Sync>;

/// Result type of stage implementations.
pub type StageResult<T = ()> = Result<T, StageError>;

/// The error a stage returns when it noticed Ctrl-C.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// How [`StageContext::fan_out`] behaves in this run of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FanOutMode {
    /// Compute (or take from their shards) every item and return them: a local run, or the final
    /// gather job after a cluster computed the shards.
    #[default]
    All,
    /// Only count the items: `fan_out` ends the stage with [`FanOutCount`] (a cluster driver
    /// asks this before submitting one array task per slice of items).
    Count,
    /// Compute and store the items of this range only, then end the stage with [`SliceDone`].
    Slice(Range<usize>),
}

/// How a stage run in [`FanOutMode::Count`] ends: the number of items it fans out over.
#[derive(Debug, thiserror::Error)]
#[error("the stage fans out over {0} items")]
pub struct FanOutCount(pub usize);

/// How a stage run in [`FanOutMode::Slice`] ends once its items are stored.
#[derive(Debug, thiserror::Error)]
#[error("slice of items stored")]
pub struct SliceDone;

/// An input as the stage sees it: a file, or a directory of files.
#[derive(Debug, Clone)]
pub enum InputPath {
    /// A single read-only object file.
    File(PathBuf),
    /// A directory output: relative path → read-only object file.
    Tree(BTreeMap<String, PathBuf>),
}

/// The execution context handed to [`super::stage::Stage::run`].
pub struct StageContext<'a> {
    pub(crate) name: String,
    pub(crate) spec: &'a KindSpec,
    pub(crate) params: &'a BTreeMap<String, Value>,
    pub(crate) seed: u64,
    pub(crate) backend: Option<String>,
    pub(crate) inputs: BTreeMap<String, InputPath>,
    pub(crate) out_dir: PathBuf,
    pub(crate) cache: &'a Cache,
    pub(crate) key: String,
    pub(crate) cancel: &'a AtomicBool,
    pub(crate) progress: &'a ProgressView,
    pub(crate) log: Mutex<File>,
    pub(crate) threads: usize,
    pub(crate) fan_out: FanOutMode,
}

impl StageContext<'_> {
    /// Stage name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stage's seed (derived from the experiment seed and the stage name).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The learning backend chosen for this run, for kinds that use one.
    pub fn backend(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    /// Threads in this stage's rayon pool (the pool is installed around `run`).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The stage's cache key.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn param(&self, name: &str) -> StageResult<&Value> {
        self.params.get(name).ok_or_else(|| {
            format!(
                "stage kind `{}` has no parameter `{name}` in its catalogue",
                self.spec.kind
            )
            .into()
        })
    }

    /// A float parameter.
    pub fn f64(&self, name: &str) -> StageResult<f64> {
        match self.param(name)? {
            Value::Float(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            v => Err(format!("parameter `{name}` is {v}, expected a float").into()),
        }
    }

    /// An integer parameter.
    pub fn i64(&self, name: &str) -> StageResult<i64> {
        match self.param(name)? {
            Value::Integer(i) => Ok(*i),
            v => Err(format!("parameter `{name}` is {v}, expected an integer").into()),
        }
    }

    /// A non-negative integer parameter.
    pub fn usize(&self, name: &str) -> StageResult<usize> {
        let v = self.i64(name)?;
        usize::try_from(v).map_err(|_| format!("parameter `{name}` must be ≥ 0, got {v}").into())
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> StageResult<bool> {
        match self.param(name)? {
            Value::Boolean(b) => Ok(*b),
            v => Err(format!("parameter `{name}` is {v}, expected a bool").into()),
        }
    }

    /// A string parameter.
    pub fn str(&self, name: &str) -> StageResult<&str> {
        match self.param(name)? {
            Value::String(s) => Ok(s),
            v => Err(format!("parameter `{name}` is {v}, expected a string").into()),
        }
    }

    /// A float-array parameter.
    pub fn f64s(&self, name: &str) -> StageResult<Vec<f64>> {
        match self.param(name)? {
            Value::Array(a) => a
                .iter()
                .map(|v| match v {
                    Value::Float(f) => Ok(*f),
                    Value::Integer(i) => Ok(*i as f64),
                    _ => Err(format!("parameter `{name}` must be an array of numbers").into()),
                })
                .collect(),
            v => Err(format!("parameter `{name}` is {v}, expected an array").into()),
        }
    }

    /// An integer-array parameter.
    pub fn i64s(&self, name: &str) -> StageResult<Vec<i64>> {
        match self.param(name)? {
            Value::Array(a) => a
                .iter()
                .map(|v| {
                    v.as_integer().ok_or_else(|| {
                        format!("parameter `{name}` must be an array of integers").into()
                    })
                })
                .collect(),
            v => Err(format!("parameter `{name}` is {v}, expected an array").into()),
        }
    }

    /// A string-array parameter.
    pub fn strs(&self, name: &str) -> StageResult<Vec<String>> {
        match self.param(name)? {
            Value::Array(a) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        format!("parameter `{name}` must be an array of strings").into()
                    })
                })
                .collect(),
            v => Err(format!("parameter `{name}` is {v}, expected an array").into()),
        }
    }

    /// Whether an (optional) input port is connected.
    pub fn has_input(&self, port: &str) -> bool {
        self.inputs.contains_key(port)
    }

    /// Names of all connected input ports (in name order).
    pub fn input_ports(&self) -> Vec<String> {
        self.inputs.keys().cloned().collect()
    }

    /// The read-only file behind a file input.
    pub fn input(&self, port: &str) -> StageResult<&Path> {
        match self.inputs.get(port) {
            Some(InputPath::File(p)) => Ok(p),
            Some(InputPath::Tree(_)) => {
                Err(format!("input `{port}` is a directory; use input_tree").into())
            }
            None => Err(format!("input `{port}` is not connected").into()),
        }
    }

    /// The files behind a directory input.
    pub fn input_tree(&self, port: &str) -> StageResult<&BTreeMap<String, PathBuf>> {
        match self.inputs.get(port) {
            Some(InputPath::Tree(t)) => Ok(t),
            Some(InputPath::File(_)) => Err(format!("input `{port}` is a file; use input").into()),
            None => Err(format!("input `{port}` is not connected").into()),
        }
    }

    /// Where to write a declared output (a file path, or a directory created for `dir` outputs).
    pub fn output(&self, name: &str) -> StageResult<PathBuf> {
        let outputs = super::command::outputs(self.spec, self.params);
        let spec = outputs.get(name).ok_or_else(|| {
            format!(
                "stage kind `{}` declares no output `{name}`",
                self.spec.kind
            )
        })?;
        let p = self.out_dir.join(&spec.file);
        if spec.dir {
            fs::create_dir_all(&p)?;
        }
        Ok(p)
    }

    /// Writes a JSON output.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> StageResult {
        let p = self.output(name)?;
        fs::write(&p, serde_json::to_vec_pretty(value)?)?;
        Ok(())
    }

    /// Whether Ctrl-C was pressed; long loops should check it and return [`Interrupted`].
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag itself, for numerics that poll it.
    pub fn cancel_flag(&self) -> &AtomicBool {
        self.cancel
    }

    /// Returns `Err(Interrupted)` if Ctrl-C was pressed.
    pub fn check_cancelled(&self) -> StageResult {
        if self.cancelled() {
            Err(Box::new(Interrupted))
        } else {
            Ok(())
        }
    }

    /// A progress bar for `total` items (field steps, epochs, structures) of this stage.
    pub fn progress(&self, label: &str, total: u64) -> ItemBar {
        self.progress.item_bar(&self.name, label, total)
    }

    /// Appends a line to the stage's log (kept in the record) and emits it as a tracing event.
    pub fn log(&self, message: impl AsRef<str>) {
        let m = message.as_ref();
        tracing::info!(stage = %self.name, "{m}");
        if let Ok(mut f) = self.log.lock() {
            let _ = writeln!(f, "{m}");
        }
    }

    /// Per-item cache for fan-out work: returns item `index`'s stored result if an earlier (possibly
    /// interrupted) run of this very key finished it, else computes, stores and returns it. Safe to
    /// call from many threads; each item is published atomically.
    pub fn shard<T, F>(&self, index: usize, compute: F) -> StageResult<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> StageResult<T>,
    {
        let dir = self.cache.shard_dir_ready(&self.key)?;
        let pointer = dir.join(format!("{index}"));
        if let Some(digest) = Cache::read_pointer(&pointer)
            && let Ok(bytes) = self.cache.read_intact(&digest)
            && let Ok(v) = serde_json::from_slice(&bytes)
        {
            return Ok(v);
        }
        // Whatever is there (a folder, garbage, a pointer to a lost object) is debris: discard it.
        super::cache::remove_any(&pointer)?;
        let value = compute()?;
        let bytes = serde_json::to_vec(&value)?;
        let (digest, _) = self.cache.put_bytes(&bytes)?;
        self.cache.write_atomic(&pointer, digest.as_bytes())?;
        Ok(value)
    }

    /// Fan-out work: item `i` of `0..n` is `compute(i)`, computed in parallel, each cached as a
    /// shard (see [`StageContext::shard`]), with a progress bar and Ctrl-C checks. Returns the items
    /// in order. Under a cluster executor the same call may instead only count the items or compute
    /// one slice of them, ending the stage early with [`FanOutCount`] / [`SliceDone`]: propagate its
    /// error with `?` and do nothing expensive before calling it.
    pub fn fan_out<T, F>(&self, label: &str, n: usize, compute: F) -> StageResult<Vec<T>>
    where
        T: Serialize + DeserializeOwned + Send,
        F: Fn(usize) -> StageResult<T> + Sync,
    {
        let range = match &self.fan_out {
            FanOutMode::Count => return Err(Box::new(FanOutCount(n))),
            FanOutMode::All => 0..n,
            FanOutMode::Slice(r) => r.start.min(n)..r.end.min(n),
        };
        let bar = self.progress(label, range.len() as u64);
        let items: Vec<T> = range
            .into_par_iter()
            .map(|i| {
                self.check_cancelled()?;
                let item = self.shard(i, || compute(i))?;
                bar.inc(1);
                Ok(item)
            })
            .collect::<StageResult<_>>()?;
        match self.fan_out {
            FanOutMode::Slice(_) => Err(Box::new(SliceDone)),
            _ => Ok(items),
        }
    }

    /// A folder that survives an interrupted or failed run of this very key (and is deleted once
    /// the stage completes): for checkpoints of long trainings, so a rerun resumes.
    pub fn resume_dir(&self) -> StageResult<PathBuf> {
        let p = self.cache.shard_dir_ready(&self.key)?.join("resume");
        super::cache::remove_unless_dir(&p)?;
        fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Opens the log file for appending (used by the executor).
    pub(crate) fn open_log(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }
}
