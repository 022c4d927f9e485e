//! Pollok field maps: maps per second at 224×224, one core and two threads.
//! Run: `cargo bench --bench prism_field`.

use std::time::Instant;

use mexp::physics::prism_design::{DesignSpace, field_map, field_maps, latin_hypercube};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let resolution = 224;
    let designs = latin_hypercube(64, &DesignSpace::default(), 2021);
    let runs = 7;

    let mut single = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let mut checksum = 0.0f32;
        for d in &designs {
            let map = field_map(d, resolution).expect("LHS designs avoid pixel-centred edges");
            checksum += map[[0, resolution / 2, resolution / 2]];
        }
        std::hint::black_box(checksum);
        single.push(t.elapsed().as_secs_f64());
    }
    let s = median(single);
    println!(
        "field_map {resolution}x{resolution}, 1 core: {:.3} ms/map, {:.0} maps/s (median of {runs} runs of {} maps)",
        1e3 * s / designs.len() as f64,
        designs.len() as f64 / s,
        designs.len()
    );

    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let maps = pool
                .install(|| field_maps(&designs, resolution))
                .expect("LHS designs avoid edges");
            std::hint::black_box(&maps);
            times.push(t.elapsed().as_secs_f64());
        }
        let s = median(times);
        println!(
            "field_maps (rayon over designs), {threads} thread(s): {:.0} maps/s ({:.3} ms/map)",
            designs.len() as f64 / s,
            1e3 * s / designs.len() as f64
        );
    }
}
