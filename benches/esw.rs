//! Embedded Stoner–Wohlfarth: wall time of a full 1000-step, 64-grain simulation (one core).
//! Run: `cargo bench --bench esw`.

use std::time::Instant;

use mexp::physics::esw::{EswConfig, simulate};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let config = EswConfig::default();
    let runs = 9;
    let mut times = Vec::new();
    let mut last = None;
    for seed in 0..runs {
        let t = Instant::now();
        let res = simulate(&config, seed).expect("default configuration is valid");
        times.push(t.elapsed().as_secs_f64());
        last = Some(res);
    }
    let res = last.expect("at least one run");
    let sweeps: u32 = res.stats.iter().map(|s| s.relax_sweeps).sum();
    let checks: u32 = res.stats.iter().map(|s| s.particle_fields).sum();
    let switches: u32 = res.stats.iter().map(|s| s.switches).sum();
    println!(
        "eSW 4x4x4 grains, 26 particles/grain, {} steps: median {:.1} ms per simulation ({runs} seeds); last run: {sweeps} relaxation sweeps, {checks} exact particle fields, {switches} reversals",
        config.field_steps,
        1e3 * median(times)
    );
    let exact = EswConfig {
        exact_switch_checks: true,
        ..config.clone()
    };
    let t = Instant::now();
    let r = simulate(&exact, runs - 1).expect("valid");
    println!(
        "same with exact_switch_checks (every relaxation checked): {:.1} ms, identical m: {}",
        1e3 * t.elapsed().as_secs_f64(),
        r.m == res.m
    );
}
