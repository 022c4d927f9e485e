//! Derived implementation fingerprints: for every stage kind, the source files its code can reach
//! and the locked crates it uses, hashed by content. `build.rs` runs this module (through `#[path]`)
//! to compile the fingerprints into the binary; tests run it over modified copies of the tree.
//! The inclusion rule is documented in [`crate::engine::key`].
//!
//! Nothing here may name `crate::…`: the build script compiles these files on their own.

pub mod lexer;
pub mod lock;
pub mod scan;
pub mod tree;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lock::{Lock, Package};
use tree::SourceTree;

/// Tag at the start of every fingerprint's hashed text; part of the key format.
pub const FINGERPRINT_FORMAT: &str = "mexp-impl-fingerprint-v2";

/// Why fingerprints could not be computed (a broken tree: the build stops).
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// A file could not be read.
    #[error("reading {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// An `include*!` whose file the scanner cannot find or tell.
    #[error("{file}: cannot fingerprint the file of include!({arg})")]
    Include {
        /// The including source file.
        file: String,
        /// The macro's argument.
        arg: String,
    },
    /// A stage kind without its adapter module.
    #[error(
        "{0} is not a module of the library (every stages/<kind>.toml needs src/stages/<kind>.rs)"
    )]
    NotAModule(String),
    /// `Cargo.lock` is missing or malformed.
    #[error("Cargo.lock: {0}")]
    Lock(String),
    /// A catalogue file is malformed.
    #[error("{path}: {message}")]
    Catalog {
        /// The catalogue file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What the implementation fingerprint of one kind covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCode {
    /// Manual version from the catalogue entry.
    pub version: i64,
    /// Files the kind's code can reach: (path relative to the crate root, blake3 hex of the bytes).
    pub files: Vec<(String, String)>,
    /// Locked packages of the crates the code names, and their dependencies.
    pub crates: Vec<Package>,
    /// blake3 hex over [`FINGERPRINT_FORMAT`], the version, the file digests (sorted: paths do not
    /// enter) and the crates.
    pub fingerprint: String,
}

/// The fingerprint text's digest (see [`KindCode::fingerprint`]).
pub fn fingerprint(version: i64, files: &[(String, String)], crates: &[Package]) -> String {
    let mut digests: Vec<&str> = files.iter().map(|(_, d)| d.as_str()).collect();
    digests.sort_unstable();
    let mut h = blake3::Hasher::new();
    h.update(format!("{FINGERPRINT_FORMAT}\nversion {version}\n").as_bytes());
    for d in digests {
        h.update(format!("file {d}\n").as_bytes());
    }
    for p in crates {
        h.update(format!("crate {} {} {}\n", p.name, p.version, p.pin).as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Every kind of the catalogue in `<root>/stages/` with what its fingerprint covers.
pub fn kind_codes(root: &Path) -> Result<BTreeMap<String, KindCode>, CodeError> {
    let tree = SourceTree::load(root)?;
    let lock_path = root.join("Cargo.lock");
    let lock_text = fs::read_to_string(&lock_path).map_err(|e| CodeError::Read {
        path: lock_path,
        message: e.to_string(),
    })?;
    let lock = Lock::parse(&lock_text, "mexp")?;
    let externs = lock.extern_names();
    let mut digests: BTreeMap<String, String> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (kind, version) in catalogue_versions(root)? {
        let reach = tree.reach(&format!("src/stages/{kind}.rs"), &externs)?;
        let mut files = Vec::with_capacity(reach.files.len());
        for f in reach.files {
            let digest = match digests.get(&f) {
                Some(d) => d.clone(),
                None => {
                    let abs = root.join(&f);
                    let bytes = fs::read(&abs).map_err(|e| CodeError::Read {
                        path: abs,
                        message: e.to_string(),
                    })?;
                    let d = blake3::hash(&bytes).to_hex().to_string();
                    digests.insert(f.clone(), d.clone());
                    d
                }
            };
            files.push((f, digest));
        }
        let crates: Vec<Package> = lock.closure(&reach.crates).into_iter().collect();
        let fingerprint = fingerprint(version, &files, &crates);
        out.insert(
            kind,
            KindCode {
                version,
                files,
                crates,
                fingerprint,
            },
        );
    }
    Ok(out)
}

/// Kind name → `version` of every `stages/<kind>.toml` (1 when absent).
pub fn catalogue_versions(root: &Path) -> Result<BTreeMap<String, i64>, CodeError> {
    let dir = root.join("stages");
    let read_err = |path: &Path, e: std::io::Error| CodeError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(&dir).map_err(|e| read_err(&dir, e))? {
        let path = entry.map_err(|e| read_err(&dir, e))?.path();
        let Some(kind) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "toml"))
        else {
            continue;
        };
        let text = fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| CodeError::Catalog {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let version = table
            .get("version")
            .and_then(toml::Value::as_integer)
            .unwrap_or(1);
        out.insert(kind.to_string(), version);
    }
    Ok(out)
}
