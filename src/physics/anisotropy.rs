//! Uniaxial magnetocrystalline anisotropy with a per-cell easy axis.

use std::ops::Range;

use super::error::PhysicsError;
use super::material::Material;
use super::vector_field::VectorField;

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
        self.add_field_cells(m, b, ncomp, 0..m.len());
    }

    /// [`UniaxialAnisotropy::add_field`] restricted to the cells `cells`.
    pub fn add_field_cells(
        &self,
        m: &VectorField,
        b: &mut VectorField,
        ncomp: usize,
        cells: Range<usize>,
    ) {
        let c = self.coeff;
        let r = cells;
        let (mx, my) = (&m.x[r.clone()], &m.y[r.clone()]);
        let (ux, uy) = (&self.axes.x[r.clone()], &self.axes.y[r.clone()]);
        let n = mx.len();
        if ncomp == 2 {
            let (bx, by) = (&mut b.x[r.clone()], &mut b.y[r]);
            for i in 0..n {
                let p = c * (mx[i] * ux[i] + my[i] * uy[i]);
                bx[i] += p * ux[i];
                by[i] += p * uy[i];
            }
        } else {
            let (mz, uz) = (&m.z[r.clone()], &self.axes.z[r.clone()]);
            let (bx, by, bz) = (&mut b.x[r.clone()], &mut b.y[r.clone()], &mut b.z[r]);
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
