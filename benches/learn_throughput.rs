//! Training throughput of the Kovacs models on the flex CPU backend.
//!
//! VAE (Table 1, 160×160, latent 512): images/s for full train steps (forward, backward,
//! Nadam) at batch 64. Regressor (Table 2, 512 → 6): samples/s at batch 16.
//! Median of several timed steps after warm-up. Compare with `benches/torch_vae.py`.
//!
//! Run: `cargo bench --bench learn_throughput` (env `MEXP_BENCH_THREADS` pins the thread count;
//! `MEXP_BENCH_MALLOC=default` skips [`retain_freed_memory`] to measure glibc's defaults).

use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use mexp::learn::backend::{BackendChoice, LearnRuntime, retain_freed_memory};
use mexp::learn::kovacs::regressor::{Regressor, RegressorConfig};
use mexp::learn::kovacs::vae::{Vae, VaeConfig};
use mexp::learn::kovacs::vae_fit::standard_normal;
use mexp::learn::train::nadam::NadamConfig;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn vae_step(
    model: Vae,
    optim: &mut ModuleOptimizer,
    images: &Tensor<4>,
    noise: &Tensor<2>,
) -> (Vae, f32) {
    let terms = model.forward_loss(images.clone(), noise.clone(), 1.0);
    let loss = terms.total.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(terms.total.backward(), &model);
    (optim.step(1e-4, model, grads), loss)
}

fn bench_vae(device: &Device) {
    let batch = 64;
    let config = VaeConfig::default();
    let side = config.input_size;
    let train = device.clone().autodiff();
    let mut model = config.init(&train, 1).expect("paper VAE");
    let mut optim = NadamConfig::default().init();
    let pixels: Vec<f32> = (0..batch * side * side)
        .map(|i| ((i % 977) as f32 * 0.013).sin())
        .collect();
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [batch, 1, side, side]), &train);
    let noise = Tensor::<2>::from_data(
        TensorData::new(
            standard_normal(2, batch * config.latent_dim),
            [batch, config.latent_dim],
        ),
        &train,
    );
    let mut loss = 0.0;
    for _ in 0..2 {
        (model, loss) = vae_step(model, &mut optim, &images, &noise);
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        (model, loss) = vae_step(model, &mut optim, &images, &noise);
        times.push(start.elapsed().as_secs_f64());
    }
    let t = median(times);
    println!(
        "vae_train  160x160 batch {batch}: {:.3} s/step, {:.1} images/s (loss {loss:.4})",
        t,
        batch as f64 / t
    );
}

fn regressor_step(
    model: Regressor,
    optim: &mut ModuleOptimizer,
    x: &Tensor<2>,
    y: &Tensor<2>,
) -> Regressor {
    let loss = model.forward_loss(x.clone(), y.clone());
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(1e-4, model, grads)
}

fn bench_regressor(device: &Device) {
    let batch = 16;
    let config = RegressorConfig::default();
    let train = device.clone().autodiff();
    let mut model = config.init(&train, 1).expect("paper regressor");
    let mut optim = NadamConfig::default().init();
    let x = Tensor::<2>::from_data(
        TensorData::new(
            standard_normal(3, batch * config.input_dim),
            [batch, config.input_dim],
        ),
        &train,
    );
    let y = Tensor::<2>::from_data(
        TensorData::new(
            standard_normal(4, batch * config.targets),
            [batch, config.targets],
        ),
        &train,
    );
    for _ in 0..5 {
        model = regressor_step(model, &mut optim, &x, &y);
    }
    let steps = 50;
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..steps {
            model = regressor_step(model, &mut optim, &x, &y);
        }
        // Force completion (flex is synchronous; this also keeps the model alive).
        let _ = model.forward(x.clone()).into_data();
        times.push(start.elapsed().as_secs_f64() / steps as f64);
    }
    let t = median(times);
    println!(
        "regressor_train 512->6 batch {batch}: {:.2} ms/step, {:.0} samples/s",
        t * 1e3,
        batch as f64 / t
    );
}

fn main() {
    let threads = std::env::var("MEXP_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    let tuned =
        std::env::var("MEXP_BENCH_MALLOC").as_deref() != Ok("default") && retain_freed_memory();
    let runtime = LearnRuntime::new(BackendChoice::Flex, threads, 0).expect("flex runtime");
    println!(
        "backend flex, {} threads, malloc retains freed memory: {tuned}",
        runtime.threads()
    );
    runtime.install(|| {
        bench_regressor(&runtime.device);
        bench_vae(&runtime.device);
    });
}
