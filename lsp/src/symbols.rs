//! Document symbols (the outline) and workspace symbols (search by name across files).
//!
//! Both come from the parsed files: declarations with their members (schema fields, enum
//! variants, rule and boost labels, experiment variants) as children. A declaration that did
//! not parse has no symbol until it does.

use crate::workspace::Snapshot;
use tailor_compiler::syntax::ast;
use tailor_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{DocumentSymbol, Location, OneOf, SymbolKind, WorkspaceSymbol};

/// The outline of one file.
pub fn document_symbols(snap: &Snapshot, file: FileId) -> Vec<DocumentSymbol> {
    let Some(ast) = snap.ast(file) else { return Vec::new() };
    let range = |s: Span| crate::position::range(snap.source(file), s);
    #[allow(deprecated)] // `deprecated` is a required field of the protocol's struct.
    let symbol = |name: String,
                  detail: Option<String>,
                  kind: SymbolKind,
                  whole: Span,
                  sel: Span,
                  children: Vec<DocumentSymbol>| DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: range(whole),
        selection_range: range(sel),
        children: (!children.is_empty()).then_some(children),
    };
    let mut out = Vec::new();
    if let Some(p) = &ast.package {
        out.push(symbol(
            p.dotted(),
            None,
            SymbolKind::PACKAGE,
            p.span,
            p.span,
            Vec::new(),
        ));
    }
    for decl in &ast.decls {
        let (name, sel) = match (&decl.kind, decl.name()) {
            (_, Some(n)) => (n.name.clone(), n.span),
            (ast::DeclKind::Test(t), None) => (format!("test {:?}", t.name.value), t.name.span),
            _ => continue,
        };
        let kind = symbol_kind(&decl.kind);
        let children: Vec<DocumentSymbol> = match &decl.kind {
            ast::DeclKind::Schema(s) => s
                .fields
                .iter()
                .map(|f| {
                    symbol(
                        f.name.name.clone(),
                        Some(snap.analysis.sources.slice(f.ty.span).to_string()),
                        SymbolKind::FIELD,
                        f.span,
                        f.name.span,
                        Vec::new(),
                    )
                })
                .collect(),
            ast::DeclKind::Enum(e) => e
                .variants
                .iter()
                .map(|v| {
                    symbol(
                        v.name.name.clone(),
                        None,
                        SymbolKind::ENUM_MEMBER,
                        v.name.span,
                        v.name.span,
                        Vec::new(),
                    )
                })
                .collect(),
            ast::DeclKind::Eligibility(e) => e
                .rules
                .iter()
                .filter_map(|r| {
                    let label = r.label.as_ref()?;
                    let kind = match r.kind {
                        ast::RuleKind::Require => "require",
                        ast::RuleKind::Deny => "deny",
                    };
                    Some(symbol(
                        label.name.clone(),
                        Some(kind.into()),
                        SymbolKind::PROPERTY,
                        r.span,
                        label.span,
                        Vec::new(),
                    ))
                })
                .collect(),
            ast::DeclKind::Ranking(r) => r
                .items
                .iter()
                .filter_map(|i| match i {
                    ast::RankItem::Boost {
                        label: Some(l), span, ..
                    } => Some(symbol(
                        l.name.clone(),
                        Some("boost".into()),
                        SymbolKind::PROPERTY,
                        *span,
                        l.span,
                        Vec::new(),
                    )),
                    _ => None,
                })
                .collect(),
            ast::DeclKind::Experiment(x) => x
                .items
                .iter()
                .filter_map(|i| match i {
                    ast::ExperimentItem::Variant { name, span, .. } => Some(symbol(
                        name.name.clone(),
                        Some("variant".into()),
                        SymbolKind::ENUM_MEMBER,
                        *span,
                        name.span,
                        Vec::new(),
                    )),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(symbol(
            name,
            Some(keyword(&decl.kind).into()),
            kind,
            decl.span,
            sel,
            children,
        ));
    }
    out
}

/// Declarations in every user file whose name contains `query` (case-insensitively, as a
/// subsequence, the way editors' fuzzy finders match).
pub fn workspace_symbols(snap: &Snapshot, query: &str) -> Vec<WorkspaceSymbol> {
    let q = query.to_lowercase();
    let mut out = Vec::new();
    for (id, uri) in snap.user_files() {
        let Some(ast) = snap.ast(id) else { continue };
        let package = ast.package.as_ref().map(|p| p.dotted());
        for decl in &ast.decls {
            let Some(name) = decl.name() else { continue };
            if !fuzzy(&name.name.to_lowercase(), &q) {
                continue;
            }
            out.push(WorkspaceSymbol {
                name: name.name.clone(),
                kind: symbol_kind(&decl.kind),
                tags: None,
                container_name: package.clone(),
                location: OneOf::Left(Location {
                    uri: uri.clone(),
                    range: crate::position::range(snap.source(id), name.span),
                }),
                data: None,
            });
        }
    }
    out
}

fn fuzzy(name: &str, query: &str) -> bool {
    let mut chars = name.chars();
    query.chars().all(|q| chars.any(|c| c == q))
}

fn symbol_kind(kind: &ast::DeclKind) -> SymbolKind {
    match kind {
        ast::DeclKind::Enum(_) => SymbolKind::ENUM,
        ast::DeclKind::Schema(_) => SymbolKind::STRUCT,
        ast::DeclKind::Const(_) => SymbolKind::CONSTANT,
        ast::DeclKind::Segment(_) => SymbolKind::BOOLEAN,
        ast::DeclKind::Fn(_) | ast::DeclKind::Table(_) => SymbolKind::FUNCTION,
        ast::DeclKind::Eligibility(_) | ast::DeclKind::Ranking(_) => SymbolKind::INTERFACE,
        ast::DeclKind::Experiment(_) => SymbolKind::EVENT,
        ast::DeclKind::Decision(_) => SymbolKind::MODULE,
        ast::DeclKind::Test(_) | ast::DeclKind::Error => SymbolKind::METHOD,
    }
}

fn keyword(kind: &ast::DeclKind) -> &'static str {
    match kind {
        ast::DeclKind::Enum(_) => "enum",
        ast::DeclKind::Schema(_) => "schema",
        ast::DeclKind::Const(_) => "const",
        ast::DeclKind::Segment(_) => "segment",
        ast::DeclKind::Fn(_) => "fn",
        ast::DeclKind::Table(_) => "table",
        ast::DeclKind::Eligibility(_) => "eligibility",
        ast::DeclKind::Ranking(_) => "ranking",
        ast::DeclKind::Experiment(_) => "experiment",
        ast::DeclKind::Decision(_) => "decision",
        ast::DeclKind::Test(_) => "test",
        ast::DeclKind::Error => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot;

    #[test]
    fn outline_has_declarations_and_members() {
        let (snap, ids) = snapshot(&[(
            "a.policy",
            "package a\nenum T { X, Y }\nschema P { t: T }\nsegment s = true\ntest \"it\" { expect s }\n",
        )]);
        let syms = document_symbols(&snap, ids[0]);
        let names: Vec<&str> = syms.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "T", "P", "s", "test \"it\""]);
        assert_eq!(syms[1].children.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn workspace_search_is_fuzzy() {
        let (snap, _) = snapshot(&[
            ("a.policy", "package a\nsegment new_customer = true\n"),
            ("b.policy", "package b\nsegment vip = true\n"),
        ]);
        let found: Vec<String> = workspace_symbols(&snap, "ncust").into_iter().map(|s| s.name).collect();
        assert_eq!(found, ["new_customer"]);
        assert_eq!(workspace_symbols(&snap, "").len(), 2);
    }
}
