//! Whole-bundle facts: definitions that refer to themselves (which would make evaluation
//! non-terminating, so they are errors), and definitions nothing uses (warnings).

use super::Checker;
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{BinaryOp, Expr, ExprKind, Literal, UnaryOp};
use crate::resolve::DeclRef;
use crate::source::Span;
use std::collections::{HashMap, HashSet};

/// The value of a `Bool` expression when it does not depend on any input.
pub(super) fn const_bool(e: &Expr) -> Option<bool> {
    match &e.kind {
        ExprKind::Lit(Literal::Bool(b)) => Some(*b),
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => const_bool(operand).map(|b| !b),
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => match (const_bool(lhs), const_bool(rhs)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        ExprKind::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => match (const_bool(lhs), const_bool(rhs)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        ExprKind::Binary {
            op: op @ (BinaryOp::Eq | BinaryOp::Ne),
            lhs,
            rhs,
        } => match (&lhs.kind, &rhs.kind) {
            (ExprKind::Lit(a), ExprKind::Lit(b))
                if !matches!(a, Literal::Float(_)) && !matches!(b, Literal::Float(_)) =>
            {
                Some((a == b) == (*op == BinaryOp::Eq))
            }
            _ => None,
        },
        ExprKind::Binary {
            op: op @ (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge),
            lhs,
            rhs,
        } => {
            let ord = match (&lhs.kind, &rhs.kind) {
                (ExprKind::Lit(Literal::Int(a)), ExprKind::Lit(Literal::Int(b)))
                | (ExprKind::Lit(Literal::Duration(a)), ExprKind::Lit(Literal::Duration(b)))
                | (ExprKind::Lit(Literal::Timestamp(a)), ExprKind::Lit(Literal::Timestamp(b))) => a.cmp(b),
                (ExprKind::Lit(Literal::String(a)), ExprKind::Lit(Literal::String(b))) => a.cmp(b),
                _ => return None,
            };
            Some(match op {
                BinaryOp::Lt => ord.is_lt(),
                BinaryOp::Le => ord.is_le(),
                BinaryOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        _ => None,
    }
}

impl Checker<'_> {
    /// Reports each cycle of references among segments, constants, functions, tables,
    /// eligibility blocks and rankings once.
    pub(super) fn check_recursion(&mut self) {
        let nodes: Vec<DeclRef> = {
            let mut v: Vec<DeclRef> = self.deps.keys().copied().collect();
            v.sort();
            v
        };
        let edges: HashMap<DeclRef, Vec<(DeclRef, Span)>> = self
            .deps
            .iter()
            .map(|(k, v)| {
                let vs = v
                    .iter()
                    .filter(|(t, _)| {
                        matches!(
                            t,
                            DeclRef::Segment(_)
                                | DeclRef::Const(_)
                                | DeclRef::Function(_)
                                | DeclRef::Table(_)
                                | DeclRef::Eligibility(_)
                                | DeclRef::Ranking(_)
                        )
                    })
                    .copied()
                    .collect();
                (*k, vs)
            })
            .collect();
        let mut reported: HashSet<DeclRef> = HashSet::new();
        for &start in &nodes {
            if reported.contains(&start) {
                continue;
            }
            // Depth-first search for a path from `start` back to itself.
            let mut stack: Vec<(DeclRef, usize)> = vec![(start, 0)];
            let mut path: Vec<(DeclRef, Span)> = Vec::new();
            let mut visited: HashSet<DeclRef> = HashSet::new();
            let mut found: Option<Vec<(DeclRef, Span)>> = None;
            while let Some((node, idx)) = stack.pop() {
                let outs = edges.get(&node).map(Vec::as_slice).unwrap_or(&[]);
                if idx < outs.len() {
                    stack.push((node, idx + 1));
                    let (next, span) = outs[idx];
                    if next == start {
                        let mut p = path.clone();
                        p.push((next, span));
                        found = Some(p);
                        break;
                    }
                    if visited.insert(next) {
                        path.push((next, span));
                        stack.push((next, 0));
                    }
                } else if !path.is_empty() && path.last().map(|p| p.0) == Some(node) {
                    path.pop();
                }
            }
            let Some(cycle) = found else { continue };
            let name = |c: &Checker, r: DeclRef| c.symbols.info(r).map(|i| i.name.clone()).unwrap_or_default();
            let Some(info) = self.symbols.info(start).cloned() else {
                continue;
            };
            let members: Vec<DeclRef> = cycle.iter().map(|(r, _)| *r).collect();
            let msg = if members.len() == 1 {
                format!("`{}` refers to itself", info.name)
            } else {
                let via: Vec<String> = members[..members.len() - 1]
                    .iter()
                    .map(|r| format!("`{}`", name(self, *r)))
                    .collect();
                format!("`{}` refers to itself through {}", info.name, via.join(", "))
            };
            let mut d = Diagnostic::new(Code::RecursiveDefinition, info.name_span, msg)
                .with_label("defined here")
                .with_help("policies must always finish: no definition may depend on itself; compute the value without the self-reference");
            for (r, span) in &cycle {
                d = d.with_secondary(*span, format!("uses `{}`", name(self, *r)));
            }
            self.report(d);
            reported.extend(members);
            reported.insert(start);
        }
    }

    pub(super) fn warn_unused(&mut self) {
        // With a declaration that failed to parse, "unused" would mostly mean "used only by the
        // broken code": noise on top of the real error.
        if self.files.iter().any(|(_, f)| {
            f.decls
                .iter()
                .any(|d| matches!(d.kind, crate::syntax::ast::DeclKind::Error))
        }) {
            return;
        }
        let mut unused: Vec<(DeclRef, Span, String)> = Vec::new();
        for (r, info) in &self.symbols.decls {
            if info.package == crate::resolve::STD || self.used.contains(r) {
                continue;
            }
            // A second definition of a name was already reported as a duplicate.
            let registered = self.symbols.packages.get(&info.package).and_then(|m| m.get(&info.name)) == Some(r);
            if !registered {
                continue;
            }
            if matches!(r, DeclRef::Enum(_) | DeclRef::Schema(_) | DeclRef::Decision(_)) {
                continue;
            }
            unused.push((*r, info.name_span, info.name.clone()));
        }
        unused.sort_by_key(|u| u.1);
        for (r, span, name) in unused {
            let d = match r {
                DeclRef::Segment(_) => {
                    Diagnostic::new(Code::UnusedSegment, span, format!("segment `{name}` is never used"))
                        .with_label("never used")
                        .with_help("use it in a rule, ranking, table or test, or remove it")
                }
                other => {
                    let what = other
                        .describe()
                        .trim_start_matches("an ")
                        .trim_start_matches("a ")
                        .to_string();
                    Diagnostic::new(Code::UnusedDefinition, span, format!("{what} `{name}` is never used"))
                        .with_label("never used")
                        .with_help("use it (a decision, rule or test), or remove it")
                }
            };
            self.report(d);
        }
        let mut imports: Vec<(Span, String)> = Vec::new();
        for (fi, scope) in self.symbols.scopes.iter().enumerate() {
            for (name, b) in &scope.imports {
                if !self.used_imports.contains(&(fi, name.clone())) {
                    imports.push((b.span, name.clone()));
                }
            }
        }
        imports.sort();
        for (span, name) in imports {
            self.report(
                Diagnostic::new(Code::UnusedImport, span, format!("`{name}` is imported but never used"))
                    .with_label("unused import")
                    .with_help("remove it from the import"),
            );
        }
    }
}
