//! `latent_design`: inverse design of microstructures in the VAE's latent space, judged by the
//! micromagnetic solver (the step Kovacs et al. propose in their conclusion). The regressor is
//! the surrogate a search optimises; the best designs are decoded, turned into structures and
//! simulated, so every reported design carries its predicted *and* its simulated anchors.

pub mod objective;
pub mod report;
pub mod search;

use std::collections::BTreeMap;

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use super::learn_common::{runtime, tree_dir};
use super::micromag_common::{anchor_row, solver_setup};
use super::regress_fit::labelled;
use super::structures::StructureSet;
use crate::engine::{ParamProblem, Stage, StageContext, StageResult};
use crate::io::npy::write_npy;
use crate::learn::kovacs::regressor_fit::TrainedRegressor;
use crate::learn::kovacs::vae_fit::TrainedVae;
use crate::physics::PhysicsError;
use crate::physics::micromag::curve::DemagCurveSolver;
use crate::physics::micromag::grains::angles_from_easy_axis_x;
use objective::Objective;
use search::{Candidate, GaOptions, Progress};

/// The `latent_design` stage kind.
pub struct LatentDesignStage;

/// One design's simulation, as cached in its shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Simulated {
    /// Simulated anchors (an unreached level holds the sweep end).
    pub anchors: [f64; 6],
    /// Whether each anchor was reached.
    pub reached: [bool; 6],
    /// The simulated curve M/Ms per field step.
    pub m: Vec<f64>,
    /// Why the design could not be simulated (then the other fields are empty).
    pub error: Option<String>,
}

impl Simulated {
    /// A design that could not be simulated, with the reason.
    fn failed(reason: String) -> Self {
        Self {
            anchors: [0.0; 6],
            reached: [false; 6],
            m: Vec::new(),
            error: Some(reason),
        }
    }

    /// The simulation, if it succeeded.
    pub fn ok(&self) -> Option<&Self> {
        self.error.is_none().then_some(self)
    }
}

/// Everything the report needs about one design.
#[derive(Debug, Clone, Serialize)]
pub struct Design {
    /// Latent code.
    pub z: Vec<f32>,
    /// Search fitness (objective minus prior and constraint penalties, on predicted anchors).
    pub fitness: f64,
    /// Regressor-predicted anchors.
    pub predicted: [f64; 6],
    /// Objective score of the predicted anchors (constraint penalty included).
    pub predicted_score: f64,
    /// Simulated anchors, if simulated.
    pub simulated: Option<Simulated>,
    /// Objective score of the simulated anchors (constraint penalty included).
    pub simulated_score: Option<f64>,
    /// |z|: the prior's typical radius is √latent_dim.
    pub norm: f64,
    /// Distance to the nearest labelled structure's code.
    pub nearest_data_distance: f64,
}

/// Predicted anchors of every code in `codes` (row-major, `dim` columns).
fn predict(reg: &TrainedRegressor, codes: &[f32], dim: usize) -> StageResult<Vec<[f64; 6]>> {
    let z = Array2::from_shape_vec((codes.len() / dim, dim), codes.to_vec())?;
    let p = reg.predict(z.view())?;
    if p.ncols() != 6 {
        return Err(format!(
            "the regressor predicts {} values, not the six anchors",
            p.ncols()
        )
        .into());
    }
    Ok(p.outer_iter()
        .map(|r| std::array::from_fn(|k| f64::from(r[k])))
        .collect())
}

/// Reads the objective parameter (already checked at plan time by [`Stage::check_params`]).
fn objective(ctx: &StageContext) -> StageResult<Objective> {
    Objective::parse(ctx.str("objective")?).map_err(|e| format!("objective: {e}").into())
}

impl Stage for LatentDesignStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let goal = objective(ctx)?;
        let set = StructureSet::load(ctx.input("structures")?)?;
        let data = labelled(ctx)?;
        let rt = runtime(ctx)?;
        let vae = TrainedVae::load(&tree_dir(ctx, "vae")?, &rt.device)?;
        let reg = TrainedRegressor::load(&tree_dir(ctx, "regressor")?, &rt.device)?;
        let dim = data.latents.ncols();
        let (penalty, prior) = (ctx.f64("constraint_weight")?, ctx.f64("prior_weight")?);
        let k = ctx.usize("top_k")?;
        let mut fitness = |codes: &[f32]| -> Result<Vec<f64>, String> {
            let pred = predict(&reg, codes, dim).map_err(|e| e.to_string())?;
            Ok(pred
                .iter()
                .zip(codes.chunks_exact(dim))
                .map(|(a, z)| {
                    let z2: f64 = z.iter().map(|v| f64::from(*v).powi(2)).sum();
                    goal.score(a, penalty) - prior * 0.5 * z2
                })
                .collect())
        };
        let data_scores: Vec<f64> = data
            .targets
            .outer_iter()
            .map(|r| goal.score(&std::array::from_fn(|j| f64::from(r[j])), penalty))
            .collect();
        let method = ctx.str("method")?.to_string();
        let gradient =
            super::choice::choose("method", &method, &[("ga", false), ("gradient", true)])?;
        let (archive, progress): (Vec<Candidate>, Vec<Progress>) = match gradient {
            true => {
                // Start from the codes of the best labelled structures (by simulated score).
                let order = search::ranking(&data_scores);
                if order.len() < k {
                    return Err(format!(
                        "top_k = {k} but only {} labelled structures to start from",
                        order.len()
                    )
                    .into());
                }
                let starts: Vec<f32> = order[..k]
                    .iter()
                    .flat_map(|&i| data.latents.row(i).to_vec())
                    .collect();
                search::gradient_ascent(
                    dim,
                    &starts,
                    ctx.usize("gradient_steps")?,
                    ctx.f64("gradient_step")?,
                    1e-2,
                    &mut fitness,
                )?
            }
            false => {
                let opts = GaOptions {
                    population: ctx.usize("population")?,
                    generations: ctx.usize("generations")?,
                    mutation: ctx.f64("mutation")?,
                    elite: ctx.usize("elite")?,
                    tournament: 3,
                };
                search::genetic(dim, &opts, ctx.seed(), &mut fitness)?
            }
        };
        ctx.check_cancelled()?;
        let chosen = search::best_distinct(&archive, k, ctx.f64("separation")?);
        let codes: Vec<f32> = chosen.iter().flat_map(|c| c.z.clone()).collect();
        let latents = Array2::from_shape_vec((chosen.len(), dim), codes.clone())?;
        let predicted = predict(&reg, &codes, dim)?;
        let decoded = vae.decode(latents.view())?;

        let simulated: Vec<Option<Simulated>> = if ctx.bool("simulate")? {
            let (ny, nx) = (decoded.shape()[1], decoded.shape()[2]);
            let (mesh, material, opts) = solver_setup(ctx, nx, ny, set.sampling.cell_size)?;
            let solver = DemagCurveSolver::new(&mesh, &material, &opts)?;
            let h_end = opts.sweep.h_end;
            // A design whose decoded image is no structure, or whose simulation fails, is
            // reported with the reason (the search found something physics cannot judge);
            // only a cancellation stops the stage.
            let sims = ctx.fan_out("designs simulated", chosen.len(), |i| {
                let image = decoded.index_axis(Axis(0), i).mapv(f64::from);
                let angles = match angles_from_easy_axis_x(image.view()) {
                    Ok(a) => a,
                    Err(e) => return Ok(Simulated::failed(format!("not a structure: {e}"))),
                };
                match solver.run(angles.view(), &mut |_, _| {}, ctx.cancel_flag()) {
                    Ok(c) => {
                        let (anchors, reached) = anchor_row(&c.anchors(), h_end);
                        Ok(Simulated {
                            anchors,
                            reached,
                            m: c.m,
                            error: None,
                        })
                    }
                    Err(PhysicsError::Cancelled) => Err(PhysicsError::Cancelled.into()),
                    Err(e) => Ok(Simulated::failed(format!("simulation failed: {e}"))),
                }
            })?;
            for (i, s) in sims.iter().enumerate() {
                if let Some(e) = &s.error {
                    ctx.log(format!("warning: design {i}: {e}"));
                }
            }
            sims.into_iter().map(Some).collect()
        } else {
            vec![None; chosen.len()]
        };
        ctx.check_cancelled()?;

        let designs: Vec<Design> = chosen
            .iter()
            .zip(&predicted)
            .zip(simulated)
            .map(|((c, p), s)| Design {
                norm: c
                    .z
                    .iter()
                    .map(|v| f64::from(*v).powi(2))
                    .sum::<f64>()
                    .sqrt(),
                nearest_data_distance: data
                    .latents
                    .outer_iter()
                    .map(|r| search::distance(r.iter(), &c.z))
                    .fold(f64::INFINITY, f64::min),
                z: c.z.clone(),
                fitness: c.fitness,
                predicted: *p,
                predicted_score: goal.score(p, penalty),
                simulated_score: s
                    .as_ref()
                    .and_then(Simulated::ok)
                    .map(|s| goal.score(&s.anchors, penalty)),
                simulated: s,
            })
            .collect();
        // The fitness carries the prior penalty; the trajectory plot shows the objective itself
        // (predicted score) per generation or step, on the same footing as the simulated scores.
        let per_round = if gradient {
            k
        } else {
            ctx.usize("population")?
        };
        let archive_codes: Vec<f32> = archive.iter().flat_map(|c| c.z.clone()).collect();
        let archive_scores: Vec<f64> = predict(&reg, &archive_codes, dim)?
            .iter()
            .map(|a| goal.score(a, penalty))
            .collect();
        let score_progress: Vec<Progress> = archive_scores
            .chunks(per_round.max(1))
            .map(|round| Progress {
                best: round.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                mean: round.iter().sum::<f64>() / round.len() as f64,
            })
            .collect();
        let best_data = search::ranking(&data_scores).first().copied();
        let summary = report::Summary {
            objective: ctx.str("objective")?,
            method: &method,
            goal: &goal,
            penalty,
            designs: &designs,
            progress: &progress,
            score_progress: &score_progress,
            data_scores: &data_scores,
            data_anchors: &data.targets,
            data_reached: &data.reached,
            best_data,
        };
        write_npy(&ctx.output("latents")?, &latents)?;
        summary.write(ctx, &decoded)?;
        Ok(())
    }

    fn check_params(&self, params: &BTreeMap<String, toml::Value>) -> Vec<ParamProblem> {
        let mut problems = Vec::new();
        if let Some(text) = params.get("objective").and_then(|v| v.as_str())
            && let Err(e) = Objective::parse(text)
        {
            problems.push(ParamProblem {
                key: "objective".into(),
                message: e.message,
                help: e.help,
            });
        }
        let int = |k: &str| params.get(k).and_then(toml::Value::as_integer);
        if let (Some(k), Some(pop), Some("ga")) = (
            int("top_k"),
            int("population"),
            params.get("method").and_then(|v| v.as_str()),
        ) && k > pop
        {
            problems.push(ParamProblem {
                key: "top_k".into(),
                message: format!("top_k = {k} is larger than the population ({pop})"),
                help: Some("report at most as many designs as one generation holds".into()),
            });
        }
        problems
    }
}
