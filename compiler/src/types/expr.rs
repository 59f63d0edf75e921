//! Checking expressions, bidirectionally: an expected type flows down (so `New` can mean
//! `Lifecycle.New`, `[..]` can be a set, `{ .. }` a record), the found type flows up, and
//! [`Checker::coerce`] inserts the conversions the IR makes explicit or reports a mismatch.

use super::{Checker, Mode, Target, Use};
use crate::diagnostics::{did_you_mean, Code, Diagnostic, Edit};
use crate::ir::{self, BinaryOp, Expr, ExprKind, Literal, Type, UnaryOp};
use crate::resolve::DeclRef;
use crate::source::Span;
use crate::syntax::ast;
use std::sync::Arc;

impl Checker<'_> {
    /// Checks `e` against `want`, converting where the language allows it.
    pub fn check_as(&mut self, e: &ast::Expr, want: &Type) -> Expr {
        let found = self.expr(e, Some(want));
        self.coerce(found, want)
    }

    /// Converts `e` to `want` (`Int` to `Float`, `T` to `T?`), or reports why it cannot.
    pub fn coerce(&mut self, e: Expr, want: &Type) -> Expr {
        if e.ty == *want || e.ty.is_error() || want.is_error() {
            return e;
        }
        match (&e.ty, want) {
            (Type::Int, Type::Float) => {
                let span = e.span;
                Expr::new(ExprKind::IntToFloat(Box::new(e)), Type::Float, span)
            }
            (_, Type::Optional(inner)) if !matches!(e.ty, Type::Optional(_)) => {
                let inner = (**inner).clone();
                let e = self.coerce(e, &inner);
                let span = e.span;
                Expr::new(ExprKind::Some(Box::new(e)), want.clone(), span)
            }
            (Type::Optional(inner), _) if **inner == *want || (**inner == Type::Int && *want == Type::Float) => {
                self.unhandled_optional(&e);
                Expr::error(e.span)
            }
            (Type::List(a), Type::List(b)) | (Type::Set(a), Type::Set(b)) if **a == Type::Int && **b == Type::Float => {
                self.mismatch(&e, want)
            }
            _ => self.mismatch(&e, want),
        }
    }

    fn mismatch(&mut self, e: &Expr, want: &Type) -> Expr {
        let found = self.type_name(&e.ty);
        let wanted = self.type_name(want);
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            e.span,
            format!("expected `{wanted}`, found `{found}`"),
        )
        .with_label(format!("this is `{found}`"));
        d = match (&e.ty, want) {
            (Type::Float, Type::Int) => {
                d.with_help("use `round(x)`, `floor(x)` or `ceil(x)` to turn a `Float` into an `Int`")
            }
            (Type::String, Type::Enum(id)) => {
                let vs = self.program.enums[*id as usize].variants.join("`, `");
                d.with_help(format!("enum values are written without quotes: one of `{vs}`"))
            }
            (Type::Int, Type::Duration) => d.with_help("write durations with a unit, e.g. `30d`, `12h`, `15m`"),
            (Type::List(_), Type::Set(_)) => {
                d.with_help("a list literal `[..]` becomes a set only where a set is expected")
            }
            _ => d,
        };
        self.report(d);
        Expr::error(e.span)
    }

    pub fn unhandled_optional(&mut self, e: &Expr) {
        let inner = self.type_name(e.ty.strip_optional());
        let default = match e.ty.strip_optional() {
            Type::String => Some("\"\""),
            Type::Int => Some("0"),
            Type::Float => Some("0.0"),
            Type::Bool => Some("false"),
            _ => None,
        };
        let mut d = Diagnostic::new(
            Code::UnhandledOptional,
            e.span,
            format!("this value is optional (`{inner}?`) and may be missing"),
        )
        .with_label("may be missing")
        .with_help(match default {
            Some(v) => format!("give a default with `?? {v}`, test it with `exists`, or use `if let`"),
            None => "test it with `exists`, or use `if let x = … then … else …`".to_string(),
        });
        if let Some(v) = default {
            let end = Span {
                start: e.span.end,
                ..e.span
            };
            d = d.with_fix(
                format!("add `?? {v}`"),
                vec![Edit {
                    span: end,
                    text: format!(" ?? {v}"),
                }],
                false,
            );
        }
        self.report(d);
    }

    /// Requires a non-optional value of any type.
    fn plain(&mut self, e: Expr) -> Expr {
        if matches!(e.ty, Type::Optional(_)) {
            self.unhandled_optional(&e);
            return Expr::error(e.span);
        }
        e
    }

    fn record_type(&mut self, span: Span, ty: Type) {
        self.types.push((span, ty));
    }

    /// Checks an expression. `expected` guides literals; it is not enforced here.
    pub fn expr(&mut self, e: &ast::Expr, expected: Option<&Type>) -> Expr {
        let out = self.expr_inner(e, expected);
        self.record_type(e.span, out.ty.clone());
        out
    }

    fn expr_inner(&mut self, e: &ast::Expr, expected: Option<&Type>) -> Expr {
        let span = e.span;
        let lit = |l: Literal, t: Type| Expr::new(ExprKind::Lit(l), t, span);
        match &e.kind {
            ast::ExprKind::Bool(b) => lit(Literal::Bool(*b), Type::Bool),
            ast::ExprKind::Int(i) => lit(Literal::Int(*i), Type::Int),
            ast::ExprKind::Float(f) => lit(Literal::Float(*f), Type::Float),
            ast::ExprKind::String(s) => lit(Literal::String(Arc::from(s.as_str())), Type::String),
            ast::ExprKind::Duration(d) => lit(Literal::Duration(*d), Type::Duration),
            ast::ExprKind::Timestamp(t) => lit(Literal::Timestamp(*t), Type::Timestamp),
            ast::ExprKind::Paren(inner) => {
                let mut x = self.expr(inner, expected);
                x.span = span;
                x
            }
            ast::ExprKind::Error => Expr::error(span),
            ast::ExprKind::Name(id) => self.name(id, expected),
            ast::ExprKind::Field { base, field } => self.field(base, field, span),
            ast::ExprKind::Call { func, args } => self.call(func, args, span),
            ast::ExprKind::Unary { op, operand } => self.unary(*op, operand, span),
            ast::ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            ast::ExprKind::Is { experiment, variant } => self.is_variant(experiment, variant, span),
            ast::ExprKind::If { cond, then, otherwise } => {
                let c = self.check_as(cond, &Type::Bool);
                let t = self.expr(then, expected);
                let o = self.expr(otherwise, Some(&t.ty).filter(|t| !t.is_error()).or(expected));
                let (t, o, ty) = self.unify_branches(t, o);
                Expr::new(
                    ExprKind::If {
                        cond: Box::new(c),
                        then: Box::new(t),
                        otherwise: Box::new(o),
                    },
                    ty,
                    span,
                )
            }
            ast::ExprKind::IfLet {
                binding,
                value,
                then,
                otherwise,
            } => {
                let v = self.expr(value, None);
                let inner = match &v.ty {
                    Type::Optional(t) => (**t).clone(),
                    Type::Error => Type::Error,
                    other => {
                        let t = self.type_name(other);
                        self.report(
                            Diagnostic::new(
                                Code::UnnecessaryHandling,
                                v.span,
                                format!("this value is never missing (`{t}`)"),
                            )
                            .with_label("not optional")
                            .with_help("`if let` is for optional values; use the value directly"),
                        );
                        other.clone()
                    }
                };
                let v = if matches!(v.ty, Type::Optional(_)) || v.ty.is_error() {
                    v
                } else {
                    let vs = v.span;
                    let t = Type::Optional(Box::new(v.ty.clone()));
                    Expr::new(ExprKind::Some(Box::new(v)), t, vs)
                };
                let slot = self.bind_local(binding, inner.clone());
                self.uses.push(Use {
                    span: binding.span,
                    target: Target::Local(binding.span),
                });
                self.record_type(binding.span, inner);
                let t = self.expr(then, expected);
                self.unbind_local();
                let o = self.expr(otherwise, Some(&t.ty).filter(|t| !t.is_error()).or(expected));
                let (t, o, ty) = self.unify_branches(t, o);
                Expr::new(
                    ExprKind::IfLet {
                        local: slot,
                        value: Box::new(v),
                        then: Box::new(t),
                        otherwise: Box::new(o),
                    },
                    ty,
                    span,
                )
            }
            ast::ExprKind::Quantified {
                quantifier,
                var,
                collection,
                body,
            } => {
                let coll = self.expr(collection, None);
                let coll = self.plain(coll);
                let elem = match &coll.ty {
                    Type::Set(t) | Type::List(t) => (**t).clone(),
                    Type::Error => Type::Error,
                    other => {
                        let t = self.type_name(other);
                        self.report(
                            Diagnostic::new(Code::NotACollection, coll.span, format!("`{t}` is not a collection"))
                                .with_label("expected a set or a list")
                                .with_help(
                                    "quantifiers go over a `Set` or `List`: `any x in offer.tags: x == \"sale\"`",
                                ),
                        );
                        Type::Error
                    }
                };
                if self.body.locals.iter().any(|l| l.name == var.name) {
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateParameter,
                            var.span,
                            format!("`{}` is already a variable here", var.name),
                        )
                        .with_label("shadows an outer variable")
                        .with_help("choose another name for the quantifier variable"),
                    );
                }
                let slot = self.bind_local(var, elem.clone());
                self.uses.push(Use {
                    span: var.span,
                    target: Target::Local(var.span),
                });
                self.record_type(var.span, elem);
                let b = self.check_as(body, &Type::Bool);
                self.unbind_local();
                let (q, ty) = match quantifier {
                    ast::Quantifier::Any => (ir::Quantifier::Any, Type::Bool),
                    ast::Quantifier::All => (ir::Quantifier::All, Type::Bool),
                    ast::Quantifier::Count => (ir::Quantifier::Count, Type::Int),
                };
                Expr::new(
                    ExprKind::Quantified {
                        quantifier: q,
                        local: slot,
                        collection: Box::new(coll),
                        body: Box::new(b),
                    },
                    ty,
                    span,
                )
            }
            ast::ExprKind::List(items) => self.list(items, expected, span),
            ast::ExprKind::Record { ty, fields } => {
                let schema = match ty {
                    Some(name) => match self.lookup(self.body.file_index, &name.name) {
                        Some(r @ DeclRef::Schema(s)) => {
                            self.uses.push(Use {
                                span: name.span,
                                target: Target::Decl(r),
                            });
                            self.used.insert(r);
                            Some(s)
                        }
                        Some(other) => {
                            self.report(
                                Diagnostic::new(
                                    Code::WrongKindOfName,
                                    name.span,
                                    format!("`{}` is {}, not a schema", name.name, other.describe()),
                                )
                                .with_label("expected a schema name before `{`"),
                            );
                            None
                        }
                        None => {
                            let names: Vec<String> = self
                                .symbols
                                .visible_names(self.body.file_index)
                                .into_iter()
                                .filter(|(_, r)| matches!(r, DeclRef::Schema(_)))
                                .map(|(n, _)| n)
                                .collect();
                            let mut d = Diagnostic::new(
                                Code::UnknownType,
                                name.span,
                                format!("unknown schema `{}`", name.name),
                            )
                            .with_label("not a schema in scope");
                            if let Some(s) = did_you_mean(&name.name, names.iter().map(String::as_str)) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.report(d);
                            None
                        }
                    },
                    None => match expected.map(Type::strip_optional) {
                        Some(Type::Record(s)) => Some(*s),
                        Some(Type::Error) => None,
                        _ => {
                            self.report(
                                Diagnostic::new(Code::UntypedRecord, span, "the type of this record is not known here")
                                    .with_label("write the schema name before `{`")
                                    .with_help("e.g. `Offer { id: \"x\", … }`"),
                            );
                            None
                        }
                    },
                };
                match schema {
                    Some(s) => self.record(s, fields, span),
                    None => {
                        for f in fields {
                            self.expr(&f.value, None);
                        }
                        Expr::error(span)
                    }
                }
            }
            ast::ExprKind::With { base, fields } => {
                let b = self.expr(base, expected);
                let b = self.plain(b);
                let Type::Record(s) = b.ty else {
                    if !b.ty.is_error() {
                        let t = self.type_name(&b.ty);
                        self.report(
                            Diagnostic::new(Code::NotARecord, b.span, format!("`with` needs a record, found `{t}`"))
                                .with_label("not a record"),
                        );
                    }
                    for f in fields {
                        self.expr(&f.value, None);
                    }
                    return Expr::error(span);
                };
                let mut updates: Vec<(u32, Expr)> = Vec::new();
                for f in fields {
                    let Some(idx) = self.field_index(s, &f.name) else {
                        self.expr(&f.value, None);
                        continue;
                    };
                    if updates.iter().any(|(i, _)| *i == idx) {
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateField,
                                f.name.span,
                                format!("field `{}` is set twice", f.name.name),
                            )
                            .with_label("set again here"),
                        );
                        continue;
                    }
                    let fty = self.program.schemas[s as usize].fields[idx as usize].ty.clone();
                    let v = self.check_as(&f.value, &fty);
                    updates.push((idx, v));
                }
                Expr::new(
                    ExprKind::With {
                        base: Box::new(b),
                        updates,
                    },
                    Type::Record(s),
                    span,
                )
            }
        }
    }

    /// Gives both branches of an `if` one type (promoting `Int` to `Float`, `T` to `T?`).
    fn unify_branches(&mut self, a: Expr, b: Expr) -> (Expr, Expr, Type) {
        if a.ty == b.ty || b.ty.is_error() {
            let t = a.ty.clone();
            return (a, b, t);
        }
        if a.ty.is_error() {
            let t = b.ty.clone();
            return (a, b, t);
        }
        let target = match (&a.ty, &b.ty) {
            (Type::Int, Type::Float) | (Type::Float, Type::Int) => Some(Type::Float),
            (Type::Optional(x), y) if **x == *y => Some(a.ty.clone()),
            (x, Type::Optional(y)) if *x == **y => Some(b.ty.clone()),
            _ => None,
        };
        match target {
            Some(t) => {
                let a = self.coerce(a, &t);
                let b = self.coerce(b, &t);
                (a, b, t)
            }
            None => {
                let (ta, tb) = (self.type_name(&a.ty), self.type_name(&b.ty));
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        b.span,
                        format!("the branches have different types: `{ta}` and `{tb}`"),
                    )
                    .with_label(format!("this is `{tb}`"))
                    .with_secondary(a.span, format!("this is `{ta}`"))
                    .with_help("both branches of an `if` must have the same type"),
                );
                let t = a.ty.clone();
                (a, Expr::error(b.span), t)
            }
        }
    }

    fn list(&mut self, items: &[ast::Expr], expected: Option<&Type>, span: Span) -> Expr {
        let (is_set, elem_hint) = match expected.map(Type::strip_optional) {
            Some(Type::Set(t)) => (true, Some((**t).clone())),
            Some(Type::List(t)) => (false, Some((**t).clone())),
            _ => (false, None),
        };
        let mut out = Vec::with_capacity(items.len());
        let elem = match elem_hint {
            Some(t) => {
                for i in items {
                    out.push(self.check_as(i, &t));
                }
                t
            }
            None => {
                let mut elem: Option<Type> = None;
                for i in items {
                    let x = match &elem {
                        Some(t) => self.check_as(i, t),
                        None => {
                            let x = self.expr(i, None);
                            let x = self.plain(x);
                            if !x.ty.is_error() {
                                elem = Some(x.ty.clone());
                            }
                            x
                        }
                    };
                    out.push(x);
                }
                match elem {
                    Some(t) => t,
                    None if items.is_empty() => {
                        self.report(
                            Diagnostic::new(Code::UntypedList, span, "the element type of this empty list is not known")
                                .with_label("empty list")
                                .with_help("use it where its type is known, e.g. in a field of a record literal or a `const` with a declared type"),
                        );
                        return Expr::error(span);
                    }
                    None => Type::Error,
                }
            }
        };
        if elem.is_error() {
            return Expr::error(span);
        }
        let ty = if is_set {
            Type::Set(Box::new(elem))
        } else {
            Type::List(Box::new(elem))
        };
        Expr::new(ExprKind::Collection(out), ty, span)
    }

    /// The index of `name` in schema `s`, reporting an unknown field.
    pub fn field_index(&mut self, s: ir::SchemaId, name: &ast::Ident) -> Option<u32> {
        let schema = &self.program.schemas[s as usize];
        if let Some(i) = schema.field_index(&name.name) {
            self.uses.push(Use {
                span: name.span,
                target: Target::Field { schema: s, index: i },
            });
            return Some(i);
        }
        let short = schema.name.rsplit('.').next().unwrap_or(&schema.name).to_string();
        let names: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
        let mut d = Diagnostic::new(
            Code::UnknownField,
            name.span,
            format!("`{short}` has no field `{}`", name.name),
        )
        .with_label(format!("not a field of `{short}`"));
        match did_you_mean(&name.name, names.iter().map(String::as_str)) {
            Some(s) => {
                d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                    format!("replace with `{s}`"),
                    vec![Edit {
                        span: name.span,
                        text: s.clone(),
                    }],
                    false,
                );
            }
            None => {
                let list = if names.len() <= 12 {
                    names.join("`, `")
                } else {
                    format!("{}`, …", names[..12].join("`, `"))
                };
                d = d.with_note(format!("`{short}` has: `{list}`"));
            }
        }
        self.report(d);
        None
    }

    fn record(&mut self, s: ir::SchemaId, fields: &[ast::FieldInit], span: Span) -> Expr {
        let n = self.program.schemas[s as usize].fields.len();
        let mut values: Vec<Option<Expr>> = vec![None; n];
        let mut seen: Vec<Option<Span>> = vec![None; n];
        for f in fields {
            let Some(idx) = self.field_index(s, &f.name) else {
                self.expr(&f.value, None);
                continue;
            };
            if let Some(prev) = seen[idx as usize] {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateField,
                        f.name.span,
                        format!("field `{}` is set twice", f.name.name),
                    )
                    .with_label("set again here")
                    .with_secondary(prev, "first set here"),
                );
                continue;
            }
            seen[idx as usize] = Some(f.name.span);
            let fty = self.program.schemas[s as usize].fields[idx as usize].ty.clone();
            values[idx as usize] = Some(self.check_as(&f.value, &fty));
        }
        let missing: Vec<String> = self.program.schemas[s as usize]
            .fields
            .iter()
            .enumerate()
            .filter(|(i, f)| values[*i].is_none() && seen[*i].is_none() && !matches!(f.ty, Type::Optional(_)))
            .map(|(_, f)| f.name.clone())
            .collect();
        if !missing.is_empty() {
            let short = self.program.schemas[s as usize]
                .name
                .rsplit('.')
                .next()
                .unwrap_or("")
                .to_string();
            let list = missing.join("`, `");
            self.report(
                Diagnostic::new(
                    Code::MissingField,
                    span,
                    format!(
                        "this `{short}` leaves out {} required field{}",
                        missing.len(),
                        if missing.len() == 1 { "" } else { "s" }
                    ),
                )
                .with_label(format!("missing `{list}`"))
                .with_help("set every field that is not optional (`T?`); optional fields may be left out"),
            );
        }
        Expr::new(
            ExprKind::Record {
                schema: s,
                fields: values,
            },
            Type::Record(s),
            span,
        )
    }

    // ---- names -------------------------------------------------------------------------------

    fn local(&self, name: &str) -> Option<&super::Local> {
        self.body.locals.iter().rev().find(|l| l.name == name)
    }

    fn name(&mut self, id: &ast::Ident, expected: Option<&Type>) -> Expr {
        let span = id.span;
        if let Some(l) = self.local(&id.name) {
            let (slot, ty, def) = (l.slot, l.ty.clone(), l.span);
            self.uses.push(Use {
                span,
                target: Target::Local(def),
            });
            return Expr::new(ExprKind::Local(slot), ty, span);
        }
        match id.name.as_str() {
            "profile" => return self.profile(span),
            "context" => {
                if self.body.mode == Mode::Constant {
                    return self.not_constant(span, "`context`");
                }
                self.uses.push(Use {
                    span,
                    target: Target::Special("context"),
                });
                return Expr::new(ExprKind::Context, Type::Record(self.program.builtins.context), span);
            }
            _ => {}
        }
        if let Some(r) = self.lookup(self.body.file_index, &id.name) {
            return self.decl_value(r, id, expected);
        }
        // A bare enum variant where an enum is expected.
        if let Some(Type::Enum(e)) = expected.map(Type::strip_optional) {
            if let Some(v) = self.program.enums[*e as usize]
                .variants
                .iter()
                .position(|v| *v == id.name)
            {
                self.uses.push(Use {
                    span,
                    target: Target::Variant {
                        enum_id: *e,
                        index: v as u32,
                    },
                });
                return Expr::new(
                    ExprKind::Lit(Literal::Enum {
                        enum_id: *e,
                        variant: v as u32,
                    }),
                    Type::Enum(*e),
                    span,
                );
            }
        }
        self.unknown_name(id, expected);
        Expr::error(span)
    }

    fn unknown_name(&mut self, id: &ast::Ident, expected: Option<&Type>) {
        if self.symbols.is_poisoned(self.body.file_index, &id.name) {
            // Its declaration or import already failed and was reported.
            return;
        }
        if let Some(Type::Enum(e)) = expected.map(Type::strip_optional) {
            let e = *e;
            let en = self.program.enums[e as usize]
                .name
                .rsplit('.')
                .next()
                .unwrap_or("")
                .to_string();
            let variants = self.program.enums[e as usize].variants.clone();
            let mut d = Diagnostic::new(
                Code::UnknownVariant,
                id.span,
                format!("`{en}` has no variant `{}`", id.name),
            )
            .with_label(format!("expected a `{en}` value"));
            match did_you_mean(&id.name, variants.iter().map(String::as_str)) {
                Some(s) => {
                    d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                        format!("replace with `{s}`"),
                        vec![Edit {
                            span: id.span,
                            text: s.clone(),
                        }],
                        false,
                    );
                }
                None => d = d.with_note(format!("`{en}` has: `{}`", variants.join("`, `"))),
            }
            self.report(d);
            return;
        }
        let mut names: Vec<String> = self.body.locals.iter().map(|l| l.name.clone()).collect();
        names.extend(["profile", "context"].iter().map(|s| s.to_string()));
        names.extend(
            self.symbols
                .visible_names(self.body.file_index)
                .into_iter()
                .map(|(n, _)| n),
        );
        let mut variant_of: Option<String> = None;
        if let Some(Type::Enum(e)) = expected.map(Type::strip_optional) {
            names.extend(self.program.enums[*e as usize].variants.iter().cloned());
        } else {
            // A variant of some enum in scope, written bare where no enum is expected.
            for (n, r) in self.symbols.visible_names(self.body.file_index) {
                if let DeclRef::Enum(e) = r {
                    if self.program.enums[e as usize].variants.contains(&id.name) {
                        variant_of = Some(n);
                        break;
                    }
                }
            }
        }
        let mut d = Diagnostic::new(Code::UnknownName, id.span, format!("unknown name `{}`", id.name))
            .with_label("not defined");
        if let Some(e) = variant_of {
            let full = format!("{e}.{}", id.name);
            d = d
                .with_help(format!(
                    "did you mean the enum value `{full}`? Write the enum's name here"
                ))
                .with_fix(
                    format!("replace with `{full}`"),
                    vec![Edit {
                        span: id.span,
                        text: full.clone(),
                    }],
                    true,
                );
        } else if let Some(s) = did_you_mean(&id.name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                format!("replace with `{s}`"),
                vec![Edit {
                    span: id.span,
                    text: s.clone(),
                }],
                false,
            );
        } else {
            d = d.with_help("define it in this package (e.g. `segment` or `const`), or import it from its package");
        }
        self.report(d);
    }

    fn profile(&mut self, span: Span) -> Expr {
        if self.body.mode == Mode::Constant {
            return self.not_constant(span, "`profile`");
        }
        self.uses.push(Use {
            span,
            target: Target::Special("profile"),
        });
        if let Some(p) = self.program.profile {
            self.used.insert(DeclRef::Schema(p));
            if self.symbols.lookup(self.body.file_index, "Profile") == Some(DeclRef::Schema(p)) {
                self.lookup(self.body.file_index, "Profile");
            }
        }
        match self.program.profile {
            Some(p) => Expr::new(ExprKind::Profile, Type::Record(p), span),
            None => {
                if self.profile_use.is_none() {
                    self.profile_use = Some(span);
                }
                Expr::error(span)
            }
        }
    }

    fn not_constant(&mut self, span: Span, what: &str) -> Expr {
        self.report(
            Diagnostic::new(Code::NonConstantCell, span, format!("{what} is not a constant"))
                .with_label("depends on the request")
                .with_help("constants and table cells cannot read the request (`profile`, `context`, `now()`, segments); use a `segment` or `fn` for values that depend on it"),
        );
        Expr::error(span)
    }

    fn decl_value(&mut self, r: DeclRef, id: &ast::Ident, expected: Option<&Type>) -> Expr {
        let span = id.span;
        let constant = self.body.mode == Mode::Constant;
        self.used.insert(r);
        let wrong = |c: &mut Checker, help: &str| {
            c.report(
                Diagnostic::new(
                    Code::WrongKindOfName,
                    span,
                    format!("`{}` is {}, not a value", id.name, r.describe()),
                )
                .with_label("used as a value here")
                .with_help(help.to_string()),
            );
            Expr::error(span)
        };
        match r {
            DeclRef::Const(c) => {
                self.note_use(r, span);
                let ty = self.const_type(c);
                Expr::new(ExprKind::Const(c), ty, span)
            }
            DeclRef::Segment(s) => {
                if constant {
                    return self.not_constant(span, &format!("segment `{}`", id.name));
                }
                self.note_use(r, span);
                Expr::new(ExprKind::Segment(s), Type::Bool, span)
            }
            DeclRef::Table(t) => {
                self.note_use(r, span);
                if constant {
                    return self.not_constant(span, &format!("table `{}`", id.name));
                }
                let (params, out) = self.table_signature(t);
                if !params.is_empty() {
                    return wrong(
                        self,
                        &format!(
                            "call it with its {} argument{}: `{}(…)`",
                            params.len(),
                            if params.len() == 1 { "" } else { "s" },
                            id.name
                        ),
                    );
                }
                Expr::new(
                    ExprKind::Call {
                        callee: ir::Callee::Table(t),
                        args: Vec::new(),
                    },
                    out,
                    span,
                )
            }
            DeclRef::Decision(d) if self.body.mode == Mode::Test => {
                self.note_use(r, span);
                Expr::new(
                    ExprKind::DecisionResult(d),
                    Type::Record(self.program.builtins.decision_result),
                    span,
                )
            }
            DeclRef::Eligibility(e) if self.body.mode == Mode::Test => {
                self.note_use(r, span);
                Expr::new(
                    ExprKind::EligibilityResult(e),
                    Type::Record(self.program.builtins.eligibility_result),
                    span,
                )
            }
            DeclRef::Decision(_) | DeclRef::Eligibility(_) => {
                self.note_use(r, span);
                let help = if matches!(r, DeclRef::Eligibility(_)) {
                    format!(
                        "in a policy, call it on a candidate: `{}(offer)`; its results are available in `test` blocks",
                        id.name
                    )
                } else {
                    "decision results are available in `test` blocks".to_string()
                };
                self.report(
                    Diagnostic::new(
                        Code::TestOnly,
                        span,
                        format!("the result of `{}` exists only in tests", id.name),
                    )
                    .with_label("not available in a policy")
                    .with_help(help),
                );
                Expr::error(span)
            }
            DeclRef::Enum(_) => {
                let _ = expected;
                wrong(
                    self,
                    &format!("write one of its values, e.g. `{}.{}`", id.name, self.first_variant(r)),
                )
            }
            DeclRef::Schema(_) => wrong(self, &format!("build a record with `{} {{ … }}`", id.name)),
            DeclRef::Function(_) | DeclRef::Ranking(_) => wrong(self, &format!("call it: `{}(…)`", id.name)),
            DeclRef::Experiment(_) => wrong(self, &format!("test the assignment with `{} is variant_name`", id.name)),
        }
    }

    fn first_variant(&self, r: DeclRef) -> String {
        match r {
            DeclRef::Enum(e) => self.program.enums[e as usize]
                .variants
                .first()
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    fn field(&mut self, base: &ast::Expr, field: &ast::Ident, span: Span) -> Expr {
        // `Enum.Variant`
        if let ast::ExprKind::Name(n) = &base.kind {
            if self.local(&n.name).is_none() && n.name != "profile" && n.name != "context" {
                if let Some(r @ DeclRef::Enum(e)) = self.symbols.lookup(self.body.file_index, &n.name) {
                    self.lookup(self.body.file_index, &n.name);
                    self.uses.push(Use {
                        span: n.span,
                        target: Target::Decl(r),
                    });
                    self.used.insert(r);
                    let variants = &self.program.enums[e as usize].variants;
                    if let Some(v) = variants.iter().position(|v| *v == field.name) {
                        self.uses.push(Use {
                            span: field.span,
                            target: Target::Variant {
                                enum_id: e,
                                index: v as u32,
                            },
                        });
                        return Expr::new(
                            ExprKind::Lit(Literal::Enum {
                                enum_id: e,
                                variant: v as u32,
                            }),
                            Type::Enum(e),
                            span,
                        );
                    }
                    let mut d = Diagnostic::new(
                        Code::UnknownVariant,
                        field.span,
                        format!("`{}` has no variant `{}`", n.name, field.name),
                    )
                    .with_label("not a variant");
                    match did_you_mean(&field.name, variants.iter().map(String::as_str)) {
                        Some(s) => {
                            d = d.with_help(format!("did you mean `{}.{s}`?", n.name)).with_fix(
                                format!("replace with `{s}`"),
                                vec![Edit {
                                    span: field.span,
                                    text: s.clone(),
                                }],
                                false,
                            );
                        }
                        None => d = d.with_note(format!("`{}` has: `{}`", n.name, variants.join("`, `"))),
                    }
                    self.report(d);
                    return Expr::error(span);
                }
            }
        }
        let b = self.expr(base, None);
        match &b.ty {
            Type::Record(s) => {
                let s = *s;
                let Some(idx) = self.field_index(s, field) else {
                    return Expr::error(span);
                };
                let ty = self.program.schemas[s as usize].fields[idx as usize].ty.clone();
                Expr::new(
                    ExprKind::Field {
                        base: Box::new(b),
                        index: idx,
                    },
                    ty,
                    span,
                )
            }
            Type::Optional(inner) if matches!(**inner, Type::Record(_)) => {
                self.unhandled_optional(&b);
                Expr::error(span)
            }
            Type::Error => Expr::error(span),
            other => {
                let t = self.type_name(other);
                self.report(
                    Diagnostic::new(Code::NotARecord, field.span, format!("`{t}` has no fields"))
                        .with_label(format!("`.{}` read from a `{t}`", field.name))
                        .with_secondary(b.span, format!("this is `{t}`")),
                );
                Expr::error(span)
            }
        }
    }

    fn is_variant(&mut self, exp: &ast::Expr, variant: &ast::Ident, span: Span) -> Expr {
        let ast::ExprKind::Name(n) = &exp.kind else {
            self.report(
                Diagnostic::new(Code::WrongKindOfName, exp.span, "`is` tests an experiment's assignment")
                    .with_label("expected an experiment name"),
            );
            return Expr::error(span);
        };
        match self.lookup(self.body.file_index, &n.name) {
            Some(r @ DeclRef::Experiment(x)) => {
                if self.body.mode == Mode::Constant {
                    return self.not_constant(span, "an experiment assignment");
                }
                self.note_use(r, n.span);
                let names: Vec<String> = self.experiment_variants(x);
                let has_holdout = self
                    .program
                    .experiments
                    .get(x as usize)
                    .is_some_and(|e| e.holdout_bp > 0);
                if variant.name == "holdout" && has_holdout && !names.contains(&variant.name) {
                    return Expr::new(
                        ExprKind::ExperimentIs {
                            experiment: x,
                            variant: ir::HOLDOUT_VARIANT,
                        },
                        Type::Bool,
                        span,
                    );
                }
                if let Some(v) = names.iter().position(|v| *v == variant.name) {
                    return Expr::new(
                        ExprKind::ExperimentIs {
                            experiment: x,
                            variant: v as u32,
                        },
                        Type::Bool,
                        span,
                    );
                }
                let mut d = Diagnostic::new(
                    Code::UnknownExperimentVariant,
                    variant.span,
                    format!("experiment `{}` has no variant `{}`", n.name, variant.name),
                )
                .with_label("not a variant of this experiment");
                if let Some(s) = did_you_mean(&variant.name, names.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                d = d.with_note(format!("its variants are `{}`", names.join("`, `")));
                self.report(d);
                Expr::error(span)
            }
            Some(other) => {
                self.report(
                    Diagnostic::new(
                        Code::WrongKindOfName,
                        n.span,
                        format!("`{}` is {}, not an experiment", n.name, other.describe()),
                    )
                    .with_label("`is` tests an experiment's assignment"),
                );
                Expr::error(span)
            }
            None => {
                self.unknown_name(n, None);
                Expr::error(span)
            }
        }
    }

    // ---- operators -----------------------------------------------------------------------------

    fn unary(&mut self, op: ast::UnOp, operand: &ast::Expr, span: Span) -> Expr {
        match op {
            ast::UnOp::Not => {
                let x = self.check_as(operand, &Type::Bool);
                Expr::new(
                    ExprKind::Unary {
                        op: UnaryOp::Not,
                        operand: Box::new(x),
                    },
                    Type::Bool,
                    span,
                )
            }
            ast::UnOp::Neg => {
                let x = self.expr(operand, None);
                let x = self.plain(x);
                match x.ty {
                    Type::Int | Type::Float | Type::Duration | Type::Error => {
                        let ty = x.ty.clone();
                        Expr::new(
                            ExprKind::Unary {
                                op: UnaryOp::Neg,
                                operand: Box::new(x),
                            },
                            ty,
                            span,
                        )
                    }
                    ref other => {
                        let t = self.type_name(other);
                        self.report(
                            Diagnostic::new(Code::InvalidOperands, span, format!("cannot negate a `{t}`"))
                                .with_label("`-` needs a number or a duration"),
                        );
                        Expr::error(span)
                    }
                }
            }
            ast::UnOp::Exists => {
                let x = self.expr(operand, None);
                if !matches!(x.ty, Type::Optional(_) | Type::Error) {
                    let t = self.type_name(&x.ty);
                    self.report(
                        Diagnostic::new(
                            Code::UnnecessaryHandling,
                            x.span,
                            format!("this value is never missing (`{t}`)"),
                        )
                        .with_label("not optional, so `exists` is always true"),
                    );
                    return Expr::new(ExprKind::Lit(Literal::Bool(true)), Type::Bool, span);
                }
                Expr::new(
                    ExprKind::Unary {
                        op: UnaryOp::Exists,
                        operand: Box::new(x),
                    },
                    Type::Bool,
                    span,
                )
            }
        }
    }

    fn binary(&mut self, op: ast::BinOp, lhs: &ast::Expr, rhs: &ast::Expr, span: Span) -> Expr {
        use ast::BinOp as B;
        let mk = |op: BinaryOp, l: Expr, r: Expr, ty: Type| {
            Expr::new(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                },
                ty,
                span,
            )
        };
        match op {
            B::And | B::Or => {
                let l = self.check_as(lhs, &Type::Bool);
                let r = self.check_as(rhs, &Type::Bool);
                mk(
                    if op == B::And { BinaryOp::And } else { BinaryOp::Or },
                    l,
                    r,
                    Type::Bool,
                )
            }
            B::Eq | B::Ne => {
                let (l, r) = self.operands_same_type(lhs, rhs, self.body.mode == Mode::Test);
                mk(if op == B::Eq { BinaryOp::Eq } else { BinaryOp::Ne }, l, r, Type::Bool)
            }
            B::Lt | B::Le | B::Gt | B::Ge => {
                let (l, r) = self.operands_same_type(lhs, rhs, false);
                let t = if l.ty.is_error() { &r.ty } else { &l.ty };
                if !matches!(
                    t,
                    Type::Int | Type::Float | Type::String | Type::Duration | Type::Timestamp | Type::Error
                ) {
                    let name = self.type_name(t);
                    self.report(
                        Diagnostic::new(Code::NotOrdered, span, format!("`{name}` values cannot be compared with `{}`", op.symbol()))
                            .with_label("no order")
                            .with_help("`<`, `<=`, `>`, `>=` work on numbers, strings, durations and timestamps; use `==` or `!=` here"),
                    );
                    return Expr::error(span);
                }
                let o = match op {
                    B::Lt => BinaryOp::Lt,
                    B::Le => BinaryOp::Le,
                    B::Gt => BinaryOp::Gt,
                    _ => BinaryOp::Ge,
                };
                mk(o, l, r, Type::Bool)
            }
            B::In | B::Contains => {
                let (elem_ast, coll_ast) = if op == B::In { (lhs, rhs) } else { (rhs, lhs) };
                if matches!(coll_ast.kind, ast::ExprKind::List(_)) {
                    // A literal list takes its element type from the element: `c in [Web, App]`.
                    let e = self.expr(elem_ast, None);
                    let e = self.plain(e);
                    if e.ty.is_error() {
                        self.expr(coll_ast, None);
                        return Expr::error(span);
                    }
                    let want = Type::Set(Box::new(e.ty.clone()));
                    let coll = self.check_as(coll_ast, &want);
                    return mk(BinaryOp::In, e, coll, Type::Bool);
                }
                let coll = self.expr(coll_ast, None);
                let coll = self.plain(coll);
                match coll.ty.clone() {
                    Type::Set(t) | Type::List(t) => {
                        let e = self.check_as(elem_ast, &t);
                        mk(BinaryOp::In, e, coll, Type::Bool)
                    }
                    Type::String => {
                        let e = self.check_as(elem_ast, &Type::String);
                        mk(BinaryOp::StrContains, coll, e, Type::Bool)
                    }
                    Type::Error => {
                        self.expr(elem_ast, None);
                        Expr::error(span)
                    }
                    other => {
                        let t = self.type_name(&other);
                        self.report(
                            Diagnostic::new(Code::NotACollection, coll.span, format!("`{t}` is not a collection"))
                                .with_label(format!("`{}` needs a set, a list or a string here", op.symbol()))
                                .with_help(if op == B::In {
                                    "write `x in xs` with `xs` a set or list"
                                } else {
                                    "write `xs contains x` with `xs` a set or list"
                                }),
                        );
                        self.expr(elem_ast, None);
                        Expr::error(span)
                    }
                }
            }
            B::Coalesce => {
                let l = self.expr(lhs, None);
                match l.ty.clone() {
                    Type::Optional(inner) => {
                        let r = self.expr(rhs, Some(&inner));
                        let (r, ty) = if matches!(r.ty, Type::Optional(_)) {
                            let r = self.coerce(r, &l.ty);
                            (r, l.ty.clone())
                        } else {
                            (self.coerce(r, &inner), (*inner).clone())
                        };
                        Expr::new(
                            ExprKind::Coalesce {
                                value: Box::new(l),
                                default: Box::new(r),
                            },
                            ty,
                            span,
                        )
                    }
                    Type::Error => {
                        self.expr(rhs, None);
                        Expr::error(span)
                    }
                    other => {
                        let t = self.type_name(&other);
                        self.report(
                            Diagnostic::new(
                                Code::UnnecessaryHandling,
                                l.span,
                                format!("this value is never missing (`{t}`)"),
                            )
                            .with_label("not optional, so the default is never used")
                            .with_help("remove `?? …`"),
                        );
                        let _ = self.check_as(rhs, &other);
                        l
                    }
                }
            }
            B::Add | B::Sub | B::Mul | B::Div | B::Rem => self.arith(op, lhs, rhs, span),
        }
    }

    /// Checks two operands that must have one type (numbers promote).
    fn operands_same_type(&mut self, lhs: &ast::Expr, rhs: &ast::Expr, allow_optional: bool) -> (Expr, Expr) {
        let before = self.diags.len();
        let l = self.expr(lhs, None);
        let from_lhs = self.diags.len() - before;
        let r = self.expr(rhs, Some(l.ty.strip_optional()).filter(|t| !t.is_error()));
        // A bare enum variant on the left: check again now that the right side is known.
        let l = if l.ty.is_error()
            && !r.ty.is_error()
            && matches!(lhs.kind, ast::ExprKind::Name(_))
            && matches!(r.ty.strip_optional(), Type::Enum(_))
        {
            let retry_start = self.diags.len();
            let again = self.expr(lhs, Some(r.ty.strip_optional()));
            if !again.ty.is_error() {
                // The first attempt's report (an unknown name) was wrong: forget it.
                self.diags.truncate(retry_start);
                self.diags.drain(before..before + from_lhs);
            }
            again
        } else {
            l
        };
        let (l, r) = if allow_optional {
            match (&l.ty, &r.ty) {
                (Type::Optional(a), b) if **a == *b || (a.is_numeric() && b.is_numeric()) => {
                    let t = l.ty.clone();
                    let r = self.coerce(r, &t);
                    (l, r)
                }
                (a, Type::Optional(b)) if *a == **b || (a.is_numeric() && b.is_numeric()) => {
                    let t = r.ty.clone();
                    let l = self.coerce(l, &t);
                    (l, r)
                }
                _ => (l, r),
            }
        } else {
            (self.plain(l), self.plain(r))
        };
        if l.ty == r.ty || l.ty.is_error() || r.ty.is_error() {
            return (l, r);
        }
        match (&l.ty, &r.ty) {
            (Type::Int, Type::Float) => (self.coerce(l, &Type::Float), r),
            (Type::Float, Type::Int) => (l, self.coerce(r, &Type::Float)),
            _ => {
                let (tl, tr) = (self.type_name(&l.ty), self.type_name(&r.ty));
                let mut d = Diagnostic::new(Code::TypeMismatch, r.span, format!("cannot compare `{tl}` with `{tr}`"))
                    .with_label(format!("this is `{tr}`"))
                    .with_secondary(l.span, format!("this is `{tl}`"));
                if let (Type::Enum(e), Type::String) = (&l.ty, &r.ty) {
                    let vs = self.program.enums[*e as usize].variants.join("`, `");
                    d = d.with_help(format!("enum values are written without quotes: one of `{vs}`"));
                }
                self.report(d);
                let span = r.span;
                (l, Expr::error(span))
            }
        }
    }

    fn arith(&mut self, op: ast::BinOp, lhs: &ast::Expr, rhs: &ast::Expr, span: Span) -> Expr {
        use ast::BinOp as B;
        use Type as T;
        let l = self.expr(lhs, None);
        let l = self.plain(l);
        let r = self.expr(rhs, None);
        let r = self.plain(r);
        if l.ty.is_error() || r.ty.is_error() {
            return Expr::error(span);
        }
        let irop = match op {
            B::Add => BinaryOp::Add,
            B::Sub => BinaryOp::Sub,
            B::Mul => BinaryOp::Mul,
            B::Div => BinaryOp::Div,
            _ => BinaryOp::Rem,
        };
        let mk = |l: Expr, r: Expr, ty: Type| {
            Expr::new(
                ExprKind::Binary {
                    op: irop,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                },
                ty,
                span,
            )
        };
        let result = match (op, &l.ty, &r.ty) {
            (_, T::Int, T::Int) => Some(T::Int),
            (_, T::Float, T::Float) | (_, T::Int, T::Float) | (_, T::Float, T::Int) => Some(T::Float),
            (B::Add | B::Sub, T::Duration, T::Duration) => Some(T::Duration),
            (B::Add | B::Sub, T::Timestamp, T::Duration) => Some(T::Timestamp),
            (B::Add, T::Duration, T::Timestamp) => Some(T::Timestamp),
            (B::Sub, T::Timestamp, T::Timestamp) => Some(T::Duration),
            (B::Add, T::String, T::String) => Some(T::String),
            (B::Mul | B::Div, T::Duration, T::Int) => Some(T::Duration),
            (B::Mul, T::Int, T::Duration) => Some(T::Duration),
            _ => None,
        };
        match result {
            Some(T::Float) => {
                let l = self.coerce(l, &T::Float);
                let r = self.coerce(r, &T::Float);
                mk(l, r, T::Float)
            }
            Some(T::Timestamp) if l.ty == T::Duration => mk(r, l, T::Timestamp),
            Some(T::Duration) if l.ty == T::Int => mk(r, l, T::Duration),
            Some(t) => mk(l, r, t),
            None => {
                let (tl, tr) = (self.type_name(&l.ty), self.type_name(&r.ty));
                let verb = match op {
                    B::Add => "add",
                    B::Sub => "subtract",
                    B::Mul => "multiply",
                    B::Div => "divide",
                    _ => "take the remainder of",
                };
                let mut d = Diagnostic::new(Code::InvalidOperands, span, format!("cannot {verb} `{tl}` and `{tr}`"))
                    .with_label(format!("`{}` is not defined for `{tl}` and `{tr}`", op.symbol()))
                    .with_secondary(l.span, format!("`{tl}`"))
                    .with_secondary(r.span, format!("`{tr}`"));
                if (l.ty == T::Duration && r.ty == T::Float) || (l.ty == T::Float && r.ty == T::Duration) {
                    d = d.with_help("durations multiply and divide by `Int`s only: use `round(x)`");
                } else if l.ty == T::String || r.ty == T::String {
                    d = d.with_help("`+` joins two strings; other operators need numbers");
                }
                self.report(d);
                Expr::error(span)
            }
        }
    }

    // ---- calls -------------------------------------------------------------------------------

    fn call(&mut self, func: &ast::Ident, args: &[ast::Expr], span: Span) -> Expr {
        if func.name == "now"
            && self.local("now").is_none()
            && self.symbols.lookup(self.body.file_index, "now").is_none()
        {
            if !args.is_empty() {
                self.arity(func, 0, args.len(), span);
            }
            if self.body.mode == Mode::Constant {
                return self.not_constant(span, "`now()`");
            }
            return Expr::new(ExprKind::Now, Type::Timestamp, span);
        }
        if let Some(r) = self.lookup(self.body.file_index, &func.name) {
            let (callee, params, ret): (ir::Callee, Vec<Type>, Type) = match r {
                DeclRef::Function(f) => {
                    let (p, ret) = self.function_signature(f);
                    (ir::Callee::Function(f), p, ret)
                }
                DeclRef::Table(t) => {
                    let (p, ret) = self.table_signature(t);
                    (ir::Callee::Table(t), p, ret)
                }
                DeclRef::Eligibility(e) => (ir::Callee::Eligibility(e), vec![self.binder_type(r)], Type::Bool),
                DeclRef::Ranking(k) => (ir::Callee::Ranking(k), vec![self.binder_type(r)], Type::Float),
                other => {
                    self.used.insert(other);
                    self.report(
                        Diagnostic::new(
                            Code::WrongKindOfName,
                            func.span,
                            format!("`{}` is {}, not a function", func.name, other.describe()),
                        )
                        .with_label("cannot be called"),
                    );
                    for a in args {
                        self.expr(a, None);
                    }
                    return Expr::error(span);
                }
            };
            self.note_use(r, func.span);
            if self.body.mode == Mode::Constant && !matches!(r, DeclRef::Function(_)) {
                return self.not_constant(span, &format!("`{}(…)`", func.name));
            }
            if params.len() != args.len() {
                self.arity(func, params.len(), args.len(), span);
                for a in args {
                    self.expr(a, None);
                }
                return Expr::error(span);
            }
            let args: Vec<Expr> = args.iter().zip(&params).map(|(a, p)| self.check_as(a, p)).collect();
            return Expr::new(ExprKind::Call { callee, args }, ret, span);
        }
        if let Some(b) = crate::stdlib::builtin_by_name(&func.name) {
            self.uses.push(Use {
                span: func.span,
                target: Target::Builtin(b),
            });
            return self.builtin_call(b, func, args, span);
        }
        if self.symbols.is_poisoned(self.body.file_index, &func.name) {
            for a in args {
                self.expr(a, None);
            }
            return Expr::error(span);
        }
        let mut names: Vec<String> = crate::stdlib::FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
        names.push("now".into());
        names.extend(
            self.symbols
                .visible_names(self.body.file_index)
                .into_iter()
                .filter(|(_, r)| {
                    matches!(
                        r,
                        DeclRef::Function(_) | DeclRef::Table(_) | DeclRef::Eligibility(_) | DeclRef::Ranking(_)
                    )
                })
                .map(|(n, _)| n),
        );
        let mut d = Diagnostic::new(
            Code::UnknownFunction,
            func.span,
            format!("unknown function `{}`", func.name),
        )
        .with_label("not defined");
        if let Some(s) = did_you_mean(&func.name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                format!("replace with `{s}`"),
                vec![Edit {
                    span: func.span,
                    text: s.clone(),
                }],
                false,
            );
        } else {
            d = d.with_help("see docs/stdlib.md for the built-in functions, or declare it with `fn`");
        }
        self.report(d);
        for a in args {
            self.expr(a, None);
        }
        Expr::error(span)
    }

    pub fn arity(&mut self, func: &ast::Ident, want: usize, got: usize, span: Span) {
        self.report(
            Diagnostic::new(
                Code::WrongArgumentCount,
                span,
                format!(
                    "`{}` takes {want} argument{}, but {got} {} given",
                    func.name,
                    if want == 1 { "" } else { "s" },
                    if got == 1 { "was" } else { "were" }
                ),
            )
            .with_label(format!("{got} given")),
        );
    }
}
