//! The content-addressed store.
//!
//! ```text
//! cache/
//!   objects/ab/cdef…     immutable artifacts named by the blake3 of their bytes (read-only files)
//!   records/<key>.json   one record per completed stage run: key manifest, outputs, timings, log
//!   refs/<experiment>/<stage>.json   the key of the last run of that stage (for `plan`'s diffs)
//!   shards/<key>/<i>     digest of item i of a fan-out stage (resume after interruption)
//!   locks/<key>.lock     per-key advisory locks (two runs never compute one key at once)
//!   tmp/                 staging; nothing here is ever trusted
//!   corrupt/             objects that failed verification, moved aside
//! ```
//! Every publication is temp file + fsync + rename, so a crash, `kill -9` or Ctrl-C never leaves a
//! file that a later run trusts: a record is written last, after all its objects exist.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::error::{EngineError, Result};

/// A content digest: lowercase blake3 hex.
pub type Digest = String;

/// Whether `s` has the shape of a digest (64 lowercase hex characters): anything read back from
/// a record, ticket, tree listing or shard pointer is checked with this before it names a path.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Handle on a cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// Objects whose bytes this process has re-hashed and found intact (objects are immutable).
    verified: Arc<Mutex<HashSet<Digest>>>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Cache> {
        for sub in ["objects", "records", "refs", "shards", "locks", "tmp"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| EngineError::io("creating", &p, e))?;
        }
        Ok(Cache {
            root: root.to_path_buf(),
            verified: Arc::default(),
        })
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of an object. A string that is not a digest (see [`is_digest`]) maps to a path
    /// that never holds an object, so tampered metadata reads as "missing", never as a panic.
    pub fn object_path(&self, digest: &str) -> PathBuf {
        if !is_digest(digest) {
            return self.root.join("objects").join("not-a-digest");
        }
        let (a, b) = digest.split_at(2);
        self.root.join("objects").join(a).join(b)
    }

    /// Whether an object exists with that size and its bytes still hash to its name. The first
    /// check of a digest in this process re-hashes the file (blake3 runs at GB/s); an object that
    /// fails is moved to `corrupt/`, so the stage that produced it is recomputed.
    pub fn has_intact_object(&self, digest: &str, bytes: Option<u64>) -> bool {
        if !self.has_object(digest, bytes) {
            return false;
        }
        if self.verified.lock().is_ok_and(|v| v.contains(digest)) {
            return true;
        }
        match self.verify_object(digest) {
            Ok(true) => {
                if let Ok(mut v) = self.verified.lock() {
                    v.insert(digest.to_string());
                }
                true
            }
            Ok(false) => {
                tracing::warn!(digest, "object failed verification; moved to corrupt/");
                let _ = self.quarantine(digest);
                false
            }
            Err(_) => false,
        }
    }

    /// Whether an object exists (and, if `bytes` is given, has that size); a cheap check that
    /// does not read it (see [`Cache::has_intact_object`]).
    pub fn has_object(&self, digest: &str, bytes: Option<u64>) -> bool {
        if !is_digest(digest) {
            return false;
        }
        match fs::metadata(self.object_path(digest)) {
            Ok(m) => m.is_file() && bytes.is_none_or(|b| b == m.len()),
            Err(_) => false,
        }
    }

    /// A fresh private staging directory under `tmp/`.
    pub fn staging_dir(&self, label: &str) -> Result<PathBuf> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = self
            .root
            .join("tmp")
            .join(format!("{label}-{}-{n}", std::process::id()));
        if p.exists() {
            fs::remove_dir_all(&p).map_err(|e| EngineError::io("clearing", &p, e))?;
        }
        fs::create_dir_all(&p).map_err(|e| EngineError::io("creating", &p, e))?;
        Ok(p)
    }

    /// Moves a finished file into the object store; returns its digest and size.
    /// The file is hashed, fsynced and renamed (or dropped if the object already exists).
    pub fn put_file(&self, path: &Path) -> Result<(Digest, u64)> {
        let digest = hash_file(path)?;
        let bytes = fs::metadata(path)
            .map_err(|e| EngineError::io("reading", path, e))?
            .len();
        let dest = self.object_path(&digest);
        if self.has_object(&digest, Some(bytes)) {
            let _ = fs::remove_file(path);
            return Ok((digest, bytes));
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| EngineError::io("creating", parent, e))?;
        }
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| EngineError::io("syncing", path, e))?;
        let mut perms = fs::metadata(path)
            .map_err(|e| EngineError::io("reading", path, e))?
            .permissions();
        perms.set_readonly(true);
        fs::set_permissions(path, perms).map_err(|e| EngineError::io("protecting", path, e))?;
        fs::rename(path, &dest).map_err(|e| EngineError::io("publishing", &dest, e))?;
        sync_dir(dest.parent());
        Ok((digest, bytes))
    }

    /// Stores bytes as an object.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(Digest, u64)> {
        let tmp = self.tmp_file("obj")?;
        fs::write(&tmp, bytes).map_err(|e| EngineError::io("writing", &tmp, e))?;
        self.put_file(&tmp)
    }

    /// Reads an object's bytes.
    pub fn read_object(&self, digest: &str) -> Result<Vec<u8>> {
        let p = self.object_path(digest);
        fs::read(&p).map_err(|e| EngineError::io("reading", &p, e))
    }

    /// Reads an object's bytes and checks that they hash to its name; a corrupt object is
    /// quarantined and reported as [`EngineError::Corrupt`], never returned.
    pub fn read_intact(&self, digest: &str) -> Result<Vec<u8>> {
        let bytes = self.read_object(digest)?;
        if blake3::hash(&bytes).to_hex().as_str() == digest {
            return Ok(bytes);
        }
        let _ = self.quarantine(digest);
        Err(self.corrupt_error(digest))
    }

    /// The error for an object that failed verification (and was moved to `corrupt/`).
    pub fn corrupt_error(&self, digest: &str) -> EngineError {
        EngineError::Corrupt {
            path: self.object_path(digest),
            message: format!(
                "its bytes no longer hash to its name; it was moved to {} and the next run \
                 recomputes it",
                self.root.join("corrupt").display()
            ),
        }
    }

    /// Re-hashes an object; `Ok(false)` when its bytes no longer match its name.
    pub fn verify_object(&self, digest: &str) -> Result<bool> {
        Ok(hash_file(&self.object_path(digest))? == digest)
    }

    /// Moves a corrupt object aside (to `corrupt/`), so it is recomputed and never used again.
    pub fn quarantine(&self, digest: &str) -> Result<()> {
        if let Ok(mut v) = self.verified.lock() {
            v.remove(digest);
        }
        let dir = self.root.join("corrupt");
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        let src = self.object_path(digest);
        let dest = dir.join(digest);
        fs::rename(&src, &dest).map_err(|e| EngineError::io("quarantining", &src, e))
    }

    /// A fresh temp file path under `tmp/`.
    pub fn tmp_file(&self, label: &str) -> Result<PathBuf> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .root
            .join("tmp")
            .join(format!("{label}-{}-{n}", std::process::id())))
    }

    /// Writes `bytes` to `dest` atomically (temp + fsync + rename).
    pub fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| EngineError::io("creating", parent, e))?;
        }
        let tmp = self.tmp_file("atomic")?;
        let mut f = File::create(&tmp).map_err(|e| EngineError::io("writing", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| EngineError::io("writing", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, dest).map_err(|e| EngineError::io("publishing", dest, e))?;
        sync_dir(dest.parent());
        Ok(())
    }

    /// Path of the record of `key`.
    pub fn record_path(&self, key: &str) -> PathBuf {
        self.root.join("records").join(format!("{key}.json"))
    }

    /// Path of the ref of a stage of an experiment.
    pub fn ref_path(&self, experiment: &str, stage: &str) -> PathBuf {
        self.root
            .join("refs")
            .join(experiment)
            .join(format!("{stage}.json"))
    }

    /// Directory holding the per-item shards of `key`.
    pub fn shard_dir(&self, key: &str) -> PathBuf {
        self.root.join("shards").join(key)
    }

    /// The shard folder of `key`, created if needed; debris in its place (a file where the folder
    /// belongs, left by a crash or a hand) is removed first rather than blocking the stage forever.
    pub fn shard_dir_ready(&self, key: &str) -> Result<PathBuf> {
        let dir = self.shard_dir(key);
        remove_unless_dir(&dir)?;
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        Ok(dir)
    }

    /// The digest a shard pointer file names, if `pointer` is a file holding a digest.
    pub fn read_pointer(pointer: &Path) -> Option<Digest> {
        let text = fs::read(pointer).ok()?;
        let digest = std::str::from_utf8(&text).ok()?.trim();
        is_digest(digest).then(|| digest.to_string())
    }

    /// Whether item `index` of the fan-out of `key` is stored (its pointer and its object exist).
    pub fn has_shard(&self, key: &str, index: usize) -> bool {
        Self::read_pointer(&self.shard_dir(key).join(index.to_string()))
            .is_some_and(|digest| self.has_object(&digest, None))
    }

    /// Path of a per-key lock file.
    pub fn lock_path(&self, key: &str) -> PathBuf {
        self.root.join("locks").join(format!("{key}.lock"))
    }

    /// Every object digest in the store.
    pub fn list_objects(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let dir = self.root.join("objects");
        for a in read_dir_sorted(&dir)? {
            if !a.is_dir() {
                continue;
            }
            let prefix = file_name(&a);
            for b in read_dir_sorted(&a)? {
                let d = format!("{prefix}{}", file_name(&b));
                if is_digest(&d) && self.object_path(&d) == b {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// Every record key in the store.
    pub fn list_records(&self) -> Result<Vec<String>> {
        Ok(read_dir_sorted(&self.root.join("records"))?
            .iter()
            .filter_map(|p| file_name(p).strip_suffix(".json").map(str::to_string))
            .collect())
    }
}

/// Removes whatever is at `p` unless it is a folder (nothing there is fine).
pub fn remove_unless_dir(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if !m.is_dir() => match fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(EngineError::io("removing debris at", p, e))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Removes whatever is at `p`: a folder with its contents, or a file (nothing there is fine).
pub fn remove_any(p: &Path) -> Result<()> {
    let r = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(_) => return Ok(()),
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("removing debris at", p, e))
        }
        _ => Ok(()),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Entries of a directory in name order (empty if it does not exist).
pub fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io("listing", dir, e)),
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

/// blake3 of a regular file's bytes, read in 16 MiB blocks (each hashed on the rayon pool when
/// large). Reading rather than memory-mapping means a file truncated meanwhile gives a wrong digest
/// or an error, never a SIGBUS; a FIFO, device or directory is refused before it is opened, so it
/// cannot hang or stream forever.
pub fn hash_file(path: &Path) -> Result<Digest> {
    let meta = fs::metadata(path).map_err(|e| EngineError::io("reading", path, e))?;
    if !meta.is_file() {
        return Err(EngineError::io(
            "reading",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a FIFO, device or folder cannot be an input)",
            ),
        ));
    }
    let mut f = File::open(path).map_err(|e| EngineError::io("reading", path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; (meta.len() as usize).clamp(1 << 12, 1 << 24)];
    loop {
        let n = read_full(&mut f, &mut buf).map_err(|e| EngineError::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        if n >= 1 << 20 {
            hasher.update_rayon(&buf[..n]);
        } else {
            hasher.update(&buf[..n]);
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Fills `buf` as far as the reader allows; returns the bytes read (0 at the end).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn sync_dir(dir: Option<&Path>) {
    if let Some(d) = dir
        && let Ok(f) = File::open(d)
    {
        let _ = f.sync_all();
    }
}
