//! The history of a stage's results: `history/<namespace>/<stage>.jsonl` in the cache (beside
//! `refs/`, which keeps one ref per file), one JSON line per
//! change of the stage's ref (`{"key": …, "unix": …}`), appended when a run points the ref at a
//! different key, oldest first. `mexp log` reads it newest first and explains each change by
//! diffing the key manifests of consecutive records; `mexp gc` prunes the entries whose records
//! it removes.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::cache::{Cache, is_digest, read_dir_sorted};
use super::error::{EngineError, Result};
use super::reason::RerunReason;
use super::record::{Record, StageRef};

/// Folder of the histories in the cache.
const DIR: &str = "history";
/// Suffix of history files.
const SUFFIX: &str = ".jsonl";

/// One change of a stage's ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The key the ref pointed at from then on.
    pub key: String,
    /// When, in seconds since the Unix epoch.
    pub unix: u64,
}

/// Path of the history of a stage of a namespace (`<experiment>` or `<experiment>/<variant>`).
pub fn history_path(cache: &Cache, namespace: &str, stage: &str) -> PathBuf {
    cache
        .root()
        .join(DIR)
        .join(namespace)
        .join(format!("{stage}{SUFFIX}"))
}

/// Appends `key` to the stage's history when the ref does not already point at it. A history
/// that does not exist yet, behind a ref that does (a cache older than histories), starts with
/// the ref's key, dated by its record. Call before the ref itself is moved.
pub fn note_ref_change(cache: &Cache, namespace: &str, stage: &str, key: &str) -> Result<()> {
    let old = StageRef::load(cache, namespace, stage).map(|r| r.key);
    if old.as_deref() == Some(key) {
        return Ok(());
    }
    let path = history_path(cache, namespace, stage);
    let mut lines = Vec::new();
    if let Some(old) = old.filter(|_| !path.exists()) {
        let unix = Record::load(cache, &old).map_or(0, |r| r.started_unix);
        lines.push(HistoryEntry { key: old, unix });
    }
    lines.push(HistoryEntry {
        key: key.to_string(),
        unix: now_unix(),
    });
    let mut text = String::new();
    for e in &lines {
        let line = serde_json::to_string(e).map_err(|e| EngineError::Usage(e.to_string()))?;
        text.push_str(&line);
        text.push('\n');
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| EngineError::io("creating", dir, e))?;
    }
    // One write in append mode: concurrent appenders interleave whole lines.
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| EngineError::io("writing", &path, e))
}

/// The stage's history, oldest first (unreadable lines, as a torn append leaves, are skipped).
/// Without a history file but with a ref, the ref's key alone (dated by its record).
pub fn load(cache: &Cache, namespace: &str, stage: &str) -> Vec<HistoryEntry> {
    match fs::read_to_string(history_path(cache, namespace, stage)) {
        Ok(text) => parse(&text),
        Err(_) => StageRef::load(cache, namespace, stage)
            .map(|r| {
                let unix = Record::load(cache, &r.key).map_or(0, |rec| rec.started_unix);
                vec![HistoryEntry { key: r.key, unix }]
            })
            .unwrap_or_default(),
    }
}

fn parse(text: &str) -> Vec<HistoryEntry> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<HistoryEntry>(l).ok())
        .filter(|e| is_digest(&e.key))
        .collect()
}

/// Removes, from every history under `history/`, the entries whose key is not in `kept` (records
/// `mexp gc` keeps); returns `<namespace>/<stage> <key>` of each entry removed (or, with
/// `dry_run`, that would be).
pub fn prune(cache: &Cache, kept: &BTreeSet<String>, dry_run: bool) -> Result<Vec<String>> {
    let root = cache.root().join(DIR);
    let mut pruned = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for p in read_dir_sorted(&dir)? {
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Some(stage) = history_stage(&p) else {
                continue;
            };
            let text = fs::read_to_string(&p).map_err(|e| EngineError::io("reading", &p, e))?;
            let entries = parse(&text);
            let (keep, gone): (Vec<_>, Vec<_>) =
                entries.into_iter().partition(|e| kept.contains(&e.key));
            if gone.is_empty() {
                continue;
            }
            let ns = p
                .parent()
                .and_then(|d| d.strip_prefix(&root).ok())
                .map(|d| d.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            pruned.extend(
                gone.iter()
                    .map(|e| format!("{ns}/{stage} {}", &e.key[..12])),
            );
            if !dry_run {
                let mut out = String::new();
                for e in &keep {
                    out.push_str(
                        &serde_json::to_string(e).map_err(|e| EngineError::Usage(e.to_string()))?,
                    );
                    out.push('\n');
                }
                cache.write_atomic(&p, out.as_bytes())?;
            }
        }
    }
    Ok(pruned)
}

/// One entry of `mexp log`: a history entry with its record and why it differs from the one before.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The history entry.
    pub entry: HistoryEntry,
    /// Its record, while the cache has it.
    pub record: Option<Record>,
    /// Differences from the entry before (`None` for the first, or when a record is gone).
    pub reasons: Option<Vec<RerunReason>>,
}

/// The stage's history, newest first, each entry explained against the one before it.
pub fn explain(cache: &Cache, namespace: &str, stage: &str) -> Vec<Explained> {
    let entries = load(cache, namespace, stage);
    let records: Vec<Option<Record>> = entries
        .iter()
        .map(|e| Record::load(cache, &e.key))
        .collect();
    let mut out: Vec<Explained> = entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let reasons = match (i.checked_sub(1).map(|p| &records[p]), &records[i]) {
                (Some(Some(old)), Some(new)) => {
                    Some(new.key_manifest.diff(&old.key_manifest, stage))
                }
                _ => None,
            };
            Explained {
                entry,
                record: records[i].clone(),
                reasons,
            }
        })
        .collect();
    out.reverse();
    out
}

fn history_stage(p: &Path) -> Option<String> {
    let name = p.file_name()?.to_str()?;
    name.strip_suffix(SUFFIX).map(str::to_string)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time (proleptic Gregorian calendar).
pub fn format_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_796_556_507), "2026-12-06 11:28:27 UTC");
    }

    #[test]
    fn history_appends_only_when_the_key_changes_and_prunes_gone_records() {
        let tmp = tempfile::tempdir().expect("tmp");
        let cache = Cache::open(tmp.path()).expect("cache");
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        for key in [&a, &a, &b, &b, &a] {
            note_ref_change(&cache, "exp/v000", "s", key).expect("note");
            StageRef::store(&cache, "exp/v000", "s", key).expect("ref");
        }
        let keys: Vec<String> = load(&cache, "exp/v000", "s")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, vec![a.clone(), b.clone(), a.clone()]);
        let kept: BTreeSet<String> = [b.clone()].into();
        let would = prune(&cache, &kept, true).expect("dry run");
        assert_eq!(would, vec![format!("exp/v000/s {}", &a[..12]); 2]);
        assert_eq!(
            load(&cache, "exp/v000", "s").len(),
            3,
            "a dry run keeps all"
        );
        prune(&cache, &kept, false).expect("prune");
        let left: Vec<String> = load(&cache, "exp/v000", "s")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(left, vec![b]);
    }
}
