//! Publishing benchmark (issue 17, item 6): the whole-process time of a fully cached rerun of a
//! 1000-variant sweep (two tiny stages per variant, 1100 unique stages), min and median of 10.
//! The first run computes everything (about 20 s on 2 cores); a second run settles the summaries
//! ("run" becomes "cached"), after which a cached rerun writes nothing under `results/` or
//! `cache/refs/`.
//!
//! Run: `cargo bench --bench publish`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const SWEEP: &str = r#"[experiment]
name = "sweep"
seed = 1

[stages.g]
kind = "grain_sampling"
count = 2
nx = 8
ny = 8

[stages.t]
kind = "table"
inputs = { s = "g.structures" }

[sweep]
mode = "grid"
"g.count" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
"g.nx" = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
"t.title" = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
"#;

fn run(cwd: &Path) -> f64 {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(["run", "experiments/sweep.toml", "-q"])
        .current_dir(cwd)
        .output()
        .expect("mexp runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn main() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::write(tmp.path().join("experiments/sweep.toml"), SWEEP).expect("write");
    let first = run(tmp.path());
    println!("first run, 1000 variants (1100 unique stages): {first:.1} s");
    run(tmp.path());
    let mut times: Vec<f64> = (0..10).map(|_| run(tmp.path())).collect();
    times.sort_by(f64::total_cmp);
    println!(
        "fully cached rerun, 1000 variants (whole process): min {:.0} ms, median {:.0} ms (of 10)",
        times[0] * 1e3,
        times[times.len() / 2] * 1e3
    );
}
