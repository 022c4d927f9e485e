//! Black-box search in a latent space: a genetic algorithm (the paper's suggestion) and
//! finite-difference gradient ascent. Both are seeded (ChaCha) and evaluate candidates in
//! batches through a caller-supplied fitness (higher is better), so the surrogate runs one
//! batched forward pass per generation or step.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One evaluated candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Latent code.
    pub z: Vec<f32>,
    /// Its fitness.
    pub fitness: f64,
}

/// Per generation (or gradient step): best and mean fitness of the population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Best fitness so far in this generation's population.
    pub best: f64,
    /// Mean fitness of the population.
    pub mean: f64,
}

/// Settings of the genetic algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaOptions {
    /// Individuals per generation.
    pub population: usize,
    /// Generations after the initial one.
    pub generations: usize,
    /// Standard deviation of the Gaussian mutation (latent units).
    pub mutation: f64,
    /// Individuals copied unchanged into the next generation.
    pub elite: usize,
    /// Tournament size of parent selection.
    pub tournament: usize,
}

/// A batch fitness: one value per latent code (rows of length `dim`, concatenated).
pub trait BatchFitness {
    /// Fitness of every code in `codes` (row-major, `codes.len() / dim` rows).
    fn evaluate(&mut self, codes: &[f32]) -> Result<Vec<f64>, String>;
}

impl<F: FnMut(&[f32]) -> Result<Vec<f64>, String>> BatchFitness for F {
    fn evaluate(&mut self, codes: &[f32]) -> Result<Vec<f64>, String> {
        self(codes)
    }
}

/// Evaluates `codes` and checks the result (one finite value per row).
fn evaluate(f: &mut impl BatchFitness, codes: &[f32], dim: usize) -> Result<Vec<f64>, String> {
    let v = f.evaluate(codes)?;
    if v.len() != codes.len() / dim {
        return Err(format!(
            "fitness returned {} values for {} codes",
            v.len(),
            codes.len() / dim
        ));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "the fitness of candidate {i} is not finite ({})",
            v[i]
        ));
    }
    Ok(v)
}

/// Genetic algorithm over codes of length `dim`, started from the standard normal prior:
/// elitism, tournament selection, uniform blend crossover, Gaussian mutation. Returns every
/// evaluated candidate (the archive, in evaluation order) and the per-generation progress.
pub fn genetic(
    dim: usize,
    opts: &GaOptions,
    seed: u64,
    fitness: &mut impl BatchFitness,
) -> Result<(Vec<Candidate>, Vec<Progress>), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = opts.population;
    let mut pop: Vec<f32> = (0..n * dim).map(|_| normal(&mut rng)).collect();
    let mut fit = evaluate(fitness, &pop, dim)?;
    let mut archive = Vec::with_capacity(n * (opts.generations + 1));
    let mut progress = Vec::with_capacity(opts.generations + 1);
    record(dim, &pop, &fit, &mut archive, &mut progress);
    for _ in 0..opts.generations {
        let order = ranking(&fit);
        let mut next = Vec::with_capacity(n * dim);
        for &i in order.iter().take(opts.elite.min(n)) {
            next.extend_from_slice(&pop[i * dim..(i + 1) * dim]);
        }
        while next.len() < n * dim {
            let a = tournament(&fit, opts.tournament, &mut rng);
            let b = tournament(&fit, opts.tournament, &mut rng);
            for k in 0..dim {
                let w: f32 = rng.random();
                let gene = w * pop[a * dim + k] + (1.0 - w) * pop[b * dim + k];
                let noise = normal(&mut rng);
                next.push(gene + opts.mutation as f32 * noise);
            }
        }
        pop = next;
        fit = evaluate(fitness, &pop, dim)?;
        record(dim, &pop, &fit, &mut archive, &mut progress);
    }
    Ok((archive, progress))
}

/// A standard normal draw (Box–Muller on two uniform draws).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Appends one generation (or step) to the archive and its best and mean fitness to `progress`.
fn record(
    dim: usize,
    codes: &[f32],
    fit: &[f64],
    archive: &mut Vec<Candidate>,
    progress: &mut Vec<Progress>,
) {
    for (z, f) in codes.chunks_exact(dim).zip(fit) {
        archive.push(Candidate {
            z: z.to_vec(),
            fitness: *f,
        });
    }
    progress.push(Progress {
        best: fit.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: fit.iter().sum::<f64>() / fit.len().max(1) as f64,
    });
}

/// Indices sorted by fitness, best first (ties by index: deterministic).
pub fn ranking(fit: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fit.len()).collect();
    order.sort_by(|&a, &b| fit[b].total_cmp(&fit[a]).then(a.cmp(&b)));
    order
}

/// The best of `size` individuals drawn with replacement.
fn tournament(fit: &[f64], size: usize, rng: &mut ChaCha8Rng) -> usize {
    let mut best = rng.random_range(0..fit.len());
    for _ in 1..size.max(1) {
        let c = rng.random_range(0..fit.len());
        if fit[c] > fit[best] {
            best = c;
        }
    }
    best
}

/// Gradient ascent from each of `starts` (row-major codes of length `dim`): `steps` steps of
/// length `step` along the central-difference gradient (spacing `h`, all 2·dim probes of all
/// starts in one batch), keeping each start's best point. Returns the archive of every point
/// visited (not the probes) and the progress per step.
pub fn gradient_ascent(
    dim: usize,
    starts: &[f32],
    steps: usize,
    step: f64,
    h: f32,
    fitness: &mut impl BatchFitness,
) -> Result<(Vec<Candidate>, Vec<Progress>), String> {
    let k = starts.len() / dim;
    let mut z = starts.to_vec();
    let mut fit = evaluate(fitness, &z, dim)?;
    let mut archive = Vec::new();
    let mut progress = Vec::new();
    record(dim, &z, &fit, &mut archive, &mut progress);
    for _ in 0..steps {
        let mut probes = Vec::with_capacity(k * 2 * dim * dim);
        for c in z.chunks_exact(dim) {
            for j in 0..dim {
                for sign in [1.0f32, -1.0] {
                    let mut p = c.to_vec();
                    p[j] += sign * h;
                    probes.extend_from_slice(&p);
                }
            }
        }
        let pf = evaluate(fitness, &probes, dim)?;
        for (s, c) in z.chunks_exact_mut(dim).enumerate() {
            let g: Vec<f64> = (0..dim)
                .map(|j| {
                    let base = s * 2 * dim + 2 * j;
                    (pf[base] - pf[base + 1]) / (2.0 * f64::from(h))
                })
                .collect();
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                for (zj, gj) in c.iter_mut().zip(&g) {
                    *zj += (step * gj / norm) as f32;
                }
            }
        }
        fit = evaluate(fitness, &z, dim)?;
        record(dim, &z, &fit, &mut archive, &mut progress);
    }
    Ok((archive, progress))
}

/// The best `k` candidates of `archive` that lie at least `separation` apart (Euclidean), best
/// first: a converged population holds many near-copies of one design.
pub fn best_distinct(archive: &[Candidate], k: usize, separation: f64) -> Vec<Candidate> {
    let fit: Vec<f64> = archive.iter().map(|c| c.fitness).collect();
    let mut chosen: Vec<Candidate> = Vec::with_capacity(k);
    for i in ranking(&fit) {
        if chosen.len() == k {
            break;
        }
        let c = &archive[i];
        let far = chosen.iter().all(|d| distance(&d.z, &c.z) >= separation);
        if far {
            chosen.push(c.clone());
        }
    }
    chosen
}

/// Euclidean distance between two codes.
pub fn distance<'a>(a: impl IntoIterator<Item = &'a f32>, b: &[f32]) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth test landscape with its maximum 0 at (1, −2, 0.5).
    fn bowl(codes: &[f32]) -> Result<Vec<f64>, String> {
        let peak = [1.0f64, -2.0, 0.5];
        Ok(codes
            .chunks_exact(3)
            .map(|z| {
                -z.iter()
                    .zip(peak)
                    .map(|(a, p)| (f64::from(*a) - p).powi(2))
                    .sum::<f64>()
            })
            .collect())
    }

    fn opts() -> GaOptions {
        GaOptions {
            population: 32,
            generations: 30,
            mutation: 0.1,
            elite: 2,
            tournament: 3,
        }
    }

    #[test]
    fn genetic_search_is_deterministic_and_finds_the_peak() {
        let (a, pa) = genetic(3, &opts(), 7, &mut bowl).expect("runs");
        let (b, pb) = genetic(3, &opts(), 7, &mut bowl).expect("runs");
        assert_eq!(a, b);
        assert_eq!(pa, pb);
        let (c, _) = genetic(3, &opts(), 8, &mut bowl).expect("runs");
        assert_ne!(a, c, "another seed gives another search");
        let best = best_distinct(&a, 1, 0.0);
        assert!(best[0].fitness > -0.05, "best {:?}", best[0]);
        // Elitism: the best never gets worse.
        assert!(pa.windows(2).all(|w| w[1].best >= w[0].best));
        assert_eq!(pa.len(), 31);
        assert_eq!(a.len(), 32 * 31);
    }

    #[test]
    fn gradient_ascent_climbs_from_every_start() {
        let starts = [0.0f32, 0.0, 0.0, 3.0, 3.0, 3.0];
        let (arch, prog) = gradient_ascent(3, &starts, 60, 0.1, 1e-2, &mut bowl).expect("runs");
        assert!(
            prog.last().expect("steps").best > -0.02,
            "{:?}",
            prog.last()
        );
        assert!(prog.last().expect("steps").mean > prog[0].mean);
        assert_eq!(arch.len(), 2 * 61);
    }

    #[test]
    fn distinct_designs_keep_their_distance_and_a_nan_fitness_is_an_error() {
        let arch: Vec<Candidate> = (0..10)
            .map(|i| Candidate {
                z: vec![i as f32 * 0.1],
                fitness: -(i as f64),
            })
            .collect();
        let picked = best_distinct(&arch, 3, 0.25);
        let zs: Vec<f32> = picked.iter().map(|c| c.z[0]).collect();
        assert_eq!(zs, vec![0.0, 0.3, 0.6]);
        let mut nan =
            |codes: &[f32]| -> Result<Vec<f64>, String> { Ok(vec![f64::NAN; codes.len()]) };
        let e = genetic(1, &opts(), 1, &mut nan).expect_err("NaN is refused");
        assert!(e.contains("not finite"), "{e}");
    }
}
