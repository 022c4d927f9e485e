//! The Slurm driver loop: release jobs whose upstream jobs finished, submit them, poll the queue
//! once per round with backoff, read marker files, and cancel everything on Ctrl-C.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::SlurmOptions;
use super::script::{JobArray, ScriptSpec};
use super::tools::{QueueState, SlurmTools};
use crate::engine::cache::Cache;
use crate::engine::catalog::{Catalog, Resources};
use crate::engine::context::FanOutMode;
use crate::engine::error::{EngineError, Result};
use crate::engine::executor::{Outcome, RunReport};
use crate::engine::job_runner::{JobEnv, PartOutcome, publish_refs, run_ticket};
use crate::engine::plan::{JobStatus, Plan, PlanState, input_digests};
use crate::engine::progress::ProgressView;
use crate::engine::record::Record;
use crate::engine::resources;
use crate::engine::stage::Registry;
use crate::engine::ticket::JobTicket;

/// What `mexp plan --executor slurm` says a job would become.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Resources of its Slurm job(s).
    pub resources: Resources,
    /// Whether it goes out as a job array over its items (then one gather job).
    pub fan_out: bool,
}

/// For every job that must run, what would be submitted (`None` for cached jobs).
pub fn describe(
    plan: &Plan,
    statuses: &[JobStatus],
    catalog: &Catalog,
    opts: &super::SlurmOptions,
) -> Vec<Option<Submission>> {
    plan.jobs
        .iter()
        .zip(statuses)
        .map(|(job, st)| {
            let spec = catalog.get(&job.stage.kind)?;
            (st.state == PlanState::Run).then(|| Submission {
                resources: resources::effective(
                    &spec.resources,
                    &job.stage.resources,
                    opts.partition.as_deref(),
                ),
                fan_out: spec.fan_out,
            })
        })
        .collect()
}

enum Step {
    Whole,
    Slices,
}

struct InFlight {
    step: Step,
    spec: ScriptSpec,
    job_id: String,
    unseen_polls: u32,
    /// When the job's first submission went out (queue time counts: it is what the user waits).
    since: Instant,
}

enum Slot {
    Waiting,
    InFlight(Box<InFlight>),
    Finished(Outcome),
}

/// Polls after which a job that is neither in the queue nor has written its markers is failed
/// (markers may take a moment to appear on a shared filesystem).
const VANISHED_AFTER_POLLS: u32 = 3;

struct Driver<'a> {
    plan: &'a Plan,
    catalog: &'a Catalog,
    cache: &'a Cache,
    opts: &'a SlurmOptions,
    env: JobEnv<'a>,
    tools: SlurmTools,
    cache_root: std::path::PathBuf,
    run_dir: std::path::PathBuf,
    slots: Vec<Slot>,
    records: Vec<Option<Record>>,
    seconds: Vec<f64>,
    stop: bool,
}

/// Runs every job of `plan` that is not cached on Slurm.
pub fn execute(
    plan: &Plan,
    registry: &Registry,
    cache: &Cache,
    opts: &SlurmOptions,
    cancel: &AtomicBool,
    progress: &ProgressView,
) -> Result<RunReport> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Absolute paths in job scripts: a job's working directory is not guaranteed to be ours.
    let cache_root = std::path::absolute(cache.root())
        .map_err(|e| EngineError::io("resolving", cache.root(), e))?;
    super::script::check_script_path(&cache_root).map_err(EngineError::Usage)?;
    let run_dir = cache_root
        .join("slurm")
        .join(format!("{stamp}-{}", std::process::id()));
    fs::create_dir_all(&run_dir).map_err(|e| EngineError::io("creating", &run_dir, e))?;
    let n = plan.jobs.len();
    let mut d = Driver {
        plan,
        catalog: &registry.catalog,
        cache,
        opts,
        env: JobEnv {
            registry,
            cache,
            cancel,
            progress,
            threads: 1,
        },
        tools: SlurmTools::default(),
        cache_root,
        run_dir,
        slots: (0..n).map(|_| Slot::Waiting).collect(),
        records: vec![None; n],
        seconds: vec![0.0; n],
        stop: false,
    };
    let started = Instant::now();
    d.run_loop();
    let stats = d.tools.stats();
    let wall = started.elapsed().as_secs_f64();
    if stats.submissions > 0 {
        progress.println(&format!(
            "slurm: {} submissions ({} retried) in {:.2} s ({:.1} per second of sbatch), {} polls at {:.1} ms each; run folder {}",
            stats.submissions,
            stats.retries,
            stats.submit_time.as_secs_f64(),
            stats.submissions as f64 / stats.submit_time.as_secs_f64().max(1e-9),
            stats.polls,
            1e3 * stats.poll_time.as_secs_f64() / stats.polls.max(1) as f64,
            d.run_dir.display()
        ));
    }
    tracing::info!(wall, "slurm run finished");
    let outcomes = d
        .slots
        .into_iter()
        .map(|s| match s {
            Slot::Finished(o) => o,
            _ => Outcome::Skipped("run stopped".into()),
        })
        .collect();
    Ok(RunReport {
        outcomes,
        records: d.records,
        seconds: d.seconds,
    })
}

impl Driver<'_> {
    fn cancelled(&self) -> bool {
        self.env.cancel.load(Ordering::Relaxed)
    }

    fn in_flight_ids(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::InFlight(f) => Some(f.job_id.clone()),
                _ => None,
            })
            .collect()
    }

    fn in_flight_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::InFlight(_)))
            .count()
    }

    fn run_loop(&mut self) {
        let (min_pause, max_pause) = self.opts.poll;
        let mut pause = min_pause;
        loop {
            if self.cancelled() {
                self.cancel_all();
                return;
            }
            let mut changed = self.release();
            let waiting = self.slots.iter().any(|s| matches!(s, Slot::Waiting));
            let ids = self.in_flight_ids();
            if ids.is_empty() && !waiting {
                return;
            }
            if !ids.is_empty() {
                changed |= self.poll(&ids);
            }
            pause = if changed {
                min_pause
            } else {
                (pause.mul_f64(1.5)).min(max_pause)
            };
            // Sleep in small steps so that Ctrl-C is acted on at once.
            let until = Instant::now() + pause;
            while Instant::now() < until && !self.cancelled() {
                std::thread::sleep(min_pause.min(std::time::Duration::from_millis(50)));
            }
        }
    }

    /// Releases every waiting job whose upstream jobs are done; returns whether anything changed.
    fn release(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.plan.jobs.len() {
            if !matches!(self.slots[i], Slot::Waiting) {
                continue;
            }
            let deps: Vec<usize> = self.plan.jobs[i].deps.values().map(|(j, _)| *j).collect();
            let bad = deps.iter().find(|&&j| {
                matches!(
                    self.slots[j],
                    Slot::Finished(Outcome::Failed(_) | Outcome::Skipped(_))
                )
            });
            if let Some(&j) = bad {
                let why = format!("upstream {} did not complete", self.plan.jobs[j].stage.name);
                self.finish(i, Outcome::Skipped(why));
                changed = true;
                continue;
            }
            if self.stop {
                self.finish(i, Outcome::Skipped("run stopped".into()));
                changed = true;
                continue;
            }
            let ready = deps.iter().all(|&j| {
                matches!(
                    self.slots[j],
                    Slot::Finished(Outcome::Cached | Outcome::Ran)
                )
            });
            if !ready || self.in_flight_count() >= self.opts.max_jobs.max(1) {
                continue;
            }
            changed = true;
            if let Err(msg) = self.start(i) {
                self.fail(i, msg);
            }
        }
        changed
    }

    /// Takes job `i` from the cache, or submits it (counting a fan-out job's items first).
    fn start(&mut self, i: usize) -> std::result::Result<(), String> {
        let job = &self.plan.jobs[i];
        let name = job.stage.name.clone();
        let digests = input_digests(self.plan, i, &self.records)
            .ok_or_else(|| format!("stage {name}: an upstream record is missing"))?;
        let ticket = JobTicket::for_job(self.plan, i, &digests, self.catalog, self.cache)
            .map_err(|e| format!("stage {name}: {e}"))?;
        let spec = self
            .catalog
            .get(&job.stage.kind)
            .ok_or_else(|| format!("unknown stage kind {}", job.stage.kind))?;
        let res = resources::effective(
            &spec.resources,
            &job.stage.resources,
            self.opts.partition.as_deref(),
        );
        let fan_out = spec.fan_out;
        if let Some(rec) = Record::load(self.cache, &ticket.key)
            .filter(|r| r.missing_outputs(self.cache).is_empty())
        {
            publish_refs(self.cache, &ticket, &rec);
            self.records[i] = Some(rec);
            self.finish(i, Outcome::Cached);
            return Ok(());
        }
        let label = format!("{i:03}-{}", sanitize(&name));
        let ticket_path = self.run_dir.join(format!("{label}.json"));
        ticket
            .store(self.cache, &ticket_path)
            .map_err(|e| e.to_string())?;
        let items = if fan_out {
            match run_ticket(&ticket, &FanOutMode::Count, &self.env)? {
                PartOutcome::Counted(n) => n,
                PartOutcome::Published { record, .. } => {
                    self.records[i] = Some(*record);
                    self.finish(i, Outcome::Cached);
                    return Ok(());
                }
                PartOutcome::SliceStored => 0,
            }
        } else {
            0
        };
        let per_task = res.items_per_task.unwrap_or(1).max(1) as usize;
        // Slices whose items are all stored (by an interrupted earlier run) are not resubmitted.
        let tasks: Vec<usize> = (0..items.div_ceil(per_task))
            .filter(|t| {
                (t * per_task..((t + 1) * per_task).min(items))
                    .any(|item| !self.cache.has_shard(&ticket.key, item))
            })
            .collect();
        let (step, array, label) = if tasks.is_empty() {
            (Step::Whole, None, label)
        } else {
            let array = JobArray {
                tasks,
                per_task,
                cap: self.opts.max_jobs.max(1),
            };
            (Step::Slices, Some(array), format!("{label}-slices"))
        };
        let spec = ScriptSpec {
            job_name: format!("mexp-{}", sanitize(&name)),
            run_dir: self.run_dir.clone(),
            label,
            exe: self.opts.exe.clone(),
            cache: self.cache_root.clone(),
            ticket: ticket_path,
            resources: res,
            array,
        };
        self.submit(i, step, spec, Instant::now())
    }

    fn submit(
        &mut self,
        i: usize,
        step: Step,
        spec: ScriptSpec,
        since: Instant,
    ) -> std::result::Result<(), String> {
        let path = spec.path();
        self.cache
            .write_atomic(&path, spec.render().as_bytes())
            .map_err(|e| e.to_string())?;
        let job_id = self.tools.submit(&path).map_err(|e| {
            format!(
                "stage {}: submission failed: {e}",
                self.plan.jobs[i].stage.name
            )
        })?;
        let what = match &spec.array {
            Some(a) => format!("array of {} tasks × {} items", a.tasks.len(), a.per_task),
            None => "job".to_string(),
        };
        self.env.progress.println(&format!(
            "⇢ {} submitted: Slurm {what} {job_id}",
            self.plan.jobs[i].stage.name
        ));
        self.env.progress.update(|t| t.queued += 1);
        self.slots[i] = Slot::InFlight(Box::new(InFlight {
            step,
            spec,
            job_id,
            unseen_polls: 0,
            since,
        }));
        Ok(())
    }

    /// One squeue for every job in flight, then the markers; returns whether anything changed.
    fn poll(&mut self, ids: &[String]) -> bool {
        let queue = match self.tools.queue(ids) {
            Ok(q) => Some(q),
            Err(e) => {
                tracing::warn!("squeue failed: {e}; trying again at the next poll");
                None
            }
        };
        let mut changed = false;
        let (mut queued, mut running) = (0, 0);
        for i in 0..self.slots.len() {
            let Slot::InFlight(f) = &mut self.slots[i] else {
                continue;
            };
            let markers: Vec<(usize, Option<i32>)> = f
                .spec
                .tasks()
                .into_iter()
                .map(|t| (t, read_marker(&f.spec.marker(t))))
                .collect();
            if markers.iter().all(|(_, m)| m.is_some()) {
                changed = true;
                let failed = markers.iter().find(|(_, m)| *m != Some(0)).copied();
                self.completed(i, failed);
                continue;
            }
            let Some(queue) = &queue else { continue };
            let prefix = format!("{}_", f.job_id);
            let mine: Vec<&QueueState> = queue
                .iter()
                .filter(|(id, _)| **id == f.job_id || id.starts_with(&prefix))
                .map(|(_, s)| s)
                .collect();
            if mine.is_empty() {
                f.unseen_polls += 1;
                if f.unseen_polls >= VANISHED_AFTER_POLLS {
                    let missing = markers
                        .iter()
                        .find(|(_, m)| m.is_none())
                        .map_or(0, |(t, _)| *t);
                    let msg = format!(
                        "stage {}: Slurm job {} left the queue without writing its exit status \
                         (cancelled, over its time or memory limit, or its node failed?)\n  output: {}",
                        self.plan.jobs[i].stage.name,
                        f.job_id,
                        f.spec.output(missing).display()
                    );
                    changed = true;
                    self.fail(i, msg);
                }
                continue;
            }
            f.unseen_polls = 0;
            if mine.iter().any(|s| **s == QueueState::Running) {
                running += 1;
            } else {
                queued += 1;
            }
        }
        let before = self.env.progress.tally();
        if before.queued != queued || before.running != running {
            self.env.progress.update(|t| {
                t.queued = queued;
                t.running = running;
            });
            let t = self.env.progress.tally();
            self.env.progress.println(&format!(
                "slurm: queued {} · running {} · done {} · cached {} · failed {}",
                t.queued, t.running, t.done, t.cached, t.failed
            ));
        }
        changed
    }

    /// All tasks of job `i`'s submission wrote their markers; `failed` is a (task, status) that
    /// was not 0, if any.
    fn completed(&mut self, i: usize, failed: Option<(usize, Option<i32>)>) {
        let Slot::InFlight(f) = std::mem::replace(&mut self.slots[i], Slot::Waiting) else {
            return;
        };
        let name = self.plan.jobs[i].stage.name.clone();
        if let Some((t, rc)) = failed {
            let rc = rc.unwrap_or(-1);
            let out = f.spec.output(t);
            let msg = format!(
                "stage {name} failed on Slurm (job {}, task {t}, exit status {rc})\n{}  output: {}",
                f.job_id,
                tail(&out, 8),
                out.display()
            );
            self.fail(i, msg);
            return;
        }
        match f.step {
            Step::Slices => {
                // Every item is stored: one gather job assembles and publishes the outputs.
                let spec = ScriptSpec {
                    label: format!("{}-gather", f.spec.label.trim_end_matches("-slices")),
                    array: None,
                    ..f.spec
                };
                if let Err(msg) = self.submit(i, Step::Whole, spec, f.since) {
                    self.fail(i, msg);
                }
            }
            Step::Whole => {
                let key = match JobTicket::load(&f.spec.ticket) {
                    Ok(t) => t.key,
                    Err(e) => return self.fail(i, format!("stage {name}: {e}")),
                };
                match Record::load(self.cache, &key) {
                    Some(rec) => {
                        self.seconds[i] = f.since.elapsed().as_secs_f64();
                        self.records[i] = Some(rec);
                        self.env.progress.println(&format!("✔ {name} (Slurm job {})", f.job_id));
                        self.finish(i, Outcome::Ran);
                    }
                    None => self.fail(
                        i,
                        format!(
                            "stage {name}: Slurm job {} ended well but its record is not in the cache {}; \
                             is the cache on a filesystem the nodes share?",
                            f.job_id,
                            self.cache.root().display()
                        ),
                    ),
                }
            }
        }
    }

    fn finish(&mut self, i: usize, outcome: Outcome) {
        self.env.progress.update(|t| match &outcome {
            Outcome::Cached => t.cached += 1,
            Outcome::Ran => t.done += 1,
            Outcome::Failed(_) => t.failed += 1,
            Outcome::Skipped(_) => t.skipped += 1,
        });
        self.slots[i] = Slot::Finished(outcome);
    }

    fn fail(&mut self, i: usize, msg: String) {
        self.env.progress.println(&format!("✘ {msg}"));
        if !self.opts.keep_going {
            self.stop = true;
        }
        self.finish(i, Outcome::Failed(msg));
    }

    /// Ctrl-C: cancels everything this run submitted and waits (bounded) until it left the queue.
    fn cancel_all(&mut self) {
        let ids = self.in_flight_ids();
        if !ids.is_empty() {
            self.env.progress.println(&format!(
                "cancelling {} Slurm job(s): {}",
                ids.len(),
                ids.join(" ")
            ));
            if let Err(e) = self.tools.cancel(&ids) {
                self.env.progress.println(&format!("scancel failed: {e}"));
            }
            let deadline = Instant::now() + std::time::Duration::from_secs(60);
            while Instant::now() < deadline {
                match self.tools.queue(&ids) {
                    Ok(q) if q.is_empty() => break,
                    Err(_) => break,
                    _ => std::thread::sleep(std::time::Duration::from_millis(250)),
                }
            }
        }
        for i in 0..self.slots.len() {
            if !matches!(self.slots[i], Slot::Finished(_)) {
                self.slots[i] = Slot::Finished(Outcome::Skipped("run interrupted".into()));
            }
        }
    }
}

fn read_marker(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("  | {l}\n"))
        .collect()
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
