//! Incremental publishing (issue 17, item 6): a cached rerun writes nothing under `results/` or
//! `cache/refs/`, a changed parameter republishes exactly the stages whose key changed, and a
//! deleted, edited or half-published results folder is restored on the next run.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mexp::engine::results::write_if_changed;

#[path = "support/binary.rs"]
mod binary;
use binary::mexp;

fn run_ok(args: &[&str], cwd: &Path) {
    let out = mexp(args, cwd);
    assert!(
        out.status.success(),
        "mexp {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh project holding `experiments/<name>.toml`.
fn project(name: &str, manifest: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::write(
        tmp.path().join(format!("experiments/{name}.toml")),
        manifest,
    )
    .expect("write manifest");
    (tmp, format!("experiments/{name}.toml"))
}

/// What identifies a file's version on disk: inode, modification and change times (ns), bytes.
type Stamp = (u64, i128, i128, Vec<u8>);

/// Asserts two snapshots are equal, naming the paths that differ (not dumping their bytes).
fn assert_same(now: &BTreeMap<PathBuf, Stamp>, then: &BTreeMap<PathBuf, Stamp>, what: &str) {
    let differ: Vec<_> = now
        .keys()
        .chain(then.keys())
        .filter(|p| now.get(*p) != then.get(*p))
        .collect();
    assert!(differ.is_empty(), "{what}: {differ:?}");
}

/// Every file and folder below `dir` (relative path → stamp; folders with empty bytes).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Stamp> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).expect("metadata");
            // A folder by its inode only: its times move whenever an entry in it does.
            let stamp = if m.is_dir() {
                stack.push(p.clone());
                (m.ino(), 0, 0, Vec::new())
            } else {
                (
                    m.ino(),
                    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                    i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
                    std::fs::read(&p).expect("read"),
                )
            };
            out.insert(p.strip_prefix(dir).expect("under").to_path_buf(), stamp);
        }
    }
    out
}

/// Whether a file reports the run's statuses (run → cached on the first rerun): the summaries and
/// the HTML report pages.
fn is_summary(p: &Path) -> bool {
    p.ends_with("summary.md") || p.ends_with("index.html")
}

fn without_summaries(s: &BTreeMap<PathBuf, Stamp>) -> BTreeMap<PathBuf, Stamp> {
    s.iter()
        .filter(|(p, _)| !is_summary(p))
        .map(|(p, s)| (p.clone(), s.clone()))
        .collect()
}

const SWEEP: &str = r#"
[experiment]
name = "sw"
seed = 3

[stages.g]
kind = "grain_sampling"
count = 2
nx = 8
ny = 8

[stages.t]
kind = "table"
inputs = { s = "g.structures" }

[sweep]
mode = "grid"
"g.count" = [1, 2]
"t.title" = ["a", "b"]
"#;

#[test]
fn cached_rerun_leaves_every_published_file_and_ref_untouched() {
    let (tmp, m) = project("sw", SWEEP);
    let root = tmp.path();
    run_ok(&["run", &m, "-q"], root);
    let (results, refs) = (root.join("results"), root.join("cache/refs"));
    let first = (snapshot(&results), snapshot(&refs));
    assert!(first.0.keys().any(|p| p.ends_with("t/table.csv")));
    assert!(first.1.len() >= 8, "refs of 4 variants × 2 stages");

    // The first cached rerun: summaries change ("run" became "cached"); nothing else may.
    run_ok(&["run", &m, "-q"], root);
    let second = (snapshot(&results), snapshot(&refs));
    assert_same(
        &without_summaries(&second.0),
        &without_summaries(&first.0),
        "results/ written by the first cached rerun",
    );
    assert_same(&second.1, &first.1, "refs rewritten by a cached rerun");

    // Every further cached rerun leaves every file, summaries included, as it was.
    run_ok(&["run", &m, "-q"], root);
    let third = (snapshot(&results), snapshot(&refs));
    assert_same(&third.0, &second.0, "results/ written by a no-op rerun");
    assert_same(&third.1, &second.1, "refs rewritten by a no-op rerun");
}

const CHAIN: &str = r#"
[experiment]
name = "chain"
seed = 5

[stages.g]
kind = "grain_sampling"
count = 3
nx = 8
ny = 8

[stages.t]
kind = "table"
inputs = { s = "g.structures" }
title = "first"
"#;

#[test]
fn changed_parameter_republishes_exactly_the_stages_whose_key_changed() {
    let (tmp, m) = project("chain", CHAIN);
    let root = tmp.path();
    run_ok(&["run", &m, "-q"], root);
    run_ok(&["run", &m, "-q"], root);
    let (results, refs) = (root.join("results/chain"), root.join("cache/refs/chain"));
    let (before, refs_before) = (snapshot(&results), snapshot(&refs));

    run_ok(&["run", &m, "-q", "--set", "t.title=\"second\""], root);
    let (after, refs_after) = (snapshot(&results), snapshot(&refs));
    for (path, stamp) in &before {
        let now = after.get(path);
        if path.starts_with("g") {
            assert!(now == Some(stamp), "{}: g republished", path.display());
        } else if path.starts_with("t") {
            let now = now.unwrap_or_else(|| panic!("{} vanished", path.display()));
            assert_ne!(now.0, stamp.0, "{}: t was not republished", path.display());
        }
    }
    assert!(
        after[Path::new("t/table.md")]
            .3
            .windows(6)
            .any(|w| w == b"second"),
        "t's folder shows the new title"
    );
    let g_ref = Path::new("g.json");
    let t_ref = Path::new("t.json");
    assert!(refs_after[g_ref] == refs_before[g_ref], "g's ref rewritten");
    assert!(
        refs_after[t_ref].3 != refs_before[t_ref].3,
        "t's ref not moved"
    );
}

#[test]
fn deleted_edited_or_half_published_results_are_restored() {
    let (tmp, m) = project("chain", CHAIN);
    let root = tmp.path();
    run_ok(&["run", &m, "-q"], root);
    let results = root.join("results");
    let clean: BTreeMap<PathBuf, Vec<u8>> = snapshot(&results)
        .into_iter()
        .filter(|(p, _)| !is_summary(p))
        .map(|(p, s)| (p, s.3))
        .collect();
    let restored = |what: &str| {
        run_ok(&["run", &m, "-q"], root);
        let now: BTreeMap<PathBuf, Vec<u8>> = snapshot(&results)
            .into_iter()
            .filter(|(p, _)| !is_summary(p))
            .map(|(p, s)| (p, s.3))
            .collect();
        let differ: Vec<_> = now
            .keys()
            .chain(clean.keys())
            .filter(|p| now.get(*p) != clean.get(*p))
            .collect();
        assert!(differ.is_empty(), "{what}: not restored: {differ:?}");
    };

    std::fs::remove_dir_all(&results).expect("rm results");
    restored("results/ deleted");

    let csv = results.join("chain/t/table.csv");
    let mut edited = std::fs::read(&csv).expect("read");
    edited.extend_from_slice(b"tampered,1\n");
    std::fs::write(&csv, edited).expect("tamper");
    restored("a file edited");

    std::fs::remove_file(&csv).expect("rm file");
    restored("a file deleted");

    std::fs::write(results.join("chain/t/stray.txt"), b"x").expect("stray");
    restored("a file added");

    // A folder without its marker (as a copy made by hand, or an older mexp left it) is not
    // trusted, even when every file in it is right.
    std::fs::remove_file(results.join("chain/g/.mexp-published")).expect("rm marker");
    restored("marker missing");

    std::fs::write(results.join("chain/g/.mexp-published"), b"{\"key\":").expect("marker");
    restored("marker truncated");
}

#[test]
fn write_if_changed_writes_only_new_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("sub/index.html");
    assert!(write_if_changed(&path, b"one").expect("first write"));
    let ino = std::fs::metadata(&path).expect("meta").ino();
    assert!(!write_if_changed(&path, b"one").expect("same bytes"));
    assert_eq!(std::fs::metadata(&path).expect("meta").ino(), ino);
    assert!(write_if_changed(&path, b"two").expect("new bytes"));
    assert_eq!(std::fs::read(&path).expect("read"), b"two");
    assert!(write_if_changed(&path, b"tw0").expect("same length, other bytes"));
    assert_eq!(std::fs::read(&path).expect("read"), b"tw0");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("sub"))
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temp files left behind: {leftovers:?}");
}
