//! Terminal rendering with ariadne, rustc style.
//!
//! ariadne draws the source snippets; two things around it are ours. The header
//! (`error[E0102]: unknown field …`) is written here, because ariadne's own header has a fixed
//! `[E0102] Error:` shape and always colours custom report kinds. And ariadne spells its footer
//! prefixes `Help:` and `Note:`; they are lowercased to match the header and the usual compiler
//! look (`help: did you mean …`). ariadne counts offsets in characters, so byte spans are
//! converted here, once per label.

use super::{file_of, floor_boundary};
use crate::diagnostics::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceMap, Span};
use ariadne::{Color, Config, Fmt, Report, ReportKind, Source};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

/// Renders diagnostics as text for a terminal: a header with severity, code and message, the
/// source around the primary label and every secondary label, then help and notes. Entries are
/// separated by a blank line. With `color` false the text contains no escape sequences.
pub fn render_terminal(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    for (i, diag) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render_one(diag, sources, color));
    }
    out
}

/// One line summing up a run, e.g. `checked 3 files: 2 errors, 1 warning` or
/// `checked 1 file: no problems found`.
pub fn summary_line(diags: &[Diagnostic], file_count: usize) -> String {
    let count = |severity| diags.iter().filter(|d| d.severity == severity).count();
    let parts: Vec<String> = [
        (count(Severity::Error), "error", "errors"),
        (count(Severity::Warning), "warning", "warnings"),
        (count(Severity::Hint), "hint", "hints"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(n, one, many))
    .collect();
    let files = plural(file_count, "file", "files");
    if parts.is_empty() {
        format!("checked {files}: no problems found")
    } else {
        format!("checked {files}: {}", parts.join(", "))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The word and colour a severity is shown with.
fn severity_style(severity: Severity) -> (&'static str, ReportKind<'static>, Color) {
    match severity {
        Severity::Error => ("error", ReportKind::Error, Color::Red),
        Severity::Warning => ("warning", ReportKind::Warning, Color::Yellow),
        Severity::Hint => ("hint", ReportKind::Advice, Color::Cyan),
    }
}

fn render_one(diag: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let (word, kind, severity_color) = severity_style(diag.severity);
    let mut out = String::new();
    let header = format!("{word}[{}]", diag.code.id());
    if color {
        let _ = writeln!(out, "{}: {}", header.fg(severity_color), diag.message);
    } else {
        let _ = writeln!(out, "{header}: {}", diag.message);
    }

    let Some(primary) = char_span(sources, diag.primary.span) else {
        // Without its file there is no snippet to draw; keep the help and notes.
        append_plain_footer(&mut out, diag);
        return out;
    };

    let config = Config::default()
        .with_color(color)
        .with_index_type(ariadne::IndexType::Char);
    let mut report = Report::build(kind, primary.clone()).with_config(config);
    report.add_label(ariadne_label(primary, &diag.primary, severity_color, 0));
    for (i, label) in diag.secondary.iter().enumerate() {
        if let Some(span) = char_span(sources, label.span) {
            let order = i32::try_from(i + 1).unwrap_or(i32::MAX);
            report.add_label(ariadne_label(span, label, Color::Blue, order));
        }
    }
    if let Some(help) = &diag.help {
        report.add_help(help);
    }
    for note in &diag.notes {
        report.add_note(note);
    }

    let mut buffer = Vec::new();
    let mut cache = SourceCache::new(sources);
    if report.finish().write(&mut cache, &mut buffer).is_err() {
        // Writing into a Vec cannot fail; if ariadne does, the header still says what is wrong.
        append_plain_footer(&mut out, diag);
        return out;
    }
    let body = String::from_utf8_lossy(&buffer);
    // ariadne's first line is its own (empty) header; ours is already written.
    let body = body.split_once('\n').map_or("", |(_, rest)| rest);
    for line in body.lines() {
        // ariadne pads some lines with spaces; trailing blanks only get in the way of snapshots.
        out.push_str(lowercase_footer_prefix(line).trim_end());
        out.push('\n');
    }
    out
}

/// A label for ariadne. The primary label is drawn on top of overlapping secondary ones.
fn ariadne_label(
    span: (FileId, Range<usize>),
    label: &Label,
    color: Color,
    order: i32,
) -> ariadne::Label<(FileId, Range<usize>)> {
    let mut out = ariadne::Label::new(span)
        .with_color(color)
        .with_order(order)
        .with_priority(if order == 0 { 10 } else { 0 });
    if !label.message.is_empty() {
        out = out.with_message(&label.message);
    }
    out
}

/// A byte span as a range of character offsets from the start of its file, as ariadne counts.
/// `None` when the span's file is not in the map.
fn char_span(sources: &SourceMap, span: Span) -> Option<(FileId, Range<usize>)> {
    let file = file_of(sources, span.file)?;
    let text = file.text.as_str();
    let start = floor_boundary(text, span.start as usize);
    let end = floor_boundary(text, span.end as usize).max(start);
    let char_start = text[..start].chars().count();
    let char_end = char_start + text[start..end].chars().count();
    Some((span.file, char_start..char_end))
}

/// Help and notes without a snippet, for a diagnostic whose file is unknown.
fn append_plain_footer(out: &mut String, diag: &Diagnostic) {
    if let Some(help) = &diag.help {
        let _ = writeln!(out, "  help: {help}");
    }
    for note in &diag.notes {
        let _ = writeln!(out, "  note: {note}");
    }
}

/// Lowercases ariadne's `Help`/`Note` prefix on a footer line, leaving every other line alone.
///
/// A footer line is the margin (spaces, one bar, one space — possibly wrapped in colour escapes)
/// immediately followed by the prefix. Source lines carry a line number and label lines carry
/// arrows, and continuation lines of a multi-line help have more than one space after the bar,
/// so user text is never touched.
fn lowercase_footer_prefix(line: &str) -> String {
    for word in ["Help", "Note"] {
        let Some(at) = line.find(word) else { continue };
        let margin = strip_ansi(&line[..at]);
        let is_margin = margin
            .strip_suffix(' ')
            .and_then(|m| m.strip_suffix(['│', '|']))
            .is_some_and(|m| m.chars().all(|c| c == ' '));
        let rest = strip_ansi(&line[at + word.len()..]);
        let is_prefix = rest.starts_with(':')
            || (rest.starts_with(' ')
                && rest[1..]
                    .split_once(':')
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())));
        if is_margin && is_prefix {
            return format!(
                "{}{}{}",
                &line[..at],
                word.to_ascii_lowercase(),
                &line[at + word.len()..]
            );
        }
    }
    line.to_string()
}

/// `text` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An ariadne cache over a [`SourceMap`]: line tables are built on first use, once per file.
struct SourceCache<'a> {
    sources: &'a SourceMap,
    built: HashMap<FileId, Source<&'a str>>,
}

impl<'a> SourceCache<'a> {
    fn new(sources: &'a SourceMap) -> SourceCache<'a> {
        SourceCache {
            sources,
            built: HashMap::new(),
        }
    }
}

impl<'a> ariadne::Cache<FileId> for SourceCache<'a> {
    type Storage = &'a str;

    fn fetch(&mut self, id: &FileId) -> Result<&Source<&'a str>, impl std::fmt::Debug> {
        let Some(file) = file_of(self.sources, *id) else {
            return Err(format!("no file with id {}", id.0));
        };
        Ok(self
            .built
            .entry(*id)
            .or_insert_with(|| Source::from(file.text.as_str())))
    }

    fn display<'b>(&self, id: &'b FileId) -> Option<impl std::fmt::Display + 'b> {
        file_of(self.sources, *id).map(|f| f.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Code, Edit};

    const HOME: &str = "package retail.home\n\
        \n\
        import retail.schema.{Profile, Offer}\n\
        \n\
        segment high_value = profile.lifetime_valeu >= 500.0\n";

    fn home() -> (SourceMap, FileId, Span) {
        let mut sources = SourceMap::new();
        let id = sources.add("policies/retail/home.policy", HOME);
        let start = HOME.find("lifetime_valeu").unwrap();
        (sources, id, Span::new(id, start, start + "lifetime_valeu".len()))
    }

    fn unknown_field(span: Span) -> Diagnostic {
        Diagnostic::new(Code::UnknownField, span, "unknown field `lifetime_valeu`")
            .with_label("`Profile` has no field `lifetime_valeu`")
            .with_help("did you mean `lifetime_value`?")
            .with_fix(
                "replace with `lifetime_value`",
                vec![Edit {
                    span,
                    text: "lifetime_value".into(),
                }],
                true,
            )
    }

    #[test]
    fn snapshot_without_color() {
        let (mut sources, id, span) = home();
        let schema = sources.add(
            "policies/retail/schema.policy",
            "package retail.schema\n\nschema Profile {\n  lifetime_value: Float\n}\n",
        );
        let schema_name = Span::new(schema, 30, 37);
        let unused = HOME.find("Offer").unwrap();
        let diags = vec![
            unknown_field(span).with_secondary(schema_name, "`Profile` is declared here"),
            Diagnostic::new(
                Code::UnusedImport,
                Span::new(id, unused, unused + 5),
                "unused import `Offer`",
            )
            .with_label("nothing in `retail.home` uses this")
            .with_note("imports are per file")
            .with_note("remove it, or use it"),
        ];
        let text = render_terminal(&diags, &sources, false);
        assert!(!text.contains('\u{1b}'), "no escapes without colour");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn snapshot_of_awkward_spans() {
        let text = "package p\r\n\r\nsegment s = any x in [1, 2]:\r\n  x > \"é\"\r\nsegment t = ";
        let mut sources = SourceMap::new();
        let id = sources.add("p.policy", text);
        let body = text.find("any").unwrap();
        let string = text.find('"').unwrap();
        let diags = vec![
            Diagnostic::new(
                Code::TypeMismatch,
                Span::new(id, string, string + 4),
                "expected `Int`, found `String`",
            )
            .with_label("this is a `String`")
            .with_secondary(
                Span::new(id, body, text.find("\"\r").unwrap() + 1),
                "in this quantifier",
            ),
            Diagnostic::new(
                Code::SyntaxError,
                Span::new(id, text.len(), text.len()),
                "expected an expression",
            )
            .with_label("the file ends here"),
        ];
        insta::assert_snapshot!(render_terminal(&diags, &sources, false));
    }

    #[test]
    fn header_help_and_note_are_lowercase() {
        let (sources, _, span) = home();
        let diag = unknown_field(span).with_note("fields come from the `Profile` schema");
        for color in [false, true] {
            let text = strip_ansi(&render_terminal(std::slice::from_ref(&diag), &sources, color));
            assert!(
                text.starts_with("error[E0102]: unknown field `lifetime_valeu`\n"),
                "{text}"
            );
            assert!(text.contains("help: did you mean `lifetime_value`?"), "{text}");
            assert!(text.contains("note: fields come from the `Profile` schema"), "{text}");
            assert!(text.contains("policies/retail/home.policy:5:30"), "{text}");
        }
    }

    #[test]
    fn color_adds_escapes() {
        let (sources, _, span) = home();
        let text = render_terminal(&[unknown_field(span)], &sources, true);
        assert!(text.contains("\u{1b}["));
    }

    #[test]
    fn non_ascii_source_is_underlined_in_the_right_place() {
        let text = "package p\nconst s: String = \"Grüße, 世界\" + nope\n";
        let mut sources = SourceMap::new();
        let id = sources.add("p.policy", text);
        let start = text.find("nope").unwrap();
        let diag = Diagnostic::new(
            Code::UnknownName,
            Span::new(id, start, start + 4),
            "unknown name `nope`",
        )
        .with_label("not defined");
        let out = render_terminal(&[diag], &sources, false);
        // Line 2, column 33 counts characters, not the bytes of `ü`, `ß` and the CJK characters.
        assert!(out.contains("p.policy:2:33"), "{out}");
        let is_source_line = |l: &&str| l.starts_with(" 2 │");
        let source_line = out.lines().find(is_source_line).unwrap();
        let underline = out.lines().skip_while(|l| !is_source_line(l)).nth(1).unwrap();
        // The CJK characters are two columns wide; ariadne pads for that, so compare display
        // positions: the underline starts below the `n` of `nope`.
        let width = |s: &str| -> usize {
            s.chars()
                .map(|c| if ('\u{4e00}'..='\u{9fff}').contains(&c) { 2 } else { 1 })
                .sum()
        };
        let at = source_line.find("nope").unwrap();
        let under = underline.find('─').unwrap();
        assert_eq!(width(&source_line[..at]), width(&underline[..under]), "{out}");
    }

    #[test]
    fn empty_spans_and_unknown_files_do_not_panic() {
        let (sources, id, _) = home();
        let end = Span::new(id, HOME.len(), HOME.len());
        let diags = vec![
            Diagnostic::new(Code::SyntaxError, end, "expected a declaration").with_label("here"),
            Diagnostic::new(Code::SyntaxError, Span::new(FileId(9), 0, 3), "lost").with_help("a help line"),
        ];
        let out = render_terminal(&diags, &sources, false);
        assert!(out.contains("error[E0001]: expected a declaration"), "{out}");
        assert!(out.contains("error[E0001]: lost\n  help: a help line\n"), "{out}");
    }

    #[test]
    fn footer_prefixes_only_change_in_the_margin() {
        assert_eq!(lowercase_footer_prefix("   │ Help: x"), "   │ help: x");
        assert_eq!(lowercase_footer_prefix("   │ Note 2: x"), "   │ note 2: x");
        assert_eq!(
            lowercase_footer_prefix("\u{1b}[38;5;246m   │\u{1b}[0m \u{1b}[38;5;115mHelp\u{1b}[0m: x"),
            "\u{1b}[38;5;246m   │\u{1b}[0m \u{1b}[38;5;115mhelp\u{1b}[0m: x"
        );
        for untouched in [
            " 5 │ Help: is a source line",
            "   │       Help: a continuation line",
            "   │   ╰── Help: a label",
            "   │ Helpful: text",
        ] {
            assert_eq!(lowercase_footer_prefix(untouched), untouched);
        }
    }

    #[test]
    fn summary_counts_each_severity() {
        let (_, _, span) = home();
        let warning = Diagnostic::new(Code::UnusedSegment, span, "w");
        let error = Diagnostic::new(Code::UnknownName, span, "e");
        assert_eq!(summary_line(&[], 1), "checked 1 file: no problems found");
        assert_eq!(
            summary_line(&[error.clone(), warning.clone(), error], 3),
            "checked 3 files: 2 errors, 1 warning"
        );
        assert_eq!(summary_line(&[warning], 2), "checked 2 files: 1 warning");
    }
}
