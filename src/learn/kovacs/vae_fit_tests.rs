//! VAE training tests on 32×32 stripe images.

use super::*;
use crate::learn::backend::{BackendChoice, LearnRuntime};
use ndarray::Array3;

const SIDE: usize = 32;

/// Sample i: cos(k·r + φ) stripes with an index-dependent wave vector and phase, in [−1, 1].
fn stripes(indices: &[usize]) -> Result<Array3<f32>, LearnError> {
    Ok(Array3::from_shape_fn(
        (indices.len(), SIDE, SIDE),
        |(b, r, c)| {
            let i = indices[b] as f32;
            let angle = 0.7 * i;
            let k = 0.25 + 0.05 * (i % 5.0);
            let phase = 0.3 * i;
            (k * (angle.cos() * r as f32 + angle.sin() * c as f32) + phase).cos()
        },
    ))
}

fn small_config(epochs: usize) -> VaeFitConfig {
    VaeFitConfig {
        model: VaeConfig {
            input_size: SIDE,
            latent_dim: 8,
            kl_weight: 1.0,
        },
        schedule: LoopConfig {
            epochs,
            batch_size: 8,
            learning_rate: 1e-3,
            seed: 21,
        },
        nadam: NadamConfig::default(),
        checkpoint: None,
    }
}

fn fit(epochs: usize) -> (TrainedVae, Vec<EpochRecord>) {
    let device = Device::flex();
    let train: Vec<usize> = (0..32).collect();
    let validation: Vec<usize> = (32..40).collect();
    fit_vae(
        &device,
        &small_config(epochs),
        &train,
        &validation,
        stripes,
        None,
        &mut |_| {},
    )
    .expect("VAE training")
}

#[test]
fn short_training_reduces_the_loss() {
    let (_, history) = fit(8);
    let first = &history[0];
    let last = &history[7];
    // The stripes have variance 1/2, so the untrained reconstruction error is ≈ 0.5.
    assert!(
        (first.train_loss - 0.5).abs() < 0.05,
        "{}",
        first.train_loss
    );
    assert!(
        last.train_loss < 0.8 * first.train_loss,
        "{} -> {}",
        first.train_loss,
        last.train_loss
    );
    let part = |r: &EpochRecord, name: &str| {
        r.train_parts
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
            .expect("loss part recorded")
    };
    // total = reconstruction + kl / P (β = 1).
    let p = (SIDE * SIDE) as f64;
    let recombined = part(last, "reconstruction") + part(last, "kl") / p;
    assert!((recombined - last.train_loss).abs() < 1e-5 * last.train_loss.max(1.0));
    assert!(last.val_loss.is_some_and(f64::is_finite));
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let runtime = LearnRuntime::new(BackendChoice::Flex, Some(2), 0).expect("runtime");
    let (a, ha) = runtime.install(|| fit(2));
    let (b, hb) = runtime.install(|| fit(2));
    let losses = |h: &[EpochRecord]| -> Vec<(f64, Option<f64>)> {
        h.iter().map(|r| (r.train_loss, r.val_loss)).collect()
    };
    assert_eq!(losses(&ha), losses(&hb));
    let images = stripes(&[40, 41, 42]).expect("images");
    assert_eq!(
        a.encode(images.view(), 2).expect("encode a"),
        b.encode(images.view(), 2).expect("encode b")
    );
}

#[test]
fn encode_decode_save_load() {
    let (vae, _) = fit(1);
    let images = stripes(&[0, 1, 2, 3, 4]).expect("images");
    let codes = vae.encode(images.view(), 2).expect("encode");
    assert_eq!(codes.dim(), (5, 8));
    // Same batch shapes as above: gemm may round differently for another batch size.
    let streamed = vae.encode_streamed(5, 2, stripes).expect("streamed");
    assert_eq!(streamed, codes);
    let decoded = vae.decode(codes.view()).expect("decode");
    assert_eq!(decoded.dim(), (5, SIDE, SIDE));
    assert!(decoded.iter().all(|v| v.abs() <= 1.0));

    let dir = tempfile::tempdir().expect("tempdir");
    vae.save(dir.path()).expect("save");
    let loaded = TrainedVae::load(dir.path(), &Device::flex()).expect("load");
    assert_eq!(loaded.config, vae.config);
    assert_eq!(
        loaded.encode(images.view(), 2).expect("encode loaded"),
        codes
    );
    assert!(vae.decode(Array2::zeros((1, 3)).view()).is_err());
}

#[test]
fn loader_shape_errors_are_reported() {
    let device = Device::flex();
    let train: Vec<usize> = (0..8).collect();
    let wrong = |idx: &[usize]| Ok(Array3::<f32>::zeros((idx.len(), 16, 16)));
    let result = fit_vae(
        &device,
        &small_config(1),
        &train,
        &[],
        wrong,
        None,
        &mut |_| {},
    );
    assert!(matches!(result, Err(LearnError::Shape(_))));
}

#[test]
fn normal_noise_has_unit_moments_and_is_seeded() {
    let a = standard_normal(5, 20_000);
    assert_eq!(a, standard_normal(5, 20_000));
    assert_ne!(a[..10], standard_normal(6, 10)[..]);
    let n = a.len() as f64;
    let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = a
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    // Standard errors: mean 0.007, variance 0.01.
    assert!(mean.abs() < 0.03, "mean {mean}");
    assert!((var - 1.0).abs() < 0.05, "var {var}");
    assert_eq!(standard_normal(1, 7).len(), 7);
}

#[test]
fn training_is_independent_of_thread_count() {
    // 64×64 so that flex's conv and matmul kernels take their parallel paths.
    let images = |idx: &[usize]| -> Result<Array3<f32>, LearnError> {
        Ok(Array3::from_shape_fn((idx.len(), 64, 64), |(b, r, c)| {
            (idx[b] as f32 * 0.3 + r as f32 * 0.11 + c as f32 * 0.07).sin()
        }))
    };
    let config = VaeFitConfig {
        model: VaeConfig {
            input_size: 64,
            latent_dim: 32,
            kl_weight: 1.0,
        },
        schedule: LoopConfig {
            epochs: 1,
            batch_size: 16,
            learning_rate: 1e-3,
            seed: 1,
        },
        nadam: NadamConfig::default(),
        checkpoint: None,
    };
    let train: Vec<usize> = (0..32).collect();
    let run = |threads| {
        let runtime = LearnRuntime::new(BackendChoice::Flex, Some(threads), 0).expect("runtime");
        runtime.install(|| {
            let (vae, history) = fit_vae(
                &Device::flex(),
                &config,
                &train,
                &[],
                images,
                None,
                &mut |_| {},
            )
            .expect("fit");
            let batch = images(&[0, 1, 2]).expect("images");
            (
                history[0].train_loss,
                vae.encode(batch.view(), 3).expect("encode"),
            )
        })
    };
    let (loss_1, codes_1) = run(1);
    let (loss_3, codes_3) = run(3);
    assert_eq!(loss_1.to_bits(), loss_3.to_bits());
    assert_eq!(codes_1, codes_3);
}

#[test]
fn a_set_cancel_flag_stops_vae_training_before_its_first_epoch() {
    let cancel = AtomicBool::new(true);
    let train: Vec<usize> = (0..32).collect();
    let mut epochs_seen = 0;
    let result = fit_vae(
        &Device::flex(),
        &small_config(3),
        &train,
        &[],
        stripes,
        Some(&cancel),
        &mut |_| epochs_seen += 1,
    );
    assert!(
        matches!(result, Err(LearnError::Cancelled { epoch: 1 })),
        "{:?}",
        result.err()
    );
    assert_eq!(epochs_seen, 0);
}
