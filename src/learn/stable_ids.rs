//! Parameter ids that depend only on a parameter's position in its module. burn draws a fresh
//! random id for every parameter from an unseeded generator and writes it into saved `.bpk` files,
//! so two identical trainings would otherwise save files that differ in those bytes alone. Models
//! saved as stage outputs get their ids renumbered 0, 1, 2, … in visiting order first, which keeps
//! same manifest + same seed → bitwise-identical artifacts.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::prelude::*;

struct StableIds {
    next: u64,
}

impl StableIds {
    fn id(&mut self) -> ParamId {
        let id = ParamId::from(self.next);
        self.next += 1;
        id
    }
}

impl ModuleMapper for StableIds {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.id = self.id();
        param
    }

    fn map_int<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Int>>,
    ) -> Param<Tensor<D, Int>> {
        param.id = self.id();
        param
    }

    fn map_bool<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Bool>>,
    ) -> Param<Tensor<D, Bool>> {
        param.id = self.id();
        param
    }
}

/// `module` with every parameter id replaced by its position (0, 1, 2, …) in visiting order.
pub fn with_stable_param_ids<M: Module>(module: M) -> M {
    module.map(&mut StableIds { next: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    #[test]
    fn two_fresh_models_save_identical_bytes_once_renumbered() {
        let dev = Device::flex();
        let dir = tempfile::tempdir().expect("tempdir");
        let save = |name: &str| {
            dev.seed(7);
            let model = LinearConfig::new(3, 2).init(&dev);
            let path = dir.path().join(name);
            with_stable_param_ids(model).save_file(&path).expect("save");
            std::fs::read(dir.path().join(format!("{name}.bpk")))
                .or_else(|_| std::fs::read(&path))
                .expect("read")
        };
        let a = save("a.bpk");
        let b = save("b.bpk");
        assert_eq!(a, b);
        // Without renumbering the random ids differ (this is what the mapper is for).
        dev.seed(7);
        let raw_a = LinearConfig::new(3, 2).init(&dev);
        dev.seed(7);
        let raw_b = LinearConfig::new(3, 2).init(&dev);
        assert_ne!(raw_a.weight.id, raw_b.weight.id);
    }
}
