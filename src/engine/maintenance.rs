//! Cache maintenance: `verify` (re-hash every object, quarantine the corrupt ones) and `gc`
//! (mark-and-sweep from the manifests the user names, dry-run first).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::path::Path;

use rayon::prelude::*;

use super::cache::{Cache, read_dir_sorted, remove_any};
use super::error::{EngineError, Result};
use super::plan::{PlanState, statuses};
use super::record::Record;

/// What `verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Objects checked.
    pub objects: usize,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Digests whose content no longer matched (now in `corrupt/`).
    pub corrupt: Vec<String>,
    /// Records that are unreadable, malformed or reference objects that are missing (their stages
    /// will rerun).
    pub incomplete_records: Vec<String>,
    /// Debris removed: staging leftovers in `tmp/`, shard folders of completed stages, unusable
    /// shard pointers and files where shard folders belong.
    pub debris_removed: usize,
    /// Whether debris was left alone because a run was using the cache.
    pub debris_skipped: bool,
}

impl VerifyReport {
    /// Whether the cache was found intact: no corrupt object, no incomplete record (debris, which
    /// verify removes and no run trusts, does not count).
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.incomplete_records.is_empty()
    }
}

/// Re-hashes every object and moves corrupt ones aside so they are recomputed, never used; checks
/// every record; and, when no run is using the cache, removes debris that killed runs leave.
pub fn verify(cache: &Cache) -> Result<VerifyReport> {
    let objects = cache.list_objects()?;
    let checked: Vec<(String, u64, bool)> = objects
        .par_iter()
        .map(|d| {
            let bytes = fs::metadata(cache.object_path(d))
                .map(|m| m.len())
                .unwrap_or(0);
            (d.clone(), bytes, cache.verify_object(d).unwrap_or(false))
        })
        .collect();
    let mut report = VerifyReport {
        objects: checked.len(),
        ..Default::default()
    };
    for (d, bytes, ok) in checked {
        report.bytes += bytes;
        if !ok {
            cache.quarantine(&d)?;
            report.corrupt.push(d);
        }
    }
    let mut complete = BTreeSet::new();
    for key in cache.list_records()? {
        match Record::load(cache, &key) {
            Some(rec) if rec.missing_outputs(cache).is_empty() => {
                complete.insert(key);
            }
            _ => report.incomplete_records.push(key),
        }
    }
    let guard = guard_file(cache)?;
    if guard.try_lock().is_ok() {
        report.debris_removed = remove_debris(cache, &complete)?;
    } else {
        report.debris_skipped = true;
    }
    Ok(report)
}

/// Removes what no run trusts and no run can resume from: everything in `tmp/`, the shard folders
/// of completed stages, and, in the others, shard pointers that do not hold a digest and files
/// where folders belong. Only called while no run holds the cache.
fn remove_debris(cache: &Cache, complete: &BTreeSet<String>) -> Result<usize> {
    let mut n = 0;
    for p in read_dir_sorted(&cache.root().join("tmp"))? {
        remove_any(&p)?;
        n += 1;
    }
    for dir in read_dir_sorted(&cache.root().join("shards"))? {
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !dir.is_dir() || complete.contains(&name) {
            remove_any(&dir)?;
            n += 1;
            continue;
        }
        for entry in read_dir_sorted(&dir)? {
            let file = entry
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let debris = if file == "resume" {
                !entry.is_dir()
            } else {
                file.parse::<usize>().is_ok() && Cache::read_pointer(&entry).is_none()
            };
            if debris {
                remove_any(&entry)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// What `gc` removed (or would remove with `dry_run`).
#[derive(Debug, Default)]
pub struct GcReport {
    /// Records kept (reachable from the named manifests).
    pub kept_records: usize,
    /// Records removed.
    pub removed_records: usize,
    /// Objects removed.
    pub removed_objects: usize,
    /// Bytes freed.
    pub freed_bytes: u64,
    /// Shard folders kept because a kept manifest can resume from them.
    pub kept_shards: usize,
    /// History entries (`<namespace>/<stage> <key>`) dropped because their records went.
    pub pruned_history: Vec<String>,
}

/// A shared lock every run holds, and `gc` takes exclusively: gc never sweeps under a running run.
pub struct RunGuard {
    _file: File,
}

fn guard_file(cache: &Cache) -> Result<File> {
    let p = cache.root().join("locks").join("gc.lock");
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| EngineError::io("opening", &p, e))
}

impl RunGuard {
    /// Taken by every run for its duration.
    pub fn shared(cache: &Cache) -> Result<RunGuard> {
        let f = guard_file(cache)?;
        f.lock_shared()
            .map_err(|e| EngineError::io("locking", cache.root(), e))?;
        Ok(RunGuard { _file: f })
    }
}

/// Mark-and-sweep: keeps the records of the current plans of the given sessions (all their cached
/// jobs) and every object they reference, and the shards of their jobs still to run (resumable
/// work); removes everything else, including staging leftovers.
pub fn gc(cache: &Cache, roots: &[&super::session::Session], dry_run: bool) -> Result<GcReport> {
    let guard = guard_file(cache)?;
    if !dry_run && guard.try_lock().is_err() {
        return Err(EngineError::Usage(
            "a `mexp run` is using this cache; run gc when it has finished".into(),
        ));
    }
    let mut keep_records = BTreeSet::new();
    let mut keep_objects = BTreeSet::new();
    // Shards of jobs a kept manifest would run next (their key is known): an interrupted
    // training's checkpoints and the finished items of an interrupted fan-out, so a rerun resumes.
    let mut keep_shards = BTreeSet::new();
    for s in roots {
        for st in statuses(&s.plan, cache) {
            match (st.state, st.record, st.key) {
                (PlanState::Cached, Some(rec), _) => {
                    keep_objects.extend(rec.objects(cache));
                    keep_records.insert(rec.key.clone());
                }
                (PlanState::Run, _, Some(key)) => {
                    keep_shards.insert(key);
                }
                _ => {}
            }
        }
    }
    for key in &keep_shards {
        for p in read_dir_sorted(&cache.shard_dir(key))? {
            if let Some(d) = Cache::read_pointer(&p) {
                keep_objects.insert(d);
            }
        }
    }
    let mut report = GcReport {
        kept_records: keep_records.len(),
        ..Default::default()
    };
    for key in cache.list_records()? {
        if !keep_records.contains(&key) {
            report.removed_records += 1;
            remove(&cache.record_path(&key), dry_run, &mut report.freed_bytes)?;
        }
    }
    for d in cache.list_objects()? {
        if !keep_objects.contains(&d) {
            report.removed_objects += 1;
            remove(&cache.object_path(&d), dry_run, &mut report.freed_bytes)?;
        }
    }
    for p in read_dir_sorted(&cache.root().join("shards"))? {
        let key = p.file_name().map(|s| s.to_string_lossy().into_owned());
        if key.is_some_and(|k| keep_shards.contains(&k)) {
            report.kept_shards += 1;
        } else {
            remove(&p, dry_run, &mut report.freed_bytes)?;
        }
    }
    report.pruned_history = super::history::prune(cache, &keep_records, dry_run)?;
    for sub in ["tmp", "corrupt"] {
        for p in read_dir_sorted(&cache.root().join(sub))? {
            remove(&p, dry_run, &mut report.freed_bytes)?;
        }
    }
    Ok(report)
}

fn remove(p: &Path, dry_run: bool, freed: &mut u64) -> Result<()> {
    *freed += du(p);
    if dry_run {
        return Ok(());
    }
    let r = if p.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    };
    r.map_err(|e| EngineError::io("removing", p, e))
}

fn du(p: &Path) -> u64 {
    if p.is_dir() {
        read_dir_sorted(p)
            .unwrap_or_default()
            .iter()
            .map(|c| du(c))
            .sum()
    } else {
        fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}

/// Human-readable byte counts.
pub fn human_bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}
