//! Shared plumbing of the learning stage adapters: the burn device for the run's backend, streaming
//! structure images from their seeds, and loss histories as JSON and PNG.

use std::path::Path;

use ndarray::{Array3, Axis};
use rayon::prelude::*;

use super::structures::StructureSet;
use crate::engine::{StageContext, StageResult};
use crate::learn::train::EpochRecord;
use crate::learn::{BackendChoice, LearnError, LearnRuntime};
use crate::report::plot::{LineChart, Series, SeriesStyle, line_plot};

/// The learning runtime for this stage: backend from `--backend`, seeded by the stage seed. The
/// engine already runs the stage inside a rayon pool of `ctx.threads()` threads.
pub fn runtime(ctx: &StageContext) -> StageResult<LearnRuntime> {
    let backend: BackendChoice = ctx.backend().unwrap_or("flex").parse()?;
    Ok(LearnRuntime::new(backend, None, ctx.seed())?)
}

/// A batch loader regenerating the VAE images (x-component of the easy axis, canonical
/// representative u_y ≥ 0, shape `[b, ny, nx]`) of structures `rows` from their seeds, in parallel.
pub fn image_loader(
    set: &StructureSet,
) -> impl FnMut(&[usize]) -> Result<Array3<f32>, LearnError> + '_ {
    move |rows: &[usize]| images(set, rows)
}

/// Images of structures `rows` (see [`image_loader`]).
pub fn images(set: &StructureSet, rows: &[usize]) -> Result<Array3<f32>, LearnError> {
    let (ny, nx) = (set.sampling.ny, set.sampling.nx);
    let mut out = Array3::<f32>::zeros((rows.len(), ny, nx));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(rows.par_iter())
        .try_for_each(|(mut slot, &r)| {
            let s = set
                .structure(r)
                .map_err(|e| LearnError::Loader(e.to_string()))?;
            slot.assign(&s.easy_axis_x_canonical());
            Ok::<_, LearnError>(())
        })?;
    Ok(out)
}

/// Writes a loss history as JSON (`json_out`) and as a log-scale PNG (`png_out`). Epoch wall times
/// go to the log, not into the artifact, so identical trainings give identical bytes.
pub fn write_history(
    ctx: &StageContext,
    history: &[EpochRecord],
    title: &str,
    json_out: &str,
    png_out: &str,
) -> StageResult {
    let rows: Vec<serde_json::Value> = history
        .iter()
        .map(|r| serde_json::json!({"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss, "parts": r.train_parts.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()}))
        .collect();
    ctx.write_json(json_out, &rows)?;
    loss_plot(
        &ctx.output(png_out)?,
        title,
        &[
            (
                "train",
                history
                    .iter()
                    .map(|r| (r.epoch as f64, r.train_loss))
                    .collect(),
            ),
            (
                "validation",
                history
                    .iter()
                    .filter_map(|r| r.val_loss.map(|v| (r.epoch as f64, v)))
                    .collect(),
            ),
        ],
    )
}

/// A log-y loss plot of named curves (empty curves are left out).
pub fn loss_plot(path: &Path, title: &str, curves: &[(&str, Vec<(f64, f64)>)]) -> StageResult {
    let series = curves
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(n, p)| Series {
            name: n.to_string(),
            points: p.iter().copied().filter(|(_, y)| *y > 0.0).collect(),
            style: SeriesStyle::Line,
        })
        .collect();
    line_plot(
        path,
        &LineChart {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series,
            markers: vec![],
            log_y: true,
        },
    )?;
    Ok(())
}

/// Epoch progress: a bar with the latest losses, and a log line per epoch.
pub fn epoch_reporter<'a>(
    ctx: &'a StageContext,
    label: &str,
    epochs: usize,
) -> impl FnMut(&EpochRecord) + 'a {
    let bar = ctx.progress(label, epochs as u64);
    let label = label.to_string();
    move |r: &EpochRecord| {
        bar.inc(1);
        let val = r
            .val_loss
            .map(|v| format!(", validation {v:.5}"))
            .unwrap_or_default();
        bar.message(format!("loss {:.5}{val}", r.train_loss));
        ctx.log(format!(
            "{label} epoch {}: train {:.6}{val} ({:.1} s)",
            r.epoch, r.train_loss, r.seconds
        ));
    }
}

/// A seeded split of `0..n` into (train, test) with `test` rows (recorded by the caller).
pub fn split(n: usize, test: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let all: Vec<usize> = (0..n).collect();
    let shuffled = crate::learn::train::shuffled(&all, seed, 0);
    let (te, tr) = shuffled.split_at(test.min(n));
    let (mut tr, mut te) = (tr.to_vec(), te.to_vec());
    tr.sort_unstable();
    te.sort_unstable();
    (tr, te)
}

/// A directory input materialised as a folder of links to its read-only objects (models are
/// loaded from a folder by file name).
pub fn tree_dir(ctx: &StageContext, port: &str) -> StageResult<std::path::PathBuf> {
    let tree = ctx.input_tree(port)?;
    // One folder per process: under Slurm the slice tasks of a fan-out stage share this key's
    // resume folder and run at once, and burn reads a model's tensors lazily from these files,
    // so a shared folder re-created by one task vanished under another's model.
    let dir = ctx
        .resume_dir()?
        .join(format!("input-{port}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    for (rel, src) in tree {
        let dest = dir.join(rel);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p)?;
        }
        if std::fs::hard_link(src, &dest).is_err() {
            std::fs::copy(src, &dest)?;
        }
    }
    Ok(dir)
}
