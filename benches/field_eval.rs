//! One effective-field evaluation (exchange + anisotropy + Zeeman + FFT demag) on the Kovacs
//! 160 × 160 mesh, single thread. Prints the median time per evaluation over several batches.
//!
//! Run: `cargo bench --bench field_eval`

use std::sync::Arc;
use std::time::Instant;

use mexp::physics::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (median, min) seconds per evaluation over 15 batches of 100 evaluations.
fn time_per_eval(field: &mut EffectiveField, m: &VectorField, b: &mut VectorField) -> (f64, f64) {
    let batch = 100;
    let mut samples = Vec::new();
    let mut sink = 0.0;
    for _ in 0..15 {
        let t0 = Instant::now();
        for _ in 0..batch {
            sink += field.evaluate(m, b);
        }
        samples.push(t0.elapsed().as_secs_f64() / batch as f64);
    }
    std::hint::black_box(sink);
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    (median(samples), min)
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
}
