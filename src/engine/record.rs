//! Run records: what a completed stage produced and how, stored beside its outputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cache::{Cache, Digest, is_digest};
use super::error::{EngineError, Result};
use super::key::KeyManifest;

/// Version of the record JSON schema.
pub const RECORD_FORMAT: u32 = 1;

/// One output of a completed stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputEntry {
    /// Digest of the file, or of the tree listing for a directory output.
    pub digest: Digest,
    /// File (or folder) name from the catalogue.
    pub file: String,
    /// Whether this output is a directory (its digest names a tree listing object).
    #[serde(default)]
    pub dir: bool,
    /// Size in bytes of the object (the tree listing for directories).
    pub bytes: u64,
}

/// A directory output: relative path → (digest, size).
pub type Tree = BTreeMap<String, (Digest, u64)>;

/// The record of a completed stage run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Record schema version.
    pub format: u32,
    /// The stage key.
    pub key: String,
    /// Everything the key was computed from.
    pub key_manifest: KeyManifest,
    /// Stage name in the experiment that first produced it.
    pub stage: String,
    /// Experiment name.
    pub experiment: String,
    /// Outputs by name.
    pub outputs: BTreeMap<String, OutputEntry>,
    /// Digest of the stage's log (an object).
    pub log: Option<Digest>,
    /// Start time, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Wall time of the stage in seconds.
    pub wall_seconds: f64,
    /// Threads the stage's pool had.
    pub threads: usize,
    /// mexp version that ran it.
    pub mexp_version: String,
}

impl Record {
    /// Loads the record of `key`, if there is a readable, well-formed one: a record of another
    /// key, or one whose digests are not digests (truncated, tampered), reads as absent.
    pub fn load(cache: &Cache, key: &str) -> Option<Record> {
        let bytes = std::fs::read(cache.record_path(key)).ok()?;
        let rec: Record = serde_json::from_slice(&bytes).ok()?;
        rec.well_formed(key).then_some(rec)
    }

    /// Whether the record is of `key` and every digest and file name in it has a valid shape.
    fn well_formed(&self, key: &str) -> bool {
        self.key == key
            && is_digest(&self.key)
            && self.log.as_deref().is_none_or(is_digest)
            && self
                .outputs
                .values()
                .all(|o| is_digest(&o.digest) && is_safe_relative(&o.file))
    }

    /// Publishes the record atomically.
    pub fn store(&self, cache: &Cache) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| EngineError::Corrupt {
            path: cache.record_path(&self.key),
            message: e.to_string(),
        })?;
        cache.write_atomic(&cache.record_path(&self.key), &bytes)
    }

    /// Names of outputs whose objects are missing, have the wrong size or no longer hash to
    /// their digest (such an object is quarantined: see [`Cache::has_intact_object`]; each
    /// object is re-hashed once per process). Directory outputs check their listing and every
    /// file in it.
    pub fn missing_outputs(&self, cache: &Cache) -> Vec<String> {
        self.outputs
            .iter()
            .filter(|(_, o)| {
                if !cache.has_intact_object(&o.digest, Some(o.bytes)) {
                    return true;
                }
                o.dir
                    && read_tree(cache, &o.digest).is_none_or(|t| {
                        t.values()
                            .any(|(d, b)| !cache.has_intact_object(d, Some(*b)))
                    })
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Every object this record references (outputs, tree members, log).
    pub fn objects(&self, cache: &Cache) -> Vec<Digest> {
        let mut v: Vec<Digest> = self.log.iter().cloned().collect();
        for o in self.outputs.values() {
            v.push(o.digest.clone());
            if o.dir
                && let Some(t) = read_tree(cache, &o.digest)
            {
                v.extend(t.into_values().map(|(d, _)| d));
            }
        }
        v
    }
}

/// Reads a tree listing object: `None` unless its bytes hash to `digest`, every member's digest
/// is a digest and every member's name is a safe relative path (see [`is_safe_relative`]), so a
/// tampered listing can neither point outside the folder it is published into nor panic.
pub fn read_tree(cache: &Cache, digest: &str) -> Option<Tree> {
    let bytes = cache.read_object(digest).ok()?;
    if blake3::hash(&bytes).to_hex().as_str() != digest {
        return None;
    }
    let tree: Tree = serde_json::from_slice(&bytes).ok()?;
    tree.iter()
        .all(|(rel, (d, _))| is_digest(d) && is_safe_relative(rel))
        .then_some(tree)
}

/// Whether `rel` is a non-empty relative path of plain names (`a/b.bin`): no root, no `..`,
/// no `.`, no empty component, no NUL, each name at most 255 bytes.
pub fn is_safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains('\0')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && c.len() <= 255)
}

/// Pointer from (experiment, stage) to the key of its last run, for explaining reruns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRef {
    /// Key of the last completed run.
    pub key: String,
}

impl StageRef {
    /// The last run of a stage, if any.
    pub fn load(cache: &Cache, experiment: &str, stage: &str) -> Option<StageRef> {
        serde_json::from_slice(&std::fs::read(cache.ref_path(experiment, stage)).ok()?).ok()
    }

    /// Points the stage at `key`.
    pub fn store(cache: &Cache, experiment: &str, stage: &str, key: &str) -> Result<()> {
        let r = StageRef {
            key: key.to_string(),
        };
        let bytes = serde_json::to_vec(&r).map_err(|e| EngineError::Usage(e.to_string()))?;
        cache.write_atomic(&cache.ref_path(experiment, stage), &bytes)
    }
}
