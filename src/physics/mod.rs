//! Pure numerics (f64, ndarray/rayon/rustfft); knows nothing of burn or the engine.
//!
//! Grouped by paper: [`micromag`], [`esw`], the prism field [`prism`] with its design space
//! [`prism_design`], and [`constants`] (the one home of μ0).
//!
//! - Kovacs et al. ([`micromag`]): 2D Voronoi grain structures ([`micromag::grains`]) and a fidimag-class micromagnetic
//!   energy minimizer — exchange, uniaxial anisotropy, Zeeman and FFT demag on a single-layer
//!   finite-difference mesh (one file per energy term, as in mumax3's engine), relaxed by
//!   curvilinear steepest descent with Barzilai–Borwein steps or preconditioned nonlinear
//!   conjugate gradient in the cell angles ([`micromag::ncg`]), swept along a demagnetization
//!   curve ([`micromag::curve`]), and its anchor points ([`micromag::anchors`]). One structure is solved on one
//!   thread, so results are bitwise identical whatever the thread count.
//! - Kornell et al.: Stoner–Wohlfarth particles ([`esw::stoner_wohlfarth`]), cubic grains and the
//!   embedded Stoner–Wohlfarth model ([`esw`]).
//! - Pollok et al.: fields of uniformly magnetized prisms ([`prism`]) and the design space
//!   ([`prism_design`]).

pub mod constants;
pub mod error;
pub mod esw;
pub mod micromag;
pub mod prism;
pub mod prism_design;
#[cfg(test)]
mod prism_reference;

pub use constants::MU0;
pub use error::PhysicsError;
pub use micromag::anchors::{Anchors, Crossing, anchors};
pub use micromag::curve::{
    CurveOptions, DemagCurve, DemagCurveSolver, SweepOptions, demag_curve, easy_axes_from_angles,
};
pub use micromag::demag::DemagSpectra;
pub use micromag::demag_kernel::{DemagKernelKind, DemagTensor, KernelOptions};
pub use micromag::field::{EffectiveField, EnergyTerms, MagnetizationMode};
pub use micromag::material::Material;
pub use micromag::mesh::Mesh;
pub use micromag::minimizer::{
    EnergyGuard, Minimizer, MinimizerConfig, MinimizerKind, RelaxOutcome,
};
pub use micromag::ncg::NcgOptions;
pub use micromag::vector_field::VectorField;
