//! Code actions: the compiler's fixes (did-you-mean names, `?? default` for an optional, and
//! the others the checker attaches to its diagnostics) and adding a missing `because` reason to
//! an eligibility rule.
//!
//! Each fix's edits come from the compiler unchanged; this module only turns them into a
//! workspace edit and attaches the diagnostic it resolves, so the editor shows the action on
//! the squiggle. A fix the compiler marks safe is the preferred action.

use crate::workspace::Snapshot;
use std::collections::HashMap;
use tailor_compiler::syntax::ast;
use tailor_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{CodeAction, CodeActionKind, CodeActionOrCommand, TextEdit, Uri, WorkspaceEdit};

/// The actions for the byte range `[start, end]` of `file`.
pub fn code_actions(snap: &Snapshot, file: FileId, start: usize, end: usize) -> Vec<CodeActionOrCommand> {
    let mut out = Vec::new();
    let overlaps = |s: Span| s.file == file && (s.start as usize) <= end && start <= (s.end as usize);
    for d in &snap.analysis.diagnostics {
        let Some(fix) = &d.fix else { continue };
        if !overlaps(d.primary.span) || fix.edits.is_empty() {
            continue;
        }
        let Some(edit) = workspace_edit(snap, fix.edits.iter().map(|e| (e.span, e.text.clone()))) else {
            continue;
        };
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: fix.title.clone(),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![crate::diagnostics::to_lsp(snap, d)]),
            edit: Some(edit),
            command: None,
            is_preferred: Some(fix.safe || d.help.as_deref().is_some_and(|h| h.starts_with("did you mean"))),
            disabled: None,
            data: None,
        }));
    }
    out.extend(missing_reasons(snap, file, start, end));
    out
}

/// "add a `because` reason" for rules in the range that have none: the reason is what
/// explanations and the audit log show for a removed offer.
fn missing_reasons(snap: &Snapshot, file: FileId, start: usize, end: usize) -> Vec<CodeActionOrCommand> {
    let Some(ast) = snap.ast(file) else { return Vec::new() };
    let mut out = Vec::new();
    for decl in &ast.decls {
        let ast::DeclKind::Eligibility(e) = &decl.kind else {
            continue;
        };
        for rule in &e.rules {
            let touches = (rule.span.start as usize) <= end && start <= (rule.span.end as usize);
            if !touches || rule.reason.is_some() {
                continue;
            }
            let reason = rule
                .label
                .as_ref()
                .map_or("reason".to_string(), |l| l.name.replace('_', " "));
            let at = Span {
                start: rule.cond.span.end,
                ..rule.cond.span
            };
            let Some(edit) = workspace_edit(snap, [(at, format!(" because \"{reason}\""))]) else {
                continue;
            };
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: "add a `because` reason".into(),
                kind: Some(CodeActionKind::QUICKFIX),
                edit: Some(edit),
                ..CodeAction::default()
            }));
        }
    }
    out
}

fn workspace_edit(snap: &Snapshot, edits: impl IntoIterator<Item = (Span, String)>) -> Option<WorkspaceEdit> {
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (span, text) in edits {
        let uri = snap.uri(span.file)?;
        changes.entry(uri.clone()).or_default().push(TextEdit {
            range: crate::position::range(snap.source(span.file), span),
            new_text: text,
        });
    }
    Some(WorkspaceEdit {
        changes: Some(changes),
        ..WorkspaceEdit::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot_at;

    fn actions(files: &[(&str, &str)]) -> Vec<(String, String)> {
        let (snap, ids, cursor) = snapshot_at(files);
        code_actions(&snap, ids[0], cursor, cursor)
            .into_iter()
            .filter_map(|a| match a {
                CodeActionOrCommand::CodeAction(a) => {
                    let text = a
                        .edit?
                        .changes?
                        .into_values()
                        .flatten()
                        .map(|e| e.new_text)
                        .collect::<String>();
                    Some((a.title, text))
                }
                CodeActionOrCommand::Command(_) => None,
            })
            .collect()
    }

    const SCHEMA: &str = "package s\nschema Profile {\n  age: Int\n  email: String?\n}\nschema Offer { id: String }\n";

    #[test]
    fn did_you_mean_and_optional_default() {
        let got = actions(&[
            ("a.policy", "package s\nsegment a = profile.ag$0 >= 18\n"),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(got, [("replace with `age`".to_string(), "age".to_string())]);
        let got = actions(&[
            ("a.policy", "package s\nsegment a = profile.em$0ail == \"x\"\n"),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].1.starts_with(" ?? "), "{got:?}");
    }

    #[test]
    fn missing_because() {
        let got = actions(&[
            (
                "a.policy",
                "package s\neligibility e for o: Offer {\n  deny no_test: o.id == \"t\"$0\n}\n",
            ),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(
            got,
            [("add a `because` reason".to_string(), " because \"no test\"".to_string())]
        );
    }
}
