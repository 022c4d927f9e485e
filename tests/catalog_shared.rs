//! The shared solver block (`stages/shared/solver.toml`): the kinds that include it expose the same
//! solver parameters with the same specs, and a parameter defined twice is refused.

use mexp::engine::catalog::{Catalog, SHARED};
use mexp::engine::error::EngineError;

const SOLVER_KINDS: [&str; 4] = ["demag_curve", "solve_structure", "morph", "latent_design"];

/// The solver block's parameter names, read from its compiled-in text.
fn solver_names() -> Vec<String> {
    let (_, text) = SHARED
        .iter()
        .find(|(n, _)| *n == "solver")
        .expect("solver block compiled in");
    let table: toml::Table = toml::from_str(text).expect("solver block parses");
    table["params"]
        .as_table()
        .expect("params table")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn solver_kinds_expose_identical_solver_parameters() {
    let catalog = Catalog::builtin().expect("builtin catalogue");
    let names = solver_names();
    assert!(
        names.len() >= 18,
        "solver block has {} parameters",
        names.len()
    );
    for name in &names {
        let specs: Vec<String> = SOLVER_KINDS
            .iter()
            .map(|k| {
                let spec = catalog.get(k).expect("kind");
                assert_eq!(spec.include, vec!["solver".to_string()], "{k}");
                let p = spec
                    .params
                    .get(name)
                    .unwrap_or_else(|| panic!("{k} lacks `{name}`"));
                format!("{p:?}")
            })
            .collect();
        assert!(
            specs.iter().all(|s| *s == specs[0]),
            "`{name}` differs between kinds: {specs:#?}"
        );
    }
    // The shared block carries the bound latent_design used to lack.
    let max_steps = &catalog.get("latent_design").expect("kind").params["max_steps"];
    assert_eq!(max_steps.max, Some(100_000_000.0));
    assert_eq!(max_steps.default.as_integer(), Some(20_000));
}

#[test]
fn stages_command_lists_included_parameters() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mexp"))
        .args(["stages", "morph", "--json"])
        .output()
        .expect("run mexp stages");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let listed = v.to_string();
    for name in solver_names()
        .iter()
        .chain(["from", "to", "steps"].map(String::from).iter())
    {
        assert!(
            listed.contains(&format!("\"{name}\"")),
            "`{name}` not listed: {listed}"
        );
    }
}

fn refused(text: &str) -> String {
    let mut catalog = Catalog::default();
    match catalog.add_toml("probe", text, "fp-probe") {
        Err(EngineError::Catalog { kind, message }) => {
            assert_eq!(kind, "probe");
            assert!(catalog.get("probe").is_none(), "refused kind was added");
            message
        }
        other => panic!("expected a catalogue error, got {other:?}"),
    }
}

#[test]
fn a_parameter_defined_twice_is_refused() {
    let own = refused(
        "doc = \"probe\"\ninclude = [\"solver\"]\n\n[params.k1]\ntype = \"float\"\n\
         default = 1.0\ndoc = \"again\"\n",
    );
    assert!(own.contains("`k1` defined twice"), "{own}");
    let twice = refused("doc = \"probe\"\ninclude = [\"solver\", \"solver\"]\n");
    assert!(twice.contains("defined twice"), "{twice}");
    let unknown = refused("doc = \"probe\"\ninclude = [\"solvr\"]\n");
    assert!(
        unknown.contains("unknown shared block `solvr`"),
        "{unknown}"
    );
    // The same kind without the clash is accepted, with the block's parameters.
    let mut catalog = Catalog::default();
    catalog
        .add_toml(
            "probe",
            "doc = \"probe\"\ninclude = [\"solver\"]\n",
            "fp-probe",
        )
        .expect("include alone is fine");
    assert_eq!(
        catalog.get("probe").expect("kind").params.len(),
        solver_names().len()
    );
}

#[test]
fn every_solver_choice_parses_and_nothing_else_does() {
    use mexp::stages::micromag_common::{KernelChoice, MagnetizationChoice, MinimizerChoice};
    let catalog = Catalog::builtin().expect("builtin catalogue");
    let params = &catalog.get("demag_curve").expect("kind").params;
    let choices = |name: &str| params[name].choices.clone().expect("string choices");
    for c in choices("kernel") {
        c.parse::<KernelChoice>().expect("catalogue kernel parses");
    }
    for c in choices("magnetization") {
        c.parse::<MagnetizationChoice>()
            .map(|_| ())
            .expect("catalogue magnetization parses");
    }
    for c in choices("minimizer") {
        c.parse::<MinimizerChoice>()
            .expect("catalogue minimizer parses");
    }
    // A value outside the choices is an error naming the parameter, never a silent default.
    let e = "exact_3d"
        .parse::<KernelChoice>()
        .expect_err("not a kernel");
    assert_eq!(
        e.to_string(),
        "parameter `kernel` = \"exact_3d\" is not one of exact_2d, newell_3d, none"
    );
    assert!("3d".parse::<MagnetizationChoice>().is_err());
    let e = "BB".parse::<MinimizerChoice>().expect_err("case matters");
    assert!(e.to_string().contains("bb, ncg, fidimag_compat"), "{e}");
}
