//! Times forward + backward passes of the learning models on the flex CPU backend.
//! Run: `cargo bench --bench learn_models` (prints the median of several runs per case).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use mexp::learn::kornell::ae3d::{Autoencoder3dConfig, reconstruction_loss};
use mexp::learn::kornell::rollout::{LatentPredictorConfig, RolloutWindows, recursive_loss};
use mexp::learn::nets::resnet::ResNetConfig;

/// Median wall time in milliseconds of `runs` calls of `step` (after one warm-up call).
fn median_ms(runs: usize, mut step: impl FnMut()) -> f64 {
    step();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let device = Device::flex().autodiff();
    device.seed(0);

    let autoencoder = Autoencoder3dConfig::default().init(&device);
    let states = Tensor::<5>::random([64, 3, 4, 4, 4], Distribution::Default, &device);
    let ms = median_ms(21, || {
        let loss = reconstruction_loss(
            autoencoder.forward(states.clone()),
            states.clone(),
            Default::default(),
        );
        drop(loss.backward());
    });
    println!("autoencoder (Table 1), batch 64, forward+backward: {ms:.2} ms");

    let predictor = LatentPredictorConfig::new(4)
        .init(&device)
        .expect("valid config");
    let windows = RolloutWindows {
        history: Tensor::random([64, 4, 16], Distribution::Default, &device),
        fields: Tensor::random([64, 7], Distribution::Default, &device),
        targets: Tensor::random([64, 7, 16], Distribution::Default, &device),
    };
    let weights = Tensor::<1>::ones([64], &device);
    let ms = median_ms(21, || {
        let loss = recursive_loss(&predictor, windows.clone(), weights.clone()).expect("shapes");
        drop(loss.backward());
    });
    println!("latent predictor t=4, l=7 rollout loss, batch 64, forward+backward: {ms:.2} ms");

    let resnet = ResNetConfig::resnet50(2, 5)
        .init(&device)
        .expect("valid config");
    let fields = Tensor::<4>::random([2, 2, 224, 224], Distribution::Default, &device);
    let ms = median_ms(3, || {
        let loss = resnet.forward(fields.clone()).square().mean();
        drop(loss.backward());
    });
    println!("ResNet-50 (2 in, 5 out), 2x224x224, batch 2, forward+backward: {ms:.0} ms");
}
