//! Uniaxial magnetocrystalline anisotropy with a per-cell easy axis.

use crate::physics::error::PhysicsError;
use crate::physics::micromag::material::Material;
use crate::physics::micromag::vector_field::VectorField;

/// Uniaxial anisotropy: `B_an = (2K1/Ms)(m·u)u` (tesla), energy density `K1(1 − (m·u)²)`.
/// An axis u and −u describe the same anisotropy.
#[derive(Debug, Clone)]
pub struct UniaxialAnisotropy {
    k1: f64,
    coeff: f64,
    axes: VectorField,
}

impl UniaxialAnisotropy {
    /// Anisotropy with constant K1 of `material` and one unit axis per cell (normalized here).
    pub fn new(material: &Material, axes: VectorField) -> Result<Self, PhysicsError> {
        let mut axes = axes;
        for i in 0..axes.len() {
            let u = axes.get(i);
            let n2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
            if !(n2.is_finite() && n2 > 0.0) {
                return Err(PhysicsError::NonFinite(format!(
                    "easy axis of cell {i} is {u:?}"
                )));
            }
        }
        axes.normalize();
        Ok(Self {
            k1: material.k1,
            coeff: material.mu0_ha(),
            axes,
        })
    }

    /// Field coefficient 2K1/Ms = μ0·HA (tesla): `B_an = coefficient·(m·u)u`.
    pub fn coefficient(&self) -> f64 {
        self.coeff
    }

    /// Per-cell unit axes.
    pub fn axes(&self) -> &VectorField {
        &self.axes
    }

    /// Adds the anisotropy field of `m` to `b` (first `ncomp` components).
    pub fn add_field(&self, m: &VectorField, b: &mut VectorField, ncomp: usize) {
        let c = self.coeff;
        let n = m.len();
        let (mx, my, ux, uy) = (&m.x[..n], &m.y[..n], &self.axes.x[..n], &self.axes.y[..n]);
        let (bx, by) = (&mut b.x[..n], &mut b.y[..n]);
        if ncomp == 2 {
            for i in 0..n {
                let p = c * (mx[i] * ux[i] + my[i] * uy[i]);
                bx[i] += p * ux[i];
                by[i] += p * uy[i];
            }
        } else {
            let (mz, uz, bz) = (&m.z[..n], &self.axes.z[..n], &mut b.z[..n]);
            for i in 0..n {
                let p = c * (mx[i] * ux[i] + my[i] * uy[i] + mz[i] * uz[i]);
                bx[i] += p * ux[i];
                by[i] += p * uy[i];
                bz[i] += p * uz[i];
            }
        }
    }

    /// Anisotropy energy `Σ K1 V (1 − (m·u)²)` in joules for cell volume `cell_volume`.
    pub fn energy(&self, m: &VectorField, cell_volume: f64) -> f64 {
        let u = &self.axes;
        let mut sum = 0.0;
        for i in 0..m.len() {
            let p = m.x[i] * u.x[i] + m.y[i] * u.y[i] + m.z[i] * u.z[i];
            sum += 1.0 - p * p;
        }
        self.k1 * cell_volume * sum
    }
}
