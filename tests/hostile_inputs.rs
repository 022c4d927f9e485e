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

/// `open` with `--set` overrides.
fn open_with_sets(root: &Path, manifest: &str, sets: &[&str]) -> mexp::engine::Result<Session> {
    std::fs::create_dir_all(root.join("experiments")).expect("mkdir");
    let m = root.join("experiments/hostile.toml");
    std::fs::write(&m, manifest).expect("manifest");
    let reg = mexp::stages::registry().expect("registry");
    Session::open(
        &reg,
        &Request {
            manifest: m,
            sets: sets.iter().map(|s| s.to_string()).collect(),
            backend: "flex".into(),
            ..Default::default()
        },
    )
}

// ---- hole 12: absurd sizes and names are refused at plan time, located ----

#[test]
fn absurd_sizes_are_refused_at_plan_time_by_catalogue_bounds() {
    let tmp = tempfile::tempdir().expect("tmp");
    for set in [
        "grains.nx=2147483648",
        "grains.ny=100000",
        "grains.count=9223372036854775807",
    ] {
        let err = open_with_sets(tmp.path(), CHAINLESS, &[set])
            .err()
            .unwrap_or_else(|| panic!("--set {set} must be refused"));
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("is outside [1, ") && text.contains("--set"),
            "{set}: {text}"
        );
    }
    let err = open(tmp.path(), &format!("{CHAINLESS}nx = 2147483648\n"))
        .err()
        .expect("a manifest value beyond the bound");
    let text = err.to_string();
    assert!(
        text.contains("is outside [1, 4096]") && text.contains("hostile.toml:9:"),
        "{text}"
    );
}

#[test]
fn a_grid_sweep_of_a_billion_points_is_refused_quickly() {
    // 40000 × 32000 = 1.28·10⁹ points.
    let list = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let manifest = format!(
        "{CHAINLESS}\n[sweep]\nmode = \"grid\"\n\"grains.count\" = [{}]\n\"grains.preview\" = [{}]\n",
        list(40000),
        list(32000)
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let t0 = std::time::Instant::now();
    let err = open(tmp.path(), &manifest).err().expect("refused");
    assert!(t0.elapsed().as_secs() < 10, "took {:?}", t0.elapsed());
    let text = err.to_string();
    assert!(
        text.contains("more than 100000") && text.contains("hostile.toml:"),
        "{}",
        &text[..text.len().min(600)]
    );
}

#[test]
fn names_longer_than_a_folder_name_can_be_are_refused_at_plan_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    let long = "n".repeat(300);
    let stage = CHAINLESS.replace("[stages.grains]", &format!("[stages.{long}]"));
    let experiment = CHAINLESS.replace("name = \"hostile\"", &format!("name = \"{long}\""));
    for manifest in [stage, experiment] {
        let err = open(tmp.path(), &manifest).err().expect("a 300-byte name");
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("at most 128 characters") && text.contains("hostile.toml:"),
            "{text}"
        );
    }
}

#[test]
fn an_easy_axis_component_outside_minus_one_one_is_refused_not_clamped() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("experiments/data");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut img = Array2::<f64>::from_elem((4, 4), 0.5);
    img[[2, 3]] = 5.0;
    mexp::io::npy::write_npy(&dir.join("img.npy"), &img).expect("img");
    let manifest = "[experiment]\nname = \"hostile\"\nseed = 1\n\n[stages.solve]\n\
                    kind = \"solve_structure\"\ninputs = { image = \"file:data/img.npy\" }\n";
    let r = run(&open(tmp.path(), manifest).expect("plan"));
    match &r.outcomes[0] {
        Outcome::Failed(m) => {
            assert!(m.contains("[-1, 1]") && m.contains("row 2, col 3"), "{m}")
        }
        other => panic!("easy_axis_x = 5.0 gave {other:?}"),
    }
}

// ---- hole 13: messages that name what the user can fix ----

#[test]
fn a_malformed_file_input_is_named_by_the_users_path_not_the_cache_object() {
    let tmp = tempfile::tempdir().expect("tmp");
    curves(tmp.path(), None);
    let m = tmp.path().join("experiments/data/m.npy");
    let mut bytes = std::fs::read(&m).expect("m");
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&m, bytes).expect("truncate");
    let r = run(&open(tmp.path(), ANCHORS).expect("plan"));
    match &r.outcomes[0] {
        Outcome::Failed(msg) => {
            let first = msg.lines().next().unwrap_or("");
            assert!(first.contains("data/m.npy"), "{msg}");
            assert!(!first.contains("objects/"), "names the cache object: {msg}");
        }
        other => panic!("a truncated .npy gave {other:?}"),
    }
}

#[test]
fn a_manifest_that_is_not_utf8_gets_its_position() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    let m = tmp.path().join("experiments/hostile.toml");
    let mut bytes = CHAINLESS.as_bytes().to_vec();
    let at = bytes.len();
    bytes.extend_from_slice(b"preview = 3 # caf\xe9\n");
    std::fs::write(&m, &bytes).expect("manifest");
    let reg = mexp::stages::registry().expect("registry");
    let err = Session::open(
        &reg,
        &Request {
            manifest: m,
            backend: "flex".into(),
            ..Default::default()
        },
    )
    .err()
    .expect("not UTF-8");
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    let offset = at + "preview = 3 # caf".len();
    assert!(
        text.contains(&format!("byte offset {offset}")) && text.contains("hostile.toml:9:18"),
        "{text}"
    );
}

#[test]
fn an_integer_overflow_in_set_is_reported_as_out_of_range() {
    let tmp = tempfile::tempdir().expect("tmp");
    for set in [
        "grains.count=9223372036854775808",
        "grains.count=-99999999999999999999",
    ] {
        let err = open_with_sets(tmp.path(), CHAINLESS, &[set])
            .err()
            .expect("overflow");
        let text = err.to_string();
        assert!(
            text.contains("out of range") && !text.contains("found string"),
            "{text}"
        );
    }
}

#[test]
fn an_empty_sweep_is_a_located_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    for (sweep, what) in [
        ("mode = \"list\"\npoints = []\n", "the sweep has no points"),
        (
            "mode = \"grid\"\n\"grains.count\" = []\n",
            "non-empty array",
        ),
    ] {
        let manifest = format!("{CHAINLESS}\n[sweep]\n{sweep}");
        let err = open(tmp.path(), &manifest).err().expect("no points");
        let text = err.to_string();
        assert!(
            text.contains(what) && text.contains("hostile.toml:1"),
            "{text}"
        );
    }
}
