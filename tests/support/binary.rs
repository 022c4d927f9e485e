//! Running the built `mexp` binary from integration tests (shared by the test files that include
//! it with `#[path = "support/binary.rs"] mod binary;`).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `mexp args…` in `cwd` and returns its output, whatever the exit code.
pub fn mexp(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mexp")
}

/// stdout parsed as JSON; panics showing stdout and stderr when it is not JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
