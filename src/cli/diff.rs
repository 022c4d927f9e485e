//! `mexp diff`: two variants of a sweep (`--variants A B`), two profiles (`--profiles A B`), or,
//! with neither, each stage's last record (A) against the current plan (B): parameters, input
//! digests and metrics that differ, side by side.

use serde_json::{Value, json};

use super::output::{self, SCHEMA};
use super::{CmdResult, Selection};
use crate::engine::EngineError;
use crate::engine::cache::Cache;
use crate::engine::compare::{StageDiff, StageSide, diff_stage, show};
use crate::engine::plan::{JobStatus, statuses};
use crate::engine::record::{Record, StageRef};
use crate::engine::session::Session;

/// What to compare, from the command line.
pub struct DiffArgs<'a> {
    /// Only these stages (every stage when empty).
    pub stages: &'a [String],
    /// `--variants A B`.
    pub variants: &'a [String],
    /// `--profiles A B` (`default` is the manifest without a profile).
    pub profiles: &'a [String],
    /// `--variant` for profile and record comparisons.
    pub variant: Option<&'a str>,
}

/// One side: a label, which of the opened sessions, and the variant compared.
struct Side {
    label: String,
    session: usize,
    vi: usize,
}

/// `mexp diff`.
pub fn diff(sel: &Selection, args: &DiffArgs) -> CmdResult {
    let registry = crate::stages::registry()?;
    let open = |profile: Option<String>| -> Result<(Session, Vec<JobStatus>), EngineError> {
        let mut req = super::commands::request(sel);
        req.profile = profile;
        let session = Session::open(&registry, &req)?;
        let cache = Cache::open(&session.cache_dir)?;
        let st = statuses(&session.plan, &cache);
        Ok((session, st))
    };
    let mut opened = vec![open(if let [pa, _] = args.profiles {
        profile_of(pa)
    } else {
        sel.profile.clone()
    })?];
    let record_mode = args.variants.is_empty() && args.profiles.is_empty();
    let (a, b) = if let [va, vb] = args.variants {
        let s = &opened[0].0;
        let label = |i: usize| {
            let v = &s.plan.variants[i];
            format!("{} ({})", v.name, v.label)
        };
        let (ia, ib) = (variant_index(s, va)?, variant_index(s, vb)?);
        (
            Side {
                label: label(ia),
                session: 0,
                vi: ia,
            },
            Side {
                label: label(ib),
                session: 0,
                vi: ib,
            },
        )
    } else if let [pa, pb] = args.profiles {
        opened.push(open(profile_of(pb))?);
        let ia = args
            .variant
            .map_or(Ok(0), |v| variant_index(&opened[0].0, v))?;
        let ib = args
            .variant
            .map_or(Ok(0), |v| variant_index(&opened[1].0, v))?;
        (
            Side {
                label: format!("profile {pa}"),
                session: 0,
                vi: ia,
            },
            Side {
                label: format!("profile {pb}"),
                session: 1,
                vi: ib,
            },
        )
    } else {
        let vi = args
            .variant
            .map_or(Ok(0), |v| variant_index(&opened[0].0, v))?;
        (
            Side {
                label: "last record".into(),
                session: 0,
                vi,
            },
            Side {
                label: "plan now".into(),
                session: 0,
                vi,
            },
        )
    };
    let cache = Cache::open(&opened[0].0.cache_dir)?;
    let plan_side = |side: &Side, name: &str| -> Option<StageSide> {
        let (session, st) = &opened[side.session];
        let &j = session.plan.index.get(&(side.vi, name.to_string()))?;
        Some(StageSide::of_plan(&session.plan, st, j, &cache))
    };
    if !args.stages.is_empty() {
        crate::engine::targets::select(&opened[b.session].0.plan, args.stages)?;
    }
    let mut names: Vec<String> = Vec::new();
    for side in [&a, &b] {
        for s in &opened[side.session].0.plan.variants[side.vi]
            .experiment
            .stages
        {
            if !names.contains(&s.name) && (args.stages.is_empty() || args.stages.contains(&s.name))
            {
                names.push(s.name.clone());
            }
        }
    }
    let diffs: Vec<StageDiff> = names
        .iter()
        .map(|name| {
            let side_a = if record_mode {
                let ns = opened[a.session].0.plan.variants[a.vi].namespace();
                StageRef::load(&cache, &ns, name)
                    .and_then(|r| Record::load(&cache, &r.key))
                    .map(|rec| StageSide::of_record(&rec, &cache))
            } else {
                plan_side(&a, name)
            };
            diff_stage(name, side_a.as_ref(), plan_side(&b, name).as_ref())
        })
        .collect();
    let experiment = opened[b.session].0.manifest.experiment.name.clone();
    if sel.json {
        let stages: Vec<Value> = diffs
            .iter()
            .map(|d| {
                let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("same".into(), json!(d.is_empty()));
                }
                v
            })
            .collect();
        output::print_json(&json!({
            "schema": SCHEMA, "command": "diff", "experiment": experiment,
            "a": a.label, "b": b.label, "stages": stages,
        }));
    } else {
        print!("{}", text(&experiment, &a.label, &b.label, &diffs));
    }
    Ok(0)
}

fn profile_of(name: &str) -> Option<String> {
    (name != "default").then(|| name.to_string())
}

fn variant_index(session: &Session, name: &str) -> Result<usize, EngineError> {
    let vs = &session.plan.variants;
    vs.iter().position(|v| v.name == name).ok_or_else(|| {
        let names: Vec<&str> = vs.iter().map(|v| v.name.as_str()).collect();
        let hint = crate::engine::diag::suggestion(name, names.iter().copied())
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        EngineError::Usage(if names == [""] {
            format!("no variant `{name}`: this manifest has no sweep")
        } else {
            format!("no variant `{name}`{hint}; variants: {}", names.join(", "))
        })
    })
}

/// The side-by-side text.
fn text(experiment: &str, la: &str, lb: &str, diffs: &[StageDiff]) -> String {
    let short = |k: &Option<String>| {
        k.as_deref()
            .map_or("(pending)".to_string(), |k| k[..12].to_string())
    };
    let mut out = format!("{experiment}: A = {la}, B = {lb}\n");
    for d in diffs {
        let kind = d
            .kind_b
            .as_deref()
            .or(d.kind_a.as_deref())
            .unwrap_or_default();
        if d.kind_a.is_none() || d.kind_b.is_none() {
            let only = if d.kind_a.is_some() { "A" } else { "B" };
            out.push_str(&format!("≠ {} ({kind}): only in {only}\n", d.stage));
            continue;
        }
        if d.is_empty() {
            out.push_str(&format!(
                "= {} ({kind}): same key {}\n",
                d.stage,
                short(&d.key_a)
            ));
            continue;
        }
        out.push_str(&format!(
            "≠ {} ({kind}): key {} → {}\n",
            d.stage,
            short(&d.key_a),
            short(&d.key_b)
        ));
        let rows: Vec<(&str, &str, String, String)> = [
            ("param", &d.params),
            ("input", &d.inputs),
            ("metric", &d.metrics),
        ]
        .into_iter()
        .flat_map(|(what, list)| {
            list.iter().map(move |c| {
                (
                    what,
                    c.name.as_str(),
                    show(c.a.as_ref()),
                    show(c.b.as_ref()),
                )
            })
        })
        .collect();
        let wn = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        let wa = rows
            .iter()
            .map(|r| r.2.chars().count())
            .max()
            .unwrap_or(0)
            .max(1);
        for (what, name, va, vb) in &rows {
            out.push_str(&format!("    {what:<6}  {name:<wn$}  {va:<wa$}  {vb}\n"));
        }
    }
    out
}
