//! Validation of the micromagnetic solver against the reference numbers of
//! shared/notes/micromagnetics.md (§3, §6). Test names carry the T-number of the notes.

// Reference values are quoted with all the digits of their source (notes, mpmath); the T4
// remanence 0.63662 happens to be 2/π.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use std::sync::atomic::AtomicBool;

use mexp::physics::demag_kernel::{newell_nxx, newell_nxy, nxx_2d, nxy_2d, nyy_2d};
use mexp::physics::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn newell3d() -> KernelOptions {
    KernelOptions {
        kind: DemagKernelKind::Newell3d,
        far_field_cells: None,
    }
}

// ---------------------------------------------------------------- T1 kernels

#[test]
fn t1_exact_2d_kernel_reference_values() {
    let d = 2e-9;
    let cases = [
        (nxx_2d(d, 0.0, d, d), -0.1477865634),
        (nyy_2d(d, 0.0, d, d), 0.1477865634),
        (nxy_2d(d, d, d, d), -0.0848084498),
        (nxx_2d(d, d, d, d), 0.0),
        (nxy_2d(2.0 * d, d, d, d), -0.0253798564),
        (nxx_2d(2.0 * d, d, d, d), -0.0192958237),
        (nxx_2d(0.0, 0.0, d, d), 0.5),
        (nyy_2d(0.0, 0.0, d, d), 0.5),
    ];
    for (got, want) in cases {
        assert!(close(got, want, 1e-10), "{got} vs {want}");
    }
}

#[test]
fn t1_exact_2d_kernel_identities_and_symmetries() {
    for (dx, dy) in [(2e-9, 2e-9), (1e-9, 3e-9), (5e-9, 0.7e-9)] {
        let self_sum = nxx_2d(0.0, 0.0, dx, dy) + nyy_2d(0.0, 0.0, dx, dy);
        assert!(close(self_sum, 1.0, 1e-13), "self trace {self_sum}");
        for (i, j) in [(1, 0), (0, 1), (1, 1), (3, 2), (7, -5), (-20, 11)] {
            let (x, y) = (i as f64 * dx, j as f64 * dy);
            let trace = nxx_2d(x, y, dx, dy) + nyy_2d(x, y, dx, dy);
            assert!(close(trace, 0.0, 1e-13), "trace {trace} at {i},{j}");
            assert!(close(nxy_2d(-x, y, dx, dy), -nxy_2d(x, y, dx, dy), 1e-15));
            assert!(close(nxy_2d(x, -y, dx, dy), -nxy_2d(x, y, dx, dy), 1e-15));
            assert!(close(nxx_2d(-x, -y, dx, dy), nxx_2d(x, y, dx, dy), 1e-15));
        }
        // Far field of a line dipole, −(dx dy / 2π)(x² − y²)/r⁴, approached as
        // (dx² − dy²)/r² (the isotropic second moment acts on a harmonic kernel and vanishes),
        // i.e. as r⁻⁴ for square cells: doubling the distance divides the deviation by 4 or 16.
        let rel_dev = |k: f64| {
            let (x, y) = (30.0 * k * dx, 12.0 * k * dy);
            let r2 = x * x + y * y;
            let dipole = -(dx * dy) / (2.0 * std::f64::consts::PI) * (x * x - y * y) / (r2 * r2);
            (nxx_2d(x, y, dx, dy) - dipole) / dipole
        };
        let ratio = rel_dev(1.0) / rel_dev(2.0);
        let expected = if dx == dy { 16.0 } else { 4.0 };
        assert!((ratio / expected - 1.0).abs() < 0.1, "ratio {ratio}");
    }
}

#[test]
fn t1_newell_3d_reference_values() {
    let cases = [
        (
            newell_nxx(0.0, 0.0, 0.0, 50.0, 10.0, 1.0),
            0.021829576458713811,
        ),
        (newell_nxx(0.0, 0.0, 0.0, 1.0, 1.0, 1.0), 1.0 / 3.0),
        (
            newell_nxx(0.0, 0.0, 0.0, 1.0, 1.0, 2.0),
            0.400841923605580968,
        ),
        (
            newell_nxx(0.0, 0.0, 0.0, 1.0, 2.0, 3.0),
            0.538790305923714448,
        ),
        (
            newell_nxx(1.0, 0.0, 0.0, 1.0, 1.0, 1.0),
            -0.135017180544495268,
        ),
        (
            newell_nxx(1.0, 1.0, 0.0, 1.0, 2.0, 3.0),
            -0.0837037552980204621,
        ),
        (
            newell_nxy(1.0, 1.0, 0.0, 1.0, 2.0, 3.0),
            -0.0772580756152124001,
        ),
        (
            newell_nxy(1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
            -0.0160621278105082340,
        ),
        // Aharoni: the 2 × 2 × 36 000 nm cell.
        (
            newell_nxx(0.0, 0.0, 0.0, 2e-9, 2e-9, 36e-6),
            0.49998685577326478,
        ),
    ];
    for (got, want) in cases {
        assert!(close(got, want, 2e-15), "{got} vs {want}");
    }
    // Symmetries and the trace identity.
    let d = (1.0, 2.0, 3.0);
    for (x, y, z) in [(1.0, 2.0, 0.0), (3.0, -2.0, 3.0), (-4.0, 5.0, -6.0)] {
        let nxx = newell_nxx(x, y, z, d.0, d.1, d.2);
        let nyy = newell_nxx(y, x, z, d.1, d.0, d.2);
        let nzz = newell_nxx(z, x, y, d.2, d.0, d.1);
        assert!(
            close(nxx + nyy + nzz, 0.0, 1e-14),
            "trace {}",
            nxx + nyy + nzz
        );
        let nxy = newell_nxy(x, y, z, d.0, d.1, d.2);
        assert!(close(newell_nxy(-x, y, z, d.0, d.1, d.2), -nxy, 1e-15));
    }
}

/// 3D Newell entries of the Kovacs cell (aspect 18 000) against 50-digit evaluations of the
/// same formula (mpmath). After removing the stencil-annihilated L³ and L·ln L parts, the
/// summed terms are still ~L·ρ²·ln ρ ≈ 1e9 (cell units) and cancel to O(1), so the rounding
/// floor is ≈ 1e-16 · 1e9 · √27 / (4π · 18 000) ≈ 1e-11 absolute per entry (the notes
/// expected ~1e-8 for the plain formula); the tolerance is 5e-11.
#[test]
fn t1_newell_kovacs_cell_high_precision_values() {
    let mesh = Mesh::kovacs();
    let t = DemagTensor::new(&mesh, &newell3d()).expect("kernel");
    // (ox, oy): Nxx, Nyy, Nzz, Nxy
    let reference: [(isize, isize, [f64; 4]); 8] = [
        (
            0,
            0,
            [
                0.49998685577326477611,
                0.49998685577326477611,
                0.000026288453470447789827,
                0.0,
            ],
        ),
        (
            1,
            0,
            [
                -0.14778851505673612574,
                0.1477786821713804303,
                9.8328853556954456913e-6,
                0.0,
            ],
        ),
        (
            1,
            1,
            [
                -3.3108501605700578441e-6,
                -3.3108501605700578441e-6,
                6.6217003211401156883e-6,
                -0.084805714220873614053,
            ],
        ),
        (
            5,
            3,
            [
                -0.0022039141000766630345,
                0.0022023944453505327441,
                1.5196547261302903826e-6,
                -0.0041297219982262759949,
            ],
        ),
        (
            40,
            17,
            [
                -0.000058504370756037624526,
                0.00005830141519879778626,
                2.0295555723983826648e-7,
                -0.000060585756693420075529,
            ],
        ),
        (
            159,
            0,
            [
                -6.2951917815318024738e-6,
                6.2400731044194124013e-6,
                5.5118677112390072457e-8,
                0.0,
            ],
        ),
        (
            159,
            159,
            [
                -1.9415437809821186682e-8,
                -1.9415437809821186682e-8,
                3.8830875619642373363e-8,
                -3.1280576171070703815e-6,
            ],
        ),
        (
            100,
            37,
            [
                -0.000010637377930047517261,
                0.000010554943339098451175,
                8.2434590949066086365e-8,
                -9.0848787502403217526e-6,
            ],
        ),
    ];
    let mut worst: f64 = 0.0;
    for (ox, oy, want) in reference {
        let got = t.get(ox, oy);
        for c in 0..4 {
            worst = worst.max((got[c] - want[c]).abs());
        }
    }
    assert!(worst < 5e-11, "largest deviation {worst:e}");
}

#[test]
fn t1_aharoni_sample_average() {
    let mesh = Mesh::kovacs();
    let f2 = DemagTensor::new(&mesh, &KernelOptions::default())
        .expect("kernel")
        .sample_factors();
    // 2D entries are evaluated to full precision; the weighted sum of 10⁵ entries keeps 1e-12.
    assert!(
        close(f2[0], 0.5, 1e-12) && close(f2[1], 0.5, 1e-12),
        "{f2:?}"
    );
    assert_eq!(f2[2], 0.0);
    let f3 = DemagTensor::new(&mesh, &newell3d())
        .expect("kernel")
        .sample_factors();
    // 3D: ≤ 3e-11 per entry (see the high-precision test), so the mean is good to 1e-10.
    let aharoni = 0.49790317194474;
    assert!(close(f3[0], aharoni, 1e-10), "{:e}", f3[0] - aharoni);
    assert!(close(f3[1], aharoni, 1e-10), "{:e}", f3[1] - aharoni);
    assert!(close(f3.iter().sum::<f64>(), 1.0, 1e-10));
}

#[test]
fn t1_kernels_agree_for_long_prisms_and_far_field_option() {
    let mesh = Mesh::new([24, 16, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let t2 = DemagTensor::new(&mesh, &KernelOptions::default()).expect("kernel");
    let t3 = DemagTensor::new(&mesh, &newell3d()).expect("kernel");
    // End corrections of a 36 µm prism are O(dx/dz) ~ 1e-4 of the self term.
    for oy in -15..16_isize {
        for ox in -23..24_isize {
            let (a, b) = (t2.get(ox, oy), t3.get(ox, oy));
            for c in [0, 1, 3] {
                assert!(
                    close(a[c], b[c], 3e-5),
                    "{ox},{oy},{c}: {} vs {}",
                    a[c],
                    b[c]
                );
            }
        }
    }
    let far = KernelOptions {
        kind: DemagKernelKind::Exact2d,
        far_field_cells: Some(10.5),
    };
    let tf = DemagTensor::new(&mesh, &far).expect("kernel");
    let area_over_2pi = 4e-18 / (2.0 * std::f64::consts::PI);
    for oy in 0..16_isize {
        for ox in 0..24_isize {
            let (a, b) = (t2.get(ox, oy), tf.get(ox, oy));
            if ox * ox + oy * oy <= 110 {
                assert_eq!(a, b);
            } else {
                let (x, y) = (ox as f64 * 2e-9, oy as f64 * 2e-9);
                let r4 = (x * x + y * y).powi(2);
                let dip = [
                    -area_over_2pi * (x * x - y * y) / r4,
                    -area_over_2pi * (y * y - x * x) / r4,
                    0.0,
                    -area_over_2pi * 2.0 * x * y / r4,
                ];
                for c in 0..4 {
                    assert!(
                        close(b[c], dip[c], 1e-15),
                        "{ox},{oy}: {} vs {}",
                        b[c],
                        dip[c]
                    );
                    // The dipole is within 1% of the exact entry beyond 10 cells.
                    assert!(close(a[c], b[c], 1e-2 * a[0].abs().max(a[3].abs())));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- helpers

/// Pixel Voronoi structure (nearest of `grains` uniform seeds, non-periodic) with grain axis
/// angles uniform in [−θ, θ], as in fidimag's example; deterministic in `seed`.
fn voronoi_angles(
    nx: usize,
    ny: usize,
    grains: usize,
    theta: f64,
    seed: u64,
) -> ndarray::Array2<f64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let seeds: Vec<(f64, f64, f64)> = (0..grains)
        .map(|_| {
            (
                rng.random_range(0.0..nx as f64),
                rng.random_range(0.0..ny as f64),
                rng.random_range(-theta.abs()..=theta.abs()),
            )
        })
        .collect();
    ndarray::Array2::from_shape_fn((ny, nx), |(iy, ix)| {
        let (x, y) = (ix as f64 + 0.5, iy as f64 + 0.5);
        let mut best = (f64::INFINITY, 0.0);
        for s in &seeds {
            let d = (s.0 - x).powi(2) + (s.1 - y).powi(2);
            if d < best.0 {
                best = (d, s.2);
            }
        }
        best.1
    })
}

/// The demagnetization curve of `angles` (no progress callback, never cancelled).
fn curve_of(
    mesh: &Mesh,
    material: &Material,
    angles: ndarray::ArrayView2<f64>,
    opts: &CurveOptions,
) -> DemagCurve {
    demag_curve(mesh, material, angles, opts, &mut |_, _| {}, &no_cancel()).expect("curve")
}

fn no_cancel() -> AtomicBool {
    AtomicBool::new(false)
}

/// Relaxes `m` in `field` with a BB minimizer of torque tolerance `tol` (tesla).
fn relax(field: &mut EffectiveField, m: &mut VectorField, tol: f64) -> RelaxOutcome {
    relax_with(MinimizerKind::BarzilaiBorwein, field, m, tol)
}

/// The two converged minimizers (BB and nonlinear CG) with torque tolerance `tol` (tesla).
fn converged_minimizers(tol: f64) -> [MinimizerConfig; 2] {
    [
        MinimizerConfig::barzilai_borwein(tol),
        MinimizerConfig::nonlinear_cg(tol),
    ]
}

/// Relaxes `m` in `field` with minimizer `kind` (BB or NCG) of torque tolerance `tol` (tesla).
fn relax_with(
    kind: MinimizerKind,
    field: &mut EffectiveField,
    m: &mut VectorField,
    tol: f64,
) -> RelaxOutcome {
    let [bb, ncg] = converged_minimizers(tol);
    let mut cfg = if kind == MinimizerKind::NonlinearCg {
        ncg
    } else {
        bb
    };
    cfg.max_steps = 200_000;
    let mut minimizer = Minimizer::new(cfg, m.len()).expect("config");
    minimizer
        .relax(field, m, &no_cancel())
        .expect("not cancelled")
}

// ---------------------------------------------------------------- T2 uniform states

#[test]
fn t2_uniform_state_energies() {
    let mesh = Mesh::kovacs();
    let material = Material::nd2fe14b();
    let n = mesh.n_cells();
    let (v, km) = (mesh.volume(), material.km());
    let mut axes = VectorField::zeros(n);
    for i in 0..n {
        let phi = (i as f64 * 0.77).sin() * 2.5;
        axes.set(i, [phi.sin(), phi.cos(), 0.0]);
    }
    let b_ext = [0.13, -0.4, 0.0];
    for (kernel, factor) in [
        (KernelOptions::default(), 0.5),
        (newell3d(), 0.49790317194474),
    ] {
        let tensor_factors = DemagTensor::new(&mesh, &kernel)
            .expect("kernel")
            .sample_factors();
        let spectra = std::sync::Arc::new(DemagSpectra::new(&mesh, &kernel).expect("kernel"));
        let mut field = EffectiveField::new(
            &mesh,
            &material,
            axes.clone(),
            Some(spectra),
            MagnetizationMode::InPlane,
        )
        .expect("field");
        field.set_applied_field(b_ext);
        for angle in [0.0_f64, 0.6, std::f64::consts::FRAC_PI_2] {
            let dir = [angle.sin(), angle.cos(), 0.0];
            let m = VectorField::uniform(n, dir);
            let e = field.energies(&m);
            // Sample factors Nx = Ny, so the demag energy does not depend on the angle. The FFT
            // convolution reproduces the direct tensor sum to round-off; the 3D tensor itself
            // is within 1e-10 of Aharoni's value (see t1_aharoni_sample_average).
            let direct = tensor_factors[0] * dir[0] * dir[0] + tensor_factors[1] * dir[1] * dir[1];
            assert!(((e.demag / v) / (km * direct) - 1.0).abs() < 1e-12);
            assert!(
                ((e.demag / v) / km - factor).abs() < 1e-10,
                "{factor} {angle}"
            );
            assert_eq!(e.exchange, 0.0);
            let mut an = 0.0;
            for i in 0..n {
                let p = dir[0] * axes.x[i] + dir[1] * axes.y[i];
                an += material.k1 * mesh.cell_volume() * (1.0 - p * p);
            }
            assert!((e.anisotropy / an - 1.0).abs() < 1e-12);
            let zeeman = -material.ms() * v * (b_ext[0] * dir[0] + b_ext[1] * dir[1]);
            assert!((e.zeeman / zeeman - 1.0).abs() < 1e-12);
            // The minimizer's reduced energy is the same total.
            let mut b = VectorField::zeros(n);
            let reduced = field.evaluate(&m, &mut b);
            assert!((reduced * field.energy_scale() / e.total() - 1.0).abs() < 1e-11);
        }
    }
}

/// B = −(1/(Ms V)) ∂E/∂m: the field of every term against a finite difference of the energy
/// under a small rotation of single cells (3D magnetization, 3D kernel, all terms on).
#[test]
fn t2_field_is_energy_gradient() {
    let mesh = Mesh::new([12, 9, 1], [2e-9, 3e-9, 4e-9]).expect("mesh");
    let material = Material::nd2fe14b();
    let n = mesh.n_cells();
    let mut axes = VectorField::zeros(n);
    let mut m = VectorField::zeros(n);
    for i in 0..n {
        let (a, b) = ((i as f64 * 1.3).sin() * 3.0, (i as f64 * 0.7).cos());
        axes.set(i, [a.sin() * b, a.cos() * b, (1.0 - b * b).sqrt()]);
        let (p, q) = ((i as f64 * 0.37).cos() * 2.0, (i as f64 * 0.91).sin() * 0.8);
        m.set(i, [p.sin() * q.cos(), p.cos() * q.cos(), q.sin()]);
    }
    let spectra = std::sync::Arc::new(DemagSpectra::new(&mesh, &newell3d()).expect("kernel"));
    let mut field = EffectiveField::new(
        &mesh,
        &material,
        axes,
        Some(spectra),
        MagnetizationMode::Full3d,
    )
    .expect("field");
    field.set_applied_field([0.2, -0.5, 0.3]);
    let mut b = VectorField::zeros(n);
    field.evaluate(&m, &mut b);
    let scale = field.energy_scale();
    for i in [0, 5, 40, 107] {
        let mi = m.get(i);
        // Rotation about an axis perpendicular to m_i: m(δ) = cos δ m + sin δ w.
        let t = [mi[1], -mi[0], 0.0];
        let tn = (t[0] * t[0] + t[1] * t[1]).sqrt();
        let w = [t[0] / tn, t[1] / tn, 0.0];
        let delta = 1e-5;
        let mut energy = |d: f64| {
            let mut mm = m.clone();
            mm.set(i, [0, 1, 2].map(|k| d.cos() * mi[k] + d.sin() * w[k]));
            field.energies(&mm).total() / scale
        };
        let fd = (energy(delta) - energy(-delta)) / (2.0 * delta);
        let analytic = -(b.x[i] * w[0] + b.y[i] * w[1] + b.z[i] * w[2]);
        assert!(
            (fd - analytic).abs() < 1e-6 * analytic.abs().max(1.0),
            "{fd} vs {analytic}"
        );
    }
}

// ---------------------------------------------------------------- T3 Stoner–Wohlfarth

/// Astroid switching field of a single-domain particle, field at ψ to the easy axis.
fn sw_switching_field(psi: f64) -> f64 {
    let (c, s) = (
        psi.cos().abs().powf(2.0 / 3.0),
        psi.sin().abs().powf(2.0 / 3.0),
    );
    (c + s).powf(-1.5)
}

#[test]
fn t3_single_grain_stoner_wohlfarth() {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([1, 1, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let mut opts = CurveOptions::kovacs(&material);
    opts.demag = None;
    // Remanence to 1e-6 needs the angle to 1e-6: |G| ≈ μ0HA·δ, so tol = 1e-7·μ0HA.
    let cases = [(10.0_f64, 0.673805), (30.0, 0.524016), (45.0, 0.5)];
    for (minimizer, (deg, h_sw_ref)) in converged_minimizers(1e-7 * material.mu0_ha())
        .into_iter()
        .flat_map(|mc| cases.map(|c| (mc, c)))
    {
        opts.minimizer = minimizer;
        let psi = deg.to_radians();
        let h_sw = sw_switching_field(psi);
        assert!((h_sw - h_sw_ref).abs() < 1e-6, "{h_sw}");
        let angles = ndarray::Array2::from_elem((1, 1), psi);
        let c = curve_of(&mesh, &material, angles.view(), &opts);
        assert!(c.all_converged());
        let k = c.m.iter().position(|&m| m < 0.0).expect("switches");
        // Switching happens at the first field step past −h_sw.
        assert!(
            c.h[k] < -h_sw && c.h[k - 1] >= -h_sw,
            "{:?} {deg}°: switched at {}",
            minimizer.kind,
            c.h[k]
        );
        let a = c.anchors();
        assert!(
            (a.mr.expect("h = 0 swept") - psi.cos()).abs() < 1e-6,
            "{deg}° Mr {:?}",
            a.mr
        );
        // After switching the particle sits in the reversed minimum.
        assert!(c.m[k] < -0.5);
    }
}

// ---------------------------------------------------------------- T4 non-interacting ensemble

/// Each cell is an independent SW particle (A = 0, no demag); axes at the midpoints of 4096
/// equal sub-intervals of [−θ0, θ0]. The ensemble curve is the midpoint-rule integral over
/// the axis angle of a function with a jump at the switching angle, so M carries an error of
/// ~(jump ≈ 1.5)/4096 at the steps where particles switch; an independent high-accuracy
/// evaluation (2000 vs 1999 nodes) moves Hc by 5e-5. Tolerances: 2e-5 for M1, Mr (smooth),
/// 2e-4 for the fields.
#[test]
fn t4_non_interacting_ensemble_anchors() {
    let base = Material::nd2fe14b();
    let material = Material {
        exchange_a: 0.0,
        ..base
    };
    let (nx, ny) = (64, 64);
    let mesh = Mesh::new([nx, ny, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let mut opts = CurveOptions::kovacs(&material);
    opts.demag = None;
    let reference = [
        (
            45.0_f64,
            [0.97579, 0.90032, -0.30996, -0.44552, -0.50026, -0.55298],
        ),
        (
            90.0,
            [0.93422, 0.63662, -0.11756, -0.21752, -0.30193, -0.50876],
        ),
    ];
    for (minimizer, (deg, want)) in converged_minimizers(1e-5 * material.mu0_ha())
        .into_iter()
        .flat_map(|mc| reference.map(|r| (mc, r)))
    {
        opts.minimizer = minimizer;
        let theta0 = deg.to_radians();
        let n = nx * ny;
        let angles = ndarray::Array2::from_shape_fn((ny, nx), |(iy, ix)| {
            let j = iy * nx + ix;
            -theta0 + (j as f64 + 0.5) * 2.0 * theta0 / n as f64
        });
        let c = curve_of(&mesh, &material, angles.view(), &opts);
        assert!(c.all_converged());
        let got = c
            .anchors()
            .to_array()
            .map(|v| v.expect("every anchor is reached"));
        // Analytic 2D remanence sin θ0 / θ0.
        assert!(
            (got[1] - theta0.sin() / theta0).abs() < 2e-5,
            "{deg}° Mr {}",
            got[1]
        );
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            let tol = if k < 2 { 2e-5 } else { 2e-4 };
            assert!(
                (g - w).abs() < tol,
                "{:?} {deg}° anchor {k}: {g} vs {w}",
                minimizer.kind
            );
        }
    }
}

// ---------------------------------------------------------------- T5 1D wall

/// 100 × 1 × 1 cells of 1 nm, Ms = 0.86 MA/m, A = 13 pJ/m, Ku = 0.4 MJ/m³ along z, no demag:
/// the relaxed wall energy in units of ½μ0Ms²V is 0.19603112400.
#[test]
fn t5_one_dimensional_wall_energy() {
    let mesh = Mesh::new([100, 1, 1], [1e-9, 1e-9, 1e-9]).expect("mesh");
    let material = Material::from_ms(13e-12, 0.86e6, 0.4e6);
    let n = mesh.n_cells();
    let axes = VectorField::uniform(n, [0.0, 0.0, 1.0]);
    let mut field = EffectiveField::new(&mesh, &material, axes, None, MagnetizationMode::Full3d)
        .expect("field");
    let mut m = VectorField::zeros(n);
    for i in 0..n {
        let mz = if i < n / 2 { -0.9 } else { 0.9 };
        m.set(i, [0.0, 0.1, mz]);
    }
    // |G| ≈ μ0HA·δ with μ0HA = 0.93 T; the energy error is quadratic in the state error.
    let out = relax(&mut field, &mut m, 1e-6);
    assert!(out.converged);
    let e = field.energies(&m).total() / (material.km() * mesh.volume());
    assert!((e - 0.19603112400).abs() < 1e-6, "wall energy {e}");
}

// ---------------------------------------------------------------- T6 grid pinning

/// Relaxed 180° wall in an Nd2Fe14B chain of cubic cells of size `d`, relaxed at h = 0 and
/// then at each field of `fields` (HA units, along +y, favouring the left domain) by minimizer
/// `kind`. Returns the wall energy per area in mJ/m² at zero field and the final state.
fn chain_wall_with(
    kind: MinimizerKind,
    d: f64,
    cells: usize,
    fields: &[f64],
) -> (f64, VectorField) {
    let mesh = Mesh::new([cells, 1, 1], [d, d, d]).expect("mesh");
    let material = Material::nd2fe14b();
    let axes = VectorField::uniform(cells, [0.0, 1.0, 0.0]);
    let mut field = EffectiveField::new(&mesh, &material, axes, None, MagnetizationMode::InPlane)
        .expect("field");
    let mut m = VectorField::zeros(cells);
    for i in 0..cells {
        let my = if i < cells / 2 { 1.0 } else { -1.0 };
        m.set(i, [0.1, my, 0.0]);
    }
    let tol = 1e-6 * material.mu0_ha();
    assert!(relax_with(kind, &mut field, &mut m, tol).converged);
    let sigma = field.energies(&m).total() / (d * d) * 1e3;
    for &h in fields {
        field.set_applied_field([0.0, h * material.mu0_ha(), 0.0]);
        assert!(relax_with(kind, &mut field, &mut m, tol).converged);
    }
    (sigma, m)
}

#[test]
fn t6_grid_pinning_wall_energies() {
    for kind in [MinimizerKind::BarzilaiBorwein, MinimizerKind::NonlinearCg] {
        // d = 2 nm: the wall stays abrupt (one cell pair antiparallel), σ = 4A/d.
        let (sigma, m) = chain_wall_with(kind, 2e-9, 60, &[]);
        assert!((sigma - 16.000).abs() < 5e-4, "{kind:?} σ(2 nm) = {sigma}");
        assert!(m.y[29] > 0.999_999 && m.y[30] < -0.999_999);
        // The computed energies rise towards the continuum 4√(A K1) = 23.186 mJ/m² as the
        // cells shrink, and stay below it (a discrete wall is cheaper than the continuum one).
        let continuum = 4.0 * (8e-12_f64 * 4.2e6).sqrt() * 1e3;
        let mut previous = sigma;
        for (d, cells, want) in [(1e-9, 120, 22.620), (0.5e-9, 240, 23.057)] {
            let (sigma, _) = chain_wall_with(kind, d, cells, &[]);
            assert!(
                (sigma - want).abs() < 5e-4,
                "{kind:?} σ({d}) = {sigma} vs {want}"
            );
            assert!(
                previous < sigma && sigma < continuum,
                "{kind:?} σ({d}) = {sigma}: not between {previous} and {continuum}"
            );
            previous = sigma;
        }
        assert!(continuum - previous < 0.15, "{kind:?}: finest σ {previous}");
    }
}

/// The abrupt 2 nm wall is pinned by the grid: a field raised in 0.05 HA steps to 0.95 HA,
/// pushing it, leaves it in place.
#[test]
fn t6_abrupt_wall_is_pinned_below_anisotropy_field() {
    let fields: Vec<f64> = (1..=19).map(|k| 0.05 * k as f64).collect();
    for kind in [MinimizerKind::BarzilaiBorwein, MinimizerKind::NonlinearCg] {
        let (_, m) = chain_wall_with(kind, 2e-9, 60, &fields);
        let mean = m.mean()[1];
        assert!(mean.abs() < 0.02, "{kind:?}: wall moved: <my> = {mean}");
        assert!(m.y[29] > 0.99 && m.y[30] < -0.99);
    }
}

// ---------------------------------------------------------------- T7 µMAG standard problem 4

/// Remanent s-state of µMAG standard problem 4 (500 × 125 × 3 nm, 128 × 32 × 1 cells,
/// Ms = 0.8 MA/m, A = 13 pJ/m, no anisotropy) by minimization from (1, 0.1, 0), with the 3D
/// Newell kernel and full 3D magnetization.
#[test]
fn t7_standard_problem_4_remanent_state() {
    let mesh = Mesh::new([128, 32, 1], [500e-9 / 128.0, 125e-9 / 32.0, 3e-9]).expect("mesh");
    let material = Material::from_ms(1.3e-11, 8e5, 0.0);
    let n = mesh.n_cells();
    let spectra = std::sync::Arc::new(DemagSpectra::new(&mesh, &newell3d()).expect("kernel"));
    let axes = VectorField::uniform(n, [1.0, 0.0, 0.0]);
    let mut field = EffectiveField::new(
        &mesh,
        &material,
        axes,
        Some(spectra),
        MagnetizationMode::Full3d,
    )
    .expect("field");
    let mut m = VectorField::uniform(n, [1.0, 0.1, 0.0]);
    m.normalize();
    let out = relax(&mut field, &mut m, 1e-6);
    assert!(out.converged);
    let mean = m.mean();
    // Reference digits: 0.966962 (±5e-7), 0.12529 (±5e-6); we get 0.9669619, 0.1252856.
    assert!((mean[0] - 0.966962).abs() < 2e-6, "{mean:?}");
    assert!((mean[1] - 0.12529).abs() < 1e-5, "{mean:?}");
    assert!(mean[2].abs() < 1e-12, "{mean:?}");
}

/// The remanent state of standard problem 4 restricted to in-plane magnetization, by BB and
/// by nonlinear CG (the in-plane angle formulation needs m_z ≡ 0): both minimizers land in the
/// same state, within 1e-5 of the 3D reference (the constraint moves ⟨m_x⟩ by ~4e-6: the 3D
/// s-state has small out-of-plane components of zero mean).
#[test]
fn t7_standard_problem_4_in_plane_bb_and_nonlinear_cg_agree() {
    let mesh = Mesh::new([128, 32, 1], [500e-9 / 128.0, 125e-9 / 32.0, 3e-9]).expect("mesh");
    let material = Material::from_ms(1.3e-11, 8e5, 0.0);
    let n = mesh.n_cells();
    let spectra = std::sync::Arc::new(DemagSpectra::new(&mesh, &newell3d()).expect("kernel"));
    let means = [MinimizerKind::BarzilaiBorwein, MinimizerKind::NonlinearCg].map(|kind| {
        let axes = VectorField::uniform(n, [1.0, 0.0, 0.0]);
        let mut field = EffectiveField::new(
            &mesh,
            &material,
            axes,
            Some(spectra.clone()),
            MagnetizationMode::InPlane,
        )
        .expect("field");
        let mut m = VectorField::uniform(n, [1.0, 0.1, 0.0]);
        m.normalize();
        assert!(relax_with(kind, &mut field, &mut m, 1e-7).converged);
        m.mean()
    });
    for mean in &means {
        assert!((mean[0] - 0.966962).abs() < 1e-5, "{means:?}");
        assert!((mean[1] - 0.12529).abs() < 1e-5, "{means:?}");
    }
    // Measured: 3.5e-7 and 1.0e-6 apart; the stopping test (torque < 1e-7 T) leaves the soft
    // s-state mode free to ~1e-6.
    assert!((means[0][0] - means[1][0]).abs() < 2e-6, "{means:?}");
    assert!((means[0][1] - means[1][1]).abs() < 2e-6, "{means:?}");
}

// ---------------------------------------------------------------- T8 trends

/// Exchange coupling raises Mr above the non-interacting value and lowers |Hc| (qualitative).
#[test]
fn t8_exchange_coupling_raises_remanence_and_lowers_coercivity() {
    let coupled = Material::nd2fe14b();
    let free = Material {
        exchange_a: 0.0,
        ..coupled
    };
    let mesh = Mesh::new([40, 40, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let angles = voronoi_angles(40, 40, 16, std::f64::consts::PI, 11);
    let anchors_of = |material: &Material, demag: bool| {
        let mut opts = CurveOptions::kovacs(material);
        opts.sweep.h_step = 0.02;
        if !demag {
            opts.demag = None;
        }
        let c = curve_of(&mesh, material, angles.view(), &opts);
        let a = c.anchors();
        (a.mr.expect("mr"), a.hc.value().expect("hc"))
    };
    let (mr_free, hc_free) = anchors_of(&free, false);
    let (mr_coupled, hc_coupled) = anchors_of(&coupled, true);
    assert!(mr_coupled > mr_free + 0.02, "Mr {mr_coupled} vs {mr_free}");
    assert!(
        hc_coupled.abs() < hc_free.abs() - 0.02,
        "Hc {hc_coupled} vs {hc_free}"
    );
}

// ---------------------------------------------------------------- T9 determinism, API

fn small_structure_curve(threads: usize, seed: u64) -> DemagCurve {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([32, 32, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let mut opts = CurveOptions::kovacs(&material);
    opts.sweep.h_step = 0.05;
    let angles = voronoi_angles(32, 32, 12, 2.5, seed);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| curve_of(&mesh, &material, angles.view(), &opts))
}

fn bits(c: &DemagCurve) -> Vec<u64> {
    c.m.iter()
        .chain(&c.energy_density)
        .chain(&c.max_torque)
        .map(|v| v.to_bits())
        .collect()
}

/// The solver has no internal parallelism (one structure runs on one thread; stages run
/// structures in parallel), so what can differ is concurrent solving: several structures solved
/// at once on a 2-thread pool must give the sequential bits. Code with internal parallelism is
/// checked across thread counts where it lives (`prism_design::field_maps`).
#[test]
fn t9_bitwise_determinism_of_concurrent_solves() {
    use rayon::prelude::*;
    assert!(small_structure_curve(1, 5).all_converged());
    let sequential: Vec<Vec<u64>> = (0..3).map(|s| bits(&small_structure_curve(1, s))).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let parallel: Vec<Vec<u64>> = pool.install(|| {
        (0..3)
            .into_par_iter()
            .map(|s| bits(&small_structure_curve(1, s)))
            .collect()
    });
    assert_eq!(sequential, parallel);
}

#[test]
fn curve_reports_progress_and_honours_cancellation() {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([16, 16, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let opts = CurveOptions::kovacs(&material);
    let angles = voronoi_angles(16, 16, 4, 1.0, 3);
    let mut calls = Vec::new();
    let curve = demag_curve(
        &mesh,
        &material,
        angles.view(),
        &opts,
        &mut |k, total| calls.push((k, total)),
        &no_cancel(),
    )
    .expect("curve");
    assert_eq!(curve.h.len(), 201);
    assert_eq!(calls.len(), 201);
    assert_eq!(calls.last(), Some(&(201, 201)));
    assert_eq!((curve.h[0], curve.h[100], curve.h[200]), (1.0, 0.0, -1.0));
    let cancel = AtomicBool::new(true);
    let r = demag_curve(
        &mesh,
        &material,
        angles.view(),
        &opts,
        &mut |_, _| {},
        &cancel,
    );
    assert!(matches!(r, Err(PhysicsError::Cancelled)));
    let wrong = ndarray::Array2::<f64>::zeros((16, 15));
    let r = demag_curve(
        &mesh,
        &material,
        wrong.view(),
        &opts,
        &mut |_, _| {},
        &no_cancel(),
    );
    assert!(matches!(r, Err(PhysicsError::ShapeMismatch { .. })));
    let mut bad = opts;
    bad.sweep.h_step = 0.03;
    let r = demag_curve(
        &mesh,
        &material,
        angles.view(),
        &bad,
        &mut |_, _| {},
        &no_cancel(),
    );
    assert!(matches!(r, Err(PhysicsError::InvalidOption(_))));
}

/// fidimag < 4.0 semantics: fixed τ, stop on max|Δm| < 1e-3 (≥ 2 steps), at most 5000 steps;
/// the curve stays close to the converged one but is not identical.
#[test]
fn fidimag_compat_mode_runs_with_fixed_step() {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([24, 24, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let angles = voronoi_angles(24, 24, 6, 0.8, 9);
    let mut opts = CurveOptions::kovacs(&material);
    opts.sweep.h_step = 0.05;
    let bb = curve_of(&mesh, &material, angles.view(), &opts);
    opts.minimizer = MinimizerConfig::fidimag_compat();
    let compat = curve_of(&mesh, &material, angles.view(), &opts);
    assert!(compat.iterations.iter().all(|&k| (2..=5000).contains(&k)));
    assert!(
        compat
            .iterations
            .iter()
            .zip(&compat.converged)
            .all(|(&k, &c)| c || k == 5000)
    );
    let (a, b) = (bb.anchors(), compat.anchors());
    assert!((a.mr.expect("mr") - b.mr.expect("mr")).abs() < 0.01);
    assert!((a.hc.value().expect("hc") - b.hc.value().expect("hc")).abs() < 0.1);
}

// ---------------------------------------------------------------- nonlinear CG and predictor

/// Two grains side by side (axes 10° and 45° from the field), weakly exchange-coupled
/// (A = 0.4 pJ/m, 5 % of Nd2Fe14B's), with demag: they reverse in several separate events. BB
/// (τmax 0.3, with and without the continuation predictor) must reverse them at the same field
/// steps, in the same order, to the same states as small-step BB (τmax 0.03): no metastable
/// state skipped.
#[test]
fn two_weakly_coupled_grains_switch_in_the_same_sequence() {
    weakly_coupled_grains_against_small_step_bb(false);
}

/// The same check for nonlinear CG. Known failure (issue 11, documented in the README): with
/// the 0.1 rad rotation cap NCG reverses these grains in 6 events instead of BB's 4.
#[test]
#[ignore = "known failure of minimizer = ncg (issue 11): it skips metastable states here"]
fn two_weakly_coupled_grains_switch_in_the_same_sequence_nonlinear_cg() {
    weakly_coupled_grains_against_small_step_bb(true);
}

/// Compares BB (or, with `ncg`, nonlinear CG) with and without the predictor against
/// small-step BB on the two-grain structure.
fn weakly_coupled_grains_against_small_step_bb(ncg: bool) {
    let material = Material {
        exchange_a: 0.4e-12,
        ..Material::nd2fe14b()
    };
    let (nx, ny) = (16, 8);
    let mesh = Mesh::new([nx, ny, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let angles = ndarray::Array2::from_shape_fn((ny, nx), |(_, ix)| {
        if ix < nx / 2 { 10f64 } else { 45.0 }.to_radians()
    });
    let tol = 1e-5 * material.mu0_ha();
    let curve = |minimizer: MinimizerConfig, predictor_max_turn: f64| {
        let opts = CurveOptions {
            minimizer,
            predictor_max_turn,
            ..CurveOptions::kovacs(&material)
        };
        let c = curve_of(&mesh, &material, angles.view(), &opts);
        assert!(c.all_converged());
        c
    };
    // Field steps where M drops by more than 0.1 Ms: the switching events.
    let events = |c: &DemagCurve| -> Vec<usize> {
        (1..c.m.len())
            .filter(|&k| c.m[k - 1] - c.m[k] > 0.1)
            .collect()
    };
    let [bb, _] = converged_minimizers(tol);
    let small_steps = MinimizerConfig {
        tau_max: 0.03,
        ..bb
    };
    let reference = curve(small_steps, 0.0);
    let sequence = events(&reference);
    assert!(sequence.len() >= 2, "separate reversals: {sequence:?}");
    let candidate = if ncg {
        MinimizerConfig::nonlinear_cg(tol)
    } else {
        bb
    };
    for (minimizer, predictor) in [(candidate, 0.0), (candidate, 0.05)] {
        let c = curve(minimizer, predictor);
        assert_eq!(
            events(&c),
            sequence,
            "{:?} predictor {predictor}",
            minimizer.kind
        );
        for (a, b) in c.m.iter().zip(&reference.m) {
            assert!((a - b).abs() < 1e-4, "{:?}: M {a} vs {b}", minimizer.kind);
        }
    }
}

/// The continuation predictor changes where each field step starts, not where it ends: on a
/// smooth (switching-free) part of a curve it leaves M within the tolerance and saves
/// minimizer iterations.
#[test]
fn predictor_saves_iterations_on_smooth_branches() {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([24, 24, 1], [2e-9, 2e-9, 36e-6]).expect("mesh");
    let angles = voronoi_angles(24, 24, 6, 0.6, 5);
    let sweep = SweepOptions {
        h_start: 1.0,
        h_end: 0.0,
        ..SweepOptions::default()
    };
    for minimizer in converged_minimizers(1e-5 * material.mu0_ha()) {
        let run = |predictor_max_turn: f64| {
            let opts = CurveOptions {
                minimizer,
                sweep,
                predictor_max_turn,
                ..CurveOptions::kovacs(&material)
            };
            curve_of(&mesh, &material, angles.view(), &opts)
        };
        let (plain, predicted) = (run(0.0), run(0.05));
        for (a, b) in plain.m.iter().zip(&predicted.m) {
            assert!((a - b).abs() < 1e-5, "{:?}: M {a} vs {b}", minimizer.kind);
        }
        assert!(
            predicted.total_iterations() < plain.total_iterations(),
            "{:?}: {} vs {} iterations",
            minimizer.kind,
            predicted.total_iterations(),
            plain.total_iterations()
        );
    }
}
