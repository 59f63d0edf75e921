//! The corpus of broken (and nearly broken) policies under `tests/diagnostics/`.
//!
//! Each `.policy` file is one case. A line ending in `//~ E0102 W0001` expects diagnostics with
//! those codes whose primary span starts on that line; every diagnostic must be expected and
//! every expectation met. `ok_*.policy` files must produce no diagnostics at all. A case may hold
//! several files, separated by `//-- file: name.policy` lines. The rendered diagnostics of every
//! case are snapshot-tested (`tests/snapshots/`), source and errors together; review changes with
//! `cargo insta review`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tailor_compiler::diagnostics::render::render_terminal;
use tailor_compiler::{analyze, SourceMap};

struct Case {
    path: PathBuf,
    parts: Vec<(String, String)>,
}

fn load_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            Case {
                parts: split_parts(&text),
                path,
            }
        })
        .collect()
}

/// Splits a case into its files at `//-- file: name` lines.
fn split_parts(text: &str) -> Vec<(String, String)> {
    let mut parts = vec![("main.policy".to_string(), String::new())];
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.trim().strip_prefix("//-- file:") {
            parts.push((name.trim().to_string(), String::new()));
        } else if let Some(last) = parts.last_mut() {
            last.1.push_str(line);
        }
    }
    if parts.len() > 1 && parts[0].1.trim().is_empty() {
        parts.remove(0);
    }
    parts
}

/// (file name, 1-based line) → sorted codes.
type Expectations = BTreeMap<(String, usize), Vec<String>>;

fn expected(case: &Case) -> Expectations {
    let mut out = Expectations::new();
    for (name, text) in &case.parts {
        for (i, line) in text.lines().enumerate() {
            if let Some(pos) = line.find("//~") {
                let codes: Vec<String> = line[pos + 3..].split_whitespace().map(str::to_string).collect();
                out.entry((name.clone(), i + 1)).or_default().extend(codes);
            }
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

fn run(case: &Case) -> (Expectations, String) {
    let mut map = SourceMap::new();
    for (name, text) in &case.parts {
        map.add(name.clone(), text.clone());
    }
    let analysis = analyze(map);
    let mut got = Expectations::new();
    for d in &analysis.diagnostics {
        let file = analysis.sources.get(d.primary.span.file);
        let (line, _) = file.line_col(d.primary.span.start as usize);
        got.entry((file.name.clone(), line + 1))
            .or_default()
            .push(d.code.id().to_string());
    }
    for v in got.values_mut() {
        v.sort();
    }
    let rendered = render_terminal(&analysis.diagnostics, &analysis.sources, false);
    (got, rendered)
}

#[test]
fn corpus_cases_report_exactly_their_annotations() {
    let cases = load_cases();
    assert!(
        cases.len() >= 60,
        "the corpus should have at least 60 cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let want = expected(case);
        let (got, rendered) = run(case);
        let is_ok_case = case
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ok_"));
        if is_ok_case && !want.is_empty() {
            failures.push(format!("{}: ok_ cases carry no annotations", case.path.display()));
        }
        if !is_ok_case && want.is_empty() {
            failures.push(format!(
                "{}: a broken case must annotate what it expects",
                case.path.display()
            ));
        }
        if want != got {
            failures.push(format!(
                "{}:\n  expected {:?}\n  got      {:?}\n{}",
                case.path.display(),
                want,
                got,
                rendered
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_error_code_in_the_table_has_a_case() {
    let cases = load_cases();
    let names: Vec<String> = cases
        .iter()
        .filter_map(|c| c.path.file_name().map(|n| n.to_string_lossy().to_string()))
        .collect();
    // Codes the language can no longer produce, or that need input the corpus format cannot
    // express, are listed here with the reason.
    let exempt: &[(&str, &str)] = &[];
    let mut missing = Vec::new();
    for code in tailor_compiler::Code::ALL {
        let id = code.id();
        if exempt.iter().any(|(e, _)| *e == id) {
            continue;
        }
        if !names.iter().any(|n| n.starts_with(id)) {
            missing.push(id);
        }
    }
    assert!(missing.is_empty(), "codes without a corpus case: {missing:?}");
}

#[test]
fn rendered_diagnostics_match_snapshots() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots/diagnostics");
    settings.bind(|| {
        for case in load_cases() {
            let (_, rendered) = run(&case);
            let name = case
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let mut shown = String::new();
            for (file, text) in &case.parts {
                shown.push_str(&format!("--- {file}\n{text}"));
                if !text.ends_with('\n') {
                    shown.push('\n');
                }
            }
            shown.push_str("--- diagnostics\n");
            shown.push_str(&rendered);
            insta::assert_snapshot!(name, shown);
        }
    });
}
