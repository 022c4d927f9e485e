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

/// Opens the session on another thread: `Err` if it does not answer within `secs`.
fn open_within(root: &Path, manifest: String, secs: u64) -> Result<mexp::engine::Result<()>, ()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(open(&root, &manifest).map(|_| ()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .map_err(|_| ())
}

#[test]
fn a_fifo_or_a_device_as_a_file_input_is_refused_not_read_forever() {
    let tmp = tempfile::tempdir().expect("tmp");
    curves(tmp.path(), None);
    let fifo = tmp.path().join("experiments/data/fifo.npy");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for special in [fifo.display().to_string(), "/dev/zero".to_string()] {
        let manifest = ANCHORS.replace("file:data/m.npy", &format!("file:{special}"));
        match open_within(tmp.path(), manifest, 10) {
            Err(()) => panic!("plan still hangs on {special} after 10 s"),
            Ok(Ok(())) => panic!("{special} accepted as an input"),
            Ok(Err(e)) => {
                assert_eq!(e.exit_code(), 2);
                assert!(e.to_string().contains("not a regular file"), "{e}");
            }
        }
    }
}

#[test]
fn large_files_are_hashed_by_reading_with_the_same_digest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = tmp.path().join("big.bin");
    let bytes: Vec<u8> = (0..(5usize << 20) + 12345)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(&p, &bytes).expect("write");
    assert_eq!(
        mexp::engine::cache::hash_file(&p).expect("hash"),
        blake3::hash(&bytes).to_hex().to_string()
    );
}

const CHAINLESS: &str = r#"
[experiment]
name = "hostile"
seed = 1

[stages.grains]
kind = "grain_sampling"
count = 4
"#;

#[test]
fn sweeps_beyond_the_cap_are_located_errors_at_plan_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    for (sweep, what) in [
        (
            "mode = \"lhs\"\nn = 9223372036854775807\n\"grains.count\" = { min = 1, max = 9, int = true }\n",
            "9223372036854775807",
        ),
        (
            "mode = \"random\"\nn = 1000000000\n\"grains.count\" = [1, 2]\n",
            "1000000000",
        ),
        ("(a 2000 × 2000 × 2000 grid, below)", ""),
    ] {
        let manifest = format!("{CHAINLESS}\n[sweep]\n{sweep}");
        let big = (0..2000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let manifest = if what.is_empty() {
            // 2000³ = 8·10⁹ points: refused before anything is expanded.
            format!(
                "{CHAINLESS}\n[sweep]\nmode = \"grid\"\n\"grains.count\" = [{big}]\n\"grains.nx\" = [{big}]\n\"grains.ny\" = [{big}]\n"
            )
        } else {
            manifest
        };
        let t0 = std::time::Instant::now();
        let err = open(tmp.path(), &manifest)
            .err()
            .expect("a sweep over the cap");
        assert!(t0.elapsed().as_secs() < 10, "took {:?}", t0.elapsed());
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("100000") && text.contains("hostile.toml:") && text.contains(what),
            "{text}"
        );
    }
}

#[test]
fn non_finite_and_huge_values_are_described_not_echoed() {
    let tmp = tempfile::tempdir().expect("tmp");
    for bad in ["nan", "inf", "-inf"] {
        let manifest = format!("{CHAINLESS}cell_size_nm = {bad}\n");
        let err = open(tmp.path(), &manifest)
            .err()
            .expect("a non-finite float");
        let text = err.to_string();
        assert!(
            text.contains("non-finite") && !text.contains("found float"),
            "{text}"
        );
    }
    let huge = "x".repeat(200_000);
    let manifest = format!("{CHAINLESS}preview = \"{huge}\"\n");
    let err = open(tmp.path(), &manifest)
        .err()
        .expect("a string for an int");
    let text = err.to_string();
    assert!(
        text.contains("200000 characters"),
        "{}",
        &text[..text.len().min(400)]
    );
}

#[test]
fn a_huge_offending_line_is_shown_as_a_window() {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = "k".repeat(1_000_000);
    let manifest = format!("{CHAINLESS}{key} = 1\n");
    let err = open(tmp.path(), &manifest)
        .err()
        .expect("an unknown parameter");
    let text = err.to_string();
    assert!(
        text.len() < 10_000,
        "a 1 MB key gave a {}-byte message",
        text.len()
    );
    assert!(
        text.contains("hostile.toml:9:1"),
        "{}",
        &text[..text.len().min(600)]
    );
}
