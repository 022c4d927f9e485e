//! Engine of the embedded Stoner–Wohlfarth model ([`crate::physics::esw`]): grain state, self-consistent
//! reversible rotation and the particle switching check.
//!
//! Fields are reduced (units of H_K) and the interaction matrices pre-scaled by κ = M_s/H_K, so
//! that a particle field is h_p = h_ext + (κB·m)_p and a centre field h_g = h_ext + (κC·m)_g.
//!
//! Particle check without a full B·m every step: a reference field h_ref (exact for a reference
//! state m_ref, h_ext,ref) is kept. Every true particle field differs from it by at most
//! δ = |h_ext − h_ext,ref| + max_p Σ_g ‖κB_pg‖·max_g |m_g − m_ref,g|. Only particles whose δ-ball
//! reaches their astroid (tested with the polynomial, which is monotone in |h_∥| and |h_⊥|) get
//! their exact field (one row of κB·m, always summed in the same order); decisions and rankings
//! use exact fields only, so the outcome equals checking every particle every time.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::physics::esw::cubic_grains::{GrainLattice, Interactions, sample_cap_axes};
use crate::physics::esw::stoner_wohlfarth::{
    astroid_polynomial, branch_minimum_warm, follow_branch, stationary_points,
};
use crate::physics::esw::{EasyAxes, EswConfig, EswError, StepStats};

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}
pub(crate) fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    a.map(|v| v * s)
}
fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Three dot products of the rows `r0`, `r1`, `r2` with `v`, in a fixed order (pairwise
/// interleaved partial sums, then the tail).
#[inline]
fn dot3_fixed(r0: &[f64], r1: &[f64], r2: &[f64], v: &[f64]) -> [f64; 3] {
    let mut acc = [[0.0f64; 2]; 3];
    let n2 = v.len() / 2 * 2;
    for j in (0..n2).step_by(2) {
        for l in 0..2 {
            acc[0][l] += r0[j + l] * v[j + l];
            acc[1][l] += r1[j + l] * v[j + l];
            acc[2][l] += r2[j + l] * v[j + l];
        }
    }
    let mut out = [
        acc[0][0] + acc[0][1],
        acc[1][0] + acc[1][1],
        acc[2][0] + acc[2][1],
    ];
    if n2 < v.len() {
        out[0] += r0[n2] * v[n2];
        out[1] += r1[n2] * v[n2];
        out[2] += r2[n2] * v[n2];
    }
    out
}

/// Three consecutive rows (3i, 3i+1, 3i+2) of a row-major matrix with `n` columns, times `v`.
#[inline]
fn block_rows_times(mat: &[f64], i: usize, n: usize, v: &[f64]) -> [f64; 3] {
    let rows = &mat[3 * i * n..3 * (i + 1) * n];
    let (r0, rest) = rows.split_at(n);
    let (r1, r2) = rest.split_at(n);
    dot3_fixed(r0, r1, r2, v)
}

/// A reference refresh is forced when more than this fraction of particles needs an exact field.
const REFRESH_FRACTION: usize = 8;

/// Mutable state of one simulation.
pub(crate) struct Model {
    pub(crate) axes: Vec<[f64; 3]>,
    /// +1 / −1: branch of each grain relative to its easy axis.
    pub(crate) branch: Vec<f64>,
    /// Flat m, 3 per grain.
    pub(crate) m: Vec<f64>,
    n_sites: usize,
    /// κ·(site, offset) blocks of B, flattened row-major 3×3 (see [`Interactions`]).
    site_blocks: Vec<[f64; 9]>,
    n_offsets: usize,
    /// Lattice offset index per (grain, grain).
    offset_index: Vec<u32>,
    /// κC row-major (3N_g × 3N_g), zero diagonal blocks.
    c: Vec<f64>,
    /// max_p Σ_g ‖κB_pg‖_F.
    bound: f64,
    /// m at the ends of the previous two steps (predictor history; empty until filled).
    m_prev1: Vec<f64>,
    m_prev2: Vec<f64>,
    ref_h: Vec<f64>,
    ref_m: Vec<f64>,
    ref_h_ext: [f64; 3],
    ref_valid: bool,
    /// Per particle: components of ref_h along / across its grain's current easy direction.
    ref_par: Vec<f64>,
    ref_perp: Vec<f64>,
    ref_min_par: f64,
}

impl Model {
    pub(crate) fn new(config: &EswConfig, seed: u64) -> Result<Self, EswError> {
        let n = config.grains.iter().product::<usize>();
        let axes: Vec<[f64; 3]> = match &config.easy_axes {
            EasyAxes::RandomCap { half_angle_deg } => sample_cap_axes(
                n,
                half_angle_deg.to_radians(),
                &mut ChaCha8Rng::seed_from_u64(seed),
            ),
            EasyAxes::Fixed(a) => a.iter().map(|v| scale(*v, 1.0 / norm(*v))).collect(),
        };
        let lattice = GrainLattice {
            shape: config.grains,
            spacing: config.grain_spacing,
            sites: config.sites.offsets(config.particle_inset),
        };
        let inter = Interactions::new(&lattice, config.include_self_field)?;
        let kappa = config.mu0_ms_t / config.anisotropy_field_t();
        let field_axis = scale(config.field_axis, 1.0 / norm(config.field_axis));
        let branch: Vec<f64> = axes
            .iter()
            .map(|k| {
                if dot(*k, field_axis) >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let m: Vec<f64> = axes
            .iter()
            .zip(&branch)
            .flat_map(|(k, s)| scale(*k, *s))
            .collect();
        let np = lattice.n_particles();
        Ok(Self {
            n_sites: lattice.sites.len(),
            site_blocks: inter
                .site_blocks
                .iter()
                .map(|t| {
                    let mut f = [0.0; 9];
                    for (k, v) in t.iter().flatten().enumerate() {
                        f[k] = kappa * v;
                    }
                    f
                })
                .collect(),
            n_offsets: inter.site_blocks.len() / lattice.sites.len(),
            offset_index: inter.offset_index,
            c: inter.centre.iter().map(|v| kappa * v).collect(),
            bound: kappa * inter.particle_row_bound,
            m_prev1: Vec::new(),
            m_prev2: Vec::new(),
            ref_h: vec![0.0; 3 * np],
            ref_m: m.clone(),
            ref_h_ext: [0.0; 3],
            ref_valid: false,
            ref_par: vec![0.0; np],
            ref_perp: vec![0.0; np],
            ref_min_par: 0.0,
            axes,
            branch,
            m,
        })
    }

    fn grain_m(&self, g: usize) -> [f64; 3] {
        [self.m[3 * g], self.m[3 * g + 1], self.m[3 * g + 2]]
    }

    fn easy_direction(&self, g: usize) -> [f64; 3] {
        scale(self.axes[g], self.branch[g])
    }

    /// One field step: relax, check particles, reverse the worst grain, repeat.
    pub(crate) fn field_step(&mut self, h_ext: [f64; 3], config: &EswConfig) -> StepStats {
        let mut st = StepStats::default();
        self.predict();
        loop {
            let (sweeps, capped, flips) = self.relax(h_ext, config);
            st.relax_sweeps += sweeps;
            st.relax_capped |= capped;
            st.switches += flips;
            if flips > 0 {
                self.ref_valid = false;
            }
            let (worst, exact_fields) = self.find_reversal(h_ext, config.exact_switch_checks);
            st.particle_fields += exact_fields;
            let Some(g) = worst else { break };
            self.reverse(g, h_ext);
            st.switches += 1;
            if st.switches as usize >= config.max_switches_per_step {
                st.switch_capped = true;
                let (sweeps, capped, _) = self.relax(h_ext, config);
                st.relax_sweeps += sweeps;
                st.relax_capped |= capped;
                break;
            }
        }
        st
    }

    /// Starting point of the relaxation: quadratic extrapolation 3m − 3m₁ + m₂ from the last
    /// three step ends (linear 2m − m₁ with only two), normalised, for grains whose history and
    /// guess all lie on the current branch side; other grains start from m.
    fn predict(&mut self) {
        let cur = self.m.clone();
        for g in 0..self.axes.len() {
            let u = self.easy_direction(g);
            let at = |v: &Vec<f64>| [v[3 * g], v[3 * g + 1], v[3 * g + 2]];
            let m0 = at(&cur);
            let guess = match (self.m_prev1.is_empty(), self.m_prev2.is_empty()) {
                (false, false) => {
                    let (m1, m2) = (at(&self.m_prev1), at(&self.m_prev2));
                    (dot(m1, u) > 0.0 && dot(m2, u) > 0.0)
                        .then(|| [0, 1, 2].map(|a| 3.0 * (m0[a] - m1[a]) + m2[a]))
                }
                (false, true) => {
                    let m1 = at(&self.m_prev1);
                    (dot(m1, u) > 0.0).then(|| sub(scale(m0, 2.0), m1))
                }
                _ => None,
            };
            if let Some(v) = guess {
                let n = norm(v);
                if dot(m0, u) > 0.0 && dot(v, u) > 0.0 && n > 0.0 {
                    self.m[3 * g..3 * g + 3].copy_from_slice(&scale(v, 1.0 / n));
                }
            }
        }
        self.m_prev2 = std::mem::replace(&mut self.m_prev1, cur);
    }

    /// Field at the centre of grain g from h_ext and the other grains.
    fn centre_field(&self, g: usize, h_ext: [f64; 3]) -> [f64; 3] {
        let d = block_rows_times(&self.c, g, self.m.len(), &self.m);
        [h_ext[0] + d[0], h_ext[1] + d[1], h_ext[2] + d[2]]
    }

    /// Gauss–Seidel relaxation of the reversible rotation. Returns (sweeps, capped, reversals
    /// caused by a branch vanishing at a grain centre).
    pub(crate) fn relax(&mut self, h_ext: [f64; 3], config: &EswConfig) -> (u32, bool, u32) {
        let mut flips = 0;
        let mut previous_change = f64::INFINITY;
        for sweep in 1..=config.max_relax_sweeps {
            let mut change = 0.0f64;
            for g in 0..self.axes.len() {
                let h = self.centre_field(g, h_ext);
                let old = self.grain_m(g);
                let (new, switched) = rotate(self.axes[g], self.branch[g], h, old);
                if switched {
                    self.branch[g] = -self.branch[g];
                    flips += 1;
                }
                change = change.max(norm(sub(new, old)));
                self.m[3 * g..3 * g + 3].copy_from_slice(&new);
            }
            // Converged when the last change, or the remaining error estimated from the
            // contraction rate ρ (error ≤ change·ρ/(1 − ρ)), is below the tolerance.
            let rho = change / previous_change;
            let estimated = if sweep > 1 && rho < 0.5 {
                change * rho / (1.0 - rho)
            } else {
                f64::INFINITY
            };
            if change < config.relax_tolerance || estimated < config.relax_tolerance {
                return (sweep as u32, false, flips);
            }
            previous_change = change;
        }
        (config.max_relax_sweeps as u32, true, flips)
    }

    /// The κB block of particle p and grain h.
    #[inline]
    fn particle_block(&self, p: usize, h: usize) -> &[f64; 9] {
        let ng = self.axes.len();
        let o = self.offset_index[(p / self.n_sites) * ng + h] as usize;
        &self.site_blocks[(p % self.n_sites) * self.n_offsets + o]
    }

    /// Exact field at particle p: h_ext + row p of κB·m (fixed summation order: even and odd
    /// grains in two partial sums, added at the end).
    pub(crate) fn particle_field(&self, p: usize, h_ext: [f64; 3]) -> [f64; 3] {
        let mut acc = [[0.0f64; 3]; 2];
        for (h, m) in self.m.chunks_exact(3).enumerate() {
            let b = self.particle_block(p, h);
            let a = &mut acc[h % 2];
            a[0] += b[0] * m[0] + b[1] * m[1] + b[2] * m[2];
            a[1] += b[3] * m[0] + b[4] * m[1] + b[5] * m[2];
            a[2] += b[6] * m[0] + b[7] * m[1] + b[8] * m[2];
        }
        [
            h_ext[0] + (acc[0][0] + acc[1][0]),
            h_ext[1] + (acc[0][1] + acc[1][1]),
            h_ext[2] + (acc[0][2] + acc[1][2]),
        ]
    }

    /// Recomputes the reference fields for the current state.
    fn refresh_reference(&mut self, h_ext: [f64; 3]) {
        for p in 0..self.ref_par.len() {
            let h = self.particle_field(p, h_ext);
            self.ref_h[3 * p..3 * p + 3].copy_from_slice(&h);
        }
        self.ref_m.copy_from_slice(&self.m);
        self.ref_h_ext = h_ext;
        self.ref_valid = true;
        self.project_reference();
    }

    /// Components of the reference fields along / across each grain's current easy direction.
    fn project_reference(&mut self) {
        let mut min_par = f64::INFINITY;
        for p in 0..self.ref_par.len() {
            let h = [
                self.ref_h[3 * p],
                self.ref_h[3 * p + 1],
                self.ref_h[3 * p + 2],
            ];
            let par = dot(h, self.easy_direction(p / self.n_sites));
            self.ref_par[p] = par;
            self.ref_perp[p] = (dot(h, h) - par * par).max(0.0).sqrt();
            min_par = min_par.min(par);
        }
        self.ref_min_par = min_par;
    }

    /// Moves grain g's reference magnetization to its current m (exact column update).
    fn update_reference_grain(&mut self, g: usize) {
        let d = sub(
            self.grain_m(g),
            [
                self.ref_m[3 * g],
                self.ref_m[3 * g + 1],
                self.ref_m[3 * g + 2],
            ],
        );
        for p in 0..self.ref_par.len() {
            let b = *self.particle_block(p, g);
            for a in 0..3 {
                self.ref_h[3 * p + a] +=
                    b[3 * a] * d[0] + b[3 * a + 1] * d[1] + b[3 * a + 2] * d[2];
            }
        }
        let mg = self.grain_m(g);
        self.ref_m[3 * g..3 * g + 3].copy_from_slice(&mg);
        self.project_reference();
    }

    /// The grain owning the particle farthest beyond its astroid (by |h_∥|^{2/3} + |h_⊥|^{2/3},
    /// first particle on ties), if any; plus the number of exact particle fields evaluated.
    fn find_reversal(&mut self, h_ext: [f64; 3], exact: bool) -> (Option<usize>, u32) {
        let np = self.ref_par.len();
        let mut evaluated = 0;
        let mut candidates: Vec<usize> = Vec::new();
        if exact {
            candidates.extend(0..np);
        } else {
            if !self.ref_valid {
                self.refresh_reference(h_ext);
                evaluated += np;
            }
            let dm = self
                .m
                .chunks_exact(3)
                .zip(self.ref_m.chunks_exact(3))
                .map(|(a, b)| norm([a[0] - b[0], a[1] - b[1], a[2] - b[2]]))
                .fold(0.0, f64::max);
            let mut delta =
                (norm(sub(h_ext, self.ref_h_ext)) + self.bound * dm) * (1.0 + 1e-9) + 1e-12;
            if delta < self.ref_min_par {
                return (None, evaluated as u32);
            }
            for _ in 0..2 {
                // Branch-free count first (vectorisable); collect only if needed.
                let reaches = |par: f64, perp: f64| {
                    let (a, b) = ((-par).max(0.0) + delta, perp + delta);
                    let t = a * a + b * b - 1.0;
                    (par - delta < 0.0) & (t * t * t + 27.0 * a * a * b * b >= 0.0)
                };
                let count: usize = self
                    .ref_par
                    .iter()
                    .zip(&self.ref_perp)
                    .map(|(&par, &perp)| usize::from(reaches(par, perp)))
                    .sum();
                if count == 0 {
                    return (None, evaluated as u32);
                }
                if count * REFRESH_FRACTION <= np {
                    candidates
                        .extend((0..np).filter(|&p| reaches(self.ref_par[p], self.ref_perp[p])));
                    break;
                }
                if delta <= 1e-12 {
                    // Just refreshed: these particles really are at or beyond their astroid.
                    candidates
                        .extend((0..np).filter(|&p| reaches(self.ref_par[p], self.ref_perp[p])));
                    break;
                }
                self.refresh_reference(h_ext);
                evaluated += np;
                delta = 1e-12;
            }
        }
        let mut best: Option<(f64, usize)> = None;
        for &p in &candidates {
            let g = p / self.n_sites;
            let h = self.particle_field(p, h_ext);
            let par = dot(h, self.easy_direction(g));
            if par >= 0.0 {
                continue;
            }
            let perp2 = (dot(h, h) - par * par).max(0.0);
            if astroid_polynomial(par, perp2.sqrt()) >= 0.0 {
                let score = (par * par).cbrt() + perp2.cbrt();
                if best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, g));
                }
            }
        }
        evaluated += candidates.len();
        (best.map(|(_, g)| g), evaluated as u32)
    }

    /// Reverses grain g: flips its branch and puts m in the minimum of the new branch for its
    /// centre field (or along the new easy direction if that branch does not exist there; the
    /// next relaxation then decides).
    fn reverse(&mut self, g: usize, h_ext: [f64; 3]) {
        self.branch[g] = -self.branch[g];
        let u = self.easy_direction(g);
        let h = self.centre_field(g, h_ext);
        let (e, par, perp) = frame(u, h, scale(self.grain_m(g), -1.0));
        let new = stationary_points(par, perp)
            .minima()
            .find(|t| t.cos() > 0.0)
            .map_or(u, |t| combine(u, e, t.cos(), t.sin()));
        self.m[3 * g..3 * g + 3].copy_from_slice(&new);
        if self.ref_valid {
            self.update_reference_grain(g);
        }
    }
}

/// Orthonormal frame (u, e) of the plane of u and h: e ∝ the part of h across u (or of `hint`,
/// or any perpendicular, when h ∥ u). Returns (e, h·u, |h⊥|).
pub(crate) fn frame(u: [f64; 3], h: [f64; 3], hint: [f64; 3]) -> ([f64; 3], f64, f64) {
    let par = dot(h, u);
    let w = sub(h, scale(u, par));
    let perp = norm(w);
    if perp > 1e-14 {
        return (scale(w, 1.0 / perp), par, perp);
    }
    let t = if norm(sub(hint, scale(u, dot(hint, u)))) > 1e-14 {
        hint
    } else if u[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let w = sub(t, scale(u, dot(t, u)));
    (scale(w, 1.0 / norm(w)), par, perp)
}

fn combine(u: [f64; 3], e: [f64; 3], c: f64, s: f64) -> [f64; 3] {
    [
        c * u[0] + s * e[0],
        c * u[1] + s * e[1],
        c * u[2] + s * e[2],
    ]
}

/// SW equilibrium of a grain on its branch for field h (reduced), starting from m_prev:
/// warm Newton ([`branch_minimum_warm`]) or, when it declines, Kalezhi's closed form with basin
/// following. Returns the new m and whether the branch vanished (m crossed the hard axis).
pub(crate) fn rotate(k: [f64; 3], branch: f64, h: [f64; 3], m_prev: [f64; 3]) -> ([f64; 3], bool) {
    let u = scale(k, branch);
    let (e, par, perp) = frame(u, h, m_prev);
    let (c0, s0) = (dot(m_prev, u), dot(m_prev, e));
    if let Some((c, s)) = branch_minimum_warm(par, perp, c0, s0) {
        return (combine(u, e, c, s), false);
    }
    let step = follow_branch(par, perp, s0.atan2(c0));
    let (s, c) = step.theta.sin_cos();
    (combine(u, e, c, s), step.switched)
}

/// One grain update with the closed form only (reference for tests).
#[cfg(test)]
pub(crate) fn rotate_closed_form(
    k: [f64; 3],
    branch: f64,
    h: [f64; 3],
    m_prev: [f64; 3],
) -> ([f64; 3], bool) {
    let u = scale(k, branch);
    let (e, par, perp) = frame(u, h, m_prev);
    let step = follow_branch(par, perp, dot(m_prev, e).atan2(dot(m_prev, u)));
    let (s, c) = step.theta.sin_cos();
    (combine(u, e, c, s), step.switched)
}
