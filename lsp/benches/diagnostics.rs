//! How long from an edit to the diagnostics of a 5,000-line file. Goal: under 50 ms.
//!
//! Run with `cargo bench -p tailor-lsp --bench diagnostics`. One iteration does what the server
//! does after a keystroke, minus the debounce and the pipe: apply an incremental change to the
//! workspace, analyze the new revision with the compiler (only the edited file is parsed again;
//! the whole bundle is resolved and checked), and convert every diagnostic to the
//! protocol's form. The file is generated (a schema, then blocks of segments, functions,
//! eligibility blocks, rankings and tables) and checks without errors.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tailor_compiler::ParseCache;
use tailor_lsp::diagnostics;
use tailor_lsp::workspace::{Snapshot, Workspace};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

/// A policy file of at least `lines` lines.
fn big_file(lines: usize) -> String {
    let mut out = String::from(
        "package bench\n\nschema Profile {\n  age: Int\n  country: String\n  email: String?\n}\n\n\
         schema Offer {\n  id: String\n  priority: Int\n  margin: Float\n  tags: Set<String>\n}\n",
    );
    let mut i = 0;
    while out.lines().count() < lines {
        out.push_str(&format!(
            "\n/// Customers of cohort {i}.\n\
             segment s{i} = profile.age >= {age} and profile.country != \"X{i}\" and exists profile.email\n\n\
             fn score{i}(o: Offer) -> Float = if o.priority > {i} then o.margin * 1.5 else o.margin\n\n\
             eligibility e{i} for offer: Offer {{\n\
             \x20 require live: offer.priority >= 0 because \"live\"\n\
             \x20 deny blocked: offer.tags contains \"b{i}\" and s{i} because \"blocked\"\n\
             }}\n\n\
             ranking r{i} for offer: Offer {{\n\
             \x20 score score{i}(offer) + t{i}()\n\
             \x20 boost cohort: 1.5 when s{i}\n\
             }}\n\n\
             table t{i} -> Float {{\n\
             \x20 hit first\n\
             \x20 given profile.age\n\
             \x20 row >= 65 => 1.0\n\
             \x20 row < 18 => 0.5\n\
             \x20 default 0.8\n\
             }}\n",
            age = i % 90
        ));
        i += 1;
    }
    out
}

fn bench_diagnostics(c: &mut Criterion) {
    let text = big_file(5_000);
    let lines = text.lines().count();
    let uri: Uri = "file:///bench/big.policy".parse().expect("a valid URI");
    let mut ws = Workspace::new();
    ws.open(uri.clone(), text);
    let first = Snapshot::analyze(&ws.inputs());
    assert!(
        !first.analysis.has_errors(),
        "the generated file must check cleanly: {:?}",
        first.analysis.diagnostics.iter().find(|d| d.is_error())
    );
    // Alternately type and delete a digit in the middle of the file.
    let line = (lines / 2) as u32;
    let mut toggle = false;
    let mut cache = ParseCache::default();
    let mut group = c.benchmark_group("diagnostics");
    group.sample_size(30);
    group.bench_function(format!("edit → diagnostics, one file of {lines} lines"), |b| {
        b.iter(|| {
            toggle = !toggle;
            let change = TextDocumentContentChangeEvent {
                range: Some(if toggle {
                    Range::new(Position::new(line, 0), Position::new(line, 0))
                } else {
                    Range::new(Position::new(line, 0), Position::new(line, 1))
                }),
                range_length: None,
                text: if toggle { "1".into() } else { String::new() },
            };
            ws.change(&uri, vec![change]);
            let snap = Snapshot::analyze_cached(&ws.inputs(), &mut cache);
            black_box(diagnostics::by_file(&snap))
        })
    });
    group.finish();
}

/// The same edit cycle in a generated 10,000-line workspace of many files: the whole
/// workspace is checked again, so this shows what one keystroke costs in a large bundle.
fn bench_workspace(c: &mut Criterion) {
    let files = tailor_compiler::synth::policy_set(10_000);
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let mut ws = Workspace::new();
    let mut first_uri = None;
    for (name, text) in &files {
        let uri: Uri = format!("file:///bench/{name}").parse().expect("a valid URI");
        first_uri.get_or_insert(uri.clone());
        ws.open(uri, text.clone());
    }
    let uri = first_uri.expect("the generated set has files");
    let mut toggle = false;
    let mut cache = ParseCache::default();
    let mut group = c.benchmark_group("diagnostics");
    group.sample_size(20);
    group.bench_function(
        format!(
            "edit → diagnostics, workspace of {lines} lines in {} files",
            files.len()
        ),
        |b| {
            b.iter(|| {
                toggle = !toggle;
                let change = TextDocumentContentChangeEvent {
                    range: Some(Range::new(
                        Position::new(1, 0),
                        Position::new(1, if toggle { 0 } else { 1 }),
                    )),
                    range_length: None,
                    text: if toggle { "\n".into() } else { String::new() },
                };
                ws.change(&uri, vec![change]);
                let snap = Snapshot::analyze_cached(&ws.inputs(), &mut cache);
                black_box(diagnostics::by_file(&snap))
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench_diagnostics, bench_workspace);
criterion_main!(benches);
