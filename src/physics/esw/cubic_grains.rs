//! Geometry of the embedded Stoner–Wohlfarth model: a lattice of identical, axis-aligned cubic
//! grains (Kornell et al.: 4×4×4), their easy axes, the embedded SW particle sites and the
//! magnetostatic interaction matrices.
//!
//! Lengths are in units of the grain edge L (magnetostatics of uniformly magnetized bodies is
//! scale invariant, so only ratios matter). Grain (i, j, k) is the cube of edge 1 centred at
//! ((i+½)s, (j+½)s, (k+½)s) with centre spacing s ≥ 1 (s = 1: touching grains); its flat index is
//! g = (i·n_y + j)·n_z + k, the row-major order of an (n_x, n_y, n_z) array.

use std::collections::HashMap;
use std::f64::consts::PI;

use ndarray::Array2;
use rand::Rng;

use crate::physics::prism::{PrismError, Tensor3, prism_tensor};

/// Uniformly random unit vectors on the spherical cap within `half_angle` (rad) of +z:
/// cos θ ~ U[cos α, 1], φ ~ U[0, 2π), drawn in that order per grain.
pub fn sample_cap_axes(n: usize, half_angle: f64, rng: &mut impl Rng) -> Vec<[f64; 3]> {
    let cos_min = half_angle.cos();
    (0..n)
        .map(|_| {
            let ct: f64 = rng.random_range(cos_min..=1.0);
            let phi: f64 = rng.random_range(0.0..2.0 * PI);
            let st = (1.0 - ct * ct).max(0.0).sqrt();
            [st * phi.cos(), st * phi.sin(), ct]
        })
        .collect()
}

/// Which points of each grain carry embedded SW particles. Sites lie on the 3×3×3 pattern
/// centre + (½ − d)·u, u ∈ {−1, 0, 1}³ \ {0}, with inset d from the faces: corners (|u|₁ = 3),
/// edge midpoints (|u|₁ = 2) and face centres (|u|₁ = 1) — where the demagnetizing field of a
/// cube and of its neighbours peaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticleSites {
    /// The 8 corner sites.
    Corners,
    /// 8 corners + 12 edge midpoints.
    CornersAndEdges,
    /// 8 corners + 12 edge midpoints + 6 face centres (26 sites).
    CornersEdgesFaces,
}

impl ParticleSites {
    /// Site offsets from the grain centre (units of the edge) for inset `inset` (units of the
    /// edge, 0 < inset < ½), in a fixed order (lexicographic in u).
    pub fn offsets(self, inset: f64) -> Vec<[f64; 3]> {
        let max_zeros = match self {
            ParticleSites::Corners => 0,
            ParticleSites::CornersAndEdges => 1,
            ParticleSites::CornersEdgesFaces => 2,
        };
        let a = 0.5 - inset;
        let mut out = Vec::new();
        for ux in -1i32..=1 {
            for uy in -1i32..=1 {
                for uz in -1i32..=1 {
                    let zeros = [ux, uy, uz].iter().filter(|&&u| u == 0).count();
                    if zeros <= max_zeros {
                        out.push([a * f64::from(ux), a * f64::from(uy), a * f64::from(uz)]);
                    }
                }
            }
        }
        out
    }
}

/// A lattice of identical cubic grains with embedded particle sites.
#[derive(Debug, Clone, PartialEq)]
pub struct GrainLattice {
    /// Grains along x, y, z.
    pub shape: [usize; 3],
    /// Centre-to-centre spacing in units of the edge (≥ 1).
    pub spacing: f64,
    /// Particle offsets from their grain centre (units of the edge), the same for every grain.
    pub sites: Vec<[f64; 3]>,
}

impl GrainLattice {
    /// Number of grains.
    pub fn n_grains(&self) -> usize {
        self.shape[0] * self.shape[1] * self.shape[2]
    }

    /// Number of particles (grains × sites); particle p belongs to grain p / sites.
    pub fn n_particles(&self) -> usize {
        self.n_grains() * self.sites.len()
    }

    /// Lattice index (i, j, k) of flat grain index g.
    pub fn grain_index(&self, g: usize) -> [usize; 3] {
        let [_, ny, nz] = self.shape;
        [g / (ny * nz), (g / nz) % ny, g % nz]
    }

    /// Centre of grain g.
    pub fn grain_centre(&self, g: usize) -> [f64; 3] {
        let idx = self.grain_index(g);
        [0, 1, 2].map(|a| (idx[a] as f64 + 0.5) * self.spacing)
    }

    /// Position of particle p.
    pub fn particle_position(&self, p: usize) -> [f64; 3] {
        let c = self.grain_centre(p / self.sites.len());
        let s = self.sites[p % self.sites.len()];
        [c[0] + s[0], c[1] + s[1], c[2] + s[2]]
    }
}

/// Magnetostatic couplings of a grain lattice, in units of M: fields are H = B·M.
///
/// B (3N_p × 3N_g) has the blocks B_pg = −N_cube(r_p − c_g) (zero for a particle's own grain
/// when the self field is excluded). All grains are identical cubes on a lattice, so a block
/// depends only on the particle's site and the lattice offset between the grains: B is stored as
/// one 3×3 block per (site, offset) plus an offset table ([`Self::particle_block`]; the dense
/// matrix is [`Self::particle_matrix`]). The cube tensor is computed once per distinct |r| and
/// mirrored (N_ab(r) = σ_a σ_b N_ab(|r|) with σ the component signs of r).
#[derive(Debug, Clone)]
pub struct Interactions {
    /// C (3N_g × 3N_g): block (g, g') = −N_cube(c_g − c_g') for g ≠ g', zero diagonal blocks
    /// (field at grain centres from the other grains).
    pub centre: Array2<f64>,
    /// max over particles of Σ_g ‖B_pg‖_F: |ΔH_p| ≤ this · max_g |ΔM_g|.
    pub particle_row_bound: f64,
    /// Block of (site s, lattice offset o) at `site_blocks[s·n_offsets + o]`.
    pub site_blocks: Vec<Tensor3>,
    /// Lattice offset index o(g, h) at `offset_index[g·N_g + h]`.
    pub offset_index: Vec<u32>,
    n_grains: usize,
    n_sites: usize,
}

/// −N_cube(r) for the unit cube, cached by |r| (exact bit patterns) and mirrored.
struct MirrorCache {
    map: HashMap<[u64; 3], Tensor3>,
}

impl MirrorCache {
    fn neg_tensor(&mut self, r: [f64; 3]) -> Result<Tensor3, PrismError> {
        let a = r.map(f64::abs);
        let key = a.map(f64::to_bits);
        let base = match self.map.get(&key) {
            Some(t) => *t,
            None => {
                let t = prism_tensor([1.0; 3], a)?.map(|row| row.map(|v| -v));
                self.map.insert(key, t);
                t
            }
        };
        let sign = r.map(|v| if v < 0.0 { -1.0 } else { 1.0 });
        let mut t = base;
        for (i, row) in t.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v *= sign[i] * sign[j];
            }
        }
        Ok(t)
    }
}

impl Interactions {
    /// Builds the compact B and the dense C.
    pub fn new(lattice: &GrainLattice, include_self_field: bool) -> Result<Self, PrismError> {
        let ng = lattice.n_grains();
        let ns = lattice.sites.len();
        let shape = lattice.shape;
        let span = shape.map(|n| 2 * n - 1);
        let n_offsets = span[0] * span[1] * span[2];
        // Offset index o ↔ lattice offset d ∈ [−(n−1), n−1]³.
        let offset_of = |o: usize| {
            let k = [
                o / (span[1] * span[2]),
                (o / span[2]) % span[1],
                o % span[2],
            ];
            [0, 1, 2].map(|a| k[a] as i64 - (shape[a] as i64 - 1))
        };
        let index_of = |d: [i64; 3]| {
            let k = [0, 1, 2].map(|a| (d[a] + shape[a] as i64 - 1) as usize);
            (k[0] * span[1] + k[1]) * span[2] + k[2]
        };
        let zero_offset = index_of([0, 0, 0]);
        let mut cache = MirrorCache {
            map: HashMap::new(),
        };
        let mut site_blocks = vec![[[0.0; 3]; 3]; ns * n_offsets];
        for (s, site) in lattice.sites.iter().enumerate() {
            for o in 0..n_offsets {
                if o == zero_offset && !include_self_field {
                    continue;
                }
                let d = offset_of(o);
                let r = [0, 1, 2].map(|a| d[a] as f64 * lattice.spacing + site[a]);
                site_blocks[s * n_offsets + o] = cache.neg_tensor(r)?;
            }
        }
        let mut offset_index = Vec::with_capacity(ng * ng);
        for g in 0..ng {
            for h in 0..ng {
                let (a, b) = (lattice.grain_index(g), lattice.grain_index(h));
                let o = index_of([0, 1, 2].map(|k| a[k] as i64 - b[k] as i64));
                offset_index.push(u32::try_from(o).expect("lattice offsets fit in u32"));
            }
        }
        let mut centre = Array2::zeros((3 * ng, 3 * ng));
        for g in 0..ng {
            for h in 0..ng {
                if h != g {
                    let d = offset_of(offset_index[g * ng + h] as usize);
                    let t = cache.neg_tensor(d.map(|v| v as f64 * lattice.spacing))?;
                    put_block(&mut centre, g, h, &t);
                }
            }
        }
        let mut inter = Self {
            centre,
            particle_row_bound: 0.0,
            site_blocks,
            offset_index,
            n_grains: ng,
            n_sites: ns,
        };
        let frobenius = |t: &Tensor3| t.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        inter.particle_row_bound = (0..ng * ns)
            .map(|p| {
                (0..ng)
                    .map(|h| frobenius(inter.particle_block(p, h)))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        Ok(inter)
    }

    /// Block B_ph of particle p (grain p / n_sites, site p % n_sites) and grain h.
    pub fn particle_block(&self, p: usize, h: usize) -> &Tensor3 {
        let n_offsets = self.site_blocks.len() / self.n_sites;
        let o = self.offset_index[(p / self.n_sites) * self.n_grains + h] as usize;
        &self.site_blocks[(p % self.n_sites) * n_offsets + o]
    }

    /// The dense B (3N_p × 3N_g).
    pub fn particle_matrix(&self) -> Array2<f64> {
        let np = self.n_grains * self.n_sites;
        let mut b = Array2::zeros((3 * np, 3 * self.n_grains));
        for p in 0..np {
            for h in 0..self.n_grains {
                put_block(&mut b, p, h, self.particle_block(p, h));
            }
        }
        b
    }
}

fn put_block(m: &mut Array2<f64>, row: usize, col: usize, t: &Tensor3) {
    for a in 0..3 {
        for b in 0..3 {
            m[[3 * row + a, 3 * col + b]] = t[a][b];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn cap_axes_are_unit_and_within_the_cap() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let axes = sample_cap_axes(5000, 35f64.to_radians(), &mut rng);
        let cos35 = 35f64.to_radians().cos();
        let mut mean_z = 0.0;
        for a in &axes {
            let n = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
            assert!((n - 1.0).abs() < 1e-14);
            assert!(a[2] >= cos35 - 1e-15);
            mean_z += a[2] / axes.len() as f64;
        }
        // Uniform on the cap: E[cos θ] = (1 + cos α)/2; standard error ≈ 0.0007.
        assert!((mean_z - 0.5 * (1.0 + cos35)).abs() < 0.003);
    }

    #[test]
    fn site_patterns() {
        assert_eq!(ParticleSites::Corners.offsets(0.1).len(), 8);
        assert_eq!(ParticleSites::CornersAndEdges.offsets(0.1).len(), 20);
        let all = ParticleSites::CornersEdgesFaces.offsets(0.1);
        assert_eq!(all.len(), 26);
        assert!(all.iter().all(|s| s.iter().all(|v| v.abs() <= 0.4 + 1e-15)));
        let lattice = GrainLattice {
            shape: [4, 3, 2],
            spacing: 1.0,
            sites: all,
        };
        assert_eq!(lattice.grain_index(6 + 2 * 2 + 1), [1, 2, 1]);
        assert_eq!(lattice.grain_centre(23), [3.5, 2.5, 1.5]);
    }

    #[test]
    fn blocks_are_cube_tensors_of_the_offsets() {
        let lattice = GrainLattice {
            shape: [2, 3, 1],
            spacing: 1.1,
            sites: ParticleSites::CornersAndEdges.offsets(0.05),
        };
        let inter = Interactions::new(&lattice, true).unwrap();
        let b = inter.particle_matrix();
        assert_eq!(b.dim(), (3 * 120, 18));
        for p in 0..lattice.n_particles() {
            for h in 0..lattice.n_grains() {
                let (rp, ch) = (lattice.particle_position(p), lattice.grain_centre(h));
                let n =
                    prism_tensor([1.0; 3], [rp[0] - ch[0], rp[1] - ch[1], rp[2] - ch[2]]).unwrap();
                for (a, row) in n.iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        assert!((b[[3 * p + a, 3 * h + c]] + v).abs() < 1e-15);
                    }
                }
            }
        }
        for g in 0..lattice.n_grains() {
            for h in 0..lattice.n_grains() {
                let (cg, ch) = (lattice.grain_centre(g), lattice.grain_centre(h));
                let n =
                    prism_tensor([1.0; 3], [cg[0] - ch[0], cg[1] - ch[1], cg[2] - ch[2]]).unwrap();
                for (a, row) in n.iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        let want = if g == h { 0.0 } else { -v };
                        assert!((inter.centre[[3 * g + a, 3 * h + c]] - want).abs() < 1e-15);
                    }
                }
            }
        }
        let no_self = Interactions::new(&lattice, false).unwrap();
        assert!(
            no_self
                .particle_matrix()
                .slice(ndarray::s![0..60, 0..3])
                .iter()
                .all(|v| *v == 0.0)
        );
        assert!(inter.particle_row_bound > no_self.particle_row_bound);
    }
}
