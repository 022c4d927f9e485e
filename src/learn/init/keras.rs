//! Keras-default parameter initialisation from a seeded ChaCha stream.
//!
//! Keras initialises `Dense`, `Conv2D` and `Conv2DTranspose` kernels with Glorot-uniform
//! (limit √(6 / (fan_in + fan_out))) and biases with zeros. We reproduce that on the host from
//! `ChaCha8Rng::seed_from_u64(seed)`, visiting parameters in module order, so initial weights
//! depend only on the seed — not on burn's process-global RNG, the backend or the thread count.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Re-initialises every float parameter of `module` the Keras way from `seed`.
///
/// Rank-1 parameters (biases) become zeros. Rank-2 weights are `Linear` kernels
/// (`fan_in + fan_out = d0 + d1`); rank-4 weights are convolution kernels, burn's
/// `[out, in, kh, kw]` or `[in, out, kh, kw]` for transposed convolutions, both giving
/// `fan_in + fan_out = (d0 + d1)·kh·kw`. Parameters stay lazy: values are materialised on the
/// module's device on first use.
pub fn keras_init<M: Module>(module: M, seed: u64) -> M {
    let mut mapper = GlorotUniform {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    module.map(&mut mapper)
}

struct GlorotUniform {
    rng: ChaCha8Rng,
}

impl GlorotUniform {
    fn values(&mut self, dims: &[usize]) -> Vec<f32> {
        let count: usize = dims.iter().product();
        let fan_sum = match dims {
            [_] => return vec![0.0; count],
            [a, b] => a + b,
            [a, b, rest @ ..] => (a + b) * rest.iter().product::<usize>(),
            [] => return vec![0.0; count],
        };
        let limit = (6.0 / fan_sum as f64).sqrt() as f32;
        (0..count)
            .map(|_| self.rng.random_range(-limit..=limit))
            .collect()
    }
}

impl ModuleMapper for GlorotUniform {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.values(&param.lazy_shape().to_vec());
        with_host_values(param, values)
    }
}

/// Replaces a (lazy) parameter's values by `values` (row-major in its shape), keeping its id,
/// device and laziness: the tensor is materialised on the parameter's device on first use.
pub(crate) fn with_host_values<const D: usize>(
    param: Param<Tensor<D>>,
    values: Vec<f32>,
) -> Param<Tensor<D>> {
    let shape = param.lazy_shape();
    let device = param.lazy_device();
    let data = TensorData::new(values, shape.clone());
    Param::uninitialized(
        param.id,
        move |device, require_grad| {
            let tensor = Tensor::<D>::from_data(data, device);
            if require_grad {
                tensor.require_grad()
            } else {
                tensor
            }
        },
        device,
        true,
        shape,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    fn weights(linear: &Linear) -> Vec<f32> {
        linear.weight.val().try_into_vec_as::<f32>().expect("read")
    }

    #[test]
    fn glorot_bounds_zero_bias_and_seed_determinism() {
        let device = Device::flex();
        let a = keras_init(LinearConfig::new(40, 20).init(&device), 3);
        let b = keras_init(LinearConfig::new(40, 20).init(&device), 3);
        let c = keras_init(LinearConfig::new(40, 20).init(&device), 4);
        let limit = (6.0f32 / 60.0).sqrt();
        let wa = weights(&a);
        assert_eq!(wa.len(), 800);
        assert!(wa.iter().all(|w| w.abs() <= limit));
        // Uniform on [-l, l] has variance l²/3; 800 samples pin it within ~15 %.
        let var = wa.iter().map(|w| w * w).sum::<f32>() / wa.len() as f32;
        assert!(
            (var / (limit * limit / 3.0) - 1.0).abs() < 0.15,
            "var {var}"
        );
        assert_eq!(wa, weights(&b));
        assert_ne!(wa, weights(&c));
        let bias = a.bias.as_ref().expect("bias").val();
        assert!(
            bias.try_into_vec_as::<f32>()
                .expect("read")
                .iter()
                .all(|&v| v == 0.0)
        );
    }
}
