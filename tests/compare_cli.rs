//! End-to-end tests of targets (`mexp run/plan <manifest> STAGE…`), `mexp diff` and `mexp log`
//! (issue 17, item 3). Snapshots redact what varies between builds and runs: keys and digests
//! (labelled by first appearance), times and wall times.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

#[path = "support/binary.rs"]
mod binary;
use binary::{json, mexp};

fn ok(out: Output) -> Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// gen → score (a JSON metrics file), and an unrelated stage; a profile changes gen.
const PIPE: &str = r#"
[experiment]
name = "pipe"
seed = 3

[stages.gen]
kind = "command"
run = ["sh", "-c", "seq 1 {params.n} > {outputs.numbers}"]
outputs = { numbers = "numbers.txt" }
params = { n = 4 }

[stages.score]
kind = "command"
run = ["sh", "-c", "awk '{{s+=$1}} END {{printf \"{{\\\"total\\\": %d, \\\"count\\\": %d}}\", s, NR}}' {inputs.numbers} > {outputs.metrics}"]
inputs = { numbers = "gen.numbers" }
outputs = { metrics = "metrics.json" }

[stages.side]
kind = "command"
run = ["sh", "-c", "echo side > {outputs.out}"]
outputs = { out = "side.txt" }

[profile.big.stages.gen]
params = { n = 6 }
"#;

fn project(text: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::write(tmp.path().join("experiments/pipe.toml"), text).expect("write");
    tmp
}

const M: &str = "experiments/pipe.toml";

/// Replaces hex runs of 12 or more characters by `<h1>`, `<h2>`, … (a 64-character key and its
/// 12-character prefix get the same label), `YYYY-MM-DD HH:MM:SS UTC` by `<time>` and `N.NN s`
/// by `<wall>`.
struct Redactor(BTreeMap<String, String>);

impl Redactor {
    fn label(&mut self, hex: &str) -> String {
        let n = self.0.len() + 1;
        self.0
            .entry(hex[..12].to_string())
            .or_insert_with(|| format!("<h{n}>"))
            .clone()
    }

    fn text(&mut self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            let run = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                .count();
            let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
            if run >= 12 && starts_word {
                let hex: String = chars[i..i + run].iter().collect();
                out.push_str(&self.label(&hex));
                i += run;
                continue;
            }
            let rest: String = chars[i..chars.len().min(i + 23)].iter().collect();
            if is_time(&rest) {
                out.push_str("<time>");
                i += 23;
                continue;
            }
            if let Some(len) = wall_len(&chars[i..])
                && (i == 0 || chars[i - 1] == ' ')
            {
                out.push_str("<wall>");
                i += len;
                continue;
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }

    fn json(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let redacted = ["unix", "started_unix", "wall_seconds"]
                            .contains(&k.as_str())
                            && !x.is_null();
                        let x = if redacted {
                            Value::String("<redacted>".into())
                        } else {
                            self.json(x)
                        };
                        (k.clone(), x)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 23
        && s.ends_with(" UTC")
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            19..=22 => true,
            _ => c.is_ascii_digit(),
        })
}

/// Length of `12.34 s` at the start of `c`.
fn wall_len(c: &[char]) -> Option<usize> {
    let int = c.iter().take_while(|x| x.is_ascii_digit()).count();
    if int == 0 || c.get(int) != Some(&'.') {
        return None;
    }
    let frac = c[int + 1..]
        .iter()
        .take_while(|x| x.is_ascii_digit())
        .count();
    let end = int + 1 + frac;
    (frac == 2 && c.get(end) == Some(&' ') && c.get(end + 1) == Some(&'s')).then_some(end + 2)
}

#[test]
fn targets_run_only_what_they_need_and_leave_the_rest_published_as_it_was() {
    let tmp = project(PIPE);
    let dir = tmp.path();
    ok(mexp(&["run", M, "side"], dir));
    let side_file = dir.join("results/pipe/side/side.txt");
    assert!(side_file.is_file());
    // Plan of `score` alone: it and gen, not side.
    let plan = json(&ok(mexp(&["plan", M, "score", "--json"], dir)));
    let names: Vec<&str> = plan["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["gen", "score"]);
    // Running `score` with side's parameters changed: side is not run, its old results stay.
    let run = json(&ok(mexp(
        &[
            "run",
            M,
            "score",
            "--json",
            "--set",
            "side.run=[\"sh\", \"-c\", \"echo new > {outputs.out}\"]",
        ],
        dir,
    )));
    let status: BTreeMap<&str, &str> = run["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or(""),
                s["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(status["gen"], "run");
    assert_eq!(status["score"], "run");
    assert_eq!(status["side"], "skipped");
    assert!(
        run["stages"][2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not selected"))
    );
    assert_eq!(std::fs::read_to_string(&side_file).expect("side"), "side\n");
    assert!(dir.join("results/pipe/score/metrics.json").is_file());
    let summary = std::fs::read_to_string(dir.join("results/pipe/summary.md")).expect("summary");
    assert!(
        summary.contains("| side | command | skipped |"),
        "{summary}"
    );
    // Unchanged, side is cached and reported so, though not selected.
    let again = json(&ok(mexp(&["run", M, "gen", "--json"], dir)));
    assert_eq!(again["stages"][2]["status"], "cached");
    // A misspelled target: usage error with a suggestion.
    let bad = mexp(&["run", M, "scroe"], dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `score`?"));
    let bad_plan = mexp(&["plan", M, "sid"], dir);
    assert_eq!(bad_plan.status.code(), Some(2));
}

/// Three runs: default, `--profile big`, default again (cached: the ref moves back).
fn three_runs(dir: &Path) {
    ok(mexp(&["run", M, "-q"], dir));
    ok(mexp(&["run", M, "-q", "--profile", "big"], dir));
    ok(mexp(&["run", M, "-q"], dir));
}

#[test]
fn log_lists_each_stages_results_newest_first_with_reasons() {
    let tmp = project(PIPE);
    let dir = tmp.path();
    three_runs(dir);
    let mut r = Redactor(BTreeMap::new());
    let text = stdout(&ok(mexp(&["log", M], dir)));
    insta::assert_snapshot!("log_text", r.text(&text));
    let v = json(&ok(mexp(&["log", M, "score", "--json"], dir)));
    let history = v["stages"][0]["history"].as_array().expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[0]["key"], history[2]["key"]);
    assert_eq!(history[0]["current"], true);
    assert_eq!(history[2]["current"], false);
    assert_eq!(history[1]["why"][0]["reason"], "input_changed");
    insta::assert_json_snapshot!("log_json", r.json(&v));
}

#[test]
fn gc_prunes_history_entries_whose_records_it_removes() {
    let tmp = project(PIPE);
    let dir = tmp.path();
    three_runs(dir);
    // Keep only the default profile's records: gc must drop the `big` entries.
    let other = dir.join("experiments/keep.toml");
    std::fs::write(
        &other,
        PIPE.replace("[profile.big.stages.gen]\nparams = { n = 6 }\n", ""),
    )
    .expect("write");
    let gc = stdout(&ok(mexp(&["gc", "--keep", "experiments/keep.toml"], dir)));
    assert_eq!(gc.matches("dropped history entry pipe/").count(), 2, "{gc}");
    let v = json(&ok(mexp(&["log", M, "--json"], dir)));
    for stage in v["stages"].as_array().expect("stages") {
        for e in stage["history"].as_array().expect("history") {
            assert_eq!(e["record"], true, "{stage}");
        }
    }
    assert_eq!(v["stages"][1]["history"].as_array().map(Vec::len), Some(2));
}

#[test]
fn diff_shows_parameter_input_and_metric_differences_side_by_side() {
    let tmp = project(PIPE);
    let dir = tmp.path();
    ok(mexp(&["run", M, "-q"], dir));
    ok(mexp(&["run", M, "-q", "--profile", "big"], dir));
    let mut r = Redactor(BTreeMap::new());
    let text = stdout(&ok(mexp(&["diff", M, "--profiles", "default", "big"], dir)));
    insta::assert_snapshot!("diff_profiles_text", r.text(&text));
    let v = json(&ok(mexp(
        &["diff", M, "--profiles", "default", "big", "--json"],
        dir,
    )));
    let score = &v["stages"][1];
    assert_eq!(score["metrics"][1]["name"], "metrics.total");
    assert_eq!(score["metrics"][1]["a"], 10);
    assert_eq!(score["metrics"][1]["b"], 21);
    assert_eq!(v["stages"][2]["same"], true);
    insta::assert_json_snapshot!("diff_profiles_json", r.json(&v));
    // The plan now (default profile, gen changed by --set) against the last records (`big`).
    let text = stdout(&ok(mexp(
        &["diff", M, "--set", "gen.params.n=5", "gen", "score"],
        dir,
    )));
    insta::assert_snapshot!("diff_record_text", r.text(&text));
    let bad = mexp(&["diff", M, "--variants", "v000", "v001"], dir);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn diff_of_two_sweep_variants() {
    let sweep = format!("{PIPE}\n[sweep]\nmode = \"grid\"\n\"gen.params.n\" = [4, 3]\n");
    let tmp = project(&sweep);
    let dir = tmp.path();
    ok(mexp(&["run", M, "-q"], dir));
    let mut r = Redactor(BTreeMap::new());
    let text = stdout(&ok(mexp(&["diff", M, "--variants", "v000", "v001"], dir)));
    insta::assert_snapshot!("diff_variants_text", r.text(&text));
    let v = json(&ok(mexp(
        &["diff", M, "--variants", "v000", "v001", "--json"],
        dir,
    )));
    insta::assert_json_snapshot!("diff_variants_json", r.json(&v));
    let bad = mexp(&["diff", M, "--variants", "v000", "v009"], dir);
    assert_eq!(bad.status.code(), Some(2));
}
