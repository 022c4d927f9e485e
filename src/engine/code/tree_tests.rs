//! The inclusion rule on a small synthetic crate: one case per clause of the rule in `engine::key`.

use std::collections::BTreeSet;
use std::fs;

use super::*;

/// Writes `files` (path, text) under a temporary crate root.
fn crate_of(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    for (path, text) in files {
        let p = tmp.path().join(path);
        fs::create_dir_all(p.parent().expect("dir")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    tmp
}

fn reach(files: &[(&str, &str)], start: &str) -> Reach {
    let tmp = crate_of(files);
    let tree = SourceTree::load(tmp.path()).expect("tree");
    let externs = BTreeSet::from(["rand".to_string(), "burn".to_string()]);
    tree.reach(start, &externs).expect("reach")
}

const LIB: &str = "pub mod stages; pub mod physics; pub mod learn; pub mod io;";

#[test]
fn each_clause_of_the_rule_brings_its_file_in_and_nothing_else() {
    let r = reach(
        &[
            ("src/lib.rs", LIB),
            ("src/stages/mod.rs", "pub mod a; pub mod b;"),
            (
                "src/stages/a.rs",
                "use crate::physics::Solver;\nuse crate::learn;\nuse rand::Rng;\n\
                 fn run() { let n = learn::nets::Net::new(); save!(n); crate::io::fmt::noted!(); \
                 crate::io::npy::write(); }\n#[cfg(test)] mod tests { use crate::physics::hidden::X; }",
            ),
            ("src/stages/b.rs", "use crate::physics::unused::U;"),
            // A mod.rs that only routes: re-exports lead on, the file itself stays out.
            (
                "src/physics/mod.rs",
                "pub mod solver; pub mod field; pub mod ext; pub mod unused; pub mod local;\n\
                 #[cfg(test)] mod hidden;\npub use solver::Solver;",
            ),
            (
                "src/physics/solver.rs",
                "use super::field::*;\npub struct Solver;",
            ),
            (
                "src/physics/field.rs",
                "pub struct Field; pub trait Energy { fn e(&self); }",
            ),
            // An inherent impl elsewhere, a blanket impl of a reached trait, and a look-alike.
            (
                "src/physics/ext.rs",
                "impl super::Solver { fn extra() {} }\nimpl<T> crate::physics::field::Energy for Vec<T> { fn e(&self) {} }",
            ),
            (
                "src/physics/local.rs",
                "struct Solver; impl Solver { fn own() {} }",
            ),
            ("src/physics/unused.rs", "pub struct U;"),
            ("src/physics/hidden.rs", "pub struct X;"),
            ("src/learn/mod.rs", "pub mod nets;"),
            (
                "src/learn/nets.rs",
                "pub struct Net; impl Net { pub fn new() -> Self { Net } }",
            ),
            (
                "src/io/mod.rs",
                "#[path = \"npy_impl.rs\"] pub mod npy; pub mod fmt;",
            ),
            (
                "src/io/npy_impl.rs",
                "pub fn write() { let _ = include_bytes!(\"../../assets/font.ttf\"); }",
            ),
            (
                "src/io/fmt.rs",
                "#[macro_export] macro_rules! save { ($x:expr) => {}; }\n\
                 macro_rules! noted { () => {}; } pub(crate) use noted;",
            ),
            ("assets/font.ttf", "glyphs"),
        ],
        "src/stages/a.rs",
    );
    let got: Vec<&str> = r.files.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        vec![
            "assets/font.ttf",       // include_bytes! of a file in
            "src/io/fmt.rs",         // defines a macro a file in invokes
            "src/io/npy_impl.rs",    // a path through #[path]
            "src/learn/nets.rs",     // `use crate::learn;` then `learn::nets::Net`
            "src/physics/ext.rs",    // inherent impl of Solver; blanket impl of Energy
            "src/physics/field.rs",  // glob import of a file in
            "src/physics/solver.rs", // through the `pub use` of physics/mod.rs
            "src/stages/a.rs",
        ],
        "why: {:#?}",
        r.why
    );
    assert_eq!(r.crates, BTreeSet::from(["rand".to_string()]));
}

#[test]
fn a_name_defined_in_a_module_file_brings_that_file_in() {
    let r = reach(
        &[
            ("src/lib.rs", "pub mod stages; pub mod learn;"),
            ("src/stages/mod.rs", "pub mod k;"),
            ("src/stages/k.rs", "fn f() { crate::learn::helper(); }"),
            (
                "src/learn/mod.rs",
                "pub mod other; pub fn helper() { other::g(); }",
            ),
            ("src/learn/other.rs", "pub fn g() {}"),
        ],
        "src/stages/k.rs",
    );
    assert!(r.files.contains("src/learn/mod.rs"));
    assert!(r.files.contains("src/learn/other.rs"), "{:#?}", r.why);
}

#[test]
fn a_non_literal_include_stops_the_build() {
    let tmp = crate_of(&[
        ("src/lib.rs", "pub mod stages;"),
        ("src/stages/mod.rs", "pub mod k;"),
        (
            "src/stages/k.rs",
            "static S: &str = include_str!(concat!(\"a\", \"b\"));",
        ),
    ]);
    let tree = SourceTree::load(tmp.path()).expect("tree");
    let err = tree.reach("src/stages/k.rs", &BTreeSet::new());
    assert!(matches!(err, Err(CodeError::Include { .. })), "{err:?}");
}
