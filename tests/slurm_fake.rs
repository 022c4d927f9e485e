//! The Slurm executor against fake `sbatch`/`squeue`/`scancel` (tests/fake_slurm/) that run batch
//! scripts at once on this machine: results identical to a local run, fan-out stages as job
//! arrays, batched polls, retried transient failures, permanent rejections, failed and vanished
//! jobs, tickets whose key does not check out, and Ctrl-C cancelling what was submitted.
//! The same executor against a real single-node Slurm is tests/slurm_real.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/artifacts.rs"]
mod artifacts;
use artifacts::output_digests;

struct FakeCluster {
    tmp: tempfile::TempDir,
}

impl FakeCluster {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(tmp.path().join("slurm")).expect("mkdir");
        std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
        FakeCluster { tmp }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn state(&self) -> PathBuf {
        self.root().join("slurm")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn command(&self, args: &[&str]) -> Command {
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_slurm");
        let path = format!(
            "{}:{}",
            fake.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(env!("CARGO_BIN_EXE_mexp"));
        c.args(args)
            .current_dir(self.root())
            .env("PATH", path)
            .env("FAKE_SLURM_DIR", self.state());
        c
    }

    fn mexp(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run mexp")
    }

    fn write_manifest(&self, text: &str) -> PathBuf {
        let m = self.root().join("experiments/demo.toml");
        std::fs::write(&m, text).expect("write");
        m
    }
}

const DEMO: &str = r#"
[experiment]
name = "demo"
seed = 7

[stages.grains]
kind = "grain_sampling"
count = 6
nx = 16
ny = 16
preview = 1

[stages.grains.resources]
cpus = 1
memory = "1G"
time = "00:10:00"

[stages.more]
kind = "grain_sampling"
count = 3
nx = 16
ny = 16
preview = 1
"#;

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_tiny_main_experiment_on_fake_slurm_matches_a_local_run_bit_for_bit() {
    let c = FakeCluster::new();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/vae_nd2fe14b.toml");
    let m = manifest.to_str().expect("utf8");
    let run = |cache: &str, extra: &[&str]| {
        let mut args = vec!["run", m, "--profile", "tiny", "--cache", cache];
        args.extend_from_slice(&["--results", "results", "-q"]);
        args.extend_from_slice(extra);
        let out = c.mexp(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    };
    let slurm_cache = c.root().join("slurm-cache");
    let local_cache = c.root().join("local-cache");
    run(
        slurm_cache.to_str().expect("utf8"),
        &["--executor", "slurm", "--max-jobs", "8"],
    );
    // Slurm jobs run with --cpus-per-task=1, so the local run uses one thread per stage too.
    run(local_cache.to_str().expect("utf8"), &["--threads", "1"]);
    let slurm = output_digests(&slurm_cache);
    let local = output_digests(&local_cache);
    assert_eq!(slurm.len(), 11);
    assert_eq!(slurm, local, "Slurm and local artifacts differ");

    let calls = c.calls();
    let sbatch = calls.iter().filter(|l| l.starts_with("sbatch")).count();
    // 11 stages, the fan-out `curves` as an array and a gather job: 12 submissions.
    assert_eq!(sbatch, 12, "{calls:#?}");
    let polls: Vec<&String> = calls.iter().filter(|l| l.starts_with("squeue")).collect();
    assert!(!polls.is_empty());
    assert!(
        polls.iter().any(|l| l.contains(',')),
        "jobs in flight together must be polled in one squeue call: {polls:#?}"
    );
    let run_dir = std::fs::read_dir(slurm_cache.join("slurm"))
        .expect("run dir")
        .next()
        .expect("one run")
        .expect("entry")
        .path();
    let array = std::fs::read_to_string(run_dir.join("001-curves-slices.sh")).expect("script");
    assert!(array.contains("#SBATCH --array=0-"), "{array}");
    assert!(
        array.contains("%8\n"),
        "the array must carry the --max-jobs cap: {array}"
    );

    // A second run through Slurm submits nothing: everything is cached.
    run(
        slurm_cache.to_str().expect("utf8"),
        &["--executor", "slurm"],
    );
    let again = c.calls().iter().filter(|l| l.starts_with("sbatch")).count();
    assert_eq!(again, sbatch);
}

#[test]
fn transient_sbatch_failures_are_retried_and_resources_reach_the_script() {
    let c = FakeCluster::new();
    let m = c.write_manifest(DEMO);
    std::fs::write(c.state().join("fail_sbatch"), "2").expect("write");
    let out = c.mexp(&[
        "run",
        m.to_str().expect("utf8"),
        "--executor",
        "slurm",
        "--partition",
        "short",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sbatch = c.calls().iter().filter(|l| l.starts_with("sbatch")).count();
    assert_eq!(sbatch, 2 + 2, "two stages, two transient failures retried");
    assert!(text(&out).contains("2 retried"), "{}", text(&out));
    let run_dir = std::fs::read_dir(c.root().join("cache/slurm"))
        .expect("run dir")
        .next()
        .expect("one run")
        .expect("entry")
        .path();
    let script = std::fs::read_to_string(run_dir.join("000-grains.sh")).expect("script");
    for line in [
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=1G",
        "#SBATCH --time=00:10:00",
        "#SBATCH --partition=short",
    ] {
        assert!(script.contains(line), "{line} missing from\n{script}");
    }
}

#[test]
fn a_permanent_rejection_fails_at_once_without_retries() {
    let c = FakeCluster::new();
    let m = c.write_manifest(DEMO);
    std::fs::write(c.state().join("reject_sbatch"), "").expect("write");
    let out = c.mexp(&["run", m.to_str().expect("utf8"), "--executor", "slurm"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("Invalid partition name"),
        "{}",
        text(&out)
    );
    let sbatch = c.calls().iter().filter(|l| l.starts_with("sbatch")).count();
    assert_eq!(
        sbatch, 1,
        "a rejected request is not retried; the run stops"
    );
}

#[test]
fn a_job_whose_ticket_key_does_not_check_out_fails_with_its_output() {
    let c = FakeCluster::new();
    let m = c.write_manifest(DEMO);
    std::fs::write(c.state().join("corrupt_ticket"), "").expect("write");
    let out = c.mexp(&["run", m.to_str().expect("utf8"), "--executor", "slurm"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("failed on Slurm"), "{t}");
    assert!(t.contains("is not the key of its manifest"), "{t}");
    assert!(
        !c.root().join("cache/refs/demo/grains.json").exists(),
        "nothing may be published for a refused ticket"
    );
}

#[test]
fn a_job_that_leaves_the_queue_without_a_marker_is_reported() {
    let c = FakeCluster::new();
    let m = c.write_manifest(DEMO);
    std::fs::write(c.state().join("vanish"), "").expect("write");
    let out = c.mexp(&["run", m.to_str().expect("utf8"), "--executor", "slurm"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("left the queue without writing its exit status"),
        "{}",
        text(&out)
    );
}

#[test]
fn ctrl_c_cancels_the_submitted_jobs_and_publishes_nothing() {
    let c = FakeCluster::new();
    let m = c.write_manifest(DEMO);
    std::fs::write(c.state().join("hold"), "").expect("write");
    let child = c
        .command(&["run", m.to_str().expect("utf8"), "--executor", "slurm"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    while c.calls().iter().filter(|l| l.starts_with("sbatch")).count() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(30), "nothing submitted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let calls = c.calls();
    let scancel: Vec<&String> = calls.iter().filter(|l| l.starts_with("scancel")).collect();
    assert_eq!(scancel.len(), 1, "one scancel for all jobs: {calls:#?}");
    assert!(
        scancel[0].contains("100") && scancel[0].contains("101"),
        "{scancel:?}"
    );
    for id in ["100", "101"] {
        let state = std::fs::read_to_string(c.state().join(format!("state.{id}"))).expect("state");
        assert_eq!(state.trim(), "CANCELLED");
    }
    assert!(!c.root().join("cache/refs/demo/grains.json").exists());
    let _ = std::fs::remove_file(c.state().join("hold"));
}

#[test]
fn plan_shows_what_slurm_would_be_asked_for() {
    let c = FakeCluster::new();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/vae_nd2fe14b.toml");
    let out = c.mexp(&[
        "plan",
        manifest.to_str().expect("utf8"),
        "--profile",
        "tiny",
        "--executor",
        "slurm",
        "--partition",
        "cpu",
        "--cache",
        "cache",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("slurm: job array, 1 item(s) per task"), "{t}");
    assert!(
        t.contains("slurm: one job: sbatch --cpus-per-task=1 --partition=cpu"),
        "{t}"
    );
    assert!(c.calls().is_empty(), "plan submits nothing");
}

#[test]
fn unknown_or_malformed_resources_are_manifest_errors() {
    let c = FakeCluster::new();
    let m = c.write_manifest(&DEMO.replace("memory = \"1G\"", "mem = \"1G\"\ngpus = -1"));
    let out = c.mexp(&["plan", m.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("unknown resource `mem` for stage `grains`"),
        "{t}"
    );
    assert!(t.contains("did you mean `memory`?"), "{t}");
    assert!(
        t.contains("resource `gpus` of stage `grains` must be ≥ 0"),
        "{t}"
    );
    assert!(t.contains("demo.toml:"), "errors are located: {t}");
}

#[test]
fn a_failed_array_task_is_reported_and_a_rerun_submits_only_its_slice() {
    let c = FakeCluster::new();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/labels_nd2fe14b.toml");
    let m = manifest.to_str().expect("utf8");
    let args = [
        "run",
        m,
        "--profile",
        "tiny",
        "--executor",
        "slurm",
        "--cache",
        "cache",
        "--results",
        "results",
    ];
    std::fs::write(c.state().join("fail_tasks"), "1\n").expect("write");
    let out = c.mexp(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("failed on Slurm") && text(&out).contains("task 1, exit status 2"),
        "{}",
        text(&out)
    );
    std::fs::remove_file(c.state().join("fail_tasks")).expect("rm");
    let out = c.mexp(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut runs: Vec<PathBuf> = std::fs::read_dir(c.root().join("cache/slurm"))
        .expect("runs")
        .map(|e| e.expect("entry").path())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2);
    let first = std::fs::read_to_string(runs[0].join("001-curves-slices.sh")).expect("first");
    let second = std::fs::read_to_string(runs[1].join("001-curves-slices.sh")).expect("second");
    assert!(first.contains("#SBATCH --array=0-3%50\n"), "{first}");
    assert!(
        second.contains("#SBATCH --array=1%50\n"),
        "only the failed slice is resubmitted: {second}"
    );
}
