//! Engine error types.

use std::path::PathBuf;

use super::diag::Diagnostic;

/// Errors of the engine (manifest, catalogue, cache, execution).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// One or more located manifest errors (exit code 2).
    #[error("{}", render_all(.0))]
    Manifest(Vec<Diagnostic>),
    /// A usage error not tied to a manifest location (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A broken stage catalogue entry (a bug in the binary, not the user's input).
    #[error("stage catalogue entry `{kind}` is invalid: {message}")]
    Catalog {
        /// Kind whose entry is broken.
        kind: String,
        /// What is wrong.
        message: String,
    },
    /// File-system trouble, with the path involved.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A corrupt or unreadable cache entry.
    #[error("cache entry {path} is corrupt: {message}")]
    Corrupt {
        /// Path of the entry.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl EngineError {
    /// Wraps an I/O error with the action and the path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The process exit code this error maps to: 2 for bad manifests and usage, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Manifest(_) | EngineError::Usage(_) => 2,
            EngineError::Interrupted => 130,
            _ => 1,
        }
    }
}

fn render_all(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Shorthand result type of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
