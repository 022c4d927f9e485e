//! Stage keys: blake3 over a documented, versioned canonical encoding.
//!
//! # Key format 2
//! The key manifest is encoded as UTF-8 lines, each `field value\n`, in this order:
//! ```text
//! mexp-key-format 2
//! kind <kind>
//! implementation <fingerprint hex>
//! seed <u64 decimal>
//! backend <name or ->
//! param <name> <canonical value>        (one line per parameter, names in byte order)
//! input <port> <digest hex>             (one line per input, ports in byte order)
//! ```
//! Canonical values: `i:<decimal>` integers; `f:<shortest round-trip decimal>` floats (Rust's `{:?}`
//! formatting of f64, so `1e-4` and `0.0001` agree; `-0.0` is written as `0.0`); `b:true|false`;
//! `s:<JSON string>`; arrays `[v,v,...]` of canonical values; tables `{k=v,...}` in key order.
//! The key is the lowercase hex blake3 digest of these bytes. Paths, mtimes, host names, thread counts
//! and `std::hash` never enter it. Format 1 differed only in the fingerprint below (hand-listed
//! `sources`, hashed with their paths); 2 was bumped on purpose when fingerprints became derived.
//!
//! # The implementation fingerprint
//! Computed at build time by `src/engine/code/` (run by `build.rs`), per stage kind: blake3 over
//! `mexp-impl-fingerprint-v2`, the catalogue entry's `version`, the blake3 digests of the **contents**
//! of every file the kind's code can reach (sorted by digest: a file's path never enters, so a pure
//! move keeps every key) and the `name version checksum` of the locked crates that code uses. Records
//! keep the (path, digest) list and the crate versions beside it ([`CodeManifest`]), so `plan` can
//! say which file changed; `mexp stages <kind>` lists them. Nobody lists source files by hand.
//!
//! **In** — starting from the adapter `src/stages/<kind>.rs`, a file is in when:
//! - a `use` or an `a::b` path (in code or in an attribute, serde's `with = "a::b"` strings included)
//!   of a file already in resolves to an item *defined* in it. Paths are resolved through the module
//!   tree (`crate::`, `super::`, `self::`, child modules, `#[path]`), through `use` bindings
//!   (`pub use` re-exports, renames, `use a::b;` of a module followed by `b::c`) and through globs:
//!   a name that no child module and no explicit `use` binds is taken to be defined in the module's
//!   own file, and is also looked up in every glob-imported module. A file that only routes a path
//!   (a `mod.rs` of `mod` declarations and `pub use` lines) is not in for that: its routing is
//!   reflected in which files the path reaches, and those are hashed;
//! - it holds an `impl` block whose self type names a type or trait defined in a file already in
//!   (inherent impls elsewhere, such as `learn/nets/se_resnext.rs` adding constructors to
//!   `ResNetConfig`; trait impls of any trait for those types, `From` conversions included), or an
//!   impl of a trait defined in a file already in for a type the crate does not define (blanket
//!   impls, impls for `f64`, `Vec<_>`, …). Names are matched by identifier, not resolved, so two
//!   types of one name in two files pull both in: a false rerun, never a false hit;
//! - it defines a `macro_rules!` macro that a file already in invokes;
//! - it is named by a literal `include!`/`include_str!`/`include_bytes!` of a file already in (the
//!   plot font `assets/DejaVuSans.ttf`). An include whose argument is not a literal stops the build,
//!   except the build script's own `OUT_DIR` output (the catalogue, whose parameter defaults enter
//!   keys as resolved parameters and whose `version` enters this fingerprint);
//! - that is applied until nothing new comes in. The engine files the adapter reaches (the stage
//!   context, the cache it shards into, …) are in like any others: they write and gather artifacts.
//!
//! **Crates** — the extern crates that files in name (first path segments that are dependencies of
//! mexp in `Cargo.lock`), and, transitively, every package they depend on in `Cargo.lock`. That is
//! coarse on purpose: a lock file does not say which of a crate's dependencies reach its numerics
//! (burn's CPU kernels live in `burn-flex`, ndarray's products in `matrixmultiply`, serde_json's floats in
//! `zmij`), and it lists optional and other-platform packages too, so a `cargo update` of anything
//! under burn reruns the learning kinds. Registry packages enter with their checksum.
//!
//! **Out**, and why: `#[cfg(test)]` items and files (not in the binary that produces artifacts);
//! files only reachable through `mod` declarations (`src/lib.rs`, other kinds' adapters, the CLI,
//! `main.rs`); the build script and this scanner (they decide keys, not artifact bytes); the catalogue
//! text beyond `version` (defaults enter keys as parameters, docs do not matter); the Rust compiler's
//! version and the build profile (IEEE arithmetic without fast-math gives the same bits; a toolchain
//! that changes float formatting or `libm` results would need a `version` bump or a key-format bump);
//! the learning backend (a key field of its own, for kinds that use one).
//!
//! The scanner is syntactic: a name reached in a way it does not model (a macro generating a path
//! to another module, say) would escape it. `tests/code_fingerprints.rs` checks, on a copy of the
//! tree, that every file of every kind moves its fingerprint and that each known drift case
//! (morph ↔ `physics/micromag/exchange.rs`, rollout_fit ↔ `learn/train/sample_weighting.rs`, …) is covered.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Value;

use super::reason::{RerunReason, code_changes};

/// Version of the canonical encoding; bumping it invalidates every key.
pub const KEY_FORMAT: u32 = 2;

/// Everything that determines a stage's result; stored in each record and diffed by `plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyManifest {
    /// Key format version.
    pub format: u32,
    /// Stage kind.
    pub kind: String,
    /// Implementation fingerprint of the kind.
    pub implementation: String,
    /// Derived stage seed.
    pub seed: u64,
    /// Learning backend, for kinds whose results depend on it.
    pub backend: Option<String>,
    /// Resolved parameters.
    pub params: BTreeMap<String, Value>,
    /// Input port → digest of the upstream output (content key) or upstream identity (plan identity).
    pub inputs: BTreeMap<String, String>,
    /// What `implementation` covers, for explaining reruns; not encoded (the fingerprint is).
    /// Records written before key format 2 have none.
    #[serde(default, with = "arc_code")]
    pub code: Arc<CodeManifest>,
}

/// What an implementation fingerprint covers (see the module docs): kept in records so `plan` can
/// name the files that changed, and listed by `mexp stages <kind>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeManifest {
    /// The catalogue entry's manual `version`.
    pub version: i64,
    /// Source and data files, path relative to the crate root → blake3 hex of the contents.
    pub files: BTreeMap<String, String>,
    /// Locked crates, as `name version`.
    pub crates: BTreeSet<String>,
}

/// Serde for the shared code manifest (serde's `rc` feature is not enabled).
mod arc_code {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::CodeManifest;

    pub fn serialize<S: Serializer>(v: &Arc<CodeManifest>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<CodeManifest>, D::Error> {
        CodeManifest::deserialize(d).map(Arc::new)
    }
}

impl KeyManifest {
    /// The canonical byte encoding (see the module docs).
    pub fn canonical(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "mexp-key-format {}", self.format);
        let _ = writeln!(s, "kind {}", self.kind);
        let _ = writeln!(s, "implementation {}", self.implementation);
        let _ = writeln!(s, "seed {}", self.seed);
        let _ = writeln!(s, "backend {}", self.backend.as_deref().unwrap_or("-"));
        for (k, v) in &self.params {
            let _ = writeln!(s, "param {k} {}", canonical_value(v));
        }
        for (k, d) in &self.inputs {
            let _ = writeln!(s, "input {k} {d}");
        }
        s
    }

    /// The key: blake3 hex of the canonical encoding.
    pub fn key(&self) -> String {
        blake3::hash(self.canonical().as_bytes())
            .to_hex()
            .to_string()
    }

    /// Why a stage with this manifest differs from an older run, one reason per changed field.
    pub fn diff(&self, old: &KeyManifest, stage: &str) -> Vec<RerunReason> {
        let mut reasons = Vec::new();
        if old.format != self.format {
            reasons.push(RerunReason::KeyFormatChanged {
                old: old.format,
                new: self.format,
            });
        }
        if old.kind != self.kind {
            reasons.push(RerunReason::KindChanged {
                old: old.kind.clone(),
                new: self.kind.clone(),
            });
        } else if old.implementation != self.implementation {
            reasons.push(RerunReason::CodeChanged {
                kind: self.kind.clone(),
                changes: code_changes(&old.code, &self.code),
            });
        }
        if old.seed != self.seed {
            reasons.push(RerunReason::SeedChanged {
                old: old.seed,
                new: self.seed,
            });
        }
        if old.backend != self.backend {
            reasons.push(RerunReason::BackendChanged {
                old: old.backend.clone(),
                new: self.backend.clone(),
            });
        }
        let keys: BTreeSet<&String> = old.params.keys().chain(self.params.keys()).collect();
        for k in keys {
            let (a, b) = (old.params.get(k), self.params.get(k));
            if a != b {
                reasons.push(RerunReason::ParamChanged {
                    stage: stage.to_string(),
                    param: k.clone(),
                    old: a.cloned(),
                    new: b.cloned(),
                });
            }
        }
        let ports: BTreeSet<&String> = old.inputs.keys().chain(self.inputs.keys()).collect();
        for p in ports {
            if old.inputs.get(p) != self.inputs.get(p) {
                reasons.push(RerunReason::InputChanged { port: p.clone() });
            }
        }
        reasons
    }
}

/// The canonical text of a value (see the module docs).
pub fn canonical_value(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("i:{i}"),
        Value::Float(f) => {
            let f = if *f == 0.0 { 0.0 } else { *f };
            format!("f:{f:?}")
        }
        Value::Boolean(b) => format!("b:{b}"),
        Value::String(s) => format!("s:{}", serde_json::Value::String(s.clone())),
        Value::Datetime(d) => format!("d:{d}"),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_value).collect::<Vec<_>>().join(",")
        ),
        Value::Table(t) => {
            let sorted: BTreeMap<&String, &Value> = t.iter().collect();
            format!(
                "{{{}}}",
                sorted
                    .iter()
                    .map(|(k, v)| format!("{k}={}", canonical_value(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    }
}

/// A value as a person writes it (`0.0001`, `"flex"`, `[1, 2]`).
pub fn display_value(v: &Value) -> String {
    match v {
        Value::Float(f) => format!("{f}"),
        Value::String(s) => format!("\"{s}\""),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(display_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(lr: Value) -> KeyManifest {
        KeyManifest {
            format: KEY_FORMAT,
            kind: "k".into(),
            implementation: "abc".into(),
            seed: 7,
            backend: None,
            params: BTreeMap::from([("lr".to_string(), lr), ("n".to_string(), Value::Integer(3))]),
            inputs: BTreeMap::new(),
            code: Arc::default(),
        }
    }

    #[test]
    fn equal_numbers_written_differently_give_one_key() {
        let a = manifest(crate::engine::manifest::parse_value("1e-4").expect("toml"));
        let b = manifest(crate::engine::manifest::parse_value("0.0001").expect("toml"));
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), manifest(Value::Float(3e-4)).key());
        assert_eq!(
            canonical_value(&Value::Float(-0.0)),
            canonical_value(&Value::Float(0.0))
        );
    }

    #[test]
    fn diff_names_the_changed_param() {
        let r = manifest(Value::Float(3e-4)).diff(&manifest(Value::Float(1e-4)), "vae");
        assert_eq!(
            r,
            vec![RerunReason::ParamChanged {
                stage: "vae".into(),
                param: "lr".into(),
                old: Some(Value::Float(1e-4)),
                new: Some(Value::Float(3e-4)),
            }]
        );
        assert_eq!(r[0].to_string(), "params changed: vae.lr 0.0001 → 0.0003");
    }

    #[test]
    fn the_code_manifest_is_kept_but_not_encoded() {
        let mut a = manifest(Value::Float(1e-4));
        let b = a.clone();
        a.code = Arc::new(CodeManifest {
            version: 1,
            files: BTreeMap::from([("src/x.rs".to_string(), "d1".to_string())]),
            crates: BTreeSet::from(["burn 0.22.1".to_string()]),
        });
        assert_eq!(a.key(), b.key());
        let json = serde_json::to_string(&a).expect("serialize");
        let back: KeyManifest = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, a);
        let mut old_record = serde_json::to_value(&b).expect("serialize");
        old_record.as_object_mut().expect("object").remove("code");
        let old: KeyManifest = serde_json::from_value(old_record).expect("format-1 records load");
        assert_eq!(*old.code, CodeManifest::default());
    }
}
