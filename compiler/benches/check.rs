//! How long the front end takes (parse, resolve, type-check and lower) on a generated
//! 10,000-line policy set. Goal: under 100 ms. Run with `cargo bench -p tailor-compiler --bench check`.

use criterion::{criterion_group, criterion_main, Criterion};
use tailor_compiler::{analyze, synth, SourceMap};

fn bench_check(c: &mut Criterion) {
    let files = synth::policy_set(10_000);
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let mut map = SourceMap::new();
    for (n, t) in &files {
        map.add(n.clone(), t.clone());
    }
    let a = analyze(map.clone());
    assert!(
        !a.has_errors(),
        "the synthetic set must check cleanly: {:?}",
        a.diagnostics.first()
    );
    let mut group = c.benchmark_group("check");
    group.sample_size(20);
    group.bench_function(format!("analyze {lines} lines in {} files", files.len()), |b| {
        b.iter(|| analyze(map.clone()))
    });
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
