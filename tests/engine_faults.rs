//! Fault tolerance of the engine (issue 13, holes 9–11): concurrent publications into one results
//! folder, corrupted objects, tampered records and debris in the store. Each test here failed on
//! the code before its fix.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use mexp::engine::cache::Cache;
use mexp::engine::plan::{PlanState, statuses};
use mexp::engine::session::Session;
use mexp::engine::{Registry, Stage, StageContext, StageResult};

/// Makes an object writable and overwrites it (what a bad disk, a stray editor or root can do).
fn overwrite(path: &Path, bytes: &[u8]) {
    let mut perms = std::fs::metadata(path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).expect("chmod");
    std::fs::write(path, bytes).expect("overwrite");
}

/// The digest of stage `stage`'s `out` output in a report.
fn out_digest(s: &Session, r: &mexp::engine::executor::RunReport, stage: &str) -> String {
    let j = s.plan.index[&(0, stage.to_string())];
    r.records[j].as_ref().expect("record").outputs["out"]
        .digest
        .clone()
}

fn publish(s: &Session, r: &mexp::engine::executor::RunReport) -> mexp::engine::Result<()> {
    let cache = Cache::open(&s.cache_dir).expect("cache");
    mexp::engine::results::publish(&s.plan, r, &cache, &s.results_dir, s.sweep.as_ref()).map(|_| ())
}

// ---- hole 9: results must never be a write path into the cache ----

#[test]
fn appending_to_a_published_file_leaves_the_cache_object_intact() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    publish(&s, &r).expect("publish");
    let published = s.results_dir.join("chain/a/out.json");
    let before = std::fs::read(&published).expect("published");
    // `>>` on a published file (as root, read-only modes do not stop it).
    let mut perms = std::fs::metadata(&published).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&published, perms).expect("chmod");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&published)
        .and_then(|mut f| f.write_all(b"edited\n"))
        .expect("append");
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let digest = out_digest(&s, &r, "a");
    assert_eq!(cache.read_object(&digest).expect("object"), before);
    let v = mexp::engine::maintenance::verify(&cache).expect("verify");
    assert!(v.corrupt.is_empty(), "cache corrupted: {:?}", v.corrupt);
}

#[test]
fn concurrent_publications_into_one_results_folder_never_truncate_the_cache() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let (s, r) = (Arc::new(s), Arc::new(r));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (s, r) = (s.clone(), r.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| publish(&s, &r).err().map(|e| e.to_string()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let errors: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .flatten()
        .collect();
    assert!(
        errors.is_empty(),
        "{} of 100 publications failed: {:?}",
        errors.len(),
        errors.first()
    );
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let v = mexp::engine::maintenance::verify(&cache).expect("verify");
    assert!(v.corrupt.is_empty(), "cache corrupted: {:?}", v.corrupt);
    for stage in ["a", "b", "c", "d"] {
        let published = std::fs::read(s.results_dir.join(format!("chain/{stage}/out.json")));
        let object = cache.read_object(&out_digest(&s, &r, stage));
        assert_eq!(published.expect("published"), object.expect("object"));
    }
    let debris: Vec<PathBuf> = std::fs::read_dir(s.results_dir.join("chain"))
        .expect("results")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".mexp-"))
        .collect();
    assert!(debris.is_empty(), "leftovers: {debris:?}");
}

// ---- hole 10: a corrupted object is never served ----

#[test]
fn a_corrupted_cached_output_is_quarantined_and_recomputed_not_served() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let digest = out_digest(&s, &r, "a");
    let good = cache.read_object(&digest).expect("object");
    let mut flipped = good.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 0x01; // same size: a size check cannot see it
    overwrite(&cache.object_path(&digest), &flipped);

    let s2 = session(&reg, &m, &[]);
    let st = statuses(&s2.plan, &Cache::open(&s2.cache_dir).expect("cache"));
    let a = s2.plan.index[&(0, "a".to_string())];
    assert_eq!(st[a].state, PlanState::Run, "plan must not call it cached");
    let (r2, ran) = run(&reg, &s2);
    assert_eq!(ran, vec!["a".to_string()], "only the corrupt stage reruns");
    assert_eq!(value(&s2, &r2, "c"), 13);
    publish(&s2, &r2).expect("publish");
    let published = std::fs::read(s2.results_dir.join("chain/a/out.json")).expect("published");
    assert_eq!(published, good);
    assert!(
        cache.root().join("corrupt").join(&digest).exists(),
        "the corrupt bytes are kept aside for inspection"
    );
}

#[test]
fn publishing_refuses_an_object_corrupted_after_the_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let digest = out_digest(&s, &r, "b");
    let mut bytes = cache.read_object(&digest).expect("object");
    bytes[2] ^= 0x20;
    overwrite(&cache.object_path(&digest), &bytes);
    let err = publish(&s, &r).expect_err("a corrupt object must not be published");
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert!(!s.results_dir.join("chain/b/out.json").exists());
    assert!(!cache.object_path(&digest).exists(), "quarantined");
}

// ---- hole 11: tampered records, debris under shards/, staging leftovers ----

#[test]
fn a_record_with_a_non_hex_digest_reads_as_absent_and_never_panics() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let a = s.plan.index[&(0, "a".to_string())];
    let key = r.records[a].as_ref().expect("record").key.clone();
    let path = cache.record_path(&key);
    let text = std::fs::read_to_string(&path).expect("record");
    let digest = out_digest(&s, &r, "a");
    let tampered = text.replace(&digest, &format!("a\u{e9}{}", "0".repeat(61)));
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).expect("tamper");
    let s2 = session(&reg, &m, &[]);
    let st = statuses(&s2.plan, &cache);
    assert_eq!(st[a].state, PlanState::Run);
    let v = mexp::engine::maintenance::verify(&cache).expect("verify");
    assert_eq!(v.incomplete_records, vec![key]);
    assert!(!v.is_clean(), "verify must fail on a broken record");
    let (r2, ran) = run(&reg, &s2);
    assert_eq!(ran, vec!["a".to_string()]);
    assert_eq!(value(&s2, &r2, "c"), 13);
}

#[test]
fn verify_is_not_clean_when_a_record_lost_an_object() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    std::fs::remove_file(cache.object_path(&out_digest(&s, &r, "d"))).expect("rm");
    let v = mexp::engine::maintenance::verify(&cache).expect("verify");
    assert!(v.corrupt.is_empty());
    assert_eq!(v.incomplete_records.len(), 1);
    assert!(!v.is_clean());
}

const FAN: &str = r#"
doc = "test: fans out over n items, each its square"
[params.n]
type = "int"
default = 3
doc = "items"
[outputs.out]
file = "out.json"
doc = "sum of squares"
"#;

struct Fan;
impl Stage for Fan {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let n = ctx.usize("n")?;
        let items = ctx.fan_out("items", n, |i| Ok((i * i) as i64))?;
        let resume = ctx.resume_dir()?;
        std::fs::write(resume.join("note"), b"resumable")?;
        ctx.write_json(
            "out",
            &serde_json::json!({"value": items.iter().sum::<i64>()}),
        )
    }
}

fn fan_registry() -> Registry {
    let mut reg = default_registry();
    reg.catalog
        .add_toml("fan", FAN, "fp-fan-1")
        .expect("fan kind");
    reg.register("fan", Arc::new(Fan));
    reg
}

const FAN_MANIFEST: &str = r#"
[experiment]
name = "fan"
seed = 1

[stages.f]
kind = "fan"
n = 4
"#;

/// Plants `debris` in the shard folder of the (not yet run) fan stage, then runs it.
fn run_over_debris(debris: impl Fn(&Path)) -> (tempfile::TempDir, i64) {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "fan", FAN_MANIFEST);
    let reg = fan_registry();
    let s = session(&reg, &m, &[]);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let key = statuses(&s.plan, &cache)[0].key.clone().expect("key");
    debris(&cache.shard_dir(&key));
    let (r, ran) = run(&reg, &s);
    assert_eq!(ran, vec!["f".to_string()], "{:?}", r.outcomes);
    let v = value(&s, &r, "f");
    (tmp, v)
}

#[test]
fn a_folder_where_a_shard_pointer_belongs_is_discarded() {
    let (_t, v) = run_over_debris(|dir| {
        std::fs::create_dir_all(dir.join("2").join("x")).expect("debris");
    });
    assert_eq!(v, 1 + 4 + 9);
}

#[test]
fn a_file_where_the_shard_folder_belongs_is_discarded() {
    let (_t, v) = run_over_debris(|dir| {
        std::fs::create_dir_all(dir.parent().expect("shards")).expect("mkdir");
        std::fs::write(dir, b"junk").expect("debris");
    });
    assert_eq!(v, 14);
}

#[test]
fn a_garbage_shard_pointer_is_discarded() {
    let (_t, v) = run_over_debris(|dir| {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join("1"), "a\u{e9}\u{e9}").expect("debris");
        std::fs::write(dir.join("resume"), b"a file where a folder belongs").expect("debris");
    });
    assert_eq!(v, 14);
}

#[test]
fn verify_cleans_staging_leftovers_and_shards_of_completed_stages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "fan", FAN_MANIFEST);
    let reg = fan_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let key = r.records[0].as_ref().expect("record").key.clone();
    // What a run killed at the wrong moment leaves behind.
    std::fs::create_dir_all(cache.shard_dir(&key).join("resume")).expect("orphan shard");
    std::fs::create_dir_all(cache.root().join("tmp/0123456789abcdef-77-0/out")).expect("staging");
    std::fs::write(cache.root().join("tmp/atomic-77-3"), b"half").expect("staging");
    let v = mexp::engine::maintenance::verify(&cache).expect("verify");
    assert_eq!(v.debris_removed, 3, "{v:?}");
    assert!(!cache.shard_dir(&key).exists());
    assert_eq!(
        std::fs::read_dir(cache.root().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
    assert!(v.is_clean(), "debris is repaired, not an error");
}

// ---- hole 7: the sweep summary keeps significant digits ----

const SMALL: &str = r#"
doc = "test: emits {value: n · 4.2e-7}"
[params.n]
type = "int"
default = 1
doc = "multiplier"
[outputs.out]
file = "out.json"
doc = "value"
"#;

struct Small;
impl Stage for Small {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let n = ctx.i64("n")? as f64;
        ctx.write_json("out", &serde_json::json!({"value": n * 4.2e-7}))
    }
}

#[test]
fn the_sweep_summary_keeps_significant_digits_of_tiny_values() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut reg = default_registry();
    reg.catalog
        .add_toml("small", SMALL, "fp-small-1")
        .expect("small kind");
    reg.register("small", Arc::new(Small));
    let m = write_manifest(
        tmp.path(),
        "tiny",
        "[experiment]\nname = \"tiny\"\nseed = 1\n\n[stages.t]\nkind = \"small\"\n\n\
         [sweep]\nmode = \"grid\"\n\"t.n\" = [1, 3]\nreport = [\"t.out.value\"]\n",
    );
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    publish(&s, &r).expect("publish");
    let csv = std::fs::read_to_string(s.results_dir.join("tiny/sweep_summary.csv")).expect("csv");
    assert!(csv.contains("v000,1,0.00000042\n"), "{csv}");
    assert!(csv.contains("v001,3,0.00000126\n"), "{csv}");
}

// ---- hole 3: gc keeps what a kept manifest can resume ----

#[test]
fn gc_keeps_the_shards_a_kept_manifest_can_resume_and_sweeps_the_rest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "fan", FAN_MANIFEST);
    let reg = fan_registry();
    let s = session(&reg, &m, &[]);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let key = statuses(&s.plan, &cache)[0].key.clone().expect("key");
    // An interrupted run: item 1 finished, a checkpoint in resume/.
    let (digest, _) = cache.put_bytes(b"1").expect("item");
    let dir = cache.shard_dir_ready(&key).expect("shards");
    std::fs::write(dir.join("1"), &digest).expect("pointer");
    std::fs::create_dir_all(dir.join("resume")).expect("resume");
    std::fs::write(dir.join("resume/epoch-1.json"), b"{}").expect("checkpoint");
    // And a stale shard folder of a key no manifest reaches.
    let stale = cache.shard_dir_ready(&"e".repeat(64)).expect("stale");
    let r = mexp::engine::maintenance::gc(&cache, &[&s], false).expect("gc");
    assert_eq!(r.kept_shards, 1);
    assert!(dir.join("resume/epoch-1.json").exists(), "checkpoint kept");
    assert!(cache.has_object(&digest, None), "finished item kept");
    assert!(!stale.exists(), "unreachable shards swept");
}

// ---- hole 13: Ctrl-C early in a large sweep writes no summaries of skipped variants ----

#[test]
fn an_interrupted_large_sweep_writes_no_summaries_of_variants_that_never_ran() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut reg = default_registry();
    reg.catalog
        .add_toml("small", SMALL, "fp-small-1")
        .expect("small kind");
    reg.register("small", Arc::new(Small));
    let m = write_manifest(
        tmp.path(),
        "big",
        "[experiment]\nname = \"big\"\nseed = 1\n\n[stages.t]\nkind = \"small\"\n\n\
         [sweep]\nmode = \"random\"\nn = 20000\n\"t.n\" = { min = 1, max = 1000000000, int = true }\n\
         report = [\"t.out.value\"]\n",
    );
    let s = session(&reg, &m, &[]);
    assert_eq!(s.plan.variants.len(), 20000);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    // Ctrl-C before anything ran: every job is skipped.
    let r = mexp::engine::executor::execute(
        &s.plan,
        &reg,
        &cache,
        &mexp::engine::executor::RunOptions {
            jobs: 1,
            threads: 1,
            keep_going: false,
        },
        &std::sync::atomic::AtomicBool::new(true),
        &mexp::engine::progress::ProgressView::hidden(s.plan.jobs.len()),
    )
    .expect("execute");
    assert!(
        r.outcomes
            .iter()
            .all(|o| matches!(o, mexp::engine::executor::Outcome::Skipped(_)))
    );
    let t0 = std::time::Instant::now();
    let written =
        mexp::engine::results::publish(&s.plan, &r, &cache, &s.results_dir, s.sweep.as_ref())
            .expect("publish");
    let secs = t0.elapsed().as_secs_f64();
    let summaries = written.iter().filter(|p| p.ends_with("summary.md")).count();
    assert_eq!(summaries, 0, "no summary of a variant that never ran");
    assert_eq!(written.len(), 2, "only the sweep summary: {written:?}");
    assert!(secs < 10.0, "publishing skipped variants took {secs:.1} s");
}

// ---- fault suite: a tampered ticket is refused, never run under its key ----

#[test]
fn a_ticket_whose_input_digest_was_edited_is_refused() {
    use mexp::engine::ticket::JobTicket;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let cache = Cache::open(&s.cache_dir).expect("cache");
    let b = s.plan.index[&(0, "b".to_string())];
    let digests = mexp::engine::plan::input_digests(&s.plan, b, &r.records).expect("digests");
    let ticket = JobTicket::for_job(&s.plan, b, &digests, &reg.catalog, &cache).expect("ticket");
    let path = tmp.path().join("ticket.json");
    ticket.store(&cache, &path).expect("store");
    assert_eq!(JobTicket::load(&path).expect("intact ticket"), ticket);
    // Point its input at another valid object (stage d's output), keeping its key.
    let other = out_digest(&s, &r, "d");
    let mut tampered = ticket.clone();
    for input in tampered.inputs.values_mut() {
        input.digest = other.clone();
    }
    tampered.store(&cache, &path).expect("store");
    let err = JobTicket::load(&path).expect_err("an edited input must be refused");
    assert!(err.to_string().contains("not the inputs its key"), "{err}");
    // Garbage and a truncated ticket are refused too, never a panic.
    let bytes = std::fs::read(&path).expect("ticket");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    assert!(JobTicket::load(&path).is_err());
    std::fs::write(&path, b"\xff\xfe garbage").expect("garbage");
    assert!(JobTicket::load(&path).is_err());
}

#[test]
fn publishing_removes_what_a_run_killed_while_publishing_left_in_results() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &[]);
    let (r, _) = run(&reg, &s);
    let dir = s.results_dir.join("chain");
    std::fs::create_dir_all(dir.join(".a.mexp-new-999999999-0/out")).expect("debris");
    std::fs::write(dir.join(".summary.md.mexp-tmp-999999999-3"), b"half").expect("debris");
    let live = format!(".b.mexp-new-{}-7", std::process::id());
    std::fs::create_dir_all(dir.join(&live)).expect("a live run's staging");
    publish(&s, &r).expect("publish");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("results")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".mexp-"))
        .collect();
    assert_eq!(names, vec![live], "only the live run's staging is left");
}

// ---- hole 3: gc keeps every backend's results that a kept manifest reaches ----

#[test]
fn gc_keeps_results_a_kept_manifest_reaches_with_another_backend() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut reg = default_registry();
    let learn = SMALL.replace("doc = \"test:", "uses_backend = true\ndoc = \"test:");
    reg.catalog
        .add_toml("learn", &learn, "fp-learn-1")
        .expect("learn kind");
    reg.register("learn", Arc::new(Small));
    let m = write_manifest(
        tmp.path(),
        "trained",
        "[experiment]\nname = \"trained\"\nseed = 1\n\n[stages.t]\nkind = \"learn\"\n",
    );
    let req = mexp::engine::session::Request {
        manifest: m.clone(),
        backend: "vulkan".into(),
        ..Default::default()
    };
    let on_vulkan = Session::open(&reg, &req).expect("session");
    let (r, ran) = run(&reg, &on_vulkan);
    assert_eq!(ran, vec!["t".to_string()]);
    let key = r.records[0].as_ref().expect("record").key.clone();
    let cache = Cache::open(&on_vulkan.cache_dir).expect("cache");
    // Planned with flex only (what gc did before), the vulkan result is unreachable.
    let flex_only = Session::open_every_variant(&reg, &m, &on_vulkan.cache_dir, &["flex"])
        .expect("flex sessions");
    let refs: Vec<&Session> = flex_only.iter().collect();
    let dry = mexp::engine::maintenance::gc(&cache, &refs, true).expect("dry gc");
    assert_eq!(dry.removed_records, 1, "the test must be able to fail");
    let every = Session::open_every_variant(&reg, &m, &on_vulkan.cache_dir, &["flex", "vulkan"])
        .expect("sessions");
    assert_eq!(every.len(), 2);
    let refs: Vec<&Session> = every.iter().collect();
    let g = mexp::engine::maintenance::gc(&cache, &refs, false).expect("gc");
    assert_eq!((g.kept_records, g.removed_records), (1, 0));
    assert!(cache.record_path(&key).exists());
    let st = statuses(&on_vulkan.plan, &cache);
    assert_eq!(st[0].state, PlanState::Cached);
}
