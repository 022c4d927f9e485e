//! Exports the field maps and targets of a `prism_design` stage's `designs.json` as `.npy`
//! files for the PyTorch twin (`scripts/pollok_torch_twin.py`): exactly the designs, split,
//! field maps and targets that `inverse_cnn_fit` trains on.
//!
//! Run: `cargo run --release --example prism_fields_npy -- <designs.json> <resolution> <out_dir>`
//! (`designs.json` is in `results/<experiment>/designs/` after a run). Writes
//! `{train,validation,test}_{fields,targets}.npy`: fields `[n, 2, R, R]` in tesla, targets
//! `[n, 5]` (x, y, a, Mx, My normalised as in the paper's eq. 3).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mexp::io::npy::write_npy;
use mexp::stages::pollok_common::{DesignSet, batch};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [designs, resolution, out] => resolution
            .parse::<usize>()
            .ok()
            .map(|r| (PathBuf::from(designs), r, PathBuf::from(out))),
        _ => None,
    };
    let Some((designs, resolution, out)) = parsed else {
        eprintln!("usage: prism_fields_npy <designs.json> <resolution> <out_dir>");
        return ExitCode::FAILURE;
    };
    match export(&designs, resolution, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn export(
    designs: &Path,
    resolution: usize,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let set = DesignSet::load(designs)?;
    std::fs::create_dir_all(out)?;
    for (name, rows) in [
        ("train", &set.train),
        ("validation", &set.validation),
        ("test", &set.test),
    ] {
        let (fields, targets) = batch(&set, rows, resolution)?;
        write_npy(&out.join(format!("{name}_fields.npy")), &fields)?;
        write_npy(&out.join(format!("{name}_targets.npy")), &targets)?;
        println!("{name}: {} designs", rows.len());
    }
    Ok(())
}
