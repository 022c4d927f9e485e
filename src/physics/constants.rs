//! Physical constants shared by every model (SI units).

/// Vacuum permeability μ0 in T·m/A (pre-2019 SI value 4π·10⁻⁷, as the reference codes use).
pub const MU0: f64 = 4.0e-7 * std::f64::consts::PI;
