//! After a run: readable copies of every stage's outputs under `results/<experiment>/<stage>/`
//! (hard links to the read-only objects where the file system allows, copies otherwise), a
//! `summary.md` per experiment (or variant), and for sweeps a summary table with one row per variant.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::cache::Cache;
use super::error::{EngineError, Result};
use super::executor::{Outcome, RunReport};
use super::plan::Plan;
use super::record::read_tree;
use super::sweep::Sweep;

/// Writes the results folders and summaries; returns the summary files written.
pub fn publish(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    results: &Path,
    sweep: Option<&Sweep>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (vi, variant) in plan.variants.iter().enumerate() {
        let dir = results.join(variant.namespace());
        let mut md = format!("# {}\n\n", variant.namespace());
        if !variant.label.is_empty() {
            let _ = writeln!(md, "Sweep point: {}\n", variant.label);
        }
        md.push_str(
            "| stage | kind | status | key | wall (s) | outputs |\n|---|---|---|---|---:|---|\n",
        );
        for stage in &variant.experiment.stages {
            let Some(&j) = plan.index.get(&(vi, stage.name.clone())) else {
                continue;
            };
            let status = match &report.outcomes[j] {
                Outcome::Cached => "cached".to_string(),
                Outcome::Ran => "run".to_string(),
                Outcome::Failed(_) => "failed".to_string(),
                Outcome::Skipped(_) => "skipped".to_string(),
            };
            let (key, wall, outs) = match &report.records[j] {
                Some(rec) => {
                    let sdir = dir.join(&stage.name);
                    link_outputs(cache, rec, &sdir)?;
                    let outs = rec
                        .outputs
                        .values()
                        .map(|o| format!("[{0}]({1}/{0})", o.file, stage.name))
                        .collect::<Vec<_>>()
                        .join(", ");
                    (
                        rec.key[..12].to_string(),
                        format!("{:.2}", rec.wall_seconds),
                        outs,
                    )
                }
                None => ("—".into(), "—".into(), String::new()),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {status} | `{key}` | {wall} | {outs} |",
                stage.name, stage.kind
            );
        }
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        let path = dir.join("summary.md");
        fs::write(&path, md).map_err(|e| EngineError::io("writing", &path, e))?;
        written.push(path);
    }
    if let Some(sw) = sweep {
        written.extend(sweep_table(plan, report, cache, results, sw)?);
    }
    Ok(written)
}

/// Replaces `dir` with links (or copies) of the record's outputs.
fn link_outputs(cache: &Cache, rec: &super::record::Record, dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| EngineError::io("clearing", dir, e))?;
    }
    fs::create_dir_all(dir).map_err(|e| EngineError::io("creating", dir, e))?;
    for o in rec.outputs.values() {
        if o.dir {
            let tree = read_tree(cache, &o.digest).ok_or_else(|| EngineError::Corrupt {
                path: cache.object_path(&o.digest),
                message: "unreadable tree".into(),
            })?;
            for (rel, (d, _)) in tree {
                link(&cache.object_path(&d), &dir.join(&o.file).join(rel))?;
            }
        } else {
            link(&cache.object_path(&o.digest), &dir.join(&o.file))?;
        }
    }
    Ok(())
}

fn link(src: &Path, dest: &Path) -> Result<()> {
    if let Some(p) = dest.parent() {
        fs::create_dir_all(p).map_err(|e| EngineError::io("creating", p, e))?;
    }
    if fs::hard_link(src, dest).is_err() {
        fs::copy(src, dest).map_err(|e| EngineError::io("copying to", dest, e))?;
    }
    Ok(())
}

/// One value of a sweep report column `<stage>.<output>.<json.key.path>` for variant `vi`.
pub fn report_value(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    vi: usize,
    column: &str,
) -> Option<serde_json::Value> {
    let mut parts = column.split('.');
    let (stage, output) = (parts.next()?, parts.next()?);
    let j = *plan.index.get(&(vi, stage.to_string()))?;
    let rec = report.records[j].as_ref()?;
    let bytes = cache.read_object(&rec.outputs.get(output)?.digest).ok()?;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    for p in parts {
        v = v.get(p)?.clone();
    }
    Some(v)
}

fn sweep_table(
    plan: &Plan,
    report: &RunReport,
    cache: &Cache,
    results: &Path,
    sweep: &Sweep,
) -> Result<Vec<PathBuf>> {
    let exp = &plan.variants[0].experiment.name;
    let dir = results.join(exp);
    fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
    // Every parameter any point sets, in order of first appearance (list sweeps may differ per point).
    let mut axes: Vec<String> = Vec::new();
    for p in &sweep.points {
        for o in &p.overrides {
            let name = format!("{}.{}", o.stage, o.param);
            if !axes.contains(&name) {
                axes.push(name);
            }
        }
    }
    let mut header = vec!["variant".to_string()];
    header.extend(axes.iter().cloned());
    header.extend(sweep.report.iter().cloned());
    let mut csv = header
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    let mut md = format!(
        "# Sweep summary: {exp}\n\n| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for (vi, v) in plan.variants.iter().enumerate() {
        let point = &sweep.points[vi];
        let mut row = vec![v.name.clone()];
        row.extend(axes.iter().map(|a| {
            point
                .overrides
                .iter()
                .find(|o| format!("{}.{}", o.stage, o.param) == *a)
                .map_or_else(String::new, |o| super::key::display_value(&o.value))
        }));
        for col in &sweep.report {
            row.push(match report_value(plan, report, cache, vi, col) {
                Some(serde_json::Value::Number(n)) => n
                    .as_f64()
                    .map_or_else(|| n.to_string(), |f| format!("{f:.6}")),
                Some(other) => other.to_string(),
                None => String::new(),
            });
        }
        csv.push_str(
            &(row
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"),
        );
        let _ = writeln!(
            md,
            "| {} |",
            row.iter()
                .map(|c| if c.is_empty() { "—" } else { c.as_str() })
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let (p_csv, p_md) = (dir.join("sweep_summary.csv"), dir.join("sweep_summary.md"));
    fs::write(&p_csv, csv).map_err(|e| EngineError::io("writing", &p_csv, e))?;
    fs::write(&p_md, md).map_err(|e| EngineError::io("writing", &p_md, e))?;
    Ok(vec![p_csv, p_md])
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
