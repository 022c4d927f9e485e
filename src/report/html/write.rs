//! Writing pages only when their bytes change (the agreed `write_if_changed` interface).

use std::fs;
use std::path::Path;

use crate::engine::error::{EngineError, Result};

/// Writes `bytes` to `path` atomically (a sibling temp file renamed over it), but only when the
/// file does not already hold exactly these bytes; returns whether it wrote. A cached rerun that
/// changes nothing therefore writes nothing.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| EngineError::io("creating", parent, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.mexp-tmp-{}-html", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        EngineError::io("writing", &tmp, e)
    })?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        EngineError::io("writing", path, e)
    })?;
    Ok(true)
}
