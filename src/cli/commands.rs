//! The subcommands.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::output;
use super::{CmdResult, ExecutorArgs, Selection};
use crate::engine::FanOutMode;
use crate::engine::cache::Cache;
use crate::engine::executor::{Outcome, RunOptions, execute};
use crate::engine::job_runner::{JobEnv, run_ticket};
use crate::engine::maintenance::{self, RunGuard, human_bytes};
use crate::engine::plan::{Plan, PlanState, statuses};
use crate::engine::progress::ProgressView;
use crate::engine::session::{Request, Session, project_root};
use crate::engine::slurm::SlurmOptions;
use crate::engine::targets;
use crate::engine::ticket::JobTicket;
use crate::engine::{EngineError, Registry};

static CANCEL: AtomicBool = AtomicBool::new(false);

/// The engine's request for `sel`.
pub(super) fn request(sel: &Selection) -> Request {
    Request {
        manifest: sel.manifest.clone(),
        profile: sel.profile.clone(),
        sets: sel.sets.clone(),
        backend: sel.backend.clone(),
        cache: sel.cache.clone(),
        results: sel.results.clone(),
    }
}

/// Opens the registry, the session of `sel` and its cache.
pub(super) fn open(sel: &Selection) -> Result<(Registry, Session, Cache), EngineError> {
    let registry = crate::stages::registry()?;
    let session = Session::open(&registry, &request(sel))?;
    let cache = Cache::open(&session.cache_dir)?;
    Ok((registry, session, cache))
}

/// `mexp run`.
pub fn run(
    sel: &Selection,
    targets: &[String],
    exec: &ExecutorArgs,
    jobs: usize,
    threads: Option<usize>,
    keep_going: bool,
    quiet: bool,
) -> CmdResult {
    let t0 = Instant::now();
    let (registry, session, cache) = open(sel)?;
    let restricted = restricted_plan(&session.plan, targets)?;
    check_locks(&cache)?;
    let _guard = RunGuard::shared(&cache)?;
    let before = statuses(&session.plan, &cache);
    // With targets, only the selected jobs run; the report is widened to the whole plan after.
    let (plan, selected): (&Plan, Vec<usize>) = match &restricted {
        Some((sub, map)) => (sub, map.clone()),
        None => (&session.plan, (0..session.plan.jobs.len()).collect()),
    };
    let cached = selected
        .iter()
        .filter(|&&j| before[j].state == PlanState::Cached)
        .count();
    // `--quiet` prints nothing but errors; `--json` prints only the JSON on stdout.
    let print_summary = !quiet && !sel.json;
    let quiet = quiet || sel.json;
    if !quiet {
        if let Some(sw) = &session.sweep {
            eprintln!(
                "sweep: {} variants, {} unique stages ({} cached, {} to run)",
                sw.points.len(),
                plan.jobs.len(),
                cached,
                plan.jobs.len() - cached
            );
        } else if cached < plan.jobs.len() {
            eprintln!(
                "{}: {} stages ({} cached, {} to run)",
                session.manifest.experiment.name,
                plan.jobs.len(),
                cached,
                plan.jobs.len() - cached
            );
        }
    }
    install_interrupt_handler(exec.executor == "slurm");
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let progress = ProgressView::new(plan.jobs.len(), quiet);
    let report = if exec.executor == "slurm" {
        let opts = slurm_options(exec, keep_going)?;
        crate::engine::slurm::execute(plan, &registry, &cache, &opts, &CANCEL, &progress)?
    } else {
        execute(
            plan,
            &registry,
            &cache,
            &RunOptions {
                jobs,
                threads,
                keep_going,
            },
            &CANCEL,
            &progress,
        )?
    };
    progress.finish();
    let report = match &restricted {
        Some((_, map)) => targets::widen(report, map, &before),
        None => report,
    };
    let mut summaries = crate::engine::results::publish(
        &session.plan,
        &report,
        &cache,
        &session.results_dir,
        session.sweep.as_ref(),
    )?;
    // a chart that cannot be drawn costs the reader a picture, not the run its results
    type Drawer = fn(
        &crate::engine::plan::Plan,
        &crate::engine::executor::RunReport,
        &crate::engine::cache::Cache,
        &std::path::Path,
        Option<&crate::engine::sweep::Sweep>,
    ) -> Result<Vec<std::path::PathBuf>, crate::report::plot::PlotError>;
    let drawers: [(&str, Drawer); 2] = [
        (
            "replicate charts",
            crate::report::spread_plot::write_spread_charts,
        ),
        ("band figures", crate::report::band_plot::write_band_charts),
    ];
    for (what, draw) in drawers {
        match draw(
            &session.plan,
            &report,
            &cache,
            &session.results_dir,
            session.sweep.as_ref(),
        ) {
            Ok(files) => summaries.extend(files),
            Err(e) => tracing::warn!("{what} not drawn: {e}"),
        }
    }
    let page = crate::report::html::write_report(
        &session.plan,
        &report,
        &before,
        &registry.catalog,
        &session.results_dir,
    )?;
    let failed = report
        .outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Failed(_)));
    let interrupted = CANCEL.load(Ordering::SeqCst);
    if sel.json {
        output::print_json(&output::run_json(
            &session, &report, &before, &summaries, &page,
        ));
    } else if !print_summary {
        output::print_failures(&session, &report);
    } else {
        output::print_run(
            &session,
            &report,
            &before,
            &summaries,
            &page,
            t0.elapsed().as_secs_f64(),
        );
    }
    if interrupted {
        return Err(EngineError::Interrupted);
    }
    Ok(if failed { 1 } else { 0 })
}

/// Issue 13, hole 8: a filesystem that refuses `flock` stops the run with what to do; one that
/// ignores it gets a warning (concurrent runs may then compute a stage twice).
fn check_locks(cache: &Cache) -> Result<(), EngineError> {
    use crate::engine::lock::{LockSupport, ignored_locks_warning, probe_locks};
    if probe_locks(cache)? == LockSupport::Ignored {
        eprintln!("{}", ignored_locks_warning(cache));
    }
    Ok(())
}

/// Ctrl-C (and SIGTERM): the first sets the cancel flag, the second exits at once.
fn install_interrupt_handler(cluster: bool) {
    let what = if cluster {
        "cancelling the Slurm jobs of this run"
    } else {
        "stopping running stages"
    };
    let _ = ctrlc::set_handler(move || {
        if CANCEL.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted twice: exiting now (nothing half-written is ever trusted)");
            std::process::exit(130);
        }
        eprintln!("\ninterrupting: {what}; finished work stays cached (Ctrl-C again to exit now)");
    });
}

fn slurm_options(exec: &ExecutorArgs, keep_going: bool) -> Result<SlurmOptions, EngineError> {
    let exe = std::env::current_exe()
        .map_err(|e| EngineError::Usage(format!("cannot find the mexp binary to submit: {e}")))?;
    if let Some(p) = &exec.partition {
        crate::engine::resources::partition_ok(p)
            .map_err(|why| EngineError::Usage(format!("--partition {why}")))?;
    }
    let mut opts = SlurmOptions::new(exe);
    opts.partition = exec.partition.clone();
    opts.max_jobs = exec.max_jobs.max(1);
    opts.keep_going = keep_going;
    Ok(opts)
}

/// The plan cut down to `targets` and what they need, and the map from its jobs to the whole
/// plan's; `None` without targets.
fn restricted_plan(
    plan: &Plan,
    targets: &[String],
) -> Result<Option<(Plan, Vec<usize>)>, EngineError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let keep = targets::select(plan, targets)?;
    Ok(Some(targets::restrict(plan, &keep)))
}

/// `mexp plan`.
pub fn plan(sel: &Selection, targets: &[String], exec: &ExecutorArgs) -> CmdResult {
    let (registry, mut session, cache) = open(sel)?;
    if let Some((sub, _)) = restricted_plan(&session.plan, targets)? {
        session.plan = sub;
    }
    let st = statuses(&session.plan, &cache);
    let subs = if exec.executor == "slurm" {
        let opts = slurm_options(exec, false)?;
        Some(crate::engine::slurm::describe(
            &session.plan,
            &st,
            &registry.catalog,
            &opts,
        ))
    } else {
        None
    };
    if sel.json {
        output::print_json(&output::plan_json(&session, &st, subs.as_deref()));
    } else {
        output::print_plan(&session, &st, subs.as_deref());
    }
    Ok(0)
}

/// `mexp __exec`: runs one ticketed job, or one slice of a fan-out job, on a cluster node.
/// Exit status: 0 done (or already cached), 1 the stage failed, 130 interrupted.
pub fn exec_job(
    cache_dir: &Path,
    ticket: &Path,
    threads: usize,
    slice: Option<(usize, usize)>,
) -> CmdResult {
    let registry = crate::stages::registry()?;
    let cache = Cache::open(cache_dir)?;
    check_locks(&cache)?;
    let _guard = RunGuard::shared(&cache)?;
    let ticket = JobTicket::load(ticket)?;
    install_interrupt_handler(false);
    let progress = ProgressView::new(1, false);
    let part = match slice {
        Some((size, task)) => FanOutMode::Slice(task * size..(task + 1) * size),
        None => FanOutMode::All,
    };
    let env = JobEnv {
        registry: &registry,
        cache: &cache,
        cancel: &CANCEL,
        progress: &progress,
        threads: threads.max(1),
    };
    match run_ticket(&ticket, &part, &env) {
        Ok(_) => Ok(0),
        Err(msg) => {
            eprintln!("{msg}");
            if CANCEL.load(Ordering::SeqCst) {
                Err(EngineError::Interrupted)
            } else {
                Ok(1)
            }
        }
    }
}

/// `mexp show`.
pub fn show(sel: &Selection, stage: &str, variant: Option<&str>) -> CmdResult {
    let (registry, session, cache) = open(sel)?;
    let plan = &session.plan;
    let vi = match variant {
        None => 0,
        Some(v) => plan
            .variants
            .iter()
            .position(|x| x.name == v)
            .ok_or_else(|| {
                EngineError::Usage(format!(
                    "no variant `{v}`; variants: {}",
                    plan.variants
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?,
    };
    let Some(&j) = plan.index.get(&(vi, stage.to_string())) else {
        let names: Vec<&str> = plan.variants[vi]
            .experiment
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let hint = crate::engine::diag::suggestion(stage, names.iter().copied())
            .map(|hint| format!(" ({hint})"))
            .unwrap_or_default();
        return Err(EngineError::Usage(format!(
            "no stage `{stage}` in {}{hint}; stages: {}",
            sel.manifest.display(),
            names.join(", ")
        )));
    };
    let st = statuses(plan, &cache);
    let value = output::show_json(&session, &registry, j, &st[j]);
    if sel.json {
        output::print_json(&value);
    } else {
        output::print_show(&value);
    }
    Ok(0)
}

/// `mexp stages`.
pub fn stages(kind: Option<&str>, json: bool) -> CmdResult {
    let registry = crate::stages::registry()?;
    match kind {
        Some(k) => {
            let spec = registry.catalog.get(k).ok_or_else(|| {
                let hint = crate::engine::diag::suggestion(k, registry.catalog.names())
                    .map(|hint| format!(" ({hint})"))
                    .unwrap_or_default();
                EngineError::Usage(format!(
                    "unknown stage kind `{k}`{hint}; `mexp stages` lists them"
                ))
            })?;
            if json {
                output::print_json(&output::kind_json(spec));
            } else {
                print!("{}", output::kind_text(spec));
            }
        }
        None if json => {
            let kinds: Vec<serde_json::Value> =
                registry.catalog.kinds().map(output::kind_json).collect();
            output::print_json(&serde_json::json!({
                "schema": output::SCHEMA, "command": "stages", "kinds": kinds,
            }));
        }
        None => {
            for spec in registry.catalog.kinds() {
                println!("{:<20} {}", spec.kind, spec.doc);
            }
            println!(
                "\n`mexp stages <kind>` shows a kind's parameters, defaults, inputs and outputs."
            );
        }
    }
    Ok(0)
}

/// `mexp verify`.
pub fn verify(cache_dir: &Path) -> CmdResult {
    if !cache_dir.join("objects").is_dir() {
        return Err(EngineError::Usage(format!(
            "{} is not a mexp cache (no objects/ folder)",
            cache_dir.display()
        )));
    }
    let cache = Cache::open(cache_dir)?;
    let t0 = Instant::now();
    let r = maintenance::verify(&cache)?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "verified {} objects ({}) in {secs:.2} s",
        r.objects,
        human_bytes(r.bytes)
    );
    for d in &r.corrupt {
        println!(
            "corrupt: {d} (moved to {}; it will be recomputed)",
            cache.root().join("corrupt").display()
        );
    }
    for k in &r.incomplete_records {
        println!("incomplete record: {k} (unreadable or missing objects; its stage will rerun)");
    }
    if r.debris_removed > 0 {
        println!(
            "removed {} leftovers of interrupted runs (staging files, stale shards)",
            r.debris_removed
        );
    }
    if r.debris_skipped {
        println!("a run is using this cache: leftovers of interrupted runs were left alone");
    }
    Ok(if r.is_clean() { 0 } else { 1 })
}

/// `mexp gc`.
pub fn gc(keep: &[PathBuf], dry_run: bool, cache: Option<PathBuf>) -> CmdResult {
    let registry = crate::stages::registry()?;
    let cache_dir = cache.unwrap_or_else(|| project_root(&keep[0]).join("cache"));
    let cache = Cache::open(&cache_dir)?;
    let mut sessions = Vec::new();
    for m in keep {
        // Every backend: results trained with `--backend vulkan` or `cuda` are kept too.
        sessions.extend(Session::open_every_variant(
            &registry,
            m,
            &cache_dir,
            &["flex", "vulkan", "cuda"],
        )?);
    }
    let refs: Vec<&Session> = sessions.iter().collect();
    let r = maintenance::gc(&cache, &refs, dry_run)?;
    let verb = if dry_run { "would remove" } else { "removed" };
    println!(
        "kept {} records and {} resumable shard folders; {verb} {} records and {} objects, freeing {}{}",
        r.kept_records,
        r.kept_shards,
        r.removed_records,
        r.removed_objects,
        human_bytes(r.freed_bytes),
        if dry_run {
            " (dry run: nothing deleted)"
        } else {
            ""
        }
    );
    let verb = if dry_run { "would drop" } else { "dropped" };
    for h in &r.pruned_history {
        println!("{verb} history entry {h} (its record is gone)");
    }
    Ok(0)
}
