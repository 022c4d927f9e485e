//! Stage keys: blake3 over a documented, versioned canonical encoding.
//!
//! # Key format 1
//! The key manifest is encoded as UTF-8 lines, each `field value\n`, in this order:
//! ```text
//! mexp-key-format 1
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
//! and `std::hash` never enter it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use toml::Value;

/// Version of the canonical encoding; bumping it invalidates every key.
pub const KEY_FORMAT: u32 = 1;

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

    /// Human-readable differences from an older manifest, one reason per changed field.
    pub fn diff(&self, old: &KeyManifest, stage: &str) -> Vec<String> {
        let mut reasons = Vec::new();
        if old.format != self.format {
            reasons.push(format!(
                "key format changed: {} → {}",
                old.format, self.format
            ));
        }
        if old.kind != self.kind {
            reasons.push(format!("kind changed: {} → {}", old.kind, self.kind));
        } else if old.implementation != self.implementation {
            reasons.push(format!("code of {} changed", self.kind));
        }
        if old.seed != self.seed {
            reasons.push(format!("seed changed: {} → {}", old.seed, self.seed));
        }
        if old.backend != self.backend {
            reasons.push(format!(
                "backend changed: {} → {}",
                old.backend.as_deref().unwrap_or("-"),
                self.backend.as_deref().unwrap_or("-")
            ));
        }
        let keys: std::collections::BTreeSet<&String> =
            old.params.keys().chain(self.params.keys()).collect();
        for k in keys {
            match (old.params.get(k), self.params.get(k)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => reasons.push(format!(
                    "params changed: {stage}.{k} {} → {}",
                    display_value(a),
                    display_value(b)
                )),
                (None, Some(b)) => reasons.push(format!(
                    "params changed: {stage}.{k} added ({})",
                    display_value(b)
                )),
                (Some(a), None) => reasons.push(format!(
                    "params changed: {stage}.{k} removed (was {})",
                    display_value(a)
                )),
                (None, None) => {}
            }
        }
        let ports: std::collections::BTreeSet<&String> =
            old.inputs.keys().chain(self.inputs.keys()).collect();
        for p in ports {
            if old.inputs.get(p) != self.inputs.get(p) {
                reasons.push(format!("input {p} changed"));
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
            vec!["params changed: vae.lr 0.0001 → 0.0003".to_string()]
        );
    }
}
