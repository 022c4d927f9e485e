//! The marker that makes publishing incremental: every results folder of a stage carries a small
//! `.mexp-published` file naming the record it shows (key, output digests) and listing the files
//! published with their sizes. A rerun whose record matches the marker, and whose folder still
//! holds exactly those files untouched since, leaves the folder alone; anything else (a deleted or
//! edited file, an extra file, another record, a missing or unreadable marker) rebuilds it.
//!
//! The marker is written last into the folder while it is built aside, and the folder is renamed
//! into place whole, so a marker is only ever seen inside a completely published folder. Its bytes
//! depend on the record alone (no times, no inode numbers), so two runs of the same record publish
//! byte-identical folders. "Untouched since" is the files' change times (`ctime`, which `touch`
//! cannot set back) being no later than the marker's: every edit of a published file after the
//! marker was written moves the file's change time past it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{EngineError, Result};
use super::record::{OutputEntry, Record};

/// File name of the marker inside a published stage folder.
pub const MARKER: &str = ".mexp-published";

/// What a published stage folder shows.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Marker {
    /// Key of the record shown.
    pub key: String,
    /// The record's outputs (names, files and digests).
    pub outputs: BTreeMap<String, OutputEntry>,
    /// Every file published, relative to the folder → its size in bytes.
    pub files: BTreeMap<String, u64>,
}

impl Marker {
    /// The marker of `rec` for a folder holding `files`.
    pub fn new(rec: &Record, files: BTreeMap<String, u64>) -> Marker {
        Marker {
            key: rec.key.clone(),
            outputs: rec.outputs.clone(),
            files,
        }
    }

    /// Writes the marker into `dir` (the folder being built, before it is renamed into place).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MARKER);
        let bytes = serde_json::to_vec(self).map_err(|e| EngineError::Usage(e.to_string()))?;
        fs::write(&path, bytes).map_err(|e| EngineError::io("writing", &path, e))
    }
}

/// Whether `dir` already shows `rec` exactly: its marker names the record's key and outputs, and
/// the folder holds the marker's files, at their sizes, none changed after the marker, and
/// nothing else. Any doubt (unreadable marker, a file missing, edited or added) answers `false`.
pub fn is_current(dir: &Path, rec: &Record) -> bool {
    let path = dir.join(MARKER);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return false;
    };
    let Some(marker) = fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())
    else {
        return false;
    };
    if marker.key != rec.key || marker.outputs != rec.outputs {
        return false;
    }
    let stamp = change_time(&meta);
    let mut found = BTreeMap::new();
    if !walk(dir, dir, stamp, &mut found) {
        return false;
    }
    found == marker.files
}

/// Collects the regular files below `dir` (relative path → size), except the marker; `false` if
/// anything is not a plain file or folder, is unreadable or changed after `stamp`.
fn walk(root: &Path, dir: &Path, stamp: (i64, i64), found: &mut BTreeMap<String, u64>) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries {
        let Ok(entry) = entry else {
            return false;
        };
        let p = entry.path();
        let Ok(meta) = fs::symlink_metadata(&p) else {
            return false;
        };
        if meta.is_dir() {
            if !walk(root, &p, stamp, found) {
                return false;
            }
            continue;
        }
        let Ok(rel) = p.strip_prefix(root) else {
            return false;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel == MARKER {
            continue;
        }
        if !meta.is_file() || change_time(&meta) > stamp {
            return false;
        }
        found.insert(rel, meta.len());
    }
    true
}

/// The change time of a file (seconds, nanoseconds): `ctime` on Unix, which no user call sets
/// back; the modification time elsewhere.
#[cfg(unix)]
fn change_time(meta: &fs::Metadata) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (meta.ctime(), meta.ctime_nsec())
}

/// The change time of a file (seconds, nanoseconds): `ctime` on Unix, which no user call sets
/// back; the modification time elsewhere.
#[cfg(not(unix))]
fn change_time(meta: &fs::Metadata) -> (i64, i64) {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or((i64::MAX, 0), |d| {
            (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                i64::from(d.subsec_nanos()),
            )
        })
}
