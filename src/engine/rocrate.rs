//! Provenance export: a Workflow Run RO-Crate (<https://w3id.org/ro/wfrun/provenance/0.5>, the
//! profiles `nf-prov` emits) of a fully cached plan. The manifest is the main entity (a
//! `ComputationalWorkflow` with one `HowToStep` per stage); each job is a `CreateAction` whose
//! instrument is a `SoftwareApplication` for its kind and implementation fingerprint, whose object is
//! its input files and its parameters (`PropertyValue`s, each the example of a `FormalParameter`)
//! and whose result is its output files, each carrying its blake3 digest. An `OrganizeAction` with
//! mexp as instrument ties the steps' `ControlAction`s to the run. Artifacts are copied (re-hashed
//! on the way), never linked, so nothing in the crate can reach the cache.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::cache::Cache;
use super::error::{EngineError, Result};
use super::history::format_utc;
use super::plan::{JobStatus, Plan, PlanState};
use super::record::{Record, read_tree};

const PROFILES: [(&str, &str); 4] = [
    ("https://w3id.org/ro/wfrun/process/0.5", "Process Run Crate"),
    (
        "https://w3id.org/ro/wfrun/workflow/0.5",
        "Workflow Run Crate",
    ),
    (
        "https://w3id.org/ro/wfrun/provenance/0.5",
        "Provenance Run Crate",
    ),
    (
        "https://w3id.org/workflowhub/workflow-ro-crate/1.0",
        "Workflow RO-Crate",
    ),
];
const FORMAL_PARAMETER: &str = "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE";
const COMPUTATIONAL_WORKFLOW: &str =
    "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE";

/// What an export wrote.
#[derive(Debug, Default)]
pub struct CrateSummary {
    /// Stage runs (CreateActions).
    pub actions: usize,
    /// Files copied into the crate.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// Where the crate describes a workflow from.
pub struct CrateSource<'a> {
    /// The manifest file (copied in as the main workflow).
    pub manifest: &'a Path,
    /// Experiment name.
    pub name: &'a str,
    /// Experiment description.
    pub description: &'a str,
    /// SPDX identifier of the license of the exported data (`CC-BY-4.0`).
    pub license: &'a str,
}

/// Writes the crate of `plan` (whose statuses are `st`) into `dir`, which must not exist or be
/// empty. Every job must be cached: the error names those that are not.
pub fn export(
    plan: &Plan,
    st: &[JobStatus],
    cache: &Cache,
    source: &CrateSource,
    dir: &Path,
) -> Result<CrateSummary> {
    let missing: Vec<String> = plan
        .jobs
        .iter()
        .zip(st)
        .filter(|(_, s)| s.state != PlanState::Cached || s.record.is_none())
        .map(|(job, _)| job.stage.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(EngineError::Usage(format!(
            "not cached, so nothing to export for: {}; run `mexp run {}` first (with the same \
             --profile, --set and --backend)",
            missing.join(", "),
            source.manifest.display()
        )));
    }
    if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(EngineError::Usage(format!(
            "{} is not empty; export into a new folder",
            dir.display()
        )));
    }
    fs::create_dir_all(dir).map_err(|e| EngineError::io("creating", dir, e))?;
    let mut b = Builder {
        cache,
        dir,
        graph: Vec::new(),
        index: HashMap::new(),
        summary: CrateSummary::default(),
    };
    b.build(plan, st, source)?;
    for entity in &mut b.graph {
        single_values(entity);
    }
    let doc = json!({
        "@context": [
            "https://w3id.org/ro/crate/1.1/context",
            "https://w3id.org/ro/terms/workflow-run/context"
        ],
        "@graph": b.graph
    });
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| EngineError::Usage(e.to_string()))?;
    let path = dir.join("ro-crate-metadata.json");
    fs::write(&path, bytes).map_err(|e| EngineError::io("writing", &path, e))?;
    Ok(b.summary)
}

struct Builder<'a> {
    cache: &'a Cache,
    dir: &'a Path,
    graph: Vec<Value>,
    /// `@id` → position in `graph` (lookups stay O(1) in crates of large sweeps).
    index: HashMap<String, usize>,
    summary: CrateSummary,
}

/// `2026-12-06T09:15:11Z`.
fn iso(unix: u64) -> String {
    let t = format_utc(unix);
    format!("{}+00:00", t.trim_end_matches(" UTC").replacen(' ', "T", 1))
}

fn id(s: &str) -> Value {
    json!({"@id": s})
}

fn ids<'a>(v: impl IntoIterator<Item = &'a String>) -> Value {
    v.into_iter().map(|s| id(s)).collect()
}

impl Builder<'_> {
    /// Adds an entity to the graph.
    fn push(&mut self, entity: Value) {
        if let Some(id) = entity["@id"].as_str() {
            self.index.insert(id.to_string(), self.graph.len());
        }
        self.graph.push(entity);
    }

    fn build(&mut self, plan: &Plan, st: &[JobStatus], source: &CrateSource) -> Result<()> {
        let wf = source.manifest.file_name().map_or_else(
            || "manifest.toml".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let wf_bytes = self.copy_file(source.manifest, &wf)?;
        let version = env!("CARGO_PKG_VERSION");
        // Per job: its tag, the crate ids of its outputs, its record.
        let mut out_ids: Vec<BTreeMap<String, String>> = Vec::new();
        let (mut steps, mut tools, mut actions, mut controls, mut connections) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut all_files: Vec<String> = vec![wf.clone()];
        let (mut run_object, mut run_result) = (Vec::new(), Vec::new());
        let (mut first_start, mut last_end) = (u64::MAX, 0u64);
        for (j, job) in plan.jobs.iter().enumerate() {
            let rec: &Record = st[j]
                .record
                .as_ref()
                .ok_or_else(|| EngineError::Usage(format!("{} is not cached", job.stage.name)))?;
            let (vi, name) = &job.uses[0];
            let variant = &plan.variants[*vi].name;
            let (tag, folder) = if variant.is_empty() {
                (name.clone(), name.clone())
            } else {
                (format!("{variant}-{name}"), format!("{variant}/{name}"))
            };
            let (tool, step, action, control) = (
                format!("#tool-{tag}"),
                format!("#step-{tag}"),
                format!("#run-{tag}"),
                format!("#control-{tag}"),
            );
            let (mut tool_in, mut tool_out, mut object, mut result) =
                (vec![], vec![], vec![], vec![]);
            let mut step_connections: Vec<String> = Vec::new();
            // Inputs: upstream outputs (already in the crate) and user files (copied in).
            for (port, (path, digest)) in &job.stage.files {
                let fname = path
                    .file_name()
                    .map_or_else(|| port.clone(), |n| n.to_string_lossy().into_owned());
                let rel = format!("inputs/{port}-{}/{fname}", &digest[..12]);
                let fp = self.formal(&tag, "in", port, "File");
                self.copy_object(digest, &rel, &fp)?;
                all_files.push(rel.clone());
                run_object.push(rel.clone());
                tool_in.push(fp);
                object.push(rel);
            }
            for (port, (up, output)) in &job.deps {
                let src = out_ids[*up].get(output);
                // A folder output (a Dataset, its id ending in `/`) feeds a Dataset parameter.
                let ty = if src.is_some_and(|s| s.ends_with('/')) {
                    "Dataset"
                } else {
                    "File"
                };
                let fp = self.formal(&tag, "in", port, ty);
                if let Some(src) = src {
                    object.push(src.clone());
                    self.link_example(&fp, src);
                    let upstream_tag = tag_of(plan, *up);
                    let conn = format!("#connection-{tag}-{port}");
                    self.push(json!({"@id": conn, "@type": "ParameterConnection",
                        "sourceParameter": id(&format!("#{upstream_tag}-out-{output}")),
                        "targetParameter": id(&fp)}));
                    connections.push(conn.clone());
                    step_connections.push(conn);
                }
                tool_in.push(fp);
            }
            // Parameters.
            for (pname, v) in &job.stage.params {
                let (ty, value) = property_value(v);
                let fp = self.formal(&tag, "param", pname, ty);
                let pv = format!("#pv-{tag}-{pname}");
                self.push(json!({"@id": pv, "@type": "PropertyValue", "name": pname,
                    "value": value}));
                self.link_example(&fp, &pv);
                tool_in.push(fp);
                object.push(pv);
            }
            // Outputs.
            let mut outs = BTreeMap::new();
            for (oname, o) in &rec.outputs {
                let fp = self.formal(&tag, "out", oname, if o.dir { "Dataset" } else { "File" });
                let rel = format!("{folder}/{}", o.file);
                if o.dir {
                    let tree = read_tree(self.cache, &o.digest)
                        .ok_or_else(|| self.cache.corrupt_error(&o.digest))?;
                    let mut parts = Vec::new();
                    for (member, (d, _)) in tree {
                        let mrel = format!("{rel}/{member}");
                        self.copy_object_plain(&d, &mrel)?;
                        all_files.push(mrel.clone());
                        parts.push(mrel);
                    }
                    let did = format!("{rel}/");
                    self.push(json!({"@id": did, "@type": "Dataset", "name": o.file,
                        "hasPart": ids(&parts), "identifier": format!("blake3:{}", o.digest)}));
                    self.link_example(&fp, &did);
                    all_files.push(did.clone());
                    outs.insert(oname.clone(), did.clone());
                    result.push(did);
                } else {
                    self.copy_object(&o.digest, &rel, &fp)?;
                    all_files.push(rel.clone());
                    outs.insert(oname.clone(), rel.clone());
                    result.push(rel);
                }
                tool_out.push(fp);
            }
            out_ids.push(outs);
            run_result.extend(result.iter().cloned());
            let end = rec.started_unix + rec.wall_seconds.ceil() as u64;
            first_start = first_start.min(rec.started_unix);
            last_end = last_end.max(end);
            self.push(json!({"@id": tool, "@type": "SoftwareApplication",
                "name": format!("mexp stage kind `{}`", job.stage.kind),
                "softwareVersion": job.implementation,
                "description": format!("The `{}` stage kind of mexp {version}; softwareVersion is its implementation fingerprint (blake3 over its source files and locked crates).", job.stage.kind),
                "input": ids(&tool_in), "output": ids(&tool_out)}));
            self.push(json!({"@id": step, "@type": "HowToStep", "name": name,
                "position": j.to_string(), "workExample": id(&tool),
                "connection": ids(&step_connections)}));
            self.push(json!({"@id": action, "@type": "CreateAction",
                "name": format!("Run of stage {name} ({})", job.stage.kind),
                "description": format!("mexp stage {name}{}; cache key {}", if variant.is_empty() { String::new() } else { format!(" of sweep variant {variant}") }, rec.key),
                "identifier": rec.key, "instrument": id(&tool),
                "startTime": iso(rec.started_unix), "endTime": iso(end),
                "actionStatus": "http://schema.org/CompletedActionStatus",
                "object": ids(&object), "result": ids(&result)}));
            self.push(json!({"@id": control, "@type": "ControlAction",
                "name": format!("Orchestration of stage {name}"),
                "instrument": id(&step), "object": id(&action)}));
            tools.push(tool);
            steps.push(step);
            actions.push(action);
            controls.push(control);
        }
        let run = "#run".to_string();
        self.push(json!({"@id": run, "@type": "CreateAction",
            "name": format!("mexp run of {}", source.name),
            "description": "The run whose cached stage results this crate holds",
            "instrument": id(&wf), "startTime": iso(first_start.min(last_end)), "endTime": iso(last_end),
            "actionStatus": "http://schema.org/CompletedActionStatus",
            "object": ids(&run_object), "result": ids(&run_result)}));
        self.push(json!({"@id": "#organize", "@type": "OrganizeAction",
            "name": "mexp orchestration", "instrument": id("#mexp"),
            "object": ids(&controls), "result": id(&run)}));
        self.push(json!({"@id": "#mexp", "@type": "SoftwareApplication", "name": "mexp",
            "softwareVersion": version,
            "description": "Reproducible, content-addressed computational-magnetism experiments from TOML manifests"}));
        self.push(json!({"@id": "#mexp-manifest", "@type": "ComputerLanguage",
            "name": "mexp manifest (TOML)", "alternateName": "mexp", "version": version}));
        self.push(json!({"@id": wf, "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": source.name, "description": source.description, "version": version,
            "contentSize": wf_bytes.to_string(), "encodingFormat": "application/toml",
            "conformsTo": id(COMPUTATIONAL_WORKFLOW),
            "programmingLanguage": id("#mexp-manifest"),
            "hasPart": ids(&tools), "step": ids(&steps), "connection": ids(&connections)}));
        let license = format!("https://spdx.org/licenses/{}", source.license);
        self.push(json!({"@id": license, "@type": "CreativeWork",
            "name": source.license, "identifier": source.license}));
        let readme = format!(
            "# mexp run of {}\n\n{}\n\nA Workflow Run RO-Crate (provenance profile 0.5) written by `mexp export` \
             (mexp {version}). `ro-crate-metadata.json` describes each stage run: its kind and \
             implementation fingerprint, parameters, input and output files with their blake3 \
             digests. The manifest is `{wf}`; each stage's outputs are in a folder named after the \
             stage.\n",
            source.name, source.description
        );
        let readme_path = self.dir.join("README.md");
        fs::write(&readme_path, &readme)
            .map_err(|e| EngineError::io("writing", &readme_path, e))?;
        self.push(
            json!({"@id": "README.md", "@type": "File", "name": "README.md",
            "about": id("./"), "encodingFormat": "text/markdown",
            "contentSize": readme.len().to_string()}),
        );
        all_files.push("README.md".into());
        self.summary.files += 1;
        self.summary.bytes += readme.len() as u64;
        for (u, n) in [
            (FORMAL_PARAMETER, "Bioschemas FormalParameter profile"),
            (
                COMPUTATIONAL_WORKFLOW,
                "Bioschemas ComputationalWorkflow profile",
            ),
            ("https://w3id.org/ro/crate/1.1", "RO-Crate 1.1"),
        ] {
            let v = if u.ends_with("1.1") {
                "1.1"
            } else {
                "1.0-RELEASE"
            };
            self.push(json!({"@id": u, "@type": "CreativeWork", "name": n, "version": v}));
        }
        let mut mentions = vec![run.clone(), "#organize".to_string()];
        mentions.extend(actions);
        mentions.extend(controls);
        self.push(json!({"@id": "./", "@type": "Dataset",
            "name": format!("mexp run of {}", source.name), "description": source.description,
            "datePublished": iso(last_end), "license": id(&license),
            "conformsTo": PROFILES.iter().map(|(u, _)| id(u)).collect::<Vec<_>>(),
            "mainEntity": id(&wf), "hasPart": ids(&all_files), "mentions": ids(&mentions)}));
        for (u, n) in PROFILES {
            let v = u.rsplit('/').next().unwrap_or_default();
            self.push(json!({"@id": u, "@type": "CreativeWork", "name": n, "version": v}));
        }
        self.push(json!({"@id": "ro-crate-metadata.json", "@type": "CreativeWork",
            "about": id("./"),
            "conformsTo": [id("https://w3id.org/ro/crate/1.1"), id("https://w3id.org/workflowhub/workflow-ro-crate/1.0")]}));
        self.summary.actions = plan.jobs.len();
        Ok(())
    }

    /// A FormalParameter `#<tag>-<dir>-<name>`, added once; returns its id.
    fn formal(&mut self, tag: &str, dir: &str, name: &str, ty: &str) -> String {
        let fid = format!("#{tag}-{dir}-{name}");
        if !self.index.contains_key(&fid) {
            self.push(json!({"@id": fid, "@type": "FormalParameter", "name": name,
                "additionalType": ty, "conformsTo": id(FORMAL_PARAMETER), "workExample": []}));
        }
        fid
    }

    /// Links a FormalParameter and an entity that is an example of it, both ways (`workExample`
    /// and `exampleOfWork`).
    fn link_example(&mut self, fp: &str, example: &str) {
        self.add_ref(fp, "workExample", example);
        self.add_ref(example, "exampleOfWork", fp);
    }

    /// Appends a reference to `target` to property `prop` of entity `entity` (once).
    fn add_ref(&mut self, entity: &str, prop: &str, target: &str) {
        let Some(Value::Object(m)) = self.index.get(entity).map(|&i| &mut self.graph[i]) else {
            return;
        };
        let slot = m
            .entry(prop.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(vec![slot.clone()]);
        }
        if let Value::Array(a) = slot
            && !a.contains(&id(target))
        {
            a.push(id(target));
        }
    }

    /// Copies object `digest` to `rel` and describes it as a File, the example of `fp`.
    fn copy_object(&mut self, digest: &str, rel: &str, fp: &str) -> Result<()> {
        if self.index.contains_key(rel) {
            self.link_example(fp, rel);
            return Ok(());
        }
        self.copy_object_plain(digest, rel)?;
        self.link_example(fp, rel);
        Ok(())
    }

    /// Copies object `digest` to `rel` (re-hashed on the way) and describes it as a File.
    fn copy_object_plain(&mut self, digest: &str, rel: &str) -> Result<u64> {
        let src = self.cache.object_path(digest);
        let dest = self.dir.join(rel);
        if let Some(p) = dest.parent() {
            fs::create_dir_all(p).map_err(|e| EngineError::io("creating", p, e))?;
        }
        let mut from = fs::File::open(&src).map_err(|e| EngineError::io("reading", &src, e))?;
        let mut to = fs::File::create(&dest).map_err(|e| EngineError::io("writing", &dest, e))?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = from
                .read(&mut buf)
                .map_err(|e| EngineError::io("reading", &src, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
            to.write_all(&buf[..n])
                .map_err(|e| EngineError::io("writing", &dest, e))?;
        }
        if hasher.finalize().to_hex().as_str() != digest {
            let _ = self.cache.quarantine(digest);
            return Err(self.cache.corrupt_error(digest));
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.push(json!({"@id": rel, "@type": "File", "name": name,
            "contentSize": total.to_string(), "encodingFormat": media_type(name),
            "identifier": format!("blake3:{digest}")}));
        self.summary.files += 1;
        self.summary.bytes += total;
        Ok(total)
    }

    fn copy_file(&mut self, src: &Path, rel: &str) -> Result<u64> {
        let dest = self.dir.join(rel);
        let n = fs::copy(src, &dest).map_err(|e| EngineError::io("copying", src, e))?;
        self.summary.files += 1;
        self.summary.bytes += n;
        Ok(n)
    }
}

/// RO-Crate 1.1 recommends single values over singleton arrays; empty arrays say nothing.
fn single_values(entity: &mut Value) {
    if let Value::Object(m) = entity {
        m.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
        for (k, v) in m.iter_mut() {
            if k != "@type"
                && let Value::Array(a) = v
                && a.len() == 1
            {
                *v = a[0].clone();
            }
        }
    }
}

/// The IANA media type of a file, by its extension.
fn media_type(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("json") => "application/json",
        Some("csv") => "text/csv",
        Some("txt" | "log") => "text/plain",
        Some("md") => "text/markdown",
        Some("toml") => "application/toml",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html",
        _ => "application/octet-stream",
    }
}

fn tag_of(plan: &Plan, j: usize) -> String {
    let (vi, name) = &plan.jobs[j].uses[0];
    let variant = &plan.variants[*vi].name;
    if variant.is_empty() {
        name.clone()
    } else {
        format!("{variant}-{name}")
    }
}

/// A parameter's FormalParameter type and PropertyValue value (tables and arrays as TOML text).
fn property_value(v: &toml::Value) -> (&'static str, Value) {
    match v {
        toml::Value::Integer(i) => ("Integer", json!(i)),
        toml::Value::Float(f) => ("Float", json!(f)),
        toml::Value::Boolean(b) => ("Boolean", json!(b)),
        toml::Value::String(s) => ("Text", json!(s)),
        other => ("Text", json!(super::key::display_value(other))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_iso_8601() {
        assert_eq!(super::iso(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
