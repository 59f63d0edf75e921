//! What is under the cursor, where it is defined and where it is used.
//!
//! The checker records every resolved name use in `Facts::uses`; declarations, schema fields,
//! enum variants, parameters and imports are found from the symbol table, the IR and the AST.
//! Together they answer the questions navigation, hover, rename and highlighting ask, without
//! the server resolving a single name itself.

use crate::workspace::Snapshot;
use tailor_compiler::resolve::DeclRef;
use tailor_compiler::syntax::ast;
use tailor_compiler::syntax::lexer::TokenKind;
use tailor_compiler::types::Target;
use tailor_compiler::{FileId, Span};

/// A name in the source and what it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub span: Span,
    pub target: Target,
}

/// The name at `offset` in `file` (a cursor just after a name still counts), the innermost if
/// several overlap.
pub fn at(snap: &Snapshot, file: FileId, offset: usize) -> Option<Occurrence> {
    let mut best: Option<Occurrence> = None;
    let mut consider = |span: Span, target: &Target| {
        if span.file != file || !span.contains(offset) {
            return;
        }
        let better = match &best {
            None => true,
            Some(b) => span.end - span.start < b.span.end - b.span.start,
        };
        if better {
            best = Some(Occurrence {
                span,
                target: target.clone(),
            });
        }
    };
    let facts = &snap.analysis.facts;
    for u in &facts.uses {
        consider(u.span, &u.target);
    }
    for (r, info) in &facts.symbols.decls {
        consider(info.name_span, &Target::Decl(*r));
    }
    for scope in &facts.symbols.scopes {
        for binding in scope.imports.values() {
            consider(binding.span, &Target::Decl(binding.target));
        }
    }
    for def in definitions_in(snap, file) {
        consider(def.span, &def.target);
    }
    best
}

/// Definitions in a file that are not top-level declarations: schema fields, enum variants and
/// the parameters of functions, tables, eligibility blocks and rankings.
pub fn definitions_in(snap: &Snapshot, file: FileId) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let program = &snap.analysis.program;
    for (sid, schema) in program.schemas.iter().enumerate() {
        for (i, f) in schema.fields.iter().enumerate() {
            if f.span.file == file {
                out.push(Occurrence {
                    span: f.span,
                    target: Target::Field {
                        schema: sid as u32,
                        index: i as u32,
                    },
                });
            }
        }
    }
    let (Some(fi), Some(ast)) = (snap.file_index(file), snap.ast(file)) else {
        return out;
    };
    let local = |p: &ast::Param| Occurrence {
        span: p.name.span,
        target: Target::Local(p.name.span),
    };
    for (di, decl) in ast.decls.iter().enumerate() {
        match &decl.kind {
            ast::DeclKind::Enum(e) => {
                let Some(DeclRef::Enum(id)) = snap.decl_ref(fi, di) else {
                    continue;
                };
                let Some(def) = program.enums.get(id as usize) else {
                    continue;
                };
                for v in &e.variants {
                    if let Some(index) = def.variants.iter().position(|n| *n == v.name.name) {
                        out.push(Occurrence {
                            span: v.name.span,
                            target: Target::Variant {
                                enum_id: id,
                                index: index as u32,
                            },
                        });
                    }
                }
            }
            ast::DeclKind::Fn(f) => out.extend(f.params.iter().map(local)),
            ast::DeclKind::Table(t) => out.extend(t.params.iter().map(local)),
            ast::DeclKind::Eligibility(e) => out.push(local(&e.binder)),
            ast::DeclKind::Ranking(r) => out.push(local(&r.binder)),
            _ => {}
        }
    }
    out
}

/// Where a target is defined: the span of its name. `None` for built-ins.
pub fn definition(snap: &Snapshot, target: &Target) -> Option<Span> {
    let program = &snap.analysis.program;
    match target {
        Target::Decl(r) => snap.analysis.facts.symbols.info(*r).map(|i| i.name_span),
        Target::Field { schema, index } => program
            .schemas
            .get(*schema as usize)?
            .fields
            .get(*index as usize)
            .map(|f| f.span),
        Target::Variant { enum_id, index } => variant_decl(snap, *enum_id, *index).map(|v| v.name.span),
        Target::Local(span) => Some(*span),
        Target::Builtin(_) | Target::Special(_) => None,
    }
}

/// The AST of an enum variant.
pub fn variant_decl(snap: &Snapshot, enum_id: u32, index: u32) -> Option<&ast::Variant> {
    let name = snap
        .analysis
        .program
        .enums
        .get(enum_id as usize)?
        .variants
        .get(index as usize)?;
    let (_, decl) = snap.decl(DeclRef::Enum(enum_id))?;
    let ast::DeclKind::Enum(e) = &decl.kind else {
        return None;
    };
    e.variants.iter().find(|v| v.name.name == *name)
}

/// Every use of a target (imports included), and its definition when `with_definition`;
/// sorted by file and position, without duplicates.
pub fn references(snap: &Snapshot, target: &Target, with_definition: bool) -> Vec<Span> {
    let facts = &snap.analysis.facts;
    let mut out: Vec<Span> = facts
        .uses
        .iter()
        .filter(|u| u.target == *target)
        .map(|u| u.span)
        .collect();
    if let Target::Decl(r) = target {
        for scope in &facts.symbols.scopes {
            out.extend(scope.imports.values().filter(|b| b.target == *r).map(|b| b.span));
        }
    }
    if with_definition {
        out.extend(definition(snap, target));
    } else if let Some(def) = definition(snap, target) {
        out.retain(|s| *s != def);
    }
    out.sort();
    out.dedup();
    out
}

/// The name a target has in the source.
pub fn name(snap: &Snapshot, target: &Target) -> Option<String> {
    let program = &snap.analysis.program;
    Some(match target {
        Target::Decl(r) => snap.analysis.facts.symbols.info(*r)?.name.clone(),
        Target::Field { schema, index } => program
            .schemas
            .get(*schema as usize)?
            .fields
            .get(*index as usize)?
            .name
            .clone(),
        Target::Variant { enum_id, index } => program
            .enums
            .get(*enum_id as usize)?
            .variants
            .get(*index as usize)?
            .clone(),
        Target::Local(span) => snap.analysis.sources.slice(*span).to_string(),
        Target::Builtin(b) => tailor_compiler::stdlib::doc(*b)?.name.to_string(),
        Target::Special(s) => s.to_string(),
    })
}

/// An experiment's variant named after `is` (`hero_copy is urgent`): the checker resolves it
/// but records no use, so it is found from the tokens around the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantRef {
    /// The name at the cursor.
    pub span: Span,
    pub experiment: DeclRef,
    /// The variant's name in the experiment; for `holdout`, the whole `holdout N%` clause.
    pub definition: Span,
    pub name: String,
    /// The share of subjects, as written (`50%`).
    pub weight: String,
}

pub fn experiment_variant_at(snap: &Snapshot, file: FileId, offset: usize) -> Option<VariantRef> {
    let text = &snap.source(file).text;
    let tokens = tailor_compiler::syntax::lexer::tokenize(text);
    let i = tokens
        .iter()
        .position(|t| t.start <= offset && offset <= t.end && t.kind == TokenKind::Word)?;
    let word = |t: &tailor_compiler::syntax::lexer::Token| &text[t.start..t.end];
    let is = tokens.get(i.checked_sub(1)?)?;
    let exp = tokens.get(i.checked_sub(2)?)?;
    if word(is) != "is" {
        return None;
    }
    let exp_span = Span::new(file, exp.start, exp.end);
    let experiment = snap.analysis.facts.uses.iter().find_map(|u| match u.target {
        Target::Decl(r @ DeclRef::Experiment(_)) if u.span == exp_span => Some(r),
        _ => None,
    })?;
    let (_, decl) = snap.decl(experiment)?;
    let ast::DeclKind::Experiment(x) = &decl.kind else {
        return None;
    };
    let name = word(&tokens[i]).to_string();
    let sources = &snap.analysis.sources;
    x.items
        .iter()
        .find_map(|item| match item {
            ast::ExperimentItem::Variant { name: n, weight, .. } if n.name == name => Some((n.span, weight.span)),
            ast::ExperimentItem::Holdout { weight, span } if name == "holdout" => Some((*span, weight.span)),
            _ => None,
        })
        .map(|(definition, weight)| VariantRef {
            span: Span::new(file, tokens[i].start, tokens[i].end),
            experiment,
            definition,
            name,
            weight: sources.slice(weight).to_string(),
        })
}

/// The innermost declaration of a file that contains `offset`, with its index.
pub fn enclosing_decl(snap: &Snapshot, file: FileId, offset: usize) -> Option<(usize, &ast::Decl)> {
    snap.ast(file)?
        .decls
        .iter()
        .enumerate()
        .find(|(_, d)| d.span.start as usize <= offset && offset <= d.span.end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot_at;

    fn target_name(files: &[(&str, &str)]) -> Option<String> {
        let (snap, ids, cursor) = snapshot_at(files);
        let occ = at(&snap, ids[0], cursor)?;
        name(&snap, &occ.target)
    }

    #[test]
    fn finds_uses_declarations_fields_and_parameters() {
        let schema = "package s\nschema Profile { age: Int }\n";
        assert_eq!(
            target_name(&[
                ("a.policy", "package s\nsegment adult = profile.a$0ge >= 18\n"),
                ("b.policy", schema)
            ])
            .as_deref(),
            Some("age")
        );
        assert_eq!(
            target_name(&[("a.policy", "package s\nsegment ad$0ult = true\n")]).as_deref(),
            Some("adult")
        );
        assert_eq!(
            target_name(&[("a.policy", "package s\nschema P { ag$0e: Int }\n")]).as_deref(),
            Some("age")
        );
        assert_eq!(
            target_name(&[("a.policy", "package s\nfn f(x$0: Int) -> Int = x\n")]).as_deref(),
            Some("x")
        );
        assert_eq!(target_name(&[("a.policy", "package s\n$0\n")]), None);
    }

    #[test]
    fn experiment_variants_after_is() {
        let (snap, ids, cursor) = snapshot_at(&[(
            "a.policy",
            "package a\nexperiment x {\n  salt \"s\"\n  holdout 10%\n  variant b 90%\n}\nsegment s = x is b$0\n",
        )]);
        let v = experiment_variant_at(&snap, ids[0], cursor).unwrap();
        assert_eq!((v.name.as_str(), v.weight.as_str()), ("b", "90%"));
        assert_eq!(snap.analysis.sources.slice(v.definition), "b");
    }

    #[test]
    fn references_span_files_and_imports() {
        let (snap, ids, cursor) = snapshot_at(&[
            ("a.policy", "package a\nsegment yo$0ung = true\n"),
            (
                "b.policy",
                "package b\nimport a.{young}\nsegment both = young and young\n",
            ),
        ]);
        let occ = at(&snap, ids[0], cursor).unwrap();
        let refs = references(&snap, &occ.target, true);
        assert_eq!(refs.len(), 4);
        assert_eq!(refs.iter().filter(|s| s.file == ids[1]).count(), 3);
        assert_eq!(references(&snap, &occ.target, false).len(), 3);
    }
}
