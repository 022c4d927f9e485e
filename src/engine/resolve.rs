//! Parameter layering and validation: stage-catalogue defaults < manifest < profile < sweep point <
//! `--set`, merged with figment. The result (a [`ResolvedExperiment`]) is what gets hashed and recorded.
//!
//! Every error is collected and located: unknown kinds, unknown or misspelled parameters (with a
//! suggestion), wrong types, missing inputs, unknown outputs, dependency cycles.

use std::collections::BTreeMap;
use std::ops::Range;

use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use toml::Value;

use super::catalog::{Catalog, KindSpec, ParamType};
use super::diag::{Diagnostic, did_you_mean, suggestion};
use super::error::{EngineError, Result};
use super::manifest::{Located, Manifest, parse_value};

/// Where a resolved value came from (the layer name shown by `mexp show`).
pub const LAYERS: [&str; 5] = ["catalogue", "manifest", "profile", "sweep", "--set"];

/// A reference to an output of another stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct OutputRef {
    /// Producing stage.
    pub stage: String,
    /// Output name.
    pub output: String,
}

/// A stage with every parameter resolved and validated.
#[derive(Debug, Clone)]
pub struct ResolvedStage {
    /// Stage name.
    pub name: String,
    /// Stage kind.
    pub kind: String,
    /// Every parameter of the kind, with its final value.
    pub params: BTreeMap<String, Value>,
    /// For every parameter, the layer that set it (see [`LAYERS`]).
    pub param_sources: BTreeMap<String, &'static str>,
    /// Input port → upstream output.
    pub inputs: BTreeMap<String, OutputRef>,
    /// Input port → (user file, blake3 digest of its content): `inputs = { x = "file:<path>" }`.
    pub files: BTreeMap<String, (std::path::PathBuf, String)>,
    /// Seed derived from the experiment seed and the stage name.
    pub seed: u64,
    /// Resource hints from the manifest.
    pub resources: BTreeMap<String, Value>,
    /// Code files of a `command` stage (see [`super::command::CodeFiles`]); empty for other kinds.
    pub code: super::command::CodeFiles,
}

/// An experiment (one sweep variant, or the whole experiment without a sweep), fully resolved.
#[derive(Debug, Clone)]
pub struct ResolvedExperiment {
    /// Experiment name.
    pub name: String,
    /// Experiment seed.
    pub seed: u64,
    /// Stages in a topological order (inputs before consumers).
    pub stages: Vec<ResolvedStage>,
}

/// One override `stage.param = value` from a sweep point or `--set`, with where it was written.
#[derive(Debug, Clone)]
pub struct Override {
    /// Stage name.
    pub stage: String,
    /// Parameter name.
    pub param: String,
    /// New value.
    pub value: Value,
    /// Span in the manifest (sweep) or `None` (command line).
    pub span: Option<Range<usize>>,
}

impl Override {
    /// Parses a `--set stage.param=value` argument (value in TOML syntax; bare words are strings).
    pub fn parse_set(arg: &str) -> Result<Override> {
        let usage = || {
            EngineError::Usage(format!(
                "--set `{arg}`: expected <stage>.<param>=<value>, e.g. --set vae.epochs=50"
            ))
        };
        let (path, value) = arg.split_once('=').ok_or_else(usage)?;
        let (stage, param) = path.trim().split_once('.').ok_or_else(usage)?;
        let value = match parse_value(value) {
            Some(v) => v,
            None if looks_like_integer(value) => {
                return Err(EngineError::Usage(format!(
                    "--set `{}`: integer {} is out of range (a parameter holds a 64-bit integer, \
                     at most {})",
                    path.trim(),
                    value.trim(),
                    i64::MAX
                )));
            }
            None => Value::String(value.trim().to_string()),
        };
        Ok(Override {
            stage: stage.to_string(),
            param: param.to_string(),
            value,
            span: None,
        })
    }
}

/// Whether `s` is written like a TOML integer (sign, digits, `_`), so that a value TOML cannot
/// parse is an out-of-range integer rather than a string.
fn looks_like_integer(s: &str) -> bool {
    let digits = s.trim().trim_start_matches(['+', '-']);
    !digits.is_empty()
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// A figment provider for one named layer of parameter values.
struct Layer {
    name: &'static str,
    values: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }
    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Resolves a manifest with an optional profile, sweep-point overrides and `--set` overrides.
pub fn resolve(
    manifest: &Manifest,
    catalog: &Catalog,
    profile: Option<&str>,
    sweep_point: &[Override],
    sets: &[Override],
) -> Result<ResolvedExperiment> {
    let mut diags = Vec::new();
    let profile_layer = match profile {
        None => None,
        Some(p) => match manifest.profiles.get(p) {
            Some(layer) => Some(layer),
            None => {
                let known: Vec<&str> = manifest.profiles.keys().map(String::as_str).collect();
                let help = suggestion(p, known.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "profiles in this manifest: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    )
                });
                return Err(EngineError::Manifest(vec![
                    manifest
                        .diag(None, format!("unknown profile `{p}`"))
                        .with_help(help),
                ]));
            }
        },
    };
    check_override_stages(manifest, profile_layer, sweep_point, sets, &mut diags);

    let mut stages = Vec::new();
    for decl in &manifest.stages {
        let Some(spec) = catalog.get(&decl.kind.value) else {
            let help = suggestion(&decl.kind.value, catalog.names())
                .unwrap_or_else(|| "`mexp stages` lists the stage kinds".into());
            diags.push(
                manifest
                    .diag(
                        decl.kind.span.clone(),
                        format!("unknown stage kind `{}`", decl.kind.value),
                    )
                    .with_help(help),
            );
            continue;
        };
        let mut layers: Vec<(&'static str, BTreeMap<String, Located<Value>>)> =
            vec![("manifest", decl.params.clone())];
        if let Some(p) = profile_layer.and_then(|p| p.get(&decl.name)) {
            layers.push(("profile", p.clone()));
        }
        for (name, ovs) in [("sweep", sweep_point), ("--set", sets)] {
            let vals: BTreeMap<String, Located<Value>> = ovs
                .iter()
                .filter(|o| o.stage == decl.name)
                .map(|o| {
                    (
                        o.param.clone(),
                        Located {
                            value: o.value.clone(),
                            key_span: o.span.clone(),
                            span: o.span.clone(),
                        },
                    )
                })
                .collect();
            if !vals.is_empty() {
                layers.push((name, vals));
            }
        }
        for (_, vals) in &mut layers {
            nest_table_keys(spec, vals);
        }
        match resolve_params(manifest, spec, &decl.name, &layers) {
            Ok((mut params, mut param_sources)) => {
                let mut code = super::command::CodeFiles::new();
                if spec.command {
                    let (files, d) = super::command::check_stage(
                        manifest,
                        decl,
                        &mut params,
                        &mut param_sources,
                    );
                    code = files;
                    diags.extend(d);
                }
                let (inputs, files) = resolve_inputs(manifest, catalog, decl, spec, &mut diags);
                diags.extend(super::resources::validate(
                    manifest,
                    &decl.name,
                    &decl.resources,
                ));
                let resources = decl
                    .resources
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect();
                stages.push(ResolvedStage {
                    name: decl.name.clone(),
                    kind: spec.kind.clone(),
                    params,
                    param_sources,
                    inputs,
                    files,
                    seed: derive_seed(manifest.experiment.seed, &decl.name),
                    resources,
                    code,
                });
            }
            Err(mut d) => diags.append(&mut d),
        }
    }
    if diags.is_empty()
        && let Err(d) = order_stages(manifest, &mut stages)
    {
        diags.push(d);
    }
    if diags.is_empty() {
        Ok(ResolvedExperiment {
            name: manifest.experiment.name.clone(),
            seed: manifest.experiment.seed,
            stages,
        })
    } else {
        Err(EngineError::Manifest(diags))
    }
}

/// Folds `table.entry` keys (a sweep point or `--set` of one entry of a table parameter, e.g.
/// `plot.params.bins`) into a one-entry table: figment merges tables entry by entry, so the entry
/// overrides the lower layers' value and keeps their other entries.
fn nest_table_keys(spec: &KindSpec, vals: &mut BTreeMap<String, Located<Value>>) {
    let dotted: Vec<String> = vals
        .keys()
        .filter(|k| {
            k.split_once('.')
                .is_some_and(|(t, _)| spec.params.get(t).is_some_and(|p| p.ty == ParamType::Table))
        })
        .cloned()
        .collect();
    for key in dotted {
        let Some((table, entry)) = key.split_once('.') else {
            continue;
        };
        let Some(v) = vals.remove(&key) else { continue };
        let slot = vals.entry(table.to_string()).or_insert_with(|| Located {
            value: Value::Table(toml::Table::new()),
            key_span: v.key_span.clone(),
            span: v.span.clone(),
        });
        if let Value::Table(t) = &mut slot.value {
            t.insert(entry.to_string(), v.value);
        }
    }
}

fn check_override_stages(
    manifest: &Manifest,
    profile: Option<&BTreeMap<String, BTreeMap<String, Located<Value>>>>,
    sweep: &[Override],
    sets: &[Override],
    diags: &mut Vec<Diagnostic>,
) {
    let names: Vec<&str> = manifest.stages.iter().map(|s| s.name.as_str()).collect();
    let unknown = |stage: &str, span: Option<Range<usize>>, origin: &str| -> Option<Diagnostic> {
        if names.contains(&stage) {
            return None;
        }
        let help = suggestion(stage, names.iter().copied())
            .unwrap_or_else(|| format!("stages: {}", names.join(", ")));
        Some(
            manifest
                .diag(span, format!("{origin} names unknown stage `{stage}`"))
                .with_help(help),
        )
    };
    if let Some(p) = profile {
        for (stage, vals) in p {
            let span = vals.values().next().and_then(|v| v.key_span.clone());
            diags.extend(unknown(stage, span, "profile"));
        }
    }
    for o in sweep {
        diags.extend(unknown(&o.stage, o.span.clone(), "sweep"));
    }
    for o in sets {
        diags.extend(unknown(
            &o.stage,
            None,
            &format!("--set {}.{}", o.stage, o.param),
        ));
    }
}

type ParamResolution = (BTreeMap<String, Value>, BTreeMap<String, &'static str>);

fn resolve_params(
    manifest: &Manifest,
    spec: &KindSpec,
    stage: &str,
    layers: &[(&'static str, BTreeMap<String, Located<Value>>)],
) -> std::result::Result<ParamResolution, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let names: Vec<&str> = spec.params.keys().map(String::as_str).collect();
    let mut figment = Figment::new().merge(Layer {
        name: "catalogue",
        values: to_dict(
            spec.params
                .iter()
                .map(|(k, p)| (k.clone(), p.default.clone())),
        ),
    });
    for (layer, vals) in layers {
        for (key, v) in vals {
            if !spec.params.contains_key(key) {
                let help = suggestion(key, names.iter().copied())
                    .unwrap_or_else(|| format!("`mexp stages {}` lists its parameters", spec.kind));
                if *layer == "--set" {
                    let msg = format!(
                        "--set {stage}.{key}: stage kind `{}` has no parameter `{key}`",
                        spec.kind
                    );
                    diags.push(
                        Diagnostic::at(std::path::Path::new("<command line>"), "", None, msg)
                            .with_help(help),
                    );
                } else {
                    let msg = format!(
                        "unknown parameter `{key}` for stage `{stage}` (kind `{}`)",
                        spec.kind
                    );
                    diags.push(manifest.diag(v.key_span.clone(), msg).with_help(help));
                }
            }
        }
        figment = figment.merge(Layer {
            name: layer,
            values: to_dict(
                vals.iter()
                    .filter(|(k, _)| spec.params.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.value.clone())),
            ),
        });
    }
    let merged: BTreeMap<String, Value> = match figment.extract() {
        Ok(m) => m,
        Err(e) => {
            diags.push(manifest.diag(
                None,
                format!("stage `{stage}`: cannot merge parameters: {e}"),
            ));
            return Err(diags);
        }
    };
    let mut params = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for (key, pspec) in &spec.params {
        let value = merged
            .get(key)
            .cloned()
            .unwrap_or_else(|| pspec.default.clone());
        let source = figment.find_metadata(key).map_or("catalogue", |m| {
            LAYERS
                .iter()
                .copied()
                .find(|l| *l == m.name)
                .unwrap_or("catalogue")
        });
        match pspec.check(&value) {
            Ok(v) => {
                params.insert(key.clone(), v);
                sources.insert(key.clone(), source);
            }
            Err(msg) => {
                let span = layers.iter().rev().find_map(|(l, vals)| {
                    (*l == source)
                        .then(|| vals.get(key).and_then(|v| v.span.clone()))
                        .flatten()
                });
                let origin = if source == "--set" {
                    format!(" (from --set {stage}.{key})")
                } else {
                    String::new()
                };
                diags.push(
                    manifest
                        .diag(
                            span,
                            format!("stage `{stage}`, parameter `{key}`: {msg}{origin}"),
                        )
                        .with_help(format!("{key}: {} — {}", pspec.ty.name(), pspec.doc)),
                );
            }
        }
    }
    if diags.is_empty() {
        Ok((params, sources))
    } else {
        Err(diags)
    }
}

fn to_dict(values: impl Iterator<Item = (String, Value)>) -> Dict {
    values
        .filter_map(|(k, v)| figment::value::Value::serialize(&v).ok().map(|v| (k, v)))
        .collect()
}

fn resolve_inputs(
    manifest: &Manifest,
    catalog: &Catalog,
    decl: &super::manifest::StageDecl,
    spec: &KindSpec,
    diags: &mut Vec<Diagnostic>,
) -> (
    BTreeMap<String, OutputRef>,
    BTreeMap<String, (std::path::PathBuf, String)>,
) {
    let mut inputs = BTreeMap::new();
    let mut files = BTreeMap::new();
    let stage_names: Vec<&str> = manifest.stages.iter().map(|s| s.name.as_str()).collect();
    for inp in &decl.inputs {
        if !spec.any_inputs && !spec.inputs.contains_key(&inp.port) {
            let help = suggestion(&inp.port, spec.inputs.keys().map(String::as_str))
                .unwrap_or_else(|| {
                    format!(
                        "inputs of `{}`: {}",
                        spec.kind,
                        join_or_none(spec.inputs.keys())
                    )
                });
            diags.push(
                manifest
                    .diag(
                        inp.key_span.clone(),
                        format!(
                            "stage `{}` (kind `{}`) has no input `{}`",
                            decl.name, spec.kind, inp.port
                        ),
                    )
                    .with_help(help),
            );
            continue;
        }
        if let Some(rel) = &inp.file {
            let base = manifest.path.parent().unwrap_or(std::path::Path::new("."));
            let path = if rel.is_absolute() {
                rel.clone()
            } else {
                base.join(rel)
            };
            match super::cache::hash_file(&path) {
                Ok(digest) => {
                    files.insert(inp.port.clone(), (path, digest));
                }
                Err(e) => diags.push(
                    manifest
                        .diag(
                            inp.span.clone(),
                            format!(
                                "input `{}` of stage `{}`: cannot read {}: {e}",
                                inp.port,
                                decl.name,
                                path.display()
                            ),
                        )
                        .with_help("file inputs are relative to the manifest's folder"),
                ),
            }
            continue;
        }
        let Some(up) = manifest.stage(&inp.stage) else {
            let help = suggestion(&inp.stage, stage_names.iter().copied())
                .unwrap_or_else(|| format!("stages: {}", stage_names.join(", ")));
            diags.push(
                manifest
                    .diag(
                        inp.span.clone(),
                        format!(
                            "input `{}` of stage `{}` refers to unknown stage `{}`",
                            inp.port, decl.name, inp.stage
                        ),
                    )
                    .with_help(help),
            );
            continue;
        };
        let up_outputs = catalog
            .get(&up.kind.value)
            .map(|up_spec| (up_spec, super::command::declared_outputs(up_spec, up)));
        if let Some((up_spec, up_outputs)) = &up_outputs
            && !up_outputs.contains_key(&inp.output)
        {
            let help = did_you_mean(&inp.output, up_outputs.keys().map(String::as_str))
                .map(|s| format!("did you mean `{}.{s}`?", inp.stage))
                .unwrap_or_else(|| {
                    format!(
                        "outputs of `{}`: {}",
                        up_spec.kind,
                        join_or_none(up_outputs.keys())
                    )
                });
            diags.push(
                manifest
                    .diag(
                        inp.span.clone(),
                        format!(
                            "stage `{}` (kind `{}`) has no output `{}`",
                            inp.stage, up_spec.kind, inp.output
                        ),
                    )
                    .with_help(help),
            );
            continue;
        }
        inputs.insert(
            inp.port.clone(),
            OutputRef {
                stage: inp.stage.clone(),
                output: inp.output.clone(),
            },
        );
    }
    for (port, ispec) in &spec.inputs {
        if !ispec.optional
            && !inputs.contains_key(port)
            && !files.contains_key(port)
            && !decl.inputs.iter().any(|i| &i.port == port)
        {
            diags.push(
                manifest
                    .diag(
                        decl.name_span.clone(),
                        format!(
                            "stage `{}` (kind `{}`) is missing its input `{port}`",
                            decl.name, spec.kind
                        ),
                    )
                    .with_help(format!(
                        "add `inputs = {{ {port} = \"<stage>.<output>\" }}` — {}",
                        ispec.doc
                    )),
            );
        }
    }
    (inputs, files)
}

fn join_or_none<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Sorts stages topologically (stable: file order among independent stages); names any cycle.
fn order_stages(
    manifest: &Manifest,
    stages: &mut Vec<ResolvedStage>,
) -> std::result::Result<(), Diagnostic> {
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..stages.len()).map(|i| graph.add_node(i)).collect();
    let index: BTreeMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    for (i, s) in stages.iter().enumerate() {
        for r in s.inputs.values() {
            if let Some(&j) = index.get(r.stage.as_str()) {
                graph.update_edge(nodes[j], nodes[i], ());
            }
        }
    }
    for scc in tarjan_scc(&graph) {
        let cyclic = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if cyclic {
            let mut names: Vec<&str> = scc
                .iter()
                .map(|n| stages[graph[*n]].name.as_str())
                .collect();
            names.sort_by_key(|n| index[n]);
            // Walk the cycle in dependency order starting from the first stage in file order.
            let cycle = walk_cycle(&names, stages);
            let span = manifest.stage(names[0]).and_then(|d| d.name_span.clone());
            return Err(manifest
                .diag(span, format!("dependency cycle: {cycle}"))
                .with_help("a stage cannot consume, directly or indirectly, its own outputs"));
        }
    }
    // Kahn's algorithm with file order as the tie-breaker.
    let mut placed = vec![false; stages.len()];
    let mut order = Vec::with_capacity(stages.len());
    while order.len() < stages.len() {
        let next = (0..stages.len()).find(|&i| {
            !placed[i]
                && stages[i]
                    .inputs
                    .values()
                    .all(|r| index.get(r.stage.as_str()).is_none_or(|&j| placed[j]))
        });
        let Some(i) = next else { break };
        placed[i] = true;
        order.push(i);
    }
    let mut taken: Vec<Option<ResolvedStage>> =
        std::mem::take(stages).into_iter().map(Some).collect();
    *stages = order.into_iter().filter_map(|i| taken[i].take()).collect();
    Ok(())
}

fn walk_cycle(members: &[&str], stages: &[ResolvedStage]) -> String {
    let start = members[0];
    let mut path = vec![start.to_string()];
    let mut current = start;
    for _ in 0..members.len() {
        // The consumer of `current` inside the cycle.
        let next = stages
            .iter()
            .filter(|s| members.contains(&s.name.as_str()))
            .find(|s| s.inputs.values().any(|r| r.stage == current))
            .map(|s| s.name.as_str());
        match next {
            Some(n) => {
                path.push(n.to_string());
                if n == start {
                    break;
                }
                current = n;
            }
            None => break,
        }
    }
    path.join(" → ")
}

/// The seed of a stage: the first 8 bytes of blake3("mexp-seed-v1", experiment seed, stage name).
pub fn derive_seed(experiment_seed: u64, stage: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(b"mexp-seed-v1\0");
    h.update(&experiment_seed.to_le_bytes());
    h.update(stage.as_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}
