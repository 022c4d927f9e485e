//! Implementation fingerprints cannot be fooled: on a copy of this crate's tree, the very function
//! build.rs runs (`engine::code::kind_codes`) must move a kind's fingerprint whenever a file its code
//! can reach changes, and only then; each drift case of issue 14 is checked by name; the hand-written
//! `sources` lists that the derived sets replaced are still covered; a pure move changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use mexp::engine::code::{KindCode, kind_codes};

/// Copies what the fingerprints read (sources, catalogue, assets, lock file) into a temporary folder.
fn copy_tree() -> tempfile::TempDir {
    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).expect("mkdir");
        for e in fs::read_dir(from).expect("read_dir") {
            let p = e.expect("entry").path();
            let dst = to.join(p.file_name().expect("name"));
            if p.is_dir() {
                copy_dir(&p, &dst);
            } else {
                fs::copy(&p, &dst).expect("copy");
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    for d in ["src", "stages", "assets"] {
        copy_dir(&root.join(d), &tmp.path().join(d));
    }
    fs::copy(root.join("Cargo.lock"), tmp.path().join("Cargo.lock")).expect("lock");
    tmp
}

fn codes(root: &Path) -> BTreeMap<String, KindCode> {
    kind_codes(root).expect("fingerprints of the copy")
}

fn files(c: &KindCode) -> BTreeSet<&str> {
    c.files.iter().map(|(p, _)| p.as_str()).collect()
}

/// Appends a harmless change to `rel` (a comment for Rust, a byte for data), returning the old bytes.
fn touch(root: &Path, rel: &str) -> Vec<u8> {
    let path = root.join(rel);
    let old = fs::read(&path).expect("read");
    let mut new = old.clone();
    new.extend_from_slice(if rel.ends_with(".rs") {
        b"\n// drift\n"
    } else {
        b"\0"
    });
    fs::write(&path, new).expect("write");
    old
}

/// The kinds whose fingerprint differs between two computations.
fn moved(a: &BTreeMap<String, KindCode>, b: &BTreeMap<String, KindCode>) -> BTreeSet<String> {
    a.iter()
        .filter(|(k, c)| b[*k].fingerprint != c.fingerprint)
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn a_file_moves_exactly_the_fingerprints_of_the_kinds_that_reach_it() {
    let tmp = copy_tree();
    let root = tmp.path();
    let base = codes(root);
    assert_eq!(
        base,
        codes(Path::new(env!("CARGO_MANIFEST_DIR"))),
        "the tree's location matters"
    );
    let mut candidates: BTreeSet<String> = base
        .values()
        .flat_map(|c| files(c))
        .map(String::from)
        .collect();
    // Files no kind reaches must move nothing.
    for outside in [
        "src/main.rs",
        "src/cli/output.rs",
        "src/engine/executor.rs",
        "src/lib.rs",
    ] {
        candidates.insert(outside.to_string());
    }
    for rel in &candidates {
        let old = touch(root, rel);
        let after = codes(root);
        fs::write(root.join(rel), old).expect("restore");
        let expected: BTreeSet<String> = base
            .iter()
            .filter(|(_, c)| files(c).contains(rel.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(moved(&base, &after), expected, "after changing {rel}");
        for (k, c) in &after {
            assert_eq!(
                files(c),
                files(&base[k]),
                "a comment in {rel} changed what {k} reaches"
            );
        }
    }
}

/// Issue 14's drift cases: (kind, file its code runs that the hand-written lists missed).
const DRIFT: &[(&str, &[&str])] = &[
    (
        "morph",
        &[
            "src/physics/micromag/exchange.rs",
            "src/physics/micromag/anisotropy.rs",
            "src/physics/micromag/zeeman.rs",
            "src/physics/micromag/padded_fft.rs",
            "src/physics/micromag/mesh.rs",
            "src/physics/micromag/material.rs",
            "src/physics/micromag/vector_field.rs",
            "src/report/image_grid.rs",
            "src/report/plot.rs",
            "src/learn/stable_ids.rs",
        ],
    ),
    (
        "demag_curve",
        &["src/physics/micromag/exchange.rs", "src/io/npy.rs"],
    ),
    (
        "solve_structure",
        &[
            "src/physics/micromag/exchange.rs",
            "src/io/npy.rs",
            "src/report/image_grid.rs",
        ],
    ),
    (
        "rollout_fit",
        &[
            "src/learn/train/sample_weighting.rs",
            "src/learn/train/validation_split.rs",
            "src/learn/nets/dense.rs",
            "src/learn/stable_ids.rs",
            "src/io/npy.rs",
        ],
    ),
    (
        "ae3d_fit",
        &[
            "src/learn/nets/dense.rs",
            "src/learn/stable_ids.rs",
            "src/report/plot.rs",
        ],
    ),
    (
        "inverse_cnn_fit",
        &[
            "src/learn/nets/squeeze_excitation.rs",
            // Only an inherent `impl ResNetConfig` block: nothing names this module.
            "src/learn/nets/se_resnext.rs",
            "src/learn/stable_ids.rs",
        ],
    ),
    ("vae_fit", &["src/learn/stable_ids.rs"]),
    ("regress_fit", &["src/learn/stable_ids.rs", "src/io/npy.rs"]),
    ("cubic_grains", &["src/io/npy.rs"]),
    ("encode", &["src/io/npy.rs"]),
    ("esw_curve", &["src/io/npy.rs", "src/report/plot.rs"]),
    ("anchors", &["src/io/npy.rs", "src/report/plot.rs"]),
    (
        "test_samples",
        &[
            "src/io/npy.rs",
            "src/report/plot.rs",
            "src/report/image_grid.rs",
        ],
    ),
    (
        "evaluate",
        &[
            "src/report/plot.rs",
            "src/report/label_placement.rs",
            "src/report/table.rs",
            // The font is compiled in with include_bytes!: it shapes every PNG.
            "assets/DejaVuSans.ttf",
        ],
    ),
    (
        "rollout_eval",
        &["src/report/plot.rs", "assets/DejaVuSans.ttf"],
    ),
    ("grain_sampling", &["src/report/image_grid.rs"]),
    ("prism_design", &["src/report/image_grid.rs"]),
];

#[test]
fn every_drift_case_of_issue_14_moves_the_fingerprint() {
    let tmp = copy_tree();
    let root = tmp.path();
    let base = codes(root);
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (kind, list) in DRIFT {
        assert!(base.contains_key(*kind), "no kind {kind}");
        for f in *list {
            by_file.entry(f).or_default().push(kind);
        }
    }
    let mut missed = Vec::new();
    for (rel, kinds) in by_file {
        let old = touch(root, rel);
        let after = codes(root);
        fs::write(root.join(rel), old).expect("restore");
        let m = moved(&base, &after);
        missed.extend(
            kinds
                .iter()
                .filter(|k| !m.contains(**k))
                .map(|k| format!("{k} ↔ {rel}")),
        );
    }
    assert!(
        missed.is_empty(),
        "fingerprints kept after a change: {missed:#?}"
    );
}

/// The `sources` lists of the catalogue before fingerprints were derived (commit 488c45f): written
/// by people reading the code, each file in them is one the kind runs.
const HAND_LISTS: &[(&str, &[&str])] = &[
    // Added with the kind (issue 16): the runner, the resolution that derives its code and version
    // parameters, and the adapter.
    (
        "command",
        &[
            "src/stages/command.rs",
            "src/engine/command/mod.rs",
            "src/engine/command/check.rs",
            "src/engine/command/run.rs",
        ],
    ),
    (
        "ae3d_fit",
        &[
            "src/stages/ae3d_fit.rs",
            "src/stages/kornell_common.rs",
            "src/stages/learn_common.rs",
            "src/learn/kornell/ae3d.rs",
            "src/learn/kornell/ae3d_fit.rs",
            "src/learn/train/epoch_loop.rs",
            "src/learn/train/policy.rs",
            "src/learn/init/he.rs",
            "src/learn/train/validation_split.rs",
            "src/learn/train/mod.rs",
            "src/learn/train/nadam.rs",
            "src/learn/train/checkpoint.rs",
        ],
    ),
    (
        "anchors",
        &[
            "src/stages/anchors.rs",
            "src/stages/micromag_common.rs",
            "src/physics/micromag/anchors.rs",
        ],
    ),
    (
        "cubic_grains",
        &[
            "src/stages/cubic_grains.rs",
            "src/physics/esw/cubic_grains.rs",
        ],
    ),
    (
        "demag_curve",
        &[
            "src/stages/demag_curve.rs",
            "src/stages/micromag_common.rs",
            "src/stages/structures.rs",
            "src/physics/micromag/grains.rs",
            "src/physics/micromag/curve.rs",
            "src/physics/micromag/minimizer.rs",
            "src/physics/micromag/field.rs",
            "src/physics/micromag/demag.rs",
            "src/physics/micromag/demag_kernel.rs",
            "src/physics/micromag/padded_fft.rs",
            "src/physics/micromag/exchange.rs",
            "src/physics/micromag/anisotropy.rs",
            "src/physics/micromag/zeeman.rs",
            "src/physics/micromag/vector_field.rs",
            "src/physics/micromag/material.rs",
            "src/physics/micromag/mesh.rs",
        ],
    ),
    (
        "encode",
        &[
            "src/stages/encode.rs",
            "src/stages/learn_common.rs",
            "src/stages/structures.rs",
            "src/learn/kovacs/vae.rs",
            "src/learn/kovacs/vae_fit.rs",
            "src/physics/micromag/grains.rs",
        ],
    ),
    (
        "esw_curve",
        &[
            "src/stages/esw_curve.rs",
            "src/physics/esw/mod.rs",
            "src/physics/esw/state.rs",
            "src/physics/esw/cubic_grains.rs",
            "src/physics/esw/stoner_wohlfarth.rs",
            "src/physics/prism.rs",
        ],
    ),
    (
        "evaluate",
        &[
            "src/stages/evaluate.rs",
            "src/stages/regress_fit.rs",
            "src/stages/learn_common.rs",
            "src/stages/micromag_common.rs",
            "src/learn/kovacs/regressor.rs",
            "src/learn/kovacs/regressor_fit.rs",
        ],
    ),
    (
        "grain_sampling",
        &[
            "src/stages/grain_sampling.rs",
            "src/stages/structures.rs",
            "src/physics/micromag/grains.rs",
        ],
    ),
    (
        "inverse_cnn_eval",
        &[
            "src/stages/inverse_cnn_eval.rs",
            "src/stages/pollok_common.rs",
            "src/stages/learn_common.rs",
            "src/physics/prism_design.rs",
            "src/physics/prism.rs",
            "src/learn/pollok/model.rs",
            "src/learn/pollok/metrics.rs",
            "src/learn/pollok/cnn.rs",
        ],
    ),
    (
        "inverse_cnn_fit",
        &[
            "src/stages/inverse_cnn_fit.rs",
            "src/stages/pollok_common.rs",
            "src/stages/learn_common.rs",
            "src/physics/prism_design.rs",
            "src/physics/prism.rs",
            "src/learn/pollok/cnn.rs",
            "src/learn/pollok/fit.rs",
            "src/learn/train/checkpoint.rs",
            "src/learn/pollok/model.rs",
            "src/learn/device_rng.rs",
            "src/learn/nets/resnet.rs",
            "src/learn/nets/se_resnext.rs",
            "src/learn/nets/densenet.rs",
            "src/learn/nets/efficientnet.rs",
            "src/learn/nets/inception_resnet_v2.rs",
            "src/learn/nets/torch_layers.rs",
        ],
    ),
    (
        // Added after the hand lists were retired: what its adapter must reach.
        "latent_design",
        &[
            "src/stages/latent_design.rs",
            "src/stages/latent_design/objective.rs",
            "src/stages/latent_design/report.rs",
            "src/stages/latent_design/search.rs",
            "src/io/npy.rs",
            "src/learn/kovacs/vae.rs",
            "src/learn/kovacs/vae_fit.rs",
            "src/learn/kovacs/regressor.rs",
            "src/learn/kovacs/regressor_fit.rs",
            "src/physics/micromag/curve.rs",
            "src/physics/micromag/grains.rs",
            "src/physics/micromag/exchange.rs",
            "src/physics/micromag/demag.rs",
            "src/report/plot.rs",
            "assets/DejaVuSans.ttf",
        ],
    ),
    (
        "morph",
        &[
            "src/stages/morph.rs",
            "src/stages/learn_common.rs",
            "src/stages/micromag_common.rs",
            "src/stages/structures.rs",
            "src/learn/kovacs/vae.rs",
            "src/learn/kovacs/vae_fit.rs",
            "src/learn/kovacs/regressor.rs",
            "src/learn/kovacs/regressor_fit.rs",
            "src/physics/micromag/grains.rs",
            "src/physics/micromag/curve.rs",
            "src/physics/micromag/minimizer.rs",
            "src/physics/micromag/field.rs",
            "src/physics/micromag/demag.rs",
            "src/physics/micromag/demag_kernel.rs",
            "src/physics/micromag/anchors.rs",
        ],
    ),
    (
        "prism_design",
        &[
            "src/stages/prism_design.rs",
            "src/stages/pollok_common.rs",
            "src/physics/prism_design.rs",
            "src/physics/prism.rs",
        ],
    ),
    (
        "regress_fit",
        &[
            "src/stages/regress_fit.rs",
            "src/stages/learn_common.rs",
            "src/learn/kovacs/regressor.rs",
            "src/learn/kovacs/regressor_fit.rs",
            "src/learn/train/cv.rs",
            "src/learn/train/mod.rs",
            "src/learn/train/nadam.rs",
            "src/learn/init/keras.rs",
            "src/learn/train/checkpoint.rs",
        ],
    ),
    (
        "rollout_eval",
        &[
            "src/stages/rollout_eval.rs",
            "src/stages/kornell_common.rs",
            "src/stages/learn_common.rs",
            "src/learn/kornell/rollout.rs",
            "src/learn/kornell/rollout_fit.rs",
            "src/learn/kornell/ae3d.rs",
            "src/learn/kornell/ae3d_fit.rs",
        ],
    ),
    (
        "rollout_fit",
        &[
            "src/stages/rollout_fit.rs",
            "src/stages/kornell_common.rs",
            "src/stages/learn_common.rs",
            "src/learn/kornell/rollout.rs",
            "src/learn/kornell/rollout_fit.rs",
            "src/learn/kornell/rollout_windows.rs",
            "src/learn/train/epoch_loop.rs",
            "src/learn/train/policy.rs",
            "src/learn/init/he.rs",
            "src/learn/kornell/ae3d.rs",
            "src/learn/kornell/ae3d_fit.rs",
            "src/learn/train/mod.rs",
            "src/learn/train/nadam.rs",
        ],
    ),
    (
        "solve_structure",
        &[
            "src/stages/solve_structure.rs",
            "src/stages/micromag_common.rs",
            "src/physics/micromag/grains.rs",
            "src/physics/micromag/curve.rs",
            "src/physics/micromag/minimizer.rs",
            "src/physics/micromag/field.rs",
            "src/physics/micromag/demag.rs",
            "src/physics/micromag/demag_kernel.rs",
            "src/physics/micromag/padded_fft.rs",
            "src/physics/micromag/exchange.rs",
            "src/physics/micromag/anisotropy.rs",
            "src/physics/micromag/zeeman.rs",
            "src/physics/micromag/vector_field.rs",
            "src/physics/micromag/material.rs",
            "src/physics/micromag/mesh.rs",
        ],
    ),
    ("table", &["src/stages/table.rs"]),
    (
        "test_samples",
        &[
            "src/stages/test_samples.rs",
            "src/stages/learn_common.rs",
            "src/stages/micromag_common.rs",
            "src/stages/structures.rs",
            "src/learn/kovacs/vae.rs",
            "src/learn/kovacs/vae_fit.rs",
            "src/learn/kovacs/regressor.rs",
            "src/learn/kovacs/regressor_fit.rs",
            "src/physics/micromag/grains.rs",
        ],
    ),
    (
        "vae_fit",
        &[
            "src/stages/vae_fit.rs",
            "src/stages/learn_common.rs",
            "src/stages/structures.rs",
            "src/learn/kovacs/vae.rs",
            "src/learn/kovacs/vae_fit.rs",
            "src/learn/train/mod.rs",
            "src/learn/train/nadam.rs",
            "src/learn/init/keras.rs",
            "src/learn/train/checkpoint.rs",
            "src/physics/micromag/grains.rs",
        ],
    ),
];

#[test]
fn derived_sets_cover_the_old_hand_written_lists() {
    let base = codes(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(base.len(), HAND_LISTS.len());
    let mut missing = Vec::new();
    for (kind, list) in HAND_LISTS {
        let have = files(&base[*kind]);
        missing.extend(
            list.iter()
                .filter(|f| !have.contains(**f))
                .map(|f| format!("{kind} ↔ {f}")),
        );
    }
    assert!(missing.is_empty(), "no longer covered: {missing:#?}");
}

#[test]
fn a_pure_move_keeps_every_fingerprint() {
    let tmp = copy_tree();
    let root = tmp.path();
    let base = codes(root);
    let from = root.join("src/physics/micromag/exchange.rs");
    let to: PathBuf = root.join("src/physics/micromag/terms/exchange.rs");
    fs::create_dir_all(to.parent().expect("dir")).expect("mkdir");
    fs::rename(&from, &to).expect("git mv");
    let mod_rs = root.join("src/physics/micromag/mod.rs");
    let text = fs::read_to_string(&mod_rs).expect("mod.rs");
    assert!(text.contains("pub mod exchange;"));
    fs::write(
        &mod_rs,
        text.replace(
            "pub mod exchange;",
            "#[path = \"terms/exchange.rs\"]\npub mod exchange;",
        ),
    )
    .expect("write");
    let after = codes(root);
    for (k, c) in &base {
        assert_eq!(after[k].fingerprint, c.fingerprint, "{k} changed by a move");
    }
    assert!(files(&after["morph"]).contains("src/physics/micromag/terms/exchange.rs"));
}

#[test]
fn a_lock_file_bump_moves_the_kinds_that_use_the_crate() {
    let tmp = copy_tree();
    let root = tmp.path();
    let base = codes(root);
    let lock_path = root.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path).expect("lock");
    let bump = |name: &str| {
        let at = lock.find(&format!("name = \"{name}\"\n")).expect("package");
        let sum = at + lock[at..].find("checksum = \"").expect("checksum") + 12;
        let other = if &lock[sum..=sum] == "0" { "1" } else { "0" };
        format!("{}{other}{}", &lock[..sum], &lock[sum + 1..])
    };
    fs::write(&lock_path, bump("burn-flex")).expect("write");
    let m = moved(&base, &codes(root));
    for k in ["vae_fit", "rollout_fit", "inverse_cnn_fit", "morph"] {
        assert!(m.contains(k), "burn-flex bump keeps {k}");
    }
    for k in ["cubic_grains", "table", "demag_curve"] {
        assert!(
            !m.contains(k),
            "burn-flex bump moves {k}, which trains nothing"
        );
    }
    fs::write(&lock_path, bump("rustfft")).expect("write");
    assert!(moved(&base, &codes(root)).contains("demag_curve"));
}
