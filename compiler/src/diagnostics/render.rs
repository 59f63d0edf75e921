//! Rendering diagnostics for people and for tools.
//!
//! Diagnostics name code by byte [`Span`]s; this module is where those become something a reader
//! can find: lines and columns. Three renderers share the conversions below:
//!
//! - [`render_terminal`] draws source snippets with ariadne, rustc style
//!   (`error[E0102]: unknown field …`), with or without colour; [`summary_line`] closes a run.
//! - [`render_json`] gives one flat object per diagnostic for scripts and editors.
//! - [`render_sarif`] gives a SARIF 2.1.0 log for code-scanning services.
//!
//! Three column units appear, each where its consumer expects it: ariadne wants character
//! offsets from the start of the file, JSON reports columns in Unicode scalar values (what a
//! person counts), and SARIF reports UTF-16 code units (its default `columnKind`). Every
//! conversion clamps out-of-range offsets and offsets inside a multi-byte character instead of
//! panicking: a renderer must never be the thing that crashes on a compiler bug.

mod json;
mod sarif;
mod terminal;

pub use json::render_json;
pub use sarif::{render_sarif, INFORMATION_URI};
pub use terminal::{render_terminal, summary_line};

use super::Code;
use crate::source::{FileId, SourceFile, SourceMap, Span};

/// A code's explanation as Markdown: the `///` lines of its entry in the code table, with the
/// one space each doc line starts with removed (so code blocks are not indented) and without
/// trailing blank lines.
pub fn explanation_markdown(code: Code) -> String {
    let text = code.info().explanation;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.strip_prefix(' ').unwrap_or(line));
        out.push('\n');
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// The file a span points into, or `None` when its id is not in the map (a compiler bug, which
/// renderers tolerate rather than panic on).
fn file_of(sources: &SourceMap, file: FileId) -> Option<&SourceFile> {
    ((file.0 as usize) < sources.len()).then(|| sources.get(file))
}

/// The largest char boundary of `text` at or before `offset`, clamped to the text.
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Which unit columns count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnUnit {
    /// Unicode scalar values, what a person counts and what JSON output reports.
    Char,
    /// UTF-16 code units, SARIF's default `columnKind` (and the language server's).
    Utf16,
}

/// A span as 1-based lines and columns; the end is exclusive (the column just after the last
/// character), as both SARIF and editors expect.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Region {
    /// The file's display name, or `<unknown>` when the span's file is not in the map.
    file: String,
    /// Byte offsets, clamped to the file and to char boundaries.
    start: usize,
    end: usize,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

impl Region {
    fn of(sources: &SourceMap, span: Span, unit: ColumnUnit) -> Region {
        let Some(file) = file_of(sources, span.file) else {
            return Region {
                file: "<unknown>".to_string(),
                start: span.start as usize,
                end: span.end as usize,
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
            };
        };
        let start = floor_boundary(&file.text, span.start as usize);
        let end = floor_boundary(&file.text, span.end as usize).max(start);
        let position = |offset| match unit {
            ColumnUnit::Char => file.line_col(offset),
            ColumnUnit::Utf16 => file.line_col_utf16(offset),
        };
        let (line, column) = position(start);
        let (end_line, end_column) = position(end);
        Region {
            file: file.name.clone(),
            start,
            end,
            line: line + 1,
            column: column + 1,
            end_line: end_line + 1,
            end_column: end_column + 1,
        }
    }
}

/// A file name as a SARIF artifact URI: forward slashes, and percent-encoding for every byte
/// that may not appear in a URI path. Relative names stay relative (SARIF consumers resolve them
/// against the checkout); absolute ones become `file://` URIs.
fn path_to_uri(name: &str) -> String {
    let slashed = name.replace('\\', "/");
    let mut out = String::with_capacity(slashed.len());
    let has_drive = slashed.as_bytes().get(1) == Some(&b':') && slashed.as_bytes()[0].is_ascii_alphabetic();
    if slashed.starts_with('/') {
        out.push_str("file://");
    } else if has_drive {
        out.push_str("file:///");
    }
    for (i, byte) in slashed.bytes().enumerate() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&byte)
            // A drive letter's colon stays; elsewhere a colon could be read as a scheme.
            || (byte == b':' && has_drive && i == 1);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_lose_the_doc_comment_indent() {
        for &code in Code::ALL {
            let markdown = explanation_markdown(code);
            assert!(!markdown.is_empty());
            assert!(!markdown.starts_with(' '), "{code}: {markdown}");
            assert!(!markdown.ends_with('\n'), "{code}");
        }
    }

    #[test]
    fn regions_count_chars_or_utf16_units() {
        let mut sources = SourceMap::new();
        let text = "package p\nsegment s = \"é😀\" == profile.x\n";
        let id = sources.add("p/a.policy", text);
        let start = text.find("profile").unwrap();
        let span = Span::new(id, start, start + "profile.x".len());

        let chars = Region::of(&sources, span, ColumnUnit::Char);
        assert_eq!((chars.line, chars.column), (2, 21));
        assert_eq!((chars.end_line, chars.end_column), (2, 30));

        // The emoji is two UTF-16 code units, so everything after it moves one column right.
        let utf16 = Region::of(&sources, span, ColumnUnit::Utf16);
        assert_eq!((utf16.line, utf16.column), (2, 22));
        assert_eq!((utf16.end_line, utf16.end_column), (2, 31));
    }

    #[test]
    fn regions_tolerate_bad_offsets_and_files() {
        let mut sources = SourceMap::new();
        let id = sources.add("a.policy", "é");
        // Offset 1 is inside the two-byte `é`; 99 is past the end.
        let region = Region::of(&sources, Span::new(id, 1, 99), ColumnUnit::Char);
        assert_eq!((region.start, region.end), (0, 2));
        assert_eq!((region.column, region.end_column), (1, 2));

        let missing = Region::of(&sources, Span::new(FileId(7), 0, 1), ColumnUnit::Char);
        assert_eq!(missing.file, "<unknown>");
    }

    #[test]
    fn uris_use_forward_slashes_and_percent_encoding() {
        assert_eq!(
            path_to_uri("policies/retail/home.policy"),
            "policies/retail/home.policy"
        );
        assert_eq!(path_to_uri(r"policies\home.policy"), "policies/home.policy");
        assert_eq!(path_to_uri("my policies/café.policy"), "my%20policies/caf%C3%A9.policy");
        assert_eq!(path_to_uri("/srv/p/a.policy"), "file:///srv/p/a.policy");
        assert_eq!(path_to_uri(r"C:\p\a.policy"), "file:///C:/p/a.policy");
        assert_eq!(path_to_uri("odd:name.policy"), "odd%3Aname.policy");
    }
}
