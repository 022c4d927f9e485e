//! One effective-field evaluation (exchange + anisotropy + Zeeman + FFT demag) on the Kovacs
//! 160 × 160 mesh, single thread. Prints the median time per evaluation over several batches,
//! then where one minimizer iteration's time goes: the bare zero-padded FFTs of one in-plane
//! evaluation, the demag field (FFTs + kernel product), the whole evaluation, and one BB and one
//! NCG iteration (200 steps from a disordered state, per step and per field evaluation).
//!
//! Run: `cargo bench --bench field_eval`

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mexp::physics::micromag::demag::Demag;
use mexp::physics::micromag::padded_fft::PaddedFft2;
use rustfft::num_complex::Complex;

use mexp::physics::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (median, min) seconds per call of `f` over 15 batches of 100 calls.
fn time_per_call(mut f: impl FnMut() -> f64) -> (f64, f64) {
    let batch = 100;
    let mut samples = Vec::new();
    let mut sink = 0.0;
    for _ in 0..15 {
        let t0 = Instant::now();
        for _ in 0..batch {
            sink += f();
        }
        samples.push(t0.elapsed().as_secs_f64() / batch as f64);
    }
    std::hint::black_box(sink);
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    (median(samples), min)
}

/// (median, min) seconds per evaluation over 15 batches of 100 evaluations.
fn time_per_eval(field: &mut EffectiveField, m: &VectorField, b: &mut VectorField) -> (f64, f64) {
    time_per_call(|| field.evaluate(m, b))
}

/// Seconds per step and per field evaluation of `steps` minimizer steps from `m` (median of 5).
fn time_per_step(
    config: MinimizerConfig,
    field: &mut EffectiveField,
    m: &VectorField,
    steps: usize,
) -> (f64, f64) {
    let cfg = MinimizerConfig {
        torque_tol: 1e-30,
        max_steps: steps,
        ..config
    };
    let mut per_step = Vec::new();
    let mut per_eval = Vec::new();
    for _ in 0..5 {
        let mut state = m.clone();
        let mut minimizer = Minimizer::new(cfg, m.len()).expect("minimizer");
        let t0 = Instant::now();
        let out = minimizer
            .relax(field, &mut state, &AtomicBool::new(false))
            .expect("relax");
        let t = t0.elapsed().as_secs_f64();
        per_step.push(t / out.steps.max(1) as f64);
        per_eval.push(t / out.evaluations as f64);
    }
    (median(per_step), median(per_eval))
}

fn main() {
    let mesh = Mesh::kovacs();
    let material = Material::nd2fe14b();
    let n = mesh.n_cells();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut axes = VectorField::zeros(n);
    let mut m = VectorField::zeros(n);
    for i in 0..n {
        let phi: f64 = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
        axes.set(i, [phi.sin(), phi.cos(), 0.0]);
        let psi: f64 = rng.random_range(-0.3..0.3);
        m.set(i, [psi.sin(), psi.cos(), 0.0]);
    }
    let mut b = VectorField::zeros(n);
    let cases = [
        (
            "in-plane, exact 2D kernel (default)",
            KernelOptions::default(),
            MagnetizationMode::InPlane,
        ),
        (
            "full 3D m, exact 2D kernel",
            KernelOptions::default(),
            MagnetizationMode::Full3d,
        ),
        (
            "full 3D m, Newell 3D kernel",
            KernelOptions {
                kind: DemagKernelKind::Newell3d,
                far_field_cells: None,
            },
            MagnetizationMode::Full3d,
        ),
    ];
    println!(
        "field_eval: 160x160 Kovacs mesh, 1 thread, median (min) of 15 batches of 100 evaluations"
    );
    for (name, kernel, mode) in cases {
        let spectra = Arc::new(DemagSpectra::new(&mesh, &kernel).expect("kernel"));
        let mut field = EffectiveField::new(&mesh, &material, axes.clone(), Some(spectra), mode)
            .expect("field");
        field.set_applied_field([0.0, -0.3 * material.mu0_ha(), 0.0]);
        let (t, tmin) = time_per_eval(&mut field, &m, &mut b);
        println!(
            "  {name:40} {:8.1} µs per evaluation ({:.1})",
            t * 1e6,
            tmin * 1e6
        );
    }
    let mut local = EffectiveField::new(
        &mesh,
        &material,
        axes.clone(),
        None,
        MagnetizationMode::InPlane,
    )
    .expect("field");
    let (t, tmin) = time_per_eval(&mut local, &m, &mut b);
    println!(
        "  {:40} {:8.1} µs per evaluation ({:.1})",
        "in-plane, local terms only (no demag)",
        t * 1e6,
        tmin * 1e6
    );

    println!("  where one iteration's time goes (in-plane, exact 2D kernel):");
    let kernel = KernelOptions::default();
    let spectra = Arc::new(DemagSpectra::new(&mesh, &kernel).expect("kernel"));
    let mut fft = PaddedFft2::new(mesh.nx, mesh.ny);
    let (mut sx, mut sy) = (
        vec![Complex::default(); fft.spectrum_len()],
        vec![Complex::default(); fft.spectrum_len()],
    );
    let (t_fft, _) = time_per_call(|| {
        fft.forward_rows(&m.x, &mut sx);
        fft.forward_rows(&m.y, &mut sy);
        fft.columns([&mut sx[..], &mut sy[..]], |_, _| {});
        fft.inverse_rows(&mut sx, &mut b.x, 1.0);
        fft.inverse_rows(&mut sy, &mut b.y, 1.0);
        b.x[0]
    });
    let mut demag = Demag::new(spectra.clone(), material.mu0_ms);
    let (t_demag, _) = time_per_call(|| {
        demag.set_field(&m, &mut b, 2);
        b.x[0]
    });
    let mut field = EffectiveField::new(
        &mesh,
        &material,
        axes.clone(),
        Some(spectra),
        MagnetizationMode::InPlane,
    )
    .expect("field");
    field.set_applied_field([0.0, -0.3 * material.mu0_ha(), 0.0]);
    let (t_eval, _) = time_per_eval(&mut field, &m, &mut b);
    println!(
        "    bare FFTs (2 forward, 2 inverse, pruned) {:7.1} µs; demag field {:7.1} µs; whole \
         evaluation {:7.1} µs = {:.2}× the bare FFTs",
        t_fft * 1e6,
        t_demag * 1e6,
        t_eval * 1e6,
        t_eval / t_fft
    );
    let tol = 1e-4 * material.mu0_ha();
    for (name, cfg) in [
        ("BB", MinimizerConfig::barzilai_borwein(tol)),
        ("NCG", MinimizerConfig::nonlinear_cg(tol)),
    ] {
        let (step, eval) = time_per_step(cfg, &mut field, &m, 200);
        println!(
            "    {name:3} iteration {:7.1} µs = {:.2}× one evaluation; per field evaluation {:7.1} µs \
             = {:.2}× (200 steps from a disordered state)",
            step * 1e6,
            step / t_eval,
            eval * 1e6,
            eval / t_eval
        );
    }
}
