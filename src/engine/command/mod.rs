//! Any program as a stage: the `command` kind (catalogue entry `stages/command.toml`).
//!
//! A `command` stage declares in the manifest what a built-in kind declares in its catalogue entry:
//!
//! ```toml
//! [stages.plot]
//! kind = "command"
//! run = ["python3", "scripts/plot.py", "{inputs.anchors}", "{outputs.figure}", "{params.bins}"]
//! inputs = { anchors = "anchors.anchors" }
//! outputs = { figure = "figure.png", frames = "frames/" }   # a trailing `/`: a directory
//! code = ["scripts/plot.py", "scripts/common/"]
//! env = { OMP_NUM_THREADS = "1" }
//! params = { bins = 40 }
//! version = ["python3", "--version"]
//! ```
//!
//! All of these are parameters of the kind, so they enter the key like any parameter (`run` as
//! written, placeholders unexpanded: stable names, never cache paths) and sweep like any parameter
//! (`"plot.params.bins" = [20, 40]`, `"plot.run" = [[…], […]]`). Resolution ([`check_stage`]) adds
//! two derived parameters: `code:<path>` (blake3 of the contents of every file a `code` entry
//! names, folders walked in sorted order) and `version:output` (what the `version` program printed),
//! so a changed script reruns the stage and `plan` names the file. The runner ([`run::run_command`])
//! works in the stage's fresh staging folder: inputs are symlinked read-only under `inputs/<port>`,
//! code is copied from the store at its relative path, the program's outputs are checked and then
//! published by the job runner like any kind's.

mod check;
// Reached only through the `command` adapter (not re-exported here), so that editing the runner
// does not move the fingerprint of every other kind (this file is in their reach).
pub mod run;

use std::borrow::Cow;
use std::collections::BTreeMap;

use toml::Value;

pub use check::{CodeFiles, check_stage};

use super::catalog::{KindSpec, OutputSpec};
use super::manifest::StageDecl;

/// Prefix of the derived parameters holding the digest of one code file (`code:scripts/x.py`).
pub const CODE_PREFIX: &str = "code:";
/// Derived parameter holding the output of the `version` program.
pub const VERSION_OUTPUT: &str = "version:output";
/// Folder of the working directory where the inputs are linked (`inputs/<port>`).
pub const INPUTS_DIR: &str = "inputs";
/// Folder of the working directory where the code files are copied (`code/<path>`).
pub const CODE_DIR: &str = "code";
/// File of the working directory holding the stage's `params` as JSON.
pub const PARAMS_FILE: &str = ".mexp-params.json";

/// The outputs of a stage of `spec`'s kind with resolved `params`: the catalogue's, or, for a
/// `command` stage, those its `outputs` parameter declares (a value ending in `/` is a directory).
pub fn outputs<'a>(
    spec: &'a KindSpec,
    params: &BTreeMap<String, Value>,
) -> Cow<'a, BTreeMap<String, OutputSpec>> {
    if !spec.command {
        return Cow::Borrowed(&spec.outputs);
    }
    Cow::Owned(parse_outputs(params.get("outputs")))
}

/// Like [`outputs`], from a stage's declaration (its manifest values), before resolution.
pub fn declared_outputs<'a>(
    spec: &'a KindSpec,
    decl: &StageDecl,
) -> Cow<'a, BTreeMap<String, OutputSpec>> {
    if !spec.command {
        return Cow::Borrowed(&spec.outputs);
    }
    Cow::Owned(parse_outputs(decl.params.get("outputs").map(|v| &v.value)))
}

fn parse_outputs(v: Option<&Value>) -> BTreeMap<String, OutputSpec> {
    let Some(Value::Table(t)) = v else {
        return BTreeMap::new();
    };
    t.iter()
        .filter_map(|(name, v)| v.as_str().map(|s| (name.clone(), output_spec(s))))
        .collect()
}

/// An output declared as `"file"` or `"folder/"`.
fn output_spec(declared: &str) -> OutputSpec {
    let dir = declared.ends_with('/');
    OutputSpec {
        file: declared.trim_end_matches('/').to_string(),
        doc: String::new(),
        dir,
    }
}

/// Where a code file named `rel` (relative to the manifest's folder) is copied in the working
/// directory: under `code/`, each leading `..` written as `_up`, so the files keep their layout
/// (a script finds the modules beside it).
pub fn code_copy(rel: &str) -> String {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(|p| if p == ".." { "_up" } else { p })
        .collect();
    format!("{CODE_DIR}/{}", parts.join("/"))
}

/// One piece of a `run` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text taken as is (`{{` and `}}` stand for braces).
    Text(String),
    /// A `{name}` placeholder.
    Placeholder(String),
}

/// Splits a `run` argument into text and placeholders; the error says what is malformed.
pub fn parse_arg(arg: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = arg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "unclosed `{{` in `{arg}` (write `{{{{` for a literal brace)"
                            ));
                        }
                        Some(c) => name.push(c),
                    }
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Placeholder(name.trim().to_string()));
            }
            '}' => {
                return Err(format!(
                    "stray `}}` in `{arg}` (write `}}}}` for a literal brace)"
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// A parameter value as a program sees it: strings as they are, other values as JSON.
pub fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The `MEXP_PARAM_<NAME>` variable of a parameter: upper case, other characters as `_`.
pub fn param_var(name: &str) -> String {
    let tail: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("MEXP_PARAM_{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_escaped_braces_are_split() {
        assert_eq!(
            parse_arg("--in={inputs.a}.x{{y}}").expect("valid"),
            vec![
                Piece::Text("--in=".into()),
                Piece::Placeholder("inputs.a".into()),
                Piece::Text(".x{y}".into()),
            ]
        );
        assert!(parse_arg("{open").is_err());
        assert!(parse_arg("close}").is_err());
    }

    #[test]
    fn a_trailing_slash_declares_a_directory_output() {
        let mut t = toml::Table::new();
        t.insert("model".into(), Value::String("model/".into()));
        t.insert("fig".into(), Value::String("fig.png".into()));
        let outs = parse_outputs(Some(&Value::Table(t)));
        assert!(outs["model"].dir && outs["model"].file == "model");
        assert!(!outs["fig"].dir && outs["fig"].file == "fig.png");
        assert_eq!(param_var("n-bins.x"), "MEXP_PARAM_N_BINS_X");
        assert_eq!(code_copy("../benches/x.py"), "code/_up/benches/x.py");
        assert_eq!(code_copy("./scripts/lib/"), "code/scripts/lib");
        assert_eq!(param_text(&Value::Integer(3)), "3");
        assert_eq!(param_text(&Value::String("a b".into())), "a b");
    }
}
