//! Every manifest error a user can make is reported with file, line, column and a suggestion.
//! The rendered messages are pinned with insta snapshots.

use std::path::Path;

use mexp::engine::manifest::Manifest;
use mexp::engine::resolve::{Override, resolve};

fn error(text: &str, sets: &[&str]) -> String {
    let registry = mexp::stages::registry().expect("registry");
    let sets: Vec<Override> = sets
        .iter()
        .map(|s| Override::parse_set(s).expect("set"))
        .collect();
    let result = Manifest::parse(Path::new("experiments/demo.toml"), text)
        .and_then(|m| resolve(&m, &registry.catalog, None, &[], &sets).map(|_| ()));
    match result {
        Ok(()) => panic!("expected an error for:\n{text}"),
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "manifest errors exit with 2");
            e.to_string()
        }
    }
}

const HEAD: &str = "[experiment]\nname = \"demo\"\nseed = 1\n\n";

#[test]
fn unknown_stage_kind() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampler\"\n"),
        &[]
    ));
}

#[test]
fn misspelled_parameter() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\ncuont = 20\n"),
        &[]
    ));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\ncount = \"many\"\n"),
        &[]
    ));
}

#[test]
fn out_of_range() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\ntheta_max_deg = 270\n"),
        &[]
    ));
}

#[test]
fn missing_input() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.t]\nkind = \"table\"\ninputs = {{ a = \"nowhere.metrics\" }}\n"),
        &[]
    ));
}

#[test]
fn unknown_output_name() {
    insta::assert_snapshot!(error(
        &format!(
            "{HEAD}[stages.grains]\nkind = \"grain_sampling\"\n\n[stages.t]\nkind = \"table\"\ninputs = {{ a = \"grains.structure\" }}\n"
        ),
        &[]
    ));
}

#[test]
fn dependency_cycle() {
    insta::assert_snapshot!(error(
        &format!(
            "{HEAD}[stages.a]\nkind = \"table\"\ninputs = {{ x = \"c.json\" }}\n\n[stages.b]\nkind = \"table\"\ninputs = {{ x = \"a.json\" }}\n\n[stages.c]\nkind = \"table\"\ninputs = {{ x = \"b.json\" }}\n"
        ),
        &[]
    ));
}

#[test]
fn invalid_toml() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\ncount = 20 20\n"),
        &[]
    ));
}

#[test]
fn unknown_top_level_table() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stage.grains]\nkind = \"grain_sampling\"\n"),
        &[]
    ));
}

#[test]
fn bad_set_override() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\n"),
        &["grains.cout=5"]
    ));
}

#[test]
fn several_errors_are_reported_together() {
    let e = error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\ncuont = 1\nnx = -3\n"),
        &[],
    );
    assert_eq!(e.matches("error:").count(), 2, "{e}");
}

/// A step, tolerance or learning rate of zero is refused at plan time (an exclusive bound), not
/// at run time after the upstream stages have run.
#[test]
fn zero_where_a_strictly_positive_value_is_needed() {
    let msg = error(
        &format!(
            "{HEAD}[stages.grains]\nkind = \"grain_sampling\"\n\n[stages.curves]\nkind = \"demag_curve\"\ninputs = {{ structures = \"grains.structures\" }}\nh_step = 0.0\n"
        ),
        &[],
    );
    assert!(msg.contains("h_step"), "{msg}");
    assert!(msg.contains("must be greater than 0"), "{msg}");
    assert!(msg.contains("demo.toml:"), "located: {msg}");
    let msg = error(
        &format!("{HEAD}[stages.grains]\nkind = \"grain_sampling\"\n"),
        &["grains.cell_size_nm=0"],
    );
    assert!(msg.contains("must be greater than 0"), "{msg}");
}

const COMMAND: &str = "[stages.gen]\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"seq 3 > n.txt\"]\noutputs = { numbers = \"n.txt\" }\n\n[stages.plot]\nkind = \"command\"\ninputs = { numbers = \"gen.numbers\" }\n";

#[test]
fn command_unknown_placeholder() {
    insta::assert_snapshot!(error(
        &format!(
            "{HEAD}{COMMAND}run = [\"sh\", \"plot.sh\", \"{{inputs.number}}\", \"{{outputs.figure}}\"]\noutputs = {{ figure = \"f.png\" }}\n"
        ),
        &[]
    ));
}

#[test]
fn command_output_clash() {
    insta::assert_snapshot!(error(
        &format!(
            "{HEAD}{COMMAND}run = [\"sh\", \"-c\", \"true\"]\noutputs = {{ figure = \"plots/f.png\", all = \"plots/\" }}\n"
        ),
        &[]
    ));
}

#[test]
fn command_missing_code_path() {
    insta::assert_snapshot!(error(
        &format!(
            "{HEAD}{COMMAND}run = [\"python3\", \"scripts/nope.py\"]\noutputs = {{ figure = \"f.png\" }}\ncode = [\"scripts/nope.py\"]\n"
        ),
        &[]
    ));
}

#[test]
fn command_empty_run() {
    insta::assert_snapshot!(error(
        &format!("{HEAD}{COMMAND}run = []\noutputs = {{ figure = \"f.png\" }}\n"),
        &[]
    ));
}

/// An output of a `command` stage that its `outputs` table does not declare.
#[test]
fn command_unknown_upstream_output() {
    let msg = error(
        &format!(
            "{HEAD}{COMMAND}run = [\"cat\", \"{{inputs.numbers}}\"]\noutputs = {{ figure = \"f.png\" }}\n\n[stages.third]\nkind = \"table\"\ninputs = {{ a = \"gen.number\" }}\n"
        ),
        &[],
    );
    assert!(msg.contains("has no output `number`"), "{msg}");
    assert!(msg.contains("did you mean `gen.numbers`?"), "{msg}");
}

#[test]
fn unknown_sweep_mode_is_located() {
    use mexp::engine::sweep::{SweepMode, expand};
    let text = format!(
        "{HEAD}[stages.grains]\nkind = \"grain_sampling\"\n\n[sweep]\nmode = \"grdi\"\n\"grains.count\" = [1, 2]\n"
    );
    let manifest = Manifest::parse(Path::new("experiments/demo.toml"), &text).expect("parses");
    let message = match expand(&manifest) {
        Ok(_) => panic!("an unknown sweep mode must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("unknown sweep mode `grdi`; use grid, zip, list, random or lhs"),
        "{message}"
    );
    assert!(
        message.contains("demo.toml:9:8"),
        "located at the value: {message}"
    );
    for mode in ["grid", "zip", "list", "random", "lhs"] {
        let parsed: SweepMode = mode.parse().expect("a known mode");
        assert_eq!(parsed.to_string(), mode);
    }
}

#[test]
fn sweep_report_columns_and_bands_name_real_stages_and_outputs() {
    use mexp::engine::session::{Request, Session};
    let registry = mexp::stages::registry().expect("registry");
    let dir = tempfile::tempdir().expect("tmp");
    let open = |sweep_line: &str| -> String {
        let path = dir.path().join("demo.toml");
        let text = format!(
            "{HEAD}[stages.grains]\nkind = \"grain_sampling\"\n\n[sweep]\n\"grains.count\" = [1, 2]\n{sweep_line}\n"
        );
        std::fs::write(&path, text).expect("write");
        let request = Request {
            manifest: path,
            backend: "flex".into(),
            ..Request::default()
        };
        match Session::open(&registry, &request) {
            Ok(_) => panic!("expected an error for {sweep_line}"),
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "a manifest error");
                e.to_string()
            }
        }
    };
    let typo_stage = open("report = [\"grain.metrics.n\"]");
    assert!(
        typo_stage.contains("`report` names stage `grain`, which the experiment does not have")
            && typo_stage.contains("demo.toml:10:10")
            && typo_stage.contains("its stages are grains"),
        "{typo_stage}"
    );
    let typo_output = open("bands = [{ csv = \"grains.curve\", x = \"a\", y = [\"b\"] }]");
    assert!(
        typo_output.contains(
            "`bands` names output `curve` of stage `grains`, which kind `grain_sampling` does not write"
        ) && typo_output.contains("its outputs are"),
        "{typo_output}"
    );
}
