//! Cache semantics of the engine, with test-only stage kinds.

mod common;

use common::*;
use mexp::engine::cache::Cache;
use mexp::engine::key::CodeManifest;
use mexp::engine::plan::{PlanState, statuses};
use mexp::engine::reason::{CodeChange, RerunReason};
use toml::Value;

#[test]
fn second_run_is_all_cache_hits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r1, ran1) = run(&reg, &s);
    assert_eq!(ran1.len(), 4);
    assert_eq!(value(&s, &r1, "c"), 13);
    let s2 = session(&reg, &m, &[]);
    let (_, ran2) = run(&reg, &s2);
    assert!(ran2.is_empty(), "second run recomputed {ran2:?}");
    let st = statuses(&s2.plan, &Cache::open(&s2.cache_dir).expect("cache"));
    assert!(st.iter().all(|s| s.state == PlanState::Cached));
}

#[test]
fn param_change_reruns_exactly_the_affected_stages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    run(&reg, &session(&reg, &m, &[]));
    let s = session(&reg, &m, &["b.offset=5"]);
    let st = statuses(&s.plan, &Cache::open(&s.cache_dir).expect("cache"));
    let b = s.plan.index[&(0, "b".to_string())];
    assert_eq!(
        st[b].reasons,
        vec![RerunReason::ParamChanged {
            stage: "b".into(),
            param: "offset".into(),
            old: Some(Value::Integer(0)),
            new: Some(Value::Integer(5)),
        }]
    );
    assert_eq!(
        st[b].reasons[0].to_string(),
        "params changed: b.offset 0 → 5"
    );
    let c = s.plan.index[&(0, "c".to_string())];
    assert_eq!(
        st[c].reasons,
        vec![RerunReason::UpstreamWillRun { stage: "b".into() }]
    );
    let (r, ran) = run(&reg, &s);
    assert_eq!(ran, vec!["b".to_string(), "c".to_string()]);
    assert_eq!(value(&s, &r, "c"), 2 * (6 + 5) + 1);
}

#[test]
fn unchanged_output_of_a_rerun_stage_keeps_downstream_cached() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    run(&reg, &session(&reg, &m, &[]));
    // `tag` changes a's key but not its output bytes: b and c stay cached (content-addressed inputs).
    let (_, ran) = run(&reg, &session(&reg, &m, &["a.tag=\"z\""]));
    assert_eq!(ran, vec!["a".to_string()]);
}

#[test]
fn implementation_change_reruns_that_kind_only() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    run(&default_registry(), &session(&default_registry(), &m, &[]));
    let reg2 = registry(["fp-source-1", "fp-double-2", "fp-sum-1"]);
    let s = session(&reg2, &m, &[]);
    let st = statuses(&s.plan, &Cache::open(&s.cache_dir).expect("cache"));
    let b = s.plan.index[&(0, "b".to_string())];
    assert_eq!(st[b].reasons[0].to_string(), "code of double changed");
    let (_, ran) = run(&reg2, &s);
    assert_eq!(ran, vec!["b".to_string(), "c".to_string()]);
}

/// A registry whose `double` kind covers `files` (path, digest) with fingerprint `fp`.
fn registry_with_code(fp: &str, files: &[(&str, &str)]) -> mexp::engine::Registry {
    let mut reg = registry(["fp-source-1", fp, "fp-sum-1"]);
    let code = CodeManifest {
        version: 1,
        files: files
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect(),
        crates: ["rand 0.9.5".to_string()].into(),
    };
    assert!(reg.catalog.set_code("double", code));
    reg
}

#[test]
fn plan_names_the_changed_file_and_a_pure_move_is_no_change() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let before = registry_with_code(
        "fp-a",
        &[("src/double.rs", "d1"), ("src/exchange.rs", "e1")],
    );
    run(&before, &session(&before, &m, &[]));
    let after = registry_with_code(
        "fp-b",
        &[("src/double.rs", "d1"), ("src/exchange.rs", "e2")],
    );
    let s = session(&after, &m, &[]);
    let st = statuses(&s.plan, &Cache::open(&s.cache_dir).expect("cache"));
    let b = s.plan.index[&(0, "b".to_string())];
    assert_eq!(
        st[b].reasons,
        vec![RerunReason::CodeChanged {
            kind: "double".into(),
            changes: vec![CodeChange::File {
                path: "src/exchange.rs".into(),
                old: Some("e1".into()),
                new: Some("e2".into()),
            }],
        }]
    );
    assert_eq!(
        st[b].reasons[0].to_string(),
        "code of double changed: src/exchange.rs"
    );
    // The same contents under new paths give the same fingerprint (build.rs hashes contents only),
    // so a registry that moved both files is the first registry again: nothing reruns.
    let moved = registry_with_code(
        "fp-a",
        &[("src/d/double.rs", "d1"), ("src/m/exchange.rs", "e1")],
    );
    let (_, ran) = run(&moved, &session(&moved, &m, &[]));
    assert!(ran.is_empty(), "a pure move reran {ran:?}");
}

#[test]
fn corrupted_object_is_detected_and_recomputed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let a = s.plan.index[&(0, "a".to_string())];
    let digest = r.records[a].as_ref().expect("record").outputs["out"]
        .digest
        .clone();
    let path = cache.object_path(&digest);
    let mut perms = std::fs::metadata(&path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).expect("chmod");
    std::fs::write(&path, b"{\"value\": 4}").expect("corrupt");
    let v = mexp::engine::maintenance::verify(&cache).expect("verify");
    assert_eq!(v.corrupt, vec![digest.clone()]);
    assert!(!path.exists(), "corrupt object must be moved aside");
    let s2 = session(&reg, &m, &[]);
    let (r2, ran) = run(&reg, &s2);
    assert_eq!(
        ran,
        vec!["a".to_string()],
        "only the stage whose output was corrupt reruns"
    );
    assert_eq!(value(&s2, &r2, "c"), 13);
    assert!(cache.verify_object(&digest).expect("rehash"));
}

/// Publishes a run's results and returns the text of the named summary file it wrote.
fn publish_and_read(
    s: &mexp::engine::session::Session,
    r: &mexp::engine::executor::RunReport,
    file: &str,
) -> String {
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let files =
        mexp::engine::results::publish(&s.plan, r, &cache, &s.results_dir, s.sweep.as_ref())
            .expect("publish");
    let path = files
        .iter()
        .find(|p| p.ends_with(file))
        .unwrap_or_else(|| panic!("{file} not written: {files:?}"));
    std::fs::read_to_string(path).expect("read")
}

#[test]
fn sweep_variants_share_identical_upstream_stages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let text = format!(
        "{CHAIN}\n[sweep]\nmode = \"grid\"\n\"c.offset\" = [1, 2, 3]\n\"b.offset\" = [0, 1]\nreport = [\"c.out.value\"]\n"
    );
    let m = write_manifest(tmp.path(), "sw", &text);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    assert_eq!(s.plan.variants.len(), 6);
    // a and d are shared by all six variants, b has two versions, c six.
    assert_eq!(s.plan.jobs.len(), 1 + 1 + 2 + 6);
    common::RUNS.store(0, std::sync::atomic::Ordering::SeqCst);
    let (r, ran) = run(&reg, &s);
    assert_eq!(ran.len(), 10);
    let csv = publish_and_read(&s, &r, "sweep_summary.csv");
    assert_eq!(csv.lines().count(), 7);
    assert!(
        csv.starts_with("variant,b.offset,c.offset,c.out.value\n"),
        "{csv}"
    );
    assert!(csv.contains("v005,1,3,"), "{csv}");
}

#[test]
fn replicates_repeat_every_point_and_the_summary_gives_their_spread() {
    let tmp = tempfile::tempdir().expect("tmp");
    // 2 grid points (c.offset = 1, 2) × 3 replicates (b.offset = 0, 1, 2): c = 2·(2·3 + b) + c
    let text = format!(
        "{CHAIN}\n[sweep]\n\"c.offset\" = [1, 2]\nreplicates = [{{ \"b.offset\" = 0 }}, {{ \"b.offset\" = 1 }}, {{ \"b.offset\" = 2 }}]\nreport = [\"c.out.value\"]\n"
    );
    let m = write_manifest(tmp.path(), "rep", &text);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    assert_eq!(s.plan.variants.len(), 6);
    assert_eq!(s.plan.variants[1].label, "c.offset=1, b.offset=1");
    // a and d shared, b three versions (one per replicate), c six
    assert_eq!(s.plan.jobs.len(), 1 + 1 + 3 + 6);
    let (r, _) = run(&reg, &s);
    let csv = publish_and_read(&s, &r, "sweep_groups.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("point,variants,c.offset,c.out.value.mean,"),
        "{csv}"
    );
    // b = 2·3 + r and c = 2·b + offset: over r = 0, 1, 2 the values of c step by 2
    let cells: Vec<f64> = lines[1]
        .split(',')
        .skip(3)
        .map(|c| c.parse().expect("number"))
        .collect();
    let (mean, sd, min, max, n) = (cells[0], cells[1], cells[2], cells[3], cells[4]);
    assert_eq!(n, 3.0);
    assert_eq!(max - min, 4.0, "{csv}");
    assert_eq!(mean, (min + max) / 2.0);
    assert!((sd - 2.0).abs() < 1e-12, "{csv}");
    // a replicate may not set what a point sets
    let clash = write_manifest(
        tmp.path(),
        "clash",
        &format!(
            "{CHAIN}\n[sweep]\n\"c.offset\" = [1, 2]\nreplicates = [{{ \"c.offset\" = 0 }}]\n"
        ),
    );
    let req = mexp::engine::session::Request {
        manifest: clash,
        backend: "flex".into(),
        ..Default::default()
    };
    let err = mexp::engine::session::Session::open(&reg, &req)
        .err()
        .expect("a clash is refused")
        .to_string();
    assert!(
        err.contains("set both by sweep point 0 and by replicate 0"),
        "{err}"
    );
}

#[test]
fn zip_and_list_sweeps_expand_as_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    let reg = default_registry();
    let zip = write_manifest(
        tmp.path(),
        "zip",
        &format!("{CHAIN}\n[sweep]\nmode = \"zip\"\n\"a.n\" = [1, 2]\n\"c.offset\" = [5, 6]\n"),
    );
    assert_eq!(session(&reg, &zip, &[]).plan.variants.len(), 2);
    let list = write_manifest(
        tmp.path(),
        "list",
        &format!(
            "{CHAIN}\n[sweep]\nmode = \"list\"\npoints = [{{ \"a.n\" = 1 }}, {{ \"a.n\" = 2, \"c.offset\" = 3 }}, {{ \"d.n\" = 4 }}]\n"
        ),
    );
    let s = session(&reg, &list, &[]);
    assert_eq!(s.plan.variants.len(), 3);
    assert_eq!(s.plan.variants[1].label, "a.n=2, c.offset=3");
    let lhs = write_manifest(
        tmp.path(),
        "lhs",
        &format!(
            "{CHAIN}\n[sweep]\nmode = \"lhs\"\nn = 5\nseed = 3\n\"a.n\" = {{ min = 0, max = 100, int = true }}\n"
        ),
    );
    let s = session(&reg, &lhs, &[]);
    let mut strata: Vec<i64> = s
        .plan
        .variants
        .iter()
        .map(|v| {
            v.experiment.stages[0].params["n"]
                .as_integer()
                .expect("int")
                / 20
        })
        .collect();
    strata.sort();
    assert_eq!(strata, vec![0, 1, 2, 3, 4], "one LHS sample per stratum");
}

#[test]
fn user_files_are_inputs_by_content_not_by_path() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments/data")).expect("mkdir");
    std::fs::write(
        tmp.path().join("experiments/data/x.json"),
        b"{\"value\": 4}",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("experiments/data/copy.json"),
        b"{\"value\": 4}",
    )
    .expect("write");
    let text = |f: &str| {
        format!(
            "[experiment]\nname = \"files\"\nseed = 1\n\n[stages.b]\nkind = \"double\"\ninputs = {{ x = \"file:data/{f}\" }}\n"
        )
    };
    let reg = default_registry();
    let m = write_manifest(tmp.path(), "files", &text("x.json"));
    let s = session(&reg, &m, &[]);
    let (r, ran) = run(&reg, &s);
    assert_eq!((ran.len(), value(&s, &r, "b")), (1, 8));
    let m = write_manifest(tmp.path(), "files", &text("copy.json"));
    assert!(
        run(&reg, &session(&reg, &m, &[])).1.is_empty(),
        "same content under another path is cached"
    );
    std::fs::write(
        tmp.path().join("experiments/data/copy.json"),
        b"{\"value\": 5}",
    )
    .expect("write");
    let s = session(&reg, &m, &[]);
    let st = statuses(&s.plan, &Cache::open(&s.cache_dir).expect("cache"));
    assert_eq!(
        st[0].reasons,
        vec![RerunReason::InputChanged { port: "x".into() }]
    );
    let (r, _) = run(&reg, &s);
    assert_eq!(value(&s, &r, "b"), 10);
    let missing = write_manifest(tmp.path(), "missing", &text("nope.json"));
    let req = mexp::engine::session::Request {
        manifest: missing,
        backend: "flex".into(),
        ..Default::default()
    };
    let err = mexp::engine::session::Session::open(&reg, &req)
        .err()
        .expect("missing file is a manifest error");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn a_failed_stage_skips_its_dependents_and_keep_going_runs_the_rest() {
    use mexp::engine::executor::Outcome;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    for jobs in [1, 2] {
        let s = session(&reg, &m, &["a.n=-1", &format!("d.n={}", 20 + jobs)]);
        let (r, _) = run_with(&reg, &s, jobs, true);
        let by_name = |n: &str| &r.outcomes[s.plan.index[&(0, n.to_string())]];
        assert!(matches!(by_name("a"), Outcome::Failed(m) if m.contains("n = -1 is negative")));
        assert!(matches!(by_name("b"), Outcome::Skipped(_)));
        assert!(matches!(by_name("c"), Outcome::Skipped(_)));
        assert_eq!(
            by_name("d"),
            &Outcome::Ran,
            "keep-going runs independent stages (jobs = {jobs})"
        );
    }
}
