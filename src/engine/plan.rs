//! The plan: every variant's stages merged into one DAG of unique jobs (identical upstream stages of a
//! sweep become one job), and, for each job, whether it is cached or must run, and why.
//!
//! Two hashes are at work. A job's *identity* is a Merkle hash over its configuration and its
//! upstream identities: known before anything runs, it merges identical stages across variants. Its
//! *key* (the cache key) is over its configuration and the content digests of its inputs: known once
//! its inputs exist, it lets an unchanged output of a rerun upstream stage keep downstream cached.

use std::collections::BTreeMap;
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use super::cache::Cache;
use super::catalog::Catalog;
use super::error::{EngineError, Result};
use super::key::{CodeManifest, KEY_FORMAT, KeyManifest};
use super::reason::RerunReason;
use super::record::{Record, StageRef};
use super::resolve::{ResolvedExperiment, ResolvedStage};

/// One variant of an experiment (the whole experiment when there is no sweep).
#[derive(Debug, Clone)]
pub struct Variant {
    /// `""` without a sweep, else `v000`, `v001`, …
    pub name: String,
    /// Human-readable sweep point.
    pub label: String,
    /// The resolved experiment of this variant.
    pub experiment: ResolvedExperiment,
}

impl Variant {
    /// Namespace for refs and results: `<experiment>` or `<experiment>/<variant>`.
    pub fn namespace(&self) -> String {
        if self.name.is_empty() {
            self.experiment.name.clone()
        } else {
            format!("{}/{}", self.experiment.name, self.name)
        }
    }
}

/// A unique unit of work.
#[derive(Debug, Clone)]
pub struct Job {
    /// Plan identity (see module docs).
    pub identity: String,
    /// The stage (as resolved in the first variant that uses it).
    pub stage: ResolvedStage,
    /// Input port → (upstream job index, output name).
    pub deps: BTreeMap<String, (usize, String)>,
    /// Every (variant index, stage name) this job serves.
    pub uses: Vec<(usize, String)>,
    /// Backend in the key, for kinds that use one.
    pub backend: Option<String>,
    /// Implementation fingerprint.
    pub implementation: String,
    /// What the fingerprint covers.
    pub code: Arc<CodeManifest>,
}

impl Job {
    /// The key manifest, given the digests of the inputs.
    pub fn key_manifest(&self, input_digests: BTreeMap<String, String>) -> KeyManifest {
        KeyManifest {
            format: KEY_FORMAT,
            kind: self.stage.kind.clone(),
            implementation: self.implementation.clone(),
            seed: self.stage.seed,
            backend: self.backend.clone(),
            params: self.stage.params.clone(),
            inputs: input_digests,
            code: Arc::clone(&self.code),
        }
    }
}

/// All jobs of a run in topological order, and the variants they serve.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Unique jobs, dependencies first.
    pub jobs: Vec<Job>,
    /// Variants.
    pub variants: Vec<Variant>,
    /// (variant, stage name) → job index.
    pub index: BTreeMap<(usize, String), usize>,
    /// The job DAG (edges upstream → downstream).
    pub graph: DiGraph<usize, ()>,
}

impl Plan {
    /// Merges variants into unique jobs.
    pub fn build(variants: Vec<Variant>, catalog: &Catalog, backend: &str) -> Result<Plan> {
        let mut jobs: Vec<Job> = Vec::new();
        let mut by_identity: BTreeMap<String, usize> = BTreeMap::new();
        let mut index = BTreeMap::new();
        for (vi, variant) in variants.iter().enumerate() {
            for stage in &variant.experiment.stages {
                let spec = catalog
                    .get(&stage.kind)
                    .ok_or_else(|| EngineError::Usage(format!("unknown kind {}", stage.kind)))?;
                let mut deps = BTreeMap::new();
                let mut dep_ids: BTreeMap<String, String> = stage
                    .files
                    .iter()
                    .map(|(p, (_, d))| (p.clone(), format!("file:{d}")))
                    .collect();
                for (port, r) in &stage.inputs {
                    let &j: &usize = index.get(&(vi, r.stage.clone())).ok_or_else(|| {
                        EngineError::Usage(format!(
                            "stage {} is not ordered after {}",
                            stage.name, r.stage
                        ))
                    })?;
                    deps.insert(port.clone(), (j, r.output.clone()));
                    dep_ids.insert(port.clone(), format!("{}:{}", jobs[j].identity, r.output));
                }
                let mut job = Job {
                    identity: String::new(),
                    stage: stage.clone(),
                    deps,
                    uses: Vec::new(),
                    backend: spec.uses_backend.then(|| backend.to_string()),
                    implementation: spec.fingerprint.clone(),
                    code: Arc::clone(&spec.code),
                };
                job.identity = job.key_manifest(dep_ids).key();
                let ji = *by_identity.entry(job.identity.clone()).or_insert_with(|| {
                    jobs.push(job);
                    jobs.len() - 1
                });
                jobs[ji].uses.push((vi, stage.name.clone()));
                index.insert((vi, stage.name.clone()), ji);
            }
        }
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..jobs.len()).map(|i| graph.add_node(i)).collect();
        for (i, job) in jobs.iter().enumerate() {
            for (j, _) in job.deps.values() {
                graph.update_edge(nodes[*j], nodes[i], ());
            }
        }
        Ok(Plan {
            jobs,
            variants,
            index,
            graph,
        })
    }

    /// Indices of the jobs that consume job `i`'s outputs.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        self.graph
            .neighbors(NodeIndex::new(i))
            .map(|n| self.graph[n])
            .collect()
    }
}

/// One resolved parameter of a job: its value, the layer that set it and its catalogue doc.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamOrigin {
    /// Parameter name.
    pub name: String,
    /// Resolved value.
    pub value: toml::Value,
    /// Where it came from: catalogue, manifest, profile, sweep or --set (a derived one names itself).
    pub source: &'static str,
    /// The catalogue's doc of the parameter (empty when the kind does not document it).
    pub doc: String,
}

/// A stage's resolved parameters with their origin (what `mexp show` and the HTML report list).
pub fn param_origins(stage: &ResolvedStage, catalog: &Catalog) -> Vec<ParamOrigin> {
    let spec = catalog.get(&stage.kind);
    stage
        .params
        .iter()
        .map(|(k, v)| ParamOrigin {
            name: k.clone(),
            value: v.clone(),
            source: stage.param_sources.get(k).copied().unwrap_or("catalogue"),
            doc: spec
                .and_then(|s| s.params.get(k))
                .map(|p| p.doc.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// Whether a job is cached or must run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanState {
    /// A valid record with all outputs exists.
    Cached,
    /// It must run.
    Run,
}

/// The planned status of one job, with the reasons for a rerun.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// Cached or run.
    pub state: PlanState,
    /// The key, when all inputs are known now.
    pub key: Option<String>,
    /// Why it must run (empty when cached).
    pub reasons: Vec<RerunReason>,
    /// The record, when cached.
    pub record: Option<Record>,
}

/// Input digests of job `i`, when every upstream job has a record.
pub fn input_digests(
    plan: &Plan,
    i: usize,
    records: &[Option<Record>],
) -> Option<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = plan.jobs[i]
        .stage
        .files
        .iter()
        .map(|(p, (_, d))| (p.clone(), d.clone()))
        .collect();
    for (port, (j, output)) in &plan.jobs[i].deps {
        let rec = records[*j].as_ref()?;
        out.insert(port.clone(), rec.outputs.get(output)?.digest.clone());
    }
    Some(out)
}

/// Decides, job by job in topological order, what is cached and what must run, and explains why.
pub fn statuses(plan: &Plan, cache: &Cache) -> Vec<JobStatus> {
    let mut records: Vec<Option<Record>> = vec![None; plan.jobs.len()];
    let mut out = Vec::with_capacity(plan.jobs.len());
    for (i, job) in plan.jobs.iter().enumerate() {
        let (ns, stage_name) = {
            let (vi, name) = &job.uses[0];
            (plan.variants[*vi].namespace(), name.clone())
        };
        let previous =
            StageRef::load(cache, &ns, &stage_name).and_then(|r| Record::load(cache, &r.key));
        let Some(digests) = input_digests(plan, i, &records) else {
            let mut reasons: Vec<RerunReason> = Vec::new();
            for (j, _) in job.deps.values().filter(|(j, _)| records[*j].is_none()) {
                let r = RerunReason::UpstreamWillRun {
                    stage: plan.jobs[*j].stage.name.clone(),
                };
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
            if let Some(prev) = &previous {
                let same_inputs = job.key_manifest(prev.key_manifest.inputs.clone());
                reasons.extend(same_inputs.diff(&prev.key_manifest, &stage_name));
            }
            out.push(JobStatus {
                state: PlanState::Run,
                key: None,
                reasons,
                record: None,
            });
            continue;
        };
        let manifest = job.key_manifest(digests);
        let key = manifest.key();
        match Record::load(cache, &key) {
            Some(rec) if rec.missing_outputs(cache).is_empty() => {
                records[i] = Some(rec.clone());
                out.push(JobStatus {
                    state: PlanState::Cached,
                    key: Some(key),
                    reasons: Vec::new(),
                    record: Some(rec),
                });
            }
            Some(rec) => {
                let reasons = rec
                    .missing_outputs(cache)
                    .into_iter()
                    .map(|output| RerunReason::OutputMissing { output })
                    .collect();
                out.push(JobStatus {
                    state: PlanState::Run,
                    key: Some(key),
                    reasons,
                    record: None,
                });
            }
            None => {
                let reasons = match &previous {
                    None => vec![RerunReason::NotRunBefore],
                    Some(prev) if prev.key == key => vec![RerunReason::RecordMissing],
                    Some(prev) => {
                        let d = manifest.diff(&prev.key_manifest, &stage_name);
                        if d.is_empty() {
                            vec![RerunReason::NewSettings]
                        } else {
                            d
                        }
                    }
                };
                out.push(JobStatus {
                    state: PlanState::Run,
                    key: Some(key),
                    reasons,
                    record: None,
                });
            }
        }
    }
    out
}
