//! Seeded hold-out split ("20 % of the training samples are used for validation").
//!
//! Sizes follow Keras's `validation_split`: ⌊n·(1 − f)⌋ training rows, the rest validation.
//! Unlike Keras, which holds out the *last* rows unshuffled, the held-out rows are drawn at
//! random from a ChaCha8 stream seeded with the run seed.

use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::train::{derive_seed, shuffled};

/// Purpose tag separating the split stream from the per-epoch shuffles.
const SPLIT_TAG: u64 = 0x0053_504C_4954;

/// Rows for training and validation, each in increasing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSplit {
    /// Rows used for the parameter updates.
    pub train: Vec<usize>,
    /// Held-out rows.
    pub validation: Vec<usize>,
}

/// Holds out the fraction `validation_fraction` ∈ [0, 1) of `rows` at random (seeded).
pub fn split_validation(
    rows: &[usize],
    validation_fraction: f64,
    seed: u64,
) -> Result<RowSplit, LearnError> {
    if !(0.0..1.0).contains(&validation_fraction) {
        return Err(LearnError::InvalidConfig(format!(
            "validation fraction must be in [0, 1), got {validation_fraction}"
        )));
    }
    let n_train = (rows.len() as f64 * (1.0 - validation_fraction)).floor() as usize;
    if n_train == 0 {
        return Err(LearnError::InvalidConfig(format!(
            "holding out {validation_fraction} of {} rows leaves none for training",
            rows.len()
        )));
    }
    let order = shuffled(rows, derive_seed(seed, &[SPLIT_TAG]), 0);
    let mut train = order[..n_train].to_vec();
    let mut validation = order[n_train..].to_vec();
    train.sort_unstable();
    validation.sort_unstable();
    Ok(RowSplit { train, validation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_sizes_disjoint_seeded() {
        let rows: Vec<usize> = (100..150).collect();
        let split = split_validation(&rows, 0.2, 7).expect("split");
        assert_eq!((split.train.len(), split.validation.len()), (40, 10));
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.validation)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, rows);
        assert_eq!(split, split_validation(&rows, 0.2, 7).expect("split"));
        assert_ne!(split, split_validation(&rows, 0.2, 8).expect("split"));
        // not simply the last rows
        assert_ne!(split.validation, (140..150).collect::<Vec<_>>());
        // 9000 · 0.8 = 7200 exactly; 7 · 0.8 = 5.6 → 5 (floor, as Keras)
        let big: Vec<usize> = (0..9000).collect();
        assert_eq!(
            split_validation(&big, 0.2, 1).expect("split").train.len(),
            7200
        );
        let small: Vec<usize> = (0..7).collect();
        assert_eq!(
            split_validation(&small, 0.2, 1).expect("split").train.len(),
            5
        );
        assert!(split_validation(&rows, 1.0, 1).is_err());
        assert!(split_validation(&[3], 0.5, 1).is_err());
        let none = split_validation(&rows, 0.0, 1).expect("split");
        assert!(none.validation.is_empty());
    }
}
