//! Zeeman term of a uniform applied field.

use crate::physics::micromag::vector_field::VectorField;

/// Uniform applied field `B_z = μ0 H_ext` (tesla); energy `−Ms V Σ m·B_z`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Zeeman {
    /// Applied field μ0·H_ext in tesla.
    pub b_ext: [f64; 3],
}

impl Zeeman {
    /// Adds the applied field to `b` (first `ncomp` components).
    pub fn add_field(&self, b: &mut VectorField, ncomp: usize) {
        let [bx, by, bz] = self.b_ext;
        b.x.iter_mut().for_each(|v| *v += bx);
        b.y.iter_mut().for_each(|v| *v += by);
        if ncomp == 3 {
            b.z.iter_mut().for_each(|v| *v += bz);
        }
    }

    /// Zeeman energy in joules for saturation magnetization `ms` (A/m) and cell volume.
    pub fn energy(&self, m: &VectorField, ms: f64, cell_volume: f64) -> f64 {
        let s = m.mean();
        let n = m.len() as f64;
        -ms * cell_volume * n * (s[0] * self.b_ext[0] + s[1] * self.b_ext[1] + s[2] * self.b_ext[2])
    }
}
