//! Training tests on a tiny synthetic problem: ResNet-18 on 32×32 two-channel maps whose five
//! targets are functions of the two channel means.

use super::*;
use crate::learn::pollok::metrics::rmse;
use crate::learn::test_support::rng_lock;
use crate::learn::train::checkpoint::CheckpointConfig;
use burn::module::{Module, ModuleVisitor, Param};
use ndarray::{Axis, array};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZE: usize = 32;

/// Field maps and targets; rows `0..n_train` are the training split, the rest validation.
struct Dataset {
    fields: Array4<f32>,
    targets: Array2<f32>,
    n_train: usize,
}

impl Dataset {
    /// Channels = random levels in [0, 1] plus ±0.2 pixel noise; targets
    /// (m0, m1, (m0 + m1)/2, m0 − m1, 0.5) of the channel means m0, m1.
    fn new(n_train: usize, n_validation: usize, seed: u64) -> Self {
        Self::with_side(n_train, n_validation, SIZE, seed)
    }

    /// As [`Dataset::new`] with `side × side` maps.
    fn with_side(n_train: usize, n_validation: usize, side: usize, seed: u64) -> Self {
        let n = n_train + n_validation;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut fields = Array4::zeros((n, 2, side, side));
        let mut targets = Array2::zeros((n, 5));
        for i in 0..n {
            for c in 0..2 {
                let level = rng.random_range(0.0f32..1.0);
                fields
                    .slice_mut(ndarray::s![i, c, .., ..])
                    .mapv_inplace(|_| level + rng.random_range(-0.2f32..0.2));
            }
            let mean = |c: usize| {
                fields
                    .slice(ndarray::s![i, c, .., ..])
                    .mean()
                    .unwrap_or(0.0)
            };
            let (m0, m1) = (mean(0), mean(1));
            targets
                .row_mut(i)
                .assign(&array![m0, m1, 0.5 * (m0 + m1), m0 - m1, 0.5]);
        }
        Self {
            fields,
            targets,
            n_train,
        }
    }

    fn n_validation(&self) -> usize {
        self.targets.nrows() - self.n_train
    }

    fn rows(&self, split: Split, indices: &[usize]) -> Vec<usize> {
        let offset = match split {
            Split::Train => 0,
            Split::Validation => self.n_train,
        };
        indices.iter().map(|&i| i + offset).collect()
    }

    fn batch(&self, split: Split, indices: &[usize]) -> Result<FieldBatch, LearnError> {
        let rows = self.rows(split, indices);
        Ok((
            self.fields.select(Axis(0), &rows),
            self.targets.select(Axis(0), &rows),
        ))
    }

    fn validation_fields(&self) -> Array4<f32> {
        self.fields
            .slice(ndarray::s![self.n_train.., .., .., ..])
            .to_owned()
    }

    fn validation_targets(&self) -> Array2<f32> {
        self.targets
            .slice(ndarray::s![self.n_train.., ..])
            .to_owned()
    }
}

fn config(epochs: usize) -> InverseFitConfig {
    InverseFitConfig {
        arch: Architecture::ResNet18,
        epochs,
        batch_size: 8,
        learning_rate: 0.01,
        seed: 11,
        ..InverseFitConfig::paper(Architecture::ResNet18)
    }
}

/// Runs a fit holding the test RNG lock, so model tests that seed and draw elsewhere in this
/// process cannot interleave with the initialisation draws.
fn fit(config: &InverseFitConfig, data: &Dataset) -> (TrainedInverseCnn, Vec<EpochRecord>) {
    fit_checkpointed(config, data, None).expect("training")
}

/// [`fit`] with an optional checkpoint configuration.
fn fit_checkpointed(
    config: &InverseFitConfig,
    data: &Dataset,
    checkpoint: Option<&CheckpointConfig>,
) -> Result<(TrainedInverseCnn, Vec<EpochRecord>), LearnError> {
    let _guard = rng_lock();
    let mut loader = |split: Split, indices: &[usize]| data.batch(split, indices);
    fit_inverse_cnn(
        &Device::flex(),
        config,
        data.n_train,
        data.n_validation(),
        checkpoint,
        &mut loader,
        None,
        &mut |_| {},
    )
}

#[test]
fn training_reduces_the_rmse() {
    // 32 samples, batch 8: 16 SGD steps. Validation in inference mode relies on BatchNorm
    // running statistics (momentum 0.1, starting at mean 0 / variance 1), which a handful of
    // steps only roughly settles, so the training RMSE is the sharper signal here.
    let data = Dataset::new(32, 16, 1);
    let slow = InverseFitConfig {
        learning_rate: 0.002,
        ..config(4)
    };
    let (_, history) = fit(&slow, &data);
    assert_eq!(history.len(), 4);
    assert_eq!(history[3].optimizer_steps, 16);
    let (first, last) = (&history[0], &history[3]);
    assert!(last.train_loss < 0.8 * first.train_loss, "{history:?}");
    let val = |r: &EpochRecord| r.val_loss.expect("validation split");
    assert!(val(last) < val(first), "{history:?}");
}

#[test]
fn inference_does_not_depend_on_batch_composition() {
    // In training mode BatchNorm normalises with the batch's statistics, so a sample's output
    // would change with its batch mates; the returned network must use running statistics.
    let data = Dataset::new(16, 8, 6);
    let (model, _) = fit(&config(1), &data);
    let fields = data.validation_fields();
    let together = model.predict(fields.view()).expect("predict");
    for i in 0..fields.shape()[0] {
        let alone = model
            .predict(fields.slice(ndarray::s![i..=i, .., .., ..]))
            .expect("predict");
        for (a, b) in alone.row(0).iter().zip(together.row(i)) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "row {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn same_seed_gives_the_same_run() {
    let data = Dataset::new(16, 8, 2);
    let losses = |h: &[EpochRecord]| -> Vec<(f64, Option<f64>)> {
        h.iter().map(|r| (r.train_loss, r.val_loss)).collect()
    };
    let (a, history_a) = fit(&config(2), &data);
    let (b, history_b) = fit(&config(2), &data);
    assert_eq!(losses(&history_a), losses(&history_b));
    let fields = data.validation_fields();
    assert_eq!(
        a.predict(fields.view()).expect("predict"),
        b.predict(fields.view()).expect("predict")
    );
    let other_seed = InverseFitConfig {
        seed: 12,
        ..config(2)
    };
    let (_, history_c) = fit(&other_seed, &data);
    assert_ne!(history_a[0].train_loss, history_c[0].train_loss);
}

#[test]
fn paper_schedule_decays_every_thirty_epochs() {
    let paper = InverseFitConfig::default();
    let lr = |epoch| paper.learning_rate_at(epoch);
    for (epoch, expected) in [
        (1, 0.1),
        (30, 0.1),
        (31, 0.01),
        (60, 0.01),
        (61, 0.001),
        (90, 0.001),
        (91, 1e-4),
        (100, 1e-4),
    ] {
        assert!(
            (lr(epoch) - expected).abs() < 1e-12 * expected,
            "epoch {epoch}: {}",
            lr(epoch)
        );
    }
}

/// All trainable parameter values (BatchNorm running statistics excluded), in module order.
#[derive(Default)]
struct TrainableValues {
    path: Vec<(String, String)>,
    values: Vec<f32>,
}

impl ModuleVisitor for TrainableValues {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push((name.to_owned(), container_type.to_owned()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let running_stat = self.path.last().is_some_and(|(name, container)| {
            container == "Struct:BatchNorm" && name.starts_with("running_")
        });
        if !running_stat {
            let values = param.val().try_into_vec_as::<f32>().expect("f32 weights");
            self.values.extend(values);
        }
    }
}

fn trainable_values(model: &TrainedInverseCnn) -> Vec<f32> {
    let mut visitor = TrainableValues::default();
    model.network().visit(&mut visitor);
    visitor.values
}

#[test]
fn learning_rate_decays_per_epoch_not_per_iteration() {
    // two iterations per epoch; γ = 0 after every epoch makes the learning rate 0 from epoch 2
    let data = Dataset::new(16, 0, 3);
    let gamma_zero = |epochs| InverseFitConfig {
        batch_size: 8,
        lr_step_epochs: 1,
        lr_gamma: 0.0,
        ..config(epochs)
    };
    let no_decay = InverseFitConfig {
        lr_gamma: 1.0,
        ..gamma_zero(1)
    };
    let (one_epoch, _) = fit(&gamma_zero(1), &data);
    let (undecayed, _) = fit(&no_decay, &data);
    let (three_epochs, history) = fit(&gamma_zero(3), &data);
    let weights = trainable_values(&one_epoch);
    // a per-iteration schedule would have zeroed the rate for the second step of epoch 1
    assert_eq!(weights, trainable_values(&undecayed));
    // epochs 2 and 3 ran (four more steps) at rate 0 and left every weight unchanged
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].optimizer_steps, 6);
    assert_eq!(weights, trainable_values(&three_epochs));
    // the first epoch did move the weights
    let _guard = rng_lock();
    let device = Device::flex();
    let initial = init_seeded(&device, derive_seed(11, &[INIT_TAG]), || {
        Architecture::ResNet18.init(&device)
    })
    .expect("valid");
    let info = one_epoch.info;
    let initial = TrainedInverseCnn::new(info, initial.valid(), device);
    assert_ne!(weights, trainable_values(&initial));
}

#[test]
fn best_validation_epoch_is_the_result() {
    // validation targets are the negated training mapping: fitting the training data makes the
    // validation error grow, so an early epoch is best and the last one is not
    let mut data = Dataset::new(32, 16, 4);
    data.targets
        .slice_mut(ndarray::s![32.., ..])
        .mapv_inplace(|t| -t);
    let epochs = 4;
    let (model, history) = fit(&config(epochs), &data);
    let val: Vec<f64> = history
        .iter()
        .map(|r| r.val_loss.expect("validation split"))
        .collect();
    let argmin = (0..epochs)
        .min_by(|&i, &j| val[i].total_cmp(&val[j]))
        .expect("epochs")
        + 1;
    assert_eq!(model.info.best_epoch, argmin, "{val:?}");
    assert!(argmin < epochs, "{val:?}");
    // the returned weights reproduce that epoch's validation RMSE exactly
    let predicted = model
        .predict(data.validation_fields().view())
        .expect("predict");
    let recomputed = rmse(predicted.view(), data.validation_targets().view()).expect("shapes");
    assert_eq!(recomputed, val[argmin - 1]);
}

#[test]
fn save_and_load_reproduce_predictions() {
    let data = Dataset::new(8, 4, 5);
    let (model, _) = fit(&config(1), &data);
    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let loaded = TrainedInverseCnn::load(dir.path(), &Device::flex()).expect("load");
    assert_eq!(loaded.info, model.info);
    let fields = data.validation_fields();
    let expected = model.predict(fields.view()).expect("predict");
    assert_eq!(loaded.predict(fields.view()).expect("predict"), expected);
    let wrong_size = Array4::<f32>::zeros((1, 2, 16, 16));
    assert!(matches!(
        loaded.predict(wrong_size.view()),
        Err(LearnError::Shape(_))
    ));
}

#[test]
fn bad_batches_and_configs_are_rejected() {
    let device = Device::flex();
    let run = |config: &InverseFitConfig, loader: &mut FieldLoader<'_>| {
        let _guard = rng_lock();
        fit_inverse_cnn(&device, config, 4, 0, None, loader, None, &mut |_| {}).map(|_| ())
    };
    let three_channels = |_: Split, idx: &[usize]| {
        Ok((
            Array4::zeros((idx.len(), 3, SIZE, SIZE)),
            Array2::zeros((idx.len(), 5)),
        ))
    };
    let small = InverseFitConfig {
        batch_size: 2,
        ..config(1)
    };
    assert!(matches!(
        run(&small, &mut { three_channels }),
        Err(LearnError::Shape(_))
    ));
    let mut calls = 0;
    let mut shrinking = |_: Split, idx: &[usize]| {
        calls += 1;
        let side = SIZE / calls;
        Ok((
            Array4::zeros((idx.len(), 2, side, side)),
            Array2::zeros((idx.len(), 5)),
        ))
    };
    assert!(matches!(
        run(&small, &mut shrinking),
        Err(LearnError::Shape(_))
    ));
    let mut not_finite = |_: Split, idx: &[usize]| {
        Ok((
            Array4::zeros((idx.len(), 2, SIZE, SIZE)),
            Array2::from_elem((idx.len(), 5), f32::NAN),
        ))
    };
    assert!(matches!(
        run(&small, &mut not_finite),
        Err(LearnError::InvalidConfig(_))
    ));
    let mut failing = |_: Split, _: &[usize]| Err(LearnError::Loader("disk gone".into()));
    assert!(matches!(
        run(&small, &mut failing),
        Err(LearnError::Loader(_))
    ));
    for bad in [
        InverseFitConfig {
            epochs: 0,
            ..config(1)
        },
        InverseFitConfig {
            momentum: 1.0,
            ..config(1)
        },
        InverseFitConfig {
            learning_rate: 0.0,
            ..config(1)
        },
        InverseFitConfig {
            lr_step_epochs: 0,
            ..config(1)
        },
        InverseFitConfig {
            weight_decay: -1e-4,
            ..config(1)
        },
    ] {
        assert!(matches!(
            run(&bad, &mut failing),
            Err(LearnError::InvalidConfig(_))
        ));
    }
}

#[test]
fn efficientnet_dropout_is_reproducible() {
    // EfficientNet-B1 draws dropout and stochastic-depth masks in every training forward pass.
    // 64×64 maps and batch 4: at 32×32 its last stages are 1×1, and BatchNorm over 2 values
    // per channel blows the gradients up (inference then overflows to NaN).
    let data = Dataset::with_side(8, 4, 64, 7);
    let efficientnet = InverseFitConfig {
        arch: Architecture::EfficientNetB1,
        batch_size: 4,
        ..config(1)
    };
    let (a, history_a) = fit(&efficientnet, &data);
    // advance burn's global RNG: the masks must come from per-batch seeds, not the stream
    let _ = Tensor::<1>::random([7], burn::tensor::Distribution::Default, &Device::flex());
    let (b, history_b) = fit(&efficientnet, &data);
    assert_eq!(history_a[0].train_loss, history_b[0].train_loss);
    assert_eq!(history_a[0].val_loss, history_b[0].val_loss);
    assert_eq!(trainable_values(&a), trainable_values(&b));
}

fn records(history: &[EpochRecord]) -> Vec<(usize, f64, Option<f64>, u64)> {
    history
        .iter()
        .map(|r| (r.epoch, r.train_loss, r.val_loss, r.optimizer_steps))
        .collect()
}

#[test]
fn resumed_training_matches_an_uninterrupted_run_bitwise() {
    // No validation split: the result is the last epoch's training model, so this compares the
    // weights, BatchNorm statistics and momentum carried across the interruption.
    let data = Dataset::new(16, 0, 8);
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = CheckpointConfig {
        dir: dir.path().join("resume"),
        every_epochs: 1,
        resume: true,
    };
    let (straight, straight_history) = fit(&config(3), &data);
    // "interrupted" after epoch 2 (a run of 2 epochs checkpoints its last epoch)
    let (_, first_leg) = fit_checkpointed(&config(2), &data, Some(&ck)).expect("first leg");
    assert_eq!(first_leg.len(), 2);
    let (resumed, resumed_history) =
        fit_checkpointed(&config(3), &data, Some(&ck)).expect("resumed");
    assert_eq!(records(&resumed_history), records(&straight_history));
    assert_eq!(resumed.info, straight.info);
    assert_eq!(resumed.info.best_epoch, 3);
    assert_eq!(trainable_values(&resumed), trainable_values(&straight));
    let probe = Dataset::new(4, 0, 9).fields;
    assert_eq!(
        resumed.predict(probe.view()).expect("predict"),
        straight.predict(probe.view()).expect("predict")
    );
    // Only epoch 3's checkpoint (model, optimizer, JSON) and its best snapshot remain.
    let mut files: Vec<String> = std::fs::read_dir(&ck.dir)
        .expect("resume dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "best-000003.model.bpk",
            "epoch-000003.json",
            "epoch-000003.model.bpk",
            "epoch-000003.optim.bpk"
        ]
    );
    // A finished run resumed again does no further training and returns the same network.
    let (again, again_history) = fit_checkpointed(&config(3), &data, Some(&ck)).expect("again");
    assert_eq!(records(&again_history), records(&straight_history));
    assert_eq!(trainable_values(&again), trainable_values(&straight));
}

#[test]
fn resumed_training_keeps_an_earlier_best_epoch() {
    // Negated validation targets (as in `best_validation_epoch_is_the_result`): an early epoch
    // is best, so the resumed run must return the snapshot it wrote before the interruption.
    let mut data = Dataset::new(32, 16, 4);
    data.targets
        .slice_mut(ndarray::s![32.., ..])
        .mapv_inplace(|t| -t);
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = CheckpointConfig {
        dir: dir.path().to_path_buf(),
        every_epochs: 1,
        resume: true,
    };
    let (straight, straight_history) = fit(&config(4), &data);
    assert!(straight.info.best_epoch < 3, "{straight_history:?}");
    fit_checkpointed(&config(3), &data, Some(&ck)).expect("first leg");
    let (resumed, resumed_history) =
        fit_checkpointed(&config(4), &data, Some(&ck)).expect("resumed");
    assert_eq!(records(&resumed_history), records(&straight_history));
    assert_eq!(resumed.info, straight.info);
    assert_eq!(trainable_values(&resumed), trainable_values(&straight));
    let fields = data.validation_fields();
    assert_eq!(
        resumed.predict(fields.view()).expect("predict"),
        straight.predict(fields.view()).expect("predict")
    );
    // A checkpoint longer than the run is refused; one of another configuration is debris in
    // a folder keyed by the stage: discarded, and the run starts from scratch.
    assert!(matches!(
        fit_checkpointed(&config(2), &data, Some(&ck)),
        Err(LearnError::InvalidConfig(_))
    ));
    let other = InverseFitConfig {
        learning_rate: 0.02,
        ..config(5)
    };
    let (fresh, fresh_history) = fit(&other, &data);
    let (restarted, restarted_history) =
        fit_checkpointed(&other, &data, Some(&ck)).expect("starts over");
    assert_eq!(records(&restarted_history), records(&fresh_history));
    assert_eq!(trainable_values(&restarted), trainable_values(&fresh));
}

#[test]
fn a_cancel_flag_set_during_an_epoch_stops_before_the_next() {
    let data = Dataset::new(8, 4, 1);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut epochs = Vec::new();
    let _guard = rng_lock();
    let mut loader = |split: Split, indices: &[usize]| data.batch(split, indices);
    let result = fit_inverse_cnn(
        &Device::flex(),
        &config(3),
        data.n_train,
        data.n_validation(),
        None,
        &mut loader,
        Some(&cancel),
        &mut |r| {
            epochs.push(r.epoch);
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        },
    );
    assert!(
        matches!(result, Err(LearnError::Cancelled { epoch: 2 })),
        "{:?}",
        result.err()
    );
    assert_eq!(epochs, vec![1]);
}
