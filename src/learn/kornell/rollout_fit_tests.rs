//! Latent-predictor training tests on smooth synthetic switching curves.

use super::*;
use crate::learn::backend::{BackendChoice, LearnRuntime};
use crate::learn::test_support::rng_lock;
use ndarray::{Array1, s};

const STEPS: usize = 40;
const D: usize = 16;

/// Four curves: the field ramps from +8 to −8 T; latent k follows a smooth switch
/// 0.5·tanh(a_k (H − h_sim)) + 0.05·k at a simulation-dependent field h_sim. Weights mimic
/// eq. (8): 0 at the first step, then the summed absolute change of the latents.
fn sims() -> Vec<SimSequence> {
    (0..4)
        .map(|sim| {
            let switch = -2.0 - 1.5 * sim as f32;
            let fields =
                Array1::from_shape_fn(STEPS, |s| 8.0 - 16.0 * s as f32 / (STEPS - 1) as f32);
            let latents = Array2::from_shape_fn((STEPS, D), |(s, k)| {
                let slope = 0.4 + 0.05 * k as f32;
                0.5 * (slope * (fields[s] - switch)).tanh() + 0.05 * k as f32
            });
            let sample_weights = Array1::from_shape_fn(STEPS, |s| {
                if s == 0 {
                    0.0
                } else {
                    (&latents.row(s) - &latents.row(s - 1)).mapv(f32::abs).sum()
                }
            });
            SimSequence {
                latents,
                fields,
                sample_weights,
            }
        })
        .collect()
}

fn config(t: usize, l: usize, epochs: usize) -> RolloutFitConfig {
    let mut config = RolloutFitConfig::paper(t, l, epochs);
    config.hidden = vec![32, 32];
    config.schedule.batch_size = 16;
    config.schedule.learning_rate = 3e-3;
    config.schedule.seed = 9;
    config
}

fn fit(config: &RolloutFitConfig) -> (TrainedRollout, Vec<Epoch>) {
    fit_rollout(&Device::flex(), config, &sims(), None, &mut |_| {}).expect("predictor training")
}

/// Everything but the timings.
type EpochLosses = (f64, f64, Option<f64>, Vec<(String, f64)>);

fn losses(history: &[Epoch]) -> Vec<EpochLosses> {
    history
        .iter()
        .map(|e| {
            let mut parts = e.record.train_parts.clone();
            parts.extend(e.val_parts.iter().cloned());
            (
                e.learning_rate,
                e.record.train_loss,
                e.record.val_loss,
                parts,
            )
        })
        .collect()
}

fn curve(model: &TrainedRollout) -> Array2<f32> {
    let sim = &sims()[3];
    let t = model.spec.history_len;
    model
        .predict_curve(sim.latents.slice(s![..t, ..]), sim.fields.view())
        .expect("predict")
}

#[test]
fn training_reduces_the_recursive_loss() {
    let _guard = rng_lock();
    let (model, history) = fit(&config(3, 4, 15));
    assert_eq!(history.len(), 15);
    let (first, last) = (&history[0].record, &history[14].record);
    assert!(
        last.train_loss < 0.3 * first.train_loss,
        "{} -> {}",
        first.train_loss,
        last.train_loss
    );
    let val = |e: &Epoch| e.record.val_loss.expect("validation");
    assert!(val(&history[14]) < 0.3 * val(&history[0]));
    let unweighted = |parts: &[(String, f64)]| {
        parts
            .iter()
            .find(|(k, _)| k == UNWEIGHTED_PART)
            .map(|(_, v)| *v)
            .expect("unweighted part")
    };
    assert!(unweighted(&last.train_parts) < unweighted(&first.train_parts));
    assert!(unweighted(&history[14].val_parts) < unweighted(&history[0].val_parts));
    // 4 · (40 − 3 − 4 + 1) = 136 windows; Keras sizes: ⌊136 · 0.8⌋ = 108 train
    assert_eq!(last.optimizer_steps, 15 * 108usize.div_ceil(16) as u64);
    // early stopping (on by default) hands back the epoch with the lowest validation loss
    let best = history
        .iter()
        .min_by(|a, b| val(a).total_cmp(&val(b)))
        .map(|e| e.record.epoch);
    assert_eq!(Some(model.selected_epoch), best);
    assert!(!model.stopped_early);
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let _guard = rng_lock();
    let runtime = LearnRuntime::new(BackendChoice::Flex, Some(2), 0).expect("runtime");
    let config = config(3, 4, 3);
    let (a, ha) = runtime.install(|| fit(&config));
    let (b, hb) = runtime.install(|| fit(&config));
    assert_eq!(losses(&ha), losses(&hb));
    assert_eq!(curve(&a), curve(&b));
}

#[test]
fn plateau_schedule_lowers_the_rate_when_validation_stalls() {
    let _guard = rng_lock();
    let mut config = config(2, 2, 5);
    // min_delta 1e9: nothing after epoch 1 counts as an improvement
    config.monitor = MonitorSettings {
        plateau: Some(ReduceLrOnPlateauConfig {
            factor: 0.5,
            patience: 2,
            min_delta: 1e9,
            cooldown: 0,
            min_lr: 0.0,
        }),
        early_stopping: None,
    };
    let (model, history) = fit(&config);
    let rates: Vec<f64> = history.iter().map(|e| e.learning_rate).collect();
    // epochs 2 and 3 stall → halved for epoch 4; epochs 4 and 5 stall again (the halving
    // after epoch 5 is not used)
    assert_eq!(rates, [3e-3, 3e-3, 3e-3, 1.5e-3, 1.5e-3]);
    assert_eq!(
        model.selected_epoch, 5,
        "without early stopping the last epoch is kept"
    );
    assert!(!model.stopped_early);
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let _guard = rng_lock();
    let mut stopping = config(2, 3, 50);
    stopping.monitor = MonitorSettings {
        plateau: None,
        early_stopping: Some(EarlyStoppingConfig {
            patience: 3,
            min_delta: 1e9,
        }),
    };
    let (stopped, history) = fit(&stopping);
    // epoch 1 is the only "improvement"; epochs 2, 3, 4 stall → stop after epoch 4
    assert_eq!(history.len(), 4);
    assert!(stopped.stopped_early);
    assert_eq!(stopped.selected_epoch, 1);
    let mut plain = config(2, 3, 1);
    plain.monitor = MonitorSettings::default();
    let (after_one, _) = fit(&plain);
    assert_eq!(
        curve(&stopped),
        curve(&after_one),
        "epoch 1 weights restored"
    );
    plain.schedule.epochs = 4;
    let (after_four, _) = fit(&plain);
    assert_ne!(curve(&stopped), curve(&after_four));
}

#[test]
fn predict_curve_with_l_one_equals_step_by_step_forward_calls() {
    let _guard = rng_lock();
    let (model, _) = fit(&config(3, 1, 2));
    let sim = &sims()[1];
    let t = 3;
    let predicted = model
        .predict_curve(sim.latents.slice(s![..t, ..]), sim.fields.view())
        .expect("predict");
    assert_eq!(predicted.dim(), (STEPS, D));
    assert_eq!(predicted.slice(s![..t, ..]), sim.latents.slice(s![..t, ..]));
    let device = Device::flex();
    let mut by_hand = sim.latents.slice(s![..t, ..]).to_owned();
    for j in t..STEPS {
        let history: Vec<f32> = by_hand.slice(s![j - t..j, ..]).iter().copied().collect();
        let history = Tensor::<3>::from_data(TensorData::new(history, [1, t, D]), &device);
        let field = Tensor::<2>::from_data(
            TensorData::new(vec![sim.fields[j - 1] / DEFAULT_FIELD_SCALE], [1, 1]),
            &device,
        );
        let next = model
            .model
            .forward(history, field)
            .try_into_vec_as::<f32>()
            .expect("read");
        by_hand
            .push_row(ndarray::ArrayView1::from(&next))
            .expect("row");
    }
    assert_eq!(predicted, by_hand);
    // the curve is not trivially constant
    assert_ne!(predicted.row(t), predicted.row(STEPS - 1));

    assert!(
        model
            .predict_curve(sim.latents.slice(s![..2, ..]), sim.fields.view())
            .is_err()
    );
    let short = model
        .predict_curve(sim.latents.slice(s![..t, ..]), sim.fields.slice(s![..t]))
        .expect("t steps");
    assert_eq!(short, sim.latents.slice(s![..t, ..]));
}

#[test]
fn save_load_round_trip() {
    let _guard = rng_lock();
    let (model, _) = fit(&config(3, 4, 1));
    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let loaded = TrainedRollout::load(dir.path(), &Device::flex()).expect("load");
    assert_eq!(loaded.spec, model.spec);
    assert_eq!(loaded.selected_epoch, model.selected_epoch);
    assert_eq!(curve(&loaded), curve(&model));
}

#[test]
fn resumed_training_equals_uninterrupted_training() {
    let _guard = rng_lock();
    // (a) plateau cuts and an early stop that both straddle the interruption after epoch 2
    let mut tricky = config(2, 3, 10);
    tricky.monitor = MonitorSettings {
        plateau: Some(ReduceLrOnPlateauConfig {
            factor: 0.5,
            patience: 1,
            min_delta: 1e9,
            cooldown: 0,
            min_lr: 0.0,
        }),
        early_stopping: Some(EarlyStoppingConfig {
            patience: 3,
            min_delta: 1e9,
        }),
    };
    // (b) the paper's defaults, where the best epoch moves on after the interruption
    let usual = config(2, 3, 4);
    for straight_config in [tricky, usual] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut resumable = straight_config.clone();
        resumable.checkpoint = Some(CheckpointConfig {
            dir: dir.path().to_path_buf(),
            every_epochs: 1,
            resume: true,
        });
        resumable.schedule.epochs = 2;
        fit(&resumable);
        resumable.schedule.epochs = straight_config.schedule.epochs;
        let (resumed, resumed_history) = fit(&resumable);
        let (straight, straight_history) = fit(&straight_config);
        assert_eq!(losses(&resumed_history), losses(&straight_history));
        assert_eq!(resumed.selected_epoch, straight.selected_epoch);
        assert_eq!(resumed.stopped_early, straight.stopped_early);
        assert_eq!(curve(&resumed), curve(&straight));
        // a finished run resumed again trains no further and returns the same model
        let (again, again_history) = fit(&resumable);
        assert_eq!(again_history.len(), straight_history.len());
        assert_eq!(curve(&again), curve(&straight));
    }
}

#[test]
fn simulation_hold_out_and_invalid_configs() {
    let _guard = rng_lock();
    let mut held_out = config(3, 4, 1);
    held_out.validation = RolloutValidation::Simulations { sims: vec![2] };
    let (_, history) = fit(&held_out);
    // 34 windows per curve: 102 train windows in batches of 16
    assert_eq!(
        history[0].record.optimizer_steps,
        102usize.div_ceil(16) as u64
    );
    let device = Device::flex();
    let run = |c: &RolloutFitConfig| fit_rollout(&device, c, &sims(), None, &mut |_| {});
    held_out.validation = RolloutValidation::Simulations { sims: vec![7] };
    assert!(run(&held_out).is_err());
    assert!(run(&config(0, 4, 1)).is_err());
    assert!(run(&config(30, 20, 1)).is_err(), "no curve is long enough");
    let mut no_validation = config(3, 4, 1);
    no_validation.validation = RolloutValidation::RandomWindows { fraction: 0.0 };
    assert!(
        run(&no_validation).is_err(),
        "the monitor needs validation windows"
    );
    no_validation.monitor = MonitorSettings::default();
    assert!(run(&no_validation).is_ok());
}

#[test]
fn training_is_independent_of_thread_count() {
    let _guard = rng_lock();
    let config = config(3, 4, 2);
    let run = |threads| {
        let runtime = LearnRuntime::new(BackendChoice::Flex, Some(threads), 0).expect("runtime");
        runtime.install(|| {
            let (model, history) = fit(&config);
            (losses(&history), curve(&model))
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn a_set_cancel_flag_stops_training_before_the_next_epoch() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let cancel = AtomicBool::new(false);
    let mut finished = Vec::new();
    // Ctrl-C "pressed" while epoch 2 runs: epoch 3 must not start.
    let result = fit_rollout(
        &Device::flex(),
        &config(2, 2, 10),
        &sims(),
        Some(&cancel),
        &mut |e| {
            finished.push(e.record.epoch);
            if e.record.epoch == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    );
    assert!(
        matches!(result, Err(LearnError::Cancelled { epoch: 3 })),
        "{:?}",
        result.map(|(_, h)| h.len())
    );
    assert_eq!(finished, [1, 2]);
    // already set before the first epoch: nothing runs
    let mut any = false;
    let result = fit_rollout(
        &Device::flex(),
        &config(2, 2, 10),
        &sims(),
        Some(&cancel),
        &mut |_| any = true,
    );
    assert!(matches!(result, Err(LearnError::Cancelled { epoch: 1 })));
    assert!(!any);
}

#[test]
fn increment_form_learns_the_switch_and_round_trips() {
    let _guard = rng_lock();
    let mut config = config(3, 4, 15);
    config.increment = true;
    config.linear_output = true;
    let (model, history) = fit(&config);
    assert!(model.spec.increment && model.spec.linear_output);
    let (first, last) = (&history[0].record, &history[14].record);
    assert!(
        last.train_loss < 0.3 * first.train_loss,
        "{} -> {}",
        first.train_loss,
        last.train_loss
    );
    // the same weights in state form predict something else: the increment really is added
    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let loaded = TrainedRollout::load(dir.path(), &Device::flex()).expect("load");
    assert_eq!(loaded.spec, model.spec);
    assert_eq!(curve(&loaded), curve(&model));
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(SPEC_FILE)).expect("spec"))
            .expect("json");
    meta["spec"]["increment"] = serde_json::Value::Bool(false);
    std::fs::write(dir.path().join(SPEC_FILE), meta.to_string()).expect("write");
    let as_state = TrainedRollout::load(dir.path(), &Device::flex()).expect("load");
    let (a, b) = (curve(&model), curve(&as_state));
    let t = model.spec.history_len;
    // one step from the same history differs by exactly the newest state
    let diff = &a.row(t) - &b.row(t);
    for (d, newest) in diff.iter().zip(a.row(t - 1)) {
        assert!((d - newest).abs() < 1e-5, "{diff:?}");
    }
}

#[test]
fn an_older_save_without_the_increment_field_loads_as_state_form() {
    let _guard = rng_lock();
    let (model, _) = fit(&config(3, 4, 1));
    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(SPEC_FILE)).expect("spec"))
            .expect("json");
    meta["spec"]
        .as_object_mut()
        .expect("object")
        .remove("increment");
    std::fs::write(dir.path().join(SPEC_FILE), meta.to_string()).expect("write");
    let loaded = TrainedRollout::load(dir.path(), &Device::flex()).expect("load");
    assert!(!loaded.spec.increment);
    assert_eq!(curve(&loaded), curve(&model));
}

#[test]
fn increment_form_starts_as_the_identity_and_survives_long_rollouts() {
    let _guard = rng_lock();
    // paper-like settings; before the zero output layer, l = 8 and 12 overflowed f32 at the
    // first batch (loss NaN) because the untrained residual rollout grows geometrically
    for l in [4, 8, 12] {
        let mut config = config(3, l, 1);
        config.increment = true;
        config.linear_output = true;
        config.hidden = vec![64; 4];
        config.schedule.learning_rate = 1e-4;
        config.schedule.batch_size = 64;
        let (_, history) = fit(&config);
        let loss = history[0].record.train_loss;
        assert!(loss.is_finite() && loss < 100.0, "l = {l}: {loss}");
    }
}
