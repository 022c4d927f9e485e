//! `mexp log <manifest> [STAGE]`: each stage's history of results, newest first, with times, wall
//! times and what changed from the run before (the same reasons `plan` gives).

use serde_json::{Value, json};

use super::output::{self, SCHEMA};
use super::{CmdResult, Selection};
use crate::engine::EngineError;
use crate::engine::history::{Explained, explain, format_utc};
use crate::engine::plan::{PlanState, statuses};

/// `mexp log`.
pub fn log(sel: &Selection, stage: Option<&str>, variant: Option<&str>) -> CmdResult {
    let (_, session, cache) = super::commands::open(sel)?;
    let plan = &session.plan;
    if let Some(v) = variant
        && !plan.variants.iter().any(|x| x.name == v)
    {
        return Err(EngineError::Usage(format!("no variant `{v}`")));
    }
    if let Some(s) = stage {
        crate::engine::targets::select(plan, &[s.to_string()])?;
    }
    let st = statuses(plan, &cache);
    let mut rows = Vec::new();
    for (vi, v) in plan.variants.iter().enumerate() {
        if variant.is_some_and(|want| want != v.name) {
            continue;
        }
        for s in &v.experiment.stages {
            if stage.is_some_and(|want| want != s.name) {
                continue;
            }
            let current = plan
                .index
                .get(&(vi, s.name.clone()))
                .map(|&j| &st[j])
                .filter(|x| x.state == PlanState::Cached)
                .and_then(|x| x.key.clone());
            let ns = v.namespace();
            let entries = explain(&cache, &ns, &s.name);
            rows.push(stage_json(
                &ns, &v.name, &s.name, &s.kind, &entries, current,
            ));
        }
    }
    if sel.json {
        output::print_json(&json!({
            "schema": SCHEMA, "command": "log",
            "experiment": session.manifest.experiment.name, "stages": rows,
        }));
    } else {
        print!("{}", text(&rows));
    }
    Ok(0)
}

fn stage_json(
    ns: &str,
    variant: &str,
    name: &str,
    kind: &str,
    entries: &[Explained],
    current: Option<String>,
) -> Value {
    // Only the newest entry of the current key is marked (an older entry may have the same key).
    let newest_current = entries
        .iter()
        .position(|e| current.as_deref() == Some(e.entry.key.as_str()));
    let history: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let rec = e.record.as_ref();
            let reasons = e.reasons.as_ref().map(|r| {
                (
                    r.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    serde_json::to_value(r).unwrap_or(Value::Null),
                )
            });
            json!({
                "key": e.entry.key,
                "unix": e.entry.unix,
                "time": format_utc(e.entry.unix),
                "current": newest_current == Some(i),
                "record": rec.is_some(),
                "started_unix": rec.map(|r| r.started_unix),
                "wall_seconds": rec.map(|r| r.wall_seconds),
                "reasons": reasons.as_ref().map(|r| r.0.clone()),
                "why": reasons.map(|r| r.1),
            })
        })
        .collect();
    json!({"variant": variant, "namespace": ns, "name": name, "kind": kind, "history": history})
}

/// The text form of the rows of [`stage_json`].
fn text(rows: &[Value]) -> String {
    let mut out = String::new();
    for row in rows {
        let s = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        out.push_str(&format!(
            "{} › {} ({})\n",
            s("namespace"),
            s("name"),
            s("kind")
        ));
        let history = row["history"].as_array().cloned().unwrap_or_default();
        if history.is_empty() {
            out.push_str("  no run recorded\n");
        }
        let n = history.len();
        for (i, e) in history.iter().enumerate() {
            let key = e["key"].as_str().unwrap_or_default();
            let mark = if e["current"].as_bool() == Some(true) {
                "current"
            } else {
                ""
            };
            let wall = e["wall_seconds"]
                .as_f64()
                .map_or_else(|| "—".to_string(), |w| format!("{w:.2} s"));
            let why = match e["reasons"].as_array() {
                Some(r) if r.is_empty() => "no difference in the key".to_string(),
                Some(r) => r
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; "),
                None if e["record"] == json!(false) => "record gone".to_string(),
                None if i + 1 == n => "first recorded".to_string(),
                None => "earlier record gone: no diff".to_string(),
            };
            out.push_str(&format!(
                "  {}  {}  {mark:<7}  {wall:>9}  {why}\n",
                e["time"].as_str().unwrap_or_default(),
                &key[..key.len().min(12)],
            ));
            // A return to an earlier result (the ref moved back to a cached record).
            let earlier = history[i + 1..].iter().any(|o| o["key"] == e["key"]);
            if let Some(started) = e["started_unix"].as_u64().filter(|_| earlier) {
                out.push_str(&format!(
                    "  {:>23}  (back to the cached result computed {})\n",
                    "",
                    format_utc(started)
                ));
            }
        }
    }
    out
}
