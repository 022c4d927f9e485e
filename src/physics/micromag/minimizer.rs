//! Energy minimization by curvilinear steepest descent with Barzilai–Borwein step sizes
//! (Exl et al., J. Appl. Phys. 115, 17D118 (2014)), by preconditioned nonlinear conjugate
//! gradient in the cell angles ([`crate::physics::micromag::ncg`]), plus a fidimag-compatible fixed-step mode.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::physics::error::PhysicsError;
use crate::physics::micromag::field::EffectiveField;
use crate::physics::micromag::ncg::{NcgOptions, NcgWorkspace};
use crate::physics::micromag::vector_field::{LANES, VectorField};

/// Which iteration to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinimizerKind {
    /// Barzilai–Borwein steps, stop on the torque tolerance (converged solver, default).
    #[default]
    BarzilaiBorwein,
    /// fidimag < 4.0 as it actually ran: constant τ = `compat_tau`, stop when no cell moves more
    /// than `compat_dm_tol` in one step (after at least two steps), at most `max_steps` steps.
    FidimagCompat,
    /// Preconditioned nonlinear conjugate gradient in the cell angles with a capped rotation per
    /// step (in-plane magnetization only); same torque stopping test as BB.
    NonlinearCg,
}

/// Non-monotone sufficient-decrease test (Grippo–Lampariello–Lucidi) for BB steps: accept m⁺
/// only if `E(m⁺) ≤ max(E of the last `window` accepted states) − c·τ·Σ|G|²`, with E the reduced
/// energy E/(Ms V_cell); otherwise τ ← τ/`shrink`, at most `max_backtracks` times (then the
/// last trial is kept).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyGuard {
    /// Number of trailing energies whose maximum is the reference.
    pub window: usize,
    /// Sufficient-decrease constant c.
    pub sufficient_decrease: f64,
    /// Largest number of step reductions per step.
    pub max_backtracks: usize,
    /// Step reduction factor.
    pub shrink: f64,
}

impl Default for EnergyGuard {
    /// window 10, c = 1e-4, 15 backtracks, factor 4 (as in the notes and fidimag).
    fn default() -> Self {
        Self {
            window: 10,
            sufficient_decrease: 1e-4,
            max_backtracks: 15,
            shrink: 4.0,
        }
    }
}

/// Minimizer settings. τ is in T⁻¹, fields and torques in tesla.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinimizerConfig {
    /// Iteration kind.
    pub kind: MinimizerKind,
    /// BB: stop when max_i |m_i × (m_i × B_i)| < `torque_tol` (tesla).
    pub torque_tol: f64,
    /// BB: first step size τ0.
    pub tau_initial: f64,
    /// BB: lower clamp of τ.
    pub tau_min: f64,
    /// BB: upper clamp of τ (also used when the BB quotient is ≤ 0, zero-denominator or NaN).
    pub tau_max: f64,
    /// Largest number of accepted steps; hitting it is reported as not converged.
    pub max_steps: usize,
    /// BB: optional energy guard.
    pub energy_guard: Option<EnergyGuard>,
    /// Compat: the constant step size.
    pub compat_tau: f64,
    /// Compat: stop when max_i |Δm_i| falls below this.
    pub compat_dm_tol: f64,
    /// NCG: line-search and preconditioner settings.
    pub ncg: NcgOptions,
}

impl MinimizerConfig {
    /// Converged BB solver with torque tolerance `torque_tol` (tesla): τ0 = 1e-3 T⁻¹,
    /// τ ∈ [1e-8, 0.3] T⁻¹, at most 20 000 steps, energy guard on.
    ///
    /// τmax = 0.3 comes from a study on 14 interacting 64 × 64 Nd2Fe14B structures: with
    /// τmax ≤ 0.3 all anchors agree with τmax = 0.03 within 5e-5 HA, whereas τmax ≥ 1 lets
    /// single steps jump into a different post-avalanche state (Hc off by up to 0.01 HA in 2
    /// of 14); without the guard large τ also converges to wrong states. τmax = 0.3 needs ~5×
    /// fewer field evaluations than τmax = 0.03 (fidimag ≥ 4 uses 0.1).
    pub fn barzilai_borwein(torque_tol: f64) -> Self {
        Self {
            kind: MinimizerKind::BarzilaiBorwein,
            torque_tol,
            tau_initial: 1e-3,
            tau_min: 1e-8,
            tau_max: 0.3,
            max_steps: 20_000,
            energy_guard: Some(EnergyGuard::default()),
            compat_tau: 1e-2,
            compat_dm_tol: 1e-3,
            ncg: NcgOptions::default(),
        }
    }

    /// Preconditioned nonlinear CG with torque tolerance `torque_tol` (tesla), default
    /// [`NcgOptions`], at most 20 000 steps per relaxation.
    pub fn nonlinear_cg(torque_tol: f64) -> Self {
        Self {
            kind: MinimizerKind::NonlinearCg,
            energy_guard: None,
            ..Self::barzilai_borwein(torque_tol)
        }
    }

    /// fidimag < 4.0 behaviour: τ = 1e-2 T⁻¹ fixed, stop at max|Δm| < 1e-3, ≤ 5000 steps.
    pub fn fidimag_compat() -> Self {
        Self {
            kind: MinimizerKind::FidimagCompat,
            max_steps: 5000,
            energy_guard: None,
            ..Self::barzilai_borwein(0.0)
        }
    }

    /// Checks that tolerances and step sizes are positive and ordered.
    pub fn validate(&self) -> Result<(), PhysicsError> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        let ok = match self.kind {
            MinimizerKind::BarzilaiBorwein => {
                pos(self.torque_tol)
                    && pos(self.tau_initial)
                    && pos(self.tau_min)
                    && pos(self.tau_max)
                    && self.tau_min <= self.tau_max
                    && self.energy_guard.is_none_or(|g| {
                        g.window > 0 && g.sufficient_decrease >= 0.0 && g.shrink > 1.0
                    })
            }
            MinimizerKind::FidimagCompat => pos(self.compat_tau) && pos(self.compat_dm_tol),
            MinimizerKind::NonlinearCg => pos(self.torque_tol) && self.ncg.is_valid(),
        };
        if ok {
            Ok(())
        } else {
            Err(PhysicsError::InvalidOption(format!("{self:?}")))
        }
    }
}

/// Result of one relaxation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelaxOutcome {
    /// Accepted steps.
    pub steps: usize,
    /// Effective-field evaluations (steps + 1 + rejected trials). Each evaluation yields the
    /// field and the energy together, so this is also the number of energy evaluations.
    pub evaluations: usize,
    /// Trial steps that were rejected (BB: energy-guard backtracks; NCG: line-search trials).
    pub rejected: usize,
    /// Stopping criterion met (false when `max_steps` was hit).
    pub converged: bool,
    /// max_i |m_i × (m_i × B_i)| of the final state (tesla).
    pub max_torque: f64,
    /// Reduced energy E/(Ms V_cell) of the final state (tesla).
    pub reduced_energy: f64,
}

/// Relaxation workspace for one mesh size (buffers reused across calls).
#[derive(Debug)]
pub struct Minimizer {
    config: MinimizerConfig,
    b: VectorField,
    b_new: VectorField,
    g: VectorField,
    g_new: VectorField,
    m_new: VectorField,
    window: Vec<f64>,
    ncg: Option<NcgWorkspace>,
}

/// The first `NC` component slices of `f`, each of length `n`.
fn comps<const NC: usize>(f: &VectorField, n: usize) -> [&[f64]; NC] {
    let all = [&f.x[..n], &f.y[..n], &f.z[..n]];
    std::array::from_fn(|c| all[c])
}

/// Mutable version of [`comps`].
fn comps_mut<const NC: usize>(f: &mut VectorField, n: usize) -> [&mut [f64]; NC] {
    let mut all = [&mut f.x[..n], &mut f.y[..n], &mut f.z[..n]].into_iter();
    std::array::from_fn(|_| all.next().expect("NC ≤ 3 components"))
}

/// Per-lane accumulators of the torque pass: max|g|², Σ|g|², s·s, s·y, y·y.
#[derive(Clone, Copy)]
struct TorqueSums {
    max2: [f64; LANES],
    sum2: [f64; LANES],
    ss: [f64; LANES],
    sy: [f64; LANES],
    yy: [f64; LANES],
}

impl TorqueSums {
    fn new() -> Self {
        Self {
            max2: [0.0; LANES],
            sum2: [0.0; LANES],
            ss: [0.0; LANES],
            sy: [0.0; LANES],
            yy: [0.0; LANES],
        }
    }

    /// Combines the lanes in lane order: (max|g|², Σ|g|², s·s, s·y, y·y).
    fn finish(&self) -> (f64, f64, f64, f64, f64) {
        let sum = |a: &[f64; LANES]| a.iter().sum::<f64>();
        (
            self.max2.iter().copied().fold(0.0, f64::max),
            sum(&self.sum2),
            sum(&self.ss),
            sum(&self.sy),
            sum(&self.yy),
        )
    }
}

/// Torque g⁺ = m⁺(m⁺·b⁺) − b⁺ = m⁺ × (m⁺ × b⁺) for unit m⁺, with lane-wise (fixed-order)
/// reductions. With `SECANT`, also accumulates s·s, s·y, y·y for s = m⁺ − m, y = g⁺ − g from
/// `prev` = (m, g). Returns (max|g⁺|², Σ|g⁺|², s·s, s·y, y·y).
fn torque<const NC: usize, const SECANT: bool>(
    m_new: &VectorField,
    b_new: &VectorField,
    g_new: &mut VectorField,
    prev: (&VectorField, &VectorField),
) -> (f64, f64, f64, f64, f64) {
    let n = m_new.len();
    let (mn, bn) = (comps::<NC>(m_new, n), comps::<NC>(b_new, n));
    let gn = comps_mut::<NC>(g_new, n);
    let (m0, g0) = (comps::<NC>(prev.0, n), comps::<NC>(prev.1, n));
    let mut acc = TorqueSums::new();
    // Cell i is accumulated into lane l = i mod LANES.
    macro_rules! cell {
        ($i:expr, $l:expr) => {{
            let (i, l) = ($i, $l);
            let mut p = 0.0;
            for c in 0..NC {
                p += mn[c][i] * bn[c][i];
            }
            let (mut a2, mut ss, mut sy, mut yy) = (0.0, 0.0, 0.0, 0.0);
            for c in 0..NC {
                let gc = mn[c][i] * p - bn[c][i];
                gn[c][i] = gc;
                a2 += gc * gc;
                if SECANT {
                    let (sc, yc) = (mn[c][i] - m0[c][i], gc - g0[c][i]);
                    ss += sc * sc;
                    sy += sc * yc;
                    yy += yc * yc;
                }
            }
            // `>` rather than f64::max (cheaper); NaN is caught through the sums.
            if a2 > acc.max2[l] {
                acc.max2[l] = a2;
            }
            acc.sum2[l] += a2;
            if SECANT {
                acc.ss[l] += ss;
                acc.sy[l] += sy;
                acc.yy[l] += yy;
            }
        }};
    }
    let full = n / LANES * LANES;
    for base in (0..full).step_by(LANES) {
        for l in 0..LANES {
            cell!(base + l, l);
        }
    }
    for i in full..n {
        cell!(i, i - full);
    }
    acc.finish()
}

/// Cayley step m⁺ = [(4 − τ²|g|²) m − 4τ g] / (4 + τ²|g|²) (norm-preserving for unit m and
/// g ⊥ m); the round-off drift of |m⁺| is removed by one Newton step m⁺ ← m⁺(3 − |m⁺|²)/2.
fn cayley_step<const NC: usize>(m: &VectorField, g: &VectorField, tau: f64, out: &mut VectorField) {
    let n = m.len();
    let (mc, gc) = (comps::<NC>(m, n), comps::<NC>(g, n));
    let oc = comps_mut::<NC>(out, n);
    let (t2, four_tau) = (tau * tau, 4.0 * tau);
    for i in 0..n {
        let mut g2 = 0.0;
        for gcomp in &gc {
            g2 += gcomp[i] * gcomp[i];
        }
        let a2 = t2 * g2;
        let inv = 1.0 / (4.0 + a2);
        let (p, q) = ((4.0 - a2) * inv, four_tau * inv);
        let mut v = [0.0; NC];
        let mut r2 = 0.0;
        for c in 0..NC {
            v[c] = p * mc[c][i] - q * gc[c][i];
            r2 += v[c] * v[c];
        }
        let f = 0.5 * (3.0 - r2);
        for c in 0..NC {
            oc[c][i] = v[c] * f;
        }
    }
}

/// max_i |a_i − b_i|² over the first `NC` components.
fn max_change2<const NC: usize>(a: &VectorField, b: &VectorField) -> f64 {
    let n = a.len();
    let (ac, bc) = (comps::<NC>(a, n), comps::<NC>(b, n));
    let mut lanes = [0.0_f64; LANES];
    for i in 0..n {
        let mut d2 = 0.0;
        for c in 0..NC {
            let d = ac[c][i] - bc[c][i];
            d2 += d * d;
        }
        let l = i % LANES;
        if d2 > lanes[l] {
            lanes[l] = d2;
        }
    }
    lanes.iter().copied().fold(0.0, f64::max)
}

impl Minimizer {
    /// Allocates buffers for `n` cells.
    pub fn new(config: MinimizerConfig, n: usize) -> Result<Self, PhysicsError> {
        config.validate()?;
        let window = config.energy_guard.map_or(0, |g| g.window);
        Ok(Self {
            config,
            b: VectorField::zeros(n),
            b_new: VectorField::zeros(n),
            g: VectorField::zeros(n),
            g_new: VectorField::zeros(n),
            m_new: VectorField::zeros(n),
            window: vec![0.0; window],
            ncg: (config.kind == MinimizerKind::NonlinearCg).then(|| NcgWorkspace::new(n)),
        })
    }

    /// Settings in use.
    pub fn config(&self) -> &MinimizerConfig {
        &self.config
    }

    /// Relaxes `m` in place to a (local) energy minimum of `field`. `m` is normalized first
    /// (in the in-plane mode its z components are set to 0). Checks `cancel` before every step.
    pub fn relax(
        &mut self,
        field: &mut EffectiveField,
        m: &mut VectorField,
        cancel: &AtomicBool,
    ) -> Result<RelaxOutcome, PhysicsError> {
        if m.len() != self.b.len() || field.n_cells() != self.b.len() {
            return Err(PhysicsError::ShapeMismatch {
                what: "magnetization",
                got: vec![m.len()],
                expected: vec![self.b.len()],
            });
        }
        if field.mode().ncomp() == 2 {
            m.z.fill(0.0);
        }
        m.normalize();
        match (self.config.kind, field.mode().ncomp()) {
            (MinimizerKind::BarzilaiBorwein, 2) => self.relax_bb::<2>(field, m, cancel),
            (MinimizerKind::BarzilaiBorwein, _) => self.relax_bb::<3>(field, m, cancel),
            (MinimizerKind::FidimagCompat, 2) => self.relax_compat::<2>(field, m, cancel),
            (MinimizerKind::FidimagCompat, _) => self.relax_compat::<3>(field, m, cancel),
            (MinimizerKind::NonlinearCg, 2) => {
                let n = m.len();
                self.ncg.get_or_insert_with(|| NcgWorkspace::new(n)).relax(
                    &self.config,
                    field,
                    m,
                    cancel,
                )
            }
            (MinimizerKind::NonlinearCg, _) => Err(PhysicsError::InvalidOption(
                "the ncg minimizer works in the cell angles of in-plane magnetization; use bb for \
                 full_3d"
                    .into(),
            )),
        }
    }

    fn relax_bb<const NC: usize>(
        &mut self,
        field: &mut EffectiveField,
        m: &mut VectorField,
        cancel: &AtomicBool,
    ) -> Result<RelaxOutcome, PhysicsError> {
        let cfg = self.config;
        let mut energy = field.evaluate(m, &mut self.b);
        let mut evaluations = 1;
        let (mut gmax2, mut gsum2, ..) = torque::<NC, false>(m, &self.b, &mut self.g, (m, m));
        self.window.fill(energy);
        let mut slot = 0;
        let mut tau = cfg.tau_initial;
        let tol2 = cfg.torque_tol * cfg.torque_tol;
        let mut steps = 0;
        let mut rejected = 0;
        let converged = loop {
            if !gsum2.is_finite() {
                return Err(PhysicsError::NonFinite(
                    "torque became NaN or infinite during relaxation".into(),
                ));
            }
            if gmax2 < tol2 {
                break true;
            }
            if steps >= cfg.max_steps {
                break false;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(PhysicsError::Cancelled);
            }
            let mut tau_try = tau;
            let mut backtracks = 0;
            let energy_new = loop {
                cayley_step::<NC>(m, &self.g, tau_try, &mut self.m_new);
                let e = field.evaluate(&self.m_new, &mut self.b_new);
                evaluations += 1;
                if let Some(guard) = cfg.energy_guard {
                    let e_ref = self
                        .window
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max);
                    let accept = e <= e_ref - guard.sufficient_decrease * tau_try * gsum2;
                    if !accept && backtracks < guard.max_backtracks {
                        tau_try /= guard.shrink;
                        backtracks += 1;
                        rejected += 1;
                        continue;
                    }
                }
                break e;
            };
            let (max2, sum2, ss, sy, yy) =
                torque::<NC, true>(&self.m_new, &self.b_new, &mut self.g_new, (m, &self.g));
            tau = if steps % 2 == 0 { ss / sy } else { sy / yy };
            if !(tau.is_finite() && tau > 0.0) {
                tau = cfg.tau_max;
            }
            tau = tau.clamp(cfg.tau_min, cfg.tau_max);
            std::mem::swap(m, &mut self.m_new);
            std::mem::swap(&mut self.b, &mut self.b_new);
            std::mem::swap(&mut self.g, &mut self.g_new);
            (gmax2, gsum2, energy) = (max2, sum2, energy_new);
            if !self.window.is_empty() {
                self.window[slot] = energy;
                slot = (slot + 1) % self.window.len();
            }
            steps += 1;
        };
        Ok(RelaxOutcome {
            steps,
            evaluations,
            rejected,
            converged,
            max_torque: gmax2.sqrt(),
            reduced_energy: energy,
        })
    }

    fn relax_compat<const NC: usize>(
        &mut self,
        field: &mut EffectiveField,
        m: &mut VectorField,
        cancel: &AtomicBool,
    ) -> Result<RelaxOutcome, PhysicsError> {
        let cfg = self.config;
        let mut energy = field.evaluate(m, &mut self.b);
        let mut evaluations = 1;
        let mut gmax2 = torque::<NC, false>(m, &self.b, &mut self.g, (m, m)).0;
        let tol2 = cfg.compat_dm_tol * cfg.compat_dm_tol;
        let mut steps = 0;
        let mut converged = false;
        while steps < cfg.max_steps {
            if cancel.load(Ordering::Relaxed) {
                return Err(PhysicsError::Cancelled);
            }
            cayley_step::<NC>(m, &self.g, cfg.compat_tau, &mut self.m_new);
            let dm2 = max_change2::<NC>(&self.m_new, m);
            std::mem::swap(m, &mut self.m_new);
            energy = field.evaluate(m, &mut self.b);
            evaluations += 1;
            let (max2, sum2, ..) = torque::<NC, false>(m, &self.b, &mut self.g, (m, m));
            if !sum2.is_finite() {
                return Err(PhysicsError::NonFinite(
                    "torque became NaN or infinite during relaxation".into(),
                ));
            }
            gmax2 = max2;
            steps += 1;
            if dm2 < tol2 && steps > 1 {
                converged = true;
                break;
            }
        }
        Ok(RelaxOutcome {
            steps,
            evaluations,
            rejected: 0,
            converged,
            max_torque: gmax2.sqrt(),
            reduced_energy: energy,
        })
    }
}
