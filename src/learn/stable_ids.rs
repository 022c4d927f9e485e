//! Reproducible model files. burn writes into every saved `.bpk` a parameter id per tensor (the
//! weights' and BatchNorm running statistics'), drawn from an unseeded random generator, so two
//! identical trainings would save files that differ in those bytes alone. Models saved as stage
//! outputs are rewritten with each tensor's id set to its rank in name order, which keeps
//! same manifest + same seed → bitwise-identical artifacts. Loading goes by name, not by id.

use std::path::Path;

use burn::module::Module;
use burn_pack::{Bytes, Reader, Writer};
use serde::Serialize;

use crate::learn::error::LearnError;
use crate::learn::train::checkpoint::write_json_atomic;

/// Writes a model directory output: `model` as the burnpack `model_file` (stable ids) and
/// `side` (architecture, scaling, …) as the JSON `side_file`, both inside `dir`.
pub fn save_model_dir<M: Module, S: Serialize>(
    dir: &Path,
    model_file: &str,
    model: M,
    side_file: &str,
    side: &S,
) -> Result<(), LearnError> {
    std::fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
    save_reproducible(model, &dir.join(model_file))?;
    write_json_atomic(&dir.join(side_file), side)
}

/// Saves `module` to the burnpack file `path` (which should end in `.bpk`) with stable tensor ids.
pub fn save_reproducible<M: Module>(module: M, path: &Path) -> Result<(), LearnError> {
    module
        .save_file(path)
        .map_err(|e| LearnError::record(path, e))?;
    renumber_ids(path).map_err(|e| LearnError::record(path, e))
}

/// Rewrites a burnpack file with tensor ids 0, 1, 2, … in name order; metadata is kept.
fn renumber_ids(path: &Path) -> Result<(), burn_pack::Error> {
    let bytes = std::fs::read(path).map_err(|e| burn_pack::Error::IoError(e.to_string()))?;
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes))?;
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let mut tensors = reader.into_tensors()?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    for (i, t) in tensors.iter_mut().enumerate() {
        t.param_id = Some(i as u64);
    }
    let mut writer = Writer::new(tensors).auto_extension(false).overwrite(true);
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    for (k, v) in scalars {
        writer = writer.with_scalar(&k, v);
    }
    writer.write_to_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNormConfig, LinearConfig};
    use burn::prelude::*;

    #[derive(Module, Debug)]
    struct Net {
        linear: burn::nn::Linear,
        norm: burn::nn::BatchNorm,
    }

    #[test]
    fn two_identical_models_save_identical_bytes_and_load_back() {
        let _guard = crate::learn::test_support::rng_lock();
        let dev = Device::flex();
        let dir = tempfile::tempdir().expect("tempdir");
        let build = || {
            dev.seed(7);
            let net = Net {
                linear: LinearConfig::new(3, 2).init(&dev),
                norm: BatchNormConfig::new(2).init(&dev),
            };
            // Parameters initialise lazily: draw them now, right after seeding.
            let _ = net.linear.weight.val();
            let _ = net.linear.bias.as_ref().map(|b| b.val());
            net
        };
        let (a, b) = (build(), build());
        // burn's own ids differ between the two (this is what the rewrite is for).
        assert_ne!(a.linear.weight.id, b.linear.weight.id);
        let weight = a.linear.weight.val().into_data();
        let pa = dir.path().join("a.bpk");
        let pb = dir.path().join("b.bpk");
        save_reproducible(a, &pa).expect("save a");
        save_reproducible(b, &pb).expect("save b");
        assert_eq!(
            std::fs::read(&pa).expect("a"),
            std::fs::read(&pb).expect("b")
        );
        let loaded = build().try_load_file(&pa).expect("load");
        assert_eq!(loaded.linear.weight.val().into_data(), weight);
    }
}
