//! Zero-padded 2D real FFT for the demag convolution, pruned for the zero padding.
//!
//! An ny × nx real field is embedded in a (2ny) × (2nx) grid whose other three quadrants are
//! zero. Rows: only the ny non-zero rows are transformed (real-to-complex, length 2nx).
//! Columns: a length-2ny transform of data that vanishes in its second half splits into two
//! length-ny transforms, `X[2m] = FFT(x)[m]` and `X[2m+1] = FFT(x·t)[m]` with
//! `t[n] = exp(−iπn/ny)`; the inverse needs only the first ny outputs and splits the same way.
//! Spectra are therefore stored column-major ("transposed") in an even/odd split order:
//! `spec[kx·2ny + (ky mod 2)·ny + ky/2]`, kx = 0..=nx. Pointwise products with kernel spectra
//! stored in the same order (see [`PaddedFft2::kernel_spectrum`]) are order-agnostic.

use std::f64::consts::PI;
use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Rows transposed together: turns strided scatter/gather into short contiguous runs.
const ROW_BLOCK: usize = 8;

/// Plans and buffers of the pruned, zero-padded 2D real FFT (single-threaded, no allocation
/// after construction).
pub struct PaddedFft2 {
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    ncx: usize,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
    twiddle: Vec<Complex<f64>>,
    row_real: Vec<f64>,
    row_spec: Vec<Complex<f64>>,
    row_block: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl std::fmt::Debug for PaddedFft2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaddedFft2")
            .field("nx", &self.nx)
            .field("ny", &self.ny)
            .finish_non_exhaustive()
    }
}

impl PaddedFft2 {
    /// Plans the transforms for an ny × nx field padded to 2ny × 2nx.
    pub fn new(nx: usize, ny: usize) -> Self {
        let (px, py) = (2 * nx, 2 * ny);
        let mut real_planner = RealFftPlanner::<f64>::new();
        let r2c = real_planner.plan_fft_forward(px);
        let c2r = real_planner.plan_fft_inverse(px);
        let mut planner = FftPlanner::<f64>::new();
        let col_fwd = planner.plan_fft_forward(ny);
        let col_inv = planner.plan_fft_inverse(ny);
        let scratch_len = r2c
            .get_scratch_len()
            .max(c2r.get_scratch_len())
            .max(col_fwd.get_inplace_scratch_len())
            .max(col_inv.get_inplace_scratch_len());
        let twiddle = (0..ny)
            .map(|n| Complex::from_polar(1.0, -PI * n as f64 / ny as f64))
            .collect();
        Self {
            nx,
            ny,
            px,
            py,
            ncx: nx + 1,
            r2c,
            c2r,
            col_fwd,
            col_inv,
            twiddle,
            row_real: vec![0.0; px],
            row_spec: vec![Complex::default(); nx + 1],
            row_block: vec![Complex::default(); ROW_BLOCK * (nx + 1)],
            scratch: vec![Complex::default(); scratch_len],
        }
    }

    /// Number of complex values of one spectrum.
    pub fn spectrum_len(&self) -> usize {
        self.ncx * self.py
    }

    /// Padded grid size (px, py) = (2nx, 2ny).
    pub fn padded_dims(&self) -> (usize, usize) {
        (self.px, self.py)
    }

    /// Storage index of frequency (kx, ky), 0 ≤ kx ≤ nx, 0 ≤ ky < 2ny.
    pub fn index(&self, kx: usize, ky: usize) -> usize {
        kx * self.py + (ky % 2) * self.ny + ky / 2
    }

    /// Row stage of the forward transform: the zero-padded rows of `field` (ny·nx values,
    /// x fastest) are transformed and scattered into the even halves of the columns of
    /// `spec`. Complete the transform with [`PaddedFft2::columns`].
    pub fn forward_rows(&mut self, field: &[f64], spec: &mut [Complex<f64>]) {
        let (nx, ny, py, ncx) = (self.nx, self.ny, self.py, self.ncx);
        debug_assert_eq!(field.len(), nx * ny);
        debug_assert_eq!(spec.len(), self.spectrum_len());
        for y0 in (0..ny).step_by(ROW_BLOCK) {
            let rows = ROW_BLOCK.min(ny - y0);
            for r in 0..rows {
                let y = y0 + r;
                self.row_real[..nx].copy_from_slice(&field[y * nx..(y + 1) * nx]);
                self.row_real[nx..].fill(0.0);
                self.r2c
                    .process_with_scratch(
                        &mut self.row_real,
                        &mut self.row_block[r * ncx..(r + 1) * ncx],
                        &mut self.scratch,
                    )
                    .expect("buffer lengths are fixed at construction");
            }
            for (kx, col) in spec.chunks_exact_mut(py).enumerate() {
                let even = &mut col[y0..y0 + rows];
                for (r, e) in even.iter_mut().enumerate() {
                    *e = self.row_block[r * ncx + kx];
                }
            }
        }
    }

    /// Column stage, fused per column so that each column stays in cache: the odd half is
    /// formed from the even half (x·t), forward column transforms of every spectrum,
    /// `op(kx, columns)` (pointwise work in frequency space, all spectra's column kx in storage
    /// order), inverse column transforms, and the two halves are recombined into the first ny
    /// entries (read by [`PaddedFft2::inverse_rows`]).
    pub fn columns<const K: usize>(
        &mut self,
        mut specs: [&mut [Complex<f64>]; K],
        mut op: impl FnMut(usize, &mut [&mut [Complex<f64>]; K]),
    ) {
        let (ny, py) = (self.ny, self.py);
        for kx in 0..self.ncx {
            let mut cols = specs.each_mut().map(|s| &mut s[kx * py..(kx + 1) * py]);
            for c in cols.iter_mut() {
                let (even, odd) = c.split_at_mut(ny);
                for ((o, e), t) in odd.iter_mut().zip(even.iter()).zip(&self.twiddle) {
                    *o = *e * *t;
                }
                self.col_fwd.process_with_scratch(c, &mut self.scratch);
            }
            op(kx, &mut cols);
            for c in cols.iter_mut() {
                self.col_inv.process_with_scratch(c, &mut self.scratch);
                let (even, odd) = c.split_at_mut(ny);
                for ((e, o), t) in even.iter_mut().zip(odd.iter()).zip(&self.twiddle) {
                    *e += t.conj() * *o;
                }
            }
        }
    }

    /// Row stage of the inverse transform after [`PaddedFft2::columns`]: keeps the unpadded
    /// ny × nx block, `out = scale · IFFT(spec)` (unnormalized). `spec` is used as scratch.
    pub fn inverse_rows(&mut self, spec: &mut [Complex<f64>], out: &mut [f64], scale: f64) {
        let (nx, ny, py, ncx) = (self.nx, self.ny, self.py, self.ncx);
        debug_assert_eq!(out.len(), nx * ny);
        for y0 in (0..ny).step_by(ROW_BLOCK) {
            let rows = ROW_BLOCK.min(ny - y0);
            for (kx, col) in spec.chunks_exact(py).enumerate() {
                for (r, &v) in col[y0..y0 + rows].iter().enumerate() {
                    self.row_block[r * ncx + kx] = v;
                }
            }
            for r in 0..rows {
                let y = y0 + r;
                let row_spec = &mut self.row_block[r * ncx..(r + 1) * ncx];
                // The DC and Nyquist bins of a real signal are real; drop round-off.
                row_spec[0].im = 0.0;
                row_spec[ncx - 1].im = 0.0;
                self.c2r
                    .process_with_scratch(row_spec, &mut self.row_real, &mut self.scratch)
                    .expect("buffer lengths are fixed and DC/Nyquist bins are real");
                for (o, &v) in out[y * nx..(y + 1) * nx].iter_mut().zip(&self.row_real) {
                    *o = scale * v;
                }
            }
        }
    }

    /// Full (unpruned) spectrum of a real py × px array, returned in this module's storage
    /// order. Returns (real parts, largest |imaginary part|).
    pub fn kernel_spectrum(&mut self, full: &[f64]) -> (Vec<f64>, f64) {
        let (px, py, ncx) = (self.px, self.py, self.ncx);
        debug_assert_eq!(full.len(), px * py);
        let mut planner = FftPlanner::<f64>::new();
        let col = planner.plan_fft_forward(py);
        let mut natural = vec![Complex::default(); ncx * py];
        for (ky, row) in full.chunks_exact(px).enumerate() {
            self.row_real.copy_from_slice(row);
            self.r2c
                .process_with_scratch(&mut self.row_real, &mut self.row_spec, &mut self.scratch)
                .expect("buffer lengths are fixed at construction");
            for (kx, &v) in self.row_spec.iter().enumerate() {
                natural[kx * py + ky] = v;
            }
        }
        col.process(&mut natural);
        let mut out = vec![0.0; ncx * py];
        let mut max_im: f64 = 0.0;
        for kx in 0..ncx {
            for ky in 0..py {
                let v = natural[kx * py + ky];
                out[self.index(kx, ky)] = v.re;
                max_im = max_im.max(v.im.abs());
            }
        }
        (out, max_im)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct O(n⁴) linear (non-circular) convolution for checking.
    fn direct_conv(f: &[f64], k: &dyn Fn(isize, isize) -> f64, nx: usize, ny: usize) -> Vec<f64> {
        let mut out = vec![0.0; nx * ny];
        for iy in 0..ny {
            for ix in 0..nx {
                let mut s = 0.0;
                for jy in 0..ny {
                    for jx in 0..nx {
                        s += k(ix as isize - jx as isize, iy as isize - jy as isize)
                            * f[jy * nx + jx];
                    }
                }
                out[iy * nx + ix] = s;
            }
        }
        out
    }

    #[test]
    fn pruned_padded_convolution_matches_direct_sum() {
        for (nx, ny) in [(5, 3), (4, 6), (1, 7), (6, 1), (8, 8)] {
            // Even and odd-odd kernels, as in the demag tensor.
            let even = |x: isize, y: isize| 1.0 / (1.0 + (x * x + 2 * y * y) as f64);
            let odd = |x: isize, y: isize| (x * y) as f64 / (1.0 + (x * x + y * y) as f64);
            let f: Vec<f64> = (0..nx * ny)
                .map(|i| ((i * 7919) % 13) as f64 - 6.0)
                .collect();
            let mut fft = PaddedFft2::new(nx, ny);
            let (px, py) = fft.padded_dims();
            for (kernel, _name) in [
                (&even as &dyn Fn(isize, isize) -> f64, "even"),
                (&odd as &dyn Fn(isize, isize) -> f64, "odd"),
            ] {
                let mut full = vec![0.0; px * py];
                for oy in -(ny as isize - 1)..ny as isize {
                    for ox in -(nx as isize - 1)..nx as isize {
                        let ix = ox.rem_euclid(px as isize) as usize;
                        let iy = oy.rem_euclid(py as isize) as usize;
                        full[iy * px + ix] = kernel(ox, oy);
                    }
                }
                let (kspec, max_im) = fft.kernel_spectrum(&full);
                assert!(max_im < 1e-12, "kernel spectrum not real: {max_im}");
                let mut spec = vec![Complex::default(); fft.spectrum_len()];
                fft.forward_rows(&f, &mut spec);
                fft.columns([&mut spec[..]], |kx, [col]| {
                    for (s, k) in col.iter_mut().zip(&kspec[kx * py..(kx + 1) * py]) {
                        *s *= *k;
                    }
                });
                let mut out = vec![0.0; nx * ny];
                fft.inverse_rows(&mut spec, &mut out, 1.0 / (px * py) as f64);
                let reference = direct_conv(&f, kernel, nx, ny);
                for (a, b) in out.iter().zip(reference.iter()) {
                    assert!((a - b).abs() < 1e-12, "{nx}x{ny}: {a} vs {b}");
                }
            }
        }
    }
}
