//! Manifest files: parsing with source locations kept, so every later error can point at file, line
//! and column.
//!
//! ```toml
//! [experiment]
//! name = "demo"
//! seed = 42
//!
//! [stages.grains]
//! kind = "grain_sampling"
//! count = 20
//!
//! [stages.curves]
//! kind = "demag_curve"
//! inputs = { structures = "grains.structures" }   # or "file:data/x.npy" (hashed by content)
//!
//! [profile.paper.stages.grains]
//! count = 320000
//!
//! [sweep]
//! mode = "grid"
//! "curves.h_step" = [0.01, 0.02]
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Value;
use toml_edit::{Document, Item, TableLike};

use super::diag::{Diagnostic, did_you_mean};
use super::error::{EngineError, Result};

/// A value with the byte span of its key and of its value in the manifest text.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Span of the key.
    pub key_span: Option<Range<usize>>,
    /// Span of the value.
    pub span: Option<Range<usize>>,
}

/// The `[experiment]` table.
#[derive(Debug, Clone)]
pub struct ExperimentDecl {
    /// Experiment name (results go to `results/<name>/`).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Root seed; each stage derives its own from it and its name.
    pub seed: u64,
}

/// A connection `port = "stage.output"`.
#[derive(Debug, Clone)]
pub struct InputDecl {
    /// Port name of the consuming stage.
    pub port: String,
    /// Producing stage.
    pub stage: String,
    /// Output name of the producing stage.
    pub output: String,
    /// A file given by the user (`"file:<path>"`, relative to the manifest's folder) instead of a stage output.
    pub file: Option<PathBuf>,
    /// Span of the reference string.
    pub span: Option<Range<usize>>,
    /// Span of the port key.
    pub key_span: Option<Range<usize>>,
}

/// A `[stages.<name>]` table.
#[derive(Debug, Clone)]
pub struct StageDecl {
    /// Stage name.
    pub name: String,
    /// Span of the stage's table header key.
    pub name_span: Option<Range<usize>>,
    /// Stage kind.
    pub kind: Located<String>,
    /// Input connections.
    pub inputs: Vec<InputDecl>,
    /// Parameters set in the manifest.
    pub params: BTreeMap<String, Located<Value>>,
    /// Per-stage resource hints (executors only).
    pub resources: BTreeMap<String, Located<Value>>,
}

/// The `[sweep]` table, raw: interpreted by [`super::sweep`].
#[derive(Debug, Clone, Default)]
pub struct SweepDecl {
    /// All keys of the table with their values and spans.
    pub entries: BTreeMap<String, Located<Value>>,
    /// Span of the `[sweep]` header.
    pub span: Option<Range<usize>>,
}

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Path as given by the user.
    pub path: PathBuf,
    /// Full text (for diagnostics).
    pub source: String,
    /// `[experiment]`.
    pub experiment: ExperimentDecl,
    /// Stages in file order.
    pub stages: Vec<StageDecl>,
    /// Profiles: profile → stage → key → value.
    pub profiles: BTreeMap<String, BTreeMap<String, BTreeMap<String, Located<Value>>>>,
    /// Optional sweep.
    pub sweep: Option<SweepDecl>,
}

const TOP_LEVEL: &[&str] = &["experiment", "stages", "profile", "sweep"];
const EXPERIMENT_KEYS: &[&str] = &["name", "description", "seed"];

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|e| {
            EngineError::Usage(format!("cannot read manifest {}: {e}", path.display()))
        })?;
        let source = String::from_utf8(bytes).map_err(|e| not_utf8(path, &e))?;
        Manifest::parse(path, &source)
    }

    /// Parses manifest text; `path` is used in diagnostics only.
    pub fn parse(path: &Path, source: &str) -> Result<Manifest> {
        let doc = Document::parse(source.to_string()).map_err(|e| {
            EngineError::Manifest(vec![Diagnostic::at(
                path,
                source,
                e.span(),
                format!("invalid TOML: {}", e.message().trim()),
            )])
        })?;
        let mut p = Parser {
            path,
            source,
            diags: Vec::new(),
        };
        let manifest = p.manifest(doc.as_table());
        if p.diags.is_empty() {
            Ok(manifest)
        } else {
            Err(EngineError::Manifest(p.diags))
        }
    }

    /// A diagnostic located in this manifest.
    pub fn diag(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, span, message)
    }

    /// The stage declaration called `name`.
    pub fn stage(&self, name: &str) -> Option<&StageDecl> {
        self.stages.iter().find(|s| s.name == name)
    }
}

struct Parser<'a> {
    path: &'a Path,
    source: &'a str,
    diags: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn err(&mut self, span: Option<Range<usize>>, msg: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::at(self.path, self.source, span, msg);
        d.help = help;
        self.diags.push(d);
    }

    fn manifest(&mut self, root: &toml_edit::Table) -> Manifest {
        for (key, item) in root.iter() {
            if !TOP_LEVEL.contains(&key) {
                let help = did_you_mean(key, TOP_LEVEL.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| Some(format!("top-level tables are: {}", TOP_LEVEL.join(", "))));
                self.err(
                    key_span(root, key).or(item.span()),
                    format!("unknown top-level key `{key}`"),
                    help,
                );
            }
        }
        let experiment = self.experiment(root);
        let stages = self.stages(root);
        let profiles = self.profiles(root);
        let sweep = root
            .get("sweep")
            .and_then(|item| match item.as_table_like() {
                Some(t) => Some(SweepDecl {
                    entries: self.values(t),
                    span: item.span(),
                }),
                None => {
                    self.err(item.span(), "`sweep` must be a table", None);
                    None
                }
            });
        Manifest {
            path: self.path.to_path_buf(),
            source: self.source.to_string(),
            experiment,
            stages,
            profiles,
            sweep,
        }
    }

    fn experiment(&mut self, root: &toml_edit::Table) -> ExperimentDecl {
        let mut exp = ExperimentDecl {
            name: String::new(),
            description: String::new(),
            seed: 0,
        };
        let Some(item) = root.get("experiment") else {
            self.err(
                Some(0..0),
                "missing `[experiment]` table",
                Some("add `[experiment]` with `name = \"...\"` and `seed = 42`".into()),
            );
            return exp;
        };
        let Some(t) = item.as_table_like() else {
            self.err(item.span(), "`experiment` must be a table", None);
            return exp;
        };
        for (key, v) in self.values(t) {
            match (key.as_str(), &v.value) {
                ("name", Value::String(s)) if valid_name(s) => exp.name = s.clone(),
                ("name", _) => self.err(
                    v.span,
                    format!(
                        "experiment `name` must be a non-empty string of letters, digits, `_` or \
                         `-`, at most {MAX_NAME_LEN} characters"
                    ),
                    None,
                ),
                ("description", Value::String(s)) => exp.description = s.clone(),
                ("description", _) => self.err(v.span, "`description` must be a string", None),
                ("seed", Value::Integer(i)) if *i >= 0 => exp.seed = *i as u64,
                ("seed", _) => self.err(v.span, "`seed` must be a non-negative integer", None),
                (other, _) => {
                    let help = did_you_mean(other, EXPERIMENT_KEYS.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        v.key_span,
                        format!("unknown key `{other}` in [experiment]"),
                        help,
                    )
                }
            }
        }
        if exp.name.is_empty() && !self.diags.iter().any(|d| d.message.contains("`name`")) {
            self.err(item.span(), "[experiment] needs a `name`", None);
        }
        exp
    }

    fn stages(&mut self, root: &toml_edit::Table) -> Vec<StageDecl> {
        let Some(item) = root.get("stages") else {
            self.err(
                Some(0..0),
                "no stages: add at least one `[stages.<name>]` table",
                None,
            );
            return Vec::new();
        };
        let Some(t) = item.as_table_like() else {
            self.err(
                item.span(),
                "`stages` must be a table of stage tables",
                None,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, item) in t.iter() {
            let name_span = t.key(name).and_then(|k| k.span());
            if !valid_name(name) {
                self.err(
                    name_span.clone(),
                    format!(
                        "invalid stage name `{}`: use letters, digits, `_` or `-`, at most \
                         {MAX_NAME_LEN} characters",
                        shorten(name)
                    ),
                    None,
                );
                continue;
            }
            let Some(st) = item.as_table_like() else {
                self.err(item.span(), format!("stage `{name}` must be a table"), None);
                continue;
            };
            out.push(self.stage(name, name_span, st, item.span()));
        }
        out
    }

    fn stage(
        &mut self,
        name: &str,
        name_span: Option<Range<usize>>,
        t: &dyn TableLike,
        span: Option<Range<usize>>,
    ) -> StageDecl {
        let mut decl = StageDecl {
            name: name.to_string(),
            name_span: name_span.clone(),
            kind: Located {
                value: String::new(),
                key_span: None,
                span: None,
            },
            inputs: Vec::new(),
            params: BTreeMap::new(),
            resources: BTreeMap::new(),
        };
        let mut values = self.values(t);
        match values.remove("kind") {
            Some(Located {
                value: Value::String(k),
                key_span,
                span,
            }) => {
                decl.kind = Located {
                    value: k,
                    key_span,
                    span,
                }
            }
            Some(v) => self.err(v.span, "`kind` must be a string", None),
            None => self.err(
                name_span.or(span),
                format!("stage `{name}` has no `kind`"),
                Some("add `kind = \"<stage kind>\"`; `mexp stages` lists the kinds".into()),
            ),
        }
        if let Some(v) = values.remove("inputs") {
            match t.get("inputs").and_then(Item::as_table_like) {
                Some(inputs) => {
                    for (port, item) in inputs.iter() {
                        let key_span = inputs.key(port).and_then(|k| k.span());
                        if let Some(file) = item.as_str().and_then(|s| s.strip_prefix("file:")) {
                            decl.inputs.push(InputDecl {
                                port: port.to_string(),
                                stage: String::new(),
                                output: String::new(),
                                file: Some(PathBuf::from(file.trim())),
                                span: item.span(),
                                key_span,
                            });
                            continue;
                        }
                        match item.as_str().and_then(|s| s.split_once('.')) {
                            Some((stage, output)) if !stage.is_empty() && !output.is_empty() => {
                                decl.inputs.push(InputDecl {
                                    port: port.to_string(),
                                    stage: stage.to_string(),
                                    output: output.to_string(),
                                    file: None,
                                    span: item.span(),
                                    key_span,
                                })
                            }
                            _ => self.err(
                                item.span(),
                                format!("input `{port}` must be a string \"<stage>.<output>\" or \"file:<path>\""),
                                None,
                            ),
                        }
                    }
                }
                None => self.err(
                    v.span,
                    "`inputs` must be a table like { port = \"stage.output\" }",
                    None,
                ),
            }
        }
        if let Some(v) = values.remove("resources") {
            match t.get("resources").and_then(Item::as_table_like) {
                Some(r) => decl.resources = self.values(r),
                None => self.err(v.span, "`resources` must be a table", None),
            }
        }
        decl.params = values;
        decl
    }

    fn profiles(
        &mut self,
        root: &toml_edit::Table,
    ) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, Located<Value>>>> {
        let mut out = BTreeMap::new();
        let Some(item) = root.get("profile") else {
            return out;
        };
        let Some(t) = item.as_table_like() else {
            self.err(
                item.span(),
                "`profile` must be a table: [profile.<name>.stages.<stage>]",
                None,
            );
            return out;
        };
        for (pname, pitem) in t.iter() {
            let mut stages = BTreeMap::new();
            match pitem.as_table_like() {
                Some(pt) => {
                    for (k, it) in pt.iter() {
                        if k != "stages" {
                            self.err(pt.key(k).and_then(|k| k.span()), format!("unknown key `{k}` in profile `{pname}`"), Some("profiles override stage parameters: [profile.<name>.stages.<stage>]".into()));
                            continue;
                        }
                        match it.as_table_like() {
                            Some(st) => {
                                for (sname, sitem) in st.iter() {
                                    match sitem.as_table_like() {
                                        Some(tt) => {
                                            let mut vals = self.values(tt);
                                            for v in vals.values_mut() {
                                                if v.key_span.is_none() {
                                                    v.key_span =
                                                        st.key(sname).and_then(|k| k.span());
                                                }
                                            }
                                            stages.insert(sname.to_string(), vals);
                                        }
                                        None => self.err(
                                            sitem.span(),
                                            format!(
                                                "profile `{pname}`: stage `{sname}` must be a table"
                                            ),
                                            None,
                                        ),
                                    }
                                }
                            }
                            None => self.err(it.span(), "`stages` must be a table", None),
                        }
                    }
                }
                None => self.err(
                    pitem.span(),
                    format!("profile `{pname}` must be a table"),
                    None,
                ),
            }
            out.insert(pname.to_string(), stages);
        }
        out
    }

    /// All key/value pairs of a table, converted to `toml::Value`, with spans.
    fn values(&mut self, t: &dyn TableLike) -> BTreeMap<String, Located<Value>> {
        let mut out = BTreeMap::new();
        for (key, item) in t.iter() {
            let key_span = t.key(key).and_then(|k| k.span());
            let text = match item {
                Item::Value(v) => v.to_string(),
                Item::Table(tab) => {
                    let mut inline = tab.clone().into_inline_table();
                    inline.fmt();
                    inline.to_string()
                }
                Item::ArrayOfTables(a) => {
                    let arr: toml_edit::Array = a
                        .iter()
                        .map(|t| toml_edit::Value::InlineTable(t.clone().into_inline_table()))
                        .collect();
                    arr.to_string()
                }
                Item::None => continue,
            };
            match parse_value(&text) {
                Some(value) => {
                    out.insert(
                        key.to_string(),
                        Located {
                            value,
                            key_span,
                            span: item.span(),
                        },
                    );
                }
                None => self.err(
                    item.span(),
                    format!("cannot read the value of `{key}`"),
                    None,
                ),
            }
        }
        out
    }
}

/// Parses a single TOML value from its text.
pub fn parse_value(text: &str) -> Option<Value> {
    let doc: toml::Table = toml::from_str(&format!("v = {}", text.trim())).ok()?;
    doc.get("v").cloned()
}

fn key_span(t: &toml_edit::Table, key: &str) -> Option<Range<usize>> {
    t.key(key).and_then(|k| k.span())
}

/// Longest experiment or stage name: each becomes a folder name under `results/`, beside
/// temporary siblings with a suffix, and most filesystems cap a name at 255 bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Names of experiments and stages: letters, digits, `_`, `-`, at most [`MAX_NAME_LEN`] bytes.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A name for a message: at most 40 characters, then how many more there are.
fn shorten(name: &str) -> String {
    match name.char_indices().nth(40) {
        Some((i, _)) => format!("{}…({} characters)", &name[..i], name.chars().count()),
        None => name.to_string(),
    }
}

/// The error for a manifest that is not UTF-8: where the first bad byte is (line, column and
/// byte offset), rather than the standard library's message without a position.
fn not_utf8(path: &Path, e: &std::string::FromUtf8Error) -> EngineError {
    let bytes = e.as_bytes();
    let at = e.utf8_error().valid_up_to();
    let valid = String::from_utf8_lossy(&bytes[..at]);
    let line = valid.matches('\n').count() + 1;
    let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    EngineError::Usage(format!(
        "{}:{line}:{col}: the manifest is not UTF-8 text: invalid byte 0x{:02x} at byte offset {at}",
        path.display(),
        bytes[at]
    ))
}
