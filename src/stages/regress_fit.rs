//! `regress_fit`: the multi-head regressor from latent codes to the six anchors, with a seeded,
//! recorded train/test split and the epoch count chosen by k-fold cross-validation.

use ndarray::{Array2, Ix2};

use super::learn_common::{epoch_reporter, loss_plot, runtime, split};
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::read_npy_nd;
use crate::learn::kovacs::regressor::RegressorConfig;
use crate::learn::kovacs::regressor_fit::{
    RegressorFitConfig, cross_validate_regressor, fit_regressor,
};
use crate::learn::train::LoopConfig;

/// The `regress_fit` stage kind.
pub struct RegressFitStage;

/// Latents and anchors (f32) of the labelled structures, checked to match, with the rows whose six
/// anchors were all reached and the rows left out.
pub struct Labelled {
    /// Latent means, row i = structure i.
    pub latents: Array2<f32>,
    /// Anchors, row i = structure i.
    pub targets: Array2<f32>,
    /// Rows with all six anchors reached.
    pub usable: Vec<usize>,
    /// Rows with an unreached anchor.
    pub left_out: Vec<usize>,
    /// Whether each anchor was reached, row i = structure i.
    pub reached: Array2<bool>,
}

/// Reads the `latents`, `anchors` and `reached` inputs of a stage.
pub fn labelled(ctx: &StageContext) -> StageResult<Labelled> {
    let latents = read_npy_nd::<f32, Ix2>(ctx.input("latents")?)?;
    let anchors = read_npy_nd::<f64, Ix2>(ctx.input("anchors")?)?;
    let reached = read_npy_nd::<bool, Ix2>(ctx.input("reached")?)?;
    let n = anchors.nrows();
    if latents.nrows() < n || reached.nrows() != n || anchors.ncols() != 6 {
        return Err(format!(
            "need latents for every labelled structure: latents {:?}, anchors {:?}, reached {:?}",
            latents.shape(),
            anchors.shape(),
            reached.shape()
        )
        .into());
    }
    let (usable, left_out): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&i| reached.row(i).iter().all(|&r| r));
    Ok(Labelled {
        latents: latents.slice(ndarray::s![..n, ..]).to_owned(),
        targets: anchors.mapv(|v| v as f32),
        usable,
        left_out,
        reached,
    })
}

impl Stage for RegressFitStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let Labelled {
            latents,
            targets,
            usable,
            left_out,
            ..
        } = labelled(ctx)?;
        if usable.len() < 6 {
            return Err(format!(
                "only {} curves reached all six anchors; label more structures",
                usable.len()
            )
            .into());
        }
        let test_count = ctx.usize("test_count")?.min(usable.len() / 3).max(1);
        let (tr, te) = split(usable.len(), test_count, ctx.seed());
        let (train, test): (Vec<usize>, Vec<usize>) = (
            tr.iter().map(|&i| usable[i]).collect(),
            te.iter().map(|&i| usable[i]).collect(),
        );
        ctx.write_json(
            "split",
            &serde_json::json!({"train": train, "test": test, "left_out_unreached": left_out}),
        )?;
        ctx.log(format!(
            "{} train, {} test, {} left out (an anchor not reached)",
            train.len(),
            test.len(),
            left_out.len()
        ));
        let rt = runtime(ctx)?;
        let base = RegressorFitConfig {
            model: RegressorConfig {
                input_dim: latents.ncols(),
                targets: 6,
            },
            schedule: LoopConfig {
                epochs: ctx.usize("cv_max_epochs")?,
                batch_size: ctx.usize("batch_size")?,
                learning_rate: ctx.f64("lr")?,
                seed: ctx.seed(),
            },
            ..RegressorFitConfig::default()
        };
        let mut epochs = ctx.usize("epochs")?;
        let mut cv_curve = Vec::new();
        if epochs == 0 {
            let folds = ctx.usize("cv_folds")?;
            let bar = ctx.progress(
                "cross-validation epochs",
                (folds * base.schedule.epochs) as u64,
            );
            let cv = cross_validate_regressor(
                &rt.device,
                &base,
                latents.view(),
                targets.view(),
                &train,
                folds,
                Some(ctx.cancel_flag()),
                &mut |_, _| bar.inc(1),
            )?;
            epochs = cv.best_epochs;
            cv_curve = cv
                .mean_curve
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + 1) as f64, *v))
                .collect();
            ctx.log(format!(
                "cross-validation picks {epochs} epochs (mean validation loss {:.5})",
                cv.best_loss
            ));
            ctx.write_json("cv", &serde_json::json!({"folds": folds, "fold_curves": cv.fold_curves, "mean_curve": cv.mean_curve, "best_epochs": cv.best_epochs, "best_loss": cv.best_loss}))?;
        } else {
            ctx.write_json("cv", &serde_json::json!({"folds": 0, "best_epochs": epochs, "note": "epochs set explicitly; no cross-validation"}))?;
        }
        let config = RegressorFitConfig {
            schedule: LoopConfig {
                epochs,
                ..base.schedule.clone()
            },
            ..base
        };
        let mut report = epoch_reporter(ctx, "regressor epochs", epochs);
        let (model, history) = fit_regressor(
            &rt.device,
            &config,
            latents.view(),
            targets.view(),
            &train,
            &[],
            Some(ctx.cancel_flag()),
            &mut |r| report(r),
        )?;
        ctx.check_cancelled()?;
        model.save(&ctx.output("model")?)?;
        let final_curve: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, r.train_loss))
            .collect();
        loss_plot(
            &ctx.output("plot")?,
            "regressor: cross-validation and training loss (standardised targets)",
            &[
                ("CV mean validation", cv_curve),
                ("final training", final_curve),
            ],
        )
    }
}
