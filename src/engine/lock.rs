//! Per-key advisory locks, so that two `mexp run` processes on one cache never compute the same key
//! at once. The lock is an OS file lock (released by the kernel if the holder dies, even by
//! `kill -9`), on `cache/locks/<key>.lock`; the holder writes its pid and stage name into the file
//! so a waiting run can say what it waits for.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};

use super::cache::Cache;
use super::error::{EngineError, Result};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct KeyLock {
    file: File,
}

impl KeyLock {
    /// Takes the lock of `key`, calling `on_wait` with a description of the holder if it must wait.
    /// While waiting it polls `cancel` and gives up with [`EngineError::Interrupted`] when it is set.
    pub fn acquire(
        cache: &Cache,
        key: &str,
        stage: &str,
        cancel: &std::sync::atomic::AtomicBool,
        on_wait: impl FnOnce(&str),
    ) -> Result<KeyLock> {
        let path = cache.lock_path(key);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening lock", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() {
                    "held by another mexp run".to_string()
                } else {
                    format!("held by {}", holder.trim())
                };
                on_wait(&holder);
                // Poll rather than block, so that Ctrl-C is honoured while waiting.
                loop {
                    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                        return Err(EngineError::Interrupted);
                    }
                    match file.try_lock() {
                        Ok(()) => break,
                        Err(TryLockError::WouldBlock) => {
                            std::thread::sleep(std::time::Duration::from_millis(100))
                        }
                        Err(TryLockError::Error(e)) => {
                            return Err(EngineError::io("locking", &path, e));
                        }
                    }
                }
            }
            Err(TryLockError::Error(e)) => return Err(EngineError::io("locking", &path, e)),
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "pid {} (stage {stage})", std::process::id());
        let _ = file.flush();
        Ok(KeyLock { file })
    }
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// What a probe of the cache's lock folder found (see [`probe_locks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSupport {
    /// A second open file cannot take a lock that the first holds: locks keep runs apart.
    Enforced,
    /// The filesystem grants two conflicting locks at once: it ignores `flock`. Concurrent runs
    /// on this cache may compute a stage twice (they never corrupt it).
    Ignored,
}

/// Tries an `flock` on a scratch file in the cache's lock folder at the start of a run: an error
/// if the filesystem refuses locks (some Lustre and NFS mounts), [`LockSupport::Ignored`] if it
/// grants conflicting locks. Whether locks reach other nodes cannot be seen from one node; the
/// README's Slurm section states that contract.
pub fn probe_locks(cache: &Cache) -> Result<LockSupport> {
    probe_locks_with(&cache.root().join("locks"), |f| f.try_lock())
}

/// [`probe_locks`] with the locking call given, so a refusing or ignoring filesystem can be
/// simulated in tests.
pub fn probe_locks_with(
    dir: &std::path::Path,
    try_lock: impl Fn(&File) -> std::result::Result<(), TryLockError>,
) -> Result<LockSupport> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("probe-{}-{n}", std::process::id()));
    let open = || {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening lock", &path, e))
    };
    let refused = |e: std::io::Error| {
        EngineError::Usage(format!(
            "the filesystem of {} refuses file locks ({e}); mexp needs flock to keep concurrent \
             runs on one cache apart. Put the cache on a local disk, or on a shared filesystem \
             mounted with flock support (Lustre: `-o flock`; NFS: a server with lock support), \
             and pass it with --cache",
            dir.display()
        ))
    };
    let result = (|| {
        let (first, second) = (open()?, open()?);
        match try_lock(&first) {
            Ok(()) => {}
            Err(TryLockError::Error(e)) => return Err(refused(e)),
            Err(TryLockError::WouldBlock) => {
                return Err(refused(std::io::Error::other(
                    "a fresh lock file is already locked",
                )));
            }
        }
        Ok(match try_lock(&second) {
            Ok(()) => LockSupport::Ignored,
            Err(TryLockError::WouldBlock) => LockSupport::Enforced,
            Err(TryLockError::Error(e)) => return Err(refused(e)),
        })
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// The warning printed when [`probe_locks`] finds locks ignored.
pub fn ignored_locks_warning(cache: &Cache) -> String {
    format!(
        "warning: the filesystem of {} grants conflicting file locks (flock is ignored there): \
         concurrent `mexp run`s on this cache may compute the same stage twice (they never \
         corrupt it). Run one `mexp run` per cache at a time, or move the cache to a filesystem \
         with working flock",
        cache.root().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_filesystem_enforces_locks() {
        let tmp = tempfile::tempdir().expect("tmp");
        let cache = Cache::open(tmp.path()).expect("cache");
        assert_eq!(probe_locks(&cache).expect("probe"), LockSupport::Enforced);
        let left = std::fs::read_dir(tmp.path().join("locks"))
            .expect("locks")
            .count();
        assert_eq!(left, 0, "the probe file is removed");
    }

    #[test]
    fn a_filesystem_that_refuses_locks_is_an_error_saying_what_to_do() {
        let tmp = tempfile::tempdir().expect("tmp");
        let err = probe_locks_with(tmp.path(), |_| {
            Err(TryLockError::Error(std::io::Error::from_raw_os_error(37))) // ENOLCK
        })
        .expect_err("refused locks");
        let text = err.to_string();
        assert!(text.contains("refuses file locks"), "{text}");
        assert!(text.contains(&tmp.path().display().to_string()), "{text}");
        assert!(text.contains("--cache"), "{text}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn a_filesystem_that_grants_conflicting_locks_is_reported_as_ignoring_them() {
        let tmp = tempfile::tempdir().expect("tmp");
        let got = probe_locks_with(tmp.path(), |_| Ok(())).expect("probe");
        assert_eq!(got, LockSupport::Ignored);
    }
}
