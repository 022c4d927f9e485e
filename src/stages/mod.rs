//! Stage adapters: one per stage kind. Each reads its parameters and inputs from a
//! [`StageContext`](crate::engine::StageContext), calls the physics or learning code, and writes its
//! declared outputs. The catalogue entries (`stages/<kind>.toml`) describe them.

use std::sync::Arc;

use crate::engine::{Registry, Result, catalog::Catalog};

pub mod grain_sampling;
pub mod structures;
pub mod table;

/// Every stage kind compiled into this binary, with its catalogue.
pub fn registry() -> Result<Registry> {
    let mut r = Registry::new(Catalog::builtin()?);
    r.register(
        "grain_sampling",
        Arc::new(grain_sampling::GrainSamplingStage),
    );
    r.register("table", Arc::new(table::TableStage));
    Ok(r)
}
