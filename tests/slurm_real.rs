//! The Slurm executor against a real Slurm: the tiny profile of every shipped manifest runs
//! through `--executor slurm` and must give bit-identical artifacts to a local run.
//!
//! It needs a running cluster whose nodes share this filesystem, found through SLURM_CONF (or the
//! default config). `scripts/slurm-local.sh start` starts a single-node one on 127.0.0.1 (Debian's
//! Slurm 22.05); `.ci/run` does that and then runs this test with `--ignored`. Without a cluster
//! the test fails with a message saying so; it never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

#[path = "support/artifacts.rs"]
mod artifacts;
use artifacts::output_digests;

#[path = "support/binary.rs"]
mod binary;
use binary::mexp;

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn require_cluster() {
    let conf = std::env::var("SLURM_CONF").unwrap_or_else(|_| "(default)".into());
    let out = Command::new("sinfo")
        .args(["-h", "-N", "-o", "%T"])
        .output();
    let states = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => panic!(
            "no Slurm cluster answers (SLURM_CONF={conf}): sinfo failed: {}\n\
             start one with `scripts/slurm-local.sh start` and `eval \"$(scripts/slurm-local.sh env)\"`",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!(
            "no Slurm client here ({e}); install and start a single-node cluster with \
             `scripts/slurm-local.sh start`"
        ),
    };
    assert!(
        states
            .lines()
            .any(|s| matches!(s.trim(), "idle" | "mixed" | "allocated")),
        "the Slurm cluster (SLURM_CONF={conf}) has no usable node: {states:?}"
    );
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (.ci/run does it and runs this)"]
fn tiny_profiles_through_a_real_slurm_are_bit_identical_to_local_runs() {
    require_cluster();
    let tmp = tempfile::tempdir().expect("tmp");
    let experiments = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let slurm_cache: PathBuf = tmp.path().join("slurm-cache");
    let local_cache: PathBuf = tmp.path().join("local-cache");
    let results = tmp.path().join("results");
    let mut names: Vec<String> = std::fs::read_dir(&experiments)
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && std::fs::read_to_string(p).is_ok_and(|t| t.contains("[profile.tiny"))
        })
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
        // The replication study's tiny profile is 125 variants of the kinds esw_kornell and
        // esw_kornell_sweep already send through Slurm here, and 4 of its trainings diverge by
        // design (it is run with --keep-going): minutes of cluster time that test nothing new.
        .filter(|n| n != "esw_kornell_replication")
        .collect();
    names.sort();
    assert!(names.len() >= 7, "tiny profiles: {names:?}");
    assert!(names.iter().any(|n| n == "esw_kornell_sweep"), "{names:?}");
    for name in &names {
        let m = experiments.join(format!("{name}.toml"));
        let m = m.to_str().expect("utf8");
        let common = ["run", m, "--profile", "tiny", "--results"];
        let t0 = Instant::now();
        let mut args = common.to_vec();
        args.extend([
            results.to_str().expect("utf8"),
            "--cache",
            slurm_cache.to_str().expect("utf8"),
            "--executor",
            "slurm",
        ]);
        let out = mexp(&args, tmp.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} on Slurm: {}",
            text(&out)
        );
        let slurm_secs = t0.elapsed().as_secs_f64();
        let summary = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("slurm: ") && l.contains("submissions"))
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!("{name}: Slurm run {slurm_secs:.1} s; {summary}");
        // Slurm jobs get one CPU each by default, so the local run uses one thread per stage.
        let mut args = common.to_vec();
        args.extend([
            results.to_str().expect("utf8"),
            "--cache",
            local_cache.to_str().expect("utf8"),
            "--threads",
            "1",
            "-q",
        ]);
        let out = mexp(&args, tmp.path());
        assert_eq!(out.status.code(), Some(0), "{name} locally: {}", text(&out));
    }
    let slurm = output_digests(&slurm_cache);
    let local = output_digests(&local_cache);
    assert!(slurm.len() >= 20, "{} stages", slurm.len());
    for (stage, outputs) in &local {
        assert_eq!(
            slurm.get(stage),
            Some(outputs),
            "{stage}: Slurm and local artifacts differ"
        );
    }
    assert_eq!(slurm.len(), local.len());
}

/// A `command` pipeline (a program writing a folder, a script from `code` reading it, a sweep over
/// `params`) through the real Slurm: every job runs its program on the node through `mexp __exec`,
/// the artifacts equal a local run's, and a second Slurm run is all cached.
#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (.ci/run does it and runs this)"]
fn command_stages_run_through_a_real_slurm() {
    require_cluster();
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments/scripts")).expect("mkdir");
    std::fs::write(
        tmp.path().join("experiments/scripts/count.sh"),
        "wc -l < \"$1/lines\" | tr -d ' ' > \"$2\"; echo \"$SLURM_JOB_ID\" > \"$3\"\n",
    )
    .expect("write");
    let manifest = tmp.path().join("experiments/cmd.toml");
    std::fs::write(
        &manifest,
        r#"
[experiment]
name = "cmd"
seed = 5

[stages.make]
kind = "command"
run = ["sh", "-c", "mkdir -p d && seq {params.n} > d/lines"]
outputs = { lines = "d/" }
params = { n = 3 }
resources = { cpus = 1 }

[stages.count]
kind = "command"
run = ["sh", "scripts/count.sh", "{inputs.lines}", "{outputs.count}", "{outputs.job}"]
inputs = { lines = "make.lines" }
outputs = { count = "count.txt", job = "job.txt" }
code = ["scripts/count.sh"]

[sweep]
mode = "grid"
"make.params.n" = [3, 7]
"#,
    )
    .expect("write");
    let m = manifest.to_str().expect("utf8");
    let slurm_cache = tmp.path().join("slurm-cache");
    let slurm_cache = slurm_cache.to_str().expect("utf8");
    let results = tmp.path().join("results");
    let results = results.to_str().expect("utf8");
    let slurm = [
        "run",
        m,
        "--cache",
        slurm_cache,
        "--results",
        results,
        "--executor",
        "slurm",
    ];
    let out = mexp(&slurm, tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "command on Slurm: {}",
        text(&out)
    );
    for (variant, n) in [("v000", "3"), ("v001", "7")] {
        let dir = tmp.path().join("results/cmd").join(variant).join("count");
        let count = std::fs::read_to_string(dir.join("count.txt")).expect("count");
        assert_eq!(count.trim(), n, "{variant}");
        let job = std::fs::read_to_string(dir.join("job.txt")).expect("job");
        assert!(
            job.trim().parse::<u64>().is_ok(),
            "{variant}: the program did not run inside a Slurm job: {job:?}"
        );
    }
    let mut json_args = slurm.to_vec();
    json_args.push("--json");
    let again = mexp(&json_args, tmp.path());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    let states: Vec<&str> = v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["status"].as_str().unwrap_or(""))
        .collect();
    assert!(
        !states.is_empty() && states.iter().all(|s| *s == "cached"),
        "second Slurm run was not all cached: {states:?}"
    );
    let local_cache = tmp.path().join("local-cache");
    let local = mexp(
        &[
            "run",
            m,
            "--cache",
            local_cache.to_str().expect("utf8"),
            "--results",
            results,
            "-q",
        ],
        tmp.path(),
    );
    assert_eq!(local.status.code(), Some(0), "{}", text(&local));
    let (s, l) = (
        output_digests(Path::new(slurm_cache)),
        output_digests(&local_cache),
    );
    // The job id differs between the runs by design; everything else is bit-identical.
    for (stage, outputs) in &l {
        let theirs = s.get(stage).expect("stage ran on Slurm");
        for (o, d) in outputs {
            if o != "job" {
                assert_eq!(
                    theirs.get(o),
                    Some(d),
                    "{stage}.{o}: Slurm and local differ"
                );
            }
        }
    }
    assert_eq!(s.len(), l.len());
}
