//! Pollok et al. (IEEE Trans. Magn. 57, 2101604 (2021)): design space of a single square prism
//! magnet, its Latin Hypercube sampling, train/validation/test split, regression targets and the
//! two-channel field maps used as network input.
//!
//! Geometry (paper §II, Fig. 2): a square prism of side a ∈ [0.5, 2] cm and height 1 cm, centred
//! at (x, y, 0.5 cm) with x, y ∈ [1.5, 8.5] cm, magnetized in-plane with μ0|M| ∈ [0.5, 1.5] T at
//! azimuth φ ∈ [0, 2π). The field is sampled at the R×R pixel centres of the 10×10 cm area of
//! interest in the plane z = 0.5 cm, which is the magnet's mid-plane, so H_z ≡ 0 there and the
//! map has two channels (μ0H_x, μ0H_y) in tesla. Inside the magnet the value is μ0 times the
//! demagnetizing field H (not B), as in the corner-sum model.

use std::f64::consts::PI;

use ndarray::{Array3, Array4, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::prism::{PrismError, apply_neg, prism_tensor};

/// Height of every magnet (cm).
pub const MAGNET_HEIGHT_CM: f64 = 1.0;
/// Side length of the square area of interest (cm); it spans [0, 10] cm in x and y.
pub const AOI_SIDE_CM: f64 = 10.0;
/// Height of the sampling plane, equal to the magnets' centre height (cm).
pub const PLANE_Z_CM: f64 = 0.5;

/// One magnet design. Lengths in cm, magnetization as μ0|M| in tesla, azimuth in radians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrismDesign {
    /// Centre x (cm).
    pub x_cm: f64,
    /// Centre y (cm).
    pub y_cm: f64,
    /// Side length a of the square cross-section (cm).
    pub side_cm: f64,
    /// μ0|M| (T).
    pub magnetization_t: f64,
    /// Azimuth φ of M in the xy-plane (rad).
    pub phi_rad: f64,
}

/// Closed ranges of the design parameters (φ is half-open).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DesignSpace {
    /// Range of the centre x (cm).
    pub x_cm: (f64, f64),
    /// Range of the centre y (cm).
    pub y_cm: (f64, f64),
    /// Range of the side length (cm).
    pub side_cm: (f64, f64),
    /// Range of μ0|M| (T).
    pub magnetization_t: (f64, f64),
    /// Range of φ (rad).
    pub phi_rad: (f64, f64),
}

impl Default for DesignSpace {
    /// The paper's ranges.
    fn default() -> Self {
        Self {
            x_cm: (1.5, 8.5),
            y_cm: (1.5, 8.5),
            side_cm: (0.5, 2.0),
            magnetization_t: (0.5, 1.5),
            phi_rad: (0.0, 2.0 * PI),
        }
    }
}

impl DesignSpace {
    fn ranges(&self) -> [(f64, f64); 5] {
        [
            self.x_cm,
            self.y_cm,
            self.side_cm,
            self.magnetization_t,
            self.phi_rad,
        ]
    }
}

/// Latin Hypercube sample of `n` designs (McKay et al.): each parameter range is cut into `n`
/// equal strata, each stratum used once, with a uniform position inside it. RNG:
/// `ChaCha8Rng::seed_from_u64(seed)`; for each parameter in the order (x, y, a, |M|, φ) one
/// shuffle of the strata, then `n` uniforms.
pub fn latin_hypercube(n: usize, space: &DesignSpace, seed: u64) -> Vec<PrismDesign> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut columns = [
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    ];
    for (col, (lo, hi)) in columns.iter_mut().zip(space.ranges()) {
        let mut strata: Vec<usize> = (0..n).collect();
        strata.shuffle(&mut rng);
        for (v, s) in col.iter_mut().zip(strata) {
            let u: f64 = rng.random();
            *v = lo + (hi - lo) * ((s as f64 + u) / n as f64);
        }
    }
    (0..n)
        .map(|i| PrismDesign {
            x_cm: columns[0][i],
            y_cm: columns[1][i],
            side_cm: columns[2][i],
            magnetization_t: columns[3][i],
            phi_rad: columns[4][i],
        })
        .collect()
}

/// Sample indices of a train/validation/test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training indices.
    pub train: Vec<usize>,
    /// Validation indices.
    pub validation: Vec<usize>,
    /// Test indices.
    pub test: Vec<usize>,
}

/// Seeded random split of `0..n` into ⌊n·train_pct/100⌋ training, ⌊n·val_pct/100⌋ validation
/// and the remaining test indices (a shuffle with `ChaCha8Rng::seed_from_u64(seed)`; each part is
/// returned sorted). Pollok uses 60/30/10: [`pollok_split`].
pub fn split_indices(n: usize, train_pct: usize, val_pct: usize, seed: u64) -> Split {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_train = n * train_pct.min(100) / 100;
    let n_val = (n * val_pct / 100).min(n - n_train);
    let mut train = idx[..n_train].to_vec();
    let mut validation = idx[n_train..n_train + n_val].to_vec();
    let mut test = idx[n_train + n_val..].to_vec();
    train.sort_unstable();
    validation.sort_unstable();
    test.sort_unstable();
    Split {
        train,
        validation,
        test,
    }
}

/// The paper's 60 % / 30 % / 10 % split.
pub fn pollok_split(n: usize, seed: u64) -> Split {
    split_indices(n, 60, 30, seed)
}

/// Regression target of the paper's eq. (3): (x, y, a) min–max normalised to [0, 1] over the
/// design space, M_x = (μ0|M| − 0.5 T)·cos φ and M_y = (μ0|M| − 0.5 T)·sin φ (in [−1, 1]).
/// The offset is the lower end of the magnetization range, as in the paper.
pub fn targets(design: &PrismDesign, space: &DesignSpace) -> [f64; 5] {
    let norm = |v: f64, (lo, hi): (f64, f64)| (v - lo) / (hi - lo);
    let rad = design.magnetization_t - space.magnetization_t.0;
    [
        norm(design.x_cm, space.x_cm),
        norm(design.y_cm, space.y_cm),
        norm(design.side_cm, space.side_cm),
        rad * design.phi_rad.cos(),
        rad * design.phi_rad.sin(),
    ]
}

/// Inverse of [`targets`]: the design a target vector stands for (φ in [0, 2π)).
pub fn design_from_targets(t: [f64; 5], space: &DesignSpace) -> PrismDesign {
    let denorm = |v: f64, (lo, hi): (f64, f64)| lo + v * (hi - lo);
    let phi = t[4].atan2(t[3]);
    PrismDesign {
        x_cm: denorm(t[0], space.x_cm),
        y_cm: denorm(t[1], space.y_cm),
        side_cm: denorm(t[2], space.side_cm),
        magnetization_t: space.magnetization_t.0 + t[3].hypot(t[4]),
        phi_rad: if phi < 0.0 { phi + 2.0 * PI } else { phi },
    }
}

/// Coordinate (cm) of pixel centre `k` of `resolution` pixels across the area of interest.
pub fn pixel_centre_cm(k: usize, resolution: usize) -> f64 {
    (k as f64 + 0.5) * AOI_SIDE_CM / resolution as f64
}

/// Offsets below which a pixel is routed through the general corner sum (face planes, edges).
const SLOW_PATH_CM: f64 = 1e-9;

/// A complex number whose argument is atan(q/pa) − atan(q/pb): (1 + u_a·u_b, u_a − u_b) with
/// u = q/p, scaled by |pa·pb| (no division; atan u − atan v = arg(1 + uv, u − v) exactly).
#[inline]
fn atan_pair(pa: f64, pb: f64, q: f64) -> (f64, f64) {
    let p = pa * pb;
    let w = (p + q * q, q * (pb - pa));
    if p < 0.0 { (-w.0, -w.1) } else { w }
}

/// arg(w0) − arg(w1) ∈ (−2π, 2π) for w0, w1 ≠ 0: one `atan2` of w0·conj(w1) when both lie in
/// the right half-plane (then the difference is in (−π, π)), two `atan2` otherwise.
#[inline]
fn arg_difference(w0: (f64, f64), w1: (f64, f64)) -> f64 {
    if w0.0 > 0.0 && w1.0 > 0.0 {
        let re = w0.0 * w1.0 + w0.1 * w1.1;
        let im = w0.1 * w1.0 - w0.0 * w1.1;
        im.atan2(re)
    } else {
        w0.1.atan2(w0.0) - w1.1.atan2(w1.0)
    }
}

/// Evaluates (μ0H_x, μ0H_y) in tesla at every pixel centre of the mid-plane and hands them to
/// `put(row, col, hx, hy)` (row = y index, col = x index).
///
/// Mid-plane form of the corner sum (half height c, corners X_i, Y_j, R_ij):
/// N_xx = (1/2π)Σ(−1)^{i+j} atan(Y_j c/(X_i R_ij)), N_yy likewise with X ↔ Y, and
/// N_xy = (1/4π) ln Π[(R−c)/(R+c)]^{(−1)^{i+j}}. Per pixel: 4 square roots, one `ln` of a product
/// and 2 `atan2` (4 near the magnet): pairs of atans are merged with
/// atan u − atan v = arg(1 + uv, u − v), which has no branch ambiguity, and the two pairs with
/// one complex product where that stays within (−π, π). Per-column and per-row offsets are
/// precomputed. Pixels within 1e-9 cm of a side-face plane go through the general corner sum.
pub(crate) fn mid_plane_field(
    design: &PrismDesign,
    resolution: usize,
    mut put: impl FnMut(usize, usize, f64, f64),
) -> Result<(), PrismError> {
    let size = [design.side_cm, design.side_cm, MAGNET_HEIGHT_CM];
    if !(design.side_cm.is_finite() && design.side_cm > 0.0) {
        return Err(PrismError::InvalidDims(size));
    }
    let rest = [design.x_cm, design.y_cm, design.magnetization_t];
    if rest.iter().any(|v| !v.is_finite()) || !design.phi_rad.is_finite() {
        return Err(PrismError::NonFinite(rest));
    }
    let half = 0.5 * design.side_cm;
    let c = 0.5 * MAGNET_HEIGHT_CM;
    let bx = design.magnetization_t * design.phi_rad.cos();
    let by = design.magnetization_t * design.phi_rad.sin();
    let offsets = |centre: f64| -> Vec<[f64; 2]> {
        (0..resolution)
            .map(|k| {
                let p = pixel_centre_cm(k, resolution);
                [p - (centre - half), p - (centre + half)]
            })
            .collect()
    };
    let xs = offsets(design.x_cm);
    let ys = offsets(design.y_cm);
    let c2 = c * c;
    for (row, y) in ys.iter().enumerate() {
        let yy = [y[0] * y[0], y[1] * y[1]];
        let y2 = [yy[0] + c2, yy[1] + c2];
        let y_slow = y[0].abs() < SLOW_PATH_CM || y[1].abs() < SLOW_PATH_CM;
        for (col, x) in xs.iter().enumerate() {
            if y_slow || x[0].abs() < SLOW_PATH_CM || x[1].abs() < SLOW_PATH_CM {
                let local = [
                    pixel_centre_cm(col, resolution) - design.x_cm,
                    pixel_centre_cm(row, resolution) - design.y_cm,
                    0.0,
                ];
                let h = apply_neg(&prism_tensor(size, local)?, [bx, by, 0.0]);
                put(row, col, h[0], h[1]);
                continue;
            }
            let x2 = [x[0] * x[0], x[1] * x[1]];
            // r[i][j] = R_ij.
            let r = [
                [(x2[0] + y2[0]).sqrt(), (x2[0] + y2[1]).sqrt()],
                [(x2[1] + y2[0]).sqrt(), (x2[1] + y2[1]).sqrt()],
            ];
            // Σ_ij (−1)^{i+j} atan(Y_j c/(X_i R_ij)) = Σ_j (−1)^j D_j, D_j = atan u_0j − atan u_1j.
            let sxx = arg_difference(
                atan_pair(x[0] * r[0][0], x[1] * r[1][0], y[0] * c),
                atan_pair(x[0] * r[0][1], x[1] * r[1][1], y[1] * c),
            );
            let syy = arg_difference(
                atan_pair(y[0] * r[0][0], y[1] * r[0][1], x[0] * c),
                atan_pair(y[0] * r[1][0], y[1] * r[1][1], x[1] * c),
            );
            // (R−c)/(R+c) = ρ²/(R+c)², ρ² = X² + Y².
            let q = |i: usize, j: usize| {
                let rp = r[i][j] + c;
                (x2[i] + yy[j], rp * rp)
            };
            let (n00, d00) = q(0, 0);
            let (n01, d01) = q(0, 1);
            let (n10, d10) = q(1, 0);
            let (n11, d11) = q(1, 1);
            let lxy = ((n00 * n11 * d01 * d10) / (d00 * d11 * n01 * n10)).ln();
            let nxx = sxx / (2.0 * PI);
            let nyy = syy / (2.0 * PI);
            let nxy = lxy / (4.0 * PI);
            put(row, col, -(nxx * bx + nxy * by), -(nxy * bx + nyy * by));
        }
    }
    Ok(())
}

/// Field map of one design: shape (2, R, R), channel 0 = μ0H_x, channel 1 = μ0H_y (tesla),
/// `map[[ch, row, col]]` at the pixel centre x = (col+½)·10/R cm, y = (row+½)·10/R cm,
/// z = 0.5 cm. (The paper's eq. (2) writes rows as x; this layout is its transpose, row = y, so
/// that the map prints like the xy-plane.) Fails with [`PrismError::OnEdge`] if a pixel centre
/// lies exactly on a vertical edge of the magnet, and with [`PrismError::InvalidDims`] /
/// [`PrismError::NonFinite`] for a non-positive side or non-finite parameters.
pub fn field_map(design: &PrismDesign, resolution: usize) -> Result<Array3<f32>, PrismError> {
    let mut map = Array3::<f32>::zeros((2, resolution, resolution));
    mid_plane_field(design, resolution, |row, col, hx, hy| {
        map[[0, row, col]] = hx as f32;
        map[[1, row, col]] = hy as f32;
    })?;
    Ok(map)
}

/// Field maps of many designs, shape (n, 2, R, R), computed in parallel over designs with rayon
/// (each map is independent, so the result does not depend on the thread count).
pub fn field_maps(designs: &[PrismDesign], resolution: usize) -> Result<Array4<f32>, PrismError> {
    let mut maps = Array4::<f32>::zeros((designs.len(), 2, resolution, resolution));
    maps.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(designs.par_iter())
        .try_for_each(|(mut out, design)| {
            mid_plane_field(design, resolution, |row, col, hx, hy| {
                out[[0, row, col]] = hx as f32;
                out[[1, row, col]] = hy as f32;
            })
        })?;
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::prism::prism_field;

    fn reference(design: &PrismDesign, row: usize, col: usize, res: usize) -> [f64; 3] {
        let dims = [design.side_cm, design.side_cm, MAGNET_HEIGHT_CM];
        let centre = [design.x_cm, design.y_cm, PLANE_Z_CM];
        let m = [
            design.magnetization_t * design.phi_rad.cos(),
            design.magnetization_t * design.phi_rad.sin(),
            0.0,
        ];
        let r = [
            pixel_centre_cm(col, res),
            pixel_centre_cm(row, res),
            PLANE_Z_CM,
        ];
        prism_field(dims, centre, m, r).unwrap()
    }

    #[test]
    fn field_map_matches_point_function() {
        let designs = latin_hypercube(12, &DesignSpace::default(), 5);
        let res = 64;
        for d in &designs {
            let mut worst = 0.0f64;
            let mut scale = 0.0f64;
            mid_plane_field(d, res, |row, col, hx, hy| {
                let h = reference(d, row, col, res);
                assert_eq!(h[2], 0.0);
                worst = worst.max((hx - h[0]).abs()).max((hy - h[1]).abs());
                scale = scale.max(h[0].abs()).max(h[1].abs());
            })
            .unwrap();
            assert!(
                worst < 1e-12 * scale,
                "design {d:?}: worst {worst:e}, scale {scale}"
            );
            let map = field_map(d, res).unwrap();
            assert_eq!(map.shape(), &[2, res, res]);
            for (row, col) in [(0, 0), (3, 50), (63, 17), (31, 31)] {
                let h = reference(d, row, col, res);
                for ch in 0..2 {
                    let got = f64::from(map[[ch, row, col]]);
                    assert!((got - h[ch]).abs() <= f64::from(f32::EPSILON) * h[ch].abs());
                }
            }
        }
    }

    #[test]
    fn pixels_on_faces_and_edges() {
        // R = 20: pixel centres at 0.25, 0.75, …; a magnet with faces on those lines.
        let on_face = PrismDesign {
            x_cm: 5.0,
            y_cm: 5.1,
            side_cm: 0.5,
            magnetization_t: 1.0,
            phi_rad: 0.3,
        };
        let map = field_map(&on_face, 20).unwrap();
        let h = reference(&on_face, 10, 9, 20);
        assert_eq!(map[[0, 10, 9]], h[0] as f32);
        let on_edge = PrismDesign {
            y_cm: 5.0,
            ..on_face
        };
        assert!(matches!(
            field_map(&on_edge, 20),
            Err(PrismError::OnEdge(_))
        ));
    }

    /// The maps against an independent formulation (the face/edge sum of `prism_reference`),
    /// at every pixel centre with row = y: a transposed map or a misplaced pixel fails.
    #[test]
    fn field_maps_match_the_independent_face_sum_at_pixel_centres() {
        use crate::physics::prism_reference::box_field_face_sum;
        let res = 24;
        for d in &latin_hypercube(8, &DesignSpace::default(), 17) {
            let map = field_map(d, res).unwrap();
            let m = [
                d.magnetization_t * d.phi_rad.cos(),
                d.magnetization_t * d.phi_rad.sin(),
                0.0,
            ];
            let dims = [d.side_cm, d.side_cm, MAGNET_HEIGHT_CM];
            for row in 0..res {
                for col in 0..res {
                    let r = [
                        pixel_centre_cm(col, res) - d.x_cm,
                        pixel_centre_cm(row, res) - d.y_cm,
                        0.0,
                    ];
                    let h = box_field_face_sum(dims, m, r);
                    for ch in 0..2 {
                        let got = f64::from(map[[ch, row, col]]);
                        let tol = 2.0 * f64::from(f32::EPSILON) * h[ch].abs() + 1e-9;
                        assert!(
                            (got - h[ch]).abs() <= tol,
                            "{d:?} ch {ch} (row {row}, col {col}): {got} vs {}",
                            h[ch]
                        );
                    }
                }
            }
        }
    }

    /// `field_maps` runs in parallel over designs: its bits must not depend on the pool size.
    #[test]
    fn field_maps_are_bitwise_identical_across_thread_counts() {
        let designs = latin_hypercube(24, &DesignSpace::default(), 3);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| field_maps(&designs, 16).unwrap())
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<u32>>()
        };
        let one = on(1);
        assert_eq!(one, on(2));
        assert_eq!(one, on(5));
    }

    #[test]
    fn parallel_maps_equal_single_maps() {
        let designs = latin_hypercube(6, &DesignSpace::default(), 9);
        let maps = field_maps(&designs, 32).unwrap();
        for (i, d) in designs.iter().enumerate() {
            assert_eq!(maps.index_axis(Axis(0), i), field_map(d, 32).unwrap());
        }
    }

    #[test]
    fn latin_hypercube_has_one_sample_per_stratum() {
        let space = DesignSpace::default();
        let n = 200;
        let designs = latin_hypercube(n, &space, 1);
        let values: [Vec<f64>; 5] = [
            designs.iter().map(|d| d.x_cm).collect(),
            designs.iter().map(|d| d.y_cm).collect(),
            designs.iter().map(|d| d.side_cm).collect(),
            designs.iter().map(|d| d.magnetization_t).collect(),
            designs.iter().map(|d| d.phi_rad).collect(),
        ];
        for (vals, (lo, hi)) in values.iter().zip(space.ranges()) {
            let mut seen = vec![false; n];
            for v in vals {
                assert!(*v >= lo && *v < hi);
                let s = ((v - lo) / (hi - lo) * n as f64).floor() as usize;
                assert!(!seen[s], "stratum {s} used twice");
                seen[s] = true;
            }
        }
        assert_eq!(designs, latin_hypercube(n, &space, 1));
        assert_ne!(designs, latin_hypercube(n, &space, 2));
    }

    #[test]
    fn split_is_60_30_10_and_a_partition() {
        let s = pollok_split(30_000, 4);
        assert_eq!(
            (s.train.len(), s.validation.len(), s.test.len()),
            (18_000, 9_000, 3_000)
        );
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.validation)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert!(all.iter().enumerate().all(|(i, v)| i == *v));
        assert_eq!(s, pollok_split(30_000, 4));
        let small = pollok_split(7, 1);
        assert_eq!(
            (small.train.len(), small.validation.len(), small.test.len()),
            (4, 2, 1)
        );
    }

    #[test]
    fn targets_follow_the_paper_and_invert() {
        let space = DesignSpace::default();
        let d = PrismDesign {
            x_cm: 1.5,
            y_cm: 8.5,
            side_cm: 1.25,
            magnetization_t: 1.5,
            phi_rad: PI / 2.0,
        };
        let t = targets(&d, &space);
        let want = [0.0, 1.0, 0.5, 0.0, 1.0];
        for k in 0..5 {
            assert!((t[k] - want[k]).abs() < 1e-15);
        }
        for d in latin_hypercube(50, &space, 3) {
            let t = targets(&d, &space);
            assert!(t[..3].iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(t[3].hypot(t[4]) <= 1.0);
            let back = design_from_targets(t, &space);
            for (a, b) in [
                (back.x_cm, d.x_cm),
                (back.y_cm, d.y_cm),
                (back.side_cm, d.side_cm),
                (back.magnetization_t, d.magnetization_t),
                (back.phi_rad, d.phi_rad),
            ] {
                assert!((a - b).abs() < 1e-12);
            }
        }
    }
}
