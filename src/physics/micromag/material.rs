//! Material parameters (uniform over the sample) and derived quantities.

use crate::physics::error::PhysicsError;

pub use crate::physics::constants::MU0;

/// Uniform magnetic material: exchange stiffness, saturation polarization, uniaxial anisotropy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    /// Exchange stiffness A in J/m.
    pub exchange_a: f64,
    /// Saturation polarization μ0·Ms in tesla.
    pub mu0_ms: f64,
    /// First uniaxial anisotropy constant K1 in J/m³.
    pub k1: f64,
}

impl Material {
    /// Nd2Fe14B as in Kovacs et al.: A = 8 pJ/m, μ0Ms = 1.61 T, K1 = 4.2 MJ/m³.
    pub fn nd2fe14b() -> Self {
        Self {
            exchange_a: 8e-12,
            mu0_ms: 1.61,
            k1: 4.2e6,
        }
    }

    /// Builds a material from Ms in A/m instead of μ0Ms.
    pub fn from_ms(exchange_a: f64, ms: f64, k1: f64) -> Self {
        Self {
            exchange_a,
            mu0_ms: MU0 * ms,
            k1,
        }
    }

    /// Checks that all parameters are finite, Ms > 0, A ≥ 0 and K1 ≥ 0.
    pub fn validate(&self) -> Result<(), PhysicsError> {
        let ok = self.exchange_a.is_finite()
            && self.mu0_ms.is_finite()
            && self.k1.is_finite()
            && self.exchange_a >= 0.0
            && self.mu0_ms > 0.0
            && self.k1 >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(PhysicsError::InvalidMaterial(format!("{self:?}")))
        }
    }

    /// Saturation magnetization Ms in A/m.
    pub fn ms(&self) -> f64 {
        self.mu0_ms / MU0
    }

    /// Anisotropy field as a polarization, μ0·HA = 2K1/Ms, in tesla.
    pub fn mu0_ha(&self) -> f64 {
        2.0 * self.k1 / self.ms()
    }

    /// Anisotropy field HA = 2K1/(μ0 Ms) in A/m.
    pub fn ha(&self) -> f64 {
        self.mu0_ha() / MU0
    }

    /// Magnetostatic energy density Km = μ0 Ms²/2 in J/m³.
    pub fn km(&self) -> f64 {
        0.5 * self.mu0_ms * self.ms()
    }

    /// Exchange length √(A/Km) in metres.
    pub fn exchange_length(&self) -> f64 {
        (self.exchange_a / self.km()).sqrt()
    }

    /// Bloch wall width parameter δ0 = √(A/K1) in metres (infinite for K1 = 0).
    pub fn wall_width(&self) -> f64 {
        (self.exchange_a / self.k1).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nd2fe14b_derived_quantities_match_notes() {
        let m = Material::nd2fe14b();
        assert!((m.ms() - 1_281_197.29).abs() < 0.01);
        assert!((m.mu0_ha() - 6.556367).abs() < 1e-6);
        assert!((m.ha() - 5_217_391.3).abs() < 0.1);
        assert!((m.km() - 1.031364e6).abs() < 1.0);
        assert!((m.exchange_length() - 2.785e-9).abs() < 1e-12);
        assert!((m.wall_width() - 1.380e-9).abs() < 1e-12);
        let prefactor = 2.0 * m.exchange_a / (m.ms() * 4e-18);
        assert!((prefactor - 3.1221).abs() < 1e-4);
    }
}
