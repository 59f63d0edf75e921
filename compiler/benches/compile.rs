//! Compile time: check + lower + JIT of the demo policy set and of a generated 10,000-line set
//! (`tailor_compiler::synth`). Goal for the 10,000-line set: under 200 ms.
//!
//! Run: `cargo bench -p tailor-compiler --bench compile`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use tailor_compiler::jit::JitProgram;
use tailor_compiler::{synth, Bundle, CompileOptions, SourceMap};

fn demo_sources() -> SourceMap {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/retail"));
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("policies/retail")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    paths.sort();
    let mut map = SourceMap::new();
    for p in &paths {
        map.add(p.display().to_string(), std::fs::read_to_string(p).expect("policy"));
    }
    map
}

fn bench(c: &mut Criterion) {
    let demo = demo_sources();
    let files = synth::policy_set(10_000);
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let mut big = SourceMap::new();
    for (n, t) in &files {
        big.add(n.clone(), t.clone());
    }
    let jit = CompileOptions { jit: true };
    let demo_bundle = Bundle::compile_with(demo.clone(), jit).expect("demo compiles");
    let big_bundle = Bundle::compile_with(big.clone(), jit).expect("synthetic set compiles");
    if let Ok(j) = big_bundle.jit() {
        eprintln!("{lines} lines: {} native functions", j.stats().functions);
    }

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("demo: check + lower + jit", |b| {
        b.iter(|| Bundle::compile_with(demo.clone(), jit).expect("compiles"))
    });
    group.bench_function("demo: jit only", |b| {
        b.iter(|| JitProgram::compile(std::sync::Arc::new(demo_bundle.program().clone())).expect("jit"))
    });
    group.bench_function(format!("synth {lines} lines: check + lower + jit"), |b| {
        b.iter(|| Bundle::compile_with(big.clone(), jit).expect("compiles"))
    });
    group.bench_function(format!("synth {lines} lines: jit only"), |b| {
        b.iter(|| JitProgram::compile(std::sync::Arc::new(big_bundle.program().clone())).expect("jit"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
