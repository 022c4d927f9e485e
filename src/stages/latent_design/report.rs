//! Tables, figures and JSON of `latent_design`: predicted versus simulated anchors per design,
//! the search trajectory, and the designs on the labelled data's Mr–Hc scatter.

use ndarray::{Array2, Array3, Axis};

use super::Design;
use super::objective::{ANCHORS, Objective};
use super::search::Progress;
use crate::engine::{StageContext, StageResult};
use crate::report::image_grid::{Colormap, ImageGrid, image_grid};
use crate::report::plot::{LineChart, Series, SeriesStyle, line_plot};
use crate::report::table::{Cell, Table};

/// What one run of the stage found, ready to be written.
pub struct Summary<'a> {
    /// The objective as written in the manifest.
    pub objective: &'a str,
    /// `ga` or `gradient`.
    pub method: &'a str,
    /// The parsed objective.
    pub goal: &'a Objective,
    /// Constraint penalty weight.
    pub penalty: f64,
    /// The reported designs, best fitness first.
    pub designs: &'a [Design],
    /// Fitness (objective − prior and constraint penalties) per generation or step.
    pub progress: &'a [Progress],
    /// Predicted objective score (constraint penalty included, no prior) per generation or step.
    pub score_progress: &'a [Progress],
    /// Objective score of every labelled structure (simulated anchors).
    pub data_scores: &'a [f64],
    /// Anchors of the labelled structures.
    pub data_anchors: &'a Array2<f32>,
    /// Their reached flags.
    pub data_reached: &'a Array2<bool>,
    /// Index of the best labelled structure.
    pub best_data: Option<usize>,
}

fn row(a: &Array2<f32>, i: usize) -> [f64; 6] {
    std::array::from_fn(|k| f64::from(a[[i, k]]))
}

fn best(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
}

impl Summary<'_> {
    /// Writes every output of the stage except the latent codes.
    pub fn write(&self, ctx: &StageContext, decoded: &Array3<f32>) -> StageResult {
        self.write_table(ctx)?;
        self.write_grid(ctx, decoded)?;
        self.write_trajectory(ctx)?;
        self.write_scatter(ctx)?;
        self.write_json(ctx)
    }

    fn write_table(&self, ctx: &StageContext) -> StageResult {
        let mut cols = vec![
            "design".to_string(),
            "fitness".into(),
            "|z|".into(),
            "nearest data".into(),
        ];
        for a in ANCHORS {
            cols.push(format!("{a} predicted"));
            cols.push(format!("{a} simulated"));
        }
        cols.push("score predicted".into());
        cols.push("score simulated".into());
        let mut t = Table::new(cols);
        for (i, d) in self.designs.iter().enumerate() {
            let mut r = vec![
                Cell::Integer(i as i64),
                Cell::Number(d.fitness),
                Cell::Number(d.norm),
                Cell::Number(d.nearest_data_distance),
            ];
            for k in 0..6 {
                r.push(Cell::Number(d.predicted[k]));
                r.push(match &d.simulated {
                    Some(s) if s.error.is_some() => Cell::Text("failed".into()),
                    Some(s) if s.reached[k] => Cell::Number(s.anchors[k]),
                    Some(_) => Cell::Text("not reached".into()),
                    None => Cell::Missing,
                });
            }
            r.push(Cell::Number(d.predicted_score));
            r.push(d.simulated_score.map_or(Cell::Missing, Cell::Number));
            t.push_row(r)?;
        }
        t.write_csv(&ctx.output("table")?)?;
        Ok(())
    }

    fn write_grid(&self, ctx: &StageContext, decoded: &Array3<f32>) -> StageResult {
        let captions: Vec<String> = self
            .designs
            .iter()
            .enumerate()
            .map(|(i, d)| match d.simulated_score {
                Some(s) => format!("#{i}: pred {:.3} sim {:.3}", d.predicted_score, s),
                None => format!("#{i}: pred {:.3}", d.predicted_score),
            })
            .collect();
        let grid = ImageGrid {
            title: format!("designs for: {}", self.objective),
            images: decoded
                .axis_iter(Axis(0))
                .zip(&captions)
                .map(|(img, c)| (c.clone(), img))
                .collect(),
            cols: self.designs.len().clamp(1, 4),
            colormap: Colormap::EASY_AXIS_X,
            colorbar_label: "u_x".into(),
        };
        image_grid(&ctx.output("structures")?, &grid)?;
        Ok(())
    }

    fn write_trajectory(&self, ctx: &StageContext) -> StageResult {
        let last = self.progress.len().saturating_sub(1) as f64;
        let step = |i: usize| i as f64;
        let mut series = vec![
            Series {
                name: "best predicted score of the generation".into(),
                points: self
                    .score_progress
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (step(i), p.best))
                    .collect(),
                style: SeriesStyle::Line,
            },
            Series {
                name: "designs: predicted score".into(),
                points: self
                    .designs
                    .iter()
                    .map(|d| (last, d.predicted_score))
                    .collect(),
                style: SeriesStyle::Markers,
            },
        ];
        let sim: Vec<(f64, f64)> = self
            .designs
            .iter()
            .filter_map(|d| d.simulated_score.map(|s| (last, s)))
            .collect();
        if !sim.is_empty() {
            series.push(Series {
                name: "designs: simulated score".into(),
                points: sim,
                style: SeriesStyle::Markers,
            });
        }
        if let Some(b) = self.best_data {
            series.push(Series {
                name: "best labelled structure (simulated)".into(),
                points: vec![(0.0, self.data_scores[b]), (last, self.data_scores[b])],
                style: SeriesStyle::Line,
            });
        }
        let unit = if self.method == "gradient" {
            "gradient step"
        } else {
            "generation"
        };
        line_plot(
            &ctx.output("trajectory")?,
            &LineChart {
                title: format!("search ({}): {}", self.method, self.objective),
                x_label: unit.into(),
                y_label: "objective score (predicted, or simulated where marked)".into(),
                series,
                markers: vec![],
                log_y: false,
            },
        )?;
        Ok(())
    }

    fn write_scatter(&self, ctx: &StageContext) -> StageResult {
        let (mr, hc) = (1, 5);
        let data: Vec<(f64, f64)> = (0..self.data_anchors.nrows())
            .filter(|&i| self.data_reached[[i, mr]] && self.data_reached[[i, hc]])
            .map(|i| {
                (
                    f64::from(self.data_anchors[[i, hc]]),
                    f64::from(self.data_anchors[[i, mr]]),
                )
            })
            .collect();
        let mut series = vec![
            Series {
                name: "labelled structures (simulated)".into(),
                points: data,
                style: SeriesStyle::Markers,
            },
            Series {
                name: "designs: predicted".into(),
                points: self
                    .designs
                    .iter()
                    .map(|d| (d.predicted[hc], d.predicted[mr]))
                    .collect(),
                style: SeriesStyle::Markers,
            },
        ];
        let sim: Vec<(f64, f64)> = self
            .designs
            .iter()
            .filter_map(|d| d.simulated.as_ref().and_then(super::Simulated::ok))
            .filter(|s| s.reached[mr] && s.reached[hc])
            .map(|s| (s.anchors[hc], s.anchors[mr]))
            .collect();
        if !sim.is_empty() {
            series.push(Series {
                name: "designs: simulated".into(),
                points: sim,
                style: SeriesStyle::Markers,
            });
        }
        line_plot(
            &ctx.output("scatter")?,
            &LineChart {
                title: "designs on the labelled data (Mr against Hc)".into(),
                x_label: "Hc / HA".into(),
                y_label: "Mr / Ms".into(),
                series,
                markers: vec![],
                log_y: false,
            },
        )?;
        Ok(())
    }

    fn write_json(&self, ctx: &StageContext) -> StageResult {
        let best_pred = best(self.designs.iter().map(|d| d.predicted_score));
        let best_sim = best(self.designs.iter().filter_map(|d| d.simulated_score));
        let best_data = self.best_data.map(|i| {
            serde_json::json!({
                "index": i,
                "score": self.data_scores[i],
                "anchors": row(self.data_anchors, i),
            })
        });
        let sims: Vec<(&Design, &super::Simulated)> = self
            .designs
            .iter()
            .filter_map(|d| {
                d.simulated
                    .as_ref()
                    .and_then(super::Simulated::ok)
                    .map(|s| (d, s))
            })
            .collect();
        let gap: Vec<Option<f64>> = (0..6)
            .map(|k| {
                let v: Vec<f64> = sims
                    .iter()
                    .filter(|(_, s)| s.reached[k])
                    .map(|(d, s)| (d.predicted[k] - s.anchors[k]).abs())
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        let feasible = sims
            .iter()
            .filter(|(_, s)| self.goal.feasible(&s.anchors, 1e-9))
            .count();
        let metrics = serde_json::json!({
            "objective": self.objective,
            "method": self.method,
            "designs": self.designs.len(),
            "best_predicted_score": best_pred,
            "best_simulated_score": best_sim,
            "best_labelled_score": self.best_data.map(|i| self.data_scores[i]),
            "simulated_beats_labelled": match (best_sim, self.best_data) {
                (Some(s), Some(i)) => Some(s > self.data_scores[i]),
                _ => None,
            },
            "simulated_feasible": feasible,
            "simulation_failures": self.designs.iter().filter(|d| d.simulated.as_ref().is_some_and(|s| s.error.is_some())).count(),
            "mean_abs_gap_predicted_simulated": ANCHORS.iter().zip(&gap).map(|(a, g)| (a.to_string(), serde_json::json!(g))).collect::<serde_json::Map<_, _>>(),
            "generations": self.progress.len(),
        });
        ctx.write_json("metrics", &metrics)?;
        ctx.write_json(
            "designs",
            &serde_json::json!({
                "objective": self.objective,
                "method": self.method,
                "constraint_weight": self.penalty,
                "anchor_names": ANCHORS,
                "designs": self.designs,
                "best_labelled": best_data,
                "fitness_progress": self.progress.iter().map(|p| [p.best, p.mean]).collect::<Vec<_>>(),
                "score_progress": self.score_progress.iter().map(|p| [p.best, p.mean]).collect::<Vec<_>>(),
            }),
        )
    }
}
