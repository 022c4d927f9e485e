//! k-fold cross-validation for choosing the number of training epochs (paper: four folds).

use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::train::shuffled;

/// One train/validation split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Indices used for training in this fold.
    pub train: Vec<usize>,
    /// Held-out indices of this fold.
    pub validation: Vec<usize>,
}

/// Shuffles `indices` once with `seed` and cuts them into `k` validation parts whose sizes
/// differ by at most one; fold i trains on the other k − 1 parts.
pub fn k_folds(indices: &[usize], k: usize, seed: u64) -> Result<Vec<Fold>, LearnError> {
    if k < 2 || k > indices.len() {
        return Err(LearnError::InvalidConfig(format!(
            "k-fold needs 2 <= k <= {} samples, got k = {k}",
            indices.len()
        )));
    }
    let order = shuffled(indices, seed, 0);
    let n = order.len();
    let bounds: Vec<usize> = (0..=k).map(|i| i * n / k).collect();
    Ok((0..k)
        .map(|i| {
            let (lo, hi) = (bounds[i], bounds[i + 1]);
            Fold {
                validation: order[lo..hi].to_vec(),
                train: order[..lo].iter().chain(&order[hi..]).copied().collect(),
            }
        })
        .collect())
}

/// Validation curves of all folds and the epoch count they suggest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvSummary {
    /// Validation loss per epoch, one curve per fold.
    pub fold_curves: Vec<Vec<f64>>,
    /// Mean over folds of the validation loss per epoch (epoch 1 first).
    pub mean_curve: Vec<f64>,
    /// 1-based epoch with the lowest mean validation loss (earliest on ties).
    pub best_epochs: usize,
    /// The mean validation loss at `best_epochs`.
    pub best_loss: f64,
}

/// Averages per-fold validation curves (equal length) and picks the best epoch count.
pub fn summarize(fold_curves: Vec<Vec<f64>>) -> Result<CvSummary, LearnError> {
    let epochs = fold_curves.first().map_or(0, Vec::len);
    if epochs == 0 || fold_curves.iter().any(|c| c.len() != epochs) {
        return Err(LearnError::InvalidConfig(
            "cross-validation curves must be non-empty and of equal length".into(),
        ));
    }
    let folds = fold_curves.len() as f64;
    let mean_curve: Vec<f64> = (0..epochs)
        .map(|e| fold_curves.iter().map(|c| c[e]).sum::<f64>() / folds)
        .collect();
    if let Some(e) = mean_curve.iter().position(|l| !l.is_finite()) {
        return Err(LearnError::NonFinite(format!(
            "cross-validation mean loss is {} at epoch {}",
            mean_curve[e],
            e + 1
        )));
    }
    let (best_index, best_loss) =
        mean_curve
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |(bi, bl), (i, l)| {
                    if l < bl { (i, l) } else { (bi, bl) }
                },
            );
    if !best_loss.is_finite() {
        return Err(LearnError::InvalidConfig(
            "cross-validation produced no finite validation loss".into(),
        ));
    }
    Ok(CvSummary {
        fold_curves,
        mean_curve,
        best_epochs: best_index + 1,
        best_loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_epoch_of_the_mean_curve_is_an_error_not_skipped() {
        let curves = vec![vec![1.0, f64::NAN, 0.5], vec![1.0, 0.9, 0.6]];
        match summarize(curves) {
            Err(LearnError::NonFinite(m)) => assert!(m.contains("epoch 2"), "{m}"),
            other => panic!("expected a non-finite error, got {other:?}"),
        }
    }

    #[test]
    fn folds_partition_the_indices() {
        let indices: Vec<usize> = (100..110).collect();
        let folds = k_folds(&indices, 4, 9).expect("4 folds of 10");
        assert_eq!(folds.len(), 4);
        let mut held_out: Vec<usize> = folds.iter().flat_map(|f| f.validation.clone()).collect();
        held_out.sort_unstable();
        assert_eq!(held_out, indices);
        let sizes: Vec<usize> = folds.iter().map(|f| f.validation.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 10);
        assert!(sizes.iter().all(|&s| s == 2 || s == 3));
        for fold in &folds {
            assert_eq!(fold.train.len() + fold.validation.len(), 10);
            assert!(fold.train.iter().all(|i| !fold.validation.contains(i)));
        }
        assert_eq!(folds, k_folds(&indices, 4, 9).expect("same seed"));
        assert!(k_folds(&indices, 1, 0).is_err());
        assert!(k_folds(&indices, 11, 0).is_err());
    }

    #[test]
    fn summary_averages_and_picks_the_minimum() {
        let summary = summarize(vec![vec![4.0, 2.0, 3.0], vec![2.0, 2.0, 1.0]]).expect("curves");
        assert_eq!(summary.mean_curve, vec![3.0, 2.0, 2.0]);
        assert_eq!(summary.best_epochs, 2);
        assert_eq!(summary.best_loss, 2.0);
        assert!(summarize(vec![vec![1.0], vec![1.0, 2.0]]).is_err());
        assert!(summarize(Vec::new()).is_err());
    }
}
