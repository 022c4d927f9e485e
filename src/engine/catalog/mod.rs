//! The stage catalogue: one TOML file per stage kind (`stages/<kind>.toml`), compiled into the binary.
//!
//! It is the only place parameter defaults live. Each entry gives the kind's one-line doc, its parameters
//! (type, default, doc, optional bounds or choices), its inputs and outputs, a manual `version` and
//! optional scheduling hints. Parameters shared by several kinds live once in a block
//! `stages/shared/<name>.toml` that a kind names with `include = ["<name>"]`; a name defined twice
//! (by the kind and a block, or by two blocks) is a catalogue error. Which source files implement a kind is derived from the code at build
//! time, never listed here (see `engine::key` for the rule).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use toml::Value;

mod check;

use super::error::EngineError;
use super::key::CodeManifest;

/// A kind as compiled in by build.rs: (kind, catalogue TOML, implementation fingerprint, version,
/// files as (path, blake3 hex), crates as (name, version)).
type GeneratedKind = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
);

include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// The type a parameter's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// A signed integer.
    Int,
    /// A float; integers are accepted and converted.
    Float,
    /// `true` / `false`.
    Bool,
    /// A string (optionally restricted to `choices`).
    String,
    /// An array of integers.
    IntArray,
    /// An array of floats; integers are accepted and converted.
    FloatArray,
    /// An array of strings.
    StringArray,
    /// A table of strings, numbers, bools or arrays of them (e.g. a `command` stage's `env`).
    Table,
}

impl ParamType {
    /// The name used in the catalogue and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::String => "string",
            ParamType::IntArray => "int_array",
            ParamType::FloatArray => "float_array",
            ParamType::StringArray => "string_array",
            ParamType::Table => "table",
        }
    }
}

/// One parameter of a stage kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Value type.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Default value (the single source of defaults).
    pub default: Value,
    /// One-line documentation.
    pub doc: String,
    /// Inclusive lower bound for numbers.
    pub min: Option<f64>,
    /// Exclusive lower bound for numbers (`min_exclusive = 0.0`: strictly positive).
    pub min_exclusive: Option<f64>,
    /// Inclusive upper bound for numbers.
    pub max: Option<f64>,
    /// Allowed values for strings.
    pub choices: Option<Vec<String>>,
    /// Unit, for documentation.
    pub unit: Option<String>,
}

/// An input port of a stage kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// One-line documentation.
    pub doc: String,
    /// Whether the port may be left unconnected.
    #[serde(default)]
    pub optional: bool,
}

/// An output of a stage kind: a single file, or a directory of files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// File name inside the stage's output folder (e.g. `structures.npy`), or folder name if `dir`.
    pub file: String,
    /// One-line documentation.
    pub doc: String,
    /// The output is a directory of files (stored as a tree object).
    #[serde(default)]
    pub dir: bool,
}

/// Cluster/scheduling hints of a stage kind (used by executors; not part of the key).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU cores a stage of this kind uses well.
    pub cpus: Option<u32>,
    /// Memory, e.g. "4G".
    pub memory: Option<String>,
    /// Wall-time limit, e.g. "02:00:00".
    pub time: Option<String>,
    /// GPUs.
    pub gpus: Option<u32>,
    /// Slurm partition.
    pub partition: Option<String>,
    /// Fan-out stages: items per cluster array task.
    pub items_per_task: Option<u32>,
}

/// A stage kind as declared by its catalogue file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindSpec {
    /// Kind name (the file stem; filled in after parsing).
    #[serde(skip)]
    pub kind: String,
    /// One-line documentation.
    pub doc: String,
    /// Manual implementation version, hashed into the fingerprint.
    #[serde(default = "one")]
    pub version: i64,
    /// Whether the learning backend (`--backend`) is part of the key.
    #[serde(default)]
    pub uses_backend: bool,
    /// Whether the kind's work is a fan-out over items (its implementation calls
    /// `StageContext::fan_out`): a cluster executor then runs slices of items as array tasks.
    #[serde(default)]
    pub fan_out: bool,
    /// Whether the kind accepts any input port names (e.g. a table collecting metrics).
    #[serde(default)]
    pub any_inputs: bool,
    /// Whether each stage of this kind declares its own program, outputs and code in the
    /// manifest (the `command` kind; see `engine::command`).
    #[serde(default)]
    pub command: bool,
    /// Shared parameter blocks (`stages/shared/<name>.toml`) whose parameters this kind also has.
    #[serde(default)]
    pub include: Vec<String>,
    /// Parameters, by name (the kind's own and those of its included blocks).
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
    /// Inputs, by port name.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputSpec>,
    /// Outputs, by name.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputSpec>,
    /// Scheduling hints.
    #[serde(default)]
    pub resources: Resources,
    /// Implementation fingerprint computed by build.rs (or given by a test registry).
    #[serde(skip)]
    pub fingerprint: String,
    /// What the fingerprint covers (empty for kinds added by tests).
    #[serde(skip)]
    pub code: Arc<CodeManifest>,
}

fn one() -> i64 {
    1
}

/// A shared parameter block (`stages/shared/<name>.toml`): parameters only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedBlock {
    #[serde(default)]
    params: BTreeMap<String, ParamSpec>,
}

/// Adds the parameters of the blocks `spec` includes (from `shared`, (name, TOML text) pairs) to its
/// own; an unknown block or a parameter defined twice is an error message.
fn merge_includes(spec: &mut KindSpec, shared: &[(&str, &str)]) -> Result<(), String> {
    for name in spec.include.clone() {
        let Some((_, text)) = shared.iter().find(|(n, _)| *n == name) else {
            let known: Vec<&str> = shared.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "include of unknown shared block `{name}` (known: {})",
                known.join(", ")
            ));
        };
        let block: SharedBlock =
            toml::from_str(text).map_err(|e| format!("shared block `{name}`: {e}"))?;
        for (pname, p) in block.params {
            if spec.params.contains_key(&pname) {
                return Err(format!(
                    "parameter `{pname}` defined twice (again in shared block `{name}`)"
                ));
            }
            spec.params.insert(pname, p);
        }
    }
    Ok(())
}

/// All stage kinds known to a binary.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    kinds: BTreeMap<String, KindSpec>,
}

impl Catalog {
    /// The catalogue compiled into this binary from `stages/*.toml`.
    pub fn builtin() -> Result<Self, EngineError> {
        let mut catalog = Catalog::default();
        for (kind, text, fingerprint, version, files, crates) in CATALOG {
            catalog.add_toml(kind, text, fingerprint)?;
            catalog.set_code(
                kind,
                CodeManifest {
                    version: *version,
                    files: files
                        .iter()
                        .map(|(p, d)| (p.to_string(), d.to_string()))
                        .collect(),
                    crates: crates.iter().map(|(n, v)| format!("{n} {v}")).collect(),
                },
            );
        }
        Ok(catalog)
    }

    /// Adds a kind from its catalogue TOML text and implementation fingerprint, with the parameters
    /// of the shared blocks it includes (those compiled in from `stages/shared/`).
    pub fn add_toml(
        &mut self,
        kind: &str,
        text: &str,
        fingerprint: &str,
    ) -> Result<(), EngineError> {
        let catalog_err = |message: String| EngineError::Catalog {
            kind: kind.to_string(),
            message,
        };
        let mut spec: KindSpec = toml::from_str(text).map_err(|e| catalog_err(e.to_string()))?;
        merge_includes(&mut spec, SHARED).map_err(catalog_err)?;
        spec.kind = kind.to_string();
        spec.fingerprint = fingerprint.to_string();
        for (name, p) in &spec.params {
            p.check(&p.default).map_err(|m| EngineError::Catalog {
                kind: kind.to_string(),
                message: format!("default of `{name}`: {m}"),
            })?;
        }
        self.kinds.insert(kind.to_string(), spec);
        Ok(())
    }

    /// Records what a kind's fingerprint covers (build.rs's listing, or a test's); false for an
    /// unknown kind.
    pub fn set_code(&mut self, kind: &str, code: CodeManifest) -> bool {
        self.kinds
            .get_mut(kind)
            .map(|spec| spec.code = Arc::new(code))
            .is_some()
    }

    /// Looks a kind up.
    pub fn get(&self, kind: &str) -> Option<&KindSpec> {
        self.kinds.get(kind)
    }

    /// All kinds in name order.
    pub fn kinds(&self) -> impl Iterator<Item = &KindSpec> {
        self.kinds.values()
    }

    /// Kind names, for "did you mean" suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }
}
