//! `solve_structure`: the solver on a user-supplied structure image.

use ndarray::{Array1, Array2, Ix2};

use super::micromag_common::{CurveCounts, SolverCounts, solver_setup};
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::{read_npy_nd, write_npy};
use crate::physics::micromag::curve::DemagCurveSolver;
use crate::physics::micromag::grains::angles_from_easy_axis_x;
use crate::report::image_grid::{Colormap, ImageGrid, image_grid};

/// The `solve_structure` stage kind.
pub struct SolveStructureStage;

/// Reads an (ny, nx) array stored as float32 or float64.
fn read_image(path: &std::path::Path) -> StageResult<Array2<f64>> {
    match read_npy_nd::<f64, Ix2>(path) {
        Ok(a) => Ok(a),
        Err(_) => Ok(read_npy_nd::<f32, Ix2>(path)
            .map_err(|e| format!("{e} (expected a 2-D float32 or float64 array)"))?
            .mapv(f64::from)),
    }
}

impl Stage for SolveStructureStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let image = read_image(ctx.input("image")?)?;
        let kind = super::choice::choose(
            "image_kind",
            ctx.str("image_kind")?,
            &[("easy_axis_x", false), ("angles_rad", true)],
        )?;
        let angles = match kind {
            true => image,
            false => {
                // Issue 13, hole 12: a value outside [−1, 1] was clamped silently (f32 rounding
                // of a decoded image stays within the tolerance).
                let outside = image.indexed_iter().find(|(_, v)| v.abs() > 1.0 + 1e-6);
                if let Some(((row, col), v)) = outside {
                    return Err(format!(
                        "input `image`: an easy-axis x-component must lie in [-1, 1], found {v} at \
                         (row {row}, col {col}); for angles set image_kind = \"angles_rad\""
                    )
                    .into());
                }
                angles_from_easy_axis_x(image.view())?
            }
        };
        let (ny, nx) = angles.dim();
        let (mesh, material, opts) = solver_setup(ctx, nx, ny, ctx.f64("cell_size_nm")? * 1e-9)?;
        let solver = DemagCurveSolver::new(&mesh, &material, &opts)?;
        let bar = ctx.progress("field steps", solver.n_steps() as u64);
        let curve = solver.run(angles.view(), &mut |_, _| bar.inc(1), ctx.cancel_flag())?;
        ctx.check_cancelled()?;
        ctx.log(format!(
            "{} minimizer steps, {} field evaluations, all converged: {}",
            curve.total_iterations(),
            curve.total_evaluations(),
            curve.all_converged()
        ));
        let counts = SolverCounts::new([CurveCounts {
            iterations: &curve.iterations,
            evaluations: &curve.evaluations,
            rejected: &curve.rejected,
            converged: &curve.converged,
        }])?;
        counts.write(ctx)?;
        ctx.write_json("metrics", &counts.metrics())?;
        write_npy(&ctx.output("h")?, &Array1::from(curve.h.clone()))?;
        write_npy(
            &ctx.output("m")?,
            &Array2::from_shape_vec((1, curve.m.len()), curve.m.clone())?,
        )?;
        let ux = angles.mapv(|a| a.sin() as f32);
        let grid = ImageGrid {
            title: "structure (x-component of the easy axis)".into(),
            images: vec![(format!("{nx}×{ny} cells"), ux.view())],
            cols: 1,
            colormap: Colormap::EASY_AXIS_X,
            colorbar_label: "u_x".into(),
        };
        image_grid(&ctx.output("structure")?, &grid)?;
        Ok(())
    }
}
