//! Pure numerics (f64, ndarray/rayon/rustfft); knows nothing of burn or the engine.
//!
//! - Kovacs et al.: 2D Voronoi grain structures ([`grains`]) and a fidimag-class micromagnetic
//!   energy minimizer — exchange, uniaxial anisotropy, Zeeman and FFT demag on a single-layer
//!   finite-difference mesh (one file per energy term, as in mumax3's engine), relaxed by
//!   curvilinear steepest descent with Barzilai–Borwein steps or preconditioned nonlinear
//!   conjugate gradient in the cell angles ([`ncg`]), swept along a demagnetization
//!   curve ([`curve`]), and its anchor points ([`anchors`]). One structure is solved on one
//!   thread, so results are bitwise identical whatever the thread count.
//! - Kornell et al.: Stoner–Wohlfarth particles ([`stoner_wohlfarth`]), cubic grains and the
//!   embedded Stoner–Wohlfarth model ([`esw`]).
//! - Pollok et al.: fields of uniformly magnetized prisms ([`prism`]) and the design space
//!   ([`prism_design`]).

pub mod anchors;
pub mod anisotropy;
pub mod cubic_grains;
pub mod curve;
pub mod demag;
pub mod demag_kernel;
pub mod error;
pub mod esw;
mod esw_state;
pub mod exchange;
pub mod field;
pub mod grains;
pub mod material;
pub mod mesh;
pub mod minimizer;
pub mod ncg;
pub mod padded_fft;
pub mod prism;
pub mod prism_design;
#[cfg(test)]
mod prism_reference;
pub mod stoner_wohlfarth;
pub mod vector_field;
pub mod zeeman;

pub use anchors::{Anchors, Crossing, anchors};
pub use curve::{
    CurveOptions, DemagCurve, DemagCurveSolver, SweepOptions, demag_curve, easy_axes_from_angles,
};
pub use demag::DemagSpectra;
pub use demag_kernel::{DemagKernelKind, DemagTensor, KernelOptions};
pub use error::PhysicsError;
pub use field::{EffectiveField, EnergyTerms, MagnetizationMode};
pub use material::{MU0, Material};
pub use mesh::Mesh;
pub use minimizer::{EnergyGuard, Minimizer, MinimizerConfig, MinimizerKind, RelaxOutcome};
pub use ncg::NcgOptions;
pub use vector_field::VectorField;
