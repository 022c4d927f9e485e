//! Shared parameters of the micromagnetic stage adapters: material, mesh and curve options from a
//! stage's parameters (the catalogue entries `demag_curve` and `solve_structure` share them), and
//! the anchor-point table.

use std::str::FromStr;

use ndarray::Array2;

use crate::engine::{StageContext, StageResult};
use crate::io::npy::write_npy;
use crate::physics::micromag::anchors::Anchors;
use crate::physics::micromag::curve::{CurveOptions, SweepOptions};
use crate::physics::micromag::demag_kernel::{DemagKernelKind, KernelOptions};
use crate::physics::micromag::field::MagnetizationMode;
use crate::physics::micromag::material::Material;
use crate::physics::micromag::mesh::Mesh;
use crate::physics::micromag::minimizer::MinimizerConfig;

pub use super::choice::UnknownChoice;
use super::choice::choose;

/// The `kernel` parameter: which demagnetizing field, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelChoice {
    /// Exact kernel of infinitely long prisms.
    Exact2d,
    /// Newell kernel of finite cuboids (uses `dz_nm`).
    Newell3d,
    /// No magnetostatics.
    None,
}

impl FromStr for KernelChoice {
    type Err = UnknownChoice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        choose(
            "kernel",
            s,
            &[
                ("exact_2d", Self::Exact2d),
                ("newell_3d", Self::Newell3d),
                ("none", Self::None),
            ],
        )
    }
}

/// The `magnetization` parameter, parsed into the solver's mode.
pub struct MagnetizationChoice(pub MagnetizationMode);

impl FromStr for MagnetizationChoice {
    type Err = UnknownChoice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        choose(
            "magnetization",
            s,
            &[
                ("in_plane", MagnetizationMode::InPlane),
                ("full_3d", MagnetizationMode::Full3d),
            ],
        )
        .map(Self)
    }
}

/// The `minimizer` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinimizerChoice {
    /// Converged Barzilai–Borwein descent.
    Bb,
    /// Preconditioned nonlinear conjugate gradient (in-plane only).
    Ncg,
    /// fidimag<4 behaviour.
    FidimagCompat,
}

impl FromStr for MinimizerChoice {
    type Err = UnknownChoice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        choose(
            "minimizer",
            s,
            &[
                ("bb", Self::Bb),
                ("ncg", Self::Ncg),
                ("fidimag_compat", Self::FidimagCompat),
            ],
        )
    }
}

/// Names of the six anchors, in the order of [`Anchors::to_array`].
pub const ANCHOR_NAMES: [&str; 6] = ["M1", "Mr", "Hk90", "Hk80", "Hk70", "Hc"];

/// Material, mesh (from the structures' grid and cell size) and curve options of a stage.
pub fn solver_setup(
    ctx: &StageContext,
    nx: usize,
    ny: usize,
    cell_size: f64,
) -> StageResult<(Mesh, Material, CurveOptions)> {
    let material = Material {
        exchange_a: ctx.f64("exchange_a")?,
        mu0_ms: ctx.f64("mu0_ms")?,
        k1: ctx.f64("k1")?,
    };
    let mesh = Mesh::new(
        [nx, ny, 1],
        [cell_size, cell_size, ctx.f64("dz_nm")? * 1e-9],
    )?;
    let demag = match ctx.str("kernel")?.parse::<KernelChoice>()? {
        KernelChoice::None => None,
        KernelChoice::Newell3d => Some(KernelOptions {
            kind: DemagKernelKind::Newell3d,
            ..KernelOptions::default()
        }),
        KernelChoice::Exact2d => Some(KernelOptions::default()),
    };
    let MagnetizationChoice(mode) = ctx.str("magnetization")?.parse()?;
    let minimizer = match ctx.str("minimizer")?.parse::<MinimizerChoice>()? {
        MinimizerChoice::FidimagCompat => MinimizerConfig::fidimag_compat(),
        MinimizerChoice::Ncg => {
            if mode != MagnetizationMode::InPlane {
                return Err(
                    "minimizer = \"ncg\" works in the cell angles of in-plane magnetization; \
                     use minimizer = \"bb\" with magnetization = \"full_3d\""
                        .into(),
                );
            }
            let mut m = MinimizerConfig::nonlinear_cg(ctx.f64("torque_tol")? * material.mu0_ha());
            m.max_steps = ctx.usize("max_steps")?;
            m.ncg.max_rotation = ctx.f64("max_rotation")?;
            m.ncg.curvature_floor = ctx.f64("curvature_floor")? * material.mu0_ha();
            m
        }
        MinimizerChoice::Bb => {
            let mut m =
                MinimizerConfig::barzilai_borwein(ctx.f64("torque_tol")? * material.mu0_ha());
            m.tau_max = ctx.f64("tau_max")?;
            m.max_steps = ctx.usize("max_steps")?;
            if !ctx.bool("energy_guard")? {
                m.energy_guard = None;
            }
            m
        }
    };
    let sweep = SweepOptions {
        h_start: ctx.f64("h_start")?,
        h_end: ctx.f64("h_end")?,
        h_step: ctx.f64("h_step")?,
        field_angle: ctx.f64("field_angle_deg")?.to_radians(),
        ..SweepOptions::default()
    };
    Ok((
        mesh,
        material,
        CurveOptions {
            sweep,
            minimizer,
            demag,
            mode,
            predictor_max_turn: ctx.f64("predictor")?,
        },
    ))
}

/// Per-field-step counters of one or more curves, rows = curves.
pub struct SolverCounts {
    /// Accepted minimizer steps.
    pub iterations: Array2<i64>,
    /// Effective-field evaluations (each also yields the energy).
    pub evaluations: Array2<i64>,
    /// Rejected trial steps.
    pub rejected: Array2<i64>,
    /// Field steps that hit `max_steps`.
    pub not_converged: usize,
}

impl SolverCounts {
    /// Stacks the counters of `curves` (all of the same sweep).
    pub fn new<'a>(curves: impl IntoIterator<Item = CurveCounts<'a>>) -> StageResult<Self> {
        let (mut it, mut ev, mut rj, mut rows, mut steps, mut not_converged) =
            (Vec::new(), Vec::new(), Vec::new(), 0, 0, 0);
        for c in curves {
            steps = c.iterations.len();
            let wide = |v: &[usize]| v.iter().map(|&k| k as i64).collect::<Vec<_>>();
            it.extend(wide(c.iterations));
            ev.extend(wide(c.evaluations));
            rj.extend(wide(c.rejected));
            not_converged += c.converged.iter().filter(|c| !**c).count();
            rows += 1;
        }
        Ok(Self {
            iterations: Array2::from_shape_vec((rows, steps), it)?,
            evaluations: Array2::from_shape_vec((rows, steps), ev)?,
            rejected: Array2::from_shape_vec((rows, steps), rj)?,
            not_converged,
        })
    }

    /// Writes the `iterations`, `evaluations` and `rejected` outputs.
    pub fn write(&self, ctx: &StageContext) -> StageResult {
        write_npy(&ctx.output("iterations")?, &self.iterations)?;
        write_npy(&ctx.output("evaluations")?, &self.evaluations)?;
        write_npy(&ctx.output("rejected")?, &self.rejected)?;
        Ok(())
    }

    /// Totals and per-curve medians for `metrics.json`.
    pub fn metrics(&self) -> serde_json::Value {
        let per_curve = |a: &Array2<i64>| {
            let mut v: Vec<i64> = a.rows().into_iter().map(|r| r.sum()).collect();
            v.sort_unstable();
            v.get(v.len() / 2).copied()
        };
        serde_json::json!({
            "total_iterations": self.iterations.sum(),
            "total_field_evaluations": self.evaluations.sum(),
            "total_rejected_trials": self.rejected.sum(),
            "median_iterations_per_curve": per_curve(&self.iterations),
            "median_field_evaluations_per_curve": per_curve(&self.evaluations),
            "non_converged_steps": self.not_converged,
        })
    }
}

/// Borrowed per-step counters of one curve.
pub struct CurveCounts<'a> {
    /// Accepted steps per field step.
    pub iterations: &'a [usize],
    /// Field evaluations per field step.
    pub evaluations: &'a [usize],
    /// Rejected trials per field step.
    pub rejected: &'a [usize],
    /// Convergence per field step.
    pub converged: &'a [bool],
}

/// Anchor values with a reached flag: a level never reached holds the last swept field (a
/// censored value: the true field lies beyond the sweep) and `false`; never NaN.
pub fn anchor_row(a: &Anchors, h_end: f64) -> ([f64; 6], [bool; 6]) {
    let arr = a.to_array();
    let mut values = [0.0; 6];
    let mut reached = [false; 6];
    for (i, v) in arr.iter().enumerate() {
        match v {
            Some(x) => {
                values[i] = *x;
                reached[i] = true;
            }
            None => values[i] = if i < 2 { 0.0 } else { h_end },
        }
    }
    (values, reached)
}
