//! The plug-in point of the engine: the [`Stage`] trait a stage kind implements and the
//! [`Registry`] of kinds with their implementations (filled by `src/stages/mod.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::Value;

use super::catalog::Catalog;
use super::context::{StageContext, StageResult};
use super::param_checks::ParamProblem;

/// A stage kind's implementation.
pub trait Stage: Send + Sync {
    /// Runs the stage: reads parameters and inputs from `ctx`, writes every declared output.
    fn run(&self, ctx: &StageContext) -> StageResult;

    /// Checks the resolved parameters beyond their catalogue types and bounds (a grammar, a
    /// relation between parameters) at plan time; each problem names its parameter and becomes
    /// a located manifest error. The default accepts everything.
    fn check_params(&self, _params: &BTreeMap<String, Value>) -> Vec<ParamProblem> {
        Vec::new()
    }
}

/// Stage kinds with their implementations.
#[derive(Clone, Default)]
pub struct Registry {
    /// The catalogue (parameters, inputs, outputs, fingerprints).
    pub catalog: Catalog,
    impls: BTreeMap<String, Arc<dyn Stage>>,
}

impl Registry {
    /// A registry over `catalog` with no implementations yet.
    pub fn new(catalog: Catalog) -> Self {
        Registry {
            catalog,
            impls: BTreeMap::new(),
        }
    }

    /// Registers the implementation of `kind`.
    pub fn register(&mut self, kind: &str, stage: Arc<dyn Stage>) {
        self.impls.insert(kind.to_string(), stage);
    }

    /// The implementation of `kind`.
    pub fn implementation(&self, kind: &str) -> Option<Arc<dyn Stage>> {
        self.impls.get(kind).cloned()
    }
}
