//! Why a stage must run: one enum, shown as text by `plan`/`run`/`show` and serde-tagged in their
//! `--json` output (`"why"`, tags listed in docs/JSON.md), as cargo's `DirtyReason` does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use toml::Value;

use super::key::{CodeManifest, display_value};

/// Most changed files or crates named in a reason's text (the JSON lists all).
const SHOWN_CHANGES: usize = 5;

/// A reason for a stage to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RerunReason {
    /// No earlier run of this stage is recorded.
    NotRunBefore,
    /// An earlier run is recorded, and nothing in its key differs, yet no record has this key.
    NewSettings,
    /// The key format changed (every key did).
    KeyFormatChanged {
        /// Format of the earlier run.
        old: u32,
        /// Format now.
        new: u32,
    },
    /// The stage's kind changed.
    KindChanged {
        /// Kind of the earlier run.
        old: String,
        /// Kind now.
        new: String,
    },
    /// The implementation fingerprint of the kind changed.
    CodeChanged {
        /// The kind.
        kind: String,
        /// What changed (empty when the earlier record predates per-file records).
        changes: Vec<CodeChange>,
    },
    /// The stage seed changed.
    SeedChanged {
        /// Seed of the earlier run.
        old: u64,
        /// Seed now.
        new: u64,
    },
    /// The learning backend changed.
    BackendChanged {
        /// Backend of the earlier run.
        old: Option<String>,
        /// Backend now.
        new: Option<String>,
    },
    /// A parameter changed, appeared or disappeared.
    ParamChanged {
        /// Stage name.
        stage: String,
        /// Parameter name.
        param: String,
        /// Value of the earlier run (absent: added).
        old: Option<Value>,
        /// Value now (absent: removed).
        new: Option<Value>,
    },
    /// The content of an input changed.
    InputChanged {
        /// Input port.
        port: String,
    },
    /// A record exists but an output object is missing.
    OutputMissing {
        /// Output name.
        output: String,
    },
    /// The earlier run's key is current but its record is gone.
    RecordMissing,
    /// An upstream stage must run first, so this key is not known yet.
    UpstreamWillRun {
        /// Upstream stage name.
        stage: String,
    },
}

/// One difference between two [`CodeManifest`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum CodeChange {
    /// A file's contents changed, or it came in, or it went out of the kind's reach.
    File {
        /// Path relative to the crate root.
        path: String,
        /// Digest of the earlier run (absent: new).
        old: Option<String>,
        /// Digest now (absent: gone).
        new: Option<String>,
    },
    /// A locked crate's version changed, or it came in or went.
    Crate {
        /// Package name.
        name: String,
        /// Version of the earlier run.
        old: Option<String>,
        /// Version now.
        new: Option<String>,
    },
    /// The catalogue entry's manual `version` changed.
    Version {
        /// Version of the earlier run.
        old: i64,
        /// Version now.
        new: i64,
    },
}

/// The differences from `old` to `new`. A file that moved without changing (same digest, new path)
/// is no difference: fingerprints hash contents, not paths.
pub fn code_changes(old: &CodeManifest, new: &CodeManifest) -> Vec<CodeChange> {
    let mut out = Vec::new();
    if old.files.is_empty() && old.crates.is_empty() {
        return out; // a record from before per-file records
    }
    if old.version != new.version {
        out.push(CodeChange::Version {
            old: old.version,
            new: new.version,
        });
    }
    let old_digests: BTreeSet<&String> = old.files.values().collect();
    let new_digests: BTreeSet<&String> = new.files.values().collect();
    let paths: BTreeSet<&String> = old.files.keys().chain(new.files.keys()).collect();
    for path in paths {
        let (a, b) = (old.files.get(path), new.files.get(path));
        let moved_in = a.is_none() && b.is_some_and(|d| old_digests.contains(d));
        let moved_out = b.is_none() && a.is_some_and(|d| new_digests.contains(d));
        if a != b && !moved_in && !moved_out {
            out.push(CodeChange::File {
                path: path.clone(),
                old: a.cloned(),
                new: b.cloned(),
            });
        }
    }
    let versions = |set: &BTreeSet<String>| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in set {
            let (name, version) = c.split_once(' ').unwrap_or((c, ""));
            m.entry(name.to_string())
                .or_default()
                .push(version.to_string());
        }
        m
    };
    let (vo, vn) = (versions(&old.crates), versions(&new.crates));
    let names: BTreeSet<&String> = vo.keys().chain(vn.keys()).collect();
    for name in names {
        let (a, b) = (vo.get(name), vn.get(name));
        if a != b {
            out.push(CodeChange::Crate {
                name: name.clone(),
                old: a.map(|v| v.join(", ")),
                new: b.map(|v| v.join(", ")),
            });
        }
    }
    out
}

impl fmt::Display for CodeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeChange::File { path, old, new } => match (old, new) {
                (None, _) => write!(f, "{path} (new)"),
                (_, None) => write!(f, "{path} (gone)"),
                _ => write!(f, "{path}"),
            },
            CodeChange::Crate { name, old, new } => match (old, new) {
                (Some(a), Some(b)) => write!(f, "{name} {a} → {b}"),
                (None, Some(b)) => write!(f, "{name} {b} (new)"),
                (Some(a), None) => write!(f, "{name} {a} (gone)"),
                (None, None) => write!(f, "{name}"),
            },
            CodeChange::Version { old, new } => write!(f, "catalogue version {old} → {new}"),
        }
    }
}

impl fmt::Display for RerunReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        match self {
            RerunReason::NotRunBefore => write!(f, "not run before"),
            RerunReason::NewSettings => write!(f, "not run before with these settings"),
            RerunReason::KeyFormatChanged { old, new } => {
                write!(f, "key format changed: {old} → {new}")
            }
            RerunReason::KindChanged { old, new } => write!(f, "kind changed: {old} → {new}"),
            RerunReason::CodeChanged { kind, changes } => {
                write!(f, "code of {kind} changed")?;
                for (i, c) in changes.iter().take(SHOWN_CHANGES).enumerate() {
                    write!(f, "{}{c}", if i == 0 { ": " } else { ", " })?;
                }
                if changes.len() > SHOWN_CHANGES {
                    write!(f, " and {} more", changes.len() - SHOWN_CHANGES)?;
                }
                Ok(())
            }
            RerunReason::SeedChanged { old, new } => write!(f, "seed changed: {old} → {new}"),
            RerunReason::BackendChanged { old, new } => {
                write!(f, "backend changed: {} → {}", opt(old), opt(new))
            }
            RerunReason::ParamChanged {
                stage,
                param,
                old,
                new,
            } => match (old, new) {
                (Some(a), Some(b)) => write!(
                    f,
                    "params changed: {stage}.{param} {} → {}",
                    display_value(a),
                    display_value(b)
                ),
                (None, Some(b)) => write!(
                    f,
                    "params changed: {stage}.{param} added ({})",
                    display_value(b)
                ),
                (Some(a), None) => write!(
                    f,
                    "params changed: {stage}.{param} removed (was {})",
                    display_value(a)
                ),
                (None, None) => write!(f, "params changed: {stage}.{param}"),
            },
            RerunReason::InputChanged { port } => write!(f, "input {port} changed"),
            RerunReason::OutputMissing { output } => {
                write!(f, "output {output} missing from cache")
            }
            RerunReason::RecordMissing => write!(f, "record missing from cache"),
            RerunReason::UpstreamWillRun { stage } => write!(f, "upstream {stage} will run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(files: &[(&str, &str)], crates: &[&str]) -> CodeManifest {
        CodeManifest {
            version: 1,
            files: files
                .iter()
                .map(|(p, d)| (p.to_string(), d.to_string()))
                .collect(),
            crates: crates.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn code_change_names_files_and_crates_and_ignores_moves() {
        let old = code(
            &[("src/a.rs", "1"), ("src/b.rs", "2"), ("src/c.rs", "3")],
            &["burn 0.22.1", "rand 0.8.5", "rand 0.9.5"],
        );
        let new = code(
            &[
                ("src/a.rs", "9"),
                ("src/moved/b.rs", "2"),
                ("src/d.rs", "4"),
            ],
            &["burn 0.22.2", "rand 0.9.5"],
        );
        let r = RerunReason::CodeChanged {
            kind: "morph".into(),
            changes: code_changes(&old, &new),
        };
        assert_eq!(
            r.to_string(),
            "code of morph changed: src/a.rs, src/c.rs (gone), src/d.rs (new), \
             burn 0.22.1 → 0.22.2, rand 0.8.5, 0.9.5 → 0.9.5"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["reason"], "code_changed");
        assert_eq!(json["changes"][0]["what"], "file");
        assert_eq!(json["changes"][0]["path"], "src/a.rs");
        assert_eq!(json["changes"][3]["what"], "crate");
        let legacy = code_changes(&CodeManifest::default(), &new);
        assert!(
            legacy.is_empty(),
            "records without a file list say only that code changed"
        );
    }

    #[test]
    fn every_reason_renders_todays_text() {
        let v = |x: i64| Some(Value::Integer(x));
        let cases = [
            (RerunReason::NotRunBefore, "not run before"),
            (
                RerunReason::NewSettings,
                "not run before with these settings",
            ),
            (
                RerunReason::KeyFormatChanged { old: 1, new: 2 },
                "key format changed: 1 → 2",
            ),
            (
                RerunReason::BackendChanged {
                    old: None,
                    new: Some("flex".into()),
                },
                "backend changed: - → flex",
            ),
            (
                RerunReason::ParamChanged {
                    stage: "b".into(),
                    param: "n".into(),
                    old: None,
                    new: v(3),
                },
                "params changed: b.n added (3)",
            ),
            (
                RerunReason::ParamChanged {
                    stage: "b".into(),
                    param: "n".into(),
                    old: v(3),
                    new: None,
                },
                "params changed: b.n removed (was 3)",
            ),
            (
                RerunReason::InputChanged { port: "x".into() },
                "input x changed",
            ),
            (
                RerunReason::OutputMissing { output: "o".into() },
                "output o missing from cache",
            ),
            (RerunReason::RecordMissing, "record missing from cache"),
            (
                RerunReason::UpstreamWillRun { stage: "a".into() },
                "upstream a will run",
            ),
            (
                RerunReason::CodeChanged {
                    kind: "k".into(),
                    changes: vec![],
                },
                "code of k changed",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }
}
