//! `morph`: a straight walk in latent space between two structures, decoded, with predicted
//! anchors — and the decoded structures simulated to check the predictions.

use ndarray::{Array2, Axis};
use rayon::prelude::*;

use super::learn_common::{images, runtime, tree_dir};
use super::micromag_common::{ANCHOR_NAMES, anchor_row, solver_setup};
use super::structures::StructureSet;
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::kovacs::regressor_fit::TrainedRegressor;
use crate::learn::kovacs::vae_fit::TrainedVae;
use crate::physics::micromag::curve::DemagCurveSolver;
use crate::physics::micromag::grains::angles_from_easy_axis_x;
use crate::report::image_grid::{Colormap, ImageGrid, image_grid};
use crate::report::plot::{LineChart, Series, SeriesStyle, line_plot_colored};

/// The `morph` stage kind.
pub struct MorphStage;

/// A decoded structure's simulated anchors, reached flags and curve points.
type Simulated = ([f64; 6], [bool; 6], Vec<(f64, f64)>);

/// Index of the structure closest to (n_g, θ in degrees).
fn closest(set: &StructureSet, target: &[f64]) -> StageResult<usize> {
    let [ng, theta] =
        <[f64; 2]>::try_from(target).map_err(|_| "from/to must be [n_g, θ in degrees]")?;
    let d = |i: usize| {
        let e = &set.items[i];
        ((e.n_grains as f64 - ng) / 240.0).abs() + ((e.theta.to_degrees() - theta) / 360.0).abs()
    };
    (0..set.items.len())
        .min_by(|&a, &b| d(a).total_cmp(&d(b)))
        .ok_or_else(|| "no structures".into())
}

/// The polyline through the six anchors: (1, M1), (0, Mr), (Hk90, .9Mr), (Hk80, .8Mr), (Hk70, .7Mr), (Hc, 0).
fn anchor_curve(a: &[f32]) -> Vec<(f64, f64)> {
    let f = |k: usize| f64::from(a[k]);
    vec![
        (1.0, f(0)),
        (0.0, f(1)),
        (f(2), 0.9 * f(1)),
        (f(3), 0.8 * f(1)),
        (f(4), 0.7 * f(1)),
        (f(5), 0.0),
    ]
}

impl Stage for MorphStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = StructureSet::load(ctx.input("structures")?)?;
        let (a, b) = (
            closest(&set, &ctx.f64s("from")?)?,
            closest(&set, &ctx.f64s("to")?)?,
        );
        let rt = runtime(ctx)?;
        let vae = TrainedVae::load(&tree_dir(ctx, "vae")?, &rt.device)?;
        let reg = TrainedRegressor::load(&tree_dir(ctx, "regressor")?, &rt.device)?;
        let ends = vae.encode(images(&set, &[a, b])?.view(), 2)?;
        let steps = ctx.usize("steps")?;
        let alphas: Vec<f64> = (0..steps).map(|k| k as f64 / (steps - 1) as f64).collect();
        let mut path = Array2::<f32>::zeros((steps, ends.ncols()));
        for (k, al) in alphas.iter().enumerate() {
            let z = &ends.row(0) * (1.0 - *al as f32) + &ends.row(1) * (*al as f32);
            path.row_mut(k).assign(&z);
        }
        let decoded = vae.decode(path.view())?;
        let predicted = reg.predict(path.view())?;
        let captions: Vec<String> = alphas.iter().map(|al| format!("α = {al:.1}")).collect();
        let grid = ImageGrid {
            title: format!(
                "latent morph: #{a} (n_g {}, θ {:.0}°) → #{b} (n_g {}, θ {:.0}°)",
                set.items[a].n_grains,
                set.items[a].theta.to_degrees(),
                set.items[b].n_grains,
                set.items[b].theta.to_degrees()
            ),
            images: decoded
                .axis_iter(Axis(0))
                .zip(&captions)
                .map(|(img, c)| (c.clone(), img))
                .collect(),
            cols: steps.min(6),
            colormap: Colormap::EASY_AXIS_X,
            colorbar_label: "u_x".into(),
        };
        image_grid(&ctx.output("structures")?, &grid)?;

        let mut simulated: Vec<Option<Simulated>> = vec![None; steps];
        if ctx.bool("simulate")? {
            let (ny, nx) = (decoded.shape()[1], decoded.shape()[2]);
            let (mesh, material, opts) = solver_setup(ctx, nx, ny, set.sampling.cell_size)?;
            let solver = DemagCurveSolver::new(&mesh, &material, &opts)?;
            let h_end = opts.sweep.h_end;
            let bar = ctx.progress("decoded structures simulated", steps as u64);
            simulated = (0..steps)
                .into_par_iter()
                .map(|k| {
                    let angles = angles_from_easy_axis_x(
                        decoded.index_axis(Axis(0), k).mapv(f64::from).view(),
                    )?;
                    let c = solver.run(angles.view(), &mut |_, _| {}, ctx.cancel_flag())?;
                    bar.inc(1);
                    let (v, r) = anchor_row(&c.anchors(), h_end);
                    Ok(Some((
                        v,
                        r,
                        c.h.iter().copied().zip(c.m.iter().copied()).collect(),
                    )))
                })
                .collect::<StageResult<_>>()?;
        }
        ctx.check_cancelled()?;
        // Each α's prediction (a line) and simulation (points) share one colour.
        let (mut curves, mut curve_colors) = (Vec::new(), Vec::new());
        for (k, al) in alphas.iter().enumerate() {
            let row: Vec<f32> = predicted.row(k).to_vec();
            curves.push(Series {
                name: format!("α={al:.1} predicted (line)"),
                points: anchor_curve(&row),
                style: SeriesStyle::Line,
            });
            curve_colors.push(k);
            if let Some((_, _, pts)) = &simulated[k] {
                curves.push(Series {
                    name: format!("α={al:.1} simulated (points)"),
                    points: pts.clone(),
                    style: SeriesStyle::Markers,
                });
                curve_colors.push(k);
            }
        }
        line_plot_colored(
            &ctx.output("curves")?,
            &LineChart {
                title: "predicted (lines through anchors) and simulated (points) curves".into(),
                x_label: "H / HA".into(),
                y_label: "M / Ms".into(),
                series: curves,
                markers: vec![],
                log_y: false,
            },
            &curve_colors,
        )?;
        // Each anchor's prediction (a line) and simulation (points) share one colour.
        let (mut series, mut colors) = (Vec::new(), Vec::new());
        for (j, name) in ANCHOR_NAMES.iter().enumerate() {
            colors.push(j);
            series.push(Series {
                name: format!("{name} predicted (line)"),
                points: alphas
                    .iter()
                    .enumerate()
                    .map(|(k, al)| (*al, f64::from(predicted[[k, j]])))
                    .collect(),
                style: SeriesStyle::Line,
            });
            let sim: Vec<(f64, f64)> = simulated
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    s.as_ref()
                        .filter(|(_, r, _)| r[j])
                        .map(|(v, _, _)| (alphas[k], v[j]))
                })
                .collect();
            if !sim.is_empty() {
                series.push(Series {
                    name: format!("{name} simulated (points)"),
                    points: sim,
                    style: SeriesStyle::Markers,
                });
                colors.push(j);
            }
        }
        line_plot_colored(
            &ctx.output("anchors")?,
            &LineChart {
                title: "anchors along the latent path: predicted (lines), simulated (points)"
                    .into(),
                x_label: "α".into(),
                y_label: "M / Ms, H / HA".into(),
                series,
                markers: vec![],
                log_y: false,
            },
            &colors,
        )?;
        ctx.write_json(
            "path",
            &serde_json::json!({
                "from": {"index": a, "n_grains": set.items[a].n_grains, "theta_deg": set.items[a].theta.to_degrees()},
                "to": {"index": b, "n_grains": set.items[b].n_grains, "theta_deg": set.items[b].theta.to_degrees()},
                "alpha": alphas,
                "anchor_names": ANCHOR_NAMES,
                "predicted": predicted.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "simulated": simulated.iter().map(|s| s.as_ref().map(|(v, r, _)| (0..6).map(|j| r[j].then_some(v[j])).collect::<Vec<_>>())).collect::<Vec<_>>(),
            }),
        )
    }
}
