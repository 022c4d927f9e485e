//! The fused evaluation (one pass over each block of rows after the demag transform) against
//! the separate passes it replaces: field and energy must agree bit for bit, on meshes whose
//! sizes are not multiples of the row block or of the lane count.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::physics::demag_kernel::{DemagKernelKind, KernelOptions};
use crate::physics::vector_field::lane_sum;

/// Random unit magnetization (and easy axes) for `mode`, seeded.
fn random_unit(n: usize, mode: MagnetizationMode, seed: u64) -> VectorField {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut f = VectorField::zeros(n);
    for i in 0..n {
        let z = match mode {
            MagnetizationMode::InPlane => 0.0,
            MagnetizationMode::Full3d => rng.random_range(-0.7..0.7),
        };
        f.set(
            i,
            [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0), z],
        );
    }
    f.normalize();
    f
}

/// The evaluation as separate passes over whole fields (the pre-fusion code path).
fn separate_passes(field: &mut EffectiveField, m: &VectorField, b: &mut VectorField) -> f64 {
    let ncomp = field.mode.ncomp();
    match &mut field.demag {
        Some(d) => d.set_field(m, b, ncomp),
        None => {
            b.x.fill(0.0);
            b.y.fill(0.0);
            b.z.fill(0.0);
        }
    }
    if let Some(ex) = &field.exchange {
        ex.add_field(m, b, ncomp);
    }
    if let Some(an) = &field.anisotropy {
        an.add_field(m, b, ncomp);
    }
    field.zeeman.add_field(b, ncomp);
    let [ex, ey, ez] = field.zeeman.b_ext;
    let n = field.n;
    let mut s = lane_sum(n, |i| m.x[i] * (b.x[i] + ex) + m.y[i] * (b.y[i] + ey));
    if ncomp == 3 {
        s += lane_sum(n, |i| m.z[i] * (b.z[i] + ez));
    }
    let k = if field.anisotropy.is_some() {
        field.k1_over_ms
    } else {
        0.0
    };
    -0.5 * s + n as f64 * k
}

#[test]
fn fused_evaluation_equals_the_separate_passes_bit_for_bit() {
    let material = Material::nd2fe14b();
    let cases = [
        (
            13,
            11,
            MagnetizationMode::InPlane,
            DemagKernelKind::Exact2d,
            true,
        ),
        (
            16,
            17,
            MagnetizationMode::InPlane,
            DemagKernelKind::Exact2d,
            true,
        ),
        (
            9,
            5,
            MagnetizationMode::Full3d,
            DemagKernelKind::Exact2d,
            true,
        ),
        (
            9,
            5,
            MagnetizationMode::Full3d,
            DemagKernelKind::Newell3d,
            true,
        ),
        (
            7,
            10,
            MagnetizationMode::InPlane,
            DemagKernelKind::Exact2d,
            false,
        ),
        (
            7,
            10,
            MagnetizationMode::Full3d,
            DemagKernelKind::Exact2d,
            false,
        ),
    ];
    for (seed, (nx, ny, mode, kind, with_demag)) in cases.into_iter().enumerate() {
        let mesh = Mesh::new([nx, ny, 1], [1e-9, 1.2e-9, 2e-9]).expect("mesh");
        let n = mesh.n_cells();
        let axes = random_unit(n, mode, 100 + seed as u64);
        let m = random_unit(n, mode, seed as u64);
        let spectra = with_demag.then(|| {
            let opts = KernelOptions {
                kind,
                far_field_cells: None,
            };
            Arc::new(DemagSpectra::new(&mesh, &opts).expect("kernel"))
        });
        let mut field = EffectiveField::new(&mesh, &material, axes, spectra, mode).expect("field");
        field.set_applied_field([0.1, -0.4, 0.05 * mode.ncomp() as f64 - 0.1]);
        let (mut fused, mut reference) = (VectorField::zeros(n), VectorField::zeros(n));
        let mut seen = Vec::new();
        let e_fused = field.evaluate_with(&m, &mut fused, |cells, _| seen.push(cells));
        let e_reference = separate_passes(&mut field, &m, &mut reference);
        let case = format!("{nx}x{ny} {mode:?} {kind:?} demag={with_demag}");
        assert_eq!(e_fused.to_bits(), e_reference.to_bits(), "{case}: energy");
        for c in 0..mode.ncomp() {
            let (a, r) = [
                (&fused.x, &reference.x),
                (&fused.y, &reference.y),
                (&fused.z, &reference.z),
            ][c];
            assert!(
                a.iter().zip(r).all(|(p, q)| p.to_bits() == q.to_bits()),
                "{case}: field component {c} differs"
            );
        }
        // The callback saw every cell once, in order, in whole rows.
        let covered: Vec<usize> = seen.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(covered, (0..n).collect::<Vec<_>>(), "{case}: blocks");
        assert!(
            seen.iter().all(|r| r.start % nx == 0 && r.end % nx == 0),
            "{case}"
        );
    }
}
