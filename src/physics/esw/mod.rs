//! Embedded Stoner–Wohlfarth (eSW) model of Kornell et al. (Algorithm 1; method of Fischbacher
//! et al., Scripta Mater. 154, 253 (2018)): demagnetization curves of a lattice of cubic grains.
//!
//! Each grain is a uniformly magnetized SW particle (unit vector m_g, easy axis k_g). Virtual SW
//! particles embedded in the grain (see [`ParticleSites`]) probe the local field; the whole grain
//! reverses when the total field at any of them, H_ext + Σ_g' B_pg' M_g', is beyond the astroid
//! for the grain's current easy direction. Reversible rotation: each grain sits in the SW
//! minimum of its branch for the field at its centre from the external field and the other
//! grains, iterated to self-consistency (Gauss–Seidel in grain order).
//!
//! Per field step: relax (rotation) → check all particles → reverse the grain with the largest
//! overshoot → relax → check … until no particle is beyond its astroid (avalanches finish inside
//! the step). Exact particle fields are computed only for particles that a rigorous bound cannot
//! clear (see [`crate::physics::esw::state`]); the result is identical to checking every particle every
//! time (`exact_switch_checks` does that).
//!
//! Modelling choices (defaults, see [`EswConfig`]):
//! - **Self field on particles: included.** Kornell's eq. (4) sums the surface charges of all
//!   N_g grains, and the non-uniform, edge-enhanced field of a grain's own charges is the
//!   "weakest link" mechanism of eSW (Fischbacher et al.; Bance et al., J. Appl. Phys. (2014),
//!   doi:10.1063/1.4904854). For touching grains it also makes the field at internal
//!   interfaces the true field of the whole magnet (own and neighbour charges cancel there);
//!   without it a particle next to a parallel neighbour would see a spurious stabilising field
//!   ≈ M/2. The paper's text ("the local demagnetization fields of the other grains") is looser
//!   than its eq. (4); the choice is a switch (`include_self_field`).
//! - **Self field in the rotation: excluded.** A uniformly magnetized cube's own mean field is
//!   −M/3, parallel to m: it exerts no torque and its only effect on the uniform mode is the
//!   shape anisotropy K_d = ½μ0Ms²(N⊥ − N∥) = 0 for a cube (the paper's eq. (1) K_d).
//! - **Particles: 26 sites** (8 corners, 12 edge midpoints, 6 face centres: where the cube's
//!   own field and that of its neighbours peak) **at 0.1 L inside the faces**. The field at
//!   an edge diverges logarithmically, so the inset sets the switching fields; nucleation
//!   happens over a finite volume (Bance et al. evaluate the field ~1.2 l_ex from the edge,
//!   ≈ 0.1 L for ~25 nm grains). The paper gives neither grain size nor placement; 0.1 puts the
//!   first reversals near −2.9 T and the coercive field near −3.4 T (10 seeds; 0.02 gives
//!   −2.2 T / −2.9 T), close to the paper's "switching in the range of −8 to −3 T" (Fig. 4).
//!
//! Material (the paper names Nd₂Fe₁₄B but gives no numbers): μ0M_s = 1.61 T and
//! K_u = K₁ = 4.9 MJ/m³, the standard room-temperature values (Herbst, Rev. Mod. Phys. 63, 819
//! (1991)), so μ0H_K = 2K_u/M_s = 7.65 T: consistent with the paper's ±8 T sweep saturating the
//! sample and every grain being reversed at −8 T.

pub mod cubic_grains;
mod state;
pub mod stoner_wohlfarth;

use ndarray::{Array1, Array4, Array5, Axis};

use crate::physics::esw::cubic_grains::ParticleSites;
use crate::physics::esw::state::{Model, norm, scale};
use crate::physics::prism::PrismError;

pub use crate::physics::constants::MU0;

/// How the easy axes of the grains are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum EasyAxes {
    /// Uniform on the spherical cap within `half_angle_deg` of +z (seeded).
    RandomCap {
        /// Cap half-angle (degrees); the paper uses 35°.
        half_angle_deg: f64,
    },
    /// Given axes, one per grain in flat grain order (normalised on use).
    Fixed(Vec<[f64; 3]>),
}

/// All parameters of an eSW simulation; `Default` is the Kornell et al. set-up.
#[derive(Debug, Clone, PartialEq)]
pub struct EswConfig {
    /// Grains along x, y, z (paper: 4×4×4).
    pub grains: [usize; 3],
    /// Easy-axis distribution (paper: uniform within 35° of z).
    pub easy_axes: EasyAxes,
    /// μ0·M_s (T). Default 1.61 T (Nd₂Fe₁₄B).
    pub mu0_ms_t: f64,
    /// Magnetocrystalline anisotropy K_u (J/m³). Default 4.9e6 (Nd₂Fe₁₄B).
    pub ku_j_per_m3: f64,
    /// Shape anisotropy K_d of one grain (J/m³), added to K_u in H_K; 0 for cubes.
    pub kd_j_per_m3: f64,
    /// First applied field μ0H_ext (T).
    pub field_start_t: f64,
    /// Last applied field μ0H_ext (T).
    pub field_end_t: f64,
    /// Number of field values, start and end included (spacing (end − start)/(steps − 1)).
    pub field_steps: usize,
    /// Direction of the applied field (normalised); the sample starts saturated along it.
    pub field_axis: [f64; 3],
    /// Particle sites in each grain (default: corners, edge midpoints and face centres).
    pub sites: ParticleSites,
    /// Distance of the particle sites from the grain faces, in units of the grain edge (0, ½).
    /// Default 0.1 (see the module docs).
    pub particle_inset: f64,
    /// Grain centre spacing in units of the edge (≥ 1; 1 = touching grains).
    pub grain_spacing: f64,
    /// Whether a grain's own field acts on its embedded particles (default true, see the module
    /// docs).
    pub include_self_field: bool,
    /// Cap on Gauss–Seidel sweeps per relaxation.
    pub max_relax_sweeps: usize,
    /// Relaxation converged when the largest |Δm_g| of a sweep, or the remaining error
    /// estimated from the contraction of successive sweeps (Δ·ρ/(1 − ρ)), is below this.
    pub relax_tolerance: f64,
    /// Cap on grain reversals within one field step.
    pub max_switches_per_step: usize,
    /// Evaluate every particle field exactly after every relaxation instead of using the bound.
    pub exact_switch_checks: bool,
}

impl Default for EswConfig {
    fn default() -> Self {
        Self {
            grains: [4, 4, 4],
            easy_axes: EasyAxes::RandomCap {
                half_angle_deg: 35.0,
            },
            mu0_ms_t: 1.61,
            ku_j_per_m3: 4.9e6,
            kd_j_per_m3: 0.0,
            field_start_t: 8.0,
            field_end_t: -8.0,
            field_steps: 1000,
            field_axis: [0.0, 0.0, 1.0],
            sites: ParticleSites::CornersEdgesFaces,
            particle_inset: 0.1,
            grain_spacing: 1.0,
            include_self_field: true,
            max_relax_sweeps: 200,
            relax_tolerance: 1e-10,
            max_switches_per_step: 256,
            exact_switch_checks: false,
        }
    }
}

impl EswConfig {
    /// μ0H_K = 2(K_u + K_d)/M_s in tesla (the isolated-particle switching field, eq. (1)).
    pub fn anisotropy_field_t(&self) -> f64 {
        2.0 * (self.ku_j_per_m3 + self.kd_j_per_m3) * MU0 / self.mu0_ms_t
    }

    /// The applied field values μ0H_ext (T), one per step.
    pub fn field_values_t(&self) -> Array1<f64> {
        let n = self.field_steps;
        let (a, b) = (self.field_start_t, self.field_end_t);
        Array1::from_shape_fn(n, |i| {
            if n == 1 {
                a
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
    }

    fn validate(&self) -> Result<(), EswError> {
        let bad = |why: &str| Err(EswError::InvalidConfig(why.to_string()));
        let finite = [
            self.mu0_ms_t,
            self.ku_j_per_m3,
            self.kd_j_per_m3,
            self.field_start_t,
            self.field_end_t,
            self.particle_inset,
            self.grain_spacing,
            self.relax_tolerance,
        ];
        if finite.iter().any(|v| !v.is_finite()) || self.field_axis.iter().any(|v| !v.is_finite()) {
            return bad("parameters must be finite");
        }
        if self.grains.contains(&0) {
            return bad("grains must be ≥ 1 along every axis");
        }
        if self.field_steps == 0 {
            return bad("field_steps must be ≥ 1");
        }
        if self.mu0_ms_t <= 0.0 || self.ku_j_per_m3 + self.kd_j_per_m3 <= 0.0 {
            return bad("need μ0Ms > 0 and K_u + K_d > 0");
        }
        if !(self.particle_inset > 0.0 && self.particle_inset < 0.5) {
            return bad("particle_inset must lie in (0, 0.5)");
        }
        if self.grain_spacing < 1.0 {
            return bad("grain_spacing must be ≥ 1 (grains may not overlap)");
        }
        if norm(self.field_axis) == 0.0 {
            return bad("field_axis must be non-zero");
        }
        if self.relax_tolerance <= 0.0 || self.max_relax_sweeps == 0 {
            return bad("relaxation needs a positive tolerance and ≥ 1 sweep");
        }
        let n = self.grains.iter().product::<usize>();
        match &self.easy_axes {
            EasyAxes::RandomCap { half_angle_deg } if !(0.0..=180.0).contains(half_angle_deg) => {
                bad("cap half-angle must be in [0, 180] degrees")
            }
            EasyAxes::Fixed(axes) if axes.len() != n => bad("need one fixed easy axis per grain"),
            EasyAxes::Fixed(axes)
                if axes
                    .iter()
                    .any(|a| !norm(*a).is_finite() || norm(*a) <= 0.0) =>
            {
                bad("easy axes must be finite and non-zero")
            }
            _ => Ok(()),
        }
    }
}

/// Errors of [`simulate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EswError {
    /// A configuration value is out of range.
    #[error("invalid eSW configuration: {0}")]
    InvalidConfig(String),
    /// The interaction geometry could not be evaluated.
    #[error("interaction geometry: {0}")]
    Geometry(#[from] PrismError),
}

/// Bookkeeping of one field step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepStats {
    /// Gauss–Seidel sweeps spent (all relaxations of the step).
    pub relax_sweeps: u32,
    /// Whether some relaxation hit `max_relax_sweeps`.
    pub relax_capped: bool,
    /// Grain reversals in this step (avalanche size).
    pub switches: u32,
    /// Whether `max_switches_per_step` was hit.
    pub switch_capped: bool,
    /// Exact particle fields evaluated (rows of B·M); N_p per full check.
    pub particle_fields: u32,
}

/// Output of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct EswResult {
    /// Applied field μ0H_ext per step (T).
    pub field_t: Array1<f64>,
    /// Unit magnetization of every grain at every step: (steps, n_x, n_y, n_z, 3).
    pub m: Array5<f64>,
    /// M(H)/M_s: mean m_z over the grains per step.
    pub mz_mean: Array1<f64>,
    /// Sample weights of the paper's eq. (8): w_0 = 0, w_i = Σ_j |m_jz(i) − m_jz(i−1)|.
    pub weights: Array1<f64>,
    /// Easy axes (n_x, n_y, n_z, 3).
    pub easy_axes: Array4<f64>,
    /// Per-step bookkeeping.
    pub stats: Vec<StepStats>,
}

/// Eq. (8) weights from a magnetization history (steps, …, 3): w_0 = 0,
/// w_i = Σ_grains |m_z(i) − m_z(i−1)|.
pub fn sample_weights(m: &Array5<f64>) -> Array1<f64> {
    let mz = m.index_axis(Axis(4), 2);
    let steps = mz.len_of(Axis(0));
    Array1::from_shape_fn(steps, |i| {
        if i == 0 {
            0.0
        } else {
            let (a, b) = (mz.index_axis(Axis(0), i), mz.index_axis(Axis(0), i - 1));
            a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).sum()
        }
    })
}

/// Runs one simulation; `seed` draws the easy axes (`ChaCha8Rng::seed_from_u64`).
pub fn simulate(config: &EswConfig, seed: u64) -> Result<EswResult, EswError> {
    simulate_with_progress(config, seed, &mut |_, _| {})
}

/// As [`simulate`], calling `progress(done_steps, total_steps)` after every field step.
pub fn simulate_with_progress(
    config: &EswConfig,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<EswResult, EswError> {
    config.validate()?;
    let mut model = Model::new(config, seed)?;
    let fields = config.field_values_t();
    let ng = model.axes.len();
    let axis = scale(config.field_axis, 1.0 / norm(config.field_axis));
    let hk = config.anisotropy_field_t();
    let mut history = Vec::with_capacity(fields.len() * ng * 3);
    let mut stats = Vec::with_capacity(fields.len());
    for (i, &f) in fields.iter().enumerate() {
        stats.push(model.field_step(scale(axis, f / hk), config));
        history.extend_from_slice(&model.m);
        progress(i + 1, fields.len());
    }
    let [nx, ny, nz] = config.grains;
    let m = Array5::from_shape_vec((fields.len(), nx, ny, nz, 3), history)
        .expect("history holds steps × grains × 3 values");
    let mz_mean = m
        .index_axis(Axis(4), 2)
        .mean_axis(Axis(3))
        .and_then(|a| a.mean_axis(Axis(2)))
        .and_then(|a| a.mean_axis(Axis(1)))
        .expect("at least one grain");
    let weights = sample_weights(&m);
    let easy_axes = Array4::from_shape_vec(
        (nx, ny, nz, 3),
        model.axes.iter().flatten().copied().collect(),
    )
    .expect("one axis per grain");
    let capped = stats
        .iter()
        .filter(|s| s.relax_capped || s.switch_capped)
        .count();
    if capped > 0 {
        tracing::warn!(
            capped,
            "eSW: some field steps hit an iteration cap (see stats)"
        );
    }
    Ok(EswResult {
        field_t: fields,
        m,
        mz_mean,
        weights,
        easy_axes,
        stats,
    })
}

#[cfg(test)]
mod tests;
