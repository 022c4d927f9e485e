//! After a run: readable copies of every stage's outputs under `results/<experiment>/<stage>/`
//! (fresh copies, never links to cache objects, each folder replaced atomically), a
//! `summary.md` per experiment (or variant), and for sweeps a summary table with one row per variant.
//!
//! Publishing is incremental: a stage folder is rebuilt only when it does not already show the
//! record exactly (see [`super::published`]), and summaries and tables are written only when their
//! bytes change ([`write_if_changed`]), so a fully cached rerun writes nothing under `results/`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::cache::Cache;
use super::error::{EngineError, Result};
use super::executor::{Outcome, RunReport};
use super::plan::Plan;
use super::record::read_tree;
use super::sweep::Sweep;
use crate::io::csv::csv_row;

/// Writes the results folders and summaries; returns the summary files written.
pub fn publish(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    results: &Path,
    sweep: Option<&Sweep>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (vi, variant) in plan.variants.iter().enumerate() {
        // A variant none of whose stages ran, was cached or failed (all skipped, as after Ctrl-C
        // early in a large sweep) has nothing to report: writing 10⁵ such summaries took > 10 s.
        let all_skipped = variant.experiment.stages.iter().all(|stage| {
            plan.index
                .get(&(vi, stage.name.clone()))
                .is_none_or(|&j| matches!(report.outcomes[j], Outcome::Skipped(_)))
        });
        if all_skipped {
            continue;
        }
        let dir = results.join(variant.namespace());
        remove_debris_of_dead_runs(&dir);
        let mut md = format!("# {}\n\n", variant.namespace());
        if !variant.label.is_empty() {
            let _ = writeln!(md, "Sweep point: {}\n", variant.label);
        }
        md.push_str(
            "| stage | kind | status | key | wall (s) | outputs |\n|---|---|---|---|---:|---|\n",
        );
        for stage in &variant.experiment.stages {
            let Some(&j) = plan.index.get(&(vi, stage.name.clone())) else {
                continue;
            };
            let status = match &report.outcomes[j] {
                Outcome::Cached => "cached".to_string(),
                Outcome::Ran => "run".to_string(),
                Outcome::Failed(_) => "failed".to_string(),
                Outcome::Skipped(_) => "skipped".to_string(),
            };
            let (key, wall, outs) = match &report.records[j] {
                Some(rec) => {
                    let sdir = dir.join(&stage.name);
                    if !super::published::is_current(&sdir, rec) {
                        publish_stage_dir(cache, rec, &sdir)?;
                    }
                    let outs = rec
                        .outputs
                        .values()
                        .map(|o| format!("[{0}]({1}/{0})", o.file, stage.name))
                        .collect::<Vec<_>>()
                        .join(", ");
                    (
                        rec.key[..12].to_string(),
                        format!("{:.2}", rec.wall_seconds),
                        outs,
                    )
                }
                None => ("—".into(), "—".into(), String::new()),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {status} | `{key}` | {wall} | {outs} |",
                stage.name, stage.kind
            );
        }
        // No create_dir_all here: writing creates the folder when needed, and a no-op rerun
        // should not cost one mkdir per variant.
        let path = dir.join("summary.md");
        write_if_changed(&path, md.as_bytes())?;
        written.push(path);
    }
    if let Some(sw) = sweep {
        written.extend(sweep_table(plan, report, cache, results, sw)?);
    }
    Ok(written)
}

/// Replaces `dir` with fresh copies of the record's outputs, atomically: the folder is built
/// aside and renamed into place, so a reader (or a concurrent run publishing the same folder) sees
/// the old folder or the new one, never a partial one. The copies are new files, never links to
/// cache objects, so nothing written under `results/` can reach the cache; each object is
/// re-hashed while it is copied, and one that fails is quarantined, not published. The folder's
/// marker ([`super::published::Marker`]) is written last, before the rename.
fn publish_stage_dir(cache: &Cache, rec: &super::record::Record, dir: &Path) -> Result<()> {
    let staging = aside(dir, "new")?;
    let built = (|| {
        fs::create_dir_all(&staging).map_err(|e| EngineError::io("creating", &staging, e))?;
        let mut files = std::collections::BTreeMap::new();
        for o in rec.outputs.values() {
            if o.dir {
                let tree =
                    read_tree(cache, &o.digest).ok_or_else(|| cache.corrupt_error(&o.digest))?;
                for (rel, (d, size)) in tree {
                    copy_object(cache, &d, &staging.join(&o.file).join(&rel))?;
                    files.insert(format!("{}/{rel}", o.file), size);
                }
            } else {
                copy_object(cache, &o.digest, &staging.join(&o.file))?;
                files.insert(o.file.clone(), o.bytes);
            }
        }
        super::published::Marker::new(rec, files).write(&staging)
    })();
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    replace_with(&staging, dir)
}

/// Removes the `.<name>.mexp-<what>-<pid>-<n>` siblings that a run killed while publishing left
/// in `dir` (only those of processes that no longer exist; Linux, where `/proc` says so).
fn remove_debris_of_dead_runs(dir: &Path) {
    if !cfg!(target_os = "linux") {
        return;
    }
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((_, tail)) = name.split_once(".mexp-") else {
            continue;
        };
        let mut parts = tail.rsplit('-');
        let (Some(_n), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !name.starts_with('.')
            || pid.parse::<u32>().is_err()
            || Path::new("/proc").join(pid).exists()
        {
            continue;
        }
        let p = entry.path();
        let _ = if p.is_dir() && !p.is_symlink() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
    }
}

/// A fresh sibling path of `path` for building or retiring it: `.<name>.mexp-<what>-<pid>-<n>`.
fn aside(path: &Path, what: &str) -> Result<PathBuf> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| EngineError::io("creating", parent, e))?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(parent.join(format!(".{name}.mexp-{what}-{}-{n}", std::process::id())))
}

/// Renames `new` onto `dest`, first moving whatever is at `dest` aside (and deleting it). If other
/// runs keep publishing the same folder meanwhile, theirs is kept and `new` is dropped.
fn replace_with(new: &Path, dest: &Path) -> Result<()> {
    for _ in 0..16 {
        let err = match fs::rename(new, dest) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        // Something is in the way (or was, until another run moved it): move it aside and retry.
        // Any other error (permissions, a full disk) is reported.
        use std::io::ErrorKind::{AlreadyExists, DirectoryNotEmpty, IsADirectory, NotADirectory};
        if !matches!(
            err.kind(),
            DirectoryNotEmpty | AlreadyExists | NotADirectory | IsADirectory
        ) {
            let _ = fs::remove_dir_all(new);
            return Err(EngineError::io("publishing", dest, err));
        }
        let old = aside(dest, "old")?;
        if fs::rename(dest, &old).is_ok() {
            let _ = if old.is_dir() && !old.is_symlink() {
                fs::remove_dir_all(&old)
            } else {
                fs::remove_file(&old)
            };
        }
    }
    let _ = fs::remove_dir_all(new);
    Ok(())
}

/// Copies object `digest` to the new file `dest` (never onto an existing file), re-hashing the
/// bytes on the way: an object that no longer matches its digest is quarantined and the copy fails.
fn copy_object(cache: &Cache, digest: &str, dest: &Path) -> Result<()> {
    use std::io::{Read, Write};
    if let Some(p) = dest.parent() {
        fs::create_dir_all(p).map_err(|e| EngineError::io("creating", p, e))?;
    }
    let src = cache.object_path(digest);
    let mut from = fs::File::open(&src).map_err(|e| EngineError::io("reading", &src, e))?;
    let mut to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| EngineError::io("writing", dest, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(EngineError::io("reading", &src, e)),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])
            .map_err(|e| EngineError::io("writing", dest, e))?;
    }
    if hasher.finalize().to_hex().as_str() != digest {
        let _ = cache.quarantine(digest);
        return Err(cache.corrupt_error(digest));
    }
    Ok(())
}

/// Writes `bytes` to `path` only when the file does not already hold exactly those bytes, atomically
/// (a sibling temp file renamed over it); returns whether it wrote. A rerun that changes nothing
/// thus leaves the file (its inode and times) untouched.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    let same = fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
        && fs::read(path).is_ok_and(|old| old == bytes);
    if same {
        return Ok(false);
    }
    write_replacing(path, bytes)?;
    Ok(true)
}

/// Writes a results file atomically (a sibling temp file renamed over it), so a published file is
/// replaced, never rewritten in place.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = aside(path, "tmp")?;
    fs::write(&tmp, bytes).map_err(|e| {
        // A full disk must not leave the half-written file behind under results/.
        let _ = fs::remove_file(&tmp);
        EngineError::io("writing", &tmp, e)
    })?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        EngineError::io("writing", path, e)
    })
}

/// One value of a sweep report column `<stage>.<output>.<json.key.path>` for variant `vi`.
pub fn report_value(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    vi: usize,
    column: &str,
) -> Option<serde_json::Value> {
    let mut parts = column.split('.');
    let (stage, output) = (parts.next()?, parts.next()?);
    let j = *plan.index.get(&(vi, stage.to_string()))?;
    let rec = report.records[j].as_ref()?;
    let mut v = output_json(cache, rec, output)?;
    for p in parts {
        v = v.get(p)?.clone();
    }
    Some(v)
}

/// A record's output `output` parsed as JSON (re-hashed on the way), if it is JSON.
pub fn output_json(
    cache: &Cache,
    rec: &super::record::Record,
    output: &str,
) -> Option<serde_json::Value> {
    let bytes = cache.read_intact(&rec.outputs.get(output)?.digest).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn sweep_table(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    results: &Path,
    sweep: &Sweep,
) -> Result<Vec<PathBuf>> {
    let exp = &plan.variants[0].experiment.name;
    let dir = results.join(exp);
    let axes = sweep.parameter_names(false);
    let mut header = vec!["variant".to_string()];
    header.extend(axes.iter().cloned());
    header.extend(sweep.report.iter().cloned());
    let mut csv = csv_row(&header);
    let mut md = format!(
        "# Sweep summary: {exp}\n\n| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for (vi, v) in plan.variants.iter().enumerate() {
        let point = &sweep.points[vi];
        let mut row = vec![v.name.clone()];
        row.extend(axes.iter().map(|a| {
            point
                .overrides
                .iter()
                .find(|o| format!("{}.{}", o.stage, o.param) == *a)
                .map_or_else(String::new, |o| super::sweep_groups::cell_value(&o.value))
        }));
        for col in &sweep.report {
            row.push(match report_value(plan, report, cache, vi, col) {
                Some(serde_json::Value::Number(n)) => {
                    n.as_f64().map_or_else(|| n.to_string(), significant)
                }
                Some(serde_json::Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            });
        }
        csv.push_str(&csv_row(&row));
        let _ = writeln!(
            md,
            "| {} |",
            row.iter()
                .map(|c| if c.is_empty() { "—" } else { c.as_str() })
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let (p_csv, p_md) = (dir.join("sweep_summary.csv"), dir.join("sweep_summary.md"));
    write_if_changed(&p_csv, csv.as_bytes())?;
    write_if_changed(&p_md, md.as_bytes())?;
    let mut written = vec![p_csv, p_md];
    if sweep.replicates > 0 {
        let value = |vi: usize, col: &str| {
            report_value(plan, report, cache, vi, col).and_then(|v| v.as_f64())
        };
        let (csv, md) = super::sweep_groups::group_tables(exp, sweep, &value, &significant);
        let (g_csv, g_md) = (dir.join("sweep_groups.csv"), dir.join("sweep_groups.md"));
        write_if_changed(&g_csv, csv.as_bytes())?;
        write_if_changed(&g_md, md.as_bytes())?;
        written.extend([g_csv, g_md]);
    }
    Ok(written)
}

/// A number with 7 significant digits, in the shortest plain form (`1.234568e-7` prints as
/// `0.0000001234568`, not as the `0.000000` of a fixed six decimals).
pub fn significant(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    format!("{f:.6e}")
        .parse::<f64>()
        .map_or_else(|_| f.to_string(), |r| r.to_string())
}
