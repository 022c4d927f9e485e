//! Pure numerics (f64, ndarray/rayon/rustfft): grain structures, micromagnetics (one file per energy
//! term), anchor points, Stoner–Wohlfarth, the embedded Stoner–Wohlfarth model, prism-magnet fields.
//! Knows nothing of burn or the engine.

pub mod cubic_grains;
pub mod esw;
mod esw_state;
pub mod grains;
pub mod prism;
pub mod prism_design;
#[cfg(test)]
mod prism_reference;
pub mod stoner_wohlfarth;
