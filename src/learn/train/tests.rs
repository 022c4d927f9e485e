//! Tests of the generic epoch loop on a tiny MLP.

use super::*;
use crate::learn::backend::{BackendChoice, LearnRuntime};
use crate::learn::init::keras::keras_init;
use crate::learn::train::checkpoint::CheckpointConfig;
use crate::learn::train::nadam::NadamConfig;
use crate::learn::train::policy::Policies;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::TensorData;
use burn::tensor::activation::elu;
use rand::Rng;

#[derive(Module, Debug)]
struct Tiny {
    hidden: Linear,
    out: Linear,
}

impl Tiny {
    fn new(device: &Device, seed: u64) -> Self {
        keras_init(
            Tiny {
                hidden: LinearConfig::new(3, 16).init(device),
                out: LinearConfig::new(16, 1).init(device),
            },
            seed,
        )
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(elu(self.hidden.forward(x), 1.0))
    }

    fn weights(&self) -> Vec<f32> {
        let mut all = self
            .hidden
            .weight
            .val()
            .try_into_vec_as::<f32>()
            .expect("read");
        all.extend(
            self.out
                .weight
                .val()
                .try_into_vec_as::<f32>()
                .expect("read"),
        );
        all
    }
}

/// y = x0·x1 + sin(x2) on 64 random points; `poison` makes the loss NaN from that epoch on.
struct TinyTask {
    x: Vec<[f32; 3]>,
    y: Vec<f32>,
    poison_from_epoch: Option<usize>,
    /// Poison only the validation batches (the training loss stays finite).
    poison_validation: bool,
    /// At this (epoch, batch), add a term whose value is 0 but whose gradient is NaN.
    nan_gradient_at: Option<(usize, usize)>,
}

impl TinyTask {
    fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let x: Vec<[f32; 3]> = (0..64)
            .map(|_| {
                [
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-2.0..2.0),
                ]
            })
            .collect();
        let y = x.iter().map(|p| p[0] * p[1] + p[2].sin()).collect();
        Self {
            x,
            y,
            poison_from_epoch: None,
            poison_validation: false,
            nan_gradient_at: None,
        }
    }
}

impl TrainTask for TinyTask {
    type Model = Tiny;
    type Batch = (Vec<f32>, Vec<f32>);

    fn load(&mut self, indices: &[usize]) -> Result<Self::Batch, LearnError> {
        Ok((
            indices.iter().flat_map(|&i| self.x[i]).collect(),
            indices.iter().map(|&i| self.y[i]).collect(),
        ))
    }

    fn loss(
        &mut self,
        model: &Tiny,
        batch: Self::Batch,
        device: &Device,
        ctx: StepContext,
    ) -> BatchLoss {
        let (x, mut y) = batch;
        if self.poison_from_epoch.is_some_and(|e| ctx.epoch >= e) {
            y[0] = f32::NAN;
        }
        if self.poison_validation && ctx.validation {
            y[0] = f32::NAN;
        }
        let n = y.len();
        let x = Tensor::<2>::from_data(TensorData::new(x, [n, 3]), device);
        let y = Tensor::<2>::from_data(TensorData::new(y, [n, 1]), device);
        let pred = model.forward(x);
        let mut total = (pred.clone() - y).square().mean();
        if self.nan_gradient_at == Some((ctx.epoch, ctx.batch)) && !ctx.validation {
            // sqrt(0·pred) is 0, its gradient ∞·0 = NaN: a finite loss that poisons the weights.
            total = total + pred.mul_scalar(0.0).sum().sqrt();
        }
        BatchLoss {
            total,
            parts: Vec::new(),
            tracked: None,
        }
    }
}

fn loop_config(epochs: usize) -> LoopConfig {
    LoopConfig {
        epochs,
        batch_size: 10,
        learning_rate: 0.01,
        seed: 5,
    }
}

fn train_tiny(
    epochs: usize,
    checkpoint: Option<&CheckpointConfig>,
    task: &mut TinyTask,
) -> Result<TrainOutcome<Tiny>, LearnError> {
    let device = Device::flex();
    let train: Vec<usize> = (0..48).collect();
    let validation: Vec<usize> = (48..64).collect();
    let config = loop_config(epochs);
    let spec = RunSpec {
        device: &device,
        config: &config,
        train: &train,
        validation: &validation,
        checkpoint,
        fingerprint: "tiny-v1",
        cancel: None,
    };
    let model = Tiny::new(&device.clone().autodiff(), 3);
    run_epochs(
        task,
        model,
        NadamConfig::default().init(),
        &spec,
        &Policies::default(),
        &mut |_| {},
    )
}

fn losses(history: &[Epoch]) -> Vec<(f64, Option<f64>)> {
    history
        .iter()
        .map(|e| (e.record.train_loss, e.record.val_loss))
        .collect()
}

#[test]
fn shuffles_are_seeded_permutations() {
    let indices: Vec<usize> = (0..50).collect();
    let a = shuffled(&indices, 1, 1);
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, indices);
    assert_eq!(a, shuffled(&indices, 1, 1));
    assert_ne!(a, shuffled(&indices, 1, 2));
    assert_ne!(a, shuffled(&indices, 2, 1));
    let sizes: Vec<usize> = minibatches(&a, 16).map(<[usize]>::len).collect();
    assert_eq!(sizes, vec![16, 16, 16, 2]);
}

#[test]
fn short_training_reduces_loss() {
    let outcome = train_tiny(15, None, &mut TinyTask::new()).expect("training");
    let h = &outcome.records();
    assert_eq!(h.len(), 15);
    assert_eq!(h[14].optimizer_steps, 15 * 5);
    assert!(
        h[14].train_loss < 0.5 * h[0].train_loss,
        "{:?}",
        losses(&outcome.history)
    );
    let (first_val, last_val) = (h[0].val_loss.expect("val"), h[14].val_loss.expect("val"));
    assert!(last_val < first_val, "{first_val} -> {last_val}");
}

#[test]
fn same_seed_gives_bitwise_identical_losses() {
    let runtime = LearnRuntime::new(BackendChoice::Flex, Some(2), 0).expect("runtime");
    let run = || runtime.install(|| train_tiny(4, None, &mut TinyTask::new()).expect("training"));
    let (a, b) = (run(), run());
    assert_eq!(losses(&a.history), losses(&b.history));
    assert_eq!(a.model.weights(), b.model.weights());
}

#[test]
fn resumed_run_matches_uninterrupted_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = CheckpointConfig {
        dir: dir.path().join("ck"),
        every_epochs: 2,
        resume: true,
    };
    let straight = train_tiny(6, None, &mut TinyTask::new()).expect("straight run");
    // "Interrupted" after epoch 3 (checkpoint written because it is the last epoch).
    let first = train_tiny(3, Some(&ck), &mut TinyTask::new()).expect("first leg");
    assert_eq!(first.history.len(), 3);
    let resumed = train_tiny(6, Some(&ck), &mut TinyTask::new()).expect("second leg");
    assert_eq!(losses(&resumed.history), losses(&straight.history));
    assert_eq!(resumed.model.weights(), straight.model.weights());
    assert_eq!(resumed.history[5].record.optimizer_steps, 30);
    // Only the newest checkpoint is kept.
    let meta = checkpoint::latest(&ck.dir).expect("read").expect("exists");
    assert_eq!(meta.epoch, 6);
    let files = std::fs::read_dir(&ck.dir).expect("dir").count();
    assert_eq!(files, 3);
}

/// A checkpoint of another configuration, or one whose side file is garbage, is debris in a
/// resume folder keyed by the stage: it is discarded and training starts from scratch (the
/// result equals a run without any checkpoint), instead of failing on every run.
#[test]
fn foreign_or_garbage_checkpoints_are_discarded_and_training_starts_over() {
    let straight = train_tiny(2, None, &mut TinyTask::new()).expect("straight");
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = CheckpointConfig {
        dir: dir.path().to_path_buf(),
        every_epochs: 1,
        resume: true,
    };
    // A foreign checkpoint: epoch 1 written under another configuration's fingerprint.
    train_tiny(1, Some(&ck), &mut TinyTask::new()).expect("first run");
    let meta_file = dir.path().join("epoch-000001.json");
    let text = std::fs::read_to_string(&meta_file).expect("side file");
    std::fs::write(&meta_file, text.replace("tiny-v1", "something-else")).expect("tamper");
    let resumed = train_tiny(2, Some(&ck), &mut TinyTask::new()).expect("starts over");
    assert_eq!(losses(&resumed.history), losses(&straight.history));
    // A garbage side file.
    std::fs::write(dir.path().join("epoch-000002.json"), b"{ not json").expect("garbage");
    let again = train_tiny(2, Some(&ck), &mut TinyTask::new()).expect("starts over");
    assert_eq!(losses(&again.history), losses(&straight.history));
    assert_eq!(again.model.weights(), straight.model.weights());
}

#[test]
fn divergence_is_an_error_and_nothing_is_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = CheckpointConfig {
        dir: dir.path().join("ck"),
        every_epochs: 1,
        resume: false,
    };
    let mut task = TinyTask::new();
    task.poison_from_epoch = Some(2);
    let result = train_tiny(4, Some(&ck), &mut task);
    match result {
        Err(LearnError::Diverged { epoch, batch, loss }) => {
            assert_eq!((epoch, batch), (2, 0));
            assert!(loss.is_nan());
        }
        Err(other) => panic!("expected divergence, got {other}"),
        Ok(_) => panic!("expected divergence, training succeeded"),
    }
    // The epoch-1 checkpoint exists; nothing from the diverged epoch was written.
    let meta = checkpoint::latest(&ck.dir).expect("read").expect("epoch 1");
    assert_eq!(meta.epoch, 1);
}

#[test]
fn a_non_finite_validation_loss_is_an_error() {
    let mut task = TinyTask::new();
    task.poison_validation = true;
    match train_tiny(2, None, &mut task) {
        Err(LearnError::NonFinite(m)) => assert!(m.contains("validation loss"), "{m}"),
        Err(other) => panic!("expected a non-finite error, got {other}"),
        Ok(o) => panic!("training succeeded with losses {:?}", losses(&o.history)),
    }
}

#[test]
fn nan_weights_after_the_last_step_are_an_error_even_without_validation() {
    let device = Device::flex();
    let train: Vec<usize> = (0..64).collect();
    let config = loop_config(3);
    let spec = RunSpec {
        device: &device,
        config: &config,
        train: &train,
        validation: &[],
        checkpoint: None,
        fingerprint: "tiny-v1",
        cancel: None,
    };
    let mut task = TinyTask::new();
    task.nan_gradient_at = Some((3, 6)); // the last of 7 batches of the last epoch
    let model = Tiny::new(&device.clone().autodiff(), 3);
    match run_epochs(
        &mut task,
        model,
        NadamConfig::default().init(),
        &spec,
        &Policies::default(),
        &mut |_| {},
    ) {
        Err(LearnError::NonFinite(m)) => assert!(m.contains("epoch 3"), "{m}"),
        Err(other) => panic!("expected a non-finite error, got {other}"),
        Ok(o) => panic!(
            "training succeeded; weights finite: {}",
            o.model.weights().iter().all(|w| w.is_finite())
        ),
    }
}

#[test]
fn derived_seeds_differ_per_position() {
    let ctx = |epoch, batch, validation| StepContext {
        epoch,
        batch,
        validation,
        seed: 1,
    };
    let seeds = [
        ctx(1, 0, false).noise_seed(),
        ctx(1, 1, false).noise_seed(),
        ctx(2, 0, false).noise_seed(),
        ctx(1, 0, true).noise_seed(),
    ];
    for i in 0..seeds.len() {
        for j in i + 1..seeds.len() {
            assert_ne!(seeds[i], seeds[j]);
        }
    }
    assert_eq!(seeds[0], ctx(1, 0, false).noise_seed());
}

#[test]
fn run_epochs_stops_before_the_epoch_after_the_cancel_flag_is_set() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let device = Device::flex();
    let train: Vec<usize> = (0..48).collect();
    let config = loop_config(5);
    let cancel = AtomicBool::new(false);
    let spec = RunSpec {
        device: &device,
        config: &config,
        train: &train,
        validation: &[],
        checkpoint: None,
        fingerprint: "tiny-v1",
        cancel: Some(&cancel),
    };
    let model = Tiny::new(&device.clone().autodiff(), 3);
    let mut finished = Vec::new();
    let result = run_epochs(
        &mut TinyTask::new(),
        model,
        NadamConfig::default().init(),
        &spec,
        &Policies::default(),
        &mut |r| {
            finished.push(r.record.epoch);
            // Ctrl-C during epoch 1: epoch 2 must not start
            cancel.store(true, Ordering::Relaxed);
        },
    );
    assert!(matches!(result, Err(LearnError::Cancelled { epoch: 2 })));
    assert_eq!(finished, [1]);
}
