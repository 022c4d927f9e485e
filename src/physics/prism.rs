//! Field of a uniformly magnetized rectangular prism (box).
//!
//! The field is written through the point demagnetizing tensor N(r) of the box: H(r) = −N(r)·M,
//! with H in the units of M (pass M = B_r/μ0 in A/m, or μ0M in tesla to get μ0H in tesla).
//! Inside the box this is the demagnetizing field H, not B. trace N = 1 inside and 0 outside.
//!
//! Corner-sum form (Furlani; Engel-Herbert & Hesjedal, J. Appl. Phys. 97, 074504 (2005)).
//! For the box [x1,x2]×[y1,y2]×[z1,z2] and corners i,j,k ∈ {1,2}, with X = x − x_i, Y = y − y_j,
//! Z = z − z_k, R = √(X²+Y²+Z²) and s = (−1)^{i+j+k}:
//! ```text
//! N_xx = −(1/4π) Σ s atan(YZ/(XR))      N_xy = (1/4π) Σ s ln(Z+R)
//! N_yy = −(1/4π) Σ s atan(XZ/(YR))      N_xz = (1/4π) Σ s ln(Y+R)
//! N_zz = −(1/4π) Σ s atan(XY/(ZR))      N_yz = (1/4π) Σ s ln(X+R)
//! ```
//! Numerical conventions (all tested):
//! - plain `atan` of the ratio, never `atan2` (which is off by π inside the box);
//! - `ln(w+R)` with w < 0 is evaluated as `ln((u²+v²)/(R−w))` (no cancellation near the line
//!   u = v = 0);
//! - **face planes**: where the atan denominator is exactly zero the term is taken as 0, the mean
//!   of its two one-sided limits. On a face the result is therefore the average of the fields just
//!   inside and just outside (trace N = ½); away from the face (same plane, outside the face) the
//!   field is continuous and the convention gives its exact value;
//! - **edge line extensions** (on the line of an edge, outside the box): the divergent `ln ρ²`
//!   pieces of the two corners on that line cancel exactly; they are dropped, which returns the
//!   exact (finite, continuous) field;
//! - **edges and corners**: the field is infinite (logarithmic singularity); the functions return
//!   [`PrismError::OnEdge`]. Only exact hits are errors; a point 1e-17 away from an edge gets the
//!   (large, finite) true value.
//!
//! Far from the box (r/L ≳ 1000) cancellation in the corner sum costs precision; the dipole
//! tensor ([`dipole_tensor`], used by [`prism_tensor_far`]) is then the better choice.

use std::f64::consts::PI;

/// A 3×3 tensor, row-major: `t[row][col]`.
pub type Tensor3 = [[f64; 3]; 3];

/// Errors of the prism-field functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrismError {
    /// Side lengths must be finite and strictly positive.
    #[error("prism side lengths must be finite and positive, got {0:?}")]
    InvalidDims([f64; 3]),
    /// The evaluation point (or centre, or magnetization) has a non-finite component.
    #[error("non-finite input {0:?}")]
    NonFinite([f64; 3]),
    /// The point lies exactly on an edge or corner, where the field is infinite.
    #[error("point {0:?} (relative to the prism centre) lies on an edge or corner of the prism")]
    OnEdge([f64; 3]),
}

const INV_4PI: f64 = 1.0 / (4.0 * PI);

/// `atan(p·q/(d·r))` with the face-plane convention: 0 when `d == 0`.
#[inline]
fn atan_term(p: f64, q: f64, d: f64, r: f64) -> f64 {
    if d == 0.0 {
        0.0
    } else {
        (p * q / (d * r)).atan()
    }
}

/// `ln(w + R)` with `R = √(u²+v²+w²)`, free of cancellation for w < 0. On the line u = v = 0 with
/// w < 0 (an edge's line extension) the divergent `ln(u²+v²)` piece is dropped (it cancels against
/// the partner corner on the same line).
#[inline]
fn log_term(u: f64, v: f64, w: f64, r: f64) -> f64 {
    if w >= 0.0 {
        (w + r).ln()
    } else {
        let rho2 = u * u + v * v;
        if rho2 > 0.0 {
            (rho2 / (r - w)).ln()
        } else {
            -(r - w).ln()
        }
    }
}

fn check_dims(dims: [f64; 3]) -> Result<(), PrismError> {
    if dims.iter().all(|d| d.is_finite() && *d > 0.0) {
        Ok(())
    } else {
        Err(PrismError::InvalidDims(dims))
    }
}

fn check_finite(v: [f64; 3]) -> Result<(), PrismError> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(PrismError::NonFinite(v))
    }
}

/// True when `r` (relative to the centre) lies exactly on an edge or a corner of the box with
/// half side lengths `half`.
fn on_edge(half: [f64; 3], r: [f64; 3]) -> bool {
    let on = |a: usize| r[a] + half[a] == 0.0 || r[a] - half[a] == 0.0;
    let within = |a: usize| r[a] >= -half[a] && r[a] <= half[a];
    (on(0) && on(1) && within(2)) || (on(0) && on(2) && within(1)) || (on(1) && on(2) && within(0))
}

/// Point demagnetizing tensor N(r) of a box with full side lengths `dims`, centred at the origin:
/// the field of magnetization M is H(r) = −N(r)·M. See the module docs for the conventions on
/// faces, edges and edge extensions.
pub fn prism_tensor(dims: [f64; 3], r: [f64; 3]) -> Result<Tensor3, PrismError> {
    check_dims(dims)?;
    check_finite(r)?;
    let half = [0.5 * dims[0], 0.5 * dims[1], 0.5 * dims[2]];
    if on_edge(half, r) {
        return Err(PrismError::OnEdge(r));
    }
    Ok(corner_sum(half, r))
}

/// The corner sum itself; `r` must not lie on an edge (checked by the callers).
pub(crate) fn corner_sum(half: [f64; 3], r: [f64; 3]) -> Tensor3 {
    // Offsets to the lower (index 0) and upper (index 1) bounds along each axis.
    let xs = [r[0] + half[0], r[0] - half[0]];
    let ys = [r[1] + half[1], r[1] - half[1]];
    let zs = [r[2] + half[2], r[2] - half[2]];
    let (mut axx, mut ayy, mut azz) = (0.0, 0.0, 0.0);
    let (mut lxy, mut lxz, mut lyz) = (0.0, 0.0, 0.0);
    for (i, &x) in xs.iter().enumerate() {
        for (j, &y) in ys.iter().enumerate() {
            // s = (−1)^{i+j+k} (1-based); with 0-based i, j: k = 1 gets −s_ij, k = 2 gets s_ij.
            let s_ij = if (i + j) % 2 == 0 { 1.0 } else { -1.0 };
            let mut pair = [[0.0f64; 6]; 2];
            for (k, &z) in zs.iter().enumerate() {
                let rr = (x * x + y * y + z * z).sqrt();
                pair[k] = [
                    atan_term(y, z, x, rr),
                    atan_term(x, z, y, rr),
                    atan_term(x, y, z, rr),
                    log_term(x, y, z, rr),
                    log_term(x, z, y, rr),
                    log_term(y, z, x, rr),
                ];
            }
            // Pair the two k corners first (exact mirror cancellations), then add.
            let d = |c: usize| s_ij * (pair[1][c] - pair[0][c]);
            axx += d(0);
            ayy += d(1);
            azz += d(2);
            lxy += d(3);
            lxz += d(4);
            lyz += d(5);
        }
    }
    let nxy = INV_4PI * lxy;
    let nxz = INV_4PI * lxz;
    let nyz = INV_4PI * lyz;
    [
        [-INV_4PI * axx, nxy, nxz],
        [nxy, -INV_4PI * ayy, nyz],
        [nxz, nyz, -INV_4PI * azz],
    ]
}

/// Dipole approximation of the box tensor far away: N = −V/(4π r³)·(3 r̂r̂ − I), so that
/// H = (3(m·r̂)r̂ − m)/(4π r³) with m = V·M. Returns [`PrismError::NonFinite`] at r = 0.
pub fn dipole_tensor(volume: f64, r: [f64; 3]) -> Result<Tensor3, PrismError> {
    check_finite(r)?;
    let r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    if r2 == 0.0 || !volume.is_finite() {
        return Err(PrismError::NonFinite(r));
    }
    let rn = r2.sqrt();
    let pre = -volume * INV_4PI / (r2 * rn);
    let mut t = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            let delta = if a == b { 1.0 } else { 0.0 };
            t[a][b] = pre * (3.0 * r[a] * r[b] / r2 - delta);
        }
    }
    Ok(t)
}

/// Box tensor that switches to the dipole form when |r| exceeds `dipole_beyond` times the
/// longest side (cancellation in the corner sum grows like (|r|/L)³; at |r|/L = 1000 both forms
/// are good to ~1e-6 relative). `dipole_beyond = f64::INFINITY` always uses the corner sum.
pub fn prism_tensor_far(
    dims: [f64; 3],
    r: [f64; 3],
    dipole_beyond: f64,
) -> Result<Tensor3, PrismError> {
    check_dims(dims)?;
    check_finite(r)?;
    let longest = dims[0].max(dims[1]).max(dims[2]);
    let dist = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    if dist > dipole_beyond * longest {
        dipole_tensor(dims[0] * dims[1] * dims[2], r)
    } else {
        prism_tensor(dims, r)
    }
}

/// H = −N·m for a tensor `n`.
pub fn apply_neg(n: &Tensor3, m: [f64; 3]) -> [f64; 3] {
    let mut h = [0.0; 3];
    for (a, row) in n.iter().enumerate() {
        h[a] = -(row[0] * m[0] + row[1] * m[1] + row[2] * m[2]);
    }
    h
}

/// Field H(r) = −N(r − centre)·m of a box with full side lengths `dims`, centred at `centre`,
/// uniformly magnetized with `m`; H has the units of `m`.
pub fn prism_field(
    dims: [f64; 3],
    centre: [f64; 3],
    m: [f64; 3],
    r: [f64; 3],
) -> Result<[f64; 3], PrismError> {
    check_finite(centre)?;
    check_finite(m)?;
    let local = [r[0] - centre[0], r[1] - centre[1], r[2] - centre[2]];
    Ok(apply_neg(&prism_tensor(dims, local)?, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::prism_reference::{aharoni_dz, box_field_face_sum};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn rel_err(a: [f64; 3], b: [f64; 3]) -> f64 {
        let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        let n = (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]).sqrt();
        d / n
    }

    fn trace(t: &Tensor3) -> f64 {
        t[0][0] + t[1][1] + t[2][2]
    }

    #[test]
    fn reference_values_from_notes() {
        let h = prism_field([1.0; 3], [0.0; 3], [0.0, 0.0, 1.0], [0.0; 3]).unwrap();
        assert!(h[0].abs() < 1e-15 && h[1].abs() < 1e-15);
        assert!((h[2] + 1.0 / 3.0).abs() < 1e-14);
        let h = prism_field([1.0; 3], [0.0; 3], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]).unwrap();
        assert!(h[0].abs() < 1e-15 && h[1].abs() < 1e-15);
        assert!((h[2] - 0.134782386237407).abs() < 1e-12);
        let h = prism_field([1.0, 2.0, 3.0], [0.0; 3], [0.3, -0.5, 0.8], [0.1, 0.2, 0.3]).unwrap();
        let want = [-0.191587634583929, 0.129184411567388, -0.0958658621458626];
        for a in 0..3 {
            assert!(
                (h[a] - want[a]).abs() < 1e-12,
                "component {a}: {} vs {}",
                h[a],
                want[a]
            );
        }
        let t = prism_tensor([1.0, 2.0, 3.0], [0.0; 3]).unwrap();
        let want = [0.645021561874111, 0.242727195996027, 0.112251242129862];
        for a in 0..3 {
            assert!((t[a][a] - want[a]).abs() < 1e-12);
        }
    }

    fn random_case(
        rng: &mut ChaCha8Rng,
        dim_range: (f64, f64),
        reach: f64,
    ) -> ([f64; 3], [f64; 3], [f64; 3]) {
        let mut v = |lo: f64, hi: f64| {
            [
                rng.random_range(lo..hi),
                rng.random_range(lo..hi),
                rng.random_range(lo..hi),
            ]
        };
        (v(dim_range.0, dim_range.1), v(-reach, reach), v(-1.0, 1.0))
    }

    #[test]
    fn corner_sum_agrees_with_face_sum_at_generic_points() {
        // Points inside, near and around boxes (distance ≲ 6× the shortest side).
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut worst = 0.0f64;
        for _ in 0..2000 {
            let (dims, r, m) = random_case(&mut rng, (0.5, 2.0), 3.0);
            let a = prism_field(dims, [0.0; 3], m, r).unwrap();
            worst = worst.max(rel_err(a, box_field_face_sum(dims, m, r)));
        }
        assert!(worst < 2e-13, "worst relative difference {worst:e}");
        // Farther out (up to ~25× the shortest side) both forms lose digits to cancellation
        // (∝ (r/L)³·ε); an mpmath check of the worst case here puts the corner-sum error at
        // 1.2e-12 and the face-sum error at 3e-13.
        let mut worst = 0.0f64;
        for _ in 0..2000 {
            let (dims, r, m) = random_case(&mut rng, (0.2, 3.0), 4.0);
            let a = prism_field(dims, [0.0; 3], m, r).unwrap();
            worst = worst.max(rel_err(a, box_field_face_sum(dims, m, r)));
        }
        assert!(worst < 5e-12, "worst relative difference far out {worst:e}");
    }

    #[test]
    fn trace_is_one_inside_and_zero_outside() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let dims = [1.0, 2.0, 3.0];
        for _ in 0..1000 {
            let r: [f64; 3] = [
                rng.random_range(-2.0..2.0),
                rng.random_range(-2.0..2.0),
                rng.random_range(-2.0..2.0),
            ];
            let inside = (0..3).all(|a| r[a].abs() < 0.5 * dims[a]);
            let want = if inside { 1.0 } else { 0.0 };
            let t = prism_tensor(dims, r).unwrap();
            assert!(
                (trace(&t) - want).abs() < 1e-13,
                "trace {} at {r:?}",
                trace(&t)
            );
            assert!((t[0][1] - t[1][0]).abs() < 1e-15);
        }
    }

    #[test]
    fn face_plane_returns_average_of_both_sides() {
        let dims = [1.0, 2.0, 3.0];
        let m = [0.3, -0.5, 0.8];
        // Inside the x = +0.5 face: the average of the fields just inside and just outside.
        let on = prism_field(dims, [0.0; 3], m, [0.5, 0.2, -0.4]).unwrap();
        let eps = 1e-9;
        let a = prism_field(dims, [0.0; 3], m, [0.5 - eps, 0.2, -0.4]).unwrap();
        let b = prism_field(dims, [0.0; 3], m, [0.5 + eps, 0.2, -0.4]).unwrap();
        for c in 0..3 {
            assert!((on[c] - 0.5 * (a[c] + b[c])).abs() < 1e-7);
        }
        // The jump across the face is M_x (normal component of H jumps by the surface charge).
        assert!(((a[0] - b[0]) + m[0]).abs() < 1e-7);
        assert!((trace(&prism_tensor(dims, [0.5, 0.2, -0.4]).unwrap()) - 0.5).abs() < 1e-14);
        // Same plane, outside the face: field continuous and equal to the independent form.
        let r = [0.5, 1.7, 0.3];
        let on = prism_field(dims, [0.0; 3], m, r).unwrap();
        assert!(rel_err(on, box_field_face_sum(dims, m, r)) < 1e-12);
    }

    #[test]
    fn edges_and_corners_are_errors() {
        let dims = [1.0, 2.0, 3.0];
        for r in [
            [0.5, 1.0, 0.3],
            [0.5, 0.2, -1.5],
            [0.1, -1.0, 1.5],
            [0.5, 1.0, 1.5],
        ] {
            assert_eq!(prism_tensor(dims, r), Err(PrismError::OnEdge(r)));
        }
        assert!(matches!(
            prism_tensor([1.0, 0.0, 1.0], [2.0; 3]),
            Err(PrismError::InvalidDims(_))
        ));
        assert!(matches!(
            prism_tensor([1.0; 3], [f64::NAN, 0.0, 0.0]),
            Err(PrismError::NonFinite(_))
        ));
        // Approaching an edge the field grows like ln(1/distance).
        let m = [0.0, 0.0, 1.0];
        let h1 = prism_field(dims, [0.0; 3], m, [0.5 + 1e-6, 0.3, 1.5 + 1e-6]).unwrap();
        let h2 = prism_field(dims, [0.0; 3], m, [0.5 + 1e-8, 0.3, 1.5 + 1e-8]).unwrap();
        let growth = (h2[0] - h1[0]).abs();
        assert!(
            (growth - (100.0f64).ln() / (2.0 * PI)).abs() < 1e-5,
            "growth {growth}"
        );
    }

    #[test]
    fn edge_line_extensions_are_finite_and_continuous() {
        let dims = [1.0, 2.0, 3.0];
        let m = [0.3, -0.5, 0.8];
        let points = [
            [0.5, 1.0, 2.2],
            [0.5, 1.0, -1.9],
            [-0.5, 1.7, 1.5],
            [0.9, -1.0, -1.5],
            [-2.0, 1.0, 1.5],
        ];
        for r in points {
            let h = prism_field(dims, [0.0; 3], m, r).unwrap();
            assert!(h.iter().all(|v| v.is_finite()));
            assert!(
                rel_err(h, box_field_face_sum(dims, m, r)) < 1e-12,
                "at {r:?}"
            );
            let near = prism_field(dims, [0.0; 3], m, [r[0] + 1e-9, r[1] - 1e-9, r[2]]).unwrap();
            assert!(rel_err(near, h) < 1e-7, "discontinuous at {r:?}");
        }
    }

    #[test]
    fn no_cancellation_close_to_an_edge_line() {
        // Just beyond the end of an edge, ln(Y+R) with Y < 0 would cancel catastrophically.
        let dims = [1.0, 2.0, 3.0];
        let m = [0.3, -0.5, 0.8];
        for d in [1e-3, 1e-6, 1e-9] {
            let r = [0.5 + d, -3.0, 1.5 - d];
            let a = prism_field(dims, [0.0; 3], m, r).unwrap();
            let b = box_field_face_sum(dims, m, r);
            assert!(rel_err(a, b) < 1e-11, "d = {d:e}: {:e}", rel_err(a, b));
        }
    }

    #[test]
    fn mirror_symmetry_mid_plane_has_no_hz_for_in_plane_m() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dims = [1.3, 0.7, 1.0];
        for _ in 0..500 {
            let r = [
                rng.random_range(-3.0..3.0),
                rng.random_range(-3.0..3.0),
                0.0,
            ];
            let m = [
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                0.0,
            ];
            let h = prism_field(dims, [0.0; 3], m, r).unwrap();
            assert_eq!(h[2], 0.0);
        }
    }

    #[test]
    fn far_field_tends_to_dipole() {
        let dims = [1.0, 2.0, 3.0];
        let m = [0.3, -0.5, 0.8];
        let dir = [0.48, -0.6, 0.64];
        let err_at = |dist: f64| {
            let r = [dist * dir[0], dist * dir[1], dist * dir[2]];
            let exact = apply_neg(&prism_tensor(dims, r).unwrap(), m);
            let dip = apply_neg(&dipole_tensor(6.0, r).unwrap(), m);
            rel_err(exact, dip)
        };
        let (e1, e2, e3) = (err_at(30.0), err_at(60.0), err_at(120.0));
        // Octupole correction: relative error ∝ (L/r)², so it drops 4× per doubling.
        assert!(e1 < 0.01);
        assert!(
            (e1 / e2 - 4.0).abs() < 0.1 && (e2 / e3 - 4.0).abs() < 0.1,
            "{e1} {e2} {e3}"
        );
        let r = [5000.0 * dir[0], 5000.0 * dir[1], 5000.0 * dir[2]];
        let far = prism_tensor_far(dims, r, 1000.0).unwrap();
        assert_eq!(far, dipole_tensor(6.0, r).unwrap());
        let near = prism_tensor_far(dims, [2.0, 0.0, 0.0], 1000.0).unwrap();
        assert_eq!(near, prism_tensor(dims, [2.0, 0.0, 0.0]).unwrap());
    }

    /// Composite 10-point Gauss–Legendre nodes on [0, 1], panels graded geometrically towards 1
    /// (where N_zz has its edge and corner discontinuities).
    fn graded_nodes() -> Vec<(f64, f64)> {
        let xw = [
            (0.1488743389816312, 0.2955242247147529),
            (0.4333953941292472, 0.2692667193099963),
            (0.6794095682990244, 0.219086362515982),
            (0.8650633666889845, 0.1494513491505806),
            (0.9739065285171717, 0.0666713443086881),
        ];
        let mut edges = vec![0.0, 0.5];
        let mut gap = 0.5;
        while gap > 1e-10 {
            gap *= 0.25;
            edges.push(1.0 - gap);
        }
        edges.push(1.0);
        let mut out = Vec::new();
        for p in edges.windows(2) {
            let (mid, half) = (0.5 * (p[0] + p[1]), 0.5 * (p[1] - p[0]));
            for &(x, w) in &xw {
                out.push((mid + half * x, half * w));
                out.push((mid - half * x, half * w));
            }
        }
        out
    }

    #[test]
    fn volume_average_of_nzz_is_aharoni_factor() {
        let dims = [1.0, 2.0, 3.0];
        let dz = aharoni_dz(dims);
        assert!((dz - 0.1828179780).abs() < 1e-10, "Aharoni D_z = {dz}");
        // N_zz is even in x, y, z: average over one octant.
        let nodes = graded_nodes();
        let mut sum = 0.0;
        for &(u, wu) in &nodes {
            for &(v, wv) in &nodes {
                for &(s, ws) in &nodes {
                    let r = [0.5 * dims[0] * u, 0.5 * dims[1] * v, 0.5 * dims[2] * s];
                    sum += wu * wv * ws * prism_tensor(dims, r).unwrap()[2][2];
                }
            }
        }
        // Measured difference: 2e-12 (quadrature error).
        assert!((sum - dz).abs() < 1e-11, "volume average {sum} vs {dz}");
    }
}
