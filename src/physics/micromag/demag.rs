//! Demagnetizing field by FFT convolution of the magnetization with the demag tensor.

use std::sync::Arc;

use rustfft::num_complex::Complex;

use crate::physics::error::PhysicsError;
use crate::physics::micromag::demag_kernel::{DemagKernelKind, DemagTensor, KernelOptions};
use crate::physics::micromag::mesh::Mesh;
use crate::physics::micromag::padded_fft::PaddedFft2;
use crate::physics::micromag::vector_field::VectorField;

/// Real spectra of the demag tensor components on the zero-padded grid, normalized for the
/// inverse FFT. Depends only on the mesh and kernel choice: build once, share (it is `Sync`)
/// between all structures and threads.
#[derive(Debug, Clone)]
pub struct DemagSpectra {
    nx: usize,
    ny: usize,
    kind: DemagKernelKind,
    kxx: Vec<f64>,
    kyy: Vec<f64>,
    kxy: Vec<f64>,
    /// Only for the 3D kernel (the 2D kernel has Nzz = 0).
    kzz: Option<Vec<f64>>,
}

impl DemagSpectra {
    /// Builds the tensor for `mesh` and transforms it.
    pub fn new(mesh: &Mesh, opts: &KernelOptions) -> Result<Self, PhysicsError> {
        let tensor = DemagTensor::new(mesh, opts)?;
        Ok(Self::from_tensor(&tensor, opts.kind))
    }

    /// Transforms an already computed tensor.
    pub fn from_tensor(tensor: &DemagTensor, kind: DemagKernelKind) -> Self {
        let (nx, ny) = (tensor.nx(), tensor.ny());
        let mut fft = PaddedFft2::new(nx, ny);
        let (px, py) = fft.padded_dims();
        let norm = 1.0 / (px * py) as f64;
        let mut full = [
            vec![0.0; px * py],
            vec![0.0; px * py],
            vec![0.0; px * py],
            vec![0.0; px * py],
        ];
        for oy in -(ny as isize - 1)..ny as isize {
            for ox in -(nx as isize - 1)..nx as isize {
                let idx =
                    oy.rem_euclid(py as isize) as usize * px + ox.rem_euclid(px as isize) as usize;
                for (c, v) in tensor.get(ox, oy).into_iter().enumerate() {
                    full[c][idx] = v * norm;
                }
            }
        }
        let mut spectrum = |a: &[f64]| {
            let (s, max_im) = fft.kernel_spectrum(a);
            if max_im > 1e-12 {
                tracing::warn!(
                    max_im,
                    "demag kernel spectrum has a sizeable imaginary part"
                );
            }
            s
        };
        let kxx = spectrum(&full[0]);
        let kyy = spectrum(&full[1]);
        let kzz = match kind {
            DemagKernelKind::Exact2d => None,
            DemagKernelKind::Newell3d => Some(spectrum(&full[2])),
        };
        let kxy = spectrum(&full[3]);
        Self {
            nx,
            ny,
            kind,
            kxx,
            kyy,
            kxy,
            kzz,
        }
    }

    /// (nx, ny) of the mesh the spectra were built for.
    pub fn dims(&self) -> (usize, usize) {
        (self.nx, self.ny)
    }

    /// Kernel the spectra were built from.
    pub fn kind(&self) -> DemagKernelKind {
        self.kind
    }
}

/// Workspace that evaluates the demag field `B_d = −μ0Ms N∗m` (tesla) for one structure.
#[derive(Debug)]
pub struct Demag {
    spectra: Arc<DemagSpectra>,
    fft: PaddedFft2,
    sx: Vec<Complex<f64>>,
    sy: Vec<Complex<f64>>,
    sz: Vec<Complex<f64>>,
    mu0_ms: f64,
}

impl Demag {
    /// Allocates the buffers for `spectra` and saturation polarization `mu0_ms` (T).
    pub fn new(spectra: Arc<DemagSpectra>, mu0_ms: f64) -> Self {
        let (nx, ny) = spectra.dims();
        let fft = PaddedFft2::new(nx, ny);
        let len = fft.spectrum_len();
        let sz = if spectra.kzz.is_some() {
            vec![Complex::default(); len]
        } else {
            Vec::new()
        };
        Self {
            spectra,
            fft,
            sx: vec![Complex::default(); len],
            sy: vec![Complex::default(); len],
            sz,
            mu0_ms,
        }
    }

    /// Overwrites `b` with the demag field of `m`. With `ncomp == 2` only the in-plane
    /// components are computed (m_z is assumed zero and b_z is left untouched).
    pub fn set_field(&mut self, m: &VectorField, b: &mut VectorField, ncomp: usize) {
        let s = &*self.spectra;
        let py = 2 * s.ny;
        self.fft.forward_rows(&m.x, &mut self.sx);
        self.fft.forward_rows(&m.y, &mut self.sy);
        self.fft
            .columns([&mut self.sx[..], &mut self.sy[..]], |kx, [cx, cy]| {
                let range = kx * py..(kx + 1) * py;
                let (kxx, kyy, kxy) = (&s.kxx[range.clone()], &s.kyy[range.clone()], &s.kxy[range]);
                for i in 0..py {
                    let (mx, my) = (cx[i], cy[i]);
                    cx[i] = mx * kxx[i] + my * kxy[i];
                    cy[i] = mx * kxy[i] + my * kyy[i];
                }
            });
        let scale = -self.mu0_ms;
        self.fft.inverse_rows(&mut self.sx, &mut b.x, scale);
        self.fft.inverse_rows(&mut self.sy, &mut b.y, scale);
        if ncomp == 3 {
            match &s.kzz {
                Some(kzz) => {
                    self.fft.forward_rows(&m.z, &mut self.sz);
                    self.fft.columns([&mut self.sz[..]], |kx, [cz]| {
                        for (z, k) in cz.iter_mut().zip(&kzz[kx * py..(kx + 1) * py]) {
                            *z *= *k;
                        }
                    });
                    self.fft.inverse_rows(&mut self.sz, &mut b.z, scale);
                }
                None => b.z.fill(0.0),
            }
        }
    }
}
