//! The local executor: runs a plan's jobs concurrently within `--jobs`, each with its own rayon pool,
//! under per-key locks, publishing outputs atomically and writing a record per job.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::cache::Cache;
use super::catalog::Catalog;
use super::context::{InputPath, Interrupted, Stage, StageContext, StageError};
use super::error::{EngineError, Result};
use super::lock::KeyLock;
use super::plan::{Plan, input_digests};
use super::progress::ProgressView;
use super::record::{OutputEntry, Record, StageRef, Tree, read_tree};

/// Stage kinds with their implementations.
#[derive(Clone, Default)]
pub struct Registry {
    /// The catalogue (parameters, inputs, outputs, fingerprints).
    pub catalog: Catalog,
    impls: BTreeMap<String, Arc<dyn Stage>>,
}

impl Registry {
    /// A registry over `catalog` with no implementations yet.
    pub fn new(catalog: Catalog) -> Self {
        Registry {
            catalog,
            impls: BTreeMap::new(),
        }
    }

    /// Registers the implementation of `kind`.
    pub fn register(&mut self, kind: &str, stage: Arc<dyn Stage>) {
        self.impls.insert(kind.to_string(), stage);
    }

    /// The implementation of `kind`.
    pub fn implementation(&self, kind: &str) -> Option<Arc<dyn Stage>> {
        self.impls.get(kind).cloned()
    }
}

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
        let result = run_job(plan, i, digests, registry, cache, cancel, progress, threads);
        let seconds = started.elapsed().as_secs_f64();
        let Ok(mut st) = state.lock() else { return };
        let outcome = match result {
            Ok((rec, ran)) => {
                st.records[i] = Some(rec);
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

/// Runs (or finds cached) one job; returns its record and whether it was computed now.
#[allow(clippy::too_many_arguments)]
fn run_job(
    plan: &Plan,
    i: usize,
    digests: BTreeMap<String, String>,
    registry: &Registry,
    cache: &Cache,
    cancel: &AtomicBool,
    progress: &ProgressView,
    threads: usize,
) -> std::result::Result<(Record, bool), String> {
    let job = &plan.jobs[i];
    let name = &job.stage.name;
    let manifest = job.key_manifest(digests.clone());
    let key = manifest.key();
    let valid = |r: &Record| r.missing_outputs(cache).is_empty();
    let publish_refs = |rec: &Record| {
        for (vi, stage) in &job.uses {
            let _ = StageRef::store(cache, &plan.variants[*vi].namespace(), stage, &rec.key);
        }
    };
    if let Some(rec) = Record::load(cache, &key).filter(valid) {
        publish_refs(&rec);
        return Ok((rec, false));
    }
    let lock = KeyLock::acquire(cache, &key, name, cancel, |holder| {
        progress.println(&format!(
            "waiting for stage {name} (key {}…): {holder}",
            &key[..12]
        ))
    })
    .map_err(|e| e.to_string())?;
    // Another run may have finished it while we waited.
    if let Some(rec) = Record::load(cache, &key).filter(valid) {
        publish_refs(&rec);
        return Ok((rec, false));
    }
    let spec = registry
        .catalog
        .get(&job.stage.kind)
        .ok_or_else(|| format!("unknown kind {}", job.stage.kind))?;
    let stage_impl = registry.implementation(&job.stage.kind).ok_or_else(|| {
        format!(
            "stage kind `{}` has no implementation in this binary",
            job.stage.kind
        )
    })?;
    let inputs = materialize_inputs(plan, i, cache, &registry.catalog, &digests)
        .map_err(|e| format!("stage {name}: {e}"))?;
    let staging = cache.staging_dir(&key[..16]).map_err(|e| e.to_string())?;
    let log_path = staging.join(".mexp-stage.log");
    let log = StageContext::open_log(&log_path)
        .map_err(|e| format!("stage {name}: cannot open log: {e}"))?;
    let out_dir = staging.join("out");
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let ctx = StageContext {
        name: name.clone(),
        spec,
        params: &job.stage.params,
        seed: job.stage.seed,
        backend: job.backend.clone(),
        inputs,
        out_dir: out_dir.clone(),
        cache,
        key: key.clone(),
        cancel,
        progress,
        log: Mutex::new(log),
        threads,
    };
    progress.update(|t| t.running += 1);
    progress.println(&format!("▶ {name} ({})", job.stage.kind));
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let result: std::result::Result<(), StageError> =
        match catch_unwind(AssertUnwindSafe(|| pool.install(|| stage_impl.run(&ctx)))) {
            Ok(r) => r,
            Err(panic) => Err(format!("panicked: {}", panic_message(&panic)).into()),
        };
    let wall = t0.elapsed().as_secs_f64();
    progress.update(|t| t.running -= 1);
    drop(ctx);
    let fail = |msg: String| {
        let kept = cache.root().join("tmp").join(format!("failed-{name}.log"));
        let _ = fs::copy(&log_path, &kept);
        let _ = fs::remove_dir_all(&staging);
        format!("{msg}\n  log: {}", kept.display())
    };
    if let Err(e) = result {
        let interrupted =
            e.is::<Interrupted>() || cancel.load(std::sync::atomic::Ordering::Relaxed);
        let msg = if interrupted {
            format!("stage {name} interrupted")
        } else {
            format!("stage {name} failed: {e}")
        };
        return Err(fail(msg));
    }
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(fail(format!("stage {name} interrupted")));
    }
    let mut outputs = BTreeMap::new();
    for (oname, ospec) in &spec.outputs {
        let path = out_dir.join(&ospec.file);
        let entry = if ospec.dir {
            publish_tree(cache, &path).map(|(digest, bytes)| OutputEntry {
                digest,
                file: ospec.file.clone(),
                dir: true,
                bytes,
            })
        } else if path.is_file() {
            cache.put_file(&path).map(|(digest, bytes)| OutputEntry {
                digest,
                file: ospec.file.clone(),
                dir: false,
                bytes,
            })
        } else {
            return Err(fail(format!(
                "stage {name} did not write its output `{oname}` ({})",
                ospec.file
            )));
        };
        outputs.insert(oname.clone(), entry.map_err(|e| fail(e.to_string()))?);
    }
    let log = cache.put_file(&log_path).ok().map(|(d, _)| d);
    let (vi, _) = &job.uses[0];
    let record = Record {
        format: super::record::RECORD_FORMAT,
        key: key.clone(),
        key_manifest: manifest,
        stage: name.clone(),
        experiment: plan.variants[*vi].namespace(),
        outputs,
        log,
        started_unix,
        wall_seconds: wall,
        threads,
        mexp_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    record.store(cache).map_err(|e| fail(e.to_string()))?;
    publish_refs(&record);
    let _ = fs::remove_dir_all(&staging);
    let _ = fs::remove_dir_all(cache.shard_dir(&key));
    drop(lock);
    progress.println(&format!("✔ {name} ({wall:.1} s)"));
    Ok((record, true))
}

/// Resolves the input files of job `i`, re-hashing each one: a corrupt object is quarantined and the
/// stage fails with a message saying a rerun will recompute it (it is never used).
fn materialize_inputs(
    plan: &Plan,
    i: usize,
    cache: &Cache,
    catalog: &Catalog,
    digests: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, InputPath>> {
    let mut out = BTreeMap::new();
    for (port, (path, digest)) in &plan.jobs[i].stage.files {
        // User files enter the store by content, so the stage reads exactly what was hashed.
        if !cache.has_object(digest, None) {
            let tmp = cache.tmp_file("input")?;
            fs::copy(path, &tmp).map_err(|e| EngineError::io("copying", path, e))?;
            let (d, _) = cache.put_file(&tmp)?;
            if &d != digest {
                return Err(EngineError::Usage(format!(
                    "{} changed while mexp was running; run again",
                    path.display()
                )));
            }
        }
        out.insert(port.clone(), InputPath::File(cache.object_path(digest)));
    }
    for (port, (j, output)) in &plan.jobs[i].deps {
        let digest = &digests[port];
        check_object(cache, digest, &plan.jobs[*j].stage.name, output)?;
        let upstream = &plan.jobs[*j].stage.kind;
        let is_dir = catalog
            .get(upstream)
            .and_then(|k| k.outputs.get(output))
            .is_some_and(|o| o.dir);
        if is_dir {
            let tree = read_tree(cache, digest).ok_or_else(|| EngineError::Corrupt {
                path: cache.object_path(digest),
                message: "unreadable tree listing".into(),
            })?;
            let mut files = BTreeMap::new();
            for (rel, (d, _)) in tree {
                check_object(cache, &d, &plan.jobs[*j].stage.name, output)?;
                files.insert(rel, cache.object_path(&d));
            }
            out.insert(port.clone(), InputPath::Tree(files));
        } else {
            out.insert(port.clone(), InputPath::File(cache.object_path(digest)));
        }
    }
    Ok(out)
}

fn check_object(cache: &Cache, digest: &str, stage: &str, output: &str) -> Result<()> {
    if cache.verify_object(digest)? {
        return Ok(());
    }
    cache.quarantine(digest)?;
    Err(EngineError::Corrupt {
        path: cache.object_path(digest),
        message: format!(
            "output {output} of stage {stage} failed verification and was moved to cache/corrupt/; run again to recompute it"
        ),
    })
}

/// Publishes every file below `dir` and a tree listing; returns the listing's digest and size.
fn publish_tree(cache: &Cache, dir: &std::path::Path) -> Result<(String, u64)> {
    let mut tree = Tree::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in super::cache::read_dir_sorted(&d)? {
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .map(|r| r.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                tree.insert(rel, cache.put_file(&p)?);
            }
        }
    }
    let bytes = serde_json::to_vec(&tree).map_err(|e| EngineError::Usage(e.to_string()))?;
    cache.put_bytes(&bytes)
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
