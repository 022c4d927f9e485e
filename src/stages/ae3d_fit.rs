//! `ae3d_fit`: the Kornell autoencoder (Figures 5 and 6).

use super::kornell_common::{esw_states, mean_mz, states_of, test_simulation};
use super::learn_common::runtime;
use crate::engine::{Stage, StageContext, StageResult};
use crate::learn::kornell::ae3d_fit::{Ae3dFitConfig, fit_ae3d};
use crate::learn::train::LoopConfig;
use crate::learn::train::validation_split::split_validation;
use crate::report::plot::{LineChart, Series, SeriesStyle, line_plot};

/// The `ae3d_fit` stage kind.
pub struct Ae3dFitStage;

impl Stage for Ae3dFitStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let m = esw_states(ctx)?;
        let sims = m.shape()[0];
        let test = test_simulation(ctx, sims)?;
        let train_sims: Vec<usize> = (0..sims).filter(|&s| s != test).collect();
        let states = states_of(&m, &train_sims);
        let rows: Vec<usize> = (0..states.shape()[0]).collect();
        let split = split_validation(&rows, ctx.f64("validation_fraction")?, ctx.seed())?;
        let epochs = ctx.usize("epochs")?;
        let mut config = Ae3dFitConfig::paper(ctx.f64("a1")?, ctx.f64("a2")?, epochs);
        config.schedule = LoopConfig {
            epochs,
            batch_size: ctx.usize("batch_size")?,
            learning_rate: ctx.f64("lr")?,
            seed: ctx.seed(),
        };
        let rt = runtime(ctx)?;
        let bar = ctx.progress("autoencoder epochs", epochs as u64);
        let (model, history) = fit_ae3d(
            &rt.device,
            &config,
            states.view(),
            &split.train,
            &split.validation,
            Some(ctx.cancel_flag()),
            &mut |e| {
                bar.inc(1);
                bar.message(format!("loss {:.5}", e.train_loss));
            },
        )?;
        ctx.check_cancelled()?;
        model.save(&ctx.output("model")?)?;
        ctx.write_json("history", &history)?;
        let col =
            |f: &dyn Fn(&crate::learn::kornell::ae3d_fit::Ae3dEpoch) -> Option<f64>| -> Vec<(f64, f64)> {
                history
                    .iter()
                    .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
                    .collect()
            };
        let series = vec![
            Series {
                name: "MSE (train)".into(),
                points: col(&|e| Some(e.train_squared_error)),
                style: SeriesStyle::Line,
            },
            Series {
                name: "MSE (validation)".into(),
                points: col(&|e| e.val_squared_error),
                style: SeriesStyle::Line,
            },
            Series {
                name: "norm error (train)".into(),
                points: col(&|e| Some(e.train_norm_error)),
                style: SeriesStyle::Line,
            },
            Series {
                name: "norm error (validation)".into(),
                points: col(&|e| e.val_norm_error),
                style: SeriesStyle::Line,
            },
        ];
        let title = format!(
            "autoencoder, a1 = {}, a2 = {}",
            ctx.f64("a1")?,
            ctx.f64("a2")?
        );
        line_plot(
            &ctx.output("loss")?,
            &LineChart {
                title: title.clone(),
                x_label: "epoch".into(),
                y_label: "error".into(),
                series: series
                    .into_iter()
                    .map(|mut s| {
                        s.points.retain(|p| p.1 > 0.0);
                        s
                    })
                    .collect(),
                markers: vec![],
                log_y: true,
            },
        )?;

        let field = super::kornell_common::esw_field(ctx)?;
        let truth = states_of(&m, &[test]);
        let recon = model.reconstruct(truth.view())?;
        let (mt, mr) = (mean_mz(&truth), mean_mz(&recon));
        let mae = mt.iter().zip(&mr).map(|(a, b)| (a - b).abs()).sum::<f64>() / mt.len() as f64;
        let pts =
            |v: &[f64]| -> Vec<(f64, f64)> { field.iter().zip(v).map(|(h, m)| (*h, *m)).collect() };
        line_plot(
            &ctx.output("reconstruction")?,
            &LineChart {
                title: format!("test simulation {test}: {title}"),
                x_label: "μ0 H_ext (T)".into(),
                y_label: "mean m_z".into(),
                series: vec![
                    Series {
                        name: "eSW".into(),
                        points: pts(&mt),
                        style: SeriesStyle::Line,
                    },
                    Series {
                        name: "reconstructed".into(),
                        points: pts(&mr),
                        style: SeriesStyle::Markers,
                    },
                ],
                markers: vec![],
                log_y: false,
            },
        )?;
        let last = history.last();
        ctx.write_json(
            "metrics",
            &serde_json::json!({"val_mse": last.and_then(|e| e.val_squared_error), "val_norm_error": last.and_then(|e| e.val_norm_error), "test_mz_mae": mae, "test_simulation": test}),
        )
    }
}
