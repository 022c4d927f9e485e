//! T8 (notes §6): exchange coupling raises the remanence of an isotropic 64-grain structure above
//! the non-interacting 2D value 2/π and lowers its coercivity below the ensemble's 0.51 HA.

use std::sync::atomic::AtomicBool;

use mexp::physics::micromag::curve::{CurveOptions, demag_curve};
use mexp::physics::micromag::grains::{GrainSampling, GrainStructure};
use mexp::physics::micromag::material::Material;
use mexp::physics::micromag::mesh::Mesh;
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

#[test]
fn t8_exchange_coupling_raises_remanence_and_lowers_coercivity() {
    let material = Material::nd2fe14b();
    let mesh = Mesh::new([64, 64, 1], [2e-9, 2e-9, 36_000e-9]).expect("mesh");
    let opts = CurveOptions::kovacs(&material);
    let cancel = AtomicBool::new(false);
    let s = isotropic_structure(64, 11);
    let curve = demag_curve(
        &mesh,
        &material,
        s.cell_angles().view(),
        &opts,
        &mut |_, _| {},
        &cancel,
    )
    .expect("curve");
    let a = curve.anchors();
    let mr = a.mr.expect("h = 0 is swept");
    let hc = a.hc.value().expect("the curve crosses zero");
    assert!(
        mr > 2.0 / std::f64::consts::PI,
        "Mr = {mr} should exceed the non-interacting 2/π"
    );
    assert!(
        hc.abs() < 0.51,
        "|Hc| = {} should stay below the non-interacting 0.51 HA",
        hc.abs()
    );
    assert!(curve.all_converged());
}
