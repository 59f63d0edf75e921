//! The formatter: one canonical layout for `.policy` files (`tailor fmt`).
//!
//! [`format_source`] parses a file, prints its AST in the layout described in
//! `docs/formatting.md` and keeps every comment. The pieces:
//!
//! - `comments`: comments and blank lines from the lexer, and a cursor that attaches each
//!   to the item it belongs to (or reports that it cannot);
//! - `printer`: AST → `document::Doc`, in source order;
//! - `document`: the line-fitting renderer (100 columns, 2-space indent).
//!
//! Guarantees, each checked by the tests: the output parses to the same AST as the input
//! (spans aside), every comment is kept, and formatting is idempotent. A file that does not
//! parse is never rewritten. As a last line of defence, output that would not parse back to
//! the same AST with the same comments is discarded and the input returned unchanged, so a
//! formatter bug can cost prettiness but never a policy's meaning.

mod comments;
mod document;
mod printer;

#[cfg(test)]
mod tests;

use crate::diagnostics::Diagnostic;
use crate::source::FileId;
use crate::syntax::ast;
use crate::syntax::parse_file;

/// Formats one file in the canonical layout. Returns the diagnostics instead when the file has
/// syntax errors (a file that does not parse is never rewritten).
pub fn format_source(text: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = parse_file(FileId::default(), text);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let formatted = print(&file, text);
    if same_program(text, &file, &formatted) {
        Ok(formatted)
    } else {
        tracing::warn!("the formatter changed the meaning of a file; leaving it as it is");
        Ok(text.to_string())
    }
}

/// Prints a parsed file. `text` is the source `file` was parsed from.
fn print(file: &ast::File, text: &str) -> String {
    print_counting_verbatim(file, text).0
}

/// Prints a parsed file, and says how many top-level items were left as written because a
/// comment in them had no place in the layout.
fn print_counting_verbatim(file: &ast::File, text: &str) -> (String, usize) {
    let (doc, verbatim) = printer::Printer::new(text).file(file);
    (document::render(&doc, document::WIDTH), verbatim)
}

/// Does `formatted` say what `original` (parsed as `file`) says, with the same comments?
fn same_program(original: &str, file: &ast::File, formatted: &str) -> bool {
    let (reparsed, diagnostics) = parse_file(FileId::default(), formatted);
    !diagnostics.iter().any(Diagnostic::is_error)
        && fingerprint(file) == fingerprint(&reparsed)
        && comment_texts(original) == comment_texts(formatted)
}

/// The AST as text, without spans, and with doc comments' trailing whitespace removed (the
/// formatter trims it): two files with equal fingerprints say the same thing.
fn fingerprint(file: &ast::File) -> String {
    let mut file = file.clone();
    let trim = |doc: &mut Option<String>| {
        if let Some(d) = doc {
            *d = d.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
        }
    };
    for decl in &mut file.decls {
        trim(&mut decl.doc);
        match &mut decl.kind {
            ast::DeclKind::Enum(e) => e.variants.iter_mut().for_each(|v| trim(&mut v.doc)),
            ast::DeclKind::Schema(s) => s.fields.iter_mut().for_each(|f| trim(&mut f.doc)),
            ast::DeclKind::Eligibility(e) => e.rules.iter_mut().for_each(|r| trim(&mut r.doc)),
            _ => {}
        }
    }
    let debug = format!("{file:?}");
    // `Span { file: FileId(0), start: 1, end: 2 }` → `Span`.
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span { file: FileId(") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        rest = &rest[i..];
        rest = rest.find(" }").map(|j| &rest[j + 2..]).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The texts of all comments in `text`, sorted, trailing whitespace removed.
fn comment_texts(text: &str) -> Vec<String> {
    let mut texts: Vec<String> = comments::Trivia::new(text)
        .comments()
        .iter()
        .map(|c| c.text.clone())
        .collect();
    texts.sort();
    texts
}
