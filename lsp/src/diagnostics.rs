//! The compiler's diagnostics as the protocol's, one list per file.
//!
//! The same diagnostics `tailor check` prints, with the same codes, spans and help: the primary
//! label becomes the range, the message keeps the label text, notes and help on following
//! lines (editors show them under the message), and secondary labels become related
//! information. Unused definitions are tagged so editors grey them out.

use crate::workspace::Snapshot;
use std::collections::HashMap;
use tailor_compiler::diagnostics::Diagnostic;
use tailor_compiler::{Code, FileId, Severity};
use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, NumberOrString,
};

/// The source name editors show next to each diagnostic.
pub const SOURCE: &str = "tailor";

/// Every user file's diagnostics (an empty list for a clean file, so stale ones are cleared).
pub fn by_file(snap: &Snapshot) -> HashMap<FileId, Vec<lsp::Diagnostic>> {
    let mut out: HashMap<FileId, Vec<lsp::Diagnostic>> = snap.user_files().map(|(id, _)| (id, Vec::new())).collect();
    for d in &snap.analysis.diagnostics {
        if let Some(list) = out.get_mut(&d.primary.span.file) {
            list.push(to_lsp(snap, d));
        }
    }
    out
}

/// One diagnostic in the protocol's shape.
pub fn to_lsp(snap: &Snapshot, d: &Diagnostic) -> lsp::Diagnostic {
    let file = snap.source(d.primary.span.file);
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() {
        message.push_str(&format!("\n{}", d.primary.message));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: snap.location(l.span)?,
                message: if l.message.is_empty() {
                    d.message.clone()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    let unused = matches!(
        d.code,
        Code::UnusedSegment | Code::UnusedImport | Code::UnusedDefinition
    );
    lsp::Diagnostic {
        range: crate::position::range(file, d.primary.span),
        severity: Some(severity(d.severity)),
        code: Some(NumberOrString::String(d.code.id().to_string())),
        code_description: None,
        source: Some(SOURCE.to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: unused.then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::snapshot;
    use tower_lsp_server::ls_types::{DiagnosticSeverity, NumberOrString, Position};

    #[test]
    fn unknown_field_has_code_range_help_and_related() {
        let (snap, ids) = snapshot(&[(
            "a.policy",
            "package a\nschema Profile { age: Int }\nsegment adult = profile.agee >= 18\n",
        )]);
        let all = super::by_file(&snap);
        let ds = &all[&ids[0]];
        let d = ds
            .iter()
            .find(|d| d.severity == Some(DiagnosticSeverity::ERROR))
            .unwrap();
        assert_eq!(d.code, Some(NumberOrString::String("E0102".into())));
        assert_eq!(d.range.start, Position::new(2, 24));
        assert!(d.message.contains("help: did you mean `age`?"), "{}", d.message);
    }

    #[test]
    fn duplicate_definition_points_at_the_first() {
        let (snap, ids) = snapshot(&[("a.policy", "package a\nsegment x = true\nsegment x = false\n")]);
        let all = super::by_file(&snap);
        let d = all[&ids[0]].iter().find(|d| d.related_information.is_some()).unwrap();
        let related = d.related_information.as_ref().unwrap();
        assert_eq!(related[0].location.range.start, Position::new(1, 8));
    }
}
