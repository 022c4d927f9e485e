//! T8 (notes §6): exchange coupling raises the remanence of an isotropic 64-grain structure above
//! the non-interacting value and lowers its coercivity below it. "Non-interacting" is computed for
//! the same 64 grains (A = 0, no demag: each grain a Stoner–Wohlfarth particle), not taken from the
//! infinite ensemble (2/π, 0.50876 HA), which a finite sample of axes misses by a few percent.

use std::sync::atomic::AtomicBool;

use mexp::physics::curve::{CurveOptions, demag_curve};
use mexp::physics::grains::{GrainSampling, GrainStructure};
use mexp::physics::material::Material;
use mexp::physics::mesh::Mesh;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 64-grain Voronoi structure on `n`×`n` cells of 2 nm with in-plane isotropic axes (θ = π).
fn isotropic_structure(n: usize, seed: u64) -> GrainStructure {
    let sampling = GrainSampling {
        nx: n,
        ny: n,
        grains_min: 64,
        grains_max: 64,
        ..GrainSampling::default()
    };
    let mut s = sampling.sample(seed).expect("valid sampling");
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    s.theta = std::f64::consts::PI;
    s.grain_angles = (0..s.n_grains)
        .map(|_| rng.random_range(-std::f64::consts::PI..std::f64::consts::PI))
        .collect();
    s
}

/// Remanence and coercive field (HA) of structure `s` on `mesh`.
fn mr_hc(mesh: &Mesh, material: &Material, opts: &CurveOptions, s: &GrainStructure) -> (f64, f64) {
    let cancel = AtomicBool::new(false);
    let curve = demag_curve(
        mesh,
        material,
        s.cell_angles().view(),
        opts,
        &mut |_, _| {},
        &cancel,
    )
    .expect("curve");
    assert!(curve.all_converged());
    let a = curve.anchors();
    let mr = a.mr.expect("h = 0 is swept");
    let hc = a.hc.value().expect("the curve crosses zero");
    (mr, hc)
}

#[test]
fn t8_exchange_coupling_raises_remanence_and_lowers_coercivity() {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([64, 64, 1], [2e-9, 2e-9, 36_000e-9]).expect("mesh");
    let s = isotropic_structure(64, 11);
    let (mr, hc) = mr_hc(&mesh, &material, &CurveOptions::kovacs(&material), &s);
    // The same 64 grains without interactions.
    let free = Material {
        exchange_a: 0.0,
        ..material
    };
    let mut free_opts = CurveOptions::kovacs(&free);
    free_opts.demag = None;
    let (mr0, hc0) = mr_hc(&mesh, &free, &free_opts, &s);
    assert!(
        hc0.abs() < 0.6 && (mr0 - 2.0 / std::f64::consts::PI).abs() < 0.1,
        "the non-interacting sample ({mr0}, {hc0}) is near the ensemble (2/π, 0.50876)"
    );
    assert!(
        mr > mr0,
        "Mr = {mr} should exceed the non-interacting {mr0}"
    );
    assert!(
        hc.abs() < hc0.abs(),
        "|Hc| = {} should stay below the non-interacting {}",
        hc.abs(),
        hc0.abs()
    );
    assert!(
        hc.abs() < 0.50876,
        "|Hc| = {} should stay below the infinite ensemble's 0.50876 HA",
        hc.abs()
    );
}
