//! Engine benchmarks (figures for the README/closing note; not timed tests):
//! 1. a fully cached run of a 20-stage experiment, whole process (`mexp run`), median of 15;
//! 2. `mexp plan` of a 1000-variant sweep, median of 5;
//! 3. blake3 hashing throughput of the cache (`hash_file`) on a 1 GiB file.
//!
//! Run: `cargo bench --bench engine`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time_cmd(args: &[&str], cwd: &Path, reps: usize) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                let out = Command::new(env!("CARGO_BIN_EXE_mexp"))
                    .args(args)
                    .current_dir(cwd)
                    .output()
                    .expect("mexp runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("experiments");
    std::fs::create_dir_all(&dir).expect("mkdir");

    // 1. 20 stages: 10 samplers, each summarised by a table stage.
    let mut m = String::from("[experiment]\nname = \"twenty\"\nseed = 1\n");
    for i in 0..10 {
        m.push_str(&format!(
            "\n[stages.g{i}]\nkind = \"grain_sampling\"\ncount = 2\nnx = 8\nny = 8\npreview = 1\n"
        ));
        m.push_str(&format!(
            "\n[stages.t{i}]\nkind = \"table\"\ninputs = {{ s = \"g{i}.structures\" }}\n"
        ));
    }
    std::fs::write(dir.join("twenty.toml"), m).expect("write");
    let status = Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(["run", "experiments/twenty.toml", "-q"])
        .current_dir(tmp.path())
        .status()
        .expect("first run");
    assert!(status.success());
    let cached = time_cmd(&["run", "experiments/twenty.toml", "-q"], tmp.path(), 15);
    println!(
        "fully cached run, 20 stages (whole process): {:.1} ms (median of 15)",
        cached * 1e3
    );

    // 2. 1000-variant sweep over a 2-stage chain.
    let sweep = "[experiment]\nname = \"sweep\"\nseed = 1\n\n[stages.g]\nkind = \"grain_sampling\"\ncount = 2\nnx = 8\nny = 8\n\n[stages.t]\nkind = \"table\"\ninputs = { s = \"g.structures\" }\n\n[sweep]\nmode = \"grid\"\n\"g.count\" = [1,2,3,4,5,6,7,8,9,10]\n\"g.nx\" = [8,9,10,11,12,13,14,15,16,17]\n\"t.title\" = [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\"]\n";
    std::fs::write(dir.join("sweep.toml"), sweep).expect("write");
    let plan = time_cmd(&["plan", "experiments/sweep.toml", "--json"], tmp.path(), 5);
    println!(
        "plan of a 1000-variant sweep (whole process, JSON out): {:.1} ms (median of 5)",
        plan * 1e3
    );

    // 3. Hashing throughput.
    let big = tmp.path().join("big.bin");
    let data: Vec<u8> = (0..(1u64 << 30))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&big, &data).expect("write");
    drop(data);
    let secs = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                mexp::engine::cache::hash_file(&big).expect("hash");
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "hash_file, 1 GiB (page-cached): {:.2} GB/s (median of 3, {} threads)",
        (1u64 << 30) as f64 / secs / 1e9,
        rayon::current_num_threads()
    );
}
