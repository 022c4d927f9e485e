//! Fast CPU paths for the hot operations of the conv models, as burn backend extensions.
//!
//! burn-flex 0.22 composes ELU from five tensor ops (and its backward from as many again), and
//! differentiates 2-D (transposed) convolutions through generic fallbacks. The ops here are
//! custom autodiff operations (`#[backend_extension]`): a fused forward on flex plus a
//! hand-written backward. They run only on the flex backend with `f32` data; on every other
//! device (Vulkan, CUDA) and dtype the public functions fall back to burn's own ops, so the
//! GPU paths are unchanged.
//!
//! Each op is checked against burn's generic path and against finite differences in
//! `fast/tests.rs`.

mod conv;
mod ext;
mod gemm;
mod host;
mod im2col;

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{DType, Tensor};

use ext::FastOps;

/// Whether `tensor` lives on flex (with or without autodiff) and holds `f32` values.
fn on_flex_f32<const D: usize>(tensor: &Tensor<D>) -> bool {
    tensor.dtype() == DType::F32
        && matches!(
            tensor.device().inner().as_dispatch(),
            DispatchDevice::Flex(_)
        )
}

/// ELU with α = 1: `x` for x > 0, `exp(x) − 1` otherwise. One pass forward, one pass backward
/// (the derivative `1` or `y + 1` comes from the saved output) on flex.
pub fn elu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if on_flex_f32(&x) {
        Tensor::from_dispatch(<Dispatch as FastOps>::elu(x.into_dispatch()))
    } else {
        burn::tensor::activation::elu(x, 1.0)
    }
}

/// Symmetric padding `[rows, columns]` of a conv layer, or `None` (asymmetric or "same").
fn symmetric_padding(padding: &PaddingConfig2d) -> Option<[usize; 2]> {
    match *padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            (top == bottom && left == right).then_some([top, left])
        }
        PaddingConfig2d::Same => None,
    }
}

/// Largest im2col matrix (elements) of a convolution's fast backward. Above it (e.g. the 3×3
/// layers of ResNet-18 at 224×224, batch 16: 29 M) the column matrix streams from memory and
/// burn's generic backward measured faster.
const MAX_COLUMN_ELEMENTS: usize = 16 << 20;

/// Elements of the im2col matrix of `conv` applied to an input of shape `dims`.
fn column_elements(conv: &Conv2d, dims: [usize; 4], padding: [usize; 2]) -> usize {
    let [batch, channels, h, w] = dims;
    let [kh, kw] = conv.kernel_size;
    let out = |n: usize, k: usize, p: usize, s: usize| (n + 2 * p).saturating_sub(k) / s + 1;
    let positions = out(h, kh, padding[0], conv.stride[0]) * out(w, kw, padding[1], conv.stride[1]);
    channels * kh * kw * batch * positions
}

/// `conv.forward(x)`, with the backward pass as im2col + GEMM over the batch on flex (groups 1,
/// dilation 1, symmetric padding, column matrix up to [`MAX_COLUMN_ELEMENTS`]; a layer without
/// bias gets a constant zero bias); any other layer or device uses burn's own op.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = symmetric_padding(&conv.padding);
    match padding {
        Some(padding)
            if on_flex_f32(&x)
                && conv.groups == 1
                && conv.dilation == [1, 1]
                && column_elements(conv, x.dims(), padding) <= MAX_COLUMN_ELEMENTS =>
        {
            let weight = conv.weight.val();
            let bias = match &conv.bias {
                Some(bias) => bias.val(),
                None => Tensor::zeros([weight.dims()[0]], &x.device()),
            };
            Tensor::from_dispatch(<Dispatch as FastOps>::conv2d(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                conv.stride,
                padding,
            ))
        }
        _ => conv.forward(x),
    }
}

/// `deconv.forward(x)`, with the backward pass computed by im2col + GEMM on flex (groups 1,
/// dilation 1, bias, no output padding); any other layer or device uses burn's own op.
pub fn conv_transpose2d(deconv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    match &deconv.bias {
        Some(bias)
            if on_flex_f32(&x)
                && deconv.groups == 1
                && deconv.dilation == [1, 1]
                && deconv.padding_out == [0, 0] =>
        {
            Tensor::from_dispatch(<Dispatch as FastOps>::conv_transpose2d(
                x.into_dispatch(),
                deconv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                deconv.stride,
                deconv.padding,
            ))
        }
        _ => deconv.forward(x),
    }
}

#[cfg(test)]
mod tests;
