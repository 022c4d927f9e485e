//! im2col / col2im in the "channels-by-positions" layout used by the convolution fast paths.
//!
//! For a `[B, C, H, W]` image, a kernel `kh × kw`, stride `s` and symmetric zero padding `p`
//! with an output grid of `ho × wo` positions, the column matrix has `C·kh·kw` rows (ordered
//! channel, kernel row, kernel column — the flattening of a `[*, C, kh, kw]` weight) and
//! `B·ho·wo` columns (ordered batch, row, column). One GEMM against it then covers the whole
//! batch. Both directions split the work into disjoint output blocks (rows, or image planes)
//! whose contents are computed in a fixed order, so the result does not depend on the
//! number of threads.

use rayon::prelude::*;

/// Geometry of one convolution's sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Batch size B.
    pub batch: usize,
    /// Channels C of the image the window slides over.
    pub channels: usize,
    /// Image height and width.
    pub image: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride (rows, columns).
    pub stride: [usize; 2],
    /// Zero padding on each side (rows, columns).
    pub padding: [usize; 2],
    /// Output grid height and width.
    pub grid: [usize; 2],
}

impl Window {
    /// Rows of the column matrix (C·kh·kw).
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Positions per image (ho·wo).
    pub fn positions(&self) -> usize {
        self.grid[0] * self.grid[1]
    }

    /// Columns of the column matrix (B·ho·wo).
    pub fn cols(&self) -> usize {
        self.batch * self.positions()
    }

    /// Elements of the image tensor.
    pub fn image_len(&self) -> usize {
        self.batch * self.channels * self.image[0] * self.image[1]
    }

    /// Image coordinate of grid index `o` and kernel offset `k` along axis `a`, if inside.
    #[inline]
    fn source(&self, a: usize, o: usize, k: usize) -> Option<usize> {
        let pos = (o * self.stride[a] + k).checked_sub(self.padding[a])?;
        (pos < self.image[a]).then_some(pos)
    }
}

/// The column matrix `[C·kh·kw, B·ho·wo]` of `image` (`[B, C, H, W]`, contiguous).
pub fn im2col(image: &[f32], w: &Window) -> Vec<f32> {
    assert_eq!(image.len(), w.image_len(), "im2col: image size");
    let [kh, kw] = w.kernel;
    let [h, wd] = w.image;
    let [ho, wo] = w.grid;
    let (positions, cols) = (w.positions(), w.cols());
    let mut out = vec![0.0f32; w.rows() * cols];
    out.par_chunks_mut(cols).enumerate().for_each(|(row, dst)| {
        let c = row / (kh * kw);
        let (ki, kj) = ((row / kw) % kh, row % kw);
        for b in 0..w.batch {
            let plane = &image[(b * w.channels + c) * h * wd..][..h * wd];
            let dst = &mut dst[b * positions..][..positions];
            for oi in 0..ho {
                let Some(i) = w.source(0, oi, ki) else {
                    continue;
                };
                let src_row = &plane[i * wd..][..wd];
                let dst_row = &mut dst[oi * wo..][..wo];
                if w.stride[1] == 1 && w.padding[1] == 0 {
                    dst_row.copy_from_slice(&src_row[kj..kj + wo]);
                } else {
                    for (oj, d) in dst_row.iter_mut().enumerate() {
                        if let Some(j) = w.source(1, oj, kj) {
                            *d = src_row[j];
                        }
                    }
                }
            }
        }
    });
    out
}

/// The adjoint of [`im2col`]: sums every column entry back onto its image pixel, giving a
/// `[B, C, H, W]` image. Contributions to one pixel are added in kernel order.
pub fn col2im(cols_data: &[f32], w: &Window) -> Vec<f32> {
    assert_eq!(cols_data.len(), w.rows() * w.cols(), "col2im: column size");
    let [kh, kw] = w.kernel;
    let [h, wd] = w.image;
    let [ho, wo] = w.grid;
    let (positions, cols) = (w.positions(), w.cols());
    let mut out = vec![0.0f32; w.image_len()];
    out.par_chunks_mut(h * wd)
        .enumerate()
        .for_each(|(bc, plane)| {
            let (b, c) = (bc / w.channels, bc % w.channels);
            for ki in 0..kh {
                for kj in 0..kw {
                    let row = (c * kh + ki) * kw + kj;
                    let src = &cols_data[row * cols + b * positions..][..positions];
                    for oi in 0..ho {
                        let Some(i) = w.source(0, oi, ki) else {
                            continue;
                        };
                        let dst_row = &mut plane[i * wd..][..wd];
                        let src_row = &src[oi * wo..][..wo];
                        for (oj, &v) in src_row.iter().enumerate() {
                            if let Some(j) = w.source(1, oj, kj) {
                                dst_row[j] += v;
                            }
                        }
                    }
                }
            }
        });
    out
}

/// `[B, C, N]` → `[C, B·N]` (channels-by-positions, as [`im2col`] with a 1×1 kernel).
pub fn to_channel_major(x: &[f32], batch: usize, channels: usize, n: usize) -> Vec<f32> {
    assert_eq!(x.len(), batch * channels * n, "to_channel_major: size");
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(batch * n)
        .enumerate()
        .for_each(|(c, dst)| {
            for b in 0..batch {
                dst[b * n..][..n].copy_from_slice(&x[(b * channels + c) * n..][..n]);
            }
        });
    out
}

/// `[C, B·N]` → `[B, C, N]`, the inverse of [`to_channel_major`].
pub fn from_channel_major(x: &[f32], batch: usize, channels: usize, n: usize) -> Vec<f32> {
    assert_eq!(x.len(), batch * channels * n, "from_channel_major: size");
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(n).enumerate().for_each(|(bc, dst)| {
        let (b, c) = (bc / channels, bc % channels);
        dst.copy_from_slice(&x[c * batch * n + b * n..][..n]);
    });
    out
}
