//! The local executor: runs a plan's jobs concurrently within `--jobs`, each with its own rayon pool,
//! under per-key locks, publishing outputs atomically and writing a record per job.

use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::cache::Cache;
use super::context::FanOutMode;
use super::error::{EngineError, Result};
use super::job_runner::{JobEnv, PartOutcome, run_ticket};
use super::plan::{Plan, input_digests};
use super::progress::ProgressView;
use super::record::Record;
use super::stage::Registry;
use super::ticket::JobTicket;

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stages run at once.
    pub jobs: usize,
    /// Total threads shared among running stages.
    pub threads: usize,
    /// Continue independent stages after a failure.
    pub keep_going: bool,
}

/// How one job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Taken from the cache.
    Cached,
    /// Computed now.
    Ran,
    /// Failed, with the message and the path of its log.
    Failed(String),
    /// Not run because an upstream job failed (or the run stopped).
    Skipped(String),
}

/// The result of a run: per job, its outcome and record.
pub struct RunReport {
    /// Outcome per job (plan order).
    pub outcomes: Vec<Outcome>,
    /// Record per job, when it has one.
    pub records: Vec<Option<Record>>,
    /// Wall time per job computed in this run.
    pub seconds: Vec<f64>,
}

#[derive(Clone, PartialEq)]
enum Slot {
    Waiting,
    Running,
    Finished(Outcome),
}

struct State {
    slots: Vec<Slot>,
    records: Vec<Option<Record>>,
    seconds: Vec<f64>,
    stop: bool,
}

/// Runs every job of `plan` that is not cached.
pub fn execute(
    plan: &Plan,
    registry: &Registry,
    cache: &Cache,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &ProgressView,
) -> Result<RunReport> {
    let n = plan.jobs.len();
    let state = Mutex::new(State {
        slots: vec![Slot::Waiting; n],
        records: vec![None; n],
        seconds: vec![0.0; n],
        stop: false,
    });
    let wake = Condvar::new();
    let workers = opts.jobs.clamp(1, n.max(1));
    let threads_per_job = (opts.threads / workers).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                worker(
                    plan,
                    registry,
                    cache,
                    opts,
                    cancel,
                    progress,
                    &state,
                    &wake,
                    threads_per_job,
                )
            });
        }
    });
    let st = state
        .into_inner()
        .map_err(|_| EngineError::Usage("a worker thread panicked".into()))?;
    let outcomes = st.slots.into_iter().map(|s| match s {
        Slot::Finished(o) => o,
        _ => Outcome::Skipped("run stopped".into()),
    });
    Ok(RunReport {
        outcomes: outcomes.collect(),
        records: st.records,
        seconds: st.seconds,
    })
}

#[allow(clippy::too_many_arguments)]
fn worker(
    plan: &Plan,
    registry: &Registry,
    cache: &Cache,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &ProgressView,
    state: &Mutex<State>,
    wake: &Condvar,
    threads: usize,
) {
    loop {
        // Pick the first waiting job whose dependencies are all finished.
        let (i, digests) = {
            let Ok(mut st) = state.lock() else { return };
            loop {
                if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    st.stop = true;
                }
                let mut pick = None;
                let mut any_waiting = false;
                for i in 0..plan.jobs.len() {
                    if st.slots[i] != Slot::Waiting {
                        continue;
                    }
                    let deps: Vec<usize> = plan.jobs[i].deps.values().map(|(j, _)| *j).collect();
                    if let Some(&bad) = deps.iter().find(|&&j| {
                        matches!(
                            st.slots[j],
                            Slot::Finished(Outcome::Failed(_))
                                | Slot::Finished(Outcome::Skipped(_))
                        )
                    }) {
                        let why =
                            format!("upstream {} did not complete", plan.jobs[bad].stage.name);
                        st.slots[i] = Slot::Finished(Outcome::Skipped(why));
                        progress.update(|t| t.skipped += 1);
                        wake.notify_all();
                        continue;
                    }
                    if st.stop {
                        st.slots[i] = Slot::Finished(Outcome::Skipped("run stopped".into()));
                        progress.update(|t| t.skipped += 1);
                        continue;
                    }
                    // Still waiting after the checks above: someone must finish first.
                    any_waiting = true;
                    if deps.iter().all(|&j| {
                        matches!(st.slots[j], Slot::Finished(Outcome::Cached | Outcome::Ran))
                    }) {
                        pick = Some(i);
                        break;
                    }
                }
                if let Some(i) = pick {
                    st.slots[i] = Slot::Running;
                    let d = input_digests(plan, i, &st.records).unwrap_or_default();
                    break (i, d);
                }
                if !any_waiting {
                    wake.notify_all();
                    return;
                }
                // Time out now and then so that Ctrl-C is noticed even while waiting.
                st = match wake.wait_timeout(st, std::time::Duration::from_millis(200)) {
                    Ok((s, _)) => s,
                    Err(_) => return,
                };
            }
        };
        tracing::debug!(job = i, stage = %plan.jobs[i].stage.name, "picked");
        let started = Instant::now();
        let env = JobEnv {
            registry,
            cache,
            cancel,
            progress,
            threads,
        };
        let result = JobTicket::for_job(plan, i, &digests, &registry.catalog, cache)
            .map_err(|e| format!("stage {}: {e}", plan.jobs[i].stage.name))
            .and_then(|ticket| run_ticket(&ticket, &FanOutMode::All, &env))
            .and_then(|outcome| match outcome {
                PartOutcome::Published { record, ran } => Ok((record, ran)),
                _ => Err("internal error: a whole job neither published nor failed".into()),
            });
        let seconds = started.elapsed().as_secs_f64();
        let Ok(mut st) = state.lock() else { return };
        let outcome = match result {
            Ok((record, ran)) => {
                st.records[i] = Some(*record);
                if ran {
                    st.seconds[i] = seconds;
                    progress.update(|t| t.done += 1);
                    Outcome::Ran
                } else {
                    progress.update(|t| t.cached += 1);
                    Outcome::Cached
                }
            }
            Err(msg) => {
                progress.update(|t| t.failed += 1);
                if !opts.keep_going {
                    st.stop = true;
                }
                Outcome::Failed(msg)
            }
        };
        st.slots[i] = Slot::Finished(outcome);
        wake.notify_all();
    }
}
