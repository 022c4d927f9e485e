//! BB versus nonlinear CG on whole demagnetization curves of paper-like structures: anchors,
//! iteration and field-evaluation counts, wall time per curve (one core per curve).
//!
//! Structures: `GrainSampling` with the paper's distribution (n_g ∈ [16, 256], θ ∈ [−π, π]) on an
//! N × N grid of 2 nm cells, seeds FIRST_SEED.. (listed in the output). The reference is BB with
//! τmax = REF_TAU_MAX (default 0.03, the converged small-step reference of the notes); candidates
//! are the catalogue default BB (τmax 0.3) and NCG. For each candidate: |ΔH| of the four field
//! anchors and |ΔM| of M1, Mr against the reference.
//!
//! Run: `cargo bench --bench minimizers` with env N (160), STRUCTURES (20), FIRST_SEED (1),
//! REF_TAU_MAX (0.03), METHODS ("ref,bb,ncg"), JOBS (curves computed in parallel, 1), OUT (a
//! JSON-lines file for the per-structure rows).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mexp::physics::micromag::grains::GrainSampling;
use mexp::physics::*;
use rayon::prelude::*;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One method's curve of one structure.
struct Row {
    seconds: f64,
    iterations: usize,
    evaluations: usize,
    rejected: usize,
    converged: bool,
    anchors: [Option<f64>; 6],
}

/// Minimizer and predictor of a method name: `ref`, `bb`, `ncg`, optionally followed by
/// `:key=value` overrides (`rot`, `floor` in units of μ0HA, `pred` in rad, `c2`, `tau`).
fn config(method: &str, material: &Material, ref_tau_max: f64) -> (MinimizerConfig, f64) {
    let tol = 1e-4 * material.mu0_ha();
    let mut parts = method.split(':');
    let (mut cfg, mut pred) = match parts.next().unwrap_or_default() {
        "ref" => (
            MinimizerConfig {
                tau_max: ref_tau_max,
                max_steps: 200_000,
                ..MinimizerConfig::barzilai_borwein(tol)
            },
            0.0,
        ),
        "bb" => (MinimizerConfig::barzilai_borwein(tol), 0.0),
        "ncg" => {
            let c = CurveOptions::kovacs_ncg(material);
            (c.minimizer, c.predictor_max_turn)
        }
        other => panic!("unknown method {other} (ref, bb, ncg)"),
    };
    for kv in parts {
        let (k, v) = kv.split_once('=').expect("key=value");
        let v: f64 = v.parse().expect("number");
        match k {
            "rot" => cfg.ncg.max_rotation = v,
            "floor" => cfg.ncg.curvature_floor = v * material.mu0_ha(),
            "c2" => cfg.ncg.curvature = v,
            "pred" => pred = v,
            "tau" => cfg.tau_max = v,
            "restart" => cfg.ncg.restart_every = v as usize,
            other => panic!("unknown override {other}"),
        }
    }
    (cfg, pred)
}

fn main() {
    let n: usize = env("N", 160);
    let structures: u64 = env("STRUCTURES", 20);
    let first: u64 = env("FIRST_SEED", 1);
    let ref_tau_max: f64 = env("REF_TAU_MAX", 0.03);
    let jobs: usize = env("JOBS", 1);
    let methods: Vec<String> = env("METHODS", "ref,bb,ncg".to_string())
        .split(',')
        .map(str::to_string)
        .collect();
    let mut out = std::env::var("OUT")
        .ok()
        .map(|p| std::fs::File::create(p).expect("OUT file"));
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([n, n, 1], [2e-9, 2e-9, 36_000e-9]).expect("mesh");
    let sampling = GrainSampling {
        nx: n,
        ny: n,
        ..GrainSampling::default()
    };
    let solvers: Vec<(String, DemagCurveSolver)> = methods
        .iter()
        .map(|m| {
            let (minimizer, predictor_max_turn) = config(m, &material, ref_tau_max);
            let opts = CurveOptions {
                minimizer,
                predictor_max_turn,
                ..CurveOptions::kovacs(&material)
            };
            (
                m.clone(),
                DemagCurveSolver::new(&mesh, &material, &opts).expect("solver"),
            )
        })
        .collect();
    println!(
        "minimizers: {n}x{n} cells of 2 nm, 201 field steps, torque tol 1e-4 μ0HA, {structures} \
         structures from seed {first}, reference BB τmax = {ref_tau_max}, {jobs} curve(s) at a time"
    );
    let cancel = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("pool");
    let seeds: Vec<u64> = (first..first + structures).collect();
    let rows: Vec<(u64, usize, f64, Vec<Row>)> = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                let s = sampling.sample(seed).expect("structure");
                let angles = s.cell_angles();
                let rows = solvers
                    .iter()
                    .map(|(_, solver)| {
                        let t = Instant::now();
                        let c = solver
                            .run(angles.view(), &mut |_, _| {}, &cancel)
                            .expect("curve");
                        Row {
                            seconds: t.elapsed().as_secs_f64(),
                            iterations: c.total_iterations(),
                            evaluations: c.total_evaluations(),
                            rejected: c.total_rejected(),
                            converged: c.all_converged(),
                            anchors: c.anchors().to_array(),
                        }
                    })
                    .collect::<Vec<_>>();
                let line = rows
                    .iter()
                    .zip(&methods)
                    .map(|(r, m)| {
                        format!(
                            "{m} {:.1}s {}it {}ev Hc {:.4}",
                            r.seconds,
                            r.iterations,
                            r.evaluations,
                            r.anchors[5].unwrap_or(f64::NAN)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" | ");
                println!(
                    "  seed {seed:3}: n_g {:3} θ {:+.3}: {line}",
                    s.n_grains, s.theta
                );
                (seed, s.n_grains, s.theta, rows)
            })
            .collect()
    });
    if let Some(f) = out.as_mut() {
        for (seed, ng, theta, rs) in &rows {
            for (r, m) in rs.iter().zip(&methods) {
                let row = serde_json::json!({
                    "seed": seed, "n_grains": ng, "theta": theta, "method": m, "n": n,
                    "seconds": r.seconds, "iterations": r.iterations, "evaluations": r.evaluations,
                    "rejected": r.rejected, "converged": r.converged, "anchors": r.anchors,
                });
                writeln!(f, "{row}").expect("write OUT");
            }
        }
    }
    summarize(&methods, &rows);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// Per method: median time, iterations and evaluations per curve; against the first method:
/// anchor agreement counts.
fn summarize(methods: &[String], rows: &[(u64, usize, f64, Vec<Row>)]) {
    println!("summary (median per curve):");
    let medians: Vec<f64> = (0..methods.len())
        .map(|k| median(rows.iter().map(|r| r.3[k].seconds).collect()))
        .collect();
    for (k, m) in methods.iter().enumerate() {
        let it = median(rows.iter().map(|r| r.3[k].iterations as f64).collect());
        let ev = median(rows.iter().map(|r| r.3[k].evaluations as f64).collect());
        let rej = median(rows.iter().map(|r| r.3[k].rejected as f64).collect());
        let conv = rows.iter().filter(|r| r.3[k].converged).count();
        println!(
            "  {m:>4}: {:8.2} s, {it:8.0} iterations, {ev:8.0} field evaluations, {rej:6.0} rejected, \
             {conv}/{} curves fully converged, time ratio to {}: {:.2}",
            medians[k],
            rows.len(),
            methods[0],
            medians[0] / medians[k]
        );
    }
    for (k, m) in methods.iter().enumerate().skip(1) {
        let (mut tight, mut loose, mut worst_h, mut worst_m) = (0, 0, 0.0_f64, 0.0_f64);
        for r in rows {
            let (a, b) = (&r.3[0].anchors, &r.3[k].anchors);
            let (mut dm, mut dh) = (0.0_f64, 0.0_f64);
            for i in 0..6 {
                let d = match (a[i], b[i]) {
                    (Some(x), Some(y)) => (x - y).abs(),
                    (None, None) => 0.0,
                    _ => f64::INFINITY,
                };
                if i < 2 {
                    dm = dm.max(d);
                } else {
                    dh = dh.max(d);
                }
            }
            worst_h = worst_h.max(dh);
            worst_m = worst_m.max(dm);
            tight += usize::from(dh <= 0.005 && dm <= 0.002);
            loose += usize::from(dh <= 0.01 && dm <= 0.01);
            if dh > 0.005 || dm > 0.002 {
                println!(
                    "  {m} differs from {} on seed {}: max |ΔH| {dh:.4} HA, max |ΔM| {dm:.4} Ms",
                    methods[0], r.0
                );
            }
        }
        println!(
            "  {m} vs {}: {tight}/{} within |ΔH| ≤ 0.005 HA and |ΔM| ≤ 0.002 Ms, {loose}/{} within \
             0.01; worst |ΔH| {worst_h:.4} HA, worst |ΔM| {worst_m:.4} Ms",
            methods[0],
            rows.len(),
            rows.len()
        );
    }
}
