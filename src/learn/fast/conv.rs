//! Gradients of 2-D convolutions and transposed convolutions (groups 1, dilation 1,
//! symmetric padding, no output padding) as im2col / col2im plus one GEMM over the whole batch.
//!
//! For a convolution `y = w ⋆ x + b` with column matrix `X = im2col(x)` (`[C·kh·kw, B·N]`),
//! `Y = W X` where `W` is the weight as `[O, C·kh·kw]` and `Y` is `y` as `[O, B·N]`. Hence
//! `∂W = ∂Y Xᵀ`, `∂x = col2im(Wᵀ ∂Y)`, `∂b = Σ ∂Y`. A transposed convolution is the adjoint
//! map: with `D = im2col(∂y)` taken over the *input* grid, `∂x = W D` and `∂W = X Dᵀ` with
//! `X` the input as `[C, B·N_in]` and `W` the weight as `[C, O·kh·kw]`.

use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::gemm::{Operand, matmul};
use super::host::{contiguous, dims4, from_vec, values};
use super::im2col::{Window, col2im, from_channel_major, im2col, to_channel_major};

/// Stride and symmetric padding of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Stride (rows, columns).
    pub stride: [usize; 2],
    /// Zero padding on each side (rows, columns).
    pub padding: [usize; 2],
}

/// Gradients of one convolution; `x` and `weight` are `None` when not requested.
pub struct ConvGrads {
    /// Gradient of the input.
    pub x: Option<FlexTensor>,
    /// Gradient of the weight.
    pub weight: Option<FlexTensor>,
    /// Gradient of the bias.
    pub bias: FlexTensor,
}

/// Sum of a slice as a sum of block sums (keeps f32 rounding error low on long rows).
fn blocked_sum(v: &[f32]) -> f32 {
    v.chunks(1024).map(|c| c.iter().sum::<f32>()).sum()
}

/// Per-row sums of a row-major `[rows, cols]` matrix.
fn row_sums(m: &[f32], cols: usize) -> Vec<f32> {
    m.par_chunks(cols).map(blocked_sum).collect()
}

/// Gradients of `conv2d(x, weight, bias)` given the output gradient `grad`.
/// `need` says whether the input and weight gradients are wanted.
pub fn conv2d_backward(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    geometry: &Geometry,
    need: [bool; 2],
) -> ConvGrads {
    let (x, weight, grad) = (contiguous(x), contiguous(weight), contiguous(grad));
    let [batch, channels, h, w] = dims4(&x);
    let [out, _, kh, kw] = dims4(&weight);
    let [_, _, ho, wo] = dims4(&grad);
    let window = Window {
        batch,
        channels,
        image: [h, w],
        kernel: [kh, kw],
        stride: geometry.stride,
        padding: geometry.padding,
        grid: [ho, wo],
    };
    let (rows, cols) = (window.rows(), window.cols());
    // ∂Y as [O, B·N].
    let dy = to_channel_major(values(&grad), batch, out, ho * wo);
    let bias = from_vec(row_sums(&dy, cols), [out].into());
    let dy_op = Operand {
        data: &dy,
        rows: out,
        cols,
        transposed: false,
    };
    let gw = need[1].then(|| {
        let xcols = im2col(values(&x), &window);
        let xt = Operand {
            data: &xcols,
            rows,
            cols,
            transposed: true,
        };
        from_vec(matmul(dy_op, xt), [out, channels, kh, kw].into())
    });
    let gx = need[0].then(|| {
        let wt = Operand {
            data: values(&weight),
            rows: out,
            cols: rows,
            transposed: true,
        };
        let dcols = matmul(wt, dy_op);
        from_vec(col2im(&dcols, &window), [batch, channels, h, w].into())
    });
    ConvGrads {
        x: gx,
        weight: gw,
        bias,
    }
}

/// Gradients of `conv_transpose2d(x, weight, bias)` given the output gradient `grad`.
/// `need` says whether the input and weight gradients are wanted.
pub fn conv_transpose2d_backward(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    geometry: &Geometry,
    need: [bool; 2],
) -> ConvGrads {
    let (x, weight, grad) = (contiguous(x), contiguous(weight), contiguous(grad));
    let [batch, channels, hi, wi] = dims4(&x);
    let [_, out, kh, kw] = dims4(&weight);
    let [_, _, ho, wo] = dims4(&grad);
    let window = Window {
        batch,
        channels: out,
        image: [ho, wo],
        kernel: [kh, kw],
        stride: geometry.stride,
        padding: geometry.padding,
        grid: [hi, wi],
    };
    let (rows, cols) = (window.rows(), window.cols());
    let gy = values(&grad);
    let n_out = ho * wo;
    let bias_sums: Vec<f32> = (0..out)
        .into_par_iter()
        .map(|o| {
            (0..batch)
                .map(|b| blocked_sum(&gy[(b * out + o) * n_out..][..n_out]))
                .sum()
        })
        .collect();
    let bias = from_vec(bias_sums, [out].into());
    // ∂y's columns over the input grid: [O·kh·kw, B·N_in].
    let dcols = im2col(gy, &window);
    let d_op = |transposed| Operand {
        data: &dcols,
        rows,
        cols,
        transposed,
    };
    let gw = need[1].then(|| {
        let xm = to_channel_major(values(&x), batch, channels, hi * wi);
        let x_op = Operand {
            data: &xm,
            rows: channels,
            cols,
            transposed: false,
        };
        from_vec(matmul(x_op, d_op(true)), [channels, out, kh, kw].into())
    });
    let gx = need[0].then(|| {
        let w_op = Operand {
            data: values(&weight),
            rows: channels,
            cols: rows,
            transposed: false,
        };
        let dx = matmul(w_op, d_op(false));
        from_vec(
            from_channel_major(&dx, batch, channels, hi * wi),
            [batch, channels, hi, wi].into(),
        )
    });
    ConvGrads {
        x: gx,
        weight: gw,
        bias,
    }
}

/// `y[b, o, n] = cm[o, b·N + n] + bias[o]`: a `[O, B·N]` product back to `[B, O, N]` plus bias.
fn add_bias_from_channel_major(cm: &[f32], bias: &[f32], batch: usize, n: usize) -> Vec<f32> {
    let out = bias.len();
    let mut y = from_channel_major(cm, batch, out, n);
    y.par_chunks_mut(n).enumerate().for_each(|(bo, row)| {
        let b = bias[bo % out];
        row.iter_mut().for_each(|v| *v += b);
    });
    y
}

/// Forward convolution: `y = W im2col(x) + b` as one GEMM over the batch.
pub fn conv2d_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: FlexTensor,
    geometry: &Geometry,
) -> FlexTensor {
    let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
    let [batch, channels, h, w] = dims4(&x);
    let [out, _, kh, kw] = dims4(&weight);
    let [sh, sw] = geometry.stride;
    let [ph, pw] = geometry.padding;
    let (ho, wo) = ((h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1);
    let window = Window {
        batch,
        channels,
        image: [h, w],
        kernel: [kh, kw],
        stride: geometry.stride,
        padding: geometry.padding,
        grid: [ho, wo],
    };
    let (rows, cols) = (window.rows(), window.cols());
    let xcols = im2col(values(&x), &window);
    let y = matmul(
        Operand {
            data: values(&weight),
            rows: out,
            cols: rows,
            transposed: false,
        },
        Operand {
            data: &xcols,
            rows,
            cols,
            transposed: false,
        },
    );
    let y = add_bias_from_channel_major(&y, values(&bias), batch, ho * wo);
    from_vec(y, [batch, out, ho, wo].into())
}

/// Forward transposed convolution: `y = col2im(Wᵀ X) + b` with `X` the input as `[C, B·N]`.
pub fn conv_transpose2d_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: FlexTensor,
    geometry: &Geometry,
) -> FlexTensor {
    let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
    let [batch, channels, hi, wi] = dims4(&x);
    let [_, out, kh, kw] = dims4(&weight);
    let [sh, sw] = geometry.stride;
    let [ph, pw] = geometry.padding;
    let (ho, wo) = ((hi - 1) * sh + kh - 2 * ph, (wi - 1) * sw + kw - 2 * pw);
    let window = Window {
        batch,
        channels: out,
        image: [ho, wo],
        kernel: [kh, kw],
        stride: geometry.stride,
        padding: geometry.padding,
        grid: [hi, wi],
    };
    let (rows, cols) = (window.rows(), window.cols());
    let xm = to_channel_major(values(&x), batch, channels, hi * wi);
    let ycols = matmul(
        Operand {
            data: values(&weight),
            rows: channels,
            cols: rows,
            transposed: true,
        },
        Operand {
            data: &xm,
            rows: channels,
            cols,
            transposed: false,
        },
    );
    let mut y = col2im(&ycols, &window);
    let b = values(&bias);
    let n = ho * wo;
    y.par_chunks_mut(n).enumerate().for_each(|(bo, plane)| {
        let v = b[bo % out];
        plane.iter_mut().for_each(|p| *p += v);
    });
    from_vec(y, [batch, out, ho, wo].into())
}
