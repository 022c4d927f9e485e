//! Effective field B = μ0·H_eff (tesla) and total energy, composed from the energy terms.

use std::sync::Arc;

use crate::physics::error::PhysicsError;
use crate::physics::micromag::anisotropy::UniaxialAnisotropy;
use crate::physics::micromag::demag::{Demag, DemagSpectra};
use crate::physics::micromag::exchange::Exchange;
use crate::physics::micromag::material::Material;
use crate::physics::micromag::mesh::Mesh;
use crate::physics::micromag::vector_field::{VectorField, lane_sum};
use crate::physics::micromag::zeeman::Zeeman;

/// Degrees of freedom of the magnetization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MagnetizationMode {
    /// m = (mx, my, 0): exact for in-plane easy axes, in-plane fields and a single layer (the
    /// update keeps mz ≡ 0), as in Kovacs et al. Two components are computed (fast path).
    #[default]
    InPlane,
    /// Full 3D unit vectors (rotation through z allowed; needed for out-of-plane axes).
    Full3d,
}

impl MagnetizationMode {
    /// Number of magnetization components that are computed (2 or 3).
    pub fn ncomp(self) -> usize {
        match self {
            Self::InPlane => 2,
            Self::Full3d => 3,
        }
    }
}

/// Energy of each term in joules.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EnergyTerms {
    /// Exchange energy.
    pub exchange: f64,
    /// Uniaxial anisotropy energy (zero when m is along every axis).
    pub anisotropy: f64,
    /// Magnetostatic self-energy.
    pub demag: f64,
    /// Zeeman energy.
    pub zeeman: f64,
}

impl EnergyTerms {
    /// Sum of all terms.
    pub fn total(&self) -> f64 {
        self.exchange + self.anisotropy + self.demag + self.zeeman
    }
}

/// All energy terms of one structure with preallocated workspaces.
///
/// Energies returned by [`EffectiveField::evaluate`] are *reduced*: E/(Ms·V_cell), in tesla,
/// so that along a descent step m⁺ ≈ m − τG the energy changes by −τ Σ|G_i|².
#[derive(Debug)]
pub struct EffectiveField {
    mode: MagnetizationMode,
    n: usize,
    ms: f64,
    cell_volume: f64,
    k1_over_ms: f64,
    exchange: Option<Exchange>,
    anisotropy: Option<UniaxialAnisotropy>,
    demag: Option<Demag>,
    zeeman: Zeeman,
}

impl EffectiveField {
    /// Composes exchange (if A > 0), anisotropy (if K1 > 0) with per-cell `axes`, demag (if
    /// `demag` is given; its dims must match the mesh) and a zero applied field.
    pub fn new(
        mesh: &Mesh,
        material: &Material,
        axes: VectorField,
        demag: Option<Arc<DemagSpectra>>,
        mode: MagnetizationMode,
    ) -> Result<Self, PhysicsError> {
        mesh.validate()?;
        material.validate()?;
        let n = mesh.n_cells();
        if axes.len() != n {
            return Err(PhysicsError::ShapeMismatch {
                what: "easy axes",
                got: vec![axes.len()],
                expected: vec![n],
            });
        }
        if mode == MagnetizationMode::InPlane && axes.z.iter().any(|&z| z != 0.0) {
            return Err(PhysicsError::InvalidOption(
                "out-of-plane easy axes need MagnetizationMode::Full3d".into(),
            ));
        }
        if let Some(s) = &demag
            && s.dims() != (mesh.nx, mesh.ny)
        {
            return Err(PhysicsError::ShapeMismatch {
                what: "demag spectra",
                got: vec![s.dims().1, s.dims().0],
                expected: vec![mesh.ny, mesh.nx],
            });
        }
        let anisotropy = if material.k1 > 0.0 {
            Some(UniaxialAnisotropy::new(material, axes)?)
        } else {
            None
        };
        Ok(Self {
            mode,
            n,
            ms: material.ms(),
            cell_volume: mesh.cell_volume(),
            k1_over_ms: material.k1 / material.ms(),
            exchange: (material.exchange_a > 0.0).then(|| Exchange::new(mesh, material)),
            anisotropy,
            demag: demag.map(|s| Demag::new(s, material.mu0_ms)),
            zeeman: Zeeman::default(),
        })
    }

    /// Magnetization mode.
    pub fn mode(&self) -> MagnetizationMode {
        self.mode
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.n
    }

    /// Ms·V_cell in J/T: multiplies a reduced energy into joules.
    pub fn energy_scale(&self) -> f64 {
        self.ms * self.cell_volume
    }

    /// Sets the uniform applied field μ0·H_ext (tesla).
    pub fn set_applied_field(&mut self, b_ext: [f64; 3]) {
        self.zeeman.b_ext = b_ext;
    }

    /// Applied field μ0·H_ext (tesla).
    pub fn applied_field(&self) -> [f64; 3] {
        self.zeeman.b_ext
    }

    /// Writes the effective field of the unit-vector field `m` into `b` and returns the reduced
    /// total energy E/(Ms·V_cell) (tesla). In-plane mode reads/writes only x and y.
    pub fn evaluate(&mut self, m: &VectorField, b: &mut VectorField) -> f64 {
        let ncomp = self.mode.ncomp();
        match &mut self.demag {
            Some(d) => d.set_field(m, b, ncomp),
            None => {
                b.x.fill(0.0);
                b.y.fill(0.0);
                if ncomp == 3 {
                    b.z.fill(0.0);
                }
            }
        }
        if let Some(ex) = &self.exchange {
            ex.add_field(m, b, ncomp);
        }
        if let Some(an) = &self.anisotropy {
            an.add_field(m, b, ncomp);
        }
        self.zeeman.add_field(b, ncomp);
        self.reduced_energy(m, b)
    }

    /// Reduced energy from m and the total field b: −½ Σ m·(b + b_ext) + N K1/Ms.
    fn reduced_energy(&self, m: &VectorField, b: &VectorField) -> f64 {
        let [ex, ey, ez] = self.zeeman.b_ext;
        let n = self.n;
        let (mx, my, bx, by) = (&m.x[..n], &m.y[..n], &b.x[..n], &b.y[..n]);
        let mut s = lane_sum(n, |i| mx[i] * (bx[i] + ex) + my[i] * (by[i] + ey));
        if self.mode.ncomp() == 3 {
            let (mz, bz) = (&m.z[..n], &b.z[..n]);
            s += lane_sum(n, |i| mz[i] * (bz[i] + ez));
        }
        let k = if self.anisotropy.is_some() {
            self.k1_over_ms
        } else {
            0.0
        };
        -0.5 * s + n as f64 * k
    }

    /// Per-cell exchange self-coupling (tesla; zeros without exchange), see
    /// [`Exchange::self_coupling`].
    pub fn exchange_self_coupling(&self) -> Vec<f64> {
        match &self.exchange {
            Some(ex) => ex.self_coupling(),
            None => vec![0.0; self.n],
        }
    }

    /// Anisotropy coefficient μ0·HA (tesla) and per-cell unit axes, if anisotropy is on.
    pub fn anisotropy_axes(&self) -> Option<(f64, &VectorField)> {
        self.anisotropy
            .as_ref()
            .map(|a| (a.coefficient(), a.axes()))
    }

    /// Energy of every term in joules (diagnostic; allocates).
    pub fn energies(&mut self, m: &VectorField) -> EnergyTerms {
        let ncomp = self.mode.ncomp();
        let (n, ms, v) = (self.n, self.ms, self.cell_volume);
        let half_dot = |b: &VectorField| -> f64 {
            let mut s = 0.0;
            for i in 0..n {
                s += m.x[i] * b.x[i] + m.y[i] * b.y[i];
                if ncomp == 3 {
                    s += m.z[i] * b.z[i];
                }
            }
            -0.5 * ms * v * s
        };
        let mut b = VectorField::zeros(n);
        let mut terms = EnergyTerms::default();
        if let Some(ex) = &self.exchange {
            ex.add_field(m, &mut b, ncomp);
            terms.exchange = half_dot(&b);
        }
        if let Some(d) = &mut self.demag {
            d.set_field(m, &mut b, ncomp);
            terms.demag = half_dot(&b);
        }
        if let Some(an) = &self.anisotropy {
            terms.anisotropy = an.energy(m, v);
        }
        terms.zeeman = self.zeeman.energy(m, ms, v);
        terms
    }
}
