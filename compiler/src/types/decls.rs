//! Checking declarations: signatures first (so bodies can refer to anything in any order),
//! then constants, segments, functions, eligibility, rankings, experiments, decisions and tests.

use super::{Checker, Mode};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, Expr, ExprKind, Literal, Type};
use crate::resolve::DeclRef;
use crate::source::Span;
use crate::syntax::ast;

/// Default `max` of a decision.
const DEFAULT_MAX: u32 = 1;
/// Default `ttl` of a decision: five minutes.
const DEFAULT_TTL_MS: i64 = 5 * 60 * 1000;
/// Default age of a `seen` impression in a test: one minute.
const DEFAULT_SEEN_AGO_MS: i64 = 60 * 1000;

impl<'a> Checker<'a> {
    pub(super) fn const_type(&self, c: ir::ConstId) -> Type {
        self.program
            .consts
            .get(c as usize)
            .map(|d| d.ty.clone())
            .unwrap_or(Type::Error)
    }

    pub(super) fn function_signature(&self, f: ir::FunctionId) -> (Vec<Type>, Type) {
        self.program
            .functions
            .get(f as usize)
            .map(|d| (d.params.clone(), d.ret.clone()))
            .unwrap_or((Vec::new(), Type::Error))
    }

    /// Parameter types and the type of a call (for `collect`, a list of outputs).
    pub(super) fn table_signature(&self, t: ir::TableId) -> (Vec<Type>, Type) {
        self.program
            .tables
            .get(t as usize)
            .map(|d| {
                let out = if d.hit == ir::HitPolicy::Collect && !d.output.is_error() {
                    Type::List(Box::new(d.output.clone()))
                } else {
                    d.output.clone()
                };
                (d.params.clone(), out)
            })
            .unwrap_or((Vec::new(), Type::Error))
    }

    pub(super) fn binder_type(&self, r: DeclRef) -> Type {
        let schema = match r {
            DeclRef::Eligibility(e) => self.program.eligibilities.get(e as usize).map(|d| d.schema),
            DeclRef::Ranking(k) => self.program.rankings.get(k as usize).map(|d| d.schema),
            _ => None,
        };
        match schema {
            Some(s) if s != u32::MAX => Type::Record(s),
            _ => Type::Error,
        }
    }

    pub(super) fn experiment_variants(&self, x: ir::ExperimentId) -> Vec<String> {
        self.program
            .experiments
            .get(x as usize)
            .map(|e| e.variants.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default()
    }

    fn params(&mut self, fi: usize, params: &[ast::Param]) -> Vec<Type> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for p in params {
            if seen.contains(&p.name.name.as_str()) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateParameter,
                        p.name.span,
                        format!("parameter `{}` is declared twice", p.name.name),
                    )
                    .with_label("declared again here"),
                );
            }
            seen.push(&p.name.name);
            out.push(self.resolve_type(fi, &p.ty));
        }
        out
    }

    fn binder_schema(&mut self, fi: usize, binder: &ast::Param) -> u32 {
        match self.resolve_type(fi, &binder.ty) {
            Type::Record(s) => s,
            Type::Error => u32::MAX,
            other => {
                let t = self.type_name(&other);
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        binder.ty.span,
                        format!("candidates are records, not `{t}`"),
                    )
                    .with_label("expected a schema name")
                    .with_help("write the schema of the catalog items, e.g. `for offer: Offer`"),
                );
                u32::MAX
            }
        }
    }

    fn qualified_name(&self, fi: usize, name: &ast::Ident) -> String {
        format!("{}.{}", self.package_of(fi), name.name)
    }

    pub(super) fn check_bodies(&mut self) {
        let consts = self.decls_of(|k| match k {
            ast::DeclKind::Const(c) => Some(c),
            _ => None,
        });
        let segments = self.decls_of(|k| match k {
            ast::DeclKind::Segment(s) => Some(s),
            _ => None,
        });
        let fns = self.decls_of(|k| match k {
            ast::DeclKind::Fn(f) => Some(f),
            _ => None,
        });
        let tables = self.decls_of(|k| match k {
            ast::DeclKind::Table(t) => Some(t),
            _ => None,
        });
        let eligs = self.decls_of(|k| match k {
            ast::DeclKind::Eligibility(e) => Some(e),
            _ => None,
        });
        let ranks = self.decls_of(|k| match k {
            ast::DeclKind::Ranking(r) => Some(r),
            _ => None,
        });
        let exps = self.decls_of(|k| match k {
            ast::DeclKind::Experiment(x) => Some(x),
            _ => None,
        });
        let decisions = self.decls_of(|k| match k {
            ast::DeclKind::Decision(d) => Some(d),
            _ => None,
        });
        let tests = self.decls_of(|k| match k {
            ast::DeclKind::Test(t) => Some(t),
            _ => None,
        });

        // Signatures.
        for &(fi, _, c) in &consts {
            let ty = self.resolve_type(fi, &c.ty);
            self.program.consts.push(ir::ConstDef {
                name: self.qualified_name(fi, &c.name),
                ty,
                value: Expr::error(c.name.span),
                frame: 0,
                span: c.name.span,
            });
        }
        for &(fi, decl, s) in &segments {
            self.program.segments.push(ir::SegmentDef {
                name: self.qualified_name(fi, &s.name),
                body: Expr::error(s.name.span),
                frame: 0,
                doc: decl.doc.clone(),
                span: s.name.span,
            });
        }
        for &(fi, _, f) in &fns {
            let params = self.params(fi, &f.params);
            let ret = self.resolve_type(fi, &f.ret);
            self.program.functions.push(ir::FunctionDef {
                name: self.qualified_name(fi, &f.name),
                params,
                ret,
                body: Expr::error(f.name.span),
                frame: 0,
                span: f.name.span,
            });
        }
        for &(fi, _, t) in &tables {
            let params = self.params(fi, &t.params);
            let output = self.resolve_type(fi, &t.output);
            let hit = t
                .items
                .iter()
                .find_map(|i| match i {
                    ast::TableItem::Hit { policy, .. } => Some(*policy),
                    _ => None,
                })
                .map(|p| match p {
                    ast::HitPolicy::First => ir::HitPolicy::First,
                    ast::HitPolicy::Unique => ir::HitPolicy::Unique,
                    ast::HitPolicy::Collect => ir::HitPolicy::Collect,
                })
                .unwrap_or(ir::HitPolicy::First);
            self.program.tables.push(ir::TableDef {
                name: self.qualified_name(fi, &t.name),
                params,
                hit,
                columns: Vec::new(),
                rows: Vec::new(),
                default: None,
                output,
                frame: 0,
                span: t.name.span,
            });
        }
        for &(fi, _, e) in &eligs {
            let schema = self.binder_schema(fi, &e.binder);
            self.program.eligibilities.push(ir::EligibilityDef {
                name: self.qualified_name(fi, &e.name),
                schema,
                rules: Vec::new(),
                frame: 0,
                span: e.name.span,
            });
        }
        for &(fi, _, r) in &ranks {
            let schema = self.binder_schema(fi, &r.binder);
            self.program.rankings.push(ir::RankingDef {
                name: self.qualified_name(fi, &r.name),
                schema,
                score: Expr::error(r.name.span),
                boosts: Vec::new(),
                frame: 0,
                span: r.name.span,
            });
        }
        for &(fi, _, x) in &exps {
            let e = self.experiment(fi, x);
            self.program.experiments.push(e);
        }
        self.check_layers();

        // Bodies.
        for (id, &(fi, _, c)) in consts.iter().enumerate() {
            self.begin_body(fi, Mode::Constant, Some(DeclRef::Const(id as u32)));
            let ty = self.program.consts[id].ty.clone();
            let v = self.check_as(&c.value, &ty);
            self.program.consts[id].value = v;
            self.program.consts[id].frame = self.body.frame;
        }
        for (id, &(fi, _, s)) in segments.iter().enumerate() {
            self.begin_body(fi, Mode::Policy, Some(DeclRef::Segment(id as u32)));
            let v = self.check_as(&s.value, &Type::Bool);
            self.program.segments[id].body = v;
            self.program.segments[id].frame = self.body.frame;
        }
        for (id, &(fi, _, f)) in fns.iter().enumerate() {
            self.begin_body(fi, Mode::Policy, Some(DeclRef::Function(id as u32)));
            let params = self.program.functions[id].params.clone();
            for (p, t) in f.params.iter().zip(params) {
                self.bind_local(&p.name, t.clone());
                self.types.push((p.name.span, t));
            }
            let ret = self.program.functions[id].ret.clone();
            let v = self.check_as(&f.body, &ret);
            self.program.functions[id].body = v;
            self.program.functions[id].frame = self.body.frame;
        }
        for (id, &(fi, _, t)) in tables.iter().enumerate() {
            self.check_table(id as u32, fi, t);
        }
        for (id, &(fi, _, e)) in eligs.iter().enumerate() {
            self.check_eligibility(id as u32, fi, e);
        }
        for (id, &(fi, _, r)) in ranks.iter().enumerate() {
            self.check_ranking(id as u32, fi, r);
        }
        let mut placements: Vec<(String, Span)> = Vec::new();
        for (id, &(fi, _, d)) in decisions.iter().enumerate() {
            let dd = self.decision(id as u32, fi, d, &mut placements);
            self.program.decisions.push(dd);
        }
        for &(fi, _, t) in &tests {
            let td = self.test(fi, t);
            self.program.tests.push(td);
        }
    }

    fn check_eligibility(&mut self, id: u32, fi: usize, e: &ast::EligibilityDecl) {
        let owner = DeclRef::Eligibility(id);
        self.begin_body(fi, Mode::Policy, Some(owner));
        let schema = self.program.eligibilities[id as usize].schema;
        let bty = if schema == u32::MAX {
            Type::Error
        } else {
            Type::Record(schema)
        };
        self.bind_local(&e.binder.name, bty.clone());
        self.types.push((e.binder.name.span, bty));
        let prefix = self.program.eligibilities[id as usize].name.clone();
        let mut rules = Vec::new();
        let mut labels: Vec<(String, Span)> = Vec::new();
        for (i, r) in e.rules.iter().enumerate() {
            let label = match &r.label {
                Some(l) => {
                    if let Some((_, prev)) = labels.iter().find(|(n, _)| *n == l.name) {
                        let prev = *prev;
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateRuleLabel,
                                l.span,
                                format!("two rules are labelled `{}`", l.name),
                            )
                            .with_label("labelled again here")
                            .with_secondary(prev, "first labelled here")
                            .with_help("labels identify rules in explanations and audit records; make each unique"),
                        );
                    }
                    labels.push((l.name.clone(), l.span));
                    l.name.clone()
                }
                None => format!("rule{}", i + 1),
            };
            let cond = self.check_as(&r.cond, &Type::Bool);
            let kind = match r.kind {
                ast::RuleKind::Require => ir::RuleKind::Require,
                ast::RuleKind::Deny => ir::RuleKind::Deny,
            };
            if let Some(b) = super::graph::const_bool(&cond) {
                // `require false` / `deny true` remove everything; `require true` / `deny false` do nothing.
                let removes_all = (kind == ir::RuleKind::Require) != b;
                let kw = if kind == ir::RuleKind::Require {
                    "require"
                } else {
                    "deny"
                };
                let code = if b { Code::RuleAlwaysFires } else { Code::RuleNeverFires };
                if removes_all {
                    self.report(
                        Diagnostic::new(
                            code,
                            cond.span,
                            format!("this condition is always {b}, so `{kw}` removes every candidate"),
                        )
                        .with_label(format!("always {b}"))
                        .with_help("nothing can ever be eligible; check the condition"),
                    );
                } else {
                    self.report(
                        Diagnostic::new(
                            code,
                            cond.span,
                            format!("this condition is always {b}, so the rule never removes anything"),
                        )
                        .with_label(format!("always {b}"))
                        .with_help("remove the rule, or fix its condition"),
                    );
                }
            }
            rules.push(ir::RuleDef {
                id: format!("{prefix}.{label}").into(),
                kind,
                cond,
                reason: r.reason.as_ref().map(|s| s.value.as_str().into()),
                span: r.span,
            });
        }
        let d = &mut self.program.eligibilities[id as usize];
        d.rules = rules;
        d.frame = self.body.frame;
    }

    fn check_ranking(&mut self, id: u32, fi: usize, r: &ast::RankingDecl) {
        self.begin_body(fi, Mode::Policy, Some(DeclRef::Ranking(id)));
        let schema = self.program.rankings[id as usize].schema;
        let bty = if schema == u32::MAX {
            Type::Error
        } else {
            Type::Record(schema)
        };
        self.bind_local(&r.binder.name, bty.clone());
        self.types.push((r.binder.name.span, bty));
        let prefix = self.program.rankings[id as usize].name.clone();
        let mut score: Option<(Expr, Span)> = None;
        let mut boosts = Vec::new();
        let mut labels: Vec<(String, Span)> = Vec::new();
        let mut boost_n = 0;
        for item in &r.items {
            match item {
                ast::RankItem::Score { expr, span } => {
                    let s = self.number(expr, "a ranking score");
                    if let Some((_, prev)) = &score {
                        let prev = *prev;
                        self.report(
                            Diagnostic::new(Code::DuplicateClause, *span, "a ranking has one `score`")
                                .with_label("second `score`")
                                .with_secondary(prev, "first `score`")
                                .with_help("combine them into one expression, e.g. `score a + b`"),
                        );
                    } else {
                        score = Some((s, *span));
                    }
                }
                ast::RankItem::Boost {
                    label,
                    factor,
                    cond,
                    span,
                } => {
                    boost_n += 1;
                    let name = match label {
                        Some(l) => {
                            if let Some((_, prev)) = labels.iter().find(|(n, _)| *n == l.name) {
                                let prev = *prev;
                                self.report(
                                    Diagnostic::new(
                                        Code::DuplicateRuleLabel,
                                        l.span,
                                        format!("two boosts are labelled `{}`", l.name),
                                    )
                                    .with_label("labelled again here")
                                    .with_secondary(prev, "first labelled here"),
                                );
                            }
                            labels.push((l.name.clone(), l.span));
                            l.name.clone()
                        }
                        None => format!("boost{boost_n}"),
                    };
                    let f = self.number(factor, "a boost factor");
                    let c = self.check_as(cond, &Type::Bool);
                    if super::graph::const_bool(&c) == Some(false) {
                        self.report(
                            Diagnostic::new(
                                Code::RuleNeverFires,
                                c.span,
                                "this condition is always false, so the boost never applies",
                            )
                            .with_label("always false"),
                        );
                    }
                    boosts.push(ir::BoostDef {
                        id: format!("{prefix}.{name}").into(),
                        factor: f,
                        cond: c,
                        span: *span,
                    });
                }
            }
        }
        let score = match score {
            Some((s, _)) => s,
            None => {
                self.report(
                    Diagnostic::new(
                        Code::MissingClause,
                        r.name.span,
                        format!("ranking `{}` has no `score`", r.name.name),
                    )
                    .with_label("needs a `score` clause")
                    .with_help("add e.g. `score offer.priority`"),
                );
                Expr::error(r.name.span)
            }
        };
        let d = &mut self.program.rankings[id as usize];
        d.score = score;
        d.boosts = boosts;
        d.frame = self.body.frame;
    }

    /// Checks a numeric expression and converts it to `Float`.
    fn number(&mut self, e: &ast::Expr, what: &str) -> Expr {
        let x = self.expr(e, Some(&Type::Float));
        match x.ty {
            Type::Int => self.coerce(x, &Type::Float),
            Type::Float | Type::Error => x,
            Type::Optional(_) => {
                self.unhandled_optional(&x);
                Expr::error(x.span)
            }
            ref other => {
                let t = self.type_name(other);
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        x.span,
                        format!("{what} must be a number, found `{t}`"),
                    )
                    .with_label(format!("this is `{t}`")),
                );
                Expr::error(x.span)
            }
        }
    }

    /// Experiments sharing a layer must take disjoint slices of it (`E0315`): that is what makes
    /// them mutually exclusive.
    fn check_layers(&mut self) {
        let slots: Vec<(String, ir::LayerSlot)> = self
            .program
            .experiments
            .iter()
            .filter_map(|e| e.layer.clone().map(|l| (e.name.clone(), l)))
            .collect();
        for (i, (name, slot)) in slots.iter().enumerate() {
            let earlier = slots[..i]
                .iter()
                .find(|(_, o)| o.name == slot.name && o.from_bp < slot.to_bp && slot.from_bp < o.to_bp);
            if let Some((other, o)) = earlier {
                let pct = |bp: u32| ir::percent_text(u64::from(bp));
                let (lo, hi) = (slot.from_bp.max(o.from_bp), slot.to_bp.min(o.to_bp));
                let free = self.program.layer_free_slices(&slot.name, Some(name));
                let mut d = Diagnostic::new(
                    Code::OverlappingLayerSlices,
                    slot.span,
                    format!(
                        "experiments `{other}` and `{name}` both take {} to {} of layer `{}`",
                        pct(lo),
                        pct(hi),
                        slot.name
                    ),
                )
                .with_label("overlaps another experiment's slice")
                .with_secondary(
                    o.span,
                    format!("`{other}` takes {} to {} here", pct(o.from_bp), pct(o.to_bp)),
                );
                d = match free.first() {
                    Some((f, t)) => d.with_help(format!(
                        "a subject may be in only one experiment of a layer: move `{name}` to a free slice, such as {} to {}",
                        pct(*f),
                        pct(*t)
                    )),
                    None => d.with_help(format!(
                        "a subject may be in only one experiment of a layer, and layer `{}` is full: shrink a slice or use another layer",
                        slot.name
                    )),
                };
                self.report(d);
            }
        }
    }

    fn experiment(&mut self, fi: usize, x: &ast::ExperimentDecl) -> ir::ExperimentDef {
        let mut salt: Option<(String, Span)> = None;
        let mut layer: Option<ir::LayerSlot> = None;
        let mut holdout: Option<(u32, Span)> = None;
        let mut variants: Vec<ir::VariantDef> = Vec::new();
        let mut variant_spans: Vec<Span> = Vec::new();
        let mut total: u64 = 0;
        // A weight with too many decimals is already `E0003`; the sum would be a second report.
        let mut inexact: Option<Span> = None;
        for item in &x.items {
            match item {
                ast::ExperimentItem::Salt { value, span } => {
                    if let Some((_, prev)) = &salt {
                        self.duplicate_clause(*span, *prev, "salt");
                    } else {
                        salt = Some((value.value.clone(), *span));
                    }
                }
                ast::ExperimentItem::Layer { name, from, to, span } => {
                    if let Some(prev) = &layer {
                        self.duplicate_clause(*span, prev.span, "layer");
                    } else if from.basis_points >= to.basis_points || to.basis_points > 10_000 {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidWeight,
                                from.span.to(to.span),
                                "a layer slice must start below where it ends, and end at most at 100%",
                            )
                            .with_label("empty or out of range")
                            .with_help("write the slice as `layer NAME FROM% to TO%`, e.g. `layer homepage 0% to 50%`"),
                        );
                    } else {
                        layer = Some(ir::LayerSlot {
                            name: name.name.clone(),
                            from_bp: from.basis_points,
                            to_bp: to.basis_points,
                            span: *span,
                        });
                    }
                }
                ast::ExperimentItem::Holdout { weight, span } => {
                    if let Some((_, prev)) = &holdout {
                        self.duplicate_clause(*span, *prev, "holdout");
                    } else {
                        if weight.basis_points >= 10_000 {
                            self.report(
                                Diagnostic::new(Code::InvalidWeight, weight.span, "a holdout must be below 100%")
                                    .with_label("everyone would be held out"),
                            );
                        }
                        holdout = Some((weight.basis_points.min(9_999), *span));
                    }
                }
                ast::ExperimentItem::Variant { name, weight, .. } => {
                    if let Some(i) = variants.iter().position(|v| v.name == name.name) {
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateVariant,
                                name.span,
                                format!("variant `{}` is declared twice", name.name),
                            )
                            .with_label("declared again here")
                            .with_secondary(variant_spans[i], "first declared here"),
                        );
                        continue;
                    }
                    if weight.basis_points == 0 || weight.basis_points > 10_000 {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidWeight,
                                weight.span,
                                "a variant's weight must be above 0% and at most 100%",
                            )
                            .with_label("out of range"),
                        );
                    }
                    total += u64::from(weight.basis_points);
                    if !weight.exact {
                        inexact.get_or_insert(weight.span);
                    }
                    variants.push(ir::VariantDef {
                        name: name.name.clone(),
                        weight_bp: weight.basis_points,
                    });
                    variant_spans.push(name.span);
                }
            }
        }
        if salt.is_none() {
            self.report(
                Diagnostic::new(Code::MissingClause, x.name.span, format!("experiment `{}` has no `salt`", x.name.name))
                    .with_label("needs a `salt`")
                    .with_help(format!("add e.g. `salt \"{}-2026\"`: a string that makes this experiment's assignment independent of others", x.name.name.replace('_', "-"))),
            );
        }
        if variants.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::MissingClause,
                    x.name.span,
                    format!("experiment `{}` has no variants", x.name.name),
                )
                .with_label("needs `variant` clauses")
                .with_help("add e.g. `variant control 50%` and `variant treatment 50%`"),
            );
        } else if total != 10_000 && inexact.is_none() {
            let pct = ir::percent_text;
            let mut d = Diagnostic::new(
                Code::WeightsNot100,
                x.name.span,
                format!("the variant weights add up to {}, not 100%", pct(total)),
            )
            .with_label(format!("weights total {}", pct(total)));
            if total < 10_000 {
                d = d.with_help(format!(
                    "add {} to a variant, or add a variant with that weight",
                    pct(10_000 - total)
                ));
            } else {
                d = d.with_help(format!("take {} off the variants", pct(total - 10_000)));
            }
            self.report(d);
        }
        ir::ExperimentDef {
            name: self.qualified_name(fi, &x.name),
            salt: salt.map(|s| s.0).unwrap_or_default(),
            layer,
            holdout_bp: holdout.map(|h| h.0).unwrap_or(0),
            variants,
            span: x.name.span,
        }
    }

    fn duplicate_clause(&mut self, span: Span, prev: Span, name: &str) {
        self.report(
            Diagnostic::new(Code::DuplicateClause, span, format!("`{name}` appears more than once"))
                .with_label("second one")
                .with_secondary(prev, "first one")
                .with_help("keep one"),
        );
    }

    fn decision(
        &mut self,
        id: u32,
        fi: usize,
        d: &ast::DecisionDecl,
        placements: &mut Vec<(String, Span)>,
    ) -> ir::DecisionDef {
        let owner = DeclRef::Decision(id);
        self.begin_body(fi, Mode::Policy, Some(owner));
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        let mut out = ir::DecisionDef {
            name: self.qualified_name(fi, &d.name),
            placement: String::new(),
            channels: None,
            candidates: u32::MAX,
            rank: None,
            experiment: None,
            max: DEFAULT_MAX,
            caps: Vec::new(),
            consent: None,
            fallback: None,
            ttl_ms: DEFAULT_TTL_MS,
            span: d.name.span,
        };
        let mut rank_span = None;
        for c in &d.clauses {
            let key = match &c.kind {
                ast::DecisionClauseKind::Placement(_) => "placement",
                ast::DecisionClauseKind::Channels(_) => "channels",
                ast::DecisionClauseKind::Candidates(_) => "candidates",
                ast::DecisionClauseKind::Rank(_) => "rank",
                ast::DecisionClauseKind::Experiment(_) => "experiment",
                ast::DecisionClauseKind::Max(_) => "max",
                ast::DecisionClauseKind::Cap { .. } => "cap",
                ast::DecisionClauseKind::Consent(_) => "consent",
                ast::DecisionClauseKind::Fallback(_) => "fallback",
                ast::DecisionClauseKind::Ttl(_) => "ttl",
            };
            if key != "cap" {
                if let Some((_, prev)) = seen.iter().find(|(k, _)| *k == key) {
                    let prev = *prev;
                    self.duplicate_clause(c.span, prev, key);
                    continue;
                }
                seen.push((key, c.span));
            }
            match &c.kind {
                ast::DecisionClauseKind::Placement(p) => {
                    if let Some((_, prev)) = placements.iter().find(|(n, _)| *n == p.value) {
                        let prev = *prev;
                        self.report(
                            Diagnostic::new(
                                Code::DuplicatePlacement,
                                p.span,
                                format!("placement \"{}\" is served by two decisions", p.value),
                            )
                            .with_label("served again here")
                            .with_secondary(prev, "first served here")
                            .with_help("each placement is served by one decision; merge them or rename one placement"),
                        );
                    } else {
                        placements.push((p.value.clone(), p.span));
                    }
                    if p.value.is_empty() {
                        self.report(
                            Diagnostic::new(Code::InvalidValue, p.span, "a placement name cannot be empty")
                                .with_label("empty"),
                        );
                    }
                    out.placement = p.value.clone();
                }
                ast::DecisionClauseKind::Channels(chs) => {
                    let ch = self.program.builtins.channel;
                    let mut list = Vec::new();
                    for c in chs {
                        let variants = &self.program.enums[ch as usize].variants;
                        match variants.iter().position(|v| *v == c.name) {
                            Some(i) => {
                                self.uses.push(super::Use {
                                    span: c.span,
                                    target: super::Target::Variant {
                                        enum_id: ch,
                                        index: i as u32,
                                    },
                                });
                                list.push(i as u32);
                            }
                            None => {
                                let mut dg = Diagnostic::new(
                                    Code::UnknownVariant,
                                    c.span,
                                    format!("`{}` is not a channel", c.name),
                                )
                                .with_label("unknown channel");
                                match crate::diagnostics::did_you_mean(&c.name, variants.iter().map(String::as_str)) {
                                    Some(s) => dg = dg.with_help(format!("did you mean `{s}`?")),
                                    None => dg = dg.with_note(format!("channels are `{}`", variants.join("`, `"))),
                                }
                                self.report(dg);
                            }
                        }
                    }
                    out.channels = Some(list);
                }
                ast::DecisionClauseKind::Candidates(name) => match self.lookup(fi, &name.name) {
                    Some(r @ DeclRef::Eligibility(e)) => {
                        self.note_use(r, name.span);
                        out.candidates = e;
                        let schema = self.program.eligibilities[e as usize].schema;
                        if schema != u32::MAX {
                            self.require_id_field(schema, name.span);
                        }
                    }
                    other => self.wrong_clause_target(name, other, "an eligibility block", "candidates"),
                },
                ast::DecisionClauseKind::Rank(name) => match self.lookup(fi, &name.name) {
                    Some(r @ DeclRef::Ranking(k)) => {
                        self.note_use(r, name.span);
                        out.rank = Some(k);
                        rank_span = Some(name.span);
                    }
                    other => self.wrong_clause_target(name, other, "a ranking", "rank"),
                },
                ast::DecisionClauseKind::Experiment(name) => match self.lookup(fi, &name.name) {
                    Some(r @ DeclRef::Experiment(x)) => {
                        self.note_use(r, name.span);
                        out.experiment = Some(x);
                    }
                    other => self.wrong_clause_target(name, other, "an experiment", "experiment"),
                },
                ast::DecisionClauseKind::Max(n) => {
                    if n.value < 1 || n.value > 1000 {
                        self.report(
                            Diagnostic::new(Code::InvalidValue, n.span, "`max` must be between 1 and 1000")
                                .with_label("out of range")
                                .with_help(
                                    "`max 1` serves one candidate; leave out a placement you never want to fill",
                                ),
                        );
                    } else {
                        out.max = n.value as u32;
                    }
                }
                ast::DecisionClauseKind::Cap { scope, limit, window } => {
                    if limit.value < 1 || limit.value > i64::from(u32::MAX) {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidValue,
                                limit.span,
                                "a cap must allow at least one impression",
                            )
                            .with_label("out of range")
                            .with_help("to never show something, remove it with an eligibility rule instead"),
                        );
                        continue;
                    }
                    if window.millis <= 0 {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidValue,
                                window.span,
                                "a cap's window must be longer than zero",
                            )
                            .with_label("empty window"),
                        );
                        continue;
                    }
                    out.caps.push(ir::CapDef {
                        scope: match scope {
                            ast::CapScope::Offer => ir::CapScope::Offer,
                            ast::CapScope::Placement => ir::CapScope::Placement,
                            ast::CapScope::Channel => ir::CapScope::Channel,
                        },
                        limit: limit.value as u32,
                        window_ms: window.millis,
                    });
                }
                ast::DecisionClauseKind::Consent(p) => out.consent = Some(p.name.clone()),
                ast::DecisionClauseKind::Fallback(s) => {
                    if s.value.is_empty() {
                        self.report(
                            Diagnostic::new(Code::InvalidValue, s.span, "fallback content id cannot be empty")
                                .with_label("empty"),
                        );
                    }
                    out.fallback = Some(s.value.clone());
                }
                ast::DecisionClauseKind::Ttl(t) => {
                    if t.millis <= 0 {
                        self.report(
                            Diagnostic::new(Code::InvalidValue, t.span, "`ttl` must be longer than zero")
                                .with_label("empty ttl"),
                        );
                    } else {
                        out.ttl_ms = t.millis;
                    }
                }
            }
        }
        for (key, what) in [
            ("placement", "placement \"…\""),
            ("candidates", "candidates <eligibility>"),
        ] {
            if !seen.iter().any(|(k, _)| *k == key) {
                self.report(
                    Diagnostic::new(
                        Code::MissingClause,
                        d.name.span,
                        format!("decision `{}` has no `{key}`", d.name.name),
                    )
                    .with_label(format!("needs `{what}`")),
                );
            }
        }
        if let (Some(k), true) = (out.rank, out.candidates != u32::MAX) {
            let rs = self.program.rankings[k as usize].schema;
            let es = self.program.eligibilities[out.candidates as usize].schema;
            if rs != es && rs != u32::MAX && es != u32::MAX {
                let (rt, et) = (self.type_name(&Type::Record(rs)), self.type_name(&Type::Record(es)));
                self.report(
                    Diagnostic::new(
                        Code::CandidateTypeMismatch,
                        rank_span.unwrap_or(d.name.span),
                        format!("this ranking ranks `{rt}`, but the candidates are `{et}`"),
                    )
                    .with_label(format!("ranks `{rt}`")),
                );
            }
        }
        out
    }

    fn require_id_field(&mut self, schema: u32, span: Span) {
        let s = &self.program.schemas[schema as usize];
        let ok = s.fields.iter().any(|f| f.name == "id" && f.ty == Type::String);
        if !ok {
            let short = s.name.rsplit('.').next().unwrap_or("").to_string();
            let def = s.span;
            self.report(
                Diagnostic::new(
                    Code::CandidateWithoutId,
                    span,
                    format!("candidates of type `{short}` need an `id: String` field"),
                )
                .with_label("used as candidates here")
                .with_secondary(def, "schema declared here")
                .with_help(format!(
                    "add `id: String` to `{short}`: decisions report the ids of what they chose"
                )),
            );
        }
    }

    fn wrong_clause_target(&mut self, name: &ast::Ident, found: Option<DeclRef>, want: &str, clause: &str) {
        if let Some(r) = found {
            self.used.insert(r);
        } else if self.symbols.is_poisoned(self.body.file_index, &name.name) {
            return;
        }
        match found {
            Some(r) => self.report(
                Diagnostic::new(
                    Code::WrongKindOfName,
                    name.span,
                    format!("`{}` is {}, but `{clause}` needs {want}", name.name, r.describe()),
                )
                .with_label(format!("not {want}")),
            ),
            None => {
                let names: Vec<String> = self
                    .symbols
                    .visible_names(self.body.file_index)
                    .into_iter()
                    .filter(|(_, r)| match clause {
                        "candidates" => matches!(r, DeclRef::Eligibility(_)),
                        "rank" => matches!(r, DeclRef::Ranking(_)),
                        _ => matches!(r, DeclRef::Experiment(_)),
                    })
                    .map(|(n, _)| n)
                    .collect();
                let mut d = Diagnostic::new(Code::UnknownName, name.span, format!("unknown name `{}`", name.name))
                    .with_label(format!("expected {want}"));
                if let Some(s) = crate::diagnostics::did_you_mean(&name.name, names.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                        format!("replace with `{s}`"),
                        vec![crate::diagnostics::Edit {
                            span: name.span,
                            text: s.clone(),
                        }],
                        false,
                    );
                }
                self.report(d);
            }
        }
    }

    fn test(&mut self, fi: usize, t: &ast::TestDecl) -> ir::TestDef {
        self.begin_body(fi, Mode::Test, None);
        let mut out = ir::TestDef {
            name: t.name.value.clone(),
            now: None,
            subject: None,
            profile: None,
            context: None,
            consent: Vec::new(),
            catalogs: Vec::new(),
            seen: Vec::new(),
            expects: Vec::new(),
            frame: 0,
            span: t.name.span,
        };
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        let mut first_seen: Option<Span> = None;
        for c in &t.clauses {
            let once = match &c.kind {
                ast::TestClauseKind::Now(_) => Some("now"),
                ast::TestClauseKind::Subject(_) => Some("subject"),
                ast::TestClauseKind::Profile(_) => Some("profile"),
                ast::TestClauseKind::Context(_) => Some("context"),
                _ => None,
            };
            if let Some(key) = once {
                if let Some((_, prev)) = seen.iter().find(|(k, _)| *k == key) {
                    let prev = *prev;
                    self.report(
                        Diagnostic::new(Code::InvalidTestClause, c.span, format!("a test sets `{key}` once"))
                            .with_label("set again here")
                            .with_secondary(prev, "first set here"),
                    );
                    continue;
                }
                seen.push((key, c.span));
            }
            match &c.kind {
                ast::TestClauseKind::Now(e) => {
                    self.body.mode = Mode::Constant;
                    out.now = Some(self.check_as(e, &Type::Timestamp));
                    self.body.mode = Mode::Test;
                }
                ast::TestClauseKind::Subject(s) => out.subject = Some(s.value.clone()),
                ast::TestClauseKind::Profile(e) => {
                    self.body.mode = Mode::Constant;
                    match self.program.profile {
                        Some(p) => out.profile = Some(self.check_as(e, &Type::Record(p))),
                        None => {
                            self.report(
                                Diagnostic::new(
                                    Code::ProfileSchema,
                                    c.span,
                                    "this test sets a profile, but no schema is named `Profile`",
                                )
                                .with_label("needs a `Profile` schema"),
                            );
                        }
                    }
                    self.body.mode = Mode::Test;
                }
                ast::TestClauseKind::Context(e) => {
                    self.body.mode = Mode::Constant;
                    let ctx = Type::Record(self.program.builtins.context);
                    out.context = Some(self.check_as(e, &ctx));
                    self.body.mode = Mode::Test;
                }
                ast::TestClauseKind::Consent(ps) => out.consent.extend(ps.iter().map(|p| p.name.clone())),
                ast::TestClauseKind::Catalog(e) => {
                    self.body.mode = Mode::Constant;
                    let x = self.expr(e, None);
                    self.body.mode = Mode::Test;
                    match &x.ty {
                        Type::List(inner) if matches!(**inner, Type::Record(_)) => out.catalogs.push(x),
                        Type::Error => {}
                        other => {
                            let ty = self.type_name(other);
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidTestClause,
                                    x.span,
                                    format!("a catalog is a list of records, found `{ty}`"),
                                )
                                .with_label("expected e.g. `List<Offer>`")
                                .with_help("write `catalog [Offer { … }, …]` or name a `const` of type `List<Offer>`"),
                            );
                        }
                    }
                }
                ast::TestClauseKind::Seen { offer, times, ago } => {
                    if times.value < 1 || times.value > 1_000_000 {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidValue,
                                times.span,
                                "`seen` needs between 1 and 1000000 times",
                            )
                            .with_label("out of range"),
                        );
                        continue;
                    }
                    out.seen.push(ir::SeenDef {
                        offer: offer.value.clone(),
                        times: times.value as u32,
                        ago_ms: ago.map(|a| a.millis).unwrap_or(DEFAULT_SEEN_AGO_MS),
                    });
                    first_seen.get_or_insert(c.span);
                }
                ast::TestClauseKind::Expect(e) => {
                    let x = self.check_as(e, &Type::Bool);
                    out.expects.push(ir::ExpectDef { expr: x, span: e.span });
                }
            }
        }
        if let Some(span) = first_seen {
            self.check_seen_placement(&out, span);
        }
        out.frame = self.body.frame;
        out
    }

    /// `seen` impressions are recorded at the test's context placement, and a decision's caps
    /// count only impressions at its own placement: without a `context`, or with a placement no
    /// decision serves, the impressions can never count (`W0008`).
    fn check_seen_placement(&mut self, test: &ir::TestDef, seen_span: Span) {
        let placement = match &test.context {
            None => Some(String::new()),
            Some(ctx) => {
                let context = &self.program.schemas[self.program.builtins.context as usize];
                let index = context.fields.iter().position(|f| f.name == "placement");
                match (&ctx.kind, index) {
                    (ExprKind::Record { fields, .. }, Some(i)) => match fields.get(i).and_then(Option::as_ref) {
                        Some(Expr {
                            kind: ExprKind::Lit(Literal::String(p)),
                            ..
                        }) => Some(p.to_string()),
                        _ => None,
                    },
                    _ => None,
                }
            }
        };
        // Only a literal placement can be checked; anything else is the author's to get right.
        let Some(placement) = placement else { return };
        // A `cap channel` counts impressions at any placement.
        let channel_caps = self
            .program
            .decisions
            .iter()
            .any(|d| d.caps.iter().any(|c| c.scope == ir::CapScope::Channel));
        if channel_caps || self.program.decisions.iter().any(|d| d.placement == placement) {
            return;
        }
        // The closest served placement (a typo), else the first one, as the example.
        let served = self.program.decisions.iter().map(|d| d.placement.as_str());
        let example = crate::diagnostics::did_you_mean(&placement, served)
            .or_else(|| self.program.decisions.first().map(|d| d.placement.clone()))
            .unwrap_or_else(|| "home.hero".to_string());
        let message = if test.context.is_none() {
            "these impressions never count towards a cap: the test sets no `context`, so they are recorded at placement \"\"".to_string()
        } else {
            format!("these impressions never count towards a cap: no decision serves placement \"{placement}\"")
        };
        self.report(
            Diagnostic::new(Code::UncountedImpressions, seen_span, message)
                .with_label("recorded where no decision looks")
                .with_help(format!(
                    "`seen` impressions are recorded at the test's context placement; name the placement of the decision whose caps you test, e.g. `context {{ channel: Web, placement: \"{example}\" }}`"
                )),
        );
    }

    /// Folds a literal to a [`Literal`] for table cells; `None` (reported) if not constant.
    pub(super) fn fold_literal(&mut self, e: &Expr) -> Option<Literal> {
        match &e.kind {
            ExprKind::Lit(l) => Some(l.clone()),
            ExprKind::IntToFloat(inner) => match self.fold_literal(inner)? {
                Literal::Int(i) => Some(Literal::Float(i as f64)),
                other => Some(other),
            },
            ExprKind::Unary {
                op: ir::UnaryOp::Neg,
                operand,
            } => match self.fold_literal(operand)? {
                Literal::Int(i) => Some(Literal::Int(i.saturating_neg())),
                Literal::Float(f) => Some(Literal::Float(-f)),
                Literal::Duration(d) => Some(Literal::Duration(d.saturating_neg())),
                _ => None,
            },
            ExprKind::Const(c) => {
                let v = self.program.consts.get(*c as usize).map(|d| d.value.clone())?;
                if matches!(v.kind, ExprKind::Const(_)) {
                    // A constant naming another: one level is enough for cells and avoids cycles.
                    return None;
                }
                self.fold_literal(&v)
            }
            _ => None,
        }
    }
}
