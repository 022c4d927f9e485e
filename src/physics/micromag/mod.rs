//! Kovacs et al.'s micromagnetics: 2D Voronoi grain structures ([`grains`]) and a fidimag-class
//! energy minimizer on a single-layer finite-difference mesh, one file per energy term
//! ([`exchange`], [`anisotropy`], [`zeeman`], [`demag`] with its kernel and padded FFT) composed in
//! [`field`], relaxed by [`minimizer`] (Barzilai–Borwein) or [`ncg`], swept along a
//! demagnetization curve ([`curve`]) whose anchor points [`anchors`] reads.

pub mod anchors;
pub mod anisotropy;
pub mod curve;
pub mod demag;
pub mod demag_kernel;
pub mod exchange;
pub mod field;
pub mod grains;
pub mod material;
pub mod mesh;
pub mod minimizer;
pub mod ncg;
pub mod padded_fft;
pub mod vector_field;
pub mod zeeman;
