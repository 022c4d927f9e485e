//! Tests of the embedded Stoner–Wohlfarth model.

use super::*;
use crate::physics::esw::state::{Model, dot, rotate, rotate_closed_form};
use crate::physics::esw::stoner_wohlfarth::switching_field;
use crate::physics::prism_reference::box_field_face_sum;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn single_grain(psi_deg: f64, self_field: bool) -> EswConfig {
    let psi = psi_deg.to_radians();
    EswConfig {
        grains: [1, 1, 1],
        easy_axes: EasyAxes::Fixed(vec![[psi.sin(), 0.0, psi.cos()]]),
        include_self_field: self_field,
        ..EswConfig::default()
    }
}

/// Index of the first step at which grain g points against its easy axis.
fn switch_step(res: &EswResult, g: usize) -> Option<usize> {
    let k = res
        .easy_axes
        .to_shape((res.easy_axes.len() / 3, 3))
        .unwrap()
        .row(g)
        .to_owned();
    let m = res
        .m
        .to_shape((res.field_t.len(), res.easy_axes.len() / 3, 3))
        .unwrap()
        .to_owned();
    (0..res.field_t.len()).find(|&i| (0..3).map(|a| m[[i, g, a]] * k[a]).sum::<f64>() < 0.0)
}

#[test]
fn isolated_grain_switches_at_the_astroid_field() {
    for psi in [5.0, 20.0, 35.0, 45.0, 60.0] {
        let config = single_grain(psi, false);
        let res = simulate(&config, 0).unwrap();
        let hsw = config.anisotropy_field_t() * switching_field(f64::to_radians(psi));
        let i = switch_step(&res, 0).expect("the grain must reverse");
        // The field points along −z, at ψ from the reversed easy direction −k.
        assert!(
            res.field_t[i] <= -hsw && res.field_t[i - 1] > -hsw,
            "ψ={psi}: switched at {} T, astroid {hsw} T",
            res.field_t[i]
        );
        assert_eq!(res.stats[i].switches, 1);
    }
}

#[test]
fn own_field_at_the_corners_lowers_the_switching_field() {
    // The weakest-link effect: with its own edge-enhanced field a lone cube reverses earlier.
    for psi in [0.0, 20.0] {
        let with = simulate(&single_grain(psi, true), 0).unwrap();
        let without = simulate(&single_grain(psi, false), 0).unwrap();
        let (a, b) = (
            switch_step(&with, 0).unwrap(),
            switch_step(&without, 0).unwrap(),
        );
        assert!(a < b, "ψ={psi}: with self field step {a}, without {b}");
    }
}

#[test]
fn two_grain_particle_fields_match_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (spacing, self_field) in [(1.0, true), (1.25, true), (1.0, false)] {
        let config = EswConfig {
            grains: [2, 1, 1],
            easy_axes: EasyAxes::Fixed(vec![[0.0, 0.0, 1.0], [0.3, 0.1, 0.9]]),
            grain_spacing: spacing,
            include_self_field: self_field,
            ..EswConfig::default()
        };
        let mut model = Model::new(&config, 0).unwrap();
        let ms: Vec<[f64; 3]> = (0..2)
            .map(|_| {
                let v = [
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-1.0..1.0),
                ];
                scale(v, 1.0 / norm(v))
            })
            .collect();
        model.m = ms.iter().flatten().copied().collect();
        let h_ext = [0.01, -0.2, 0.3];
        let kappa = config.mu0_ms_t / config.anisotropy_field_t();
        let sites = config.sites.offsets(config.particle_inset);
        for p in 0..2 * sites.len() {
            let own = p / sites.len();
            // Particle position and grain centres from the geometry, not from the lattice code.
            let r = [
                (own as f64 + 0.5) * spacing + sites[p % sites.len()][0],
                0.5 * spacing + sites[p % sites.len()][1],
                0.5 * spacing + sites[p % sites.len()][2],
            ];
            let mut want = h_ext;
            for (g, m) in ms.iter().enumerate() {
                if g == own && !self_field {
                    continue;
                }
                let c = [(g as f64 + 0.5) * spacing, 0.5 * spacing, 0.5 * spacing];
                let h = box_field_face_sum([1.0; 3], *m, [r[0] - c[0], r[1] - c[1], r[2] - c[2]]);
                for a in 0..3 {
                    want[a] += kappa * h[a];
                }
            }
            let got = model.particle_field(p, h_ext);
            let err = norm([got[0] - want[0], got[1] - want[1], got[2] - want[2]]);
            assert!(
                err < 1e-12 * norm(want),
                "particle {p}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn warm_rotation_equals_closed_form_rotation() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for _ in 0..2000 {
        let mut v = || {
            let v = [
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
            ];
            scale(v, 1.0 / norm(v))
        };
        let (k, m_prev) = (v(), v());
        let h = scale(v(), 1.4 * rng.random::<f64>());
        let branch = if dot(m_prev, k) >= 0.0 { 1.0 } else { -1.0 };
        let (a, sa) = rotate(k, branch, h, m_prev);
        let (b, sb) = rotate_closed_form(k, branch, h, m_prev);
        assert!(norm([a[0] - b[0], a[1] - b[1], a[2] - b[2]]) < 1e-12);
        assert_eq!(sa, sb);
        assert!((norm(a) - 1.0).abs() < 1e-14);
    }
}

#[test]
fn saturation_remanence_and_full_reversal() {
    let config = EswConfig::default();
    let res = simulate(&config, 1).unwrap();
    let n = 64;
    let k = res.easy_axes.to_shape((n, 3)).unwrap().to_owned();
    let m = res
        .m
        .to_shape((config.field_steps, n, 3))
        .unwrap()
        .to_owned();
    let mean_kz = k.column(2).mean().unwrap();
    // +8 T pulls every moment towards +z, beyond its easy axis.
    assert!(res.mz_mean[0] > mean_kz);
    assert!((0..n).all(|g| m[[0, g, 2]] > 35f64.to_radians().cos()));
    // Near H = 0 (step 499, +0.008 T) nothing has reversed and m stays close to the easy axes
    // (the interaction field at the centres is a few % of H_K).
    let i0 = 499;
    assert!(res.field_t[i0].abs() < 0.01);
    assert!((0..n).all(|g| (0..3).map(|a| m[[i0, g, a]] * k[[g, a]]).sum::<f64>() > 0.99));
    assert!((res.mz_mean[i0] - mean_kz).abs() < 0.01);
    // −8 T exceeds H_K: everything has reversed.
    let last = config.field_steps - 1;
    assert!((0..n).all(|g| (0..3).map(|a| m[[last, g, a]] * k[[g, a]]).sum::<f64>() < 0.0));
    assert!(res.mz_mean[last] < -0.95);
    // M(H) never increases while the field decreases.
    assert!(
        res.mz_mean
            .windows(2)
            .into_iter()
            .all(|w| w[1] <= w[0] + 1e-12)
    );
    // Reversal happens in the paper's window (between about −2 and −8 T).
    let first = (0..n)
        .filter_map(|g| {
            (0..config.field_steps)
                .find(|&i| (0..3).map(|a| m[[i, g, a]] * k[[g, a]]).sum::<f64>() < 0.0)
        })
        .min()
        .unwrap();
    assert!(
        res.field_t[first] < -2.0,
        "first reversal at {} T",
        res.field_t[first]
    );
    assert!(
        res.stats
            .iter()
            .all(|s| !s.relax_capped && !s.switch_capped)
    );
    assert!(res.stats.iter().map(|s| s.switches).sum::<u32>() >= 64);
}

#[test]
fn weights_follow_eq_8() {
    let config = EswConfig {
        grains: [2, 2, 2],
        ..EswConfig::default()
    };
    let res = simulate(&config, 3).unwrap();
    assert_eq!(res.weights[0], 0.0);
    let mz = res
        .m
        .index_axis(Axis(4), 2)
        .to_shape((config.field_steps, 8))
        .unwrap()
        .to_owned();
    for i in 1..config.field_steps {
        let w: f64 = (0..8).map(|g| (mz[[i, g]] - mz[[i - 1, g]]).abs()).sum();
        assert_eq!(res.weights[i], w);
    }
    let total: f64 = res.weights.sum();
    let net: f64 = (0..8)
        .map(|g| mz[[0, g]] - mz[[config.field_steps - 1, g]])
        .sum();
    assert!(total >= net - 1e-12);
}

#[test]
fn deterministic_and_bound_shortcut_is_exact() {
    let config = EswConfig {
        field_steps: 400,
        ..EswConfig::default()
    };
    let a = simulate(&config, 11).unwrap();
    let b = simulate(&config, 11).unwrap();
    assert_eq!(a, b);
    let c = simulate(&config, 12).unwrap();
    assert_ne!(a.easy_axes, c.easy_axes);
    let exact = simulate(
        &EswConfig {
            exact_switch_checks: true,
            ..config.clone()
        },
        11,
    )
    .unwrap();
    assert_eq!(a.m, exact.m);
    let checks = |r: &EswResult| r.stats.iter().map(|s| s.particle_fields).sum::<u32>();
    assert!(checks(&a) < checks(&exact));
}

#[test]
fn progress_and_validation() {
    let config = EswConfig {
        grains: [1, 1, 2],
        field_steps: 10,
        ..EswConfig::default()
    };
    let mut calls = Vec::new();
    simulate_with_progress(&config, 0, &mut |done, total| calls.push((done, total))).unwrap();
    assert_eq!(calls, (1..=10).map(|i| (i, 10)).collect::<Vec<_>>());
    for bad in [
        EswConfig {
            particle_inset: 0.5,
            ..config.clone()
        },
        EswConfig {
            grain_spacing: 0.9,
            ..config.clone()
        },
        EswConfig {
            grains: [0, 1, 1],
            ..config.clone()
        },
        EswConfig {
            easy_axes: EasyAxes::Fixed(vec![[0.0, 0.0, 1.0]]),
            ..config.clone()
        },
        EswConfig {
            mu0_ms_t: f64::NAN,
            ..config.clone()
        },
        EswConfig {
            field_axis: [0.0; 3],
            ..config.clone()
        },
    ] {
        assert!(matches!(simulate(&bad, 0), Err(EswError::InvalidConfig(_))));
    }
}
