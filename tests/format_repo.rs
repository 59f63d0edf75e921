//! `tailor fmt` over every policy in the repository: the canonical layout is a fixed point
//! (formatting twice changes nothing more) and no comment is ever lost.

use std::path::{Path, PathBuf};
use tailor_compiler::format::format_source;
use tailor_compiler::syntax::lexer::{tokenize, TokenKind};

fn policy_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            policy_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "policy") {
            out.push(p);
        }
    }
}

fn comments(text: &str) -> Vec<String> {
    let mut v: Vec<String> = tokenize(text)
        .into_iter()
        .filter(|t| matches!(t.kind, TokenKind::LineComment | TokenKind::DocComment))
        .map(|t| text[t.start..t.end].trim_end().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn formatting_is_idempotent_and_keeps_every_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["policies", "stdlib", "tests/diagnostics", "examples"] {
        policy_files(&root.join(d), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 100,
        "expected the demo policies and the corpus, found {} files",
        files.len()
    );
    let mut formatted_count = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        // Cases with syntax errors are refused by the formatter, which is the point.
        let Ok(once) = format_source(&text) else { continue };
        formatted_count += 1;
        let twice =
            format_source(&once).unwrap_or_else(|d| panic!("{}: formatted output does not parse: {d:?}", f.display()));
        assert_eq!(once, twice, "{}: formatting is not idempotent", f.display());
        assert_eq!(comments(&text), comments(&once), "{}: comments changed", f.display());
    }
    assert!(formatted_count > 100, "only {formatted_count} files could be formatted");
}
