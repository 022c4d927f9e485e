//! The small policies of the one epoch loop ([`super::run_epochs`]): the learning-rate schedule
//! ([`LrSchedule`]: constant, reduced on a validation plateau, or decayed in steps), keep-best
//! (return the weights of the epoch with the lowest validation loss) and early stopping.
//!
//! The plateau schedule and early stopping have the semantics of the Keras callbacks
//! `ReduceLROnPlateau` and `EarlyStopping` (TF 2, `mode="min"`); burn 0.22 has neither.
//!
//! Both watch the validation loss once per epoch. A loss counts as an improvement when it is
//! below the best loss so far by more than `min_delta` (an absolute threshold, as in Keras):
//! `current < best − min_delta`. The state is a pure function of the sequence of validation
//! losses, so a resumed run rebuilds it by replaying its history ([`ValidationMonitor::replay`]).

use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;

/// `ReduceLROnPlateau` settings. [`Default`] gives Keras's defaults (factor 0.1, patience 10,
/// `min_delta` 1e-4, no cooldown, no floor): Kornell et al. name the callback but none of its
/// settings, so the values it applies when none are given are the most likely ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReduceLrOnPlateauConfig {
    /// Multiplies the learning rate on a plateau (0 < factor < 1).
    pub factor: f64,
    /// Epochs without improvement before the learning rate is reduced.
    pub patience: usize,
    /// Minimum decrease of the validation loss that counts as an improvement.
    pub min_delta: f64,
    /// Epochs after a reduction during which no plateau is counted.
    pub cooldown: usize,
    /// The learning rate is never reduced below this.
    pub min_lr: f64,
}

impl Default for ReduceLrOnPlateauConfig {
    fn default() -> Self {
        Self {
            factor: 0.1,
            patience: 10,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// `EarlyStopping(restore_best_weights=True)` settings. [`Default`]: patience 20, `min_delta`
/// 1e-4. Keras's own defaults (patience 0, `min_delta` 0) stop at the first epoch that does not
/// improve, which contradicts the paper's "does not decrease significantly after some epochs";
/// patience 20 is twice the plateau patience, so a stalled run gets one learning-rate reduction
/// and ten epochs at the reduced rate before it stops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStoppingConfig {
    /// Epochs without improvement after which training stops.
    pub patience: usize,
    /// Minimum decrease of the validation loss that counts as an improvement (also decides
    /// which epoch's weights are "best").
    pub min_delta: f64,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        Self {
            patience: 20,
            min_delta: 1e-4,
        }
    }
}

/// How the learning rate evolves over the epochs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// The initial learning rate throughout.
    #[default]
    Constant,
    /// Reduced when the validation loss stalls (Keras `ReduceLROnPlateau`).
    Plateau(ReduceLrOnPlateauConfig),
    /// Multiplied by `gamma` every `every_epochs` epochs (PyTorch `StepLR` stepped per epoch):
    /// lr · γ^⌊(epoch − 1) / every_epochs⌋.
    Step {
        /// Epochs between two decays (at least 1).
        every_epochs: usize,
        /// Decay factor (finite, non-negative).
        gamma: f64,
    },
}

/// The policies of one training run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Policies {
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Return the weights of the epoch with the lowest validation loss (strictly lower than
    /// every earlier one; the last epoch's without validation samples) instead of the last.
    pub keep_best: bool,
    /// Stop when the validation loss stalls and return the best epoch's weights (in the
    /// early-stopping sense of `min_delta`).
    pub early_stopping: Option<EarlyStoppingConfig>,
}

impl Policies {
    /// Checks the step schedule (the monitor checks the rest when it is built).
    pub fn validate(&self) -> Result<(), LearnError> {
        if let LrSchedule::Step {
            every_epochs,
            gamma,
        } = self.schedule
            && (every_epochs == 0 || !(gamma.is_finite() && gamma >= 0.0))
        {
            return Err(LearnError::InvalidConfig(format!(
                "the step schedule needs every_epochs >= 1 and a finite gamma >= 0, got {:?}",
                self.schedule
            )));
        }
        Ok(())
    }

    /// Whether the plateau schedule or early stopping watches the validation loss.
    pub fn watches_validation(&self) -> bool {
        matches!(self.schedule, LrSchedule::Plateau(_)) || self.early_stopping.is_some()
    }

    /// Whether the run keeps a best-weights snapshot.
    pub fn tracks_best(&self) -> bool {
        self.keep_best || self.early_stopping.is_some()
    }

    /// The validation monitor of these policies: keep-best without early stopping is early
    /// stopping that never stops, with no improvement threshold.
    pub fn monitor(&self, initial_learning_rate: f64) -> Result<ValidationMonitor, LearnError> {
        ValidationMonitor::new(initial_learning_rate, self.plateau(), self.best_tracker())
    }

    /// Replays the monitor over the validation losses of restored epochs.
    pub fn replay(
        &self,
        initial_learning_rate: f64,
        val_losses: &[f64],
    ) -> Result<(ValidationMonitor, Vec<MonitorStep>), LearnError> {
        ValidationMonitor::replay(
            initial_learning_rate,
            self.plateau(),
            self.best_tracker(),
            val_losses,
        )
    }

    fn plateau(&self) -> Option<ReduceLrOnPlateauConfig> {
        match self.schedule {
            LrSchedule::Plateau(p) => Some(p),
            _ => None,
        }
    }

    fn best_tracker(&self) -> Option<EarlyStoppingConfig> {
        self.early_stopping
            .or(self.keep_best.then_some(EarlyStoppingConfig {
                patience: usize::MAX,
                min_delta: 0.0,
            }))
    }

    /// Learning rate of 1-based `epoch`, given the monitor's state before it.
    pub fn learning_rate(&self, initial: f64, epoch: usize, monitor: &ValidationMonitor) -> f64 {
        match self.schedule {
            LrSchedule::Constant | LrSchedule::Plateau(_) => monitor.learning_rate(),
            LrSchedule::Step {
                every_epochs,
                gamma,
            } => {
                let decays = epoch.saturating_sub(1) / every_epochs.max(1);
                initial * gamma.powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
        }
    }
}

/// The plateau schedule and early stopping of the Kornell et al. models, as their configurations
/// name them (both optional; see [`Policies`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorSettings {
    /// Reduce the learning rate when the validation loss stalls.
    pub plateau: Option<ReduceLrOnPlateauConfig>,
    /// Stop when the validation loss stalls and return the best epoch's weights.
    pub early_stopping: Option<EarlyStoppingConfig>,
}

impl From<MonitorSettings> for Policies {
    fn from(m: MonitorSettings) -> Self {
        Policies {
            schedule: m.plateau.map_or(LrSchedule::Constant, LrSchedule::Plateau),
            keep_best: false,
            early_stopping: m.early_stopping,
        }
    }
}

/// What the monitor decided after one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorStep {
    /// This epoch's weights become the best-weights snapshot: the first epoch, and every epoch
    /// that improves on the best (always `false` without early stopping).
    pub new_best: bool,
    /// Learning rate for the next epoch.
    pub next_learning_rate: f64,
    /// Training should stop after this epoch.
    pub stop: bool,
}

#[derive(Debug, Clone)]
struct PlateauState {
    config: ReduceLrOnPlateauConfig,
    best: f64,
    wait: usize,
    cooldown_counter: usize,
}

#[derive(Debug, Clone)]
struct StoppingState {
    config: EarlyStoppingConfig,
    best: f64,
    best_epoch: Option<usize>,
    wait: usize,
}

/// Validation-loss watcher combining the plateau schedule and early stopping.
#[derive(Debug, Clone)]
pub struct ValidationMonitor {
    learning_rate: f64,
    plateau: Option<PlateauState>,
    stopping: Option<StoppingState>,
    epochs_seen: usize,
}

fn improves(current: f64, best: f64, min_delta: f64) -> bool {
    current < best - min_delta
}

impl ValidationMonitor {
    /// A monitor starting at `initial_learning_rate`; either part may be absent.
    pub fn new(
        initial_learning_rate: f64,
        plateau: Option<ReduceLrOnPlateauConfig>,
        early_stopping: Option<EarlyStoppingConfig>,
    ) -> Result<Self, LearnError> {
        if !(initial_learning_rate.is_finite() && initial_learning_rate > 0.0) {
            return Err(LearnError::InvalidConfig(format!(
                "learning rate must be positive, got {initial_learning_rate}"
            )));
        }
        if let Some(p) = &plateau {
            let valid = p.factor > 0.0
                && p.factor < 1.0
                && p.min_delta >= 0.0
                && p.min_lr >= 0.0
                && p.min_lr.is_finite();
            if !valid {
                return Err(LearnError::InvalidConfig(format!(
                    "plateau schedule needs 0 < factor < 1, min_delta >= 0, min_lr >= 0; got {p:?}"
                )));
            }
        }
        if let Some(e) = &early_stopping
            && (e.min_delta.is_nan() || e.min_delta < 0.0)
        {
            return Err(LearnError::InvalidConfig(format!(
                "early stopping needs min_delta >= 0, got {}",
                e.min_delta
            )));
        }
        Ok(Self {
            learning_rate: initial_learning_rate,
            plateau: plateau.map(|config| PlateauState {
                config,
                best: f64::INFINITY,
                wait: 0,
                cooldown_counter: 0,
            }),
            stopping: early_stopping.map(|config| StoppingState {
                config,
                best: f64::INFINITY,
                best_epoch: None,
                wait: 0,
            }),
            epochs_seen: 0,
        })
    }

    /// Rebuilds the monitor state after the epochs whose validation losses are `val_losses`
    /// (epoch 1 first), as if [`ValidationMonitor::observe`] had been called on each.
    pub fn replay(
        initial_learning_rate: f64,
        plateau: Option<ReduceLrOnPlateauConfig>,
        early_stopping: Option<EarlyStoppingConfig>,
        val_losses: &[f64],
    ) -> Result<(Self, Vec<MonitorStep>), LearnError> {
        let mut monitor = Self::new(initial_learning_rate, plateau, early_stopping)?;
        let steps = val_losses.iter().map(|&v| monitor.observe(v)).collect();
        Ok((monitor, steps))
    }

    /// Learning rate for the coming epoch.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// 1-based epoch with the best validation loss (early-stopping notion), if any.
    pub fn best_epoch(&self) -> Option<usize> {
        self.stopping.as_ref().and_then(|s| s.best_epoch)
    }

    /// Feeds the validation loss of the next epoch (Keras `on_epoch_end` of both callbacks).
    pub fn observe(&mut self, val_loss: f64) -> MonitorStep {
        self.epochs_seen += 1;
        let epoch = self.epochs_seen;
        let mut new_best = false;
        let mut stop = false;
        if let Some(s) = &mut self.stopping {
            s.wait += 1;
            if s.best_epoch.is_none() {
                // Keras: when no weights were kept yet, the current ones are the best.
                s.best_epoch = Some(epoch);
                new_best = true;
            }
            if improves(val_loss, s.best, s.config.min_delta) {
                s.best = val_loss;
                s.best_epoch = Some(epoch);
                s.wait = 0;
                new_best = true;
            } else {
                // Keras never stops after the very first epoch (`epoch > 0`, 0-based there).
                stop = s.wait >= s.config.patience && epoch > 1;
            }
        }
        if let Some(p) = &mut self.plateau {
            if p.cooldown_counter > 0 {
                p.cooldown_counter -= 1;
                p.wait = 0;
            }
            if improves(val_loss, p.best, p.config.min_delta) {
                p.best = val_loss;
                p.wait = 0;
            } else if p.cooldown_counter == 0 {
                p.wait += 1;
                if p.wait >= p.config.patience && self.learning_rate > p.config.min_lr {
                    let reduced = (self.learning_rate * p.config.factor).max(p.config.min_lr);
                    tracing::info!(
                        epoch,
                        from = self.learning_rate,
                        to = reduced,
                        "validation loss on a plateau: learning rate reduced"
                    );
                    self.learning_rate = reduced;
                    p.cooldown_counter = p.config.cooldown;
                    p.wait = 0;
                }
            }
        }
        MonitorStep {
            new_best,
            next_learning_rate: self.learning_rate,
            stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plateau(patience: usize, cooldown: usize, min_lr: f64) -> ReduceLrOnPlateauConfig {
        ReduceLrOnPlateauConfig {
            factor: 0.5,
            patience,
            min_delta: 0.01,
            cooldown,
            min_lr,
        }
    }

    fn learning_rates(monitor: &mut ValidationMonitor, losses: &[f64]) -> Vec<f64> {
        losses
            .iter()
            .map(|&v| monitor.observe(v).next_learning_rate)
            .collect()
    }

    #[test]
    fn plateau_lowers_the_rate_after_patience_stalled_epochs() {
        let mut m = ValidationMonitor::new(1.0, Some(plateau(2, 0, 0.0)), None).expect("config");
        // 1.0 best; 0.995 is within min_delta (stall 1); 0.999 stall 2 → halve; then the
        // counter restarts: 0.98 improves on 1.0 by 0.02 (best 0.98), 0.975 stall 1, 0.99 stall 2
        // → halve again.
        let rates = learning_rates(&mut m, &[1.0, 0.995, 0.999, 0.98, 0.975, 0.99]);
        assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
        assert_eq!(m.learning_rate(), 0.25);
        // steadily improving losses never reduce it
        let mut m = ValidationMonitor::new(1.0, Some(plateau(1, 0, 0.0)), None).expect("config");
        let rates = learning_rates(&mut m, &[1.0, 0.9, 0.8, 0.7]);
        assert_eq!(rates, [1.0; 4]);
    }

    #[test]
    fn plateau_cooldown_and_floor() {
        // patience 1, cooldown 2: reduce at epoch 2; epoch 3 is in cooldown (not counted);
        // epoch 4 decrements the cooldown to 0 first (Keras order), so it counts and reduces
        // again, the floor 0.3 capping the cut; at 0.3 = min_lr no further cut happens.
        let mut m = ValidationMonitor::new(1.0, Some(plateau(1, 2, 0.3)), None).expect("config");
        let rates = learning_rates(&mut m, &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(rates, [1.0, 0.5, 0.5, 0.3, 0.3, 0.3]);
    }

    #[test]
    fn early_stopping_counts_epochs_since_the_best() {
        let config = EarlyStoppingConfig {
            patience: 2,
            min_delta: 0.0,
        };
        let mut m = ValidationMonitor::new(1e-3, None, Some(config)).expect("config");
        let steps: Vec<(bool, bool)> = [3.0, 2.0, 2.5, 1.5, 1.6, 1.5, 9.0]
            .iter()
            .map(|&v| {
                let s = m.observe(v);
                (s.new_best, s.stop)
            })
            .collect();
        // 1.5 again at epoch 6 is not an improvement (strict), so epoch 6 is the second stall.
        assert_eq!(
            steps,
            [
                (true, false),
                (true, false),
                (false, false),
                (true, false),
                (false, false),
                (false, true),
                (false, true),
            ]
        );
        assert_eq!(m.best_epoch(), Some(4));
        assert_eq!(m.learning_rate(), 1e-3);
    }

    #[test]
    fn patience_zero_never_stops_after_the_first_epoch() {
        let config = EarlyStoppingConfig {
            patience: 0,
            min_delta: 0.0,
        };
        let mut m = ValidationMonitor::new(1.0, None, Some(config)).expect("config");
        assert!(!m.observe(1.0).stop);
        // an improving epoch never stops, the first stalled one does
        assert!(!m.observe(0.5).stop);
        assert!(m.observe(0.7).stop);
    }

    #[test]
    fn nan_losses_never_improve() {
        let mut m = ValidationMonitor::new(
            1.0,
            Some(plateau(1, 0, 0.0)),
            Some(EarlyStoppingConfig::default()),
        )
        .expect("config");
        assert!(m.observe(1.0).new_best);
        let step = m.observe(f64::NAN);
        assert!(!step.new_best);
        assert_eq!(step.next_learning_rate, 0.5);
        assert_eq!(m.best_epoch(), Some(1));
        // a NaN first epoch still provides the first snapshot (Keras), then 1.0 improves on it
        let mut m = ValidationMonitor::new(1.0, None, Some(EarlyStoppingConfig::default()))
            .expect("config");
        assert!(m.observe(f64::NAN).new_best);
        assert_eq!(m.best_epoch(), Some(1));
        assert!(m.observe(1.0).new_best);
        assert_eq!(m.best_epoch(), Some(2));
    }

    #[test]
    fn replay_equals_live_observation() {
        let losses = [5.0, 4.0, 4.0, 4.0, 3.0, 3.5, 3.2, 3.1, 3.3, 3.4];
        let p = Some(plateau(2, 1, 0.0));
        let e = Some(EarlyStoppingConfig {
            patience: 3,
            min_delta: 0.05,
        });
        let mut live = ValidationMonitor::new(0.1, p, e).expect("config");
        let live_steps: Vec<MonitorStep> = losses.iter().map(|&v| live.observe(v)).collect();
        let (replayed, steps) = ValidationMonitor::replay(0.1, p, e, &losses).expect("config");
        assert_eq!(steps, live_steps);
        assert_eq!(replayed.learning_rate(), live.learning_rate());
        assert_eq!(replayed.best_epoch(), live.best_epoch());
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad = ReduceLrOnPlateauConfig {
            factor: 1.5,
            ..Default::default()
        };
        assert!(ValidationMonitor::new(1.0, Some(bad), None).is_err());
        assert!(ValidationMonitor::new(0.0, None, None).is_err());
        let bad = EarlyStoppingConfig {
            patience: 1,
            min_delta: f64::NAN,
        };
        assert!(ValidationMonitor::new(1.0, None, Some(bad)).is_err());
    }
}
