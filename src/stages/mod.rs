//! Stage adapters: one per stage kind. Each reads its parameters and inputs from a
//! [`StageContext`](crate::engine::StageContext), calls the physics or learning code, and writes its
//! declared outputs. The catalogue entries (`stages/<kind>.toml`) describe them.

use std::sync::Arc;

use crate::engine::{Registry, Result, Stage, catalog::Catalog};

pub mod ae3d_fit;
pub mod anchors;
pub mod choice;
pub mod command;
pub mod cubic_grains;
pub mod demag_curve;
pub mod encode;
pub mod esw_curve;
pub mod evaluate;
pub mod grain_sampling;
pub mod inverse_cnn_eval;
pub mod inverse_cnn_fit;
pub mod kornell_common;
pub mod latent_design;
pub mod learn_common;
pub mod micromag_common;
pub mod morph;
pub mod pollok_common;
pub mod prism_design;
pub mod regress_fit;
pub mod rollout_eval;
pub mod rollout_fit;
pub mod solve_structure;
pub mod structures;
pub mod table;
pub mod test_samples;
pub mod vae_fit;

/// Every stage kind compiled into this binary, with its catalogue.
pub fn registry() -> Result<Registry> {
    let mut r = Registry::new(Catalog::builtin()?);
    let kinds: Vec<(&str, Arc<dyn Stage>)> = vec![
        ("ae3d_fit", Arc::new(ae3d_fit::Ae3dFitStage)),
        ("anchors", Arc::new(anchors::AnchorsStage)),
        ("command", Arc::new(command::CommandStage)),
        ("cubic_grains", Arc::new(cubic_grains::CubicGrainsStage)),
        ("demag_curve", Arc::new(demag_curve::DemagCurveStage)),
        ("encode", Arc::new(encode::EncodeStage)),
        ("esw_curve", Arc::new(esw_curve::EswCurveStage)),
        ("evaluate", Arc::new(evaluate::EvaluateStage)),
        (
            "grain_sampling",
            Arc::new(grain_sampling::GrainSamplingStage),
        ),
        (
            "inverse_cnn_eval",
            Arc::new(inverse_cnn_eval::InverseCnnEvalStage),
        ),
        (
            "inverse_cnn_fit",
            Arc::new(inverse_cnn_fit::InverseCnnFitStage),
        ),
        ("latent_design", Arc::new(latent_design::LatentDesignStage)),
        ("morph", Arc::new(morph::MorphStage)),
        ("prism_design", Arc::new(prism_design::PrismDesignStage)),
        ("regress_fit", Arc::new(regress_fit::RegressFitStage)),
        ("rollout_eval", Arc::new(rollout_eval::RolloutEvalStage)),
        ("rollout_fit", Arc::new(rollout_fit::RolloutFitStage)),
        (
            "solve_structure",
            Arc::new(solve_structure::SolveStructureStage),
        ),
        ("table", Arc::new(table::TableStage)),
        ("test_samples", Arc::new(test_samples::TestSamplesStage)),
        ("vae_fit", Arc::new(vae_fit::VaeFitStage)),
    ];
    for (kind, stage) in kinds {
        r.register(kind, stage);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_catalogue_kind_has_an_implementation() {
        let r = super::registry().expect("catalogue parses");
        for spec in r.catalog.kinds() {
            assert!(
                r.implementation(&spec.kind).is_some(),
                "stages/{}.toml has no implementation",
                spec.kind
            );
        }
    }
}
