//! Text and JSON rendering of plans, runs and stages. The JSON schema is documented in docs/JSON.md.

use serde_json::{Value, json};

use crate::engine::Registry;
use crate::engine::catalog::KindSpec;
use crate::engine::executor::{Outcome, RunReport};
use crate::engine::key::display_value;
use crate::engine::plan::{JobStatus, PlanState, param_origins};
use crate::engine::reason::RerunReason;
use crate::engine::record::Record;
use crate::engine::session::Session;
use crate::engine::slurm::Submission;

/// Version tag of every JSON document mexp prints.
pub const SCHEMA: &str = "mexp/1";

/// Prints a JSON value on stdout.
pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn outputs_json(rec: Option<&Record>) -> Value {
    match rec {
        Some(r) => r
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    json!({"file": o.file, "digest": o.digest, "bytes": o.bytes}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        None => json!({}),
    }
}

/// Reasons as text (`reasons`) and as tagged objects (`why`), as in docs/JSON.md.
fn reasons_json(reasons: &[RerunReason]) -> (Value, Value) {
    let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
    (
        json!(text),
        serde_json::to_value(reasons).unwrap_or(Value::Null),
    )
}

/// One object per (variant, stage), in variant then stage order.
fn stage_rows(session: &Session, mut row: impl FnMut(usize, &str, &str) -> Value) -> Vec<Value> {
    let mut out = Vec::new();
    for (vi, v) in session.plan.variants.iter().enumerate() {
        for s in &v.experiment.stages {
            if let Some(&j) = session.plan.index.get(&(vi, s.name.clone())) {
                let mut obj = row(j, &s.name, &s.kind);
                if let Some(m) = obj.as_object_mut() {
                    m.insert("variant".into(), json!(v.name));
                }
                out.push(obj);
            }
        }
    }
    out
}

fn header(session: &Session, command: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("schema".into(), json!(SCHEMA));
    m.insert("command".into(), json!(command));
    m.insert("experiment".into(), json!(session.manifest.experiment.name));
    m.insert(
        "variants".into(),
        session
            .plan
            .variants
            .iter()
            .map(|v| json!({"name": v.name, "label": v.label}))
            .collect(),
    );
    m
}

/// What a Slurm submission of a job would ask for, as sbatch options.
fn sbatch_options(sub: &Submission) -> String {
    let r = &sub.resources;
    let mut o = format!("--cpus-per-task={}", r.cpus.unwrap_or(1));
    if let Some(m) = &r.memory {
        o.push_str(&format!(" --mem={m}"));
    }
    if let Some(t) = &r.time {
        o.push_str(&format!(" --time={t}"));
    }
    if let Some(g) = r.gpus.filter(|g| *g > 0) {
        o.push_str(&format!(" --gpus={g}"));
    }
    if let Some(p) = &r.partition {
        o.push_str(&format!(" --partition={p}"));
    }
    o
}

fn slurm_json(sub: Option<&Submission>) -> Value {
    match sub {
        None => Value::Null,
        Some(s) => json!({
            "sbatch": sbatch_options(s),
            "array": s.fan_out,
            "items_per_task": s.fan_out.then(|| s.resources.items_per_task.unwrap_or(1)),
        }),
    }
}

/// `plan --json` (with `slurm` per stage when planned for the Slurm executor).
pub fn plan_json(
    session: &Session,
    st: &[JobStatus],
    subs: Option<&[Option<Submission>]>,
) -> Value {
    let mut m = header(session, "plan");
    let rows = stage_rows(session, |j, name, kind| {
        let (reasons, why) = reasons_json(&st[j].reasons);
        let mut row = json!({"name": name, "kind": kind, "key": st[j].key, "status": st[j].state, "reasons": reasons, "why": why, "job": session.plan.jobs[j].identity[..16].to_string()});
        if let (Some(subs), Value::Object(o)) = (subs, &mut row) {
            o.insert("slurm".into(), slurm_json(subs[j].as_ref()));
        }
        row
    });
    m.insert("stages".into(), rows.into());
    m.into()
}

/// `run --json`.
pub fn run_json(
    session: &Session,
    report: &RunReport,
    before: &[JobStatus],
    summaries: &[std::path::PathBuf],
    page: &std::path::Path,
) -> Value {
    let mut m = header(session, "run");
    m.insert("report".into(), json!(page.display().to_string()));
    m.insert(
        "summaries".into(),
        summaries
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .into(),
    );
    let rows = stage_rows(session, |j, name, kind| {
        let (status, error) = match &report.outcomes[j] {
            Outcome::Cached => ("cached", None),
            Outcome::Ran => ("run", None),
            Outcome::Failed(e) => ("failed", Some(e.clone())),
            Outcome::Skipped(e) => ("skipped", Some(e.clone())),
        };
        let rec = report.records[j].as_ref();
        let (reasons, why) = reasons_json(&before[j].reasons);
        json!({"name": name, "kind": kind, "key": rec.map(|r| r.key.clone()), "status": status,
               "reasons": reasons, "why": why, "error": error, "wall_seconds": rec.map(|r| r.wall_seconds), "outputs": outputs_json(rec)})
    });
    m.insert("stages".into(), rows.into());
    m.into()
}

/// `show --json`.
pub fn show_json(session: &Session, registry: &Registry, j: usize, st: &JobStatus) -> Value {
    let job = &session.plan.jobs[j];
    let params: serde_json::Map<String, Value> = param_origins(&job.stage, &registry.catalog)
        .into_iter()
        .map(|p| {
            let value = serde_json::to_value(&p.value).unwrap_or(Value::Null);
            (
                p.name,
                json!({"value": value, "source": p.source, "doc": p.doc}),
            )
        })
        .collect();
    let inputs: serde_json::Map<String, Value> = job
        .stage
        .inputs
        .iter()
        .map(|(p, r)| (p.clone(), json!(format!("{}.{}", r.stage, r.output))))
        .collect();
    let rec = st.record.as_ref();
    let (reasons, why) = reasons_json(&st.reasons);
    json!({
        "schema": SCHEMA, "command": "show", "name": job.stage.name, "kind": job.stage.kind, "seed": job.stage.seed,
        "key": st.key, "status": st.state, "reasons": reasons, "why": why, "params": params, "inputs": inputs,
        "outputs": outputs_json(rec), "wall_seconds": rec.map(|r| r.wall_seconds),
        "threads": rec.map(|r| r.threads), "mexp_version": rec.map(|r| r.mexp_version.clone()),
        "implementation": job.implementation, "backend": job.backend,
    })
}

/// Prints `plan` as text (with what would be submitted, for the Slurm executor).
pub fn print_plan(session: &Session, st: &[JobStatus], subs: Option<&[Option<Submission>]>) {
    let n_run = st.iter().filter(|s| s.state == PlanState::Run).count();
    let sweep = session
        .sweep
        .as_ref()
        .map(|s| format!(", {} variants", s.points.len()))
        .unwrap_or_default();
    println!(
        "{}: {} unique stages{sweep}: {} cached, {} to run",
        session.manifest.experiment.name,
        st.len(),
        st.len() - n_run,
        n_run
    );
    let mut shown = vec![false; st.len()];
    for (vi, v) in session.plan.variants.iter().enumerate() {
        if !v.name.is_empty() {
            println!("{} ({})", v.name, v.label);
        }
        for s in &v.experiment.stages {
            let Some(&j) = session.plan.index.get(&(vi, s.name.clone())) else {
                continue;
            };
            let indent = if v.name.is_empty() { "" } else { "  " };
            if shown[j] {
                println!(
                    "{indent}  = {:<18} (shared with an earlier variant)",
                    s.name
                );
                continue;
            }
            shown[j] = true;
            let key = st[j]
                .key
                .as_deref()
                .map_or("(pending)".to_string(), |k| k[..12].to_string());
            match st[j].state {
                PlanState::Cached => println!("{indent}  ✓ {:<18} cached  {key}", s.name),
                PlanState::Run => {
                    println!("{indent}  ▶ {:<18} run     {key}", s.name);
                    for r in &st[j].reasons {
                        println!("{indent}      {r}");
                    }
                    if let Some(sub) = subs.and_then(|s| s[j].as_ref()) {
                        let what = if sub.fan_out {
                            format!(
                                "job array, {} item(s) per task (items counted once its inputs exist), then a gather job",
                                sub.resources.items_per_task.unwrap_or(1)
                            )
                        } else {
                            "one job".to_string()
                        };
                        println!(
                            "{indent}      slurm: {what}: sbatch {}",
                            sbatch_options(sub)
                        );
                    }
                }
            }
        }
    }
}

/// Prints the end-of-run summary.
pub fn print_run(
    session: &Session,
    report: &RunReport,
    before: &[JobStatus],
    summaries: &[std::path::PathBuf],
    page: &std::path::Path,
    secs: f64,
) {
    let count = |f: fn(&Outcome) -> bool| report.outcomes.iter().filter(|o| f(o)).count();
    let (ran, cached, failed, skipped) = (
        count(|o| matches!(o, Outcome::Ran)),
        count(|o| matches!(o, Outcome::Cached)),
        count(|o| matches!(o, Outcome::Failed(_))),
        count(|o| matches!(o, Outcome::Skipped(_))),
    );
    for (j, o) in report.outcomes.iter().enumerate() {
        let name = &session.plan.jobs[j].stage.name;
        match o {
            Outcome::Ran => println!(
                "  ran     {name:<18} {:>8.2} s  ({})",
                report.seconds[j],
                before[j]
                    .reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Outcome::Failed(e) => println!("  FAILED  {name:<18} {e}"),
            Outcome::Skipped(e) => println!("  skipped {name:<18} {e}"),
            Outcome::Cached => {}
        }
    }
    println!(
        "{}: {ran} ran, {cached} cached, {failed} failed, {skipped} skipped in {secs:.2} s",
        session.manifest.experiment.name
    );
    if let Some(first) = summaries.first() {
        println!("results: {}", first.display());
    }
    if page.is_file() {
        println!("report: {}", page.display());
    }
    for s in summaries.iter().filter(|p| {
        p.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n.starts_with("sweep_summary") || n.starts_with("sweep_groups")
        })
    }) {
        println!("sweep summary: {}", s.display());
    }
}

/// Prints each failed stage's error to stderr, and nothing else (`mexp run --quiet`).
pub fn print_failures(session: &Session, report: &RunReport) {
    for (j, o) in report.outcomes.iter().enumerate() {
        if let Outcome::Failed(e) = o {
            eprintln!("FAILED {}: {e}", session.plan.jobs[j].stage.name);
        }
    }
}

/// Prints `show` as text.
pub fn print_show(v: &Value) {
    let s = |k: &str| {
        v.get(k)
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .unwrap_or_default()
    };
    println!("stage {} (kind {})", s("name"), s("kind"));
    println!("  status  {}", s("status"));
    println!("  key     {}", s("key"));
    println!("  seed    {}", s("seed"));
    if let Some(reasons) = v
        .get("reasons")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    {
        println!(
            "  why     {}",
            reasons
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!("  params");
    if let Some(p) = v.get("params").and_then(Value::as_object) {
        for (k, e) in p {
            let val = e.get("value").map(|x| x.to_string()).unwrap_or_default();
            println!(
                "    {k:<20} = {val:<16} [{}]  {}",
                e.get("source").and_then(Value::as_str).unwrap_or(""),
                e.get("doc").and_then(Value::as_str).unwrap_or("")
            );
        }
    }
    if let Some(i) = v
        .get("inputs")
        .and_then(Value::as_object)
        .filter(|i| !i.is_empty())
    {
        println!("  inputs");
        for (k, r) in i {
            println!("    {k:<20} ← {}", r.as_str().unwrap_or(""));
        }
    }
    if let Some(o) = v
        .get("outputs")
        .and_then(Value::as_object)
        .filter(|o| !o.is_empty())
    {
        println!("  outputs");
        for (k, e) in o {
            let digest = e.get("digest").and_then(Value::as_str).unwrap_or("");
            println!(
                "    {k:<20} {} ({} bytes, {})",
                e.get("file").and_then(Value::as_str).unwrap_or(""),
                e.get("bytes").unwrap_or(&Value::Null),
                &digest[..digest.len().min(12)]
            );
        }
    }
    if let Some(w) = v.get("wall_seconds").and_then(Value::as_f64) {
        println!(
            "  wall    {w:.2} s on {} threads (mexp {})",
            s("threads"),
            s("mexp_version")
        );
    }
}

/// A kind's catalogue entry as text.
pub fn kind_text(spec: &KindSpec) -> String {
    let mut out = format!("{} — {}\n", spec.kind, spec.doc);
    if !spec.params.is_empty() {
        out.push_str("\nparameters:\n");
        for (k, p) in &spec.params {
            let unit = p
                .unit
                .as_deref()
                .map(|u| format!(" [{u}]"))
                .unwrap_or_default();
            let choices = p
                .choices
                .as_ref()
                .map(|c| format!(" (one of: {})", c.join(", ")))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {k:<20} {:<12} = {:<14} {}{unit}{choices}\n",
                p.ty.name(),
                display_value(&p.default),
                p.doc
            ));
        }
    }
    if !spec.inputs.is_empty() || spec.any_inputs {
        out.push_str("\ninputs:\n");
        if spec.any_inputs {
            out.push_str("  (any port names)\n");
        }
        for (k, i) in &spec.inputs {
            out.push_str(&format!(
                "  {k:<20} {}{}\n",
                i.doc,
                if i.optional { " (optional)" } else { "" }
            ));
        }
    }
    out.push_str("\noutputs:\n");
    if spec.command {
        out.push_str("  (declared by each stage's `outputs`)\n");
    }
    for (k, o) in &spec.outputs {
        out.push_str(&format!("  {k:<20} {:<22} {}\n", o.file, o.doc));
    }
    let code = &spec.code;
    out.push_str(&format!(
        "\nimplementation {} (version {}) covers {} files and {} locked crates:\n",
        spec.fingerprint,
        code.version,
        code.files.len(),
        code.crates.len()
    ));
    for (path, digest) in &code.files {
        out.push_str(&format!(
            "  {path:<44} {}\n",
            &digest[..digest.len().min(12)]
        ));
    }
    let mut line = String::from(" ");
    for c in &code.crates {
        if line.len() + c.len() > 98 {
            out.push_str(&format!("{line}\n"));
            line = String::from(" ");
        }
        line.push_str(&format!(" {c},"));
    }
    if line.len() > 1 {
        out.push_str(&format!("{}\n", line.trim_end_matches(',')));
    }
    out
}

/// `stages <kind> --json`: the catalogue entry and what its implementation fingerprint covers.
pub fn kind_json(spec: &KindSpec) -> Value {
    let params: serde_json::Map<String, Value> = spec
        .params
        .iter()
        .map(|(k, p)| {
            let default = serde_json::to_value(&p.default).unwrap_or(Value::Null);
            (
                k.clone(),
                json!({"type": p.ty, "default": default, "doc": p.doc, "unit": p.unit,
                               "min": p.min, "min_exclusive": p.min_exclusive, "max": p.max,
                               "choices": p.choices}),
            )
        })
        .collect();
    let inputs: serde_json::Map<String, Value> = spec
        .inputs
        .iter()
        .map(|(k, i)| (k.clone(), json!({"doc": i.doc, "optional": i.optional})))
        .collect();
    let outputs: serde_json::Map<String, Value> = spec
        .outputs
        .iter()
        .map(|(k, o)| {
            (
                k.clone(),
                json!({"file": o.file, "doc": o.doc, "dir": o.dir}),
            )
        })
        .collect();
    json!({
        "schema": SCHEMA, "command": "stages", "kind": spec.kind, "doc": spec.doc,
        "params": params, "inputs": inputs, "any_inputs": spec.any_inputs, "declared_in_manifest": spec.command, "outputs": outputs,
        "implementation": spec.fingerprint, "version": spec.code.version,
        "files": spec.code.files, "crates": spec.code.crates,
    })
}
