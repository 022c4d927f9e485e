//! Full 201-step demagnetization curve (Kovacs setup: 160 × 160 cells of 2 nm, exact 2D
//! kernel, in-plane magnetization, BB minimizer) on one core, for pixel-Voronoi structures
//! built from a seeded RNG.
//!
//! Part 1: one fixed structure (64 grains, θ = π/2), median wall time of `REPEATS` runs.
//! Part 2: `SAMPLES` structures drawn like the paper's data set (ng ∈ [16, 256], θ ∈ [−π, π]),
//! one run each; the mean time gives the throughput estimate for 2 cores (one curve per core).
//!
//! Run: `cargo bench --bench demag_curve` (env REPEATS, SAMPLES override 3 and 6).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mexp::physics::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Nearest-seed (pixel Voronoi, non-periodic) grain map with axis angles in [−|θ|, |θ|].
fn voronoi(n: usize, grains: usize, theta: f64, rng: &mut ChaCha8Rng) -> ndarray::Array2<f64> {
    let seeds: Vec<(f64, f64, f64)> = (0..grains)
        .map(|_| {
            (
                rng.random_range(0.0..n as f64),
                rng.random_range(0.0..n as f64),
                rng.random_range(-theta.abs()..=theta.abs()),
            )
        })
        .collect();
    ndarray::Array2::from_shape_fn((n, n), |(iy, ix)| {
        let (x, y) = (ix as f64 + 0.5, iy as f64 + 0.5);
        let mut best = (f64::INFINITY, 0.0);
        for s in &seeds {
            let d = (s.0 - x).powi(2) + (s.1 - y).powi(2);
            if d < best.0 {
                best = (d, s.2);
            }
        }
        best.1
    })
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let mesh = Mesh::kovacs();
    let material = Material::nd2fe14b();
    let opts = CurveOptions::kovacs(&material);
    let solver = DemagCurveSolver::new(&mesh, &material, &opts).expect("solver");
    let cancel = AtomicBool::new(false);
    let run = |angles: &ndarray::Array2<f64>| {
        let t0 = Instant::now();
        let c = solver
            .run(angles.view(), &mut |_, _| {}, &cancel)
            .expect("curve");
        (t0.elapsed().as_secs_f64(), c)
    };
    println!("demag_curve: 160x160 Kovacs mesh, 201 field steps, 1 thread per curve");

    let repeats = env_usize("REPEATS", 3);
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let fixed = voronoi(160, 64, std::f64::consts::FRAC_PI_2, &mut rng);
    let mut times = Vec::new();
    for _ in 0..repeats {
        let (t, c) = run(&fixed);
        println!(
            "  fixed structure (64 grains, θ = π/2): {t:7.2} s, {} iterations, {} field evaluations, converged {}",
            c.total_iterations(),
            c.total_evaluations(),
            c.all_converged()
        );
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    if let Some(median) = times.get(times.len() / 2) {
        println!("  median of {repeats}: {median:.2} s");
    }

    let samples = env_usize("SAMPLES", 6);
    let mut total = 0.0;
    for k in 0..samples {
        let grains = rng.random_range(16..=256);
        let theta = rng.random_range(-std::f64::consts::PI..=std::f64::consts::PI);
        let angles = voronoi(160, grains, theta, &mut rng);
        let (t, c) = run(&angles);
        total += t;
        let mut its = c.iterations.clone();
        its.sort_unstable();
        println!(
            "  sample {k}: {grains:3} grains, θ = {theta:+.3}: {t:7.2} s, {} iterations (median {}/step, max {}), {} evaluations, Hc = {:?}",
            c.total_iterations(),
            its[its.len() / 2],
            its[its.len() - 1],
            c.total_evaluations(),
            c.anchors().hc
        );
    }
    if samples > 0 {
        let mean = total / samples as f64;
        println!(
            "  mean {mean:.2} s per curve -> ~{:.0} samples/hour on 2 cores (one curve per core)",
            2.0 * 3600.0 / mean
        );
    }
}
