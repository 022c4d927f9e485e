//! Whether every float parameter of a module is finite: a model holding a NaN or an infinity is a
//! training failure, never a result (issue 13, hole 1).

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;

/// Visits float parameters; remembers whether one held a non-finite value.
struct NonFiniteFinder {
    found: bool,
}

impl ModuleVisitor for NonFiniteFinder {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.found {
            return;
        }
        // x·0 is 0 for every finite x and NaN for NaN and ±∞, so one reduction on the device
        // answers for the whole tensor.
        let probe = param.val().mul_scalar(0.0).sum();
        self.found = probe
            .try_into_vec_as::<f32>()
            .map_or(true, |v| v.iter().any(|x| !x.is_finite()));
    }
}

/// Whether every float parameter (weights, biases, normalisation statistics) of `module` is finite.
pub fn all_params_finite<M: Module>(module: &M) -> bool {
    let mut finder = NonFiniteFinder { found: false };
    module.visit(&mut finder);
    !finder.found
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn a_single_nan_or_infinity_is_found() {
        let device = Device::flex();
        let linear: Linear = LinearConfig::new(3, 2).init(&device);
        assert!(all_params_finite(&linear));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut values = linear
                .weight
                .val()
                .try_into_vec_as::<f32>()
                .expect("weights");
            values[4] = bad;
            let mut poisoned = linear.clone();
            poisoned.weight = Param::from_tensor(Tensor::<2>::from_data(
                burn::tensor::TensorData::new(values, [3, 2]),
                &device,
            ));
            assert!(!all_params_finite(&poisoned), "{bad} not found");
        }
    }
}
