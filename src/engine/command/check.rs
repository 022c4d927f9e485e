//! Resolution of a `command` stage: located checks of what the manifest declares, and the derived
//! parameters that put the contents of its code and its program's version into the key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use toml::Value;

use super::{CODE_DIR, CODE_PREFIX, INPUTS_DIR, Piece, VERSION_OUTPUT, parse_arg, parse_outputs};
use crate::engine::cache::{hash_file, read_dir_sorted};
use crate::engine::diag::{Diagnostic, did_you_mean};
use crate::engine::manifest::{Manifest, StageDecl, valid_name};

/// Placeholders that need no declaration.
const FIXED: &[&str] = &["seed", "threads", "params_file"];

/// Code files of a stage: name in the key (the path as written, relative to the manifest's
/// folder) → (path to read it from, blake3 hex of its contents).
pub type CodeFiles = BTreeMap<String, (PathBuf, String)>;

/// Checks a `command` stage's resolved parameters against its declaration (unknown placeholder,
/// output clash, missing code path, empty `run`, …), every error located in the manifest, and adds
/// the derived parameters `code:<path>` (content digest of each code file) and `version:output`.
/// Returns the code files (for the job ticket, which stores them) and the errors.
pub fn check_stage(
    manifest: &Manifest,
    decl: &StageDecl,
    params: &mut BTreeMap<String, Value>,
    sources: &mut BTreeMap<String, &'static str>,
) -> (CodeFiles, Vec<Diagnostic>) {
    let mut c = Checker {
        manifest,
        decl,
        diags: Vec::new(),
    };
    let outputs = c.outputs(params.get("outputs"));
    c.run(params, &outputs);
    c.env(params.get("env"));
    let code = c.code(params.get("code"));
    for (name, (_, digest)) in &code {
        params.insert(
            format!("{CODE_PREFIX}{name}"),
            Value::String(digest.clone()),
        );
        sources.insert(format!("{CODE_PREFIX}{name}"), "code");
    }
    if let Some(out) = c.version(params.get("version")) {
        params.insert(VERSION_OUTPUT.into(), Value::String(out));
        sources.insert(VERSION_OUTPUT.into(), "version");
    }
    (code, c.diags)
}

struct Checker<'a> {
    manifest: &'a Manifest,
    decl: &'a StageDecl,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// The span of a field of the stage (its value where the manifest sets it, else the header).
    fn span(&self, field: &str) -> Option<Range<usize>> {
        self.decl
            .params
            .get(field)
            .and_then(|v| v.span.clone())
            .or_else(|| self.decl.name_span.clone())
    }

    fn err(&mut self, field: &str, msg: String, help: Option<String>) {
        let mut d = self.manifest.diag(
            self.span(field),
            format!("stage `{}` (kind `command`): {msg}", self.decl.name),
        );
        d.help = help;
        self.diags.push(d);
    }

    /// Output names and the workdir paths they claim; clashes are errors.
    fn outputs(&mut self, v: Option<&Value>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(Value::Table(t)) = v {
            for (name, v) in t {
                if !v.is_str() {
                    self.err(
                        "outputs",
                        format!("output `{name}` must be a file name (a folder ends with `/`)"),
                        None,
                    );
                } else if !valid_name(name) {
                    self.err(
                        "outputs",
                        format!("invalid output name `{name}`: use letters, digits, `_` or `-`"),
                        None,
                    );
                }
            }
        }
        let declared = parse_outputs(v);
        if declared.is_empty() {
            self.err(
                "outputs",
                "declares no outputs".into(),
                Some("add e.g. `outputs = { figure = \"figure.png\" }`".into()),
            );
        }
        for (name, spec) in declared {
            if let Err(why) = relative_path(&spec.file) {
                self.err("outputs", format!("output `{name}`: {why}"), None);
                continue;
            }
            if let Some((other, other_file)) = out
                .iter()
                .find(|(_, f): &(&String, &String)| overlaps(f, &spec.file))
            {
                self.err(
                    "outputs",
                    format!(
                        "output name clash: `{name}` ({}) and `{other}` ({other_file}) are the same path or one lies inside the other",
                        spec.file
                    ),
                    Some("give every output its own file or folder".into()),
                );
                continue;
            }
            out.insert(name, spec.file);
        }
        out
    }

    fn run(&mut self, params: &BTreeMap<String, Value>, outputs: &BTreeMap<String, String>) {
        let run: Vec<&str> = match params.get("run") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if run.is_empty() || run[0].trim().is_empty() {
            self.err(
                "run",
                "`run` is empty: nothing to run".into(),
                Some("give the program and its arguments, e.g. `run = [\"python3\", \"scripts/plot.py\", \"{outputs.figure}\"]`".into()),
            );
        }
        let mut known: BTreeSet<String> = FIXED.iter().map(|s| s.to_string()).collect();
        known.extend(
            self.decl
                .inputs
                .iter()
                .map(|i| format!("inputs.{}", i.port)),
        );
        known.extend(outputs.keys().map(|o| format!("outputs.{o}")));
        if let Some(Value::Table(t)) = params.get("params") {
            known.extend(t.keys().map(|k| format!("params.{k}")));
        }
        for port in self.decl.inputs.iter().map(|i| i.port.clone()) {
            if !valid_name(&port) {
                self.err(
                    "inputs",
                    format!("invalid input port `{port}`: use letters, digits, `_` or `-`"),
                    None,
                );
            }
        }
        for arg in run {
            match parse_arg(arg) {
                Err(why) => self.err("run", why, None),
                Ok(pieces) => {
                    for p in pieces {
                        if let Piece::Placeholder(name) = p
                            && !known.contains(&name)
                        {
                            let help = did_you_mean(&name, known.iter().map(String::as_str))
                                .map(|s| format!("did you mean `{{{s}}}`?"))
                                .unwrap_or_else(|| {
                                    format!(
                                        "placeholders here: {}",
                                        known
                                            .iter()
                                            .map(|k| format!("{{{k}}}"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )
                                });
                            self.err(
                                "run",
                                format!("unknown placeholder `{{{name}}}` in `run`"),
                                Some(help),
                            );
                        }
                    }
                }
            }
        }
    }

    fn env(&mut self, v: Option<&Value>) {
        let Some(Value::Table(t)) = v else { return };
        for (name, v) in t {
            let ok_name = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok_name {
                self.err("env", format!("invalid variable name `{name}`"), None);
            }
            if !v.is_str() {
                self.err(
                    "env",
                    format!("`{name}` must be a string (write `\"1\"`, not `1`)"),
                    None,
                );
            }
        }
    }

    /// Hashes every file the `code` entries name (relative to the manifest's folder).
    fn code(&mut self, v: Option<&Value>) -> CodeFiles {
        let mut files = CodeFiles::new();
        let entries: Vec<&str> = match v {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let base = self
            .manifest
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        for entry in entries {
            let rel = entry.trim_end_matches('/');
            if let Err(why) = code_path(rel) {
                self.err("code", format!("code path `{entry}`: {why}"), None);
                continue;
            }
            let path = base.join(rel);
            if !path.exists() {
                self.err(
                    "code",
                    format!("code path `{entry}` does not exist ({})", path.display()),
                    Some(
                        "code paths are relative to the manifest's folder, like `file:` inputs"
                            .into(),
                    ),
                );
                continue;
            }
            if let Err(why) = hash_tree(&path, rel, &mut files) {
                self.err("code", format!("code path `{entry}`: {why}"), None);
            }
        }
        files
    }

    fn version(&mut self, v: Option<&Value>) -> Option<String> {
        let argv: Vec<String> = match v {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        if argv.is_empty() {
            return None;
        }
        match program_version(&argv) {
            Ok(out) => Some(out),
            Err(why) => {
                self.err("version", why, None);
                None
            }
        }
    }
}

/// Files below (or at) `path`, in sorted order, as `name/relative` → (path, digest).
fn hash_tree(path: &Path, name: &str, out: &mut CodeFiles) -> Result<(), String> {
    if path.is_dir() {
        for p in read_dir_sorted(path).map_err(|e| e.to_string())? {
            let file = p
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            if file == "__pycache__" || file == ".git" {
                continue;
            }
            hash_tree(&p, &format!("{name}/{file}"), out)?;
        }
        Ok(())
    } else {
        code_path(name)?;
        let digest = hash_file(path).map_err(|e| e.to_string())?;
        out.insert(name.to_string(), (path.to_path_buf(), digest));
        Ok(())
    }
}

/// A code path: relative (`..` allowed: it is relative to the manifest's folder), printable.
fn code_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("the path is empty".into());
    }
    if p.chars().any(char::is_control) {
        return Err("the path holds a control character".into());
    }
    if Path::new(p).is_absolute() {
        return Err(
            "must be relative to the manifest's folder (an absolute path would tie the key to this machine)"
                .into(),
        );
    }
    Ok(())
}

/// A path inside the working directory: relative, no `..`, no control characters, not reserved.
fn relative_path(p: &str) -> Result<(), String> {
    let path = Path::new(p);
    if p.is_empty() {
        return Err("the path is empty".into());
    }
    if p.chars().any(char::is_control) {
        return Err("the path holds a control character".into());
    }
    if !path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must be a relative path without `..`".into());
    }
    let first = path
        .components()
        .find(|c| matches!(c, Component::Normal(_)))
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .unwrap_or_default();
    if first == INPUTS_DIR || first == CODE_DIR || first.starts_with(".mexp") {
        return Err(format!(
            "`{first}` is reserved (inputs are linked under `{INPUTS_DIR}/`, code copied under `{CODE_DIR}/`)"
        ));
    }
    Ok(())
}

/// Whether two workdir paths are the same or one lies inside the other.
fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (Path::new(a), Path::new(b));
    a.starts_with(b) || b.starts_with(a)
}

/// Outputs of the `version` programs run so far, by argument vector.
type VersionMemo = HashMap<Vec<String>, Result<String, String>>;

/// What `argv` prints (trimmed stdout, or stderr when stdout is empty), once per process per
/// argument vector.
fn program_version(argv: &[String]) -> Result<String, String> {
    static SEEN: Mutex<Option<VersionMemo>> = Mutex::new(None);
    let mut seen = SEEN
        .lock()
        .map_err(|_| "version cache poisoned".to_string())?;
    let map = seen.get_or_insert_with(HashMap::new);
    if let Some(r) = map.get(argv) {
        return r.clone();
    }
    let shown = argv.join(" ");
    let r = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`version` program `{shown}` cannot run: {e}"))
        .and_then(|o| {
            if o.status.success() {
                // stdout; stderr only when stdout is empty (some tools print their version
                // there): stderr tends to carry log lines with times in them.
                let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
                Ok(if out.is_empty() {
                    String::from_utf8_lossy(&o.stderr).trim().to_string()
                } else {
                    out
                })
            } else {
                Err(format!("`version` program `{shown}` failed ({})", o.status))
            }
        });
    map.insert(argv.to_vec(), r.clone());
    r
}
