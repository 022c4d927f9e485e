//! Shared parameters of the micromagnetic stage adapters: material, mesh and curve options from a
//! stage's parameters (the catalogue entries `demag_curve` and `solve_structure` share them), and
//! the anchor-point table.

use crate::engine::{StageContext, StageResult};
use crate::physics::anchors::Anchors;
use crate::physics::curve::{CurveOptions, SweepOptions};
use crate::physics::demag_kernel::{DemagKernelKind, KernelOptions};
use crate::physics::field::MagnetizationMode;
use crate::physics::material::Material;
use crate::physics::mesh::Mesh;
use crate::physics::minimizer::MinimizerConfig;

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
    let demag = match ctx.str("kernel")? {
        "none" => None,
        "newell_3d" => Some(KernelOptions {
            kind: DemagKernelKind::Newell3d,
            ..KernelOptions::default()
        }),
        _ => Some(KernelOptions::default()),
    };
    let mode = if ctx.str("magnetization")? == "full_3d" {
        MagnetizationMode::Full3d
    } else {
        MagnetizationMode::InPlane
    };
    let minimizer = match ctx.str("minimizer")? {
        "fidimag_compat" => MinimizerConfig::fidimag_compat(),
        _ => {
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
        },
    ))
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
