//! `mexp export --ro-crate` (issue 17, item 4): the crate's structure, checked without Python
//! (roc-validator runs in `.ci/run`, scripts/validate-ro-crate.sh): one CreateAction per stage
//! whose result files exist with matching blake3 digests, every JSON-LD reference resolves within
//! the graph, artifacts are copies, and a plan with uncached stages is refused.

use std::collections::BTreeSet;

use serde_json::Value;

#[path = "support/binary.rs"]
mod binary;
use binary::mexp;

const PIPE: &str = r#"
[experiment]
name = "pipe"
description = "A two-stage pipeline and a lone stage"
seed = 3

[stages.gen]
kind = "command"
run = ["sh", "-c", "seq 1 {params.n} > {outputs.numbers}"]
outputs = { numbers = "numbers.txt" }
params = { n = 4 }

[stages.score]
kind = "command"
run = ["sh", "-c", "mkdir -p {outputs.dir} && cp {inputs.numbers} {outputs.dir}/copy.txt && wc -l < {inputs.numbers} > {outputs.count}"]
inputs = { numbers = "gen.numbers" }
outputs = { count = "count.txt", dir = "dir/" }

[stages.side]
kind = "grain_sampling"
count = 2
nx = 8
ny = 8
preview = 1
"#;

/// Every `{"@id": …}` reference anywhere below `v` (entity ids themselves excluded).
fn refs(v: &Value, top: bool, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if !top
                && m.len() == 1
                && let Some(Value::String(id)) = m.get("@id")
            {
                out.insert(id.clone());
            }
            for (k, x) in m {
                if k != "@id" {
                    refs(x, false, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, false, out)),
        _ => {}
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn has_type(e: &Value, t: &str) -> bool {
    as_list(&e["@type"]).iter().any(|x| x == t)
}

#[test]
fn exported_crate_is_complete_and_self_consistent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("experiments")).expect("mkdir");
    std::fs::write(dir.join("experiments/pipe.toml"), PIPE).expect("write");
    let m = "experiments/pipe.toml";
    // Nothing cached yet: refused, naming the stages and what to run.
    let refused = mexp(&["export", m, "--ro-crate", "crate"], dir);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("gen, score, side") && err.contains("mexp run"),
        "{err}"
    );
    assert!(!dir.join("crate/ro-crate-metadata.json").exists());
    let run = mexp(&["run", m, "-q"], dir);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = mexp(&["export", m, "--ro-crate", "crate"], dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crate_dir = dir.join("crate");
    let doc: Value = serde_json::from_slice(
        &std::fs::read(crate_dir.join("ro-crate-metadata.json")).expect("metadata"),
    )
    .expect("json");
    let graph = doc["@graph"].as_array().expect("graph");
    let ids: BTreeSet<String> = graph
        .iter()
        .filter_map(|e| e["@id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), graph.len(), "duplicate @id");
    let mut referenced = BTreeSet::new();
    for e in graph {
        refs(e, true, &mut referenced);
    }
    let dangling: Vec<&String> = referenced.difference(&ids).collect();
    assert!(
        dangling.is_empty(),
        "references outside the graph: {dangling:?}"
    );
    let entity = |id: &str| graph.iter().find(|e| e["@id"] == id).expect(id);
    // The root: the three WRROC profiles, the manifest as main entity.
    let root = entity("./");
    let conforms: Vec<String> = as_list(&root["conformsTo"])
        .iter()
        .filter_map(|c| c["@id"].as_str().map(str::to_string))
        .collect();
    for p in ["process", "workflow", "provenance"] {
        assert!(conforms.contains(&format!("https://w3id.org/ro/wfrun/{p}/0.5")));
    }
    assert_eq!(root["mainEntity"]["@id"], "pipe.toml");
    assert!(has_type(entity("pipe.toml"), "ComputationalWorkflow"));
    assert!(crate_dir.join("pipe.toml").is_file());
    // One CreateAction per stage (plus the workflow run), each result file present and intact.
    let stage_runs: Vec<&Value> = graph
        .iter()
        .filter(|e| has_type(e, "CreateAction") && e["@id"] != "#run")
        .collect();
    assert_eq!(stage_runs.len(), 3);
    let mut checked = 0;
    for action in &stage_runs {
        let tool = entity(action["instrument"]["@id"].as_str().expect("instrument"));
        assert!(has_type(tool, "SoftwareApplication"));
        assert_eq!(tool["softwareVersion"].as_str().map(str::len), Some(64));
        for r in as_list(&action["result"]) {
            let rid = r["@id"].as_str().expect("result id");
            let e = entity(rid);
            let files: Vec<String> = if has_type(e, "Dataset") {
                as_list(&e["hasPart"])
                    .iter()
                    .filter_map(|p| p["@id"].as_str().map(str::to_string))
                    .collect()
            } else {
                vec![rid.to_string()]
            };
            for f in files {
                let path = crate_dir.join(&f);
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{f}: {e}"));
                let digest = format!("blake3:{}", blake3::hash(&bytes).to_hex());
                assert_eq!(entity(&f)["identifier"], digest.as_str(), "{f}");
                assert_eq!(entity(&f)["contentSize"], bytes.len().to_string().as_str());
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    let links = std::fs::metadata(&path).expect("meta").nlink();
                    assert_eq!(links, 1, "{f} must be a copy, not a link into the cache");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} files checked");
    // Parameters are PropertyValues, each the example of a FormalParameter of the tool.
    let score = entity("#run-score");
    let pvs: Vec<&Value> = as_list(&score["object"])
        .iter()
        .filter_map(|o| o["@id"].as_str())
        .map(entity)
        .filter(|e| has_type(e, "PropertyValue"))
        .collect();
    assert!(!pvs.is_empty());
    for pv in pvs {
        let fp = entity(pv["exampleOfWork"]["@id"].as_str().expect("exampleOfWork"));
        assert!(has_type(fp, "FormalParameter"));
    }
    // score's input is gen's output file, connected parameter to parameter.
    assert!(
        as_list(&score["object"])
            .iter()
            .any(|o| o["@id"] == "gen/numbers.txt")
    );
    assert!(has_type(
        entity("#connection-score-numbers"),
        "ParameterConnection"
    ));
    // A second export into the same folder is refused rather than mixed in.
    let again = mexp(&["export", m, "--ro-crate", "crate"], dir);
    assert_eq!(again.status.code(), Some(2));
}
