//! Fast ops against burn's generic ops and against finite differences (f64 reference maths).

use burn::tensor::{Device, Tensor, TensorData};

use super::*;

/// Deterministic pseudo-random values in [−scale, scale).
fn noise(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let h = (i ^ seed.wrapping_mul(0x9e37_79b9))
                .wrapping_mul(2_654_435_761)
                .rotate_left(13)
                .wrapping_mul(0x85eb_ca6b);
            (h as f32 / u32::MAX as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().expect("read tensor")
}

/// ‖a − b‖ / ‖b‖ in f64.
fn rel_err(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - y).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// Value and input gradient of Σ w ⊙ f(x) through the autodiff device.
fn value_and_grad<const D: usize>(
    f: impl Fn(Tensor<D>) -> Tensor<D>,
    x: &[f32],
    w: &[f32],
    shape: [usize; D],
) -> (Vec<f32>, Vec<f32>) {
    let device = Device::flex().autodiff();
    let xt = Tensor::<D>::from_data(TensorData::new(x.to_vec(), shape), &device).require_grad();
    let wt = Tensor::<D>::from_data(TensorData::new(w.to_vec(), shape), &device);
    let y = f(xt.clone());
    let grads = (y.clone() * wt).sum().backward();
    let g = xt.grad(&grads).expect("input gradient");
    (read(y), read(g))
}

#[test]
fn elu_matches_burn_and_finite_differences() {
    let shape = [3, 5, 7, 9];
    let n: usize = shape.iter().product();
    // Values across both branches, kept away from the kink at 0 for the difference quotient.
    let x: Vec<f32> = noise(n, 1, 6.0)
        .into_iter()
        .map(|v| if v.abs() < 1e-2 { v + 0.05 } else { v })
        .collect();
    let w = noise(n, 2, 1.0);
    let (y_fast, g_fast) = value_and_grad(elu::<4>, &x, &w, shape);
    let (y_burn, g_burn) = value_and_grad(|t| burn::tensor::activation::elu(t, 1.0), &x, &w, shape);
    for (i, (a, b)) in y_fast.iter().zip(&y_burn).enumerate() {
        assert!(
            (a - b).abs() <= 2e-7 * b.abs().max(1.0),
            "y[{i}]: {a} vs {b}"
        );
    }
    for (i, (a, b)) in g_fast.iter().zip(&g_burn).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "grad[{i}]: {a} vs {b}"
        );
    }
    let elu64 = |v: f64| if v > 0.0 { v } else { v.exp_m1() };
    let h = 1e-6;
    let fd: Vec<f64> = x
        .iter()
        .zip(&w)
        .map(|(&xi, &wi)| {
            let xi = f64::from(xi);
            f64::from(wi) * (elu64(xi + h) - elu64(xi - h)) / (2.0 * h)
        })
        .collect();
    let err = rel_err(&g_fast, &fd);
    assert!(err <= 1e-4, "ELU gradient vs finite differences: {err:e}");
}

#[test]
fn elu_without_autodiff_and_on_views() {
    let device = Device::flex();
    let x = Tensor::<2>::from_data(TensorData::new(noise(6 * 4, 3, 3.0), [6, 4]), &device);
    // A transposed (non-contiguous) view goes through the copy path.
    let xt = x.clone().transpose();
    let fast = read(elu(xt.clone()));
    let reference = read(burn::tensor::activation::elu(xt, 1.0));
    for (a, b) in fast.iter().zip(&reference) {
        assert!((a - b).abs() <= 2e-7 * b.abs().max(1.0), "{a} vs {b}");
    }
    // A shared input is left untouched.
    let before = read(x.clone());
    let _ = elu(x.clone());
    assert_eq!(read(x), before);
}

/// One convolution layer under test: geometry and how to build it.
#[derive(Debug, Clone, Copy)]
struct Case {
    transposed: bool,
    batch: usize,
    channels: [usize; 2],
    image: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Case {
    fn out_image(&self) -> [usize; 2] {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        self.image.map(|n| {
            if self.transposed {
                (n - 1) * s + k - 2 * p
            } else {
                (n + 2 * p - k) / s + 1
            }
        })
    }

    fn weight_shape(&self) -> [usize; 4] {
        let [c, o] = self.channels;
        let k = self.kernel;
        if self.transposed {
            [c, o, k, k]
        } else {
            [o, c, k, k]
        }
    }

    /// Loss Σ r ⊙ y in f64 for given input, weight and bias (naive loops).
    fn reference_loss(&self, x: &[f64], w: &[f64], b: &[f64], r: &[f64]) -> f64 {
        let [c_in, c_out] = self.channels;
        let [h, wd] = self.image;
        let [ho, wo] = self.out_image();
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let mut y = vec![0.0f64; self.batch * c_out * ho * wo];
        for bi in 0..self.batch {
            for o in 0..c_out {
                for v in &mut y[(bi * c_out + o) * ho * wo..][..ho * wo] {
                    *v = b[o];
                }
                for c in 0..c_in {
                    for ki in 0..k {
                        for kj in 0..k {
                            let wv = if self.transposed {
                                w[((c * c_out + o) * k + ki) * k + kj]
                            } else {
                                w[((o * c_in + c) * k + ki) * k + kj]
                            };
                            // (input row, output row) pairs linked by this kernel tap.
                            let (grid, image) = if self.transposed {
                                ([h, wd], [ho, wo])
                            } else {
                                ([ho, wo], [h, wd])
                            };
                            for gi in 0..grid[0] {
                                let Some(ii) =
                                    (gi * s + ki).checked_sub(p).filter(|&v| v < image[0])
                                else {
                                    continue;
                                };
                                for gj in 0..grid[1] {
                                    let Some(jj) =
                                        (gj * s + kj).checked_sub(p).filter(|&v| v < image[1])
                                    else {
                                        continue;
                                    };
                                    if self.transposed {
                                        y[((bi * c_out + o) * ho + ii) * wo + jj] +=
                                            wv * x[((bi * c_in + c) * h + gi) * wd + gj];
                                    } else {
                                        y[((bi * c_out + o) * ho + gi) * wo + gj] +=
                                            wv * x[((bi * c_in + c) * h + ii) * wd + jj];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        y.iter().zip(r).map(|(a, b)| a * b).sum()
    }
}

/// Output, and gradients of x, weight and bias of Σ r ⊙ layer(x), via the fast or burn path.
fn conv_run(case: &Case, fast: bool, x: &[f32], r: &[f32]) -> [Vec<f32>; 5] {
    use burn::module::Param;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    let device = Device::flex().autodiff();
    let ws = case.weight_shape();
    let weight_param = || {
        let n = ws.iter().product();
        Param::from_data(TensorData::new(noise(n, 13, 0.5), ws), &device)
    };
    let bias_param = || {
        Param::from_data(
            TensorData::new(noise(case.channels[1], 14, 0.5), [case.channels[1]]),
            &device,
        )
    };
    let [c_in, c_out] = case.channels;
    let [h, w] = case.image;
    let [ho, wo] = case.out_image();
    let k = [case.kernel; 2];
    let xt = Tensor::<4>::from_data(
        TensorData::new(x.to_vec(), [case.batch, c_in, h, w]),
        &device,
    )
    .require_grad();
    let rt = Tensor::<4>::from_data(
        TensorData::new(r.to_vec(), [case.batch, c_out, ho, wo]),
        &device,
    );
    let (y, weight, bias) = if case.transposed {
        let mut layer = ConvTranspose2dConfig::new([c_in, c_out], k)
            .with_stride([case.stride; 2])
            .with_padding([case.padding; 2])
            .init(&device);
        layer.weight = weight_param();
        layer.bias = Some(bias_param());
        let y = if fast {
            conv_transpose2d(&layer, xt.clone())
        } else {
            layer.forward(xt.clone())
        };
        (y, layer.weight.val(), layer.bias.expect("bias").val())
    } else {
        let p = case.padding;
        let mut layer = Conv2dConfig::new([c_in, c_out], k)
            .with_stride([case.stride; 2])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(&device);
        layer.weight = weight_param();
        layer.bias = Some(bias_param());
        let y = if fast {
            conv2d(&layer, xt.clone())
        } else {
            layer.forward(xt.clone())
        };
        (y, layer.weight.val(), layer.bias.expect("bias").val())
    };
    let grads = (y.clone() * rt).sum().backward();
    [
        read(y),
        read(xt.grad(&grads).expect("x grad")),
        read(weight.grad(&grads).expect("weight grad")),
        read(bias.grad(&grads).expect("bias grad")),
        read(weight.inner()),
    ]
}

/// Fast path against burn's path (values and all three gradients) and finite differences.
fn check_conv(case: Case) {
    let [c_in, c_out] = case.channels;
    let [h, w] = case.image;
    let [ho, wo] = case.out_image();
    let x = noise(case.batch * c_in * h * w, 11, 1.0);
    let r = noise(case.batch * c_out * ho * wo, 12, 1.0);
    let fast = conv_run(&case, true, &x, &r);
    let burn = conv_run(&case, false, &x, &r);
    assert_eq!(
        fast[4], burn[4],
        "{case:?}: both layers start from the same weights"
    );
    for (name, (a, b)) in ["y", "dx", "dw", "db"].iter().zip(fast.iter().zip(&burn)) {
        let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
        let err = rel_err(a, &b64);
        assert!(
            err <= 1e-5,
            "{case:?} {name}: fast vs burn relative error {err:e}"
        );
    }
    // Finite differences of the f64 loss at the f32 parameters.
    let to64 = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    let (x64, w64, r64) = (to64(&x), to64(&fast[4]), to64(&r));
    // The loss is affine in x, in w and in b separately, so the gradients do not depend on the
    // bias value: difference around a zero bias.
    let h_step = 1e-3;
    let fd = |len: usize, loss: &dyn Fn(usize, f64) -> f64| -> Vec<f64> {
        (0..len)
            .map(|i| (loss(i, h_step) - loss(i, -h_step)) / (2.0 * h_step))
            .collect()
    };
    let zero_bias = vec![0.0f64; c_out];
    let fd_x = fd(x64.len(), &|i, d| {
        let mut xv = x64.clone();
        xv[i] += d;
        case.reference_loss(&xv, &w64, &zero_bias, &r64)
    });
    let fd_w = fd(w64.len(), &|i, d| {
        let mut wv = w64.clone();
        wv[i] += d;
        case.reference_loss(&x64, &wv, &zero_bias, &r64)
    });
    let fd_b = fd(c_out, &|i, d| {
        let mut bv = zero_bias.clone();
        bv[i] += d;
        case.reference_loss(&x64, &w64, &bv, &r64)
    });
    for (name, got, want) in [
        ("dx", &fast[1], &fd_x),
        ("dw", &fast[2], &fd_w),
        ("db", &fast[3], &fd_b),
    ] {
        let err = rel_err(got, want);
        assert!(
            err <= 1e-4,
            "{case:?} {name}: vs finite differences {err:e}"
        );
    }
}

#[test]
fn conv_patchify_matches_burn_and_finite_differences() {
    // The VAE encoder's 2×2 stride-2 convolutions, with odd image sides (last row/column dropped).
    for image in [[8, 6], [7, 9]] {
        check_conv(Case {
            transposed: false,
            batch: 2,
            channels: [3, 4],
            image,
            kernel: 2,
            stride: 2,
            padding: 0,
        });
    }
}

#[test]
fn conv_padded_matches_burn_and_finite_differences() {
    // The VAE's first convolution (4×4, stride 2, padding 1) and the ResNet shapes: 3×3
    // (stride 1 and 2), the 7×7 stride-2 stem and the 1×1 stride-2 projection.
    for (kernel, stride, padding, image, channels) in [
        (4, 2, 1, [10, 11], [1, 3]),
        (3, 1, 1, [5, 6], [2, 3]),
        (3, 2, 1, [7, 8], [3, 2]),
        (7, 2, 3, [11, 10], [2, 3]),
        (1, 2, 0, [7, 6], [3, 4]),
    ] {
        check_conv(Case {
            transposed: false,
            batch: 2,
            channels,
            image,
            kernel,
            stride,
            padding,
        });
    }
}

#[test]
fn conv_without_bias_matches_burn() {
    use burn::module::Param;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    let device = Device::flex().autodiff();
    let mut layer = Conv2dConfig::new([3, 4], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(&device);
    layer.weight = Param::from_data(
        TensorData::new(noise(4 * 3 * 9, 21, 0.5), [4, 3, 3, 3]),
        &device,
    );
    let run = |fast: bool| {
        let x = Tensor::<4>::from_data(
            TensorData::new(noise(2 * 3 * 5 * 7, 22, 1.0), [2, 3, 5, 7]),
            &device,
        )
        .require_grad();
        let y = if fast {
            conv2d(&layer, x.clone())
        } else {
            layer.forward(x.clone())
        };
        let grads = (y.clone() * y.clone()).sum().backward();
        let gw = layer.weight.val().grad(&grads).expect("weight grad");
        [read(y), read(x.grad(&grads).expect("x grad")), read(gw)]
    };
    let (fast, burn) = (run(true), run(false));
    for (name, (a, b)) in ["y", "dx", "dw"].iter().zip(fast.iter().zip(&burn)) {
        let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
        let err = rel_err(a, &b64);
        assert!(err <= 1e-5, "{name}: fast vs burn relative error {err:e}");
    }
}

#[test]
fn conv_transpose_matches_burn_and_finite_differences() {
    // The VAE decoder's 2×2 stride-2 layers and its last 4×4 stride-2 padding-1 layer.
    for (kernel, padding, image, channels) in [(2, 0, [3, 5], [4, 3]), (4, 1, [5, 4], [3, 1])] {
        check_conv(Case {
            transposed: true,
            batch: 2,
            channels,
            image,
            kernel,
            stride: 2,
            padding,
        });
    }
}

#[test]
fn fast_paths_engage_on_flex_f32_only() {
    let plain = Tensor::<1>::from_floats([1.0, -1.0], &Device::flex());
    let tracked = Tensor::<1>::from_floats([1.0, -1.0], &Device::flex().autodiff());
    assert!(on_flex_f32(&plain));
    assert!(on_flex_f32(&tracked));
    assert!(!on_flex_f32(&plain.cast(DType::F64)));
}
