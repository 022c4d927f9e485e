//! Comparing two states of a stage (`mexp diff`): two variants of a sweep, two profiles, or the
//! current plan against the stage's last record. Each side is a [`StageSide`]: the parameters
//! (with seed, backend and code fingerprint), the content digests of the inputs, the key and the
//! metrics — the scalar values in the stage's JSON outputs, named `<output>.<json.path>` as the
//! sweep summary's report columns are (`results::report_value`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::cache::Cache;
use super::key::display_value;
use super::plan::{JobStatus, Plan};
use super::record::Record;
use super::results::output_json;

/// JSON outputs larger than this are not searched for metrics.
const MAX_METRIC_FILE: u64 = 4 << 20;
/// Longest value shown in a text column.
const SHOWN_CHARS: usize = 40;

/// What one side knows of a stage.
#[derive(Debug, Clone, Default)]
pub struct StageSide {
    /// Stage kind.
    pub kind: String,
    /// The cache key, when known (the plan's key is known once every input exists).
    pub key: Option<String>,
    /// Parameters, plus `(seed)`, `(backend)` and `(code)` (the implementation fingerprint).
    pub params: BTreeMap<String, Value>,
    /// Input port → content digest (`None`: not known until an upstream stage runs).
    pub inputs: BTreeMap<String, Option<String>>,
    /// Metric → scalar value (from the record, when there is one).
    pub metrics: BTreeMap<String, Value>,
}

impl StageSide {
    /// The side of job `j` of a plan, with `st` the plan's statuses.
    pub fn of_plan(plan: &Plan, st: &[JobStatus], j: usize, cache: &Cache) -> StageSide {
        let job = &plan.jobs[j];
        let mut params: BTreeMap<String, Value> = job
            .stage
            .params
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        params.insert("(seed)".into(), Value::from(job.stage.seed));
        params.insert("(code)".into(), Value::from(job.implementation.clone()));
        if let Some(b) = &job.backend {
            params.insert("(backend)".into(), Value::from(b.clone()));
        }
        let mut inputs: BTreeMap<String, Option<String>> = job
            .stage
            .files
            .iter()
            .map(|(p, (_, d))| (p.clone(), Some(d.clone())))
            .collect();
        for (port, (d, output)) in &job.deps {
            let digest = st[*d]
                .record
                .as_ref()
                .and_then(|r| r.outputs.get(output))
                .map(|o| o.digest.clone());
            inputs.insert(port.clone(), digest);
        }
        StageSide {
            kind: job.stage.kind.clone(),
            key: st[j].key.clone(),
            params,
            inputs,
            metrics: st[j]
                .record
                .as_ref()
                .map(|r| metrics(cache, r))
                .unwrap_or_default(),
        }
    }

    /// The side of a recorded run.
    pub fn of_record(rec: &Record, cache: &Cache) -> StageSide {
        let km = &rec.key_manifest;
        let mut params: BTreeMap<String, Value> = km
            .params
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        params.insert("(seed)".into(), Value::from(km.seed));
        params.insert("(code)".into(), Value::from(km.implementation.clone()));
        if let Some(b) = &km.backend {
            params.insert("(backend)".into(), Value::from(b.clone()));
        }
        StageSide {
            kind: km.kind.clone(),
            key: Some(rec.key.clone()),
            params,
            inputs: km
                .inputs
                .iter()
                .map(|(p, d)| (p.clone(), Some(d.clone())))
                .collect(),
            metrics: metrics(cache, rec),
        }
    }
}

fn toml_to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The scalar values of a record's JSON outputs, reached through objects (not arrays), named
/// `<output>.<key>.<key>…`.
pub fn metrics(cache: &Cache, rec: &Record) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (name, o) in &rec.outputs {
        if o.dir || !o.file.ends_with(".json") || o.bytes > MAX_METRIC_FILE {
            continue;
        }
        if let Some(v) = output_json(cache, rec, name) {
            flatten(name, &v, &mut out);
        }
    }
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::Array(_) => {}
        scalar => {
            out.insert(prefix.to_string(), scalar.clone());
        }
    }
}

/// One differing field.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Parameter, input port or metric.
    pub name: String,
    /// Value on side A (absent there: `null`).
    pub a: Option<Value>,
    /// Value on side B.
    pub b: Option<Value>,
}

/// How one stage differs between two sides.
#[derive(Debug, Clone, Serialize)]
pub struct StageDiff {
    /// Stage name.
    pub stage: String,
    /// Kind on side A (absent: the stage is not there).
    pub kind_a: Option<String>,
    /// Kind on side B.
    pub kind_b: Option<String>,
    /// Key on side A, when known.
    pub key_a: Option<String>,
    /// Key on side B, when known.
    pub key_b: Option<String>,
    /// Differing parameters.
    pub params: Vec<Change>,
    /// Differing input digests (`null`: not known until upstream runs).
    pub inputs: Vec<Change>,
    /// Differing metrics.
    pub metrics: Vec<Change>,
}

impl StageDiff {
    /// Whether nothing differs (same key, or the same everything that is known).
    pub fn is_empty(&self) -> bool {
        self.kind_a == self.kind_b
            && self.params.is_empty()
            && self.inputs.is_empty()
            && self.metrics.is_empty()
            && (self.key_a == self.key_b || self.key_a.is_none() || self.key_b.is_none())
    }
}

/// The differences of stage `stage` between sides `a` and `b` (either may be absent).
pub fn diff_stage(stage: &str, a: Option<&StageSide>, b: Option<&StageSide>) -> StageDiff {
    let empty = StageSide::default();
    let (sa, sb) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    StageDiff {
        stage: stage.to_string(),
        kind_a: a.map(|s| s.kind.clone()),
        kind_b: b.map(|s| s.kind.clone()),
        key_a: sa.key.clone(),
        key_b: sb.key.clone(),
        params: changes(&sa.params, &sb.params, |v| Some(v.clone())),
        inputs: changes(&sa.inputs, &sb.inputs, |d| {
            Some(d.clone().map_or(Value::Null, Value::from))
        }),
        metrics: changes(&sa.metrics, &sb.metrics, |v| Some(v.clone())),
    }
}

fn changes<T: PartialEq>(
    a: &BTreeMap<String, T>,
    b: &BTreeMap<String, T>,
    value: impl Fn(&T) -> Option<Value>,
) -> Vec<Change> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .filter(|n| a.get(*n) != b.get(*n))
        .map(|n| Change {
            name: n.clone(),
            a: a.get(n).and_then(&value),
            b: b.get(n).and_then(&value),
        })
        .collect()
}

/// A value as text for a side-by-side column: TOML-like for parameters, 12 characters of a digest,
/// `—` when absent, `(pending)` for a digest not known yet.
pub fn show(v: Option<&Value>) -> String {
    let s = match v {
        None => "—".to_string(),
        Some(Value::Null) => "(pending)".to_string(),
        Some(Value::String(s)) if super::cache::is_digest(s) => s[..12].to_string(),
        Some(v) => match toml::Value::try_from(v) {
            Ok(t) => display_value(&t),
            Err(_) => v.to_string(),
        },
    };
    if s.chars().count() > SHOWN_CHARS {
        let cut: String = s.chars().take(SHOWN_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_differing_fields_are_listed_and_absent_ones_show_as_missing() {
        let side = |n: i64, digest: Option<&str>, loss: f64| StageSide {
            kind: "k".into(),
            key: Some(format!("{n}")),
            params: [("n".to_string(), Value::from(n)), ("same".into(), 1.into())].into(),
            inputs: [("x".to_string(), digest.map(str::to_string))].into(),
            metrics: [("m.loss".to_string(), Value::from(loss))].into(),
        };
        let a = side(1, Some("aa"), 0.5);
        let b = side(2, None, 0.5);
        let d = diff_stage("s", Some(&a), Some(&b));
        assert_eq!(d.params.len(), 1);
        assert_eq!(d.params[0].name, "n");
        assert_eq!(d.inputs[0].b, Some(Value::Null));
        assert!(d.metrics.is_empty());
        assert!(!d.is_empty());
        let gone = diff_stage("s", Some(&a), None);
        assert_eq!(gone.kind_b, None);
        assert_eq!(show(gone.params[0].b.as_ref()), "—");
        assert!(diff_stage("s", Some(&a), Some(&a)).is_empty());
    }

    #[test]
    fn metrics_flatten_objects_but_not_arrays() {
        let mut out = BTreeMap::new();
        let v: Value =
            serde_json::from_str(r#"{"a": {"b": 1.5, "c": [1, 2]}, "ok": true}"#).expect("json");
        flatten("m", &v, &mut out);
        let names: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["m.a.b", "m.ok"]);
    }
}
