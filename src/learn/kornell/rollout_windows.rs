//! Training windows b^(i) of the latent predictor (Kornell et al. §4.3) cut from whole
//! simulated demagnetization curves.
//!
//! Window i of a simulation with encoded states e^(0), …, e^(S−1) holds the t known states
//! e^(i−t), …, e^(i−1), the l targets e^(i), …, e^(i+l−1), one field per predicted step and one
//! sample weight; i runs over t ≤ i ≤ S − l, so a simulation gives S − t − l + 1 windows
//! (S − t for l = 1, the paper's "(1000 − t) inputs").
//!
//! Fields: the network sees μ0·H_ext divided by `field_scale` (default 8 T, the sweep's
//! amplitude, so inputs lie in [−1, 1] like the ELU latents). With [`FieldFeed::Advancing`]
//! predicting e^(i+s) gets H^(i−1+s), the field of the newest state in its input, exactly as a
//! recursive prediction of the whole curve feeds it; [`FieldFeed::Held`] gives every step the
//! window's H^(i−1), the literal reading of b^(i).

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;

/// One simulated curve, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSequence {
    /// Encoded states e^(0), …, e^(S−1): `(S, d)`.
    pub latents: Array2<f32>,
    /// Applied field μ0·H_ext at each step `(S)`, in the unit of `field_scale` (tesla).
    pub fields: Array1<f32>,
    /// Eq. (8) sample weight of each step `(S)`: w^(0) = 0, w^(i) = Σ_j |m_jz^(i) − m_jz^(i−1)|.
    pub sample_weights: Array1<f32>,
}

/// Which field each recursive step of a training window receives (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldFeed {
    /// Step s gets H^(i−1+s) (consistent with recursive inference).
    #[default]
    Advancing,
    /// Every step gets H^(i−1) (the literal b^(i)).
    Held,
}

/// Which eq. (8) weight a window of l targets carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowWeight {
    /// w^(i), the weight of the window's first target (the sample index of b^(i)).
    #[default]
    FirstTarget,
    /// The mean of w^(i), …, w^(i+l−1), so a switching event anywhere in the window counts.
    MeanOverTargets,
    /// Every window weighs 1: eq. (8) switched off (an ablation, not the paper's procedure).
    Uniform,
}

/// How windows are cut and what the network sees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowLayout {
    /// t: known states per window.
    pub history_len: usize,
    /// l: predicted states per window.
    pub rollout_len: usize,
    /// Field per recursive step.
    pub field_feed: FieldFeed,
    /// Weight per window.
    pub window_weight: WindowWeight,
    /// Fields are divided by this before entering the network.
    pub field_scale: f32,
}

/// Window b^(i) of simulation `sim`, `start` = i (index of the first target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index into the simulation list.
    pub sim: usize,
    /// i: the first predicted step.
    pub start: usize,
}

/// Host data of a batch of windows, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowBatch {
    /// Number of windows b.
    pub len: usize,
    /// `[b, t, d]`.
    pub history: Vec<f32>,
    /// `[b, l]`, already divided by `field_scale`.
    pub fields: Vec<f32>,
    /// `[b, l, d]`.
    pub targets: Vec<f32>,
    /// `[b]`.
    pub weights: Vec<f32>,
}

/// Checks that every simulation has `d` latent columns, matching lengths, finite values and
/// non-negative weights; returns d.
pub fn check_sims(sims: &[SimSequence]) -> Result<usize, LearnError> {
    let d = sims.first().map_or(0, |s| s.latents.ncols());
    if d == 0 {
        return Err(LearnError::InvalidConfig(
            "no simulations, or latents without columns".into(),
        ));
    }
    for (index, sim) in sims.iter().enumerate() {
        let steps = sim.latents.nrows();
        if sim.latents.ncols() != d
            || sim.fields.len() != steps
            || sim.sample_weights.len() != steps
        {
            return Err(LearnError::Shape(format!(
                "simulation {index}: latents {:?}, {} fields, {} weights (expected d = {d} and \
                 one field and weight per step)",
                sim.latents.shape(),
                sim.fields.len(),
                sim.sample_weights.len()
            )));
        }
        let finite = sim.latents.iter().chain(&sim.fields).all(|v| v.is_finite());
        let weights_ok = sim
            .sample_weights
            .iter()
            .all(|w| w.is_finite() && *w >= 0.0);
        if !finite || !weights_ok {
            return Err(LearnError::InvalidConfig(format!(
                "simulation {index}: latents and fields must be finite, weights finite and >= 0"
            )));
        }
    }
    Ok(d)
}

/// All windows of all simulations, simulation by simulation, i increasing.
pub fn enumerate_windows(sims: &[SimSequence], t: usize, l: usize) -> Vec<Window> {
    sims.iter()
        .enumerate()
        .flat_map(|(sim, s)| {
            let steps = s.latents.nrows();
            let last = steps.checked_sub(l).filter(|&last| last >= t);
            last.into_iter()
                .flat_map(move |last| (t..=last).map(move |start| Window { sim, start }))
        })
        .collect()
}

/// Copies `windows` out of `sims` (indices must come from [`enumerate_windows`]).
pub fn gather(sims: &[SimSequence], windows: &[Window], layout: &WindowLayout) -> WindowBatch {
    let (t, l) = (layout.history_len, layout.rollout_len);
    let d = sims.first().map_or(0, |s| s.latents.ncols());
    let b = windows.len();
    let mut batch = WindowBatch {
        len: b,
        history: Vec::with_capacity(b * t * d),
        fields: Vec::with_capacity(b * l),
        targets: Vec::with_capacity(b * l * d),
        weights: Vec::with_capacity(b),
    };
    for w in windows {
        let sim = &sims[w.sim];
        let i = w.start;
        for row in i - t..i {
            batch.history.extend(sim.latents.row(row).iter().copied());
        }
        for row in i..i + l {
            batch.targets.extend(sim.latents.row(row).iter().copied());
        }
        for s in 0..l {
            let step = match layout.field_feed {
                FieldFeed::Advancing => i - 1 + s,
                FieldFeed::Held => i - 1,
            };
            batch.fields.push(sim.fields[step] / layout.field_scale);
        }
        let weight = match layout.window_weight {
            WindowWeight::FirstTarget => sim.sample_weights[i],
            WindowWeight::MeanOverTargets => {
                sim.sample_weights
                    .slice(ndarray::s![i..i + l])
                    .iter()
                    .map(|&w| f64::from(w))
                    .sum::<f64>() as f32
                    / l as f32
            }
            WindowWeight::Uniform => 1.0,
        };
        batch.weights.push(weight);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Latent (s, k) = 100·s + k, field = s, weight = 10·s: every value names its origin.
    fn labelled(steps: usize, d: usize) -> SimSequence {
        SimSequence {
            latents: Array2::from_shape_fn((steps, d), |(s, k)| (100 * s + k) as f32),
            fields: Array1::from_shape_fn(steps, |s| s as f32),
            sample_weights: Array1::from_shape_fn(steps, |s| 10.0 * s as f32),
        }
    }

    fn layout(feed: FieldFeed, weight: WindowWeight) -> WindowLayout {
        WindowLayout {
            history_len: 2,
            rollout_len: 3,
            field_feed: feed,
            window_weight: weight,
            field_scale: 2.0,
        }
    }

    #[test]
    fn window_count_is_steps_minus_t_minus_l_plus_one() {
        let sims = vec![labelled(10, 2), labelled(7, 2), labelled(4, 2)];
        let windows = enumerate_windows(&sims, 2, 3);
        // 10 − 2 − 3 + 1 = 6, 7 − 5 + 1 = 3, 4 < t + l: none
        assert_eq!(windows.len(), 9);
        assert_eq!(windows[0], Window { sim: 0, start: 2 });
        assert_eq!(windows[5], Window { sim: 0, start: 7 });
        assert_eq!(windows[8], Window { sim: 1, start: 4 });
        // l = 1: the paper's S − t windows
        assert_eq!(enumerate_windows(&sims[..1], 4, 1).len(), 6);
    }

    #[test]
    fn gathered_windows_hold_history_targets_fields_and_weights() {
        let sims = vec![labelled(10, 2), labelled(10, 2)];
        let window = [Window { sim: 1, start: 4 }];
        let batch = gather(
            &sims,
            &window,
            &layout(FieldFeed::Advancing, WindowWeight::FirstTarget),
        );
        assert_eq!(batch.len, 1);
        assert_eq!(batch.history, [200.0, 201.0, 300.0, 301.0]);
        assert_eq!(batch.targets, [400.0, 401.0, 500.0, 501.0, 600.0, 601.0]);
        // H^(3), H^(4), H^(5) divided by the scale 2
        assert_eq!(batch.fields, [1.5, 2.0, 2.5]);
        assert_eq!(batch.weights, [40.0]);
        let held = gather(
            &sims,
            &window,
            &layout(FieldFeed::Held, WindowWeight::MeanOverTargets),
        );
        assert_eq!(held.fields, [1.5, 1.5, 1.5]);
        // (40 + 50 + 60) / 3
        assert_eq!(held.weights, [50.0]);
        let uniform = gather(
            &sims,
            &window,
            &layout(FieldFeed::Advancing, WindowWeight::Uniform),
        );
        assert_eq!(uniform.weights, [1.0]);
    }

    #[test]
    fn inconsistent_simulations_are_rejected() {
        assert!(check_sims(&[]).is_err());
        let mut bad = labelled(5, 2);
        bad.fields = Array1::zeros(4);
        assert!(matches!(check_sims(&[bad]), Err(LearnError::Shape(_))));
        let mut bad = labelled(5, 2);
        bad.sample_weights[2] = -1.0;
        assert!(check_sims(&[bad]).is_err());
        let mut bad = labelled(5, 2);
        bad.latents[[1, 1]] = f32::NAN;
        assert!(check_sims(&[bad]).is_err());
        assert!(matches!(
            check_sims(&[labelled(5, 2), labelled(5, 3)]),
            Err(LearnError::Shape(_))
        ));
        assert_eq!(check_sims(&[labelled(5, 3)]).expect("valid"), 3);
    }
}
