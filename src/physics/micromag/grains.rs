//! 2D Voronoi grain structures with random in-plane easy axes (Kovacs et al., §2.2; the
//! anisotropic-grain example of fidimag's user guide).
//!
//! Seeds are uniform in the box (continuous coordinates); every cell takes the grain of the seed
//! nearest to its centre (Euclidean, non-periodic, ties broken by the lowest grain index). The
//! number of grains `n_g` is uniform in `[grains_min, grains_max]`, the maximum misorientation
//! `θ` uniform in `[−theta_max, theta_max]`, and each grain's easy-axis angle uniform in
//! `[−|θ|, |θ|]`, measured from the field axis (+y): the axis is `(sin φ, cos φ)`.
//!
//! Array convention: `grain_map[[row, col]]` with `row` = y index (row 0 at y = 0, the bottom of
//! the sample) and `col` = x index; cell `(col, row)` has its centre at
//! `((col + ½)·d, (row + ½)·d)`.

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Errors from grain sampling or from converting images back to easy-axis angles.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GrainError {
    /// The sampling parameters cannot produce a valid structure.
    #[error("invalid grain sampling parameters: {0}")]
    InvalidSampling(String),
    /// A Voronoi tessellation needs at least one seed.
    #[error("a Voronoi tessellation needs at least one seed, found none")]
    NoSeeds,
    /// Grain ids are stored as `u16`.
    #[error("too many seeds: at most {max} grains fit a u16 grain map, found {found}")]
    TooManySeeds {
        /// Largest supported number of grains.
        max: usize,
        /// Number of seeds supplied.
        found: usize,
    },
    /// Seed coordinates must be finite.
    #[error("seed {index} has a non-finite position ({x}, {y})")]
    NonFiniteSeed {
        /// Index of the offending seed.
        index: usize,
        /// Its x coordinate (cell units).
        x: f64,
        /// Its y coordinate (cell units).
        y: f64,
    },
    /// An easy-axis image pixel is NaN or infinite.
    #[error("easy-axis image has a non-finite value {value} at (row {row}, col {col})")]
    NonFinitePixel {
        /// Row (y index) of the pixel.
        row: usize,
        /// Column (x index) of the pixel.
        col: usize,
        /// The offending value.
        value: f64,
    },
}

/// Largest number of grains a `u16` grain map can label.
pub const MAX_GRAINS: usize = u16::MAX as usize + 1;

/// Parameters of the random grain-structure distribution (defaults: the paper's 320×320 nm
/// sample with 2 nm cells, 16–256 grains, θ up to π).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrainSampling {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Cell edge length in metres (square cells).
    pub cell_size: f64,
    /// Smallest number of grains (inclusive).
    pub grains_min: usize,
    /// Largest number of grains (inclusive).
    pub grains_max: usize,
    /// Bound of the maximum misorientation θ, which is drawn from `[−theta_max, theta_max]` (rad).
    pub theta_max: f64,
}

impl Default for GrainSampling {
    fn default() -> Self {
        Self {
            nx: 160,
            ny: 160,
            cell_size: 2e-9,
            grains_min: 16,
            grains_max: 256,
            theta_max: std::f64::consts::PI,
        }
    }
}

/// One sampled grain structure.
#[derive(Debug, Clone, PartialEq)]
pub struct GrainStructure {
    /// RNG seed it was drawn with (the structure is a pure function of the seed and sampling).
    pub seed: u64,
    /// Number of grains (seeds); some may own no cell.
    pub n_grains: usize,
    /// Maximum misorientation θ (rad); grain angles lie in `[−|θ|, |θ|]`.
    pub theta: f64,
    /// Grain id per cell, shape `(ny, nx)`, row index = y.
    pub grain_map: Array2<u16>,
    /// Easy-axis angle of each grain from +y (rad); the axis is `(sin φ, cos φ)`.
    pub grain_angles: Vec<f64>,
    /// Seed positions `[x, y]` in cell units (cell `(col, row)` has its centre at
    /// `(col + 0.5, row + 0.5)`); multiply by the cell size for metres.
    pub seed_positions: Vec<[f64; 2]>,
}

impl GrainSampling {
    /// Checks that the parameters describe a non-empty grid and a valid grain-count range.
    pub fn validate(&self) -> Result<(), GrainError> {
        let bad = |msg: String| Err(GrainError::InvalidSampling(msg));
        if self.nx == 0 || self.ny == 0 {
            return bad(format!(
                "grid must be non-empty, got {}×{}",
                self.nx, self.ny
            ));
        }
        if !(self.cell_size.is_finite() && self.cell_size > 0.0) {
            return bad(format!(
                "cell_size must be positive and finite, got {}",
                self.cell_size
            ));
        }
        if self.grains_min == 0 || self.grains_min > self.grains_max {
            return bad(format!(
                "need 1 ≤ grains_min ≤ grains_max, got [{}, {}]",
                self.grains_min, self.grains_max
            ));
        }
        if self.grains_max > MAX_GRAINS {
            return bad(format!(
                "grains_max must be ≤ {MAX_GRAINS}, got {}",
                self.grains_max
            ));
        }
        if !(self.theta_max.is_finite() && self.theta_max >= 0.0) {
            return bad(format!(
                "theta_max must be finite and ≥ 0, got {}",
                self.theta_max
            ));
        }
        Ok(())
    }

    /// Draws one structure from `ChaCha8Rng::seed_from_u64(seed)`.
    ///
    /// Draw order (fixed, part of the reproducibility contract): `n_g`, `θ`, the `n_g` seed
    /// positions (x then y, each `u·n` with `u` uniform in `[0, 1)`), then the `n_g` angles.
    pub fn sample(&self, seed: u64) -> Result<GrainStructure, GrainError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n_grains = rng.random_range(self.grains_min..=self.grains_max);
        let theta = rng.random_range(-self.theta_max..=self.theta_max);
        let (nx, ny) = (self.nx as f64, self.ny as f64);
        let seed_positions: Vec<[f64; 2]> = (0..n_grains)
            .map(|_| {
                let x = rng.random::<f64>() * nx;
                let y = rng.random::<f64>() * ny;
                [x, y]
            })
            .collect();
        let half_width = theta.abs();
        let grain_angles = (0..n_grains)
            .map(|_| rng.random_range(-half_width..=half_width))
            .collect();
        let grain_map = nearest_seed_map(self.nx, self.ny, &seed_positions)?;
        Ok(GrainStructure {
            seed,
            n_grains,
            theta,
            grain_map,
            grain_angles,
            seed_positions,
        })
    }
}

impl GrainStructure {
    /// Easy-axis angle (rad, from +y) of every cell, shape `(ny, nx)`.
    pub fn cell_angles(&self) -> Array2<f64> {
        self.grain_map.mapv(|g| self.grain_angles[usize::from(g)])
    }

    /// x-component of the easy axis per cell, `sin φ` in `[−1, 1]`, as in the paper's images
    /// (the VAE input). Note: `φ` and `π − φ` give the same image although they are different
    /// uniaxial axes, so for `|θ| > π/2` this image does not determine the structure; see
    /// [`GrainStructure::easy_axis_x_canonical`].
    pub fn easy_axis_x(&self) -> Array2<f32> {
        self.grain_map
            .mapv(|g| self.grain_angles[usize::from(g)].sin() as f32)
    }

    /// x-component of the easy axis in its `u_y ≥ 0` representative (`k ≡ −k`), in `[−1, 1]`:
    /// `sin φ` if `cos φ ≥ 0`, else `−sin φ`. Unlike [`GrainStructure::easy_axis_x`] this is
    /// injective on uniaxial axes, and [`angles_from_easy_axis_x`] inverts it exactly
    /// (up to `f32` rounding).
    pub fn easy_axis_x_canonical(&self) -> Array2<f32> {
        self.grain_map.mapv(|g| {
            let phi = self.grain_angles[usize::from(g)];
            let ux = if phi.cos() >= 0.0 {
                phi.sin()
            } else {
                -phi.sin()
            };
            ux as f32
        })
    }
}

/// Inverse map for user-supplied or decoded images: easy-axis angle (rad, from +y) per pixel,
/// `asin(clamp(u_x, −1, 1))` in `[−π/2, π/2]`, i.e. the `u_y ≥ 0` representative of the axis.
pub fn angles_from_easy_axis_x(img: ArrayView2<f64>) -> Result<Array2<f64>, GrainError> {
    if let Some(((row, col), &value)) = img.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(GrainError::NonFinitePixel { row, col, value });
    }
    Ok(img.mapv(|ux| ux.clamp(-1.0, 1.0).asin()))
}

/// Squared distance from a seed to a point; the one formula used by both assignment methods, so
/// that they agree bit for bit.
#[inline]
fn squared_distance(seed: [f64; 2], point: [f64; 2]) -> f64 {
    let dx = seed[0] - point[0];
    let dy = seed[1] - point[1];
    dx * dx + dy * dy
}

/// `true` if candidate `(d2, id)` beats the current best (smaller distance, then lower id).
#[inline]
fn is_better(d2: f64, id: usize, best_d2: f64, best_id: usize) -> bool {
    d2 < best_d2 || (d2 == best_d2 && id < best_id)
}

fn check_seeds(seeds: &[[f64; 2]]) -> Result<(), GrainError> {
    if seeds.is_empty() {
        return Err(GrainError::NoSeeds);
    }
    if seeds.len() > MAX_GRAINS {
        return Err(GrainError::TooManySeeds {
            max: MAX_GRAINS,
            found: seeds.len(),
        });
    }
    if let Some((index, s)) = seeds
        .iter()
        .enumerate()
        .find(|(_, s)| !(s[0].is_finite() && s[1].is_finite()))
    {
        return Err(GrainError::NonFiniteSeed {
            index,
            x: s[0],
            y: s[1],
        });
    }
    Ok(())
}

/// Index of the grain (`u16`) that owns each index; `check_seeds` guarantees it fits.
fn grain_id(index: usize) -> u16 {
    u16::try_from(index).expect("seed count checked against MAX_GRAINS")
}

/// Reference Voronoi assignment: every cell centre against every seed, O(cells · seeds).
/// Positions are in cell units; the result has shape `(ny, nx)`.
pub fn nearest_seed_map_brute_force(
    nx: usize,
    ny: usize,
    seeds: &[[f64; 2]],
) -> Result<Array2<u16>, GrainError> {
    check_seeds(seeds)?;
    let all: Vec<usize> = (0..seeds.len()).collect();
    Ok(Array2::from_shape_fn((ny, nx), |(row, col)| {
        grain_id(nearest_among(
            seeds,
            &all,
            [col as f64 + 0.5, row as f64 + 0.5],
        ))
    }))
}

/// Safety margin (cell units) for the candidate radius, far above the rounding error of
/// coordinates of order 10³.
const CANDIDATE_MARGIN: f64 = 1e-9;

/// Nearest seed to `p` among `candidates` (smaller distance, then lower id).
#[inline]
fn nearest_among(seeds: &[[f64; 2]], candidates: &[usize], p: [f64; 2]) -> usize {
    let (mut best_d2, mut best_id) = (f64::INFINITY, usize::MAX);
    for &id in candidates {
        let d2 = squared_distance(seeds[id], p);
        if is_better(d2, id, best_d2, best_id) {
            (best_d2, best_id) = (d2, id);
        }
    }
    best_id
}

/// Voronoi assignment of cell centres to seeds, equal to [`nearest_seed_map_brute_force`] cell
/// for cell (same distance formula and tie rule) but about ten times faster for the paper's
/// sizes. Positions are in cell units; the result has shape `(ny, nx)`.
///
/// The grid is cut into square blocks about one seed spacing wide. Let `B` be the bounding box
/// of a block's cell centres, `c` its centre, `h` its half-diagonal and `D` the distance from
/// `c` to the nearest seed. A cell centre `p` in `B` has a seed within `|p − c| + D ≤ D + h`,
/// so its nearest seed lies within `D + h` of `B`: only seeds that close are scanned.
pub fn nearest_seed_map(
    nx: usize,
    ny: usize,
    seeds: &[[f64; 2]],
) -> Result<Array2<u16>, GrainError> {
    check_seeds(seeds)?;
    let spacing = ((nx * ny) as f64 / seeds.len() as f64).sqrt();
    let block = (spacing.round() as usize).clamp(1, 16);
    let all: Vec<usize> = (0..seeds.len()).collect();
    let mut map = Array2::<u16>::zeros((ny, nx));
    let mut candidates = Vec::with_capacity(seeds.len());
    for row0 in (0..ny).step_by(block) {
        let row1 = (row0 + block).min(ny);
        for col0 in (0..nx).step_by(block) {
            let col1 = (col0 + block).min(nx);
            // Bounding box of the block's cell centres: [col0 + ½, col1 − ½] × [row0 + ½, row1 − ½].
            let c = [(col0 + col1) as f64 / 2.0, (row0 + row1) as f64 / 2.0];
            let half_w = (col1 - col0 - 1) as f64 / 2.0;
            let half_h = (row1 - row0 - 1) as f64 / 2.0;
            let h = half_w.hypot(half_h);
            let d = squared_distance(seeds[nearest_among(seeds, &all, c)], c).sqrt();
            let radius = d + h + CANDIDATE_MARGIN;
            let radius2 = radius * radius;
            let box_distance2 = |s: [f64; 2]| {
                let dx = ((s[0] - c[0]).abs() - half_w).max(0.0);
                let dy = ((s[1] - c[1]).abs() - half_h).max(0.0);
                dx * dx + dy * dy
            };
            candidates.clear();
            candidates.extend((0..seeds.len()).filter(|&id| box_distance2(seeds[id]) <= radius2));
            for row in row0..row1 {
                for col in col0..col1 {
                    let p = [col as f64 + 0.5, row as f64 + 0.5];
                    map[[row, col]] = grain_id(nearest_among(seeds, &candidates, p));
                }
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
#[path = "grains_tests.rs"]
mod tests;
