//! Go to definition, find references and document highlights, across every file of the
//! workspace (a segment defined in one package and imported in another is one symbol).

use crate::query;
use crate::workspace::Snapshot;
use tailor_compiler::ir::Type;
use tailor_compiler::resolve::DeclRef;
use tailor_compiler::types::Target;
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::{DocumentHighlight, DocumentHighlightKind, Location};

/// Where the name at `offset` is defined. Built-ins and the prelude have no location.
pub fn definition(snap: &Snapshot, file: FileId, offset: usize) -> Option<Location> {
    match query::at(snap, file, offset) {
        Some(occ) => snap.location(query::definition(snap, &occ.target)?),
        None => snap.location(query::experiment_variant_at(snap, file, offset)?.definition),
    }
}

/// The declaration of the type of the name or expression at `offset`: the schema of a record
/// (`offer` → `schema Offer`), the enum of an enum value, looking through `?`, `Set` and `List`.
pub fn type_definition(snap: &Snapshot, file: FileId, offset: usize) -> Option<Location> {
    let program = &snap.analysis.program;
    let ty = match query::at(snap, file, offset).map(|o| o.target) {
        Some(Target::Field { schema, index }) => program
            .schemas
            .get(schema as usize)?
            .fields
            .get(index as usize)?
            .ty
            .clone(),
        Some(Target::Local(def)) => snap
            .analysis
            .facts
            .types
            .iter()
            .rev()
            .find(|(s, _)| *s == def)?
            .1
            .clone(),
        Some(Target::Special("profile")) => Type::Record(program.profile?),
        Some(Target::Special("context")) => Type::Record(program.builtins.context),
        Some(Target::Decl(r @ (DeclRef::Schema(_) | DeclRef::Enum(_)))) => {
            return snap.location(query::definition(snap, &Target::Decl(r))?);
        }
        _ => crate::hover::innermost_type(snap, file, offset)?.1,
    };
    let mut ty = &ty;
    loop {
        ty = match ty {
            Type::Optional(t) | Type::Set(t) | Type::List(t) => t,
            Type::Record(s) => return snap.location(program.schemas.get(*s as usize)?.span),
            Type::Enum(e) => return snap.location(program.enums.get(*e as usize)?.span),
            _ => return None,
        };
    }
}

/// Every use of the name at `offset`, with its definition when `with_definition`.
pub fn references(snap: &Snapshot, file: FileId, offset: usize, with_definition: bool) -> Vec<Location> {
    let Some(occ) = query::at(snap, file, offset) else {
        return Vec::new();
    };
    query::references(snap, &occ.target, with_definition)
        .into_iter()
        .filter_map(|s| snap.location(s))
        .collect()
}

/// The uses of the name at `offset` in the same file; its definition is a write.
pub fn highlights(snap: &Snapshot, file: FileId, offset: usize) -> Vec<DocumentHighlight> {
    let Some(occ) = query::at(snap, file, offset) else {
        return Vec::new();
    };
    let def = query::definition(snap, &occ.target);
    query::references(snap, &occ.target, true)
        .into_iter()
        .filter(|s| s.file == file)
        .map(|s| DocumentHighlight {
            range: crate::position::range(snap.source(file), s),
            kind: Some(if Some(s) == def {
                DocumentHighlightKind::WRITE
            } else {
                DocumentHighlightKind::READ
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{snapshot_at, uri};
    use tower_lsp_server::ls_types::Position;

    #[test]
    fn definition_in_another_file() {
        let (snap, ids, cursor) = snapshot_at(&[
            ("b.policy", "package b\nimport a.{young}\nsegment s = yo$0ung\n"),
            ("a.policy", "package a\nsegment young = true\n"),
        ]);
        let loc = definition(&snap, ids[0], cursor).unwrap();
        assert_eq!(loc.uri, uri("a.policy"));
        assert_eq!(loc.range.start, Position::new(1, 8));
    }

    #[test]
    fn type_definition_of_a_parameter_and_a_field() {
        let files = [(
            "a.policy",
            "package a\nenum T { X }\nschema P { t: T? }\nfn f(p: P) -> Bool = exists p$0.t\n",
        )];
        let (snap, ids, cursor) = snapshot_at(&files);
        assert_eq!(
            type_definition(&snap, ids[0], cursor).unwrap().range.start,
            Position::new(2, 7)
        );
        let (snap, ids, cursor) = snapshot_at(&[("a.policy", &files[0].1.replace("p$0.t", "p.t$0"))]);
        assert_eq!(
            type_definition(&snap, ids[0], cursor).unwrap().range.start,
            Position::new(1, 5)
        );
    }

    #[test]
    fn references_and_highlights() {
        let (snap, ids, cursor) = snapshot_at(&[(
            "a.policy",
            "package a\nsegment yo$0ung = true\nsegment s = young or young\n",
        )]);
        assert_eq!(references(&snap, ids[0], cursor, false).len(), 2);
        let hs = highlights(&snap, ids[0], cursor);
        assert_eq!(hs.len(), 3);
        assert_eq!(
            hs.iter()
                .filter(|h| h.kind == Some(DocumentHighlightKind::WRITE))
                .count(),
            1
        );
    }
}
