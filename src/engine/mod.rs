//! The domain-agnostic engine: manifests and layering, the plan (a DAG of jobs), keys, the
//! content-addressed cache, executors, records and results. It knows nothing about magnets: stage
//! kinds are registered by `crate::stages`, described by the catalogue in `stages/*.toml`.

pub mod cache;
pub mod catalog;
pub mod code;
pub mod command;
pub mod compare;
pub mod context;
pub mod diag;
pub mod error;
pub mod executor;
pub mod history;
pub mod job_runner;
pub mod key;
pub mod lock;
pub mod maintenance;
pub mod manifest;
pub mod param_checks;
pub mod plan;
pub mod progress;
pub mod published;
pub mod reason;
pub mod record;
pub mod resolve;
pub mod resources;
pub mod results;
pub mod rocrate;
pub mod session;
pub mod slurm;
pub mod stage;
pub mod sweep;
pub mod sweep_bands;
pub mod sweep_groups;
pub mod targets;
pub mod ticket;

pub use context::{
    FanOutCount, FanOutMode, Interrupted, SliceDone, StageContext, StageError, StageResult,
};
pub use error::{EngineError, Result};
pub use param_checks::ParamProblem;
pub use stage::{Registry, Stage};
