//! Type checking, which also lowers the AST to the typed IR.
//!
//! [`check`] runs over a whole bundle: it collects names ([`crate::resolve`]), resolves schema
//! and signature types, then checks every body (segments, rules, rankings, tables, decisions,
//! tests) into IR, reporting every error it can find. An expression with an error gets
//! [`Type::Error`], which agrees with every type, so one mistake makes one diagnostic.
//!
//! Checking and lowering are one pass because the IR *is* the typed program: types resolve
//! names, choose operators and insert the conversions the IR makes explicit.

mod builtins;
mod decls;
mod expr;
mod graph;
mod tables;

use crate::diagnostics::{did_you_mean, Code, Diagnostic, Edit};
use crate::ir::{self, Type};
use crate::resolve::{DeclRef, Symbols};
use crate::source::{FileId, Span};
use crate::syntax::ast;
use std::collections::{HashMap, HashSet};

/// What a name use in the source resolved to; the language server reads these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Decl(DeclRef),
    Field {
        schema: ir::SchemaId,
        index: u32,
    },
    Variant {
        enum_id: ir::EnumId,
        index: u32,
    },
    /// A parameter or local variable, by the span of its binding.
    Local(Span),
    Builtin(ir::Builtin),
    /// `profile`, `context`.
    Special(&'static str),
}

/// One resolved use of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub span: Span,
    pub target: Target,
}

/// The checker's results beyond the program: what editors need.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub symbols: Symbols,
    pub uses: Vec<Use>,
    /// The type of each checked expression, by span (the last one recorded wins).
    pub types: Vec<(Span, Type)>,
}

/// Checks a bundle. `files[0]` must be the parsed prelude (`std`).
pub fn check(files: &[(FileId, &ast::File)]) -> (ir::Program, Facts, Vec<Diagnostic>) {
    let _span = tracing::debug_span!("check", files = files.len()).entered();
    let mut diags = Vec::new();
    let symbols = Symbols::collect(files, &mut diags);
    let mut c = Checker::new(files, symbols, diags);
    c.run();
    let facts = Facts {
        symbols: c.symbols,
        uses: c.uses,
        types: c.types,
    };
    (c.program, facts, c.diags)
}

/// What a body may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `const` values and table cells: no request data.
    Constant,
    /// Policies: request data, no test-only values.
    Policy,
    /// `test` blocks: everything, and decision results.
    Test,
}

#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub name: String,
    pub slot: u32,
    pub ty: Type,
    pub span: Span,
}

/// The state of the body being checked.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub file_index: usize,
    pub mode: Mode,
    pub owner: Option<DeclRef>,
    pub locals: Vec<Local>,
    pub frame: u32,
}

pub(crate) struct Checker<'a> {
    pub files: &'a [(FileId, &'a ast::File)],
    pub symbols: Symbols,
    pub diags: Vec<Diagnostic>,
    pub program: ir::Program,
    pub uses: Vec<Use>,
    pub types: Vec<(Span, Type)>,
    /// Declaration → the declarations its body refers to (for recursion checks).
    pub deps: HashMap<DeclRef, Vec<(DeclRef, Span)>>,
    /// Declarations used anywhere (for unused warnings).
    pub used: HashSet<DeclRef>,
    /// (file index, imported name) pairs that something used.
    pub used_imports: HashSet<(usize, String)>,
    pub body: Body,
    /// Where `profile` was first read, for E0117 when there is no `Profile` schema.
    pub profile_use: Option<Span>,
}

impl<'a> Checker<'a> {
    fn new(files: &'a [(FileId, &'a ast::File)], symbols: Symbols, diags: Vec<Diagnostic>) -> Checker<'a> {
        let counts = symbols.counts;
        let placeholder = |n: u32| n as usize;
        let span = Span::default();
        let program = ir::Program {
            enums: vec![
                ir::EnumDef {
                    name: String::new(),
                    variants: Vec::new(),
                    span
                };
                placeholder(counts[0])
            ],
            schemas: vec![
                ir::SchemaDef {
                    name: String::new(),
                    fields: Vec::new(),
                    doc: None,
                    span
                };
                placeholder(counts[1])
            ],
            consts: Vec::new(),
            segments: Vec::new(),
            functions: Vec::new(),
            tables: Vec::new(),
            eligibilities: Vec::new(),
            rankings: Vec::new(),
            experiments: Vec::new(),
            decisions: Vec::new(),
            tests: Vec::new(),
            profile: None,
            builtins: ir::Builtins {
                channel: 0,
                context: 0,
                decision_result: 0,
                eligibility_result: 0,
            },
        };
        Checker {
            files,
            symbols,
            diags,
            program,
            uses: Vec::new(),
            types: Vec::new(),
            deps: HashMap::new(),
            used: HashSet::new(),
            used_imports: HashSet::new(),
            body: Body {
                file_index: 0,
                mode: Mode::Policy,
                owner: None,
                locals: Vec::new(),
                frame: 0,
            },
            profile_use: None,
        }
    }

    fn run(&mut self) {
        self.declare_types();
        self.find_builtins();
        self.check_bodies();
        self.check_profile_schema();
        self.check_recursion();
        self.warn_unused();
    }

    /// Declarations of one kind in id order, with the index of their file.
    pub fn decls_of<T>(&self, pick: impl Fn(&'a ast::DeclKind) -> Option<&'a T>) -> Vec<(usize, &'a ast::Decl, &'a T)> {
        let mut out = Vec::new();
        for (fi, (_, file)) in self.files.iter().enumerate() {
            if file.package.is_none() {
                continue;
            }
            for d in &file.decls {
                if let Some(t) = pick(&d.kind) {
                    out.push((fi, d, t));
                }
            }
        }
        out
    }

    pub fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn package_of(&self, file_index: usize) -> String {
        self.symbols
            .scopes
            .get(file_index)
            .map(|s| s.package.clone())
            .unwrap_or_default()
    }

    fn qualified(&self, file_index: usize, name: &str) -> String {
        format!("{}.{}", self.package_of(file_index), name)
    }

    /// Looks a top-level name up, recording the use of an import.
    pub fn lookup(&mut self, file_index: usize, name: &str) -> Option<DeclRef> {
        let r = self.symbols.lookup(file_index, name)?;
        if let Some(scope) = self.symbols.scopes.get(file_index) {
            if scope.imports.contains_key(name) {
                self.used_imports.insert((file_index, name.to_string()));
            }
        }
        Some(r)
    }

    /// Records that the current body uses `r` at `span`.
    pub fn note_use(&mut self, r: DeclRef, span: Span) {
        self.used.insert(r);
        self.uses.push(Use {
            span,
            target: Target::Decl(r),
        });
        if let Some(owner) = self.body.owner {
            self.deps.entry(owner).or_default().push((r, span));
        }
    }

    // ---- types ---------------------------------------------------------------------------

    fn declare_types(&mut self) {
        let enums = self.decls_of(|k| match k {
            ast::DeclKind::Enum(e) => Some(e),
            _ => None,
        });
        for (id, (fi, _, e)) in enums.into_iter().enumerate() {
            let mut variants: Vec<String> = Vec::new();
            let mut spans: Vec<Span> = Vec::new();
            for v in &e.variants {
                if let Some(i) = variants.iter().position(|x| *x == v.name.name) {
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateVariant,
                            v.name.span,
                            format!("variant `{}` is declared twice", v.name.name),
                        )
                        .with_label("declared again here")
                        .with_secondary(spans[i], "first declared here"),
                    );
                    continue;
                }
                variants.push(v.name.name.clone());
                spans.push(v.name.span);
            }
            self.program.enums[id] = ir::EnumDef {
                name: self.qualified(fi, &e.name.name),
                variants,
                span: e.name.span,
            };
        }
        let schemas = self.decls_of(|k| match k {
            ast::DeclKind::Schema(s) => Some(s),
            _ => None,
        });
        for (id, (fi, decl, s)) in schemas.into_iter().enumerate() {
            let mut fields: Vec<ir::FieldDef> = Vec::new();
            for f in &s.fields {
                let ty = self.resolve_type(fi, &f.ty);
                if let Some(prev) = fields.iter().find(|x| x.name == f.name.name) {
                    let prev_span = prev.span;
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateField,
                            f.name.span,
                            format!("field `{}` is declared twice", f.name.name),
                        )
                        .with_label("declared again here")
                        .with_secondary(prev_span, "first declared here"),
                    );
                    continue;
                }
                fields.push(ir::FieldDef {
                    name: f.name.name.clone(),
                    ty,
                    doc: f.doc.clone(),
                    span: f.name.span,
                });
            }
            self.program.schemas[id] = ir::SchemaDef {
                name: self.qualified(fi, &s.name.name),
                fields,
                doc: decl.doc.clone(),
                span: s.name.span,
            };
        }
    }

    fn find_builtins(&mut self) {
        let find = |c: &Checker, name: &str| {
            c.symbols
                .packages
                .get(crate::resolve::STD)
                .and_then(|m| m.get(name))
                .copied()
        };
        if let Some(DeclRef::Enum(e)) = find(self, "Channel") {
            self.program.builtins.channel = e;
        }
        if let Some(DeclRef::Schema(s)) = find(self, "Context") {
            self.program.builtins.context = s;
        }
        if let Some(DeclRef::Schema(s)) = find(self, "DecisionResult") {
            self.program.builtins.decision_result = s;
        }
        if let Some(DeclRef::Schema(s)) = find(self, "EligibilityResult") {
            self.program.builtins.eligibility_result = s;
        }
        let profiles: Vec<(u32, Span)> = self
            .program
            .schemas
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name.rsplit('.').next() == Some("Profile") && !s.name.starts_with("std."))
            .map(|(i, s)| (i as u32, s.span))
            .collect();
        if let Some(&(first, first_span)) = profiles.first() {
            self.program.profile = Some(first);
            for &(_, span) in &profiles[1..] {
                self.report(
                    Diagnostic::new(
                        Code::ProfileSchema,
                        span,
                        "a bundle has one `Profile` schema, and this is a second one",
                    )
                    .with_label("second `Profile` schema")
                    .with_secondary(first_span, "first `Profile` schema")
                    .with_help("keep one `Profile` schema and import it where it is needed"),
                );
            }
        }
    }

    fn check_profile_schema(&mut self) {
        if self.program.profile.is_none() {
            if let Some(span) = self.profile_use {
                self.report(
                    Diagnostic::new(
                        Code::ProfileSchema,
                        span,
                        "`profile` is read, but no schema is named `Profile`",
                    )
                    .with_label("needs a `Profile` schema")
                    .with_help("declare `schema Profile { … }` with the fields your policies read"),
                );
            }
        }
    }

    /// Resolves a written type in the scope of a file.
    pub fn resolve_type(&mut self, file_index: usize, t: &ast::TypeExpr) -> Type {
        let base = self.resolve_type_inner(file_index, t);
        if t.optional {
            if matches!(base, Type::Optional(_)) {
                self.report(
                    Diagnostic::new(Code::InvalidType, t.span, "an optional of an optional is not a type")
                        .with_label("one `?` is enough")
                        .with_fix("remove the extra `?`", Vec::new(), true),
                );
                return base;
            }
            if base.is_error() {
                return base;
            }
            return Type::Optional(Box::new(base));
        }
        base
    }

    fn resolve_type_inner(&mut self, file_index: usize, t: &ast::TypeExpr) -> Type {
        let name = t.name.name.as_str();
        let scalar = match name {
            "Bool" => Some(Type::Bool),
            "Int" => Some(Type::Int),
            "Float" => Some(Type::Float),
            "String" => Some(Type::String),
            "Duration" => Some(Type::Duration),
            "Timestamp" => Some(Type::Timestamp),
            _ => None,
        };
        let wrong_args = |c: &mut Checker, want: usize| {
            c.report(
                Diagnostic::new(
                    Code::InvalidType,
                    t.span,
                    format!(
                        "`{name}` takes {want} type argument{}",
                        if want == 1 { "" } else { "s" }
                    ),
                )
                .with_label(format!("{} given", t.args.len())),
            );
            Type::Error
        };
        if let Some(s) = scalar {
            if !t.args.is_empty() {
                return wrong_args(self, 0);
            }
            return s;
        }
        if name == "Set" || name == "List" {
            if t.args.len() != 1 {
                return wrong_args(self, 1);
            }
            let inner = self.resolve_type(file_index, &t.args[0]);
            let ok = match &inner {
                Type::Optional(_) | Type::Set(_) | Type::List(_) => false,
                Type::Record(_) => name == "List",
                _ => true,
            };
            if !ok {
                let what = match &inner {
                    Type::Optional(_) => "optional values",
                    Type::Record(_) => "records (use `List`)",
                    _ => "collections",
                };
                self.report(
                    Diagnostic::new(Code::InvalidType, t.args[0].span, format!("a `{name}` cannot hold {what}"))
                        .with_label("not allowed as an element type")
                        .with_help("collections hold Bool, Int, Float, String, Duration, Timestamp or enum values; lists may also hold records"),
                );
                return Type::Error;
            }
            if inner.is_error() {
                return Type::Error;
            }
            return if name == "Set" {
                Type::Set(Box::new(inner))
            } else {
                Type::List(Box::new(inner))
            };
        }
        match self.lookup(file_index, name) {
            Some(r @ DeclRef::Enum(id)) => {
                self.uses.push(Use {
                    span: t.name.span,
                    target: Target::Decl(r),
                });
                self.used.insert(r);
                if !t.args.is_empty() {
                    return wrong_args(self, 0);
                }
                Type::Enum(id)
            }
            Some(r @ DeclRef::Schema(id)) => {
                self.uses.push(Use {
                    span: t.name.span,
                    target: Target::Decl(r),
                });
                self.used.insert(r);
                if !t.args.is_empty() {
                    return wrong_args(self, 0);
                }
                Type::Record(id)
            }
            Some(other) => {
                self.report(
                    Diagnostic::new(
                        Code::WrongKindOfName,
                        t.name.span,
                        format!("`{name}` is {}, not a type", other.describe()),
                    )
                    .with_label("used as a type here"),
                );
                Type::Error
            }
            None if self.symbols.is_poisoned(file_index, name) => Type::Error,
            None => {
                let mut candidates: Vec<String> =
                    ["Bool", "Int", "Float", "String", "Duration", "Timestamp", "Set", "List"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                candidates.extend(
                    self.symbols
                        .visible_names(file_index)
                        .into_iter()
                        .filter(|(_, r)| matches!(r, DeclRef::Enum(_) | DeclRef::Schema(_)))
                        .map(|(n, _)| n),
                );
                let mut d = Diagnostic::new(Code::UnknownType, t.name.span, format!("unknown type `{name}`"))
                    .with_label("not a type in scope");
                if let Some(s) = did_you_mean(name, candidates.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                        format!("replace with `{s}`"),
                        vec![Edit {
                            span: t.name.span,
                            text: s.clone(),
                        }],
                        false,
                    );
                } else {
                    d = d.with_help("declare it with `schema` or `enum`, or import it from its package");
                }
                self.report(d);
                Type::Error
            }
        }
    }

    pub fn type_name(&self, t: &Type) -> String {
        self.program.type_name(t)
    }

    // ---- bodies ----------------------------------------------------------------------------

    /// Starts checking a new body.
    pub fn begin_body(&mut self, file_index: usize, mode: Mode, owner: Option<DeclRef>) {
        self.body = Body {
            file_index,
            mode,
            owner,
            locals: Vec::new(),
            frame: 0,
        };
    }

    /// Binds a local variable in the current body and returns its slot.
    pub fn bind_local(&mut self, name: &ast::Ident, ty: Type) -> u32 {
        let slot = self.body.frame;
        self.body.frame += 1;
        self.body.locals.push(Local {
            name: name.name.clone(),
            slot,
            ty,
            span: name.span,
        });
        slot
    }

    pub fn unbind_local(&mut self) {
        self.body.locals.pop();
    }
}

#[cfg(test)]
mod tests;
