//! Preconditioned nonlinear conjugate gradient in the cell angles (in-plane magnetization), after
//! Exl et al., Comput. Phys. Commun. 235, 179 (2019) and the step-length control of Fischbacher
//! et al., AIP Advances 7, 045310 (2017).
//!
//! With m_i = (sin φ_i, cos φ_i) the unit-length constraint disappears: φ ∈ ℝᴺ is unconstrained
//! and exact. The gradient of the reduced energy E/(Ms V) is γ_i = ∂E/∂φ_i = −B_i·t_i with
//! t_i = ∂m_i/∂φ_i = (m_y, −m_x), so |γ_i| is the cell's torque |m_i × (m_i × B_i)| and the
//! stopping test is the one of the BB solver. The preconditioner is the local part of the
//! Hessian, κ_i = m_i·B_i + c_i − a (t_i·u_i)², with c_i the exchange self-coupling and a = μ0HA
//! (the demag self-term is left out): the second derivative of every local energy term of cell
//! i in φ_i. It is used as |κ_i| clamped below by a floor, so it stays positive definite at
//! saddle points.
//!
//! Every iteration moves along φ(α) = φ + α·δ with a Hestenes–Stiefel direction δ (restarted
//! with steepest descent when β ≤ 0, when δ is not a descent direction, after a failed line
//! search and every `restart_every` steps). The step α is capped so that no cell turns by more
//! than `max_rotation` radians: this is what keeps the path from jumping an energy barrier that
//! a small-step descent would not jump. A trial is accepted when it decreases the energy
//! sufficiently (Armijo) and has not overshot the line minimum by much (the directional
//! derivative at the trial is at most `overshoot`·|φ'(0)|); otherwise α shrinks by a secant
//! step. Each trial costs one field evaluation, which gives the energy and the gradient together.
//! A cell is rotated by the Cayley map (an exact rotation by 2·atan(θ/2) for a requested angle θ,
//! no trigonometric calls), whose derivative enters the directional derivative exactly.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::physics::error::PhysicsError;
use crate::physics::micromag::field::EffectiveField;
use crate::physics::micromag::material::Material;
use crate::physics::micromag::minimizer::{MinimizerConfig, RelaxOutcome};
use crate::physics::micromag::vector_field::{LANES, VectorField};

/// Settings of the nonlinear CG minimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NcgOptions {
    /// Largest rotation of any cell in one trial step (radians).
    pub max_rotation: f64,
    /// Armijo sufficient-decrease constant c1.
    pub armijo: f64,
    /// A trial whose directional derivative exceeds `overshoot`·|φ'(0)| has overshot the line
    /// minimum too far and is shortened.
    pub overshoot: f64,
    /// A step whose directional derivative is still below −`curvature`·|φ'(0)| is too short:
    /// a longer one is tried by a secant step (curvature condition of Wolfe).
    pub curvature: f64,
    /// Most such extensions per line search.
    pub max_extensions: usize,
    /// Lower clamp of the preconditioner |κ_i| (tesla).
    pub curvature_floor: f64,
    /// Largest number of trials per line search before restarting with steepest descent.
    pub max_trials: usize,
    /// Restart with steepest descent every this many steps (0: never).
    pub restart_every: usize,
}

impl Default for NcgOptions {
    /// Rotation cap 0.1 rad, c1 = 1e-4, overshoot 0.5, curvature 0.3, two extensions, floor
    /// 1 T, 20 trials, restart every 200 steps.
    ///
    /// The cap decides fidelity: on the non-interacting ensemble (test T4) a cap of 1 rad lets
    /// the shared line search carry particles over their vanishing barriers (Hc −0.5497 instead
    /// of −0.5530 HA); 0.1 rad gives the analytic curve.
    fn default() -> Self {
        Self {
            max_rotation: 0.1,
            armijo: 1e-4,
            overshoot: 0.5,
            curvature: 0.3,
            max_extensions: 2,
            curvature_floor: 1.0,
            max_trials: 20,
            restart_every: 200,
        }
    }
}

impl NcgOptions {
    /// Defaults with the preconditioner floor at the anisotropy field μ0HA of `material`.
    pub fn for_material(material: &Material) -> Self {
        Self {
            curvature_floor: material.mu0_ha(),
            ..Self::default()
        }
    }

    /// True when every option is in range.
    pub fn is_valid(&self) -> bool {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        pos(self.max_rotation)
            && self.max_rotation <= std::f64::consts::PI
            && self.armijo.is_finite()
            && (0.0..0.5).contains(&self.armijo)
            && pos(self.overshoot)
            && pos(self.curvature_floor)
            && self.max_trials > 0
    }
}

/// Lane-wise (fixed-order) sums of the gradient pass.
#[derive(Clone, Copy)]
struct GradientSums {
    max_g2: [f64; LANES],
    g2: [f64; LANES],
    zg: [f64; LANES],
    z_gold: [f64; LANES],
    dg: [f64; LANES],
    dg_path: [f64; LANES],
}

/// Reductions of one gradient pass, combined in lane order.
#[derive(Debug, Clone, Copy, Default)]
struct Gradient {
    /// max_i γ_i² (squared torque).
    max_g2: f64,
    /// Σ γ_i².
    g2: f64,
    /// Σ z_i γ_i, z = P⁻¹γ.
    zg: f64,
    /// Σ z_i γ_i of the previous accepted point's γ.
    z_gold: f64,
    /// Σ δ_i γ_i (angle coordinates).
    dg: f64,
    /// φ'(α): Σ δ_i γ_i ψ'(αδ_i), the derivative along the Cayley path.
    dg_path: f64,
}

impl GradientSums {
    fn new() -> Self {
        Self {
            max_g2: [0.0; LANES],
            g2: [0.0; LANES],
            zg: [0.0; LANES],
            z_gold: [0.0; LANES],
            dg: [0.0; LANES],
            dg_path: [0.0; LANES],
        }
    }

    fn finish(&self) -> Gradient {
        let sum = |a: &[f64; LANES]| a.iter().sum::<f64>();
        Gradient {
            max_g2: self.max_g2.iter().copied().fold(0.0, f64::max),
            g2: sum(&self.g2),
            zg: sum(&self.zg),
            z_gold: sum(&self.z_gold),
            dg: sum(&self.dg),
            dg_path: sum(&self.dg_path),
        }
    }
}

/// Per-structure constants of the preconditioner.
struct LocalTerms<'a> {
    exchange_self: &'a [f64],
    anisotropy: Option<(f64, &'a [f64], &'a [f64])>,
    floor: f64,
}

/// Gradient pass at (m, b): γ = ∂E/∂φ, z = γ/P, and the sums of [`Gradient`]. `delta` is the
/// search direction that led here with step `alpha` (zeros for a fresh start), `g_old` the
/// gradient at the line's origin.
#[allow(clippy::too_many_arguments)]
fn gradient_pass(
    m: &VectorField,
    b: &VectorField,
    terms: &LocalTerms,
    delta: &[f64],
    alpha: f64,
    g_old: &[f64],
    g: &mut [f64],
    z: &mut [f64],
) -> Gradient {
    let n = g.len();
    let (mx, my, bx, by) = (&m.x[..n], &m.y[..n], &b.x[..n], &b.y[..n]);
    let (xs, delta, g_old) = (&terms.exchange_self[..n], &delta[..n], &g_old[..n]);
    let z = &mut z[..n];
    let mut acc = GradientSums::new();
    let half_alpha = 0.5 * alpha;
    let mut cell = |i: usize, l: usize, aniso: Option<(f64, f64, f64)>| {
        let gi = by[i] * mx[i] - bx[i] * my[i];
        let mut kappa = mx[i] * bx[i] + my[i] * by[i] + xs[i];
        if let Some((a, ux, uy)) = aniso {
            let tu = my[i] * ux - mx[i] * uy;
            kappa -= a * tu * tu;
        }
        let p = kappa.abs().max(terms.floor);
        let zi = gi / p;
        g[i] = gi;
        z[i] = zi;
        let g2 = gi * gi;
        if g2 > acc.max_g2[l] {
            acc.max_g2[l] = g2;
        }
        acc.g2[l] += g2;
        acc.zg[l] += zi * gi;
        acc.z_gold[l] += zi * g_old[i];
        let d = delta[i];
        let s = half_alpha * d;
        acc.dg[l] += d * gi;
        acc.dg_path[l] += d * gi / (1.0 + s * s);
    };
    let full = n / LANES * LANES;
    match terms.anisotropy {
        Some((a, ux, uy)) => {
            let (ux, uy) = (&ux[..n], &uy[..n]);
            for base in (0..full).step_by(LANES) {
                for l in 0..LANES {
                    let i = base + l;
                    cell(i, l, Some((a, ux[i], uy[i])));
                }
            }
            for i in full..n {
                cell(i, i - full, Some((a, ux[i], uy[i])));
            }
        }
        None => {
            for base in (0..full).step_by(LANES) {
                for l in 0..LANES {
                    cell(base + l, l, None);
                }
            }
            for i in full..n {
                cell(i, i - full, None);
            }
        }
    }
    acc.finish()
}

/// Rotates every cell of `m` by the Cayley angle of θ_i = α·δ_i into `out` (exact rotation by
/// 2·atan(θ_i/2); |m| drift is removed by one Newton step).
fn rotate(m: &VectorField, delta: &[f64], alpha: f64, out: &mut VectorField) {
    let n = delta.len();
    let (mx, my) = (&m.x[..n], &m.y[..n]);
    let (ox, oy) = (&mut out.x[..n], &mut out.y[..n]);
    let half_alpha = 0.5 * alpha;
    for i in 0..n {
        let s = half_alpha * delta[i];
        let s2 = s * s;
        let inv = 1.0 / (1.0 + s2);
        let (c, sn) = ((1.0 - s2) * inv, 2.0 * s * inv);
        let x = mx[i] * c + my[i] * sn;
        let y = my[i] * c - mx[i] * sn;
        let f = 0.5 * (3.0 - (x * x + y * y));
        ox[i] = x * f;
        oy[i] = y * f;
    }
}

/// δ ← −z + β·δ; returns (Σ γ_i δ_i, max_i |δ_i|).
fn update_direction(delta: &mut [f64], z: &[f64], g: &[f64], beta: f64) -> (f64, f64) {
    let n = delta.len();
    let (z, g) = (&z[..n], &g[..n]);
    let mut dg = [0.0; LANES];
    let mut dmax = [0.0_f64; LANES];
    for i in 0..n {
        let d = beta * delta[i] - z[i];
        delta[i] = d;
        let l = i % LANES;
        dg[l] += d * g[i];
        let a = d.abs();
        if a > dmax[l] {
            dmax[l] = a;
        }
    }
    (dg.iter().sum(), dmax.iter().copied().fold(0.0, f64::max))
}

/// Workspace of the NCG minimizer for one mesh size.
#[derive(Debug)]
pub(super) struct NcgWorkspace {
    b: VectorField,
    b_trial: VectorField,
    m_trial: VectorField,
    g: Vec<f64>,
    g_trial: Vec<f64>,
    z: Vec<f64>,
    z_trial: Vec<f64>,
    delta: Vec<f64>,
    zeros: Vec<f64>,
    m_keep: VectorField,
    b_keep: VectorField,
    g_keep: Vec<f64>,
    z_keep: Vec<f64>,
}

impl NcgWorkspace {
    /// Buffers for `n` cells.
    pub(super) fn new(n: usize) -> Self {
        Self {
            b: VectorField::zeros(n),
            b_trial: VectorField::zeros(n),
            m_trial: VectorField::zeros(n),
            g: vec![0.0; n],
            g_trial: vec![0.0; n],
            z: vec![0.0; n],
            z_trial: vec![0.0; n],
            delta: vec![0.0; n],
            zeros: vec![0.0; n],
            m_keep: VectorField::zeros(n),
            b_keep: VectorField::zeros(n),
            g_keep: vec![0.0; n],
            z_keep: vec![0.0; n],
        }
    }

    /// Exchanges the trial point with the kept one.
    fn swap_keep(&mut self) {
        std::mem::swap(&mut self.m_trial, &mut self.m_keep);
        std::mem::swap(&mut self.b_trial, &mut self.b_keep);
        std::mem::swap(&mut self.g_trial, &mut self.g_keep);
        std::mem::swap(&mut self.z_trial, &mut self.z_keep);
    }

    /// Relaxes the in-plane unit field `m` (z components zero) to a local minimum with the
    /// settings `config.ncg`, the torque tolerance and step limit of `config`.
    pub(super) fn relax(
        &mut self,
        config: &MinimizerConfig,
        field: &mut EffectiveField,
        m: &mut VectorField,
        cancel: &AtomicBool,
    ) -> Result<RelaxOutcome, PhysicsError> {
        let opts = &config.ncg;
        // Per call (one pass over the cells): it belongs to `field`, which may change.
        let exchange_self = field.exchange_self_coupling();
        let tol2 = config.torque_tol * config.torque_tol;
        let mut energy = field.evaluate(m, &mut self.b);
        let mut evaluations = 1;
        let mut rejected = 0;
        let mut grad = {
            let terms = local_terms(field, &exchange_self, opts.curvature_floor);
            gradient_pass(
                m,
                &self.b,
                &terms,
                &self.zeros,
                0.0,
                &self.zeros,
                &mut self.g,
                &mut self.z,
            )
        };
        let (mut slope, mut dmax) = update_direction(&mut self.delta, &self.z, &self.g, 0.0);
        let mut restarted = true;
        let mut alpha_prev = 1.0;
        let mut steps = 0;
        let converged = loop {
            if !(grad.g2.is_finite() && energy.is_finite()) {
                return Err(PhysicsError::NonFinite(
                    "torque or energy became NaN or infinite during relaxation".into(),
                ));
            }
            if grad.max_g2 < tol2 {
                break true;
            }
            if steps >= config.max_steps {
                break false;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(PhysicsError::Cancelled);
            }
            let cap = opts.max_rotation / dmax;
            let mut alpha: f64 = if restarted { 1.0 } else { alpha_prev };
            if !(alpha.is_finite() && alpha > 0.0) {
                alpha = 1.0;
            }
            alpha = alpha.min(cap);
            let mut accepted = None;
            // An acceptable but short step is kept in the `keep` buffers while a longer one is
            // tried (at most `max_extensions` times).
            let mut kept: Option<(f64, Gradient, f64)> = None;
            let mut extensions = 0;
            for _ in 0..opts.max_trials {
                rotate(m, &self.delta, alpha, &mut self.m_trial);
                let e = field.evaluate(&self.m_trial, &mut self.b_trial);
                evaluations += 1;
                let terms = local_terms(field, &exchange_self, opts.curvature_floor);
                let gt = gradient_pass(
                    &self.m_trial,
                    &self.b_trial,
                    &terms,
                    &self.delta,
                    alpha,
                    &self.g,
                    &mut self.g_trial,
                    &mut self.z_trial,
                );
                let armijo = e <= energy + opts.armijo * alpha * slope
                    || (e - energy <= 1e-13 * energy.abs() && gt.dg_path <= 0.0);
                let ok = armijo && gt.dg_path <= opts.overshoot * slope.abs() && e.is_finite();
                if ok && kept.is_none_or(|k| e <= k.0) {
                    let short = gt.dg_path < -opts.curvature * slope.abs();
                    if short && extensions < opts.max_extensions && alpha < cap * (1.0 - 1e-9) {
                        self.swap_keep();
                        kept = Some((e, gt, alpha));
                        extensions += 1;
                        // Secant step to the line minimum (φ'(α) lies between φ'(0) and 0).
                        let grow = if gt.dg_path > slope {
                            slope / (slope - gt.dg_path)
                        } else {
                            4.0
                        };
                        alpha = (alpha * grow.clamp(1.1, 10.0)).min(cap);
                        continue;
                    }
                    accepted = Some((e, gt, alpha));
                    break;
                }
                rejected += 1;
                if let Some(k) = kept {
                    // The longer step failed: take the kept one.
                    self.swap_keep();
                    accepted = Some(k);
                    break;
                }
                // Secant estimate of the line minimum from φ'(0) < 0 and φ'(α).
                let shrink = if gt.dg_path > slope && gt.dg_path.is_finite() {
                    (slope / (slope - gt.dg_path)).clamp(0.05, 0.9)
                } else {
                    0.25
                };
                alpha *= shrink;
            }
            let Some((e, gt, alpha)) = accepted else {
                if restarted {
                    // Steepest descent found no acceptable step: the state is converged to
                    // round-off but not to the tolerance.
                    break false;
                }
                let (s, d) = update_direction(&mut self.delta, &self.z, &self.g, 0.0);
                (slope, dmax, restarted) = (s, d, true);
                continue;
            };
            std::mem::swap(m, &mut self.m_trial);
            std::mem::swap(&mut self.b, &mut self.b_trial);
            std::mem::swap(&mut self.g, &mut self.g_trial);
            std::mem::swap(&mut self.z, &mut self.z_trial);
            energy = e;
            steps += 1;
            // Hestenes–Stiefel: β = zᵀ(γ⁺ − γ)/δᵀ(γ⁺ − γ), with δᵀγ = φ'(0) = slope.
            let denom = gt.dg - slope;
            let mut beta = if denom > 0.0 {
                (gt.zg - gt.z_gold) / denom
            } else {
                0.0
            };
            if !(beta.is_finite() && beta > 0.0)
                || (opts.restart_every > 0 && steps % opts.restart_every == 0)
            {
                beta = 0.0;
            }
            alpha_prev = alpha;
            let (mut s, mut d) = update_direction(&mut self.delta, &self.z, &self.g, beta);
            if beta > 0.0 && (s >= 0.0 || s.is_nan()) {
                (s, d) = update_direction(&mut self.delta, &self.z, &self.g, 0.0);
                beta = 0.0;
            }
            (slope, dmax, restarted, grad) = (s, d, beta == 0.0, gt);
        };
        Ok(RelaxOutcome {
            steps,
            evaluations,
            rejected,
            converged,
            max_torque: grad.max_g2.sqrt(),
            reduced_energy: energy,
        })
    }
}

/// The preconditioner's constants of `field`.
fn local_terms<'a>(
    field: &'a EffectiveField,
    exchange_self: &'a [f64],
    floor: f64,
) -> LocalTerms<'a> {
    LocalTerms {
        exchange_self,
        anisotropy: field
            .anisotropy_axes()
            .map(|(a, u)| (a, u.x.as_slice(), u.y.as_slice())),
        floor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::micromag::mesh::Mesh;

    /// A 5 × 4 structure with exchange and per-cell anisotropy axes (no demag), a field, and a
    /// non-uniform in-plane state φ_i.
    fn setup() -> (EffectiveField, Vec<f64>) {
        let mesh = Mesh::new([5, 4, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
        let material = Material::nd2fe14b();
        let n = mesh.n_cells();
        let mut axes = VectorField::zeros(n);
        for i in 0..n {
            let a = 0.37 * i as f64 - 1.1;
            axes.set(i, [a.sin(), a.cos(), 0.0]);
        }
        let mut field =
            EffectiveField::new(&mesh, &material, axes, None, Default::default()).expect("field");
        field.set_applied_field([0.3, -1.2, 0.0]);
        let phi = (0..n).map(|i| 0.9 * (i as f64 * 1.3).sin() + 0.2).collect();
        (field, phi)
    }

    fn state(phi: &[f64]) -> VectorField {
        let mut m = VectorField::zeros(phi.len());
        for (i, p) in phi.iter().enumerate() {
            m.set(i, [p.sin(), p.cos(), 0.0]);
        }
        m
    }

    fn energy(field: &mut EffectiveField, phi: &[f64]) -> f64 {
        let mut b = VectorField::zeros(phi.len());
        field.evaluate(&state(phi), &mut b)
    }

    /// γ_i is ∂E/∂φ_i, and κ_i is ∂²E/∂φ_i² of exchange, anisotropy and Zeeman (central
    /// differences of the reduced energy; no demag, whose self-term κ leaves out).
    #[test]
    fn gradient_and_preconditioner_are_angle_derivatives_of_the_energy() {
        let (mut field, phi) = setup();
        let n = phi.len();
        let m = state(&phi);
        let mut b = VectorField::zeros(n);
        field.evaluate(&m, &mut b);
        let xs = field.exchange_self_coupling();
        let terms = local_terms(&field, &xs, 1e-300);
        let (mut g, mut z) = (vec![0.0; n], vec![0.0; n]);
        let zeros = vec![0.0; n];
        gradient_pass(&m, &b, &terms, &zeros, 0.0, &zeros, &mut g, &mut z);
        let h = 1e-4;
        for i in 0..n {
            let mut at = |d: f64| {
                let mut p = phi.clone();
                p[i] += d;
                energy(&mut field, &p)
            };
            let (ep, e0, em) = (at(h), at(0.0), at(-h));
            let d1 = (ep - em) / (2.0 * h);
            let d2 = (ep - 2.0 * e0 + em) / (h * h);
            assert!(
                (g[i] - d1).abs() < 1e-6 * (1.0 + d1.abs()),
                "cell {i}: γ {} vs {d1}",
                g[i]
            );
            let kappa = g[i] / z[i];
            assert!(
                (kappa - d2.abs()).abs() < 1e-4 * (1.0 + d2.abs()),
                "cell {i}: |κ| {kappa} vs {d2}"
            );
        }
    }

    /// The Cayley rotation turns every cell by exactly 2·atan(αδ/2), and the path derivative
    /// used by the line search is the derivative of the energy along it.
    #[test]
    fn rotation_and_path_derivative_match_the_energy_along_the_line() {
        let (mut field, phi) = setup();
        let n = phi.len();
        let m = state(&phi);
        let delta: Vec<f64> = (0..n).map(|i| 0.3 * (i as f64 * 0.7).cos()).collect();
        let alpha = 0.8;
        let mut out = VectorField::zeros(n);
        rotate(&m, &delta, alpha, &mut out);
        for i in 0..n {
            let turn = 2.0 * (alpha * delta[i] / 2.0).atan();
            let want = [(phi[i] + turn).sin(), (phi[i] + turn).cos()];
            assert!((out.x[i] - want[0]).abs() < 1e-14 && (out.y[i] - want[1]).abs() < 1e-14);
        }
        let mut along = |a: f64| {
            let p: Vec<f64> = (0..n)
                .map(|i| phi[i] + 2.0 * (a * delta[i] / 2.0).atan())
                .collect();
            energy(&mut field, &p)
        };
        let h = 1e-5;
        let fd = (along(alpha + h) - along(alpha - h)) / (2.0 * h);
        let mut b = VectorField::zeros(n);
        field.evaluate(&out, &mut b);
        let xs = field.exchange_self_coupling();
        let terms = local_terms(&field, &xs, 1.0);
        let (mut g, mut z) = (vec![0.0; n], vec![0.0; n]);
        let zeros = vec![0.0; n];
        let grad = gradient_pass(&out, &b, &terms, &delta, alpha, &zeros, &mut g, &mut z);
        assert!(
            (grad.dg_path - fd).abs() < 1e-6 * (1.0 + fd.abs()),
            "{} vs {fd}",
            grad.dg_path
        );
    }
}
