//! Rename: every definition, use and import of a name, in every file of the workspace.
//!
//! A rename is refused, with a message saying why, when the new name is not an identifier, is
//! a reserved word, would clash with a name already in the package (or schema, or enum), or
//! when the symbol is built in (the prelude and the standard functions cannot be edited).

use crate::query;
use crate::workspace::Snapshot;
use std::collections::HashMap;
use tailor_compiler::types::Target;
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::{Range, TextEdit, Uri, WorkspaceEdit};

/// Why a rename cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("there is nothing to rename here")]
    NothingHere,
    #[error("`{0}` is built in and cannot be renamed")]
    BuiltIn(String),
    #[error("`{0}` is not a valid name: use ASCII letters, digits and `_`, not starting with a digit")]
    InvalidName(String),
    #[error("`{0}` is a reserved word")]
    Reserved(String),
    #[error("`{0}` is already defined in {1}")]
    Clash(String, String),
}

/// The range of the name that would be renamed.
pub fn prepare(snap: &Snapshot, file: FileId, offset: usize) -> Result<Range, RenameError> {
    let occ = query::at(snap, file, offset).ok_or(RenameError::NothingHere)?;
    check_renamable(snap, &occ.target)?;
    Ok(crate::position::range(snap.source(file), occ.span))
}

/// The edits renaming the name at `offset` to `new_name`.
pub fn rename(snap: &Snapshot, file: FileId, offset: usize, new_name: &str) -> Result<WorkspaceEdit, RenameError> {
    let occ = query::at(snap, file, offset).ok_or(RenameError::NothingHere)?;
    check_renamable(snap, &occ.target)?;
    check_name(new_name)?;
    let old = query::name(snap, &occ.target).unwrap_or_default();
    if old != new_name {
        check_clash(snap, &occ.target, new_name)?;
    }
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for span in query::references(snap, &occ.target, true) {
        let Some(uri) = snap.uri(span.file) else { continue };
        changes.entry(uri.clone()).or_default().push(TextEdit {
            range: crate::position::range(snap.source(span.file), span),
            new_text: new_name.to_string(),
        });
    }
    Ok(WorkspaceEdit {
        changes: Some(changes),
        ..WorkspaceEdit::default()
    })
}

fn check_renamable(snap: &Snapshot, target: &Target) -> Result<(), RenameError> {
    let name = query::name(snap, target).unwrap_or_default();
    match query::definition(snap, target) {
        Some(def) if !snap.is_prelude(def.file) => Ok(()),
        _ => Err(RenameError::BuiltIn(name)),
    }
}

/// Whether `name` is an identifier the grammar accepts.
pub fn check_name(name: &str) -> Result<(), RenameError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(RenameError::InvalidName(name.to_string()));
    }
    if tailor_compiler::syntax::lexer::is_reserved(name) {
        return Err(RenameError::Reserved(name.to_string()));
    }
    Ok(())
}

fn check_clash(snap: &Snapshot, target: &Target, new_name: &str) -> Result<(), RenameError> {
    let program = &snap.analysis.program;
    let symbols = &snap.analysis.facts.symbols;
    let clash = |what: String| Err(RenameError::Clash(new_name.to_string(), what));
    match target {
        Target::Decl(r) => {
            let Some(info) = symbols.info(*r) else { return Ok(()) };
            if symbols
                .packages
                .get(&info.package)
                .is_some_and(|m| m.contains_key(new_name))
            {
                return clash(format!("package `{}`", info.package));
            }
            // Files that import the old name must not already see the new one.
            for (fi, scope) in symbols.scopes.iter().enumerate() {
                let imports_it = scope.imports.values().any(|b| b.target == *r);
                if imports_it && symbols.lookup(fi, new_name).is_some() {
                    return clash(format!("package `{}`, which imports `{}`", scope.package, info.name));
                }
            }
            Ok(())
        }
        Target::Field { schema, .. } => match program.schemas.get(*schema as usize) {
            Some(s) if s.fields.iter().any(|f| f.name == new_name) => clash(format!("schema `{}`", s.name)),
            _ => Ok(()),
        },
        Target::Variant { enum_id, .. } => match program.enums.get(*enum_id as usize) {
            Some(e) if e.variants.iter().any(|v| v == new_name) => clash(format!("enum `{}`", e.name)),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{snapshot_at, uri};

    const FILES: [(&str, &str); 2] = [
        ("a.policy", "package a\nsegment yo$0ung = true\nsegment old = false\n"),
        ("b.policy", "package b\nimport a.{young}\nsegment s = young\n"),
    ];

    #[test]
    fn renames_across_files() {
        let (snap, ids, cursor) = snapshot_at(&FILES);
        let edit = rename(&snap, ids[0], cursor, "youth").unwrap();
        let changes = edit.changes.unwrap();
        assert_eq!(changes[&uri("a.policy")].len(), 1);
        assert_eq!(changes[&uri("b.policy")].len(), 2);
        assert!(changes.values().flatten().all(|e| e.new_text == "youth"));
    }

    #[test]
    fn refuses_bad_names_and_clashes() {
        let (snap, ids, cursor) = snapshot_at(&FILES);
        assert!(matches!(
            rename(&snap, ids[0], cursor, "1x"),
            Err(RenameError::InvalidName(_))
        ));
        assert!(matches!(
            rename(&snap, ids[0], cursor, "segment"),
            Err(RenameError::Reserved(_))
        ));
        assert!(matches!(
            rename(&snap, ids[0], cursor, "old"),
            Err(RenameError::Clash(..))
        ));
    }

    #[test]
    fn refuses_builtins() {
        let (snap, ids, cursor) = snapshot_at(&[("a.policy", "package a\nsegment s = len$0(\"x\") > 1\n")]);
        assert!(matches!(prepare(&snap, ids[0], cursor), Err(RenameError::BuiltIn(_))));
    }
}
