//! Test-only stage kinds and helpers to run the engine in-process on a temporary project.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mexp::engine::cache::Cache;
use mexp::engine::catalog::Catalog;
use mexp::engine::executor::{Outcome, RunOptions, RunReport, execute};
use mexp::engine::progress::ProgressView;
use mexp::engine::session::{Request, Session};
use mexp::engine::{Registry, Stage, StageContext, StageResult};

/// Counts how many times test stages actually ran (per process).
pub static RUNS: AtomicUsize = AtomicUsize::new(0);

const SOURCE: &str = r#"
doc = "test: emits {value: n}"
[params.n]
type = "int"
default = 1
doc = "value"
[params.tag]
type = "string"
default = "a"
doc = "label that does not change the output"
[outputs.out]
file = "out.json"
doc = "value"
"#;

const DOUBLE: &str = r#"
doc = "test: doubles its input and adds an offset"
[params.offset]
type = "int"
default = 0
doc = "added"
[inputs.x]
doc = "value"
[outputs.out]
file = "out.json"
doc = "value"
"#;

const SUM: &str = r#"
doc = "test: sums all inputs"
any_inputs = true
[outputs.out]
file = "out.json"
doc = "value"
"#;

struct Source;
struct Double;
struct Sum;

fn read_value(p: &Path) -> StageResult<i64> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p)?)?;
    v.get("value")
        .and_then(|x| x.as_i64())
        .ok_or_else(|| "no value".into())
}

impl Stage for Source {
    fn run(&self, ctx: &StageContext) -> StageResult {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let n = ctx.i64("n")?;
        if n < 0 {
            return Err(format!("n = {n} is negative").into());
        }
        ctx.write_json("out", &serde_json::json!({"value": n}))
    }
}
impl Stage for Double {
    fn run(&self, ctx: &StageContext) -> StageResult {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let x = read_value(ctx.input("x")?)?;
        ctx.write_json(
            "out",
            &serde_json::json!({"value": 2 * x + ctx.i64("offset")?}),
        )
    }
}
impl Stage for Sum {
    fn run(&self, ctx: &StageContext) -> StageResult {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let mut s = 0;
        for p in ctx.input_ports() {
            s += read_value(ctx.input(&p)?)?;
        }
        ctx.write_json("out", &serde_json::json!({"value": s}))
    }
}

/// A registry of the test kinds; `fingerprints` gives (source, double, sum) implementation fingerprints.
pub fn registry(fingerprints: [&str; 3]) -> Registry {
    let mut c = Catalog::default();
    c.add_toml("source", SOURCE, fingerprints[0])
        .expect("source kind");
    c.add_toml("double", DOUBLE, fingerprints[1])
        .expect("double kind");
    c.add_toml("sum", SUM, fingerprints[2]).expect("sum kind");
    let mut r = Registry::new(c);
    r.register("source", Arc::new(Source));
    r.register("double", Arc::new(Double));
    r.register("sum", Arc::new(Sum));
    r
}

/// The default test registry.
pub fn default_registry() -> Registry {
    registry(["fp-source-1", "fp-double-1", "fp-sum-1"])
}

/// Writes `text` as experiments/<name>.toml under `root`.
pub fn write_manifest(root: &Path, name: &str, text: &str) -> PathBuf {
    let dir = root.join("experiments");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).expect("write manifest");
    p
}

/// Opens a session for a manifest with optional `--set`s.
pub fn session(reg: &Registry, manifest: &Path, sets: &[&str]) -> Session {
    let req = Request {
        manifest: manifest.to_path_buf(),
        sets: sets.iter().map(|s| s.to_string()).collect(),
        backend: "flex".into(),
        ..Default::default()
    };
    Session::open(reg, &req).expect("session")
}

/// Runs a session; returns the report and the names of jobs that ran.
pub fn run(reg: &Registry, s: &Session) -> (RunReport, Vec<String>) {
    run_with(reg, s, 2, false)
}

/// Runs a session with `jobs` workers.
pub fn run_with(
    reg: &Registry,
    s: &Session,
    jobs: usize,
    keep_going: bool,
) -> (RunReport, Vec<String>) {
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let cancel = AtomicBool::new(false);
    let report = execute(
        &s.plan,
        reg,
        &cache,
        &RunOptions {
            jobs,
            threads: 2,
            keep_going,
        },
        &cancel,
        &ProgressView::hidden(s.plan.jobs.len()),
    )
    .expect("execute");
    let ran = s
        .plan
        .jobs
        .iter()
        .zip(&report.outcomes)
        .filter(|(_, o)| **o == Outcome::Ran)
        .map(|(j, _)| j.stage.name.clone())
        .collect();
    (report, ran)
}

/// The `value` of a job's `out` output.
pub fn value(s: &Session, report: &RunReport, stage: &str) -> i64 {
    let j = s.plan.index[&(0, stage.to_string())];
    let rec = report.records[j].as_ref().expect("record");
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let bytes = cache
        .read_object(&rec.outputs["out"].digest)
        .expect("object");
    serde_json::from_slice::<serde_json::Value>(&bytes).expect("json")["value"]
        .as_i64()
        .expect("int")
}

/// A three-stage chain a → b → c plus an independent d.
pub const CHAIN: &str = r#"
[experiment]
name = "chain"
seed = 1

[stages.a]
kind = "source"
n = 3

[stages.b]
kind = "double"
inputs = { x = "a.out" }

[stages.c]
kind = "double"
offset = 1
inputs = { x = "b.out" }

[stages.d]
kind = "source"
n = 10
"#;
