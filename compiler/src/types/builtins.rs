//! Type rules of the built-in functions (documented in `stdlib.rs`). Several are generic over
//! collections or numbers, so each has its own rule here rather than a fixed signature.

use super::{Checker, Mode};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{Builtin, Expr, ExprKind, Type};
use crate::source::Span;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn builtin_call(&mut self, b: Builtin, func: &ast::Ident, args: &[ast::Expr], span: Span) -> Expr {
        use Builtin as B;
        let want = match b {
            B::SubjectId => 0,
            B::Lower
            | B::Upper
            | B::Trim
            | B::Len
            | B::IsEmpty
            | B::Abs
            | B::Round
            | B::Floor
            | B::Ceil
            | B::ToFloat
            | B::Sqrt
            | B::Ln
            | B::Days
            | B::Hours
            | B::Minutes
            | B::DaysSince
            | B::HourOfDay
            | B::DayOfWeek => 1,
            B::StartsWith | B::EndsWith | B::Intersects | B::Min | B::Max | B::Bucket => 2,
            B::Clamp => 3,
        };
        if args.len() != want {
            self.arity(func, want, args.len(), span);
            for a in args {
                self.expr(a, None);
            }
            return Expr::error(span);
        }
        if matches!(b, B::SubjectId | B::DaysSince) && self.body.mode == Mode::Constant {
            self.report(
                Diagnostic::new(
                    Code::NonConstantCell,
                    span,
                    format!("`{}(…)` is not a constant", func.name),
                )
                .with_label("depends on the request"),
            );
            return Expr::error(span);
        }
        let mk = |args: Vec<Expr>, ty: Type| Expr::new(ExprKind::Builtin { func: b, args }, ty, span);
        match b {
            B::SubjectId => mk(Vec::new(), Type::String),
            B::Lower | B::Upper | B::Trim => {
                let a = self.check_as(&args[0], &Type::String);
                mk(vec![a], Type::String)
            }
            B::StartsWith | B::EndsWith => {
                let a = self.check_as(&args[0], &Type::String);
                let c = self.check_as(&args[1], &Type::String);
                mk(vec![a, c], Type::Bool)
            }
            B::Bucket => {
                let a = self.check_as(&args[0], &Type::String);
                let c = self.check_as(&args[1], &Type::String);
                mk(vec![a, c], Type::Int)
            }
            B::Len | B::IsEmpty => {
                let a = self.expr(&args[0], None);
                let a = self.require_plain(a);
                if !matches!(a.ty, Type::String | Type::Set(_) | Type::List(_) | Type::Error) {
                    self.arg_error(func, &a, "a string, set or list");
                    return Expr::error(span);
                }
                mk(vec![a], if b == B::Len { Type::Int } else { Type::Bool })
            }
            B::Intersects => {
                let a = self.expr(&args[0], None);
                let a = self.require_plain(a);
                let Some(elem) = a.ty.element().cloned() else {
                    if !a.ty.is_error() {
                        self.arg_error(func, &a, "a set or list");
                    }
                    self.expr(&args[1], None);
                    return Expr::error(span);
                };
                let c = self.expr(&args[1], Some(&Type::Set(Box::new(elem.clone()))));
                let c = self.require_plain(c);
                match c.ty.element() {
                    Some(e2) if *e2 == elem => mk(vec![a, c], Type::Bool),
                    _ if c.ty.is_error() => Expr::error(span),
                    _ => {
                        let t = self.type_name(&a.ty);
                        self.arg_error(
                            func,
                            &c,
                            &format!("a collection of the same elements as the first argument (`{t}`)"),
                        );
                        Expr::error(span)
                    }
                }
            }
            B::Abs => {
                let a = self.expr(&args[0], None);
                let a = self.require_plain(a);
                if !matches!(a.ty, Type::Int | Type::Float | Type::Duration | Type::Error) {
                    self.arg_error(func, &a, "a number or a duration");
                    return Expr::error(span);
                }
                let t = a.ty.clone();
                mk(vec![a], t)
            }
            B::Min | B::Max | B::Clamp => {
                let mut xs: Vec<Expr> = Vec::new();
                for a in args {
                    let x = self.expr(a, None);
                    xs.push(self.require_plain(x));
                }
                if xs.iter().any(|x| x.ty.is_error()) {
                    return Expr::error(span);
                }
                let t = if xs.iter().all(|x| x.ty.is_numeric()) {
                    if xs.iter().any(|x| x.ty == Type::Float) {
                        Type::Float
                    } else {
                        Type::Int
                    }
                } else {
                    xs[0].ty.clone()
                };
                if !matches!(t, Type::Int | Type::Float | Type::Duration | Type::Timestamp) {
                    let first = xs[0].clone();
                    self.arg_error(func, &first, "numbers, durations or timestamps");
                    return Expr::error(span);
                }
                let xs: Vec<Expr> = xs.into_iter().map(|x| self.coerce(x, &t)).collect();
                if xs.iter().any(|x| x.ty.is_error()) {
                    return Expr::error(span);
                }
                mk(xs, t)
            }
            B::Round | B::Floor | B::Ceil => {
                let a = self.check_as(&args[0], &Type::Float);
                mk(vec![a], Type::Int)
            }
            B::ToFloat => {
                let a = self.check_as(&args[0], &Type::Int);
                mk(vec![a], Type::Float)
            }
            B::Sqrt | B::Ln => {
                let a = self.check_as(&args[0], &Type::Float);
                mk(vec![a], Type::Float)
            }
            B::Days | B::Hours | B::Minutes => {
                let a = self.check_as(&args[0], &Type::Duration);
                mk(vec![a], Type::Int)
            }
            B::DaysSince | B::HourOfDay | B::DayOfWeek => {
                let a = self.check_as(&args[0], &Type::Timestamp);
                mk(vec![a], Type::Int)
            }
        }
    }

    fn require_plain(&mut self, e: Expr) -> Expr {
        if matches!(e.ty, Type::Optional(_)) {
            self.unhandled_optional(&e);
            return Expr::error(e.span);
        }
        e
    }

    fn arg_error(&mut self, func: &ast::Ident, arg: &Expr, wanted: &str) {
        let t = self.type_name(&arg.ty);
        let sig = crate::stdlib::FUNCTIONS
            .iter()
            .find(|f| f.name == func.name)
            .map(|f| f.signature)
            .unwrap_or("");
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                arg.span,
                format!("`{}` needs {wanted}, found `{t}`", func.name),
            )
            .with_label(format!("this is `{t}`"))
            .with_note(format!("signature: `{sig}`")),
        );
    }
}
