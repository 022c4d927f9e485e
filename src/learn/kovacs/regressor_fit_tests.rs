//! Regressor training tests on a synthetic multi-target problem.

use super::*;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIM: usize = 8;

/// 96 random latents; six targets on very different scales (like M in Ms and H in A/m).
fn problem() -> (Array2<f32>, Array2<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Array2::from_shape_fn((96, DIM), |_| rng.random_range(-1.0f32..1.0));
    let scales = [1.0f32, 0.1, 1e3, 2e3, 5e3, 1e4];
    let offsets = [0.0f32, 0.9, 1e4, 2e4, 3e4, 5e4];
    let y = Array2::from_shape_fn((96, 6), |(i, t)| {
        let row = x.row(i);
        let signal = row[t % DIM] + 0.5 * row[(t + 3) % DIM] * row[(t + 5) % DIM];
        offsets[t] + scales[t] * signal
    });
    (x, y)
}

fn config(epochs: usize) -> RegressorFitConfig {
    RegressorFitConfig {
        model: RegressorConfig {
            input_dim: DIM,
            targets: 6,
        },
        schedule: LoopConfig {
            epochs,
            batch_size: 16,
            learning_rate: 1e-3,
            seed: 8,
        },
        nadam: NadamConfig::default(),
        checkpoint: None,
    }
}

#[test]
fn fit_predict_save_load() {
    let device = Device::flex();
    let (x, y) = problem();
    let train: Vec<usize> = (0..80).collect();
    let validation: Vec<usize> = (80..96).collect();
    let (model, history) = fit_regressor(
        &device,
        &config(25),
        x.view(),
        y.view(),
        &train,
        &validation,
        None,
        &mut |_| {},
    )
    .expect("training");
    let (first, last) = (&history[0], &history[24]);
    assert!(
        last.train_loss < 0.3 * first.train_loss,
        "{} -> {}",
        first.train_loss,
        last.train_loss
    );
    assert!(last.val_loss.expect("val") < first.val_loss.expect("val"));

    // Predictions come back in target units: the per-target error relative to the target
    // spread must be far below 1 (the spread itself).
    let predictions = model.predict(x.view()).expect("predict");
    assert_eq!(predictions.dim(), (96, 6));
    let scaled_pred = model
        .standardizer
        .transform(predictions.view())
        .expect("scale");
    let scaled_true = model.standardizer.transform(y.view()).expect("scale");
    let rms = ((&scaled_pred - &scaled_true).mapv(|d| d * d).sum() / (96.0 * 6.0)).sqrt();
    assert!(rms < 0.6, "scaled rms {rms}");
    let mean_pred_m1 = predictions.column(1).mean().expect("rows");
    assert!((mean_pred_m1 - 0.9).abs() < 0.05, "{mean_pred_m1}");

    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let loaded = TrainedRegressor::load(dir.path(), &device).expect("load");
    assert_eq!(loaded.standardizer, model.standardizer);
    assert_eq!(loaded.predict(x.view()).expect("predict"), predictions);
}

#[test]
fn four_fold_cross_validation_picks_an_epoch_count() {
    let device = Device::flex();
    let (x, y) = problem();
    let rows: Vec<usize> = (0..64).collect();
    let mut seen = Vec::new();
    let summary = cross_validate_regressor(
        &device,
        &config(4),
        x.view(),
        y.view(),
        &rows,
        4,
        None,
        &mut |fold, record| seen.push((fold, record.epoch)),
    )
    .expect("cross-validation");
    assert_eq!(summary.fold_curves.len(), 4);
    assert!(summary.fold_curves.iter().all(|c| c.len() == 4));
    assert_eq!(seen.len(), 16);
    assert_eq!(seen[5], (1, 2));
    for e in 0..4 {
        let mean = summary.fold_curves.iter().map(|c| c[e]).sum::<f64>() / 4.0;
        assert!((summary.mean_curve[e] - mean).abs() < 1e-12);
    }
    let best = summary.mean_curve[summary.best_epochs - 1];
    assert!(summary.mean_curve.iter().all(|&l| l >= best));
    assert!(summary.mean_curve[3] < summary.mean_curve[0]);
}

#[test]
fn input_shape_errors() {
    let device = Device::flex();
    let (x, y) = problem();
    let bad = config(1);
    let narrow = x.slice(ndarray::s![.., ..4]);
    let result = fit_regressor(
        &device,
        &bad,
        narrow,
        y.view(),
        &[0, 1],
        &[],
        None,
        &mut |_| {},
    );
    assert!(matches!(result, Err(LearnError::Shape(_))));
    let result = fit_regressor(
        &device,
        &bad,
        x.view(),
        y.view(),
        &[0, 500],
        &[],
        None,
        &mut |_| {},
    );
    assert!(matches!(result, Err(LearnError::Shape(_))));
}
