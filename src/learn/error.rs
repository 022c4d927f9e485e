//! Error type of the learning layer.

use std::path::PathBuf;

/// Errors raised by model construction, training, checkpointing and inference.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// The requested backend name is not one of `flex`, `vulkan`, `cuda`.
    #[error("unknown backend `{0}` (expected flex, vulkan or cuda)")]
    UnknownBackend(String),
    /// The requested backend exists but this binary was built without its cargo feature.
    #[error("backend `{backend}` is not compiled in: rebuild with `--features {feature}`")]
    BackendNotCompiled {
        /// Backend name as the user wrote it.
        backend: &'static str,
        /// Cargo feature that enables it.
        feature: &'static str,
    },
    /// The worker thread pool could not be created.
    #[error("cannot build a thread pool with {threads} threads: {message}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// Message from rayon.
        message: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Input arrays have shapes that do not fit the model.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The training loss became NaN or infinite; no model is returned or saved.
    #[error("training diverged at epoch {epoch}, batch {batch}: loss = {loss}")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch index within the epoch.
        batch: usize,
        /// The non-finite loss value.
        loss: f64,
    },
    /// A validation loss, a weight or a metric is NaN or infinite; no model is returned or saved.
    #[error("training produced a non-finite value: {0}")]
    NonFinite(String),
    /// A file could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A JSON side file could not be encoded or decoded.
    #[error("JSON error on {path}: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// Underlying error.
        source: serde_json::Error,
    },
    /// burn could not save or load a burnpack record.
    #[error("model/optimizer record error on {path}: {message}")]
    Record {
        /// The file involved.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// A tensor could not be read back from the device.
    #[error("tensor read-back failed: {0}")]
    TensorRead(String),
    /// A caller-supplied batch loader failed.
    #[error("batch loader failed: {0}")]
    Loader(String),
    /// The caller's cancel flag was set; training stopped before the given epoch.
    #[error("training cancelled before epoch {epoch}")]
    Cancelled {
        /// 1-based epoch that was not started.
        epoch: usize,
    },
}

impl LearnError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a burn record error with the path it concerns.
    pub fn record(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Self::Record {
            path: path.into(),
            message: err.to_string(),
        }
    }
}
