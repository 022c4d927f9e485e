//! Trainable-parameter counting with PyTorch/Keras semantics.
//!
//! burn's `Module::num_params` also counts BatchNorm running statistics (they are visited as
//! float tensors), whereas torch's `sum(p.numel() for p in m.parameters())` and Keras's
//! "Trainable params" do not. This visitor skips them.

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;

/// Field names under which burn's `BatchNorm` keeps its running statistics.
const RUNNING_STAT_FIELDS: [&str; 2] = ["running_mean", "running_var"];
/// Container tag burn's derive passes for fields of `BatchNorm`.
const BATCH_NORM_CONTAINER: &str = "Struct:BatchNorm";

/// Counts parameters, skipping BatchNorm running statistics.
#[derive(Default)]
struct TrainableCounter {
    /// Stack of (field name, container type) of the modules being visited.
    path: Vec<(String, String)>,
    count: usize,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push((name.to_owned(), container_type.to_owned()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let is_running_stat = self.path.last().is_some_and(|(name, container)| {
            container == BATCH_NORM_CONTAINER && RUNNING_STAT_FIELDS.contains(&name.as_str())
        });
        if !is_running_stat {
            self.count += param.lazy_shape().num_elements();
        }
    }
}

/// Number of trainable parameters of `module` (what torch's `parameters()` or Keras's
/// "Trainable params" report): all float parameters except BatchNorm running mean/variance.
/// Does not trigger lazy initialisation.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut counter = TrainableCounter::default();
    module.visit(&mut counter);
    counter.count
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNormConfig, LinearConfig};

    #[derive(Module, Debug)]
    struct Probe {
        linear: burn::nn::Linear,
        norm: burn::nn::BatchNorm,
    }

    #[test]
    fn running_statistics_are_not_counted() {
        let device = Device::flex();
        let probe = Probe {
            linear: LinearConfig::new(3, 4).init(&device),
            norm: BatchNormConfig::new(4).init(&device),
        };
        // linear 3·4 + 4, batch norm γ and β (4 + 4); running mean/var (8) excluded
        assert_eq!(trainable_params(&probe), 16 + 8);
        assert_eq!(probe.num_params(), 16 + 8 + 8);
    }
}
