//! Builds the page model from a finished run (plan, run report, the plan's statuses from before
//! the run) and the files `engine::results::publish` put under `results/`, then writes the pages.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::tables::{self, Table};
use super::{
    Artifact, Page, ParamRow, SharedStage, StageView, Status, SweepPage, render_page, render_sweep,
};
use crate::engine::catalog::Catalog;
use crate::engine::error::Result;
use crate::engine::executor::{Outcome, RunReport};
use crate::engine::key::display_value;
use crate::engine::plan::{JobStatus, Plan, param_origins};
use crate::engine::resolve::ResolvedStage;
use crate::engine::results::write_if_changed;

/// Largest prefix of a CSV file read for its table.
const CSV_PREFIX: u64 = 128 * 1024;
/// Largest JSON file read for a table.
const JSON_MAX: u64 = 256 * 1024;
/// Lines of a failed stage's log shown.
const LOG_LINES: usize = 40;

/// Writes `index.html` for the experiment (a sweep: the summary page, and one `index.html` per
/// variant folder) through [`write_if_changed`]; returns the experiment's page. Call it after
/// `engine::results::publish`: the pages show and link the files published there.
pub fn write_report(
    plan: &Plan,
    report: &RunReport,
    before: &[JobStatus],
    catalog: &Catalog,
    results: &Path,
) -> Result<PathBuf> {
    let t0 = std::time::Instant::now();
    let (mut pages, mut written) = (0usize, 0usize);
    let sweep = plan.variants.iter().any(|v| !v.name.is_empty());
    let mut has_page = vec![false; plan.variants.len()];
    for (vi, variant) in plan.variants.iter().enumerate() {
        let jobs: Vec<Option<usize>> = variant
            .experiment
            .stages
            .iter()
            .map(|s| plan.index.get(&(vi, s.name.clone())).copied())
            .collect();
        // Publish skips a variant none of whose stages ran, was cached or failed: so do we.
        if jobs
            .iter()
            .flatten()
            .all(|&j| matches!(report.outcomes[j], Outcome::Skipped(_)))
        {
            continue;
        }
        let dir = results.join(variant.namespace());
        let page_path = dir.join("index.html");
        let fingerprint = fingerprint(plan, report, before, catalog, vi, &jobs, sweep, &dir);
        if let Some(fp) = &fingerprint
            && is_current(&page_path, fp)
        {
            pages += 1;
            has_page[vi] = true;
            continue;
        }
        let stages = variant
            .experiment
            .stages
            .iter()
            .zip(&jobs)
            .filter_map(|(s, j)| j.map(|j| stage_view(plan, report, before, catalog, &dir, s, j)))
            .collect();
        let page = Page {
            title: variant.namespace(),
            subtitle: (!variant.label.is_empty()).then(|| variant.label.clone()),
            up: sweep.then(|| "../index.html".to_string()),
            extra_links: existing(&dir, &["summary.md"]),
            stages,
            fingerprint,
        };
        written += usize::from(write_if_changed(&page_path, render_page(&page).as_bytes())?);
        pages += 1;
        has_page[vi] = true;
    }
    let exp_dir = results.join(&plan.variants[0].experiment.name);
    if sweep {
        let page = sweep_page(plan, &exp_dir, &has_page);
        written += usize::from(write_if_changed(
            &exp_dir.join("index.html"),
            render_sweep(&page).as_bytes(),
        )?);
        pages += 1;
    }
    tracing::info!(
        pages,
        written,
        seconds = t0.elapsed().as_secs_f64(),
        "HTML report"
    );
    Ok(exp_dir.join("index.html"))
}

/// A digest of everything a variant's page is built from, so that a rerun can tell that the page
/// on disk is current by reading its first line, without reading the files it shows: the
/// renderer's own source and the mexp version, the variant, and per stage its outcome, reasons,
/// record (key, wall time, every output's file name and content digest: the published files are
/// copies of those objects), resolved parameters, inputs and sharing. None when a stage failed
/// (its page shows a log read from disk, so it is always rebuilt and compared byte for byte).
#[allow(clippy::too_many_arguments)]
fn fingerprint(
    plan: &Plan,
    report: &RunReport,
    before: &[JobStatus],
    catalog: &Catalog,
    vi: usize,
    jobs: &[Option<usize>],
    sweep: bool,
    dir: &Path,
) -> Option<String> {
    static RENDERER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let renderer = RENDERER.get_or_init(|| {
        let mut h = blake3::Hasher::new();
        for src in [
            env!("CARGO_PKG_VERSION"),
            include_str!("mod.rs"),
            include_str!("collect.rs"),
            include_str!("escape.rs"),
            include_str!("render.rs"),
            include_str!("style.rs"),
            include_str!("sweep.rs"),
            include_str!("tables.rs"),
        ] {
            h.update(&(src.len() as u64).to_le_bytes());
            h.update(src.as_bytes());
        }
        h.finalize().to_hex().to_string()
    });
    let mut h = blake3::Hasher::new();
    let mut put = |s: &str| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    let variant = &plan.variants[vi];
    put(renderer);
    put(&variant.namespace());
    put(&variant.label);
    put(&format!("{sweep} {}", dir.join("summary.md").is_file()));
    for (stage, j) in variant.experiment.stages.iter().zip(jobs) {
        let Some(j) = *j else { continue };
        if matches!(report.outcomes[j], Outcome::Failed(_)) {
            return None;
        }
        put(&stage.name);
        put(&stage.kind);
        put(&format!("{:?}", report.outcomes[j]));
        for r in &before[j].reasons {
            put(&r.to_string());
        }
        put(before[j].key.as_deref().unwrap_or(""));
        if let Some(rec) = &report.records[j] {
            put(&rec.key);
            put(&rec.wall_seconds.to_bits().to_string());
            for (name, o) in &rec.outputs {
                put(&format!(
                    "{name} {} {} {} {}",
                    o.file, o.digest, o.dir, o.bytes
                ));
            }
        }
        for p in param_origins(stage, catalog) {
            put(&format!(
                "{} {} {} {}",
                p.name,
                display_value(&p.value),
                p.source,
                p.doc
            ));
        }
        for (port, r) in &stage.inputs {
            put(&format!("{port} {}.{}", r.stage, r.output));
        }
        for (port, (path, _)) in &stage.files {
            put(&format!("{port} {}", path.display()));
        }
        put(&plan.jobs[j].uses.len().to_string());
    }
    Some(h.finalize().to_hex().to_string())
}

/// Whether the page at `path` was built from inputs with this fingerprint (its first 512 bytes
/// carry it).
fn is_current(path: &Path, fingerprint: &str) -> bool {
    let Ok(f) = fs::File::open(path) else {
        return false;
    };
    let mut buf = Vec::with_capacity(512);
    if f.take(512).read_to_end(&mut buf).is_err() {
        return false;
    }
    let needle = format!("<meta name=\"mexp-page\" content=\"{fingerprint}\">");
    String::from_utf8_lossy(&buf).contains(&needle)
}

/// The names in `names` that exist in `dir`.
/// The files of `dir` named `sweep_*`, sorted (the sweep's tables and charts), read once.
fn sweep_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("sweep_"))
        .filter(|n| dir.join(n).is_file())
        .collect();
    names.sort();
    names
}

fn existing(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|n| dir.join(n).is_file())
        .map(|n| n.to_string())
        .collect()
}

fn stage_view(
    plan: &Plan,
    report: &RunReport,
    before: &[JobStatus],
    catalog: &Catalog,
    dir: &Path,
    stage: &ResolvedStage,
    j: usize,
) -> StageView {
    let rec = report.records[j].as_ref();
    let reasons: Vec<String> = before[j].reasons.iter().map(ToString::to_string).collect();
    let (status, why, error) = match &report.outcomes[j] {
        Outcome::Ran => (Status::Ran, reasons, None),
        Outcome::Cached => (
            Status::Cached,
            vec!["nothing in its key changed: the recorded outputs were reused".to_string()],
            None,
        ),
        Outcome::Failed(e) => (Status::Failed, reasons, Some(e.clone())),
        Outcome::Skipped(e) => (Status::Skipped, vec![e.clone()], None),
    };
    let log_tail = error.as_deref().and_then(log_tail);
    let mut artifacts = Vec::new();
    let mut tables = Vec::new();
    if let Some(rec) = rec {
        for o in rec.outputs.values() {
            let rel = format!("{}/{}", stage.name, o.file);
            if o.dir {
                artifacts.push(Artifact {
                    path: rel.clone(),
                    bytes: 0,
                    dir: true,
                });
                list_files(&dir.join(&rel), &rel, &mut artifacts);
            } else {
                artifacts.push(Artifact {
                    path: rel,
                    bytes: o.bytes,
                    dir: false,
                });
            }
        }
        tables = stage_tables(dir, &artifacts);
    }
    StageView {
        name: stage.name.clone(),
        kind: stage.kind.clone(),
        status,
        why,
        key: rec.map(|r| r.key.clone()).or_else(|| before[j].key.clone()),
        wall_seconds: rec.map(|r| r.wall_seconds),
        inputs: stage
            .inputs
            .iter()
            .map(|(p, r)| (p.clone(), format!("{}.{}", r.stage, r.output)))
            .chain(
                stage
                    .files
                    .iter()
                    .map(|(p, (path, _))| (p.clone(), format!("file:{}", path.display()))),
            )
            .collect(),
        params: param_origins(stage, catalog)
            .into_iter()
            .map(|p| ParamRow {
                name: p.name,
                value: display_value(&p.value),
                source: p.source.to_string(),
                doc: p.doc,
            })
            .collect(),
        artifacts,
        tables,
        shared_by: plan.jobs[j].uses.len(),
        error,
        log_tail,
    }
}

/// The files under a published folder output, sorted, as artifacts relative to the page.
fn list_files(path: &Path, rel: &str, out: &mut Vec<Artifact>) {
    let Ok(rd) = fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let r = format!("{rel}/{name}");
        match e.file_type() {
            Ok(t) if t.is_dir() => list_files(&e.path(), &r, out),
            Ok(t) if t.is_file() => out.push(Artifact {
                path: r,
                bytes: e.metadata().map_or(0, |m| m.len()),
                dir: false,
            }),
            _ => {}
        }
    }
}

/// Tables from a stage's top-level CSV and JSON files. A CSV with the same stem as a JSON
/// comparison table is the same table without the ratios, and is left to its link.
fn stage_tables(dir: &Path, artifacts: &[Artifact]) -> Vec<Table> {
    let top = |a: &&Artifact| !a.dir && a.path.matches('/').count() == 1;
    let mut out = Vec::new();
    let mut compared = BTreeSet::new();
    for a in artifacts.iter().filter(top) {
        let lower = a.path.to_ascii_lowercase();
        if !lower.ends_with(".json") || a.bytes > JSON_MAX {
            continue;
        }
        let Some(doc) = fs::read(dir.join(&a.path))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        else {
            continue;
        };
        if let Some(t) = tables::comparison_table(&doc, &a.path) {
            compared.insert(a.path[..a.path.len() - 5].to_string());
            out.push(t);
        } else if let Some(t) = tables::json_scalars_table(&doc, &a.path, &a.path) {
            out.push(t);
        }
    }
    for a in artifacts.iter().filter(top) {
        let lower = a.path.to_ascii_lowercase();
        if !lower.ends_with(".csv") || compared.contains(&a.path[..a.path.len() - 4]) {
            continue;
        }
        if let Some((text, more)) = read_prefix(&dir.join(&a.path), CSV_PREFIX)
            && let Some(t) = tables::csv_table(&text, &a.path, &a.path, more)
        {
            out.push(t);
        }
    }
    out
}

/// Up to `limit` bytes of a file as text, and whether the file is longer.
fn read_prefix(path: &Path, limit: u64) -> Option<(String, bool)> {
    let f = fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut buf = Vec::new();
    f.take(limit).read_to_end(&mut buf).ok()?;
    Some((String::from_utf8_lossy(&buf).into_owned(), len > limit))
}

/// The last lines of the log a failure message names (`log: <path>` on a line of its own).
fn log_tail(message: &str) -> Option<String> {
    let path = message
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("log: "))?;
    let mut f = fs::File::open(path.trim()).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_LINES)..].join("\n");
    (!tail.trim().is_empty()).then_some(tail)
}

/// The sweep page's model: the summary table `publish` wrote, and the sharing of each stage.
fn sweep_page(plan: &Plan, exp_dir: &Path, has_page: &[bool]) -> SweepPage {
    let mut records = fs::read_to_string(exp_dir.join("sweep_summary.csv"))
        .map(|t| tables::parse_csv(&t, usize::MAX))
        .unwrap_or_default();
    let header = if records.is_empty() {
        vec!["variant".to_string()]
    } else {
        records.remove(0)
    };
    let by_name: std::collections::HashMap<&str, usize> = plan
        .variants
        .iter()
        .enumerate()
        .map(|(vi, v)| (v.name.as_str(), vi))
        .collect();
    let links = records
        .iter()
        .map(|r| {
            let vi = *by_name.get(r.first()?.as_str())?;
            has_page[vi].then(|| format!("{}/index.html", plan.variants[vi].name))
        })
        .collect();
    let stages = plan.variants[0]
        .experiment
        .stages
        .iter()
        .map(|s| {
            let jobs: BTreeSet<usize> = (0..plan.variants.len())
                .filter_map(|vi| plan.index.get(&(vi, s.name.clone())).copied())
                .collect();
            SharedStage {
                name: s.name.clone(),
                kind: s.kind.clone(),
                jobs: jobs.len(),
                variants: plan.variants.len(),
            }
        })
        .collect();
    let sweep_files = sweep_files(exp_dir);
    SweepPage {
        title: plan.variants[0].experiment.name.clone(),
        header,
        rows: records,
        links,
        stages,
        extra_links: existing(
            exp_dir,
            &[
                "sweep_summary.csv",
                "sweep_summary.md",
                "sweep_groups.csv",
                "sweep_groups.md",
            ],
        )
        .into_iter()
        .chain(
            sweep_files
                .iter()
                .filter(|n| n.starts_with("sweep_band_") && n.ends_with(".csv"))
                .cloned(),
        )
        .collect(),
        figures: sweep_files
            .iter()
            .filter(|n| n.ends_with(".png"))
            .cloned()
            .collect(),
        tables: fs::read_to_string(exp_dir.join("sweep_groups.csv"))
            .ok()
            .and_then(|t| {
                let mut recs = tables::parse_csv(&t, usize::MAX);
                (!recs.is_empty()).then(|| Table {
                    caption: "Spread over replicates".to_string(),
                    source: "sweep_groups.csv".to_string(),
                    header: recs.remove(0),
                    rows: recs,
                    truncated: false,
                    ratio_columns: Vec::new(),
                })
            })
            .into_iter()
            .collect(),
    }
}

/// [`log_tail`] for the module's tests.
#[cfg(test)]
pub(super) fn log_tail_for_tests(message: &str) -> Option<String> {
    log_tail(message)
}
