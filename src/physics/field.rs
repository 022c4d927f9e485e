//! Effective field B = μ0·H_eff (tesla) and total energy, composed from the energy terms.

use std::ops::Range;
use std::sync::Arc;

use super::anisotropy::UniaxialAnisotropy;
use super::demag::{Demag, DemagSpectra};
use super::error::PhysicsError;
use super::exchange::Exchange;
use super::material::Material;
use super::mesh::Mesh;
use super::vector_field::{LANES, VectorField, lane_accumulate};
use super::zeeman::Zeeman;

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
    nx: usize,
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
            nx: mesh.nx,
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
        self.evaluate_with(m, b, |_, _| {})
    }

    /// [`EffectiveField::evaluate`] in one pass over the cells after the demag transform: each
    /// block of rows gets its local terms (exchange, anisotropy, Zeeman) and its energy share
    /// as soon as the inverse FFT has written it, then `finished(cells, b)` is called with that
    /// block's cell range (whole rows, consecutive, in order) and the field final there — so a
    /// minimizer can form its torque while the block is still in cache. The arithmetic and the
    /// order of every sum are those of the separate passes (results are bitwise identical).
    pub fn evaluate_with(
        &mut self,
        m: &VectorField,
        b: &mut VectorField,
        mut finished: impl FnMut(Range<usize>, &VectorField),
    ) -> f64 {
        let ncomp = self.mode.ncomp();
        let (nx, ny) = (self.nx, self.n / self.nx.max(1));
        let ext = self.zeeman.b_ext;
        let mut energy = EnergyLanes::default();
        let (exchange, anisotropy, zeeman) = (&self.exchange, &self.anisotropy, &self.zeeman);
        let mut local = |rows: Range<usize>, b: &mut VectorField| {
            let cells = rows.start * nx..rows.end * nx;
            if let Some(ex) = exchange {
                ex.add_field_rows(m, b, ncomp, rows);
            }
            if let Some(an) = anisotropy {
                an.add_field_cells(m, b, ncomp, cells.clone());
            }
            zeeman.add_field_cells(b, ncomp, cells.clone());
            energy.add(m, b, ext, ncomp, cells.clone());
            finished(cells, b);
        };
        match &mut self.demag {
            Some(d) => d.set_field_with(m, b, ncomp, &mut local),
            None => {
                b.x.fill(0.0);
                b.y.fill(0.0);
                if ncomp == 3 {
                    b.z.fill(0.0);
                }
                for y0 in (0..ny).step_by(LOCAL_ROW_BLOCK) {
                    local(y0..(y0 + LOCAL_ROW_BLOCK).min(ny), b);
                }
            }
        }
        let k = if self.anisotropy.is_some() {
            self.k1_over_ms
        } else {
            0.0
        };
        -0.5 * energy.total(ncomp) + self.n as f64 * k
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

/// Rows per block of the local pass when there is no demag transform to follow.
const LOCAL_ROW_BLOCK: usize = 8;

/// Lane-wise partial sums of Σ m·(b + b_ext): cell i goes to lane i mod [`LANES`], the order of
/// [`super::vector_field::lane_sum`], so block-wise accumulation equals one pass bit for bit.
#[derive(Default)]
struct EnergyLanes {
    xy: [f64; LANES],
    z: [f64; LANES],
}

impl EnergyLanes {
    /// Adds the cells `cells` (in increasing order).
    fn add(
        &mut self,
        m: &VectorField,
        b: &VectorField,
        ext: [f64; 3],
        ncomp: usize,
        cells: Range<usize>,
    ) {
        let [ex, ey, ez] = ext;
        let n = m.len();
        let (mx, my, bx, by) = (&m.x[..n], &m.y[..n], &b.x[..n], &b.y[..n]);
        lane_accumulate(&mut self.xy, cells.clone(), |i| {
            mx[i] * (bx[i] + ex) + my[i] * (by[i] + ey)
        });
        if ncomp == 3 {
            let (mz, bz) = (&m.z[..n], &b.z[..n]);
            lane_accumulate(&mut self.z, cells, |i| mz[i] * (bz[i] + ez));
        }
    }

    /// Σ m·(b + b_ext) with the lanes combined in order (x/y part first, then z).
    fn total(&self, ncomp: usize) -> f64 {
        let mut s: f64 = self.xy.iter().sum();
        if ncomp == 3 {
            s += self.z.iter().sum::<f64>();
        }
        s
    }
}

#[cfg(test)]
#[path = "field_tests.rs"]
mod tests;
