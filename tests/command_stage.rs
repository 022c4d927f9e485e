//! The `command` kind end to end through the `mexp` binary, with `sh` programs only: caching, what
//! reruns a stage (code, env, params) and says so, failures and missing outputs publishing nothing,
//! Ctrl-C killing the program's process group, sweeps over `params`, folder outputs.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/binary.rs"]
mod binary;
use binary::{json, mexp};

/// Everything the run printed (the summary with failures goes to stdout, progress to stderr).
fn stderr(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A project folder with `experiments/demo.toml` and `scripts/sum.sh`.
fn project(manifest: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::create_dir_all(tmp.path().join("scripts/lib")).expect("mkdir");
    std::fs::write(tmp.path().join("experiments/demo.toml"), manifest).expect("write");
    std::fs::write(
        tmp.path().join("scripts/sum.sh"),
        "# adds the numbers of its input file\n. \"$(dirname \"$0\")/lib/common.sh\"\ntotal $(cat \"$1\") > \"$2\"\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("scripts/lib/common.sh"),
        "total() { s=0; for x in \"$@\"; do s=$((s + x)); done; echo \"$s$SUFFIX\"; }\n",
    )
    .expect("write");
    tmp
}

const PIPELINE: &str = r#"
[experiment]
name = "demo"
seed = 3

[stages.gen]
kind = "command"
run = ["sh", "-c", "seq $MEXP_PARAM_FIRST {params.n} > \"$1\"", "gen", "{outputs.numbers}"]
outputs = { numbers = "numbers.txt" }
params = { first = 1, n = 4 }

[stages.sum]
kind = "command"
run = ["sh", "../scripts/sum.sh", "{inputs.numbers}", "{outputs.total}"]
inputs = { numbers = "gen.numbers" }
outputs = { total = "total.txt" }
code = ["../scripts/sum.sh", "../scripts/lib/"]
env = { SUFFIX = "" }
"#;

fn run_json(tmp: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["run", "experiments/demo.toml", "--json"];
    args.extend_from_slice(extra);
    let out = mexp(&args, tmp);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

fn total(tmp: &Path) -> String {
    std::fs::read_to_string(tmp.join("results/demo/sum/total.txt"))
        .expect("published total")
        .trim()
        .to_string()
}

fn reasons(tmp: &Path, stage: &str, extra: &[&str]) -> String {
    let mut args = vec!["plan", "experiments/demo.toml", "--json"];
    args.extend_from_slice(extra);
    let plan = json(&mexp(&args, tmp));
    let s = plan["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == stage)
        .expect("stage in plan")
        .clone();
    format!("{} {}", s["status"], s["reasons"])
}

#[test]
fn second_run_is_cached_and_a_code_change_reruns_naming_the_file() {
    let tmp = project(PIPELINE);
    let first = run_json(tmp.path(), &[]);
    assert_eq!(statuses(&first), pairs(&[("gen", "run"), ("sum", "run")]));
    assert_eq!(total(tmp.path()), "10");
    let again = run_json(tmp.path(), &[]);
    assert_eq!(
        statuses(&again),
        pairs(&[("gen", "cached"), ("sum", "cached")])
    );

    // A file inside a `code` folder changes: only `sum` reruns, and plan names the file.
    std::fs::write(
        tmp.path().join("scripts/lib/common.sh"),
        "total() { s=0; for x in \"$@\"; do s=$((s + 2 * x)); done; echo \"$s$SUFFIX\"; }\n",
    )
    .expect("write");
    let why = reasons(tmp.path(), "sum", &[]);
    assert!(why.contains("scripts/lib/common.sh"), "{why}");
    assert!(reasons(tmp.path(), "gen", &[]).starts_with("\"cached\""));
    let after = run_json(tmp.path(), &[]);
    assert_eq!(
        statuses(&after),
        pairs(&[("gen", "cached"), ("sum", "run")])
    );
    assert_eq!(total(tmp.path()), "20");
}

#[test]
fn env_and_params_changes_rerun_and_a_sweep_varies_params() {
    let tmp = project(PIPELINE);
    run_json(tmp.path(), &[]);
    assert_eq!(total(tmp.path()), "10");

    let why = reasons(tmp.path(), "sum", &["--set", "sum.env.SUFFIX=!"]);
    assert!(why.contains("env"), "{why}");
    let env = run_json(tmp.path(), &["--set", "sum.env.SUFFIX=!"]);
    assert_eq!(statuses(&env), pairs(&[("gen", "cached"), ("sum", "run")]));
    assert_eq!(total(tmp.path()), "10!");

    let why = reasons(tmp.path(), "gen", &["--set", "gen.params.n=5"]);
    assert!(why.contains("params"), "{why}");
    // One entry is overridden; the others (`first`) are kept.
    let params = run_json(tmp.path(), &["--set", "gen.params.n=5"]);
    assert_eq!(statuses(&params), pairs(&[("gen", "run"), ("sum", "run")]));
    assert_eq!(total(tmp.path()), "15");

    // A sweep over one entry of `params`: n = 4 is cached from the first run, n = 2 runs.
    let sweep = format!("{PIPELINE}\n[sweep]\nmode = \"grid\"\n\"gen.params.n\" = [4, 2]\n");
    std::fs::write(tmp.path().join("experiments/demo.toml"), sweep).expect("write");
    let out = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = |v: &str| {
        std::fs::read_to_string(tmp.path().join(format!("results/demo/{v}/sum/total.txt")))
            .expect("variant total")
            .trim()
            .to_string()
    };
    assert_eq!((read("v000"), read("v001")), ("10".into(), "3".into()));
}

fn records(tmp: &Path) -> usize {
    std::fs::read_dir(tmp.join("cache/records")).map_or(0, |d| d.count())
}

#[test]
fn a_failing_program_publishes_nothing_and_shows_its_output() {
    let tmp = project(
        r#"
[experiment]
name = "demo"
seed = 3

[stages.bad]
kind = "command"
run = ["sh", "-c", "echo half-written > out.txt; echo 'solver diverged at step 7' >&2; exit 3"]
outputs = { out = "out.txt" }
"#,
    );
    let out = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("exit status: 3"), "{err}");
    assert!(err.contains("solver diverged at step 7"), "{err}");
    assert_eq!(records(tmp.path()), 0);
    assert!(!tmp.path().join("results/demo/bad/out.txt").exists());
    let digest = blake3::hash(b"half-written\n").to_hex().to_string();
    assert!(
        !tmp.path()
            .join("cache/objects")
            .join(&digest[..2])
            .join(&digest[2..])
            .exists(),
        "the failed program's file reached the store"
    );
}

#[test]
fn a_missing_output_is_an_error_naming_it() {
    let tmp = project(
        r#"
[experiment]
name = "demo"
seed = 3

[stages.lazy]
kind = "command"
run = ["sh", "-c", "echo 1 > a.txt"]
outputs = { a = "a.txt", figure = "figure.png", frames = "frames/" }
"#,
    );
    let out = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("did not write its declared output `figure` (figure.png), `frames` (frames/)"),
        "{err}"
    );
    assert_eq!(records(tmp.path()), 0);
}

#[test]
fn folder_outputs_are_published_and_consumed_as_folders() {
    let tmp = project(
        r#"
[experiment]
name = "demo"
seed = 3

[stages.make]
kind = "command"
run = ["sh", "-c", "mkdir -p model/sub && echo {seed} > model/seed && echo w > model/sub/w"]
outputs = { model = "model/" }

[stages.use]
kind = "command"
run = ["sh", "-c", "cat {inputs.model}/sub/w {inputs.model}/seed > {outputs.both}"]
inputs = { model = "make.model" }
outputs = { both = "both.txt" }
"#,
    );
    let out = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seed = std::fs::read_to_string(tmp.path().join("results/demo/make/model/seed"))
        .expect("published folder");
    let both = std::fs::read_to_string(tmp.path().join("results/demo/use/both.txt")).expect("both");
    assert_eq!(both, format!("w\n{seed}"));
}

#[test]
fn ctrl_c_kills_the_program_and_publishes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pidfile = tmp.path().join("child.pid");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::write(
        tmp.path().join("experiments/demo.toml"),
        format!(
            r#"
[experiment]
name = "demo"
seed = 3

[stages.slow]
kind = "command"
run = ["sh", "-c", "echo $$ > '{}'; sleep 60; echo late > out.txt"]
outputs = {{ out = "out.txt" }}
"#,
            pidfile.display()
        ),
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(["run", "experiments/demo.toml"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mexp");
    let t0 = Instant::now();
    let pid = loop {
        if let Ok(s) = std::fs::read_to_string(&pidfile)
            && s.ends_with('\n')
        {
            break s.trim().to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "program never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(30),
            "mexp did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let alive = Command::new("kill")
        .args(["-0", &pid])
        .stderr(Stdio::null())
        .status()
        .expect("kill -0");
    assert!(!alive.success(), "the program (pid {pid}) survived Ctrl-C");
    assert_eq!(records(tmp.path()), 0);
    assert!(!tmp.path().join("results/demo/slow/out.txt").exists());
}

#[test]
fn the_version_output_enters_the_key_and_its_error_output_does_not() {
    let tmp = tempfile::tempdir().expect("tmp");
    let version = tmp.path().join("tool-version");
    std::fs::write(&version, "tool 1.0\n").expect("write");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::write(
        tmp.path().join("experiments/demo.toml"),
        format!(
            r#"
[experiment]
name = "demo"
seed = 3

[stages.tool]
kind = "command"
run = ["sh", "-c", "echo $MEXP_THREADS $OMP_NUM_THREADS {{threads}} > {{outputs.threads}}"]
outputs = {{ threads = "threads.txt" }}
version = ["sh", "-c", "cat '{}'; echo \"log line at $(date +%s%N)\" >&2"]
"#,
            version.display()
        ),
    )
    .expect("write");
    let first = run_json(tmp.path(), &["--threads", "3", "--jobs", "1"]);
    assert_eq!(statuses(&first), pairs(&[("tool", "run")]));
    let threads =
        std::fs::read_to_string(tmp.path().join("results/demo/tool/threads.txt")).expect("threads");
    assert_eq!(threads.trim(), "3 3 3");
    // The version program's error output changes every time; it does not enter the key, and
    // neither does the thread count.
    let again = run_json(tmp.path(), &["--threads", "2"]);
    assert_eq!(statuses(&again), pairs(&[("tool", "cached")]));
    std::fs::write(&version, "tool 1.1\n").expect("write");
    let why = reasons(tmp.path(), "tool", &[]);
    assert!(
        why.contains("version:output") && why.contains("tool 1.1"),
        "{why}"
    );
    let after = run_json(tmp.path(), &[]);
    assert_eq!(statuses(&after), pairs(&[("tool", "run")]));
}

#[test]
fn a_version_program_that_fails_is_a_located_manifest_error() {
    let tmp = project(
        r#"
[experiment]
name = "demo"
seed = 3

[stages.tool]
kind = "command"
run = ["true"]
outputs = { a = "a.txt" }
version = ["sh", "-c", "exit 4"]
"#,
    );
    let out = mexp(&["plan", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`version` program `sh -c exit 4` failed"),
        "{err}"
    );
    assert!(err.contains("demo.toml:10:11"), "located: {err}");
}
