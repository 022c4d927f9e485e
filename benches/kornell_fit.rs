//! Times paper-scale epochs of the Kornell et al. training functions on the flex CPU backend:
//! the autoencoder on 9 000 states (7 200 train / 1 800 validation, batch 64) and the latent
//! predictor on 9 curves of 1 000 steps (t = 4, l = 8, 20 % validation windows, batch 64), plus
//! one recursive 1 000-step curve prediction.
//! Run: `cargo bench --bench kornell_fit` (prints the median of several runs per case).

use std::time::Instant;

use burn::tensor::Device;
use mexp::learn::kornell::ae3d_fit::{Ae3dFitConfig, fit_ae3d};
use mexp::learn::kornell::rollout_fit::{RolloutFitConfig, fit_rollout};
use mexp::learn::kornell::rollout_windows::SimSequence;
use mexp::learn::train::validation_split::split_validation;
use ndarray::{Array1, Array2, Array5, s};

const SIMS: usize = 9;
const STEPS: usize = 1000;

/// Median wall time in seconds of `runs` calls of `step`.
fn median_s(runs: usize, mut step: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Smooth unit-vector states: polar angle sweeping with the step, tilted across the lattice.
fn states(n: usize) -> Array5<f32> {
    Array5::from_shape_fn((n, 4, 4, 4, 3), |(row, i, j, k, c)| {
        let theta = std::f32::consts::PI * (row % STEPS) as f32 / STEPS as f32 + 0.1 * i as f32;
        let phi = 0.4 * j as f32 + 0.25 * k as f32 + 0.3 * (row / STEPS) as f32;
        match c {
            0 => theta.sin() * phi.cos(),
            1 => theta.sin() * phi.sin(),
            _ => theta.cos(),
        }
    })
}

/// Smooth switching curves in a 16-dimensional latent space, field 8 → −8 T.
fn sims() -> Vec<SimSequence> {
    (0..SIMS)
        .map(|sim| {
            let fields =
                Array1::from_shape_fn(STEPS, |s| 8.0 - 16.0 * s as f32 / (STEPS - 1) as f32);
            let switch = -3.0 - 0.5 * sim as f32;
            let latents = Array2::from_shape_fn((STEPS, 16), |(s, k)| {
                0.5 * ((0.4 + 0.05 * k as f32) * (fields[s] - switch)).tanh()
            });
            let sample_weights = Array1::from_shape_fn(STEPS, |s| {
                if s == 0 {
                    0.0
                } else {
                    (&latents.row(s) - &latents.row(s - 1)).mapv(f32::abs).sum()
                }
            });
            SimSequence {
                latents,
                fields,
                sample_weights,
            }
        })
        .collect()
}

fn main() {
    let device = Device::flex();
    println!("threads: {}", rayon::current_num_threads());

    let data = states(SIMS * STEPS);
    let rows: Vec<usize> = (0..SIMS * STEPS).collect();
    let split = split_validation(&rows, 0.2, 0).expect("split");
    let config = Ae3dFitConfig::paper(0.85, 0.15, 1);
    let secs = median_s(3, || {
        fit_ae3d(
            &device,
            &config,
            data.view(),
            &split.train,
            &split.validation,
            None,
            &mut |_| {},
        )
        .expect("autoencoder epoch");
    });
    println!("fit_ae3d: one epoch, 7200 train + 1800 validation states, batch 64: {secs:.2} s");

    let curves = sims();
    let mut config = RolloutFitConfig::paper(4, 8, 1);
    config.monitor = Default::default();
    let mut trained = None;
    let secs = median_s(3, || {
        trained = Some(fit_rollout(&device, &config, &curves, None, &mut |_| {}).expect("epoch"));
    });
    println!("fit_rollout: one epoch, t=4, l=8, 8901 windows (80 % train), batch 64: {secs:.2} s");

    let (model, _) = trained.expect("trained once");
    let first = curves[0].latents.slice(s![..4, ..]);
    let secs = median_s(5, || {
        model
            .predict_curve(first, curves[0].fields.view())
            .expect("curve");
    });
    println!(
        "predict_curve: 1000 steps from t=4 encoded states: {:.1} ms",
        secs * 1e3
    );
}
