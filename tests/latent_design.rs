//! `latent_design` end to end on the tiny profile: the search is deterministic, every design is
//! decoded and simulated (physics beside the surrogate), a rerun is cached, and bad objectives are
//! refused at plan time with their location.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const MANIFEST: &str = "experiments/latent_design_nd2fe14b.toml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mexp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run mexp")
}

fn run_tiny(dir: &Path, extra: &[&str]) -> Output {
    let (cache, results) = (dir.join("cache"), dir.join("results"));
    let mut args = vec![
        "run",
        MANIFEST,
        "--profile",
        "tiny",
        "--threads",
        "1",
        "--cache",
        cache.to_str().expect("utf-8 path"),
        "--results",
        results.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    mexp(&args)
}

fn designs(dir: &Path, variant: &str) -> (Value, Vec<u8>) {
    let p = dir.join(format!(
        "results/latent_design_nd2fe14b/{variant}/design/designs.json"
    ));
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (serde_json::from_slice(&bytes).expect("json"), bytes)
}

#[test]
fn designs_are_decoded_simulated_deterministic_and_cached() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    for d in [&a, &b] {
        let out = run_tiny(d.path(), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for variant in ["v000", "v001"] {
        let (va, bytes_a) = designs(a.path(), variant);
        let (_, bytes_b) = designs(b.path(), variant);
        assert_eq!(
            bytes_a, bytes_b,
            "{variant}: same manifest and seed, same designs"
        );
        let list = va["designs"].as_array().expect("designs");
        assert_eq!(list.len(), 2, "top_k = 2 in the tiny profile");
        for d in list {
            let sim = &d["simulated"]["anchors"];
            let pred = &d["predicted"];
            for k in 0..6 {
                assert!(pred[k].as_f64().is_some_and(f64::is_finite), "{d}");
                assert!(sim[k].as_f64().is_some_and(f64::is_finite), "{d}");
            }
            // The simulated score is the objective of the simulated anchors, not a copy of the
            // predicted one.
            assert!(d["simulated_score"].as_f64().is_some(), "{d}");
            assert_eq!(
                d["simulated"]["m"].as_array().map(Vec::len),
                Some(21),
                "h_step 0.1 from 1 to -1"
            );
        }
        assert!(va["best_labelled"]["score"].as_f64().is_some());
    }
    let dir = a.path().join("results/latent_design_nd2fe14b/v000/design");
    for png in ["designs.png", "search.png", "scatter.png"] {
        let len = std::fs::metadata(dir.join(png))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 5_000, "{png}: {len} bytes");
    }
    let again = run_tiny(a.path(), &["--json"]);
    let v: Value = serde_json::from_slice(&again.stdout).expect("json");
    let ran: Vec<&Value> = v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter(|s| s["status"] != "cached")
        .collect();
    assert!(ran.is_empty(), "second run recomputed {ran:?}");
}

fn plan_with(sets: &[&str]) -> Output {
    let mut args = vec![
        "plan",
        MANIFEST,
        "--profile",
        "tiny",
        "--cache",
        "/nonexistent/mexp-ld",
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    mexp(&args)
}

#[test]
fn a_bad_objective_is_a_located_plan_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let m = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(repo().join(MANIFEST)).expect("manifest");
    let bad = text.replacen(
        "objective = \"maximize |Hc| subject to Mr >= 0.8\"\n\n[sweep]",
        "objective = \"maximize |Hx| subject to Mr >= 0.8\"\n\n[sweep]",
        1,
    );
    let bad = bad.replace(
        "{ \"design.objective\" = \"maximize |Hc| subject to Mr >= 0.8\" },\n",
        "",
    );
    assert_ne!(bad, text, "the manifest changed shape; update this test");
    // Without the sweep the stage's own line is used.
    let bad = bad[..bad.find("[sweep]").expect("sweep")].to_string()
        + &bad[bad.find("[profile.tiny").expect("profile")..];
    std::fs::write(&m, &bad).expect("write");
    let out = mexp(&[
        "plan",
        m.to_str().expect("utf-8"),
        "--profile",
        "tiny",
        "--cache",
        "/nonexistent/mexp-ld",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown anchor `Hx`"), "{err}");
    assert!(err.contains("did you mean `Hc`"), "{err}");
    let line = bad.lines().position(|l| l.contains("|Hx|")).expect("line") + 1;
    assert!(
        err.contains(&format!("bad.toml:{line}")),
        "no location line {line}: {err}"
    );

    let out = plan_with(&["design.objective=maximize Hc subject to Mr >= 1.5"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot be met") && err.contains("<command line>"),
        "{err}"
    );

    let out = plan_with(&["design.top_k=9"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("top_k = 9 is larger than the population (8)"),
        "{err}"
    );
}
