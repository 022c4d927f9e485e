//! Reading a cache from the outside, for tests that compare two runs' artifacts.

use std::collections::BTreeMap;
use std::path::Path;

/// Output digests of every stage ref in a cache: "experiment/stage" → output → digest.
pub fn output_digests(cache: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let refs = cache.join("refs");
    let mut stack = vec![refs.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("refs") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let r: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).expect("ref")).expect("json");
            let key = r["key"].as_str().expect("key");
            let rec = find_record(cache, key);
            let outputs = rec["outputs"]
                .as_object()
                .expect("outputs")
                .iter()
                .map(|(k, v)| (k.clone(), v["digest"].as_str().expect("digest").to_string()))
                .collect();
            let name = p
                .strip_prefix(&refs)
                .expect("prefix")
                .to_string_lossy()
                .to_string();
            out.insert(name, outputs);
        }
    }
    out
}

fn find_record(cache: &Path, key: &str) -> serde_json::Value {
    let mut stack = vec![cache.join("records")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("records") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(key))
            {
                return serde_json::from_slice(&std::fs::read(&p).expect("record")).expect("json");
            }
        }
    }
    panic!("no record for key {key} in {}", cache.display());
}
