//! JSON rendering: one flat object per diagnostic, for scripts and editors.
//!
//! Every location is given twice: as 1-based lines and columns (columns count Unicode scalar
//! values, the end is exclusive) for people and simple tools, and as the byte `span` the
//! compiler used, for tools that hold the text themselves. The shape is documented in
//! `docs/cli.md`; fields are only ever added to it.

use super::{ColumnUnit, Region};
use crate::diagnostics::{Diagnostic, Fix, Label};
use crate::source::{SourceMap, Span};
use serde_json::{json, Map, Value};

/// Renders diagnostics as a JSON array, one object per diagnostic:
///
/// ```text
/// { code, name, severity, message, file, line, column, end_line, end_column,
///   span: {start, end}, label, labels: [{message, file, line, column, end_line, end_column,
///   span}], notes: [..], help, fix: null | {title, safe, edits: [{file, start, end, line,
///   column, end_line, end_column, text}]} }
/// ```
///
/// `label` is the primary label's text (`null` when it has none); `labels` are the secondary
/// ones.
pub fn render_json(diags: &[Diagnostic], sources: &SourceMap) -> Value {
    Value::Array(diags.iter().map(|d| diagnostic(d, sources)).collect())
}

fn diagnostic(diag: &Diagnostic, sources: &SourceMap) -> Value {
    let mut object = Map::new();
    object.insert("code".into(), json!(diag.code.id()));
    object.insert("name".into(), json!(diag.code.name()));
    object.insert("severity".into(), json!(diag.severity));
    object.insert("message".into(), json!(diag.message));
    object.extend(location(sources, diag.primary.span));
    object.insert(
        "label".into(),
        non_empty(&diag.primary.message).map_or(Value::Null, |m| json!(m)),
    );
    object.insert(
        "labels".into(),
        diag.secondary.iter().map(|l| label(sources, l)).collect(),
    );
    object.insert("notes".into(), json!(diag.notes));
    object.insert("help".into(), json!(diag.help));
    object.insert("fix".into(), diag.fix.as_ref().map_or(Value::Null, |f| fix(sources, f)));
    Value::Object(object)
}

/// `file`, `line`, `column`, `end_line`, `end_column` and `span` of one span.
fn location(sources: &SourceMap, span: Span) -> Map<String, Value> {
    let r = Region::of(sources, span, ColumnUnit::Char);
    let mut object = Map::new();
    object.insert("file".into(), json!(r.file));
    object.insert("line".into(), json!(r.line));
    object.insert("column".into(), json!(r.column));
    object.insert("end_line".into(), json!(r.end_line));
    object.insert("end_column".into(), json!(r.end_column));
    object.insert("span".into(), json!({ "start": r.start, "end": r.end }));
    object
}

fn label(sources: &SourceMap, label: &Label) -> Value {
    let mut object = Map::new();
    object.insert("message".into(), json!(label.message));
    object.extend(location(sources, label.span));
    Value::Object(object)
}

fn fix(sources: &SourceMap, fix: &Fix) -> Value {
    let edits: Vec<Value> = fix
        .edits
        .iter()
        .map(|edit| {
            let r = Region::of(sources, edit.span, ColumnUnit::Char);
            json!({
                "file": r.file,
                "start": r.start,
                "end": r.end,
                "line": r.line,
                "column": r.column,
                "end_line": r.end_line,
                "end_column": r.end_column,
                "text": edit.text,
            })
        })
        .collect();
    json!({ "title": fix.title, "safe": fix.safe, "edits": edits })
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Code, Edit};

    #[test]
    fn full_shape() {
        let text = "package p\nsegment s = profile.lifetime_valeu > 1.0\n";
        let mut sources = SourceMap::new();
        let id = sources.add("p/a.policy", text);
        let start = text.find("lifetime_valeu").unwrap();
        let span = Span::new(id, start, start + 14);
        let diag = Diagnostic::new(Code::UnknownField, span, "unknown field `lifetime_valeu`")
            .with_label("no such field")
            .with_secondary(Span::new(id, 0, 9), "in this package")
            .with_note("a note")
            .with_help("did you mean `lifetime_value`?")
            .with_fix(
                "replace with `lifetime_value`",
                vec![Edit {
                    span,
                    text: "lifetime_value".into(),
                }],
                true,
            );
        let value = render_json(&[diag], &sources);
        insta::assert_snapshot!(serde_json::to_string_pretty(&value).unwrap());
    }

    #[test]
    fn columns_count_characters_in_non_ascii_text() {
        let text = "package p\nconst s: String = \"ÄÖÜ😀\" + nope\n";
        let mut sources = SourceMap::new();
        let id = sources.add("p.policy", text);
        let start = text.find("nope").unwrap();
        let diag = Diagnostic::new(Code::UnknownName, Span::new(id, start, start + 4), "unknown name");
        let value = render_json(&[diag], &sources);
        let d = &value[0];
        assert_eq!(d["line"], 2);
        assert_eq!(d["column"], 28);
        assert_eq!(d["end_column"], 32);
        assert_eq!(d["span"]["start"], start);
        assert_eq!(d["label"], Value::Null);
        assert_eq!(d["fix"], Value::Null);
        assert_eq!(d["help"], Value::Null);
        assert_eq!(d["severity"], "error");
        assert_eq!(d["name"], "unknown-name");
    }
}
