//! `command`: runs any program as a cached stage; everything it needs is declared per stage in the
//! manifest (program, inputs, outputs, code, env, params). The machinery is domain-agnostic and
//! lives in [`crate::engine::command`].

use crate::engine::command::run::run_command;
use crate::engine::{Stage, StageContext, StageResult};

/// The `command` stage kind.
pub struct CommandStage;

impl Stage for CommandStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        run_command(ctx)
    }
}
