use super::*;
use std::f64::consts::{FRAC_PI_2, PI};

fn small(nx: usize, ny: usize) -> GrainSampling {
    GrainSampling {
        nx,
        ny,
        ..GrainSampling::default()
    }
}

#[test]
fn defaults_match_the_paper() {
    let s = GrainSampling::default();
    assert_eq!((s.nx, s.ny), (160, 160));
    assert_eq!(s.cell_size, 2e-9);
    assert!((s.nx as f64 * s.cell_size - 320e-9).abs() < 1e-21);
    assert_eq!((s.grains_min, s.grains_max), (16, 256));
    assert_eq!(s.theta_max, PI);
}

#[test]
fn same_seed_gives_identical_structure_and_different_seeds_differ() {
    let s = GrainSampling::default();
    let a = s.sample(42).unwrap();
    let b = s.sample(42).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.seed, 42);
    let c = s.sample(43).unwrap();
    assert_ne!(a.grain_map, c.grain_map);
}

#[test]
fn sampled_values_lie_in_their_ranges_and_every_grain_id_is_valid() {
    let s = GrainSampling::default();
    for seed in 0..20 {
        let g = s.sample(seed).unwrap();
        assert_eq!(g.grain_map.dim(), (160, 160));
        assert!((16..=256).contains(&g.n_grains));
        assert!((-PI..=PI).contains(&g.theta));
        assert_eq!(g.grain_angles.len(), g.n_grains);
        assert_eq!(g.seed_positions.len(), g.n_grains);
        for &phi in &g.grain_angles {
            assert!(
                phi.abs() <= g.theta.abs(),
                "angle {phi} outside ±{}",
                g.theta
            );
        }
        for p in &g.seed_positions {
            assert!((0.0..160.0).contains(&p[0]) && (0.0..160.0).contains(&p[1]));
        }
        assert!(g.grain_map.iter().all(|&id| usize::from(id) < g.n_grains));
        // Voronoi cells are convex and there are ≥ 62 cells per seed on average, so almost all
        // grains own at least one cell.
        let mut owned = vec![false; g.n_grains];
        g.grain_map
            .iter()
            .for_each(|&id| owned[usize::from(id)] = true);
        let n_owned = owned.iter().filter(|&&o| o).count();
        assert!(
            n_owned * 10 >= g.n_grains * 9,
            "{n_owned} of {}",
            g.n_grains
        );
        let ux = g.easy_axis_x();
        assert!(ux.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}

#[test]
fn grain_count_and_theta_follow_uniform_distributions() {
    // n_g and θ do not depend on the grid size: a small grid keeps this fast.
    let s = small(8, 8);
    let n = 4000;
    let (mut sum_ng, mut sum_theta, mut sum_abs_theta) = (0.0, 0.0, 0.0);
    let (mut min_ng, mut max_ng) = (usize::MAX, 0);
    let (mut sum_ratio, mut sum_ratio2, mut n_ratio) = (0.0, 0.0, 0usize);
    for seed in 0..n {
        let g = s.sample(seed).unwrap();
        sum_ng += g.n_grains as f64;
        min_ng = min_ng.min(g.n_grains);
        max_ng = max_ng.max(g.n_grains);
        sum_theta += g.theta;
        sum_abs_theta += g.theta.abs();
        for &phi in &g.grain_angles {
            let r = phi / g.theta.abs();
            sum_ratio += r;
            sum_ratio2 += r * r;
            n_ratio += 1;
        }
    }
    let nf = n as f64;
    // Uniform integer on [16, 256]: mean 136, sd sqrt((241² − 1)/12) = 69.57; 4 standard errors.
    let se_ng = 69.57 / nf.sqrt();
    assert!(
        (sum_ng / nf - 136.0).abs() < 4.0 * se_ng,
        "mean n_g {}",
        sum_ng / nf
    );
    assert_eq!((min_ng, max_ng), (16, 256));
    // θ uniform on [−π, π]: mean 0 (sd π/√3), mean |θ| = π/2 (sd π/(2√3)).
    let se_theta = PI / 3f64.sqrt() / nf.sqrt();
    assert!((sum_theta / nf).abs() < 4.0 * se_theta);
    assert!((sum_abs_theta / nf - FRAC_PI_2).abs() < 4.0 * se_theta / 2.0);
    // φ/|θ| uniform on [−1, 1]: mean 0, second moment 1/3 (sd of r² is 0.298).
    let m = n_ratio as f64;
    assert!((sum_ratio / m).abs() < 4.0 * (1.0 / 3f64).sqrt() / m.sqrt());
    assert!((sum_ratio2 / m - 1.0 / 3.0).abs() < 4.0 * 0.298 / m.sqrt());
}

#[test]
fn block_candidate_search_equals_brute_force_exactly() {
    let s = GrainSampling::default();
    for seed in 0..12 {
        let g = s.sample(seed).unwrap();
        let brute = nearest_seed_map_brute_force(160, 160, &g.seed_positions).unwrap();
        assert_eq!(g.grain_map, brute, "seed {seed}");
    }
    // Seeds clustered in one corner, on a regular lattice (many exact ties) and outside the grid.
    let mut odd: Vec<[f64; 2]> = (0..40)
        .map(|k| [f64::from(k % 7) * 0.37, f64::from(k / 7) * 0.53])
        .collect();
    odd.extend((0..25).map(|k| [f64::from(k % 5) * 8.0 + 4.0, f64::from(k / 5) * 8.0 + 4.0]));
    odd.extend([[-30.0, 12.0], [55.0, 55.0], [20.0, -3.5]]);
    assert_eq!(
        nearest_seed_map(40, 40, &odd).unwrap(),
        nearest_seed_map_brute_force(40, 40, &odd).unwrap()
    );
    // Extremes: one seed, the maximum count, and a non-square grid.
    let one = [[3.3, 7.7]];
    assert!(
        nearest_seed_map(20, 9, &one)
            .unwrap()
            .iter()
            .all(|&id| id == 0)
    );
    let wide = small(97, 31).sample(5).unwrap();
    assert_eq!(
        wide.grain_map,
        nearest_seed_map_brute_force(97, 31, &wide.seed_positions).unwrap()
    );
    let many = GrainSampling {
        grains_min: 4000,
        grains_max: 4000,
        ..small(64, 64)
    }
    .sample(9)
    .unwrap();
    assert_eq!(
        many.grain_map,
        nearest_seed_map_brute_force(64, 64, &many.seed_positions).unwrap()
    );
}

#[test]
fn ties_go_to_the_lowest_grain_index() {
    // Cell centres on the column x = 2.5 are equidistant from both seeds (exactly, in binary).
    let seeds = [[3.5, 1.5], [1.5, 1.5]];
    for map in [
        nearest_seed_map(5, 3, &seeds).unwrap(),
        nearest_seed_map_brute_force(5, 3, &seeds).unwrap(),
    ] {
        for row in 0..3 {
            assert_eq!(map.row(row).to_vec(), vec![1, 1, 0, 0, 0]);
        }
    }
    // Duplicate seeds: the lower index wins everywhere.
    let dup = [[1.0, 1.0], [1.0, 1.0]];
    assert!(
        nearest_seed_map(4, 4, &dup)
            .unwrap()
            .iter()
            .all(|&id| id == 0)
    );
}

#[test]
fn row_index_is_y() {
    // A seed at the bottom and one at the top: row 0 (y = 0.5) belongs to the bottom seed.
    let seeds = [[2.0, 0.5], [2.0, 9.5]];
    let map = nearest_seed_map(4, 10, &seeds).unwrap();
    assert!(map.row(0).iter().all(|&id| id == 0));
    assert!(map.row(9).iter().all(|&id| id == 1));
}

#[test]
fn invalid_parameters_are_rejected() {
    let bad = [
        GrainSampling {
            nx: 0,
            ..GrainSampling::default()
        },
        GrainSampling {
            grains_min: 0,
            ..GrainSampling::default()
        },
        GrainSampling {
            grains_min: 300,
            ..GrainSampling::default()
        },
        GrainSampling {
            grains_max: MAX_GRAINS + 1,
            ..GrainSampling::default()
        },
        GrainSampling {
            cell_size: -1.0,
            ..GrainSampling::default()
        },
        GrainSampling {
            theta_max: f64::NAN,
            ..GrainSampling::default()
        },
    ];
    for s in bad {
        assert!(
            matches!(s.sample(1), Err(GrainError::InvalidSampling(_))),
            "{s:?}"
        );
    }
    assert_eq!(nearest_seed_map(3, 3, &[]), Err(GrainError::NoSeeds));
    assert!(matches!(
        nearest_seed_map(3, 3, &[[f64::NAN, 0.0]]),
        Err(GrainError::NonFiniteSeed { index: 0, .. })
    ));
}

#[test]
fn theta_zero_gives_perfectly_aligned_grains() {
    let s = GrainSampling {
        theta_max: 0.0,
        ..small(16, 16)
    };
    let g = s.sample(3).unwrap();
    assert!(g.grain_angles.iter().all(|&phi| phi == 0.0));
    assert!(g.easy_axis_x().iter().all(|&v| v == 0.0));
}

#[test]
fn easy_axis_x_round_trips_through_angles() {
    let s = GrainSampling::default();
    for seed in 0..10 {
        let g = s.sample(seed).unwrap();
        let angles = g.cell_angles();
        // f64 path: asin(sin φ) recovers φ wherever |φ| ≤ π/2; the axis vector is compared
        // because asin is ill-conditioned near ±1 (error ~ sqrt(ε) ≈ 1.5e-8).
        let canonical = g.easy_axis_x_canonical().mapv(f64::from);
        let back = angles_from_easy_axis_x(angles.mapv(f64::sin).view()).unwrap();
        for (&phi, &a) in angles.iter().zip(back.iter()) {
            assert!(a.abs() <= FRAC_PI_2);
            assert!((a.sin() - phi.sin()).abs() < 1e-15);
            if phi.abs() <= FRAC_PI_2 {
                assert!((a.sin() - phi.sin()).abs() + (a.cos() - phi.cos()).abs() < 1e-7);
            } else {
                // The paper's image cannot tell φ from π − φ: the recovered axis is the mirror
                // image (u_x, −u_y) of the original.
                assert!((a.cos() + phi.cos()).abs() < 1e-7);
            }
        }
        // f32 (VAE image) path through the canonical image: the same axis for every grain.
        // ux carries f32 rounding (6e-8), so uy = sqrt(1 − ux²) can be off by sqrt(2·6e-8) ≈ 3.5e-4.
        let back32 = angles_from_easy_axis_x(canonical.view()).unwrap();
        for (&phi, &a) in angles.iter().zip(back32.iter()) {
            let sign = if phi.cos() >= 0.0 { 1.0 } else { -1.0 };
            let (ux, uy) = (sign * phi.sin(), sign * phi.cos());
            assert!((a.sin() - ux).abs() < 1e-7 && (a.cos() - uy).abs() < 5e-4);
        }
    }
}

#[test]
fn angles_from_image_clamps_and_rejects_nan() {
    let img = ndarray::arr2(&[[1.5, -1.2], [0.5, 0.0]]);
    let a = angles_from_easy_axis_x(img.view()).unwrap();
    assert_eq!(a[[0, 0]], FRAC_PI_2);
    assert_eq!(a[[0, 1]], -FRAC_PI_2);
    assert!((a[[1, 0]] - PI / 6.0).abs() < 1e-15);
    assert_eq!(a[[1, 1]], 0.0);
    let nan = ndarray::arr2(&[[0.0, 0.0], [0.0, f64::NAN]]);
    assert!(matches!(
        angles_from_easy_axis_x(nan.view()),
        Err(GrainError::NonFinitePixel { row: 1, col: 1, .. })
    ));
}

#[test]
fn sampling_parameters_deserialize_with_defaults() {
    let s: GrainSampling = serde_json::from_str(r#"{"grains_min": 20}"#).unwrap();
    assert_eq!(s.grains_min, 20);
    assert_eq!(s.nx, 160);
    assert!(serde_json::from_str::<GrainSampling>(r#"{"grain_min": 20}"#).is_err());
}
