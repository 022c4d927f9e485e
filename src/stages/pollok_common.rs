//! The Pollok design set as stored between stages, and field-map batches for the CNNs.

use ndarray::{Array2, Array4, Axis};
use serde::{Deserialize, Serialize};

use crate::engine::StageResult;
use crate::physics::prism_design::{DesignSpace, PrismDesign, field_maps, targets};

/// Designs as `[x_cm, y_cm, side_cm, mu0_m_t, phi_rad]` with the split (indices into `designs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DesignSet {
    /// The design rows.
    pub designs: Vec<[f64; 5]>,
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub validation: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

impl DesignSet {
    /// Reads a design set.
    pub fn load(path: &std::path::Path) -> StageResult<DesignSet> {
        Ok(serde_json::from_slice(&std::fs::read(path)?)?)
    }

    /// Design `i`.
    pub fn design(&self, i: usize) -> PrismDesign {
        let d = self.designs[i];
        PrismDesign {
            x_cm: d[0],
            y_cm: d[1],
            side_cm: d[2],
            magnetization_t: d[3],
            phi_rad: d[4],
        }
    }
}

/// Field maps `(n, 2, R, R)` and targets `(n, 5)` of designs `rows`, computed on the fly.
pub fn batch(
    set: &DesignSet,
    rows: &[usize],
    resolution: usize,
) -> StageResult<(Array4<f32>, Array2<f32>)> {
    let designs: Vec<PrismDesign> = rows.iter().map(|&i| set.design(i)).collect();
    let maps = field_maps(&designs, resolution)?;
    let space = DesignSpace::default();
    let mut t = Array2::<f32>::zeros((rows.len(), 5));
    for (mut row, d) in t.axis_iter_mut(Axis(0)).zip(&designs) {
        for (k, v) in targets(d, &space).iter().enumerate() {
            row[k] = *v as f32;
        }
    }
    Ok((maps, t))
}
