//! `demag_curve`: the demagnetization curve of every structure, in parallel across structures, each
//! cached as its own shard so an interrupted labelling run resumes at the first missing curve.

use std::time::Instant;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::micromag_common::{CurveCounts, SolverCounts, solver_setup};
use super::structures::StructureSet;
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::write_npy;
use crate::physics::micromag::curve::DemagCurveSolver;

/// The `demag_curve` stage kind.
pub struct DemagCurveStage;

/// One structure's curve as cached in its shard.
#[derive(Serialize, Deserialize)]
struct CurveShard {
    m: Vec<f64>,
    iterations: Vec<usize>,
    evaluations: Vec<usize>,
    rejected: Vec<usize>,
    energy: Vec<f64>,
    converged: Vec<bool>,
    seconds: f64,
}

impl Stage for DemagCurveStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = StructureSet::load(ctx.input("structures")?)?;
        let n = match ctx.usize("count")? {
            0 => set.items.len(),
            c => c.min(set.items.len()),
        };
        let (mesh, material, opts) = solver_setup(
            ctx,
            set.sampling.nx,
            set.sampling.ny,
            set.sampling.cell_size,
        )?;
        let solver = DemagCurveSolver::new(&mesh, &material, &opts)?;
        let h = opts.sweep.fields()?;
        let shards: Vec<CurveShard> = ctx.fan_out("curves", n, |i| {
            let t = Instant::now();
            let angles = set.structure(i)?.cell_angles();
            let c = solver.run(angles.view(), &mut |_, _| {}, ctx.cancel_flag())?;
            Ok(CurveShard {
                m: c.m,
                iterations: c.iterations,
                evaluations: c.evaluations,
                rejected: c.rejected,
                energy: c.energy_density,
                converged: c.converged,
                seconds: t.elapsed().as_secs_f64(),
            })
        })?;
        let steps = h.len();
        let table = |f: &dyn Fn(&CurveShard) -> Vec<f64>| -> StageResult<Array2<f64>> {
            Ok(Array2::from_shape_vec(
                (n, steps),
                shards.iter().flat_map(f).collect(),
            )?)
        };
        write_npy(&ctx.output("h")?, &Array1::from(h.clone()))?;
        write_npy(&ctx.output("m")?, &table(&|s| s.m.clone())?)?;
        write_npy(&ctx.output("energy")?, &table(&|s| s.energy.clone())?)?;
        let counts = SolverCounts::new(shards.iter().map(|s| CurveCounts {
            iterations: &s.iterations,
            evaluations: &s.evaluations,
            rejected: &s.rejected,
            converged: &s.converged,
        }))?;
        counts.write(ctx)?;
        let conv = Array2::from_shape_vec(
            (n, steps),
            shards.iter().flat_map(|s| s.converged.clone()).collect(),
        )?;
        write_npy(&ctx.output("converged")?, &conv)?;
        if counts.not_converged > 0 {
            ctx.log(format!(
                "warning: {} field steps hit max_steps (recorded in converged.npy)",
                counts.not_converged
            ));
        }
        // Wall times go to the log, not into the metrics artifact (which must be reproducible).
        let mut secs: Vec<f64> = shards.iter().map(|s| s.seconds).collect();
        secs.sort_by(f64::total_cmp);
        if let Some(median) = secs.get(secs.len() / 2) {
            ctx.log(format!("median wall time per curve {median:.2} s"));
        }
        let mut metrics = counts.metrics();
        metrics["structures"] = n.into();
        metrics["steps"] = steps.into();
        ctx.write_json("metrics", &metrics)
    }
}
