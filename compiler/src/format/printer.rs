//! The printer: from the AST (plus the comments from [`Trivia`]) to a [`Doc`].
//!
//! The canonical layout is written down in `docs/formatting.md`; this file is its
//! implementation. The printer visits nodes in source order, because the comment cursor only
//! moves forward. Literals whose spelling is the author's choice (numbers, durations,
//! percentages, timestamps) are printed from their source text; everything else is printed
//! from the AST, so the input's whitespace never influences the output.
//!
//! A top-level item (the package line, an import, a declaration) whose comments cannot all be
//! placed, or that holds an error node, is printed verbatim instead: its source text, with
//! trailing whitespace removed from each line.

use super::comments::{strip_leading_blanks, Piece, Trivia};
use super::document::{concat, group, nest, text, Doc};
use crate::source::Span;
use crate::syntax::ast::*;
use crate::syntax::lexer::TokenKind;

/// An item with the comments and blank lines around it.
struct Item {
    leading: Vec<Piece>,
    doc: Doc,
    trailing: Option<String>,
}

/// The entries of a braced block or a bracketed literal, and the comments before its close.
struct Entries {
    items: Vec<Item>,
    dangling: Vec<Piece>,
}

pub struct Printer<'a> {
    text: &'a str,
    trivia: Trivia<'a>,
    /// How many top-level items were printed verbatim.
    verbatim: usize,
}

impl<'a> Printer<'a> {
    pub fn new(text: &'a str) -> Printer<'a> {
        Printer {
            text,
            trivia: Trivia::new(text),
            verbatim: 0,
        }
    }

    // ---- the file ------------------------------------------------------------------------

    /// The document for `file`, and how many of its top-level items had to be printed
    /// verbatim (see [`Trivia`]).
    pub fn file(mut self, file: &File) -> (Doc, usize) {
        let mut out: Vec<Doc> = Vec::new();
        let mut first = true;
        if let Some(path) = &file.package {
            let start = self
                .trivia
                .before(path.span.start as usize)
                .map(|t| t.start)
                .unwrap_or(path.span.start as usize);
            let item = self.top_item(start, path.span.end as usize, |_, _| {
                text(format!("package {}", path.dotted()))
            });
            push_top(&mut out, item, &mut first, false);
        }
        let mut imports_started = false;
        for import in &file.imports {
            let (s, e) = self.range(import.span);
            let item = self.top_item(s, e, |p, _| p.import(import));
            // Imports keep the author's blank lines between them; a blank line always
            // separates them from the package line.
            let keep_blanks = imports_started;
            imports_started = true;
            push_top(&mut out, item, &mut first, keep_blanks);
        }
        for decl in &file.decls {
            let (s, e) = self.range(decl.span);
            let item = self.top_item(s, e, |p, end| p.decl(decl, end));
            push_top(&mut out, item, &mut first, false);
        }
        // Comments at the end of the file, after the last item.
        let end = self.trivia.dangling(self.text.len());
        let pieces = if first { strip_leading_blanks(&end) } else { &end[..] };
        for piece in pieces {
            match piece {
                Piece::Blank => out.push(Doc::HardLine),
                Piece::Comment(c) => {
                    if !first {
                        out.push(Doc::HardLine);
                    }
                    out.push(text(c.clone()));
                    first = false;
                }
            }
        }
        if !first {
            out.push(Doc::HardLine);
        }
        (concat(out), self.verbatim)
    }

    /// The code range of a node's span (see [`Trivia::code_range`]).
    fn range(&self, span: Span) -> (usize, usize) {
        self.trivia.code_range(span.start as usize, span.end as usize)
    }

    /// Prints a top-level item, or its source text when its comments cannot all be placed.
    fn top_item(&mut self, start: usize, end: usize, build: impl FnOnce(&mut Self, usize) -> Doc) -> Item {
        let leading = self.trivia.leading(start);
        let mark = self.trivia.mark();
        let mut doc = build(self, end);
        self.trivia.advance(end);
        if self.trivia.failed() {
            self.trivia.reset(mark);
            self.trivia.skip_to(end);
            doc = self.as_written(start, end);
            self.verbatim += 1;
        } else {
            self.trivia.keep(mark);
        }
        let trailing = self.trivia.trailing();
        Item { leading, doc, trailing }
    }

    fn as_written(&self, start: usize, end: usize) -> Doc {
        let mut docs = Vec::new();
        for (i, line) in self.text[start..end].split('\n').enumerate() {
            if i > 0 {
                docs.push(Doc::HardLine);
            }
            docs.push(text(line.trim_end()));
        }
        concat(docs)
    }

    /// Prints one item inside a block or literal, with its comments.
    fn item(&mut self, span: Span, build: impl FnOnce(&mut Self) -> Doc) -> Item {
        let (start, end) = self.range(span);
        let leading = self.trivia.leading(start);
        let doc = build(self);
        self.trivia.advance(end);
        let trailing = self.trivia.trailing();
        Item { leading, doc, trailing }
    }

    /// Prints the entries of a braced or bracketed construct. `open` is the offset just after
    /// its opening bracket, `close` the offset of its closing one.
    fn entries<T>(
        &mut self,
        open: usize,
        close: usize,
        xs: &[T],
        span: impl Fn(&T) -> Span,
        mut build: impl FnMut(&mut Self, &T) -> Doc,
    ) -> Entries {
        self.trivia.advance(open);
        let items = xs.iter().map(|x| self.item(span(x), |p| build(p, x))).collect();
        let dangling = self.trivia.dangling(close);
        self.trivia.advance(close + 1);
        Entries { items, dangling }
    }

    /// The `{` that opens the block of a declaration whose header ends at `after`, and the
    /// `}` that closes it (the last token of the declaration).
    fn braces(&mut self, after: usize, decl_end: usize) -> (usize, usize) {
        let open = self.trivia.find(after, TokenKind::LBrace);
        let close = self.trivia.before(decl_end);
        match (open, close) {
            (Some(o), Some(c)) if c.kind == TokenKind::RBrace && o.end <= c.start => (o.end, c.start),
            _ => {
                // Spans that do not match the tokens: print the declaration as written.
                self.trivia.fail();
                (decl_end, decl_end)
            }
        }
    }

    // ---- declarations --------------------------------------------------------------------

    fn import(&mut self, import: &Import) -> Doc {
        let members: Vec<&str> = import.members.iter().map(|m| m.name.as_str()).collect();
        let pkg = import.package.dotted();
        if import.braced || members.len() != 1 {
            text(format!("import {pkg}.{{{}}}", members.join(", ")))
        } else {
            text(format!("import {pkg}.{}", members[0]))
        }
    }

    /// A declaration ending at `end` (the end of its last token).
    fn decl(&mut self, decl: &Decl, end: usize) -> Doc {
        match &decl.kind {
            DeclKind::Enum(d) => self.enum_decl(d, end),
            DeclKind::Schema(d) => {
                let (open, close) = self.braces(d.name.span.end as usize, end);
                let entries = self.entries(
                    open,
                    close,
                    &d.fields,
                    |f| f.span,
                    |p, f| text(format!("{}: {}", f.name.name, p.ty(&f.ty))),
                );
                block(text(format!("schema {}", d.name.name)), entries)
            }
            DeclKind::Const(d) => {
                let head = format!("const {}: {} = ", d.name.name, self.ty(&d.ty));
                concat(vec![text(head), self.expr(&d.value)])
            }
            DeclKind::Segment(d) => concat(vec![text(format!("segment {} = ", d.name.name)), self.expr(&d.value)]),
            DeclKind::Fn(d) => {
                let head = format!(
                    "fn {}({}) -> {} = ",
                    d.name.name,
                    self.params(&d.params),
                    self.ty(&d.ret)
                );
                concat(vec![text(head), self.expr(&d.body)])
            }
            DeclKind::Eligibility(d) => {
                let head = format!("eligibility {} for {}", d.name.name, self.param(&d.binder));
                let (open, close) = self.braces(d.binder.span.end as usize, end);
                let entries = self.entries(open, close, &d.rules, |r| r.span, Self::rule);
                block(text(head), entries)
            }
            DeclKind::Ranking(d) => {
                let head = format!("ranking {} for {}", d.name.name, self.param(&d.binder));
                let (open, close) = self.braces(d.binder.span.end as usize, end);
                let entries = self.entries(
                    open,
                    close,
                    &d.items,
                    |i| match i {
                        RankItem::Score { span, .. } | RankItem::Boost { span, .. } => *span,
                    },
                    Self::rank_item,
                );
                block(text(head), entries)
            }
            DeclKind::Table(d) => self.table(d, end),
            DeclKind::Experiment(d) => {
                let (open, close) = self.braces(d.name.span.end as usize, end);
                let entries = self.entries(
                    open,
                    close,
                    &d.items,
                    |i| match i {
                        ExperimentItem::Salt { span, .. }
                        | ExperimentItem::Layer { span, .. }
                        | ExperimentItem::Holdout { span, .. }
                        | ExperimentItem::Variant { span, .. } => *span,
                    },
                    |p, i| match i {
                        ExperimentItem::Salt { value, .. } => text(format!("salt {}", string_literal(&value.value))),
                        ExperimentItem::Layer { name, from, to, .. } => text(format!(
                            "layer {} {} to {}",
                            name.name,
                            p.literal(from.span),
                            p.literal(to.span)
                        )),
                        ExperimentItem::Holdout { weight, .. } => text(format!("holdout {}", p.literal(weight.span))),
                        ExperimentItem::Variant { name, weight, .. } => {
                            text(format!("variant {} {}", name.name, p.literal(weight.span)))
                        }
                    },
                );
                block(text(format!("experiment {}", d.name.name)), entries)
            }
            DeclKind::Decision(d) => {
                let (open, close) = self.braces(d.name.span.end as usize, end);
                let entries = self.entries(
                    open,
                    close,
                    &d.clauses,
                    |c| c.span,
                    |p, c| text(p.decision_clause(&c.kind)),
                );
                block(text(format!("decision {}", d.name.name)), entries)
            }
            DeclKind::Test(d) => {
                let (open, close) = self.braces(d.name.span.end as usize, end);
                let entries = self.entries(open, close, &d.clauses, |c| c.span, Self::test_clause);
                block(text(format!("test {}", string_literal(&d.name.value))), entries)
            }
            DeclKind::Error => {
                self.trivia.fail();
                text("")
            }
        }
    }

    /// `enum E { A, B }` on one line when it fits and holds no comments, else one variant
    /// per line, each followed by a comma.
    fn enum_decl(&mut self, d: &EnumDecl, end: usize) -> Doc {
        let (open, close) = self.braces(d.name.span.end as usize, end);
        let entries = self.entries(
            open,
            close,
            &d.variants,
            |v| v.name.span,
            |_, v| text(v.name.name.clone()),
        );
        concat(vec![
            text(format!("enum {} ", d.name.name)),
            bracketed("{", "}", true, entries),
        ])
    }

    fn param(&self, p: &Param) -> String {
        format!("{}: {}", p.name.name, self.ty(&p.ty))
    }

    fn params(&self, ps: &[Param]) -> String {
        ps.iter().map(|p| self.param(p)).collect::<Vec<_>>().join(", ")
    }

    /// A written type. Its `?` marks are counted in the source, so a malformed `T??` (which
    /// the type checker rejects) is kept for it to see.
    fn ty(&self, t: &TypeExpr) -> String {
        let mut s = t.name.name.clone();
        if !t.args.is_empty() {
            let args: Vec<String> = t.args.iter().map(|a| self.ty(a)).collect();
            s.push('<');
            s.push_str(&args.join(", "));
            s.push('>');
        }
        if t.optional {
            let written = self
                .text
                .get(t.span.range())
                .map(|src| {
                    src.trim_end()
                        .chars()
                        .rev()
                        .take_while(|c| *c == '?' || c.is_whitespace())
                        .filter(|c| *c == '?')
                        .count()
                })
                .unwrap_or(0);
            s.push_str(&"?".repeat(written.max(1)));
        }
        s
    }

    fn rule(&mut self, r: &Rule) -> Doc {
        let kw = match r.kind {
            RuleKind::Require => "require ",
            RuleKind::Deny => "deny ",
        };
        let mut docs = vec![text(kw)];
        if let Some(label) = &r.label {
            docs.push(text(format!("{}: ", label.name)));
        }
        docs.push(self.expr(&r.cond));
        if let Some(reason) = &r.reason {
            docs.push(text(format!(" because {}", string_literal(&reason.value))));
        }
        concat(docs)
    }

    fn rank_item(&mut self, item: &RankItem) -> Doc {
        match item {
            RankItem::Score { expr, .. } => concat(vec![text("score "), self.expr(expr)]),
            RankItem::Boost {
                label, factor, cond, ..
            } => {
                let mut docs = vec![text("boost ")];
                if let Some(label) = label {
                    docs.push(text(format!("{}: ", label.name)));
                }
                docs.push(self.expr(factor));
                docs.push(text(" when "));
                docs.push(self.expr(cond));
                concat(docs)
            }
        }
    }

    fn decision_clause(&self, c: &DecisionClauseKind) -> String {
        match c {
            DecisionClauseKind::Placement(s) => format!("placement {}", string_literal(&s.value)),
            DecisionClauseKind::Channels(cs) => format!("channels {}", names(cs)),
            DecisionClauseKind::Candidates(n) => format!("candidates {}", n.name),
            DecisionClauseKind::Rank(n) => format!("rank {}", n.name),
            DecisionClauseKind::Experiment(n) => format!("experiment {}", n.name),
            DecisionClauseKind::Max(n) => format!("max {}", self.literal(n.span)),
            DecisionClauseKind::Cap { scope, limit, window } => {
                let scope = match scope {
                    CapScope::Offer => "offer",
                    CapScope::Placement => "placement",
                    CapScope::Channel => "channel",
                };
                format!(
                    "cap {scope} {} per {}",
                    self.literal(limit.span),
                    self.literal(window.span)
                )
            }
            DecisionClauseKind::Consent(n) => format!("consent {}", n.name),
            DecisionClauseKind::Fallback(s) => format!("fallback {}", string_literal(&s.value)),
            DecisionClauseKind::Ttl(d) => format!("ttl {}", self.literal(d.span)),
        }
    }

    fn test_clause(&mut self, c: &TestClause) -> Doc {
        let (word, expr) = match &c.kind {
            TestClauseKind::Now(e) => ("now ", e),
            TestClauseKind::Profile(e) => ("profile ", e),
            TestClauseKind::Context(e) => ("context ", e),
            TestClauseKind::Catalog(e) => ("catalog ", e),
            TestClauseKind::Expect(e) => ("expect ", e),
            TestClauseKind::Subject(s) => {
                return text(format!("subject {}", string_literal(&s.value)));
            }
            TestClauseKind::Consent(cs) => return text(format!("consent {}", names(cs))),
            TestClauseKind::Seen { offer, times, ago } => {
                let mut s = format!(
                    "seen {} {} times",
                    string_literal(&offer.value),
                    self.literal(times.span)
                );
                if let Some(ago) = ago {
                    s.push_str(&format!(" {} ago", self.literal(ago.span)));
                }
                return text(s);
            }
        };
        concat(vec![text(word), self.expr(expr)])
    }

    // ---- tables --------------------------------------------------------------------------

    /// A decision table. Rows are laid out like a spreadsheet: the cells of each column start
    /// at the same position in every row of the table.
    fn table(&mut self, d: &TableDecl, end: usize) -> Doc {
        let mut head = format!("table {}", d.name.name);
        if !d.params.is_empty() {
            head.push_str(&format!("({})", self.params(&d.params)));
        }
        head.push_str(&format!(" -> {}", self.ty(&d.output)));
        let (open, close) = self.braces(d.output.span.end as usize, end);
        // Rows are printed as their cells' texts first; the padding needs every row.
        let mut rows: Vec<(Vec<String>, Doc)> = Vec::new();
        let mut entries = self.entries(
            open,
            close,
            &d.items,
            |i| match i {
                TableItem::Hit { span, .. } | TableItem::Given { span, .. } | TableItem::Default { span, .. } => *span,
                TableItem::Row(r) => r.span,
            },
            |p, i| match i {
                TableItem::Hit { policy, .. } => text(match policy {
                    HitPolicy::First => "hit first",
                    HitPolicy::Unique => "hit unique",
                    HitPolicy::Collect => "hit collect",
                }),
                TableItem::Given { columns, .. } => {
                    let mut docs = vec![text("given ")];
                    for (i, c) in columns.iter().enumerate() {
                        if i > 0 {
                            docs.push(text(", "));
                        }
                        docs.push(p.expr(c));
                    }
                    concat(docs)
                }
                TableItem::Default { value, .. } => concat(vec![text("default "), p.expr(value)]),
                TableItem::Row(r) => {
                    let cells = r.cells.iter().map(|c| p.cell(c)).collect();
                    let output = p.expr(&r.output);
                    rows.push((cells, output));
                    // Replaced below, once the column widths are known.
                    text("")
                }
            },
        );
        let mut widths: Vec<usize> = Vec::new();
        for (cells, _) in &rows {
            for (i, c) in cells.iter().enumerate() {
                let w = c.chars().count();
                match widths.get_mut(i) {
                    Some(max) => *max = (*max).max(w),
                    None => widths.push(w),
                }
            }
        }
        let mut rows = rows.into_iter();
        for (item, table_item) in entries.items.iter_mut().zip(&d.items) {
            if let TableItem::Row(_) = table_item {
                let Some((cells, output)) = rows.next() else {
                    break;
                };
                let mut line = String::from("row ");
                let last = cells.len().saturating_sub(1);
                for (i, cell) in cells.iter().enumerate() {
                    if i < last {
                        line.push_str(&pad(&format!("{cell},"), widths[i] + 1));
                        line.push(' ');
                    } else {
                        line.push_str(&pad(cell, widths[i]));
                    }
                }
                line.push_str(" => ");
                item.doc = concat(vec![text(line), output]);
            }
        }
        block(text(head), entries)
    }

    /// A table cell, on one line. A cell that would need several lines (one holding a
    /// comment) makes the table print verbatim.
    fn cell(&mut self, c: &Cell) -> String {
        let doc = match &c.kind {
            CellKind::Any => text("_"),
            CellKind::Compare(op, e) => {
                let op = match op {
                    CmpOp::Eq => "",
                    CmpOp::Ne => "!= ",
                    CmpOp::Lt => "< ",
                    CmpOp::Le => "<= ",
                    CmpOp::Gt => "> ",
                    CmpOp::Ge => ">= ",
                };
                concat(vec![text(op), self.expr(e)])
            }
            CellKind::In { negated, values } => {
                let open = self
                    .trivia
                    .find(c.span.start as usize, TokenKind::LBracket)
                    .map(|t| t.end)
                    .unwrap_or(c.span.start as usize);
                let (_, end) = self.range(c.span);
                let entries = self.entries(open, end.saturating_sub(1), values, |v| v.span, |p, v| p.expr(v));
                let word = if *negated { "not in " } else { "in " };
                concat(vec![text(word), bracketed("[", "]", false, entries)])
            }
        };
        super::document::render_flat(&doc).unwrap_or_else(|| {
            self.trivia.fail();
            String::new()
        })
    }

    // ---- expressions ---------------------------------------------------------------------

    fn expr(&mut self, e: &Expr) -> Doc {
        self.expr_at(e, Ctx::TOP)
    }

    /// Prints `e` standing at `ctx`, in parentheses if the parser would otherwise read the
    /// text differently. Parsed trees never need them (their parentheses are `Paren` nodes);
    /// trees built by other means do.
    fn expr_at(&mut self, e: &Expr, ctx: Ctx) -> Doc {
        if needs_parens(e, ctx) {
            concat(vec![text("("), self.bare(e, Ctx::TOP), text(")")])
        } else {
            self.bare(e, ctx)
        }
    }

    /// The base of `.field`, `is` or `with`: anything but an atom needs parentheses, since a
    /// postfix binds to the operand right before it (`-a.b` is `-(a.b)`).
    fn postfix_base(&mut self, base: &Expr) -> Doc {
        if precedence(base) < POSTFIX {
            concat(vec![text("("), self.bare(base, Ctx::TOP), text(")")])
        } else {
            self.bare(base, Ctx::TOP)
        }
    }

    /// Prints `e` without parentheses of its own.
    fn bare(&mut self, e: &Expr, ctx: Ctx) -> Doc {
        match &e.kind {
            ExprKind::Bool(b) => text(if *b { "true" } else { "false" }),
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Duration(_) | ExprKind::Timestamp(_) => {
                text(self.literal(e.span))
            }
            ExprKind::String(s) => text(string_literal(s)),
            ExprKind::Name(n) => text(n.name.clone()),
            ExprKind::Field { base, field } => concat(vec![self.postfix_base(base), text(format!(".{}", field.name))]),
            ExprKind::Call { func, args } => {
                let mut docs = vec![text(format!("{}(", func.name))];
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        docs.push(text(", "));
                    }
                    docs.push(self.expr(a));
                }
                docs.push(text(")"));
                concat(docs)
            }
            ExprKind::Unary { op, operand } => {
                // The parser reads `not`'s operand at comparison strength or tighter (or
                // what the context allows), and `-`/`exists` take a single operand.
                let (word, min) = match op {
                    UnOp::Not => ("not ", ctx.min.max(COMPARISON)),
                    UnOp::Neg => ("-", u8::MAX),
                    UnOp::Exists => ("exists ", u8::MAX),
                };
                let operand = self.expr_at(
                    operand,
                    Ctx {
                        min,
                        follow: ctx.follow,
                    },
                );
                concat(vec![text(word), operand])
            }
            ExprKind::Binary { op, .. } if matches!(op, BinOp::And | BinOp::Or) => self.chain(e, *op, ctx),
            ExprKind::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                let lhs = self.expr_at(
                    lhs,
                    Ctx {
                        min: ctx.min,
                        follow: p,
                    },
                );
                let rhs = self.expr_at(
                    rhs,
                    Ctx {
                        min: p + 1,
                        follow: ctx.follow,
                    },
                );
                concat(vec![lhs, text(format!(" {} ", op.symbol())), rhs])
            }
            ExprKind::Is { experiment, variant } => concat(vec![
                self.postfix_base(experiment),
                text(format!(" is {}", variant.name)),
            ]),
            ExprKind::If { cond, then, otherwise } => {
                let cond = self.expr(cond);
                let then = self.expr(then);
                let otherwise = self.expr(otherwise);
                if_then_else(text("if "), cond, then, otherwise)
            }
            ExprKind::IfLet {
                binding,
                value,
                then,
                otherwise,
            } => {
                let value = self.expr(value);
                let then = self.expr(then);
                let otherwise = self.expr(otherwise);
                let head = text(format!("if let {} = ", binding.name));
                if_then_else(head, value, then, otherwise)
            }
            ExprKind::Quantified {
                quantifier,
                var,
                collection,
                body,
            } => {
                let q = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                    Quantifier::Count => "count",
                };
                concat(vec![
                    text(format!("{q} {} in ", var.name)),
                    self.expr(collection),
                    text(": "),
                    self.expr(body),
                ])
            }
            ExprKind::List(elems) => {
                let (start, end) = self.range(e.span);
                let entries = self.entries(start + 1, end - 1, elems, |x| x.span, |p, x| p.expr(x));
                bracketed("[", "]", false, entries)
            }
            ExprKind::Record { ty, fields } => {
                let after = ty
                    .as_ref()
                    .map(|t| t.span.end as usize)
                    .unwrap_or(e.span.start as usize);
                let body = self.record_body(after, e.span, fields);
                match ty {
                    Some(t) => concat(vec![text(format!("{} ", t.name)), body]),
                    None => body,
                }
            }
            ExprKind::With { base, fields } => {
                let after = base.span.end as usize;
                let base = self.postfix_base(base);
                let body = self.record_body(after, e.span, fields);
                concat(vec![base, text(" with "), body])
            }
            ExprKind::Paren(inner) => concat(vec![text("("), self.expr(inner), text(")")]),
            ExprKind::Error => {
                self.trivia.fail();
                text("")
            }
        }
    }

    /// `{ field: value, … }`, starting at the first `{` at or after `after`.
    fn record_body(&mut self, after: usize, span: Span, fields: &[FieldInit]) -> Doc {
        let (_, end) = self.range(span);
        let open = self.trivia.find(after, TokenKind::LBrace).map(|t| t.end).unwrap_or(end);
        let entries = self.entries(
            open,
            end.saturating_sub(1),
            fields,
            |f| f.span,
            |p, f| concat(vec![text(format!("{}: ", f.name.name)), p.expr(&f.value)]),
        );
        bracketed("{", "}", true, entries)
    }

    /// A chain of `and` (or of `or`): one line if it fits, else a line break before each
    /// operator, indented one level.
    fn chain(&mut self, e: &Expr, op: BinOp, ctx: Ctx) -> Doc {
        // The parser builds left-leaning trees: `a and b and c` is `(a and b) and c`.
        let mut operands = Vec::new();
        let mut cur = e;
        while let ExprKind::Binary { op: o, lhs, rhs } = &cur.kind {
            if *o != op {
                break;
            }
            operands.push(rhs.as_ref());
            cur = lhs;
        }
        operands.push(cur);
        operands.reverse();
        let p = op.precedence();
        let last = operands.len() - 1;
        let mut first = None;
        let mut rest = Vec::new();
        for (i, x) in operands.into_iter().enumerate() {
            if i == 0 {
                let at = Ctx {
                    min: ctx.min,
                    follow: p,
                };
                first = Some(self.expr_at(x, at));
            } else {
                let at = Ctx {
                    min: p + 1,
                    follow: if i == last { ctx.follow } else { p },
                };
                rest.push(Doc::Line);
                rest.push(text(format!("{} ", op.symbol())));
                rest.push(self.expr_at(x, at));
            }
        }
        let first = first.unwrap_or_else(|| text(""));
        group(concat(vec![first, nest(concat(rest))]))
    }

    /// A literal as the author wrote it (`1_000`, `0.20`, `7d`, `33.34%`, `@2026-01-01`).
    fn literal(&self, span: Span) -> String {
        let src = self.text.get(span.range()).unwrap_or("");
        src.chars().filter(|c| !c.is_whitespace()).collect()
    }
}

/// Where an expression stands, as the parser's precedence climbing sees it.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    /// The weakest binary operator the parser accepts at this point: 0 at the start of an
    /// expression, `p + 1` right of an operator of precedence `p`.
    min: u8,
    /// The precedence of the binary operator printed right after the expression; 0 if none.
    follow: u8,
}

impl Ctx {
    /// A whole expression: inside parentheses, brackets, braces, a clause.
    const TOP: Ctx = Ctx { min: 0, follow: 0 };
}

/// Precedence of postfix forms (`.field`, `is`, `with`), calls, literals and names.
const POSTFIX: u8 = 9;
/// Precedence of the comparison operators, which do not chain.
const COMPARISON: u8 = 4;

/// How tightly `e` binds: a postfix applies to it without parentheses only at [`POSTFIX`].
fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If { .. } | ExprKind::IfLet { .. } | ExprKind::Quantified { .. } => 0,
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::Unary { op: UnOp::Not, .. } => 3,
        ExprKind::Unary { .. } => 8,
        _ => POSTFIX,
    }
}

/// Would the parser, reading `e` at `ctx` without parentheses, build something else? This
/// mirrors `syntax::parser`'s precedence climbing: binary operators are left-associative,
/// comparisons do not chain, `not` reads its operand up to the weaker of the comparisons and
/// the context, and `if`, `if let` and quantifiers extend as far right as they can.
fn needs_parens(e: &Expr, ctx: Ctx) -> bool {
    match &e.kind {
        ExprKind::Binary { op, .. } => {
            let p = op.precedence();
            p < ctx.min || ctx.follow > p || (p == COMPARISON && ctx.follow == COMPARISON)
        }
        ExprKind::Unary { op: UnOp::Not, .. } => ctx.follow >= ctx.min.max(COMPARISON),
        ExprKind::If { .. } | ExprKind::IfLet { .. } | ExprKind::Quantified { .. } => ctx.follow > 0,
        _ => false,
    }
}

/// `if c then a else b`: one line if it fits, else breaks before `then` and `else`.
fn if_then_else(head: Doc, cond: Doc, then: Doc, otherwise: Doc) -> Doc {
    group(concat(vec![
        head,
        cond,
        nest(concat(vec![
            Doc::Line,
            text("then "),
            then,
            Doc::Line,
            text("else "),
            otherwise,
        ])),
    ]))
}

/// A block: the header, then one entry per line, indented, and the closing brace.
fn block(header: Doc, entries: Entries) -> Doc {
    if entries.items.is_empty() && entries.dangling.is_empty() {
        return concat(vec![header, text(" {}")]);
    }
    let mut body = Vec::new();
    for (i, item) in entries.items.into_iter().enumerate() {
        body.push(Doc::HardLine);
        let leading = if i == 0 {
            strip_leading_blanks(&item.leading)
        } else {
            &item.leading[..]
        };
        push_pieces(&mut body, leading);
        body.push(item.doc);
        if let Some(c) = item.trailing {
            body.push(Doc::LineSuffix(c));
        }
    }
    let empty = body.is_empty();
    push_dangling(&mut body, &entries.dangling, empty);
    concat(vec![header, text(" {"), nest(concat(body)), Doc::HardLine, text("}")])
}

/// A bracketed, comma-separated literal (record, list, enum variants): on one line if it
/// fits, else one entry per line with a trailing comma. `spaced` puts spaces inside the
/// brackets on one line (`{ a: 1 }`, not `[1]`).
fn bracketed(open: &str, close: &str, spaced: bool, entries: Entries) -> Doc {
    if entries.items.is_empty() && entries.dangling.is_empty() {
        return text(format!("{open}{close}"));
    }
    let line = || if spaced { Doc::Line } else { Doc::SoftLine };
    let mut body = Vec::new();
    let last = entries.items.len().saturating_sub(1);
    for (i, item) in entries.items.into_iter().enumerate() {
        if i == 0 {
            body.push(line());
            push_pieces(&mut body, strip_leading_blanks(&item.leading));
        } else {
            body.push(Doc::Line);
            push_pieces(&mut body, &item.leading);
        }
        body.push(item.doc);
        body.push(if i == last { Doc::IfBreak(",") } else { text(",") });
        if let Some(c) = item.trailing {
            body.push(Doc::LineSuffix(c));
        }
    }
    let empty = body.is_empty();
    push_dangling(&mut body, &entries.dangling, empty);
    group(concat(vec![text(open), nest(concat(body)), line(), text(close)]))
}

/// Leading comments and blank lines, at the start of a line; each ends its own line.
fn push_pieces(docs: &mut Vec<Doc>, pieces: &[Piece]) {
    for piece in pieces {
        match piece {
            Piece::Blank => docs.push(Doc::HardLine),
            Piece::Comment(c) => {
                docs.push(text(c.clone()));
                docs.push(Doc::HardLine);
            }
        }
    }
}

/// Comments after the last entry of a block, each on its own line.
fn push_dangling(docs: &mut Vec<Doc>, pieces: &[Piece], at_open: bool) {
    let pieces = if at_open { strip_leading_blanks(pieces) } else { pieces };
    for piece in pieces {
        docs.push(Doc::HardLine);
        if let Piece::Comment(c) = piece {
            docs.push(text(c.clone()));
        }
    }
}

/// Appends a top-level item: a blank line before it (unless it is the first, or an import
/// right after another where the author had none), then its comments, then the item.
fn push_top(out: &mut Vec<Doc>, item: Item, first: &mut bool, keep_blanks: bool) {
    let leading: &[Piece] = if *first {
        strip_leading_blanks(&item.leading)
    } else if keep_blanks {
        out.push(Doc::HardLine);
        &item.leading
    } else {
        out.push(Doc::HardLine);
        out.push(Doc::HardLine);
        strip_leading_blanks(&item.leading)
    };
    *first = false;
    push_pieces(out, leading);
    out.push(item.doc);
    if let Some(c) = item.trailing {
        out.push(Doc::LineSuffix(c));
    }
}

fn names(ids: &[Ident]) -> String {
    ids.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn pad(s: &str, width: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(s.chars().count())));
    out
}

/// A string literal with the canonical escapes: `\"`, `\\`, `\n`, `\r`, `\t`, `\0`, and `\u{…}`
/// for other control characters. Everything else is written as itself.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
