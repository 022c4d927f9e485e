//! Demagnetization curve: quasi-static field sweep, each step relaxed from the previous state.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ndarray::ArrayView2;

use crate::physics::error::PhysicsError;
use crate::physics::micromag::anchors::{Anchors, anchors};
use crate::physics::micromag::demag::DemagSpectra;
use crate::physics::micromag::demag_kernel::KernelOptions;
use crate::physics::micromag::field::{EffectiveField, MagnetizationMode};
use crate::physics::micromag::material::Material;
use crate::physics::micromag::mesh::Mesh;
use crate::physics::micromag::minimizer::{Minimizer, MinimizerConfig};
use crate::physics::micromag::ncg::NcgOptions;
use crate::physics::micromag::vector_field::VectorField;

/// Field sweep. Fields are in units of the anisotropy field HA, along the in-plane direction
/// ĥ = (sin α, cos α, 0) with α = `field_angle` (α = 0: +y, as in Kovacs et al.).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepOptions {
    /// First field (HA units).
    pub h_start: f64,
    /// Last field (HA units).
    pub h_end: f64,
    /// Step size (HA units, > 0); |h_end − h_start| must be a whole number of steps.
    pub h_step: f64,
    /// In-plane field direction, radians from +y towards +x.
    pub field_angle: f64,
    /// The start state is uniform along ĥ rotated in-plane by this angle (radians), a tiny
    /// symmetry breaker: m exactly antiparallel to the field never moves.
    pub initial_tilt: f64,
}

impl Default for SweepOptions {
    /// +1 HA → −1 HA in 0.01 HA steps (201 fields) along +y, start tilted by 1 mrad.
    fn default() -> Self {
        Self {
            h_start: 1.0,
            h_end: -1.0,
            h_step: 0.01,
            field_angle: 0.0,
            initial_tilt: 1e-3,
        }
    }
}

impl SweepOptions {
    /// The field values h_k = (h_start·(n − k) + h_end·k)/n, k = 0..=n (exact at grid points
    /// such as 0 and ±0.5 for the default sweep).
    pub fn fields(&self) -> Result<Vec<f64>, PhysicsError> {
        let span = (self.h_end - self.h_start).abs();
        let finite = [self.h_start, self.h_end, self.h_step, self.field_angle]
            .iter()
            .all(|v| v.is_finite())
            && self.initial_tilt.is_finite();
        if !finite || self.h_step <= 0.0 {
            return Err(PhysicsError::InvalidOption(format!("{self:?}")));
        }
        let n = (span / self.h_step).round();
        if (n * self.h_step - span).abs() > 1e-9 * span.max(1.0) || n > 1e7 {
            return Err(PhysicsError::InvalidOption(format!(
                "sweep span {span} is not a whole number of steps {}",
                self.h_step
            )));
        }
        let n = n as usize;
        if n == 0 {
            return Ok(vec![self.h_start]);
        }
        Ok((0..=n)
            .map(|k| (self.h_start * (n - k) as f64 + self.h_end * k as f64) / n as f64)
            .collect())
    }

    /// Unit vector of the applied field.
    pub fn direction(&self) -> [f64; 3] {
        [self.field_angle.sin(), self.field_angle.cos(), 0.0]
    }
}

/// Everything that defines how a curve is computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurveOptions {
    /// Field sweep.
    pub sweep: SweepOptions,
    /// Minimizer for every field step.
    pub minimizer: MinimizerConfig,
    /// Demag kernel; `None` switches magnetostatics off.
    pub demag: Option<KernelOptions>,
    /// In-plane (paper, default) or full 3D magnetization.
    pub mode: MagnetizationMode,
    /// Predictor of the next field step's start state (in-plane only; 0 switches it off): when
    /// no cell turned by more than this angle (radians) over the last field step, each cell is
    /// turned once more by its last turn before relaxing (linear extrapolation along the curve,
    /// a continuation predictor). After an avalanche the start state is the relaxed state, as
    /// without a predictor.
    pub predictor_max_turn: f64,
}

impl CurveOptions {
    /// Kovacs et al. setup: default sweep, exact 2D kernel, in-plane magnetization, BB solver
    /// with torque tolerance 1e-4·μ0HA of `material`.
    pub fn kovacs(material: &Material) -> Self {
        Self {
            sweep: SweepOptions::default(),
            minimizer: MinimizerConfig::barzilai_borwein(1e-4 * material.mu0_ha()),
            demag: Some(KernelOptions::default()),
            mode: MagnetizationMode::InPlane,
            predictor_max_turn: 0.0,
        }
    }
}

impl CurveOptions {
    /// [`CurveOptions::kovacs`] with the nonlinear CG minimizer ([`NcgOptions::for_material`])
    /// and the continuation predictor on (cells that turned by at most 0.05 rad).
    pub fn kovacs_ncg(material: &Material) -> Self {
        let mut minimizer = MinimizerConfig::nonlinear_cg(1e-4 * material.mu0_ha());
        minimizer.ncg = NcgOptions::for_material(material);
        Self {
            minimizer,
            predictor_max_turn: 0.05,
            ..Self::kovacs(material)
        }
    }
}

impl Default for CurveOptions {
    /// [`CurveOptions::kovacs`] for Nd2Fe14B.
    fn default() -> Self {
        Self::kovacs(&Material::nd2fe14b())
    }
}

/// One computed demagnetization curve (one entry per field step).
#[derive(Debug, Clone, PartialEq)]
pub struct DemagCurve {
    /// Applied field in units of HA (positive along ĥ).
    pub h: Vec<f64>,
    /// M(H) = mean over cells of m·ĥ, in units of Ms.
    pub m: Vec<f64>,
    /// Accepted minimizer steps per field step.
    pub iterations: Vec<usize>,
    /// Effective-field evaluations per field step (each also yields the energy).
    pub evaluations: Vec<usize>,
    /// Rejected trial steps per field step (BB backtracks, NCG line-search trials).
    pub rejected: Vec<usize>,
    /// Total energy density E/V (J/m³) of the relaxed state.
    pub energy_density: Vec<f64>,
    /// Whether the stopping criterion was met (false: `max_steps` hit).
    pub converged: Vec<bool>,
    /// Final max torque |m × (m × B)| per step (tesla).
    pub max_torque: Vec<f64>,
}

impl DemagCurve {
    /// Sum of minimizer steps over the sweep.
    pub fn total_iterations(&self) -> usize {
        self.iterations.iter().sum()
    }

    /// Sum of field evaluations over the sweep.
    pub fn total_evaluations(&self) -> usize {
        self.evaluations.iter().sum()
    }

    /// Sum of rejected trial steps over the sweep.
    pub fn total_rejected(&self) -> usize {
        self.rejected.iter().sum()
    }

    /// True when every field step converged.
    pub fn all_converged(&self) -> bool {
        self.converged.iter().all(|&c| c)
    }

    /// Anchor points of this curve (see [`anchors`]).
    pub fn anchors(&self) -> Anchors {
        anchors(&self.h, &self.m)
    }
}

/// Easy axes u = (sin φ, cos φ, 0) from in-plane angles φ (radians from +y), shape (ny, nx).
pub fn easy_axes_from_angles(angles: ArrayView2<f64>) -> Result<VectorField, PhysicsError> {
    let n = angles.len();
    let mut axes = VectorField::zeros(n);
    for (i, &phi) in angles.iter().enumerate() {
        if !phi.is_finite() {
            return Err(PhysicsError::NonFinite(format!(
                "easy-axis angle of cell {i}"
            )));
        }
        axes.x[i] = phi.sin();
        axes.y[i] = phi.cos();
    }
    Ok(axes)
}

/// Validated mesh, material and options with the demag spectra built once; `Sync`, so one
/// solver can serve many structures on many threads (each run is single-threaded).
#[derive(Debug, Clone)]
pub struct DemagCurveSolver {
    mesh: Mesh,
    material: Material,
    opts: CurveOptions,
    fields: Vec<f64>,
    spectra: Option<Arc<DemagSpectra>>,
}

impl DemagCurveSolver {
    /// Validates the inputs and precomputes the demag kernel spectra.
    pub fn new(
        mesh: &Mesh,
        material: &Material,
        opts: &CurveOptions,
    ) -> Result<Self, PhysicsError> {
        mesh.validate()?;
        material.validate()?;
        opts.minimizer.validate()?;
        if material.k1 <= 0.0 {
            return Err(PhysicsError::InvalidMaterial(
                "fields are in units of HA = 2K1/(μ0Ms), so K1 must be positive".into(),
            ));
        }
        let fields = opts.sweep.fields()?;
        let spectra = match &opts.demag {
            Some(k) => Some(Arc::new(DemagSpectra::new(mesh, k)?)),
            None => None,
        };
        Ok(Self {
            mesh: *mesh,
            material: *material,
            opts: *opts,
            fields,
            spectra,
        })
    }

    /// Number of field steps of one curve.
    pub fn n_steps(&self) -> usize {
        self.fields.len()
    }

    /// Computes the curve of one structure given in-plane easy-axis angles (ny, nx).
    /// `progress(k, total)` is called after each completed field step.
    pub fn run(
        &self,
        easy_axis_angles: ArrayView2<f64>,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<DemagCurve, PhysicsError> {
        let expected = (self.mesh.ny, self.mesh.nx);
        if easy_axis_angles.dim() != expected {
            return Err(PhysicsError::ShapeMismatch {
                what: "easy_axis_angles",
                got: easy_axis_angles.shape().to_vec(),
                expected: vec![expected.0, expected.1],
            });
        }
        self.run_with_axes(easy_axes_from_angles(easy_axis_angles)?, progress, cancel)
    }

    /// Computes the curve for arbitrary per-cell easy axes (out-of-plane axes need
    /// [`MagnetizationMode::Full3d`]).
    pub fn run_with_axes(
        &self,
        axes: VectorField,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<DemagCurve, PhysicsError> {
        let n = self.mesh.n_cells();
        let mut field = EffectiveField::new(
            &self.mesh,
            &self.material,
            axes,
            self.spectra.clone(),
            self.opts.mode,
        )?;
        let mut minimizer = Minimizer::new(self.opts.minimizer, n)?;
        let sweep = &self.opts.sweep;
        let dir = sweep.direction();
        let start = sweep.field_angle + sweep.initial_tilt;
        let mut m = VectorField::uniform(n, [start.sin(), start.cos(), 0.0]);
        let predict = self.opts.predictor_max_turn > 0.0 && self.opts.mode.ncomp() == 2;
        let mut previous = predict.then(|| m.clone());
        let mut predictable = false;
        let mu0_ha = self.material.mu0_ha();
        let energy_to_density = field.energy_scale() / self.mesh.volume();
        let total = self.fields.len();
        let mut curve = DemagCurve {
            h: Vec::with_capacity(total),
            m: Vec::with_capacity(total),
            iterations: Vec::with_capacity(total),
            evaluations: Vec::with_capacity(total),
            rejected: Vec::with_capacity(total),
            energy_density: Vec::with_capacity(total),
            converged: Vec::with_capacity(total),
            max_torque: Vec::with_capacity(total),
        };
        for (k, &h) in self.fields.iter().enumerate() {
            field.set_applied_field(dir.map(|d| d * h * mu0_ha));
            if let Some(prev) = previous.as_mut() {
                // prev holds the state before the last relaxation; predict from (prev, m).
                if predictable {
                    extrapolate_in_plane(prev, &m);
                    std::mem::swap(prev, &mut m);
                } else {
                    prev.copy_from(&m);
                }
            }
            let out = minimizer.relax(&mut field, &mut m, cancel)?;
            if let Some(prev) = previous.as_mut() {
                // The relaxed state m against the relaxed state of the last field step.
                predictable = k > 0 && max_turn_in_plane(prev, &m) <= self.opts.predictor_max_turn;
            }
            let mean = m.mean();
            let mh = mean[0] * dir[0] + mean[1] * dir[1] + mean[2] * dir[2];
            if !out.converged {
                tracing::warn!(
                    step = k,
                    h,
                    steps = out.steps,
                    max_torque = out.max_torque,
                    "field step did not converge"
                );
            }
            tracing::debug!(step = k, h, m = mh, steps = out.steps, "field step relaxed");
            curve.h.push(h);
            curve.m.push(mh);
            curve.iterations.push(out.steps);
            curve.evaluations.push(out.evaluations);
            curve.rejected.push(out.rejected);
            curve
                .energy_density
                .push(out.reduced_energy * energy_to_density);
            curve.converged.push(out.converged);
            curve.max_torque.push(out.max_torque);
            progress(k + 1, total);
        }
        Ok(curve)
    }
}

/// Largest in-plane angle between corresponding cells of two unit fields (radians).
fn max_turn_in_plane(a: &VectorField, b: &VectorField) -> f64 {
    let mut min_cos = 1.0_f64;
    for i in 0..a.len() {
        let c = a.x[i] * b.x[i] + a.y[i] * b.y[i];
        if c < min_cos {
            min_cos = c;
        }
    }
    min_cos.clamp(-1.0, 1.0).acos()
}

/// Overwrites `prev` with `m` turned once more, cell by cell, by the rotation that took `prev`
/// to `m` (no trigonometric calls: the rotation's cosine and sine are a dot and a cross product).
fn extrapolate_in_plane(prev: &mut VectorField, m: &VectorField) {
    for i in 0..m.len() {
        let (ax, ay, bx, by) = (prev.x[i], prev.y[i], m.x[i], m.y[i]);
        let (c, s) = (ax * bx + ay * by, ay * bx - ax * by);
        let x = bx * c + by * s;
        let y = by * c - bx * s;
        let f = 0.5 * (3.0 - (x * x + y * y));
        prev.x[i] = x * f;
        prev.y[i] = y * f;
    }
}

/// Computes the demagnetization curve of one structure (see [`DemagCurveSolver`]; build a
/// solver instead when many structures share the mesh, to build the kernel only once).
pub fn demag_curve(
    mesh: &Mesh,
    material: &Material,
    easy_axis_angles: ArrayView2<f64>,
    opts: &CurveOptions,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<DemagCurve, PhysicsError> {
    DemagCurveSolver::new(mesh, material, opts)?.run(easy_axis_angles, progress, cancel)
}
