//! Training throughput of the Pollok et al. inverse-design CNNs on the flex CPU backend.
//!
//! Images/s of full SGD steps (forward, RMSE loss, backward, momentum SGD with weight decay)
//! measured through `fit_inverse_cnn` itself: each epoch is a fixed number of minibatches of a
//! synthetic two-channel field map, no validation split; the figure is the batch count times
//! the batch size over the median epoch time, after one warm-up epoch.
//!
//! Run: `cargo bench --bench inverse_cnn` (env `MEXP_BENCH_THREADS` pins the thread count;
//! `MEXP_BENCH_MALLOC=default` keeps glibc's allocator defaults). PyTorch peer, same table:
//! `benches/torch_resnet.py` (it times single steps, this bench whole epochs of one or two
//! steps, so the small per-epoch overhead counts against mexp).

use mexp::learn::LearnError;
use mexp::learn::backend::{BackendChoice, LearnRuntime, retain_freed_memory};
use mexp::learn::pollok::cnn::{Architecture, DESIGN_PARAMETERS, FIELD_CHANNELS};
use mexp::learn::pollok::fit::{InverseFitConfig, Split, fit_inverse_cnn};
use ndarray::{Array2, Array4};

/// One benchmark case.
struct Case {
    arch: Architecture,
    side: usize,
    batch: usize,
    batches_per_epoch: usize,
}

/// Timed epochs per case (plus one warm-up epoch).
const TIMED_EPOCHS: usize = 3;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn run(case: &Case, runtime: &LearnRuntime) {
    let Case {
        arch,
        side,
        batch,
        batches_per_epoch,
    } = *case;
    let fields = Array4::from_shape_fn((batch, FIELD_CHANNELS, side, side), |(b, c, y, x)| {
        (((b * 7 + c * 13 + y * 31 + x * 17) % 97) as f32 * 0.021).sin()
    });
    let targets = Array2::from_shape_fn((batch, DESIGN_PARAMETERS), |(b, t)| {
        ((b + 3 * t) % 11) as f32 / 11.0
    });
    let mut loader = |_: Split, indices: &[usize]| -> Result<_, LearnError> {
        assert_eq!(indices.len(), batch, "n_train is a multiple of the batch");
        Ok((fields.clone(), targets.clone()))
    };
    let config = InverseFitConfig {
        arch,
        epochs: 1 + TIMED_EPOCHS,
        batch_size: batch,
        // lower than the paper's 0.1 so that the synthetic batch cannot diverge
        learning_rate: 0.01,
        ..InverseFitConfig::paper(arch)
    };
    let mut seconds = Vec::new();
    fit_inverse_cnn(
        &runtime.device,
        &config,
        batch * batches_per_epoch,
        0,
        None,
        &mut loader,
        None,
        &mut |record| seconds.push(record.seconds),
    )
    .expect("benchmark training");
    let epoch = median(seconds[1..].to_vec());
    let images = (batch * batches_per_epoch) as f64;
    println!(
        "{:<9} {side:>3}x{side:<3} batch {batch:>2}: {:>6.3} s/step, {:>7.2} images/s",
        arch.name(),
        epoch / batches_per_epoch as f64,
        images / epoch
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
    let cases = [
        Case {
            arch: Architecture::ResNet18,
            side: 64,
            batch: 32,
            batches_per_epoch: 2,
        },
        Case {
            arch: Architecture::ResNet50,
            side: 64,
            batch: 32,
            batches_per_epoch: 1,
        },
        Case {
            arch: Architecture::ResNet18,
            side: 224,
            batch: 16,
            batches_per_epoch: 1,
        },
        Case {
            arch: Architecture::ResNet50,
            side: 224,
            batch: 8,
            batches_per_epoch: 1,
        },
    ];
    runtime.install(|| {
        for case in &cases {
            run(case, &runtime);
        }
    });
}
