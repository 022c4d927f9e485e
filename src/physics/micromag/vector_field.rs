//! Cell-wise 3-vector fields in structure-of-arrays layout.

/// A 3-vector per cell, stored as three contiguous component arrays (flat cell index
/// `iy * nx + ix`). In the in-plane mode the z array is kept but stays zero.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorField {
    /// x components.
    pub x: Vec<f64>,
    /// y components.
    pub y: Vec<f64>,
    /// z components.
    pub z: Vec<f64>,
}

impl VectorField {
    /// A field of `n` zero vectors.
    pub fn zeros(n: usize) -> Self {
        Self {
            x: vec![0.0; n],
            y: vec![0.0; n],
            z: vec![0.0; n],
        }
    }

    /// A field of `n` copies of `v`.
    pub fn uniform(n: usize, v: [f64; 3]) -> Self {
        Self {
            x: vec![v[0]; n],
            y: vec![v[1]; n],
            z: vec![v[2]; n],
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when the field has no cells.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// The vector of cell `i`.
    pub fn get(&self, i: usize) -> [f64; 3] {
        [self.x[i], self.y[i], self.z[i]]
    }

    /// Sets the vector of cell `i`.
    pub fn set(&mut self, i: usize, v: [f64; 3]) {
        self.x[i] = v[0];
        self.y[i] = v[1];
        self.z[i] = v[2];
    }

    /// Copies all components from `other` (same length).
    pub fn copy_from(&mut self, other: &VectorField) {
        self.x.copy_from_slice(&other.x);
        self.y.copy_from_slice(&other.y);
        self.z.copy_from_slice(&other.z);
    }

    /// Scales every vector to unit length (zero vectors are left unchanged).
    pub fn normalize(&mut self) {
        for i in 0..self.len() {
            let n2 = self.x[i] * self.x[i] + self.y[i] * self.y[i] + self.z[i] * self.z[i];
            if n2 > 0.0 {
                let inv = 1.0 / n2.sqrt();
                self.x[i] *= inv;
                self.y[i] *= inv;
                self.z[i] *= inv;
            }
        }
    }

    /// Cell average of the vectors, summed in cell order (deterministic).
    pub fn mean(&self) -> [f64; 3] {
        let n = self.len().max(1) as f64;
        [
            self.x.iter().sum::<f64>() / n,
            self.y.iter().sum::<f64>() / n,
            self.z.iter().sum::<f64>() / n,
        ]
    }
}

/// Number of independent partial sums in [`lane_sum`] (lets the loop vectorize).
pub const LANES: usize = 8;

/// Σ_{i<n} term(i) with a fixed summation order: cell i goes to partial sum i mod [`LANES`],
/// partial sums are added in lane order. Deterministic and independent of threading.
#[inline]
pub fn lane_sum(n: usize, term: impl Fn(usize) -> f64) -> f64 {
    let mut acc = [0.0; LANES];
    let full = n / LANES * LANES;
    for base in (0..full).step_by(LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += term(base + l);
        }
    }
    for i in full..n {
        acc[i - full] += term(i);
    }
    acc.iter().sum()
}
