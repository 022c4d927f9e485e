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
