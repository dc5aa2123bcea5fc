//! Knowledge-tracing benchmarks: the online update per event (target < 2 µs) and the EM fit.
//! `cargo bench --bench kt`

use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use huddle::kt::{self, FitOptions, Observation, Rules, SkillModel, SkillState};
use huddle::sim::{Config, Simulation};

fn online(c: &mut Criterion) {
    let model = SkillModel::default();
    let rules = Rules::default();
    let base = Utc
        .timestamp_opt(1_790_000_000, 0)
        .single()
        .unwrap_or_default();
    let observations: Vec<Observation> = (0..64)
        .map(|i| Observation {
            correct: i % 3 != 0,
            at: base + chrono::Duration::hours(i * 7),
            session: kt::session_key(&format!("s{}", i / 5)),
            excluded: i % 17 == 0,
        })
        .collect();
    let warm = SkillState::replay(&model, &observations[..20]);
    // What the ingest path does per event: decode the stored state, apply, compute what is
    // shown, encode the state again.
    let json = serde_json::to_string(&warm).unwrap_or_default();
    c.bench_function("kt/apply one observation", |b| {
        let mut i = 0;
        b.iter_batched_ref(
            || warm.clone(),
            |s| {
                i = (i + 1) % observations.len();
                s.apply(&model, black_box(&observations[i]));
                black_box(s.estimate(&rules))
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("kt/decode + apply + estimate + encode", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % observations.len();
            let mut s: SkillState =
                serde_json::from_str(black_box(&json)).unwrap_or_else(|_| SkillState::new(&model));
            s.apply(&model, &observations[i]);
            let e = s.estimate(&rules);
            black_box((serde_json::to_string(&s).unwrap_or_default(), e))
        })
    });
}

fn fit(c: &mut Criterion) {
    let out = Simulation::new(Config {
        students: 1000,
        days: 20,
        skills: 4,
        seed: 3,
        ..Config::default()
    })
    .run();
    let mut b = kt::load::DatasetBuilder::default();
    for (student, skill, correct, order) in out.kt_rows() {
        b.push(student, skill, correct, order as f64);
    }
    let data = b.finish();
    let mut group = c.benchmark_group("kt/fit");
    group.sample_size(10);
    let rows = data.rows();
    group.bench_function(format!("{rows} rows, 5 restarts, no bootstrap"), |bench| {
        let opts = FitOptions {
            bootstrap: 0,
            ..FitOptions::default()
        };
        bench.iter(|| kt::fit_dataset(black_box(&data), None, &opts))
    });
    group.bench_function(format!("{rows} rows, 5 restarts, 8 bootstrap"), |bench| {
        bench.iter(|| kt::fit_dataset(black_box(&data), None, &FitOptions::default()))
    });
    group.finish();
}

criterion_group!(benches, online, fit);
criterion_main!(benches);
