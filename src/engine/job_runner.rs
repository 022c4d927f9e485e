//! Runs one ticketed job (or one part of a fan-out job) wherever it is: inside the local executor,
//! or in `mexp` on a compute node. Inputs are re-verified before use; outputs are published
//! atomically and the record is written last, so an interrupted or killed job never leaves anything
//! that a later run would trust.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::cache::Cache;
use super::context::{
    FanOutCount, FanOutMode, InputPath, Interrupted, SliceDone, StageContext, StageError,
};
use super::error::{EngineError, Result};
use super::lock::KeyLock;
use super::progress::ProgressView;
use super::record::{OutputEntry, Record, StageRef, Tree, read_tree};
use super::stage::Registry;
use super::ticket::{JobTicket, TicketInput};

/// What a job's process shares with it.
pub struct JobEnv<'a> {
    /// Stage kinds and their implementations.
    pub registry: &'a Registry,
    /// The store.
    pub cache: &'a Cache,
    /// Set on Ctrl-C (or SIGTERM).
    pub cancel: &'a AtomicBool,
    /// Progress display.
    pub progress: &'a ProgressView,
    /// Threads of the job's rayon pool.
    pub threads: usize,
}

/// How a part of a job ended.
#[derive(Debug, Clone)]
pub enum PartOutcome {
    /// The job's record: computed now (`ran`) or found in the cache.
    Published {
        /// The record.
        record: Box<Record>,
        /// Whether it was computed now.
        ran: bool,
    },
    /// The number of items of a fan-out stage ([`FanOutMode::Count`]).
    Counted(usize),
    /// The slice's items are stored ([`FanOutMode::Slice`]).
    SliceStored,
}

/// Runs the ticketed job: whole (`FanOutMode::All`, publishing outputs and record), or, for a
/// fan-out stage, only counting its items or computing one slice of them (nothing published).
/// Errors are messages for people (with the log's path).
pub fn run_ticket(
    ticket: &JobTicket,
    part: &FanOutMode,
    env: &JobEnv,
) -> std::result::Result<PartOutcome, String> {
    let cache = env.cache;
    let name = &ticket.stage;
    let key = &ticket.key;
    let cached = || {
        Record::load(cache, key)
            .filter(|r| r.missing_outputs(cache).is_empty())
            .inspect(|rec| publish_refs(cache, ticket, rec))
    };
    if let Some(rec) = cached() {
        return Ok(match part {
            FanOutMode::Slice(_) => PartOutcome::SliceStored,
            _ => PartOutcome::Published {
                record: Box::new(rec),
                ran: false,
            },
        });
    }
    // Slices of one job run at once by design (each item is published on its own); the whole
    // job takes the key's lock so two runs never compute the same key together.
    let lock = match part {
        FanOutMode::All => {
            let lock = KeyLock::acquire(cache, key, name, env.cancel, |holder| {
                env.progress.println(&format!(
                    "waiting for stage {name} (key {}…): {holder}",
                    &key[..12]
                ))
            })
            .map_err(|e| e.to_string())?;
            // Another run may have finished it while we waited.
            if let Some(rec) = cached() {
                return Ok(PartOutcome::Published {
                    record: Box::new(rec),
                    ran: false,
                });
            }
            Some(lock)
        }
        _ => None,
    };
    let kind = &ticket.key_manifest.kind;
    let spec = env
        .registry
        .catalog
        .get(kind)
        .ok_or_else(|| format!("unknown stage kind {kind}"))?;
    if spec.fingerprint != ticket.key_manifest.implementation {
        return Err(format!(
            "stage {name}: this mexp binary implements `{kind}` differently from the one that planned \
             the job (fingerprint {} vs {}); run the same mexp build everywhere",
            short(&spec.fingerprint),
            short(&ticket.key_manifest.implementation)
        ));
    }
    let stage_impl = env
        .registry
        .implementation(kind)
        .ok_or_else(|| format!("stage kind `{kind}` has no implementation in this binary"))?;
    let inputs =
        materialize_inputs(cache, &ticket.inputs).map_err(|e| format!("stage {name}: {e}"))?;
    let label = match part {
        FanOutMode::Slice(r) => format!("{}-{}-{}", &key[..16], r.start, r.end),
        _ => key[..16].to_string(),
    };
    let staging = cache.staging_dir(&label).map_err(|e| e.to_string())?;
    let log_path = staging.join(".mexp-stage.log");
    let log = StageContext::open_log(&log_path)
        .map_err(|e| format!("stage {name}: cannot open log: {e}"))?;
    let out_dir = staging.join("out");
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let ctx = StageContext {
        name: name.clone(),
        spec,
        params: &ticket.key_manifest.params,
        seed: ticket.key_manifest.seed,
        backend: ticket.key_manifest.backend.clone(),
        inputs,
        out_dir: out_dir.clone(),
        cache,
        key: key.clone(),
        cancel: env.cancel,
        progress: env.progress,
        log: Mutex::new(log),
        threads: env.threads,
        fan_out: part.clone(),
    };
    let announce = *part == FanOutMode::All;
    if announce {
        env.progress.update(|t| t.running += 1);
        env.progress.println(&format!("▶ {name} ({kind})"));
    }
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(env.threads)
        .build()
        .map_err(|e| e.to_string())?;
    let result: std::result::Result<(), StageError> =
        match catch_unwind(AssertUnwindSafe(|| pool.install(|| stage_impl.run(&ctx)))) {
            Ok(r) => r,
            Err(panic) => Err(format!("panicked: {}", panic_message(&panic)).into()),
        };
    let wall = t0.elapsed().as_secs_f64();
    if announce {
        env.progress.update(|t| t.running -= 1);
    }
    drop(ctx);
    // the kept log is named by stage and key: the same stage of several sweep variants failing
    // must not overwrite one another's logs
    let fail = |msg: String| {
        let kept = cache
            .root()
            .join("tmp")
            .join(format!("failed-{name}-{label}.log"));
        let _ = fs::copy(&log_path, &kept);
        let _ = fs::remove_dir_all(&staging);
        if announce {
            let first = msg.lines().next().unwrap_or_default();
            env.progress
                .println(&format!("✘ {name} ({wall:.1} s): {first}"));
        }
        format!("{msg}\n  log: {}", kept.display())
    };
    let interrupted = || env.cancel.load(Ordering::Relaxed);
    match (part, result) {
        (FanOutMode::Count, Err(e)) if e.is::<FanOutCount>() => {
            let n = e.downcast_ref::<FanOutCount>().map_or(0, |c| c.0);
            let _ = fs::remove_dir_all(&staging);
            return Ok(PartOutcome::Counted(n));
        }
        (FanOutMode::Slice(_), Err(e)) if e.is::<SliceDone>() && !interrupted() => {
            let _ = fs::remove_dir_all(&staging);
            return Ok(PartOutcome::SliceStored);
        }
        (_, Err(e)) => {
            let msg = if e.is::<Interrupted>() || interrupted() {
                format!("stage {name} interrupted")
            } else {
                format!(
                    "stage {name} failed: {}",
                    name_user_files(&e.to_string(), ticket, cache)
                )
            };
            return Err(fail(msg));
        }
        (FanOutMode::All, Ok(())) => {}
        (_, Ok(())) => {
            return Err(fail(format!(
                "stage {name} ({kind}) never called fan_out, so it cannot be split into cluster \
                 tasks; set `fan_out = false` in its catalogue entry"
            )));
        }
    }
    if interrupted() {
        return Err(fail(format!("stage {name} interrupted")));
    }
    let mut outputs = BTreeMap::new();
    for (oname, ospec) in super::command::outputs(spec, &ticket.key_manifest.params).iter() {
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
    let record = Record {
        format: super::record::RECORD_FORMAT,
        key: key.clone(),
        key_manifest: ticket.key_manifest.clone(),
        stage: name.clone(),
        experiment: ticket.experiment.clone(),
        outputs,
        log,
        started_unix,
        wall_seconds: wall,
        threads: env.threads,
        mexp_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    record.store(cache).map_err(|e| fail(e.to_string()))?;
    publish_refs(cache, ticket, &record);
    let _ = fs::remove_dir_all(&staging);
    let _ = fs::remove_dir_all(cache.shard_dir(key));
    drop(lock);
    env.progress.println(&format!("✔ {name} ({wall:.1} s)"));
    Ok(PartOutcome::Published {
        record: Box::new(record),
        ran: true,
    })
}

/// A stage's error message with the cache object behind each `file:` input replaced by the
/// user's file it was copied from: a decode error names the file the user can fix.
fn name_user_files(message: &str, ticket: &JobTicket, cache: &Cache) -> String {
    let mut out = message.to_string();
    for input in ticket.inputs.values().filter(|i| i.user_file) {
        let object = cache.object_path(&input.digest).display().to_string();
        out = out.replace(&object, &input.origin);
    }
    out
}

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

/// Points every (namespace, stage) ref of the ticket at the record.
pub fn publish_refs(cache: &Cache, ticket: &JobTicket, rec: &Record) {
    for (namespace, stage) in &ticket.refs {
        // Rewritten only when the key changed: a cached rerun writes (and fsyncs) no ref.
        if StageRef::load(cache, namespace, stage).is_some_and(|r| r.key == rec.key) {
            continue;
        }
        // The history (for `mexp log`) gains a line only when the ref moves to another key.
        let _ = super::history::note_ref_change(cache, namespace, stage, &rec.key);
        let _ = StageRef::store(cache, namespace, stage, &rec.key);
    }
}

/// Resolves the ticket's inputs to store paths, re-hashing each object: a corrupt object is
/// quarantined and the stage fails with a message saying a rerun will recompute it.
fn materialize_inputs(
    cache: &Cache,
    inputs: &BTreeMap<String, TicketInput>,
) -> Result<BTreeMap<String, InputPath>> {
    let mut out = BTreeMap::new();
    for (port, input) in inputs {
        check_object(cache, &input.digest, &input.origin)?;
        if input.dir {
            let tree = read_tree(cache, &input.digest).ok_or_else(|| EngineError::Corrupt {
                path: cache.object_path(&input.digest),
                message: "unreadable tree listing".into(),
            })?;
            let mut files = BTreeMap::new();
            for (rel, (d, _)) in tree {
                check_object(cache, &d, &input.origin)?;
                files.insert(rel, cache.object_path(&d));
            }
            out.insert(port.clone(), InputPath::Tree(files));
        } else {
            out.insert(
                port.clone(),
                InputPath::File(cache.object_path(&input.digest)),
            );
        }
    }
    Ok(out)
}

fn check_object(cache: &Cache, digest: &str, origin: &str) -> Result<()> {
    if !cache.has_object(digest, None) {
        return Err(EngineError::Usage(format!(
            "input ({origin}) is missing from the cache {}; is the cache shared with this machine?",
            cache.root().display()
        )));
    }
    // Re-hashed once per process; a corrupt object is quarantined by the check itself.
    if cache.has_intact_object(digest, None) {
        return Ok(());
    }
    Err(EngineError::Corrupt {
        path: cache.object_path(digest),
        message: format!(
            "input ({origin}) failed verification and was moved to cache/corrupt/; run again to recompute it"
        ),
    })
}

/// Publishes every file below `dir` and a tree listing; returns the listing's digest and size.
fn publish_tree(cache: &Cache, dir: &Path) -> Result<(String, u64)> {
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
