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
    /// Reads a design set, refusing split indices outside `designs` and non-finite designs (the
    /// file can be a user's `file:` input).
    pub fn load(path: &std::path::Path) -> StageResult<DesignSet> {
        let set: DesignSet = serde_json::from_slice(&std::fs::read(path)?)?;
        set.check()?;
        Ok(set)
    }

    /// Checks that every split index names a design and every design value is finite.
    pub fn check(&self) -> StageResult {
        let n = self.designs.len();
        for (name, rows) in [
            ("train", &self.train),
            ("validation", &self.validation),
            ("test", &self.test),
        ] {
            if let Some(&bad) = rows.iter().find(|&&i| i >= n) {
                return Err(format!(
                    "design set: {name} row {bad} is out of range (there are {n} designs)"
                )
                .into());
            }
        }
        if let Some(i) = self
            .designs
            .iter()
            .position(|d| d.iter().any(|v| !v.is_finite()))
        {
            return Err(format!("design set: design {i} holds a non-finite value").into());
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crafted_design_sets_are_refused_at_load_not_by_a_panic_later() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("designs.json");
        let write = |text: &str| std::fs::write(&path, text).expect("write");
        write(r#"{"designs": [[0,0,1,1,0]], "train": [0], "validation": [], "test": [5]}"#);
        let err = DesignSet::load(&path).expect_err("index 5 of 1 design");
        assert!(err.to_string().contains("test row 5"), "{err}");
        write(r#"{"designs": [[0,0,1,1e999,0]], "train": [0], "validation": [], "test": []}"#);
        assert!(DesignSet::load(&path).is_err(), "1e999 parses as inf");
        write(r#"{"designs": [[0,0,1,1,0]], "train": [0], "validation": [0], "test": [0]}"#);
        let set = DesignSet::load(&path).expect("a valid set loads");
        assert_eq!(set.design(0).side_cm, 1.0);
    }
}
