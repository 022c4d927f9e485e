//! Grain-structure sampling speed: block-candidate Voronoi vs brute force on the paper's 160×160
//! grid. Run with `cargo bench --bench grains`.

use mexp::physics::micromag::grains::{
    GrainSampling, nearest_seed_map, nearest_seed_map_brute_force,
};
use std::time::{Duration, Instant};

/// Median wall time of `runs` calls of `f`.
fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let sampling = GrainSampling {
        grains_min: 256,
        grains_max: 256,
        ..GrainSampling::default()
    };
    let structure = sampling.sample(1).expect("default sampling is valid");
    let seeds = &structure.seed_positions;
    let runs = 31;
    let fast = median_time(runs, || {
        std::hint::black_box(nearest_seed_map(160, 160, std::hint::black_box(seeds)).ok());
    });
    let brute = median_time(runs, || {
        std::hint::black_box(
            nearest_seed_map_brute_force(160, 160, std::hint::black_box(seeds)).ok(),
        );
    });
    let default = GrainSampling::default();
    let mut seed = 0u64;
    let sample = median_time(runs, || {
        seed += 1;
        std::hint::black_box(default.sample(seed).ok());
    });
    println!("160×160 grid, 256 seeds, median of {runs} runs:");
    println!(
        "  nearest_seed_map (block candidates): {:>9.3} ms",
        fast.as_secs_f64() * 1e3
    );
    println!(
        "  nearest_seed_map_brute_force:   {:>9.3} ms",
        brute.as_secs_f64() * 1e3
    );
    println!(
        "  GrainSampling::default().sample (n_g 16..256): {:>9.3} ms",
        sample.as_secs_f64() * 1e3
    );
}
