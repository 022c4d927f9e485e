//! The artifact that links grain sampling to its consumers: the sampling parameters and, per
//! structure, its seed, number of grains and θ. Each structure regenerates bit-exactly from its seed,
//! so 320 000 structures cost a few MB instead of 33 GB of images.

use serde::{Deserialize, Serialize};

use crate::physics::micromag::grains::{GrainSampling, GrainStructure};

/// One sampled structure, by its seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureEntry {
    /// Seed that regenerates the structure.
    pub seed: u64,
    /// Number of grains.
    pub n_grains: usize,
    /// Misorientation bound θ (rad).
    pub theta: f64,
}

/// A set of structures (the `structures` output of `grain_sampling`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureSet {
    /// The sampling distribution (grid, cell size, ranges).
    pub sampling: GrainSampling,
    /// The structures, in order.
    pub items: Vec<StructureEntry>,
}

impl StructureSet {
    /// Reads a structure set.
    pub fn load(path: &std::path::Path) -> Result<StructureSet, crate::engine::StageError> {
        Ok(serde_json::from_slice(&std::fs::read(path)?)
            .map_err(|e| format!("{}: not a structure set: {e}", path.display()))?)
    }

    /// Regenerates structure `i`.
    pub fn structure(&self, i: usize) -> Result<GrainStructure, crate::engine::StageError> {
        let e = self.items.get(i).ok_or_else(|| {
            format!(
                "structure {i} out of range ({} structures)",
                self.items.len()
            )
        })?;
        Ok(self.sampling.sample(e.seed)?)
    }
}
