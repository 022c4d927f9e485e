//! Hostile input to real stage kinds and to the engine's boundaries (issue 13, holes 2, 4–7, 12):
//! each is refused with a message that names what is wrong, never cached, never a panic or a hang.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use mexp::engine::cache::Cache;
use mexp::engine::executor::{Outcome, RunOptions, RunReport, execute};
use mexp::engine::progress::ProgressView;
use mexp::engine::session::{Request, Session};
use ndarray::{Array1, Array2};

fn open(root: &Path, manifest: &str) -> mexp::engine::Result<Session> {
    std::fs::create_dir_all(root.join("experiments")).expect("mkdir");
    let m = root.join("experiments/hostile.toml");
    std::fs::write(&m, manifest).expect("manifest");
    let reg = mexp::stages::registry().expect("registry");
    Session::open(
        &reg,
        &Request {
            manifest: m,
            backend: "flex".into(),
            ..Default::default()
        },
    )
}

fn run(s: &Session) -> RunReport {
    let reg = mexp::stages::registry().expect("registry");
    execute(
        &s.plan,
        &reg,
        &Cache::open(&s.cache_dir).expect("cache"),
        &RunOptions {
            jobs: 1,
            threads: 1,
            keep_going: false,
        },
        &AtomicBool::new(false),
        &ProgressView::hidden(s.plan.jobs.len()),
    )
    .expect("execute")
}

const ANCHORS: &str = r#"
[experiment]
name = "hostile"
seed = 1

[stages.anchors]
kind = "anchors"
inputs = { h = "file:data/h.npy", m = "file:data/m.npy" }
"#;

fn curves(root: &Path, poison: Option<f64>) {
    let dir = root.join("experiments/data");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let h = Array1::linspace(1.0, -1.0, 21);
    let mut m = Array2::from_shape_fn((3, 21), |(_, j)| h[j]);
    if let Some(v) = poison {
        m[[1, 7]] = v;
    }
    mexp::io::npy::write_npy(&dir.join("h.npy"), &h).expect("h");
    mexp::io::npy::write_npy(&dir.join("m.npy"), &m).expect("m");
}

#[test]
fn a_non_finite_input_curve_is_refused_with_its_index() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let tmp = tempfile::tempdir().expect("tmp");
        curves(tmp.path(), Some(bad));
        let s = open(tmp.path(), ANCHORS).expect("plan");
        let r = run(&s);
        match &r.outcomes[0] {
            Outcome::Failed(m) => assert!(m.contains("curve 1"), "{bad}: {m}"),
            other => panic!("a curve holding {bad} gave {other:?}"),
        }
        assert!(r.records[0].is_none(), "nothing cached");
    }
    let tmp = tempfile::tempdir().expect("tmp");
    curves(tmp.path(), None);
    let r = run(&open(tmp.path(), ANCHORS).expect("plan"));
    assert_eq!(r.outcomes[0], Outcome::Ran, "finite curves still pass");
}

#[test]
fn a_partition_that_would_inject_a_script_line_is_a_located_manifest_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    curves(tmp.path(), None);
    let manifest = format!("{ANCHORS}resources = {{ partition = \"cpu\\nrm -rf ~\" }}\n");
    let err = open(tmp.path(), &manifest)
        .err()
        .expect("an injected partition must be refused");
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    assert!(
        text.contains("partition") && text.contains("hostile.toml"),
        "{text}"
    );
}
