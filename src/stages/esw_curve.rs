//! `esw_curve`: one embedded Stoner–Wohlfarth simulation per easy-axis set, in parallel.

use ndarray::{Array1, Array2, Array5, Array6, Axis, Ix5};
use serde::{Deserialize, Serialize};

use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::{read_npy_nd, write_npy};
use crate::physics::esw::cubic_grains::ParticleSites;
use crate::physics::esw::{EasyAxes, EswConfig, simulate};
use crate::report::plot::{LineChart, Series, SeriesStyle, line_plot};

/// The `esw_curve` stage kind.
pub struct EswCurveStage;

/// What is kept of one simulation (cached per simulation, so an interrupted run resumes).
#[derive(Serialize, Deserialize)]
struct SimShard {
    m: Vec<f64>,
    mz: Vec<f64>,
    weights: Vec<f64>,
    capped_steps: usize,
    relax_sweeps: usize,
}

fn config(ctx: &StageContext) -> StageResult<EswConfig> {
    let sites = super::choice::choose(
        "sites",
        ctx.str("sites")?,
        &[
            ("corners", ParticleSites::Corners),
            ("corners_edges", ParticleSites::CornersAndEdges),
            ("corners_edges_faces", ParticleSites::CornersEdgesFaces),
        ],
    )?;
    Ok(EswConfig {
        mu0_ms_t: ctx.f64("mu0_ms")?,
        ku_j_per_m3: ctx.f64("ku")?,
        field_start_t: ctx.f64("field_start")?,
        field_end_t: ctx.f64("field_end")?,
        field_steps: ctx.usize("field_steps")?,
        sites,
        particle_inset: ctx.f64("particle_inset")?,
        include_self_field: ctx.bool("include_self_field")?,
        relax_tolerance: ctx.f64("relax_tolerance")?,
        ..EswConfig::default()
    })
}

impl Stage for EswCurveStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let axes = read_npy_nd::<f64, Ix5>(ctx.input("axes")?)?;
        let (sims, nx, ny, nz, three) = axes.dim();
        if three != 3 {
            return Err(format!(
                "axes must have shape (simulations, nx, ny, nz, 3), got {:?}",
                axes.shape()
            )
            .into());
        }
        let base = EswConfig {
            grains: [nx, ny, nz],
            ..config(ctx)?
        };
        let steps = base.field_steps;
        let shards: Vec<SimShard> = ctx.fan_out("simulations", sims, |s| {
            let fixed: Vec<[f64; 3]> = axes
                .index_axis(Axis(0), s)
                .to_shape((nx * ny * nz, 3))?
                .outer_iter()
                .map(|a| [a[0], a[1], a[2]])
                .collect();
            let cfg = EswConfig {
                easy_axes: EasyAxes::Fixed(fixed),
                ..base.clone()
            };
            let r = simulate(&cfg, ctx.seed())?;
            Ok(SimShard {
                m: r.m.iter().copied().collect(),
                mz: r.mz_mean.to_vec(),
                weights: r.weights.to_vec(),
                capped_steps: r
                    .stats
                    .iter()
                    .filter(|s| s.relax_capped || s.switch_capped)
                    .count(),
                relax_sweeps: r.stats.iter().map(|s| s.relax_sweeps as usize).sum(),
            })
        })?;
        let field = base.field_values_t();
        let mut m = Array6::<f64>::zeros((sims, steps, nx, ny, nz, 3));
        let mut mz = Array2::<f64>::zeros((sims, steps));
        let mut w = Array2::<f64>::zeros((sims, steps));
        for (s, sh) in shards.iter().enumerate() {
            m.index_axis_mut(Axis(0), s).assign(&Array5::from_shape_vec(
                (steps, nx, ny, nz, 3),
                sh.m.clone(),
            )?);
            mz.row_mut(s).assign(&Array1::from(sh.mz.clone()));
            w.row_mut(s).assign(&Array1::from(sh.weights.clone()));
        }
        write_npy(&ctx.output("m")?, &m)?;
        write_npy(&ctx.output("field")?, &field)?;
        write_npy(&ctx.output("mz")?, &mz)?;
        write_npy(&ctx.output("weights")?, &w)?;
        let coercive: Vec<Option<f64>> = (0..sims)
            .map(|s| {
                crossing(
                    field.as_slice().unwrap_or(&[]),
                    mz.row(s).as_slice().unwrap_or(&[]),
                )
            })
            .collect();
        let capped: usize = shards.iter().map(|s| s.capped_steps).sum();
        if capped > 0 {
            ctx.log(format!(
                "warning: {capped} field steps hit an iteration cap"
            ));
        }
        ctx.write_json(
            "metrics",
            &serde_json::json!({
                "simulations": sims, "steps": steps,
                "coercive_field_t": coercive,
                "mean_relax_sweeps_per_step": shards.iter().map(|s| s.relax_sweeps as f64).sum::<f64>() / (sims * steps) as f64,
                "capped_steps": capped,
            }),
        )?;
        let series = (0..sims)
            .map(|s| Series {
                name: format!("simulation {s}"),
                points: field
                    .iter()
                    .zip(mz.row(s).iter())
                    .map(|(h, m)| (*h, *m))
                    .collect(),
                style: SeriesStyle::Line,
            })
            .collect();
        line_plot(
            &ctx.output("plot")?,
            &LineChart {
                title: "eSW demagnetization curves".into(),
                x_label: "μ0 H_ext (T)".into(),
                y_label: "M / Ms".into(),
                series,
                markers: vec![],
                log_y: false,
            },
        )?;
        Ok(())
    }
}

/// The field where `m` first crosses zero (linear interpolation), if it does.
fn crossing(h: &[f64], m: &[f64]) -> Option<f64> {
    (1..m.len())
        .find(|&i| m[i - 1] > 0.0 && m[i] <= 0.0)
        .map(|i| h[i - 1] + (h[i] - h[i - 1]) * m[i - 1] / (m[i - 1] - m[i]))
}
