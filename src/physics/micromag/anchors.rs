//! Anchor points of a demagnetization curve (Kovacs et al. §2.2).

/// Where a curve first reaches a magnetization level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crossing {
    /// Field (HA units) at which M first falls to the level, interpolated linearly between the
    /// two field steps that bracket it (the first field if the curve already starts there).
    At(f64),
    /// M stays above the level over the whole sweep.
    NotReached,
    /// The level cannot be defined: Mr is unavailable (h = 0 not swept) or the input contains
    /// non-finite values.
    Undefined,
}

impl Crossing {
    /// The field, if the level was reached.
    pub fn value(self) -> Option<f64> {
        match self {
            Self::At(h) => Some(h),
            Self::NotReached | Self::Undefined => None,
        }
    }
}

/// The six anchors of a demagnetization curve.
///
/// Units and signs: magnetizations in units of Ms, fields in units of HA = 2K1/(μ0Ms), both
/// signed along the applied-field direction ĥ (the initial saturation direction, +y). On the
/// descending branch the knee fields and the coercive field are therefore negative: Hc = −0.55
/// means M vanishes at a field of 0.55 HA opposing the initial magnetization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchors {
    /// M1 = M(h = +1), None if the sweep does not include h = 1.
    pub m1: Option<f64>,
    /// Mr = M(h = 0), None if the sweep does not include h = 0.
    pub mr: Option<f64>,
    /// Hk90: M first falls to 0.9·Mr.
    pub hk90: Crossing,
    /// Hk80: M first falls to 0.8·Mr.
    pub hk80: Crossing,
    /// Hk70: M first falls to 0.7·Mr.
    pub hk70: Crossing,
    /// Hc: M first falls to 0.
    pub hc: Crossing,
}

impl Anchors {
    /// [M1, Mr, Hk90, Hk80, Hk70, Hc] with `None` for anything unavailable.
    pub fn to_array(&self) -> [Option<f64>; 6] {
        [
            self.m1,
            self.mr,
            self.hk90.value(),
            self.hk80.value(),
            self.hk70.value(),
            self.hc.value(),
        ]
    }
}

/// M at the first point where the sweep passes `h_target`, linearly interpolated.
fn value_at_field(h: &[f64], m: &[f64], h_target: f64) -> Option<f64> {
    if h.first() == Some(&h_target) {
        return m.first().copied();
    }
    for k in 1..h.len() {
        let (h0, h1) = (h[k - 1], h[k]);
        if h1 == h_target {
            return Some(m[k]);
        }
        if (h0 - h_target) * (h1 - h_target) < 0.0 {
            let t = (h_target - h0) / (h1 - h0);
            return Some(m[k - 1] + t * (m[k] - m[k - 1]));
        }
    }
    None
}

/// Field at which M first falls to `level` (scanning from the start of the sweep).
fn first_fall(h: &[f64], m: &[f64], level: f64) -> Crossing {
    for k in 0..m.len() {
        if m[k] <= level {
            if k == 0 || m[k] == level {
                return Crossing::At(h[k]);
            }
            let t = (m[k - 1] - level) / (m[k - 1] - m[k]);
            return Crossing::At(h[k - 1] + t * (h[k] - h[k - 1]));
        }
    }
    Crossing::NotReached
}

/// Anchors of the curve M(h) (fields h in HA units in sweep order, M in Ms units). Extra
/// entries of the longer slice are ignored. Never returns NaN: unavailable quantities are
/// `None` / [`Crossing::NotReached`] / [`Crossing::Undefined`].
pub fn anchors(h: &[f64], m: &[f64]) -> Anchors {
    let len = h.len().min(m.len());
    let (h, m) = (&h[..len], &m[..len]);
    if h.iter().chain(m).any(|v| !v.is_finite()) {
        return Anchors {
            m1: None,
            mr: None,
            hk90: Crossing::Undefined,
            hk80: Crossing::Undefined,
            hk70: Crossing::Undefined,
            hc: Crossing::Undefined,
        };
    }
    let mr = value_at_field(h, m, 0.0);
    let knee = |f: f64| mr.map_or(Crossing::Undefined, |r| first_fall(h, m, f * r));
    Anchors {
        m1: value_at_field(h, m, 1.0),
        mr,
        hk90: knee(0.9),
        hk80: knee(0.8),
        hk70: knee(0.7),
        hc: first_fall(h, m, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_interpolation_and_not_reached() {
        let h = [1.0, 0.5, 0.0, -0.5, -1.0];
        let m = [1.0, 0.9, 0.8, 0.4, -0.8];
        let a = anchors(&h, &m);
        assert_eq!(a.m1, Some(1.0));
        assert_eq!(a.mr, Some(0.8));
        // 0.72 lies between 0.8 (h = 0) and 0.4 (h = −0.5): t = 0.2.
        assert!((a.hk90.value().expect("reached") + 0.1).abs() < 1e-12);
        // 0 between 0.4 (h = −0.5) and −0.8 (h = −1): t = 1/3.
        assert!((a.hc.value().expect("reached") + 0.5 - (-0.5 / 3.0)).abs() < 1e-12);
        let flat = anchors(&h, &[1.0, 1.0, 1.0, 0.95, 0.95]);
        assert_eq!(flat.hc, Crossing::NotReached);
        assert_eq!(flat.hk90, Crossing::NotReached);
        let partial = anchors(&[1.0, 0.5], &[1.0, 0.9]);
        assert_eq!(partial.mr, None);
        assert_eq!(partial.hk80, Crossing::Undefined);
        let nan = anchors(&h, &[1.0, f64::NAN, 0.8, 0.4, -0.8]);
        assert_eq!(nan.to_array(), [None; 6]);
    }
}
