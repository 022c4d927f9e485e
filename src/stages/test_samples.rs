//! `test_samples`: Figure 6 of Kovacs et al.

use ndarray::{Axis, Ix1, Ix2};

use super::learn_common::{images, runtime, tree_dir};
use super::micromag_common::ANCHOR_NAMES;
use super::structures::StructureSet;
use crate::engine::{Stage, StageContext, StageResult};
use crate::io::npy::read_npy_nd;
use crate::learn::kovacs::regressor_fit::TrainedRegressor;
use crate::learn::kovacs::vae_fit::TrainedVae;
use crate::report::image_grid::{Colormap, ImageGrid, image_grid};
use crate::report::plot::{LineChart, Marker, Series, SeriesStyle, line_plot};

/// The `test_samples` stage kind.
pub struct TestSamplesStage;

#[derive(serde::Deserialize)]
struct Split {
    test: Vec<usize>,
}

impl Stage for TestSamplesStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let set = StructureSet::load(ctx.input("structures")?)?;
        let split: Split = serde_json::from_slice(&std::fs::read(ctx.input("split")?)?)?;
        let rows: Vec<usize> = split
            .test
            .iter()
            .copied()
            .take(ctx.usize("samples")?)
            .collect();
        if rows.is_empty() {
            return Err("the test split is empty".into());
        }
        let h = read_npy_nd::<f64, Ix1>(ctx.input("h")?)?;
        let m = read_npy_nd::<f64, Ix2>(ctx.input("m")?)?;
        let rt = runtime(ctx)?;
        let vae = TrainedVae::load(&tree_dir(ctx, "vae")?, &rt.device)?;
        let reg = TrainedRegressor::load(&tree_dir(ctx, "regressor")?, &rt.device)?;
        let originals = images(&set, &rows)?;
        let latents = vae.encode(originals.view(), rows.len())?;
        let decoded = vae.decode(latents.view())?;
        let predicted = reg.predict(latents.view())?;
        let mut panels: Vec<(String, ndarray::ArrayView2<f32>)> = Vec::new();
        for (k, &i) in rows.iter().enumerate() {
            panels.push((format!("#{i} original"), originals.index_axis(Axis(0), k)));
        }
        for (k, &i) in rows.iter().enumerate() {
            panels.push((format!("#{i} decoded"), decoded.index_axis(Axis(0), k)));
        }
        let grid = ImageGrid {
            title: "test samples: original (top) and decoded (bottom)".into(),
            images: panels,
            cols: rows.len(),
            colormap: Colormap::EASY_AXIS_X,
            colorbar_label: "u_x".into(),
        };
        image_grid(&ctx.output("structures")?, &grid)?;
        let mut series = Vec::new();
        let mut markers = Vec::new();
        for (k, &i) in rows.iter().enumerate() {
            if i >= m.nrows() {
                return Err(
                    format!("test row {i} has no computed curve ({} curves)", m.nrows()).into(),
                );
            }
            series.push(Series {
                name: format!("#{i} computed"),
                points: h
                    .iter()
                    .zip(m.row(i).iter())
                    .map(|(a, b)| (*a, *b))
                    .collect(),
                style: SeriesStyle::Line,
            });
            let p = |j: usize| f64::from(predicted[[k, j]]);
            let pts = [
                (1.0, p(0)),
                (0.0, p(1)),
                (p(2), 0.9 * p(1)),
                (p(3), 0.8 * p(1)),
                (p(4), 0.7 * p(1)),
                (p(5), 0.0),
            ];
            for (j, (x, y)) in pts.into_iter().enumerate() {
                markers.push(Marker {
                    label: if rows.len() == 1 {
                        ANCHOR_NAMES[j].to_string()
                    } else {
                        format!("{}#{i}", ANCHOR_NAMES[j])
                    },
                    x,
                    y,
                });
            }
        }
        line_plot(
            &ctx.output("curves")?,
            &LineChart {
                title: "computed curves and predicted anchors (test samples)".into(),
                x_label: "H / HA".into(),
                y_label: "M / Ms".into(),
                series,
                markers,
                log_y: false,
            },
        )?;
        Ok(())
    }
}
