//! End-to-end tests of the `mexp` binary: exit codes, JSON, caching across processes, crash safety,
//! concurrent runs, gc and verify.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

#[path = "support/binary.rs"]
mod binary;
use binary::{json, mexp};

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

fn project(manifest: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    let m = tmp.path().join("experiments/demo.toml");
    std::fs::write(&m, manifest).expect("write");
    (tmp, m)
}

const DEMO: &str = r#"
[experiment]
name = "demo"
seed = 7

[stages.grains]
kind = "grain_sampling"
count = 12
nx = 32
ny = 32
preview = 2

[stages.more]
kind = "grain_sampling"
count = 5
nx = 16
ny = 16
preview = 1
"#;

#[test]
fn run_twice_second_is_all_cached_and_results_are_published() {
    let (tmp, m) = project(DEMO);
    let m = m.to_str().expect("utf8");
    let first = mexp(&["run", m, "--json"], tmp.path());
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        statuses(&json(&first)),
        vec![
            ("grains".into(), "run".into()),
            ("more".into(), "run".into())
        ]
    );
    // the run's JSON says where its report and summaries are, and they exist
    let doc = json(&first);
    let page = std::path::PathBuf::from(doc["report"].as_str().expect("report path"));
    assert!(
        page.ends_with("results/demo/index.html") && page.is_file(),
        "{page:?}"
    );
    let summaries = doc["summaries"].as_array().expect("summaries");
    assert!(!summaries.is_empty());
    for s in summaries {
        assert!(
            std::path::Path::new(s.as_str().expect("path")).is_file(),
            "{s}"
        );
    }
    let second = mexp(&["run", m, "--json"], tmp.path());
    assert_eq!(
        statuses(&json(&second)),
        vec![
            ("grains".into(), "cached".into()),
            ("more".into(), "cached".into())
        ]
    );
    assert!(
        tmp.path()
            .join("results/demo/grains/structures.json")
            .is_file()
    );
    assert!(tmp.path().join("results/demo/summary.md").is_file());
    let plan = json(&mexp(
        &["plan", m, "--json", "--set", "grains.count=13"],
        tmp.path(),
    ));
    assert_eq!(plan["schema"], "mexp/1");
    assert_eq!(plan["stages"][0]["status"], "run");
    assert_eq!(
        plan["stages"][0]["reasons"][0],
        "params changed: grains.count 12 → 13"
    );
    assert_eq!(plan["stages"][0]["why"][0]["reason"], "param_changed");
    assert_eq!(plan["stages"][0]["why"][0]["param"], "count");
    assert_eq!(plan["stages"][0]["why"][0]["new"], 13);
    assert_eq!(plan["stages"][1]["status"], "cached");
}

#[test]
fn exit_codes_distinguish_bad_manifests_from_failed_stages() {
    let (tmp, m) = project(
        "[experiment]\nname = \"x\"\nseed = 1\n[stages.g]\nkind = \"grain_sampling\"\ncuont = 3\n",
    );
    let bad = mexp(&["plan", m.to_str().expect("utf8")], tmp.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `count`?"));
    let (tmp, m) = project(
        "[experiment]\nname = \"x\"\nseed = 1\n[stages.g]\nkind = \"grain_sampling\"\ngrains_min = 50\ngrains_max = 10\n[stages.h]\nkind = \"grain_sampling\"\ncount = 2\nnx = 8\nny = 8\n",
    );
    let failed = mexp(
        &["run", m.to_str().expect("utf8"), "--json", "--keep-going"],
        tmp.path(),
    );
    assert_eq!(failed.status.code(), Some(1));
    let v = json(&failed);
    assert_eq!(
        statuses(&v),
        vec![("g".into(), "failed".into()), ("h".into(), "run".into())]
    );
    assert!(
        v["stages"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("log:"),
        "the error names the stage's log"
    );
    assert_eq!(
        mexp(&["show", m.to_str().expect("utf8"), "nope"], tmp.path())
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn kill_9_mid_stage_leaves_nothing_trusted_and_rerun_gives_the_same_result() {
    let big = "[experiment]\nname = \"k\"\nseed = 3\n[stages.g]\nkind = \"grain_sampling\"\ncount = 6000\n";
    let (tmp, m) = project(big);
    let m = m.to_str().expect("utf8");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(["run", m, "-q"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the stage must still be running when killed"
    );
    child.kill().expect("kill -9");
    let _ = child.wait();
    let records = std::fs::read_dir(tmp.path().join("cache/records"))
        .expect("records")
        .count();
    assert_eq!(records, 0, "a killed stage must leave no record");
    let plan = json(&mexp(&["plan", m, "--json"], tmp.path()));
    assert_eq!(plan["stages"][0]["status"], "run");
    let rerun = json(&mexp(&["run", m, "--json"], tmp.path()));
    let (tmp2, m2) = project(big);
    let clean = json(&mexp(
        &["run", m2.to_str().expect("utf8"), "--json"],
        tmp2.path(),
    ));
    assert_eq!(
        rerun["stages"][0]["outputs"]["structures"]["digest"],
        clean["stages"][0]["outputs"]["structures"]["digest"]
    );
    assert_eq!(
        mexp(&["verify", "--cache", "cache"], tmp.path())
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn two_concurrent_runs_compute_each_stage_once() {
    let text = "[experiment]\nname = \"c\"\nseed = 3\n[stages.g]\nkind = \"grain_sampling\"\ncount = 1500\n";
    let (tmp, m) = project(text);
    let m = m.to_str().expect("utf8");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_mexp"))
            .args(["run", m, "--json"])
            .current_dir(tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)));
    let (ja, jb) = (json(&a), json(&b));
    let mut st = vec![
        ja["stages"][0]["status"].as_str().unwrap_or("").to_string(),
        jb["stages"][0]["status"].as_str().unwrap_or("").to_string(),
    ];
    st.sort();
    assert_eq!(
        st,
        vec!["cached".to_string(), "run".to_string()],
        "exactly one run computes the stage"
    );
    assert_eq!(ja["stages"][0]["key"], jb["stages"][0]["key"]);
    assert_eq!(ja["stages"][0]["outputs"], jb["stages"][0]["outputs"]);
}

#[test]
fn concurrent_runs_sharing_a_cache_and_a_results_folder_never_corrupt_the_cache() {
    // Issue 13, hole 9: results were hard links to cache objects and a lost race fell back to
    // `fs::copy` onto the link, truncating the object, with every run exiting 0.
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/vae_nd2fe14b.toml");
    let args = [
        "run",
        manifest,
        "--profile",
        "tiny",
        "--threads",
        "1",
        "--cache",
        "c",
        "--results",
        "r",
        "-q",
    ];
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_mexp"))
            .args(args)
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    for round in 0..4 {
        let runs: Vec<_> = (0..4).map(|_| spawn()).collect();
        for r in runs {
            let out = r.wait_with_output().expect("run");
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v = mexp(&["verify", "--cache", "c"], tmp.path());
        assert_eq!(
            v.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
    let summary = std::fs::read_to_string(tmp.path().join("r/vae_nd2fe14b/summary.md"));
    assert!(summary.expect("summary").contains("| table3 |"));
}

#[test]
fn verify_flags_corruption_and_gc_sweeps_what_no_manifest_keeps() {
    let (tmp, m) = project(DEMO);
    let m = m.to_str().expect("utf8");
    assert_eq!(mexp(&["run", m, "-q"], tmp.path()).status.code(), Some(0));
    let other = tmp.path().join("experiments/other.toml");
    std::fs::write(&other, "[experiment]\nname = \"other\"\nseed = 9\n[stages.x]\nkind = \"grain_sampling\"\ncount = 3\nnx = 8\nny = 8\npreview = 1\n").expect("write");
    assert_eq!(
        mexp(&["run", other.to_str().expect("utf8"), "-q"], tmp.path())
            .status
            .code(),
        Some(0)
    );
    let dry = mexp(&["gc", "--keep", m, "--dry-run"], tmp.path());
    let text = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        text.contains("kept 2 records and 0 resumable shard folders; would remove 1 records"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("cache/records"))
            .expect("dir")
            .count(),
        3,
        "dry run deletes nothing"
    );
    assert_eq!(
        mexp(&["gc", "--keep", m], tmp.path()).status.code(),
        Some(0)
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("cache/records"))
            .expect("dir")
            .count(),
        2
    );
    let again = json(&mexp(&["run", m, "--json"], tmp.path()));
    assert!(
        statuses(&again).iter().all(|(_, s)| s == "cached"),
        "gc kept what the manifest uses"
    );
    // Corrupt one object: verify exits 1 and the next run recomputes it.
    let digest = again["stages"][0]["outputs"]["structures"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let obj = tmp
        .path()
        .join("cache/objects")
        .join(&digest[..2])
        .join(&digest[2..]);
    let mut perms = std::fs::metadata(&obj).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&obj, perms).expect("chmod");
    std::fs::write(&obj, b"garbage").expect("write");
    let v = mexp(&["verify", "--cache", "cache"], tmp.path());
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stdout).contains(&format!("corrupt: {digest}")));
    let rerun = json(&mexp(&["run", m, "--json"], tmp.path()));
    assert_eq!(
        statuses(&rerun)[0],
        ("grains".to_string(), "run".to_string())
    );
    assert_eq!(
        rerun["stages"][0]["outputs"]["structures"]["digest"],
        digest.as_str()
    );
}

#[test]
fn show_reports_params_with_their_layer() {
    let text = format!("{DEMO}\n[profile.big.stages.grains]\ncount = 40\n");
    let (tmp, m) = project(&text);
    let out = mexp(
        &[
            "show",
            m.to_str().expect("utf8"),
            "grains",
            "--profile",
            "big",
            "--set",
            "grains.nx=16",
            "--json",
        ],
        tmp.path(),
    );
    let v = json(&out);
    assert_eq!(v["params"]["count"]["value"], 40);
    assert_eq!(v["params"]["count"]["source"], "profile");
    assert_eq!(v["params"]["nx"]["source"], "--set");
    assert_eq!(v["params"]["ny"]["source"], "manifest");
    assert_eq!(v["params"]["grains_min"]["source"], "catalogue");
    assert_eq!(v["status"], "run");
    assert_eq!(v["reasons"][0], "not run before");
    assert_eq!(v["why"][0]["reason"], "not_run_before");
}

#[test]
fn the_main_experiment_runs_end_to_end_at_tiny_scale_and_reruns_from_cache() {
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/vae_nd2fe14b.toml");
    let cache = tmp.path().join("cache");
    let results = tmp.path().join("results");
    let args = [
        "run",
        manifest,
        "--profile",
        "tiny",
        "--json",
        "--cache",
        cache.to_str().expect("utf8"),
        "--results",
        results.to_str().expect("utf8"),
    ];
    let first = mexp(&args, tmp.path());
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(statuses(&json(&first)).iter().all(|(_, s)| s == "run"));
    let second = json(&mexp(&args, tmp.path()));
    assert!(
        statuses(&second).iter().all(|(_, s)| s == "cached"),
        "second run is all cache hits"
    );
    let table =
        std::fs::read_to_string(results.join("vae_nd2fe14b/table3/table.md")).expect("Table 3");
    // Every computed MAE must be in the table, as the evaluate stage computed it (the paper's
    // column is echoed from the manifest, so it cannot tell whether anything was computed).
    let metrics: Value = serde_json::from_slice(
        &std::fs::read(results.join("vae_nd2fe14b/evaluate/metrics.json")).expect("metrics"),
    )
    .expect("metrics JSON");
    for anchor in ["M1", "Mr", "Hk90", "Hk80", "Hk70", "Hc"] {
        let computed = metrics[format!("mae_{}", anchor.to_lowercase())]
            .as_f64()
            .unwrap_or_else(|| panic!("no computed MAE for {anchor}: {metrics}"));
        assert!(
            computed.is_finite() && computed > 0.0,
            "{anchor}: {computed}"
        );
        let row = format!("| {anchor} | {computed:.4} |");
        assert!(table.contains(&row), "missing `{row}` in\n{table}");
    }
    for f in [
        "evaluate/figure5/mr.png",
        "evaluate/figure5/hc.png",
        "anchors/curves.png",
        "grains/structures.png",
        "vae/loss.png",
    ] {
        assert!(
            results.join("vae_nd2fe14b").join(f).is_file(),
            "missing {f}"
        );
    }
}

#[test]
fn every_shipped_manifest_plans_under_every_profile_and_small_ones_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let tmp = tempfile::tempdir().expect("tmp");
    let cache = tmp.path().join("cache");
    let cache = cache.to_str().expect("utf8");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 3);
    for m in &manifests {
        let text = std::fs::read_to_string(m).expect("read");
        let mut profiles = vec![None];
        profiles.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("[profile."))
                .filter_map(|l| l.split('.').next())
                .map(|p| Some(p.to_string())),
        );
        profiles.dedup();
        for p in profiles {
            let mut args = vec!["plan", m.to_str().expect("utf8"), "--cache", cache];
            if let Some(p) = &p {
                args.extend(["--profile", p.as_str()]);
            }
            let out = mexp(&args, tmp.path());
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} --profile {p:?}: {}",
                m.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    for name in [
        "labels_nd2fe14b",
        "esw_kornell",
        "esw_kornell_sweep",
        "inverse_design_pollok",
        "vae_nd2fe14b_sweep",
    ] {
        let m = dir.join(format!("{name}.toml"));
        let out = mexp(
            &[
                "run",
                m.to_str().expect("utf8"),
                "--profile",
                "tiny",
                "--cache",
                cache,
                "--results",
                tmp.path().join("results").to_str().expect("utf8"),
                "-q",
            ],
            tmp.path(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn an_interrupted_fan_out_stage_resumes_from_its_finished_items() {
    let text = "[experiment]\nname = \"r\"\nseed = 4\n[stages.g]\nkind = \"grain_sampling\"\ncount = 24\nnx = 32\nny = 32\ngrains_min = 4\ngrains_max = 16\n[stages.c]\nkind = \"demag_curve\"\ninputs = { structures = \"g.structures\" }\nh_step = 0.02\n";
    let (tmp, m) = project(text);
    let m = m.to_str().expect("utf8");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(["run", m, "-q", "--threads", "1"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until some curves are stored as shards, then kill -9 mid-stage.
    let shards = tmp.path().join("cache/shards");
    let finished = || {
        std::fs::read_dir(&shards)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| std::fs::read_dir(e.path()).map(|x| x.count()).unwrap_or(0))
                    .sum::<usize>()
            })
            .unwrap_or(0)
    };
    let t0 = std::time::Instant::now();
    while finished() < 3 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the stage must still be running when killed"
    );
    child.kill().expect("kill -9");
    let _ = child.wait();
    let done = finished();
    assert!(
        (3..24).contains(&done),
        "{done} curves finished before the kill"
    );
    let resumed = json(&mexp(&["run", m, "--json"], tmp.path()));
    let (tmp2, m2) = project(text);
    let clean = json(&mexp(
        &["run", m2.to_str().expect("utf8"), "--json"],
        tmp2.path(),
    ));
    assert_eq!(resumed["stages"][1]["status"], "run");
    assert_eq!(
        resumed["stages"][1]["outputs"]["m"]["digest"],
        clean["stages"][1]["outputs"]["m"]["digest"],
        "resumed curves are bit-identical to an uninterrupted run"
    );
    assert!(
        !shards
            .join(resumed["stages"][1]["key"].as_str().expect("key"))
            .exists(),
        "shards are cleared once the stage completes"
    );
}

#[test]
fn stages_lists_what_a_fingerprint_covers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let v = json(&mexp(&["stages", "morph", "--json"], tmp.path()));
    assert_eq!(v["command"], "stages");
    let files = v["files"].as_object().expect("files");
    assert!(files.contains_key("src/stages/morph.rs"));
    assert!(files.contains_key("src/physics/micromag/exchange.rs"));
    assert_eq!(
        files["src/physics/micromag/exchange.rs"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    let crates = v["crates"].as_array().expect("crates");
    assert!(
        crates
            .iter()
            .any(|c| c.as_str().is_some_and(|c| c.starts_with("burn-flex "))),
        "morph trains with burn's CPU backend"
    );
    assert_eq!(v["implementation"].as_str().map(str::len), Some(64));
    let text = mexp(&["stages", "morph"], tmp.path());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("src/physics/micromag/exchange.rs"), "{text}");
    assert!(text.contains("burn-flex "), "{text}");
}

/// `run --quiet` prints nothing at all on success (first run and cached rerun), and still
/// prints a failing stage's error (issue 17, item 5).
#[test]
fn quiet_run_prints_nothing_but_errors() {
    let (tmp, m) = project(
        r#"
[experiment]
name = "demo"
seed = 7

[stages.grains]
kind = "grain_sampling"
count = 2
nx = 8
ny = 8

[stages.t]
kind = "table"
inputs = { s = "grains.structures" }
"#,
    );
    let m = m.to_str().expect("utf8");
    for what in ["first run", "cached rerun"] {
        let out = mexp(&["run", m, "--quiet"], tmp.path());
        assert_eq!(out.status.code(), Some(0), "{what}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{what}: stdout");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{what}: stderr");
    }
    std::fs::write(
        m,
        r#"
[experiment]
name = "demo"
seed = 7

[stages.broken]
kind = "command"
run = ["sh", "-c", "echo 'solver diverged at step 7' >&2; exit 3"]
outputs = { out = "out.txt" }
"#,
    )
    .expect("write");
    let out = mexp(&["run", m, "-q"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "errors go to stderr"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken"), "the failed stage is named: {err}");
    assert!(err.lines().count() >= 1);
}
