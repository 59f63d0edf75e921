//! Decision tables: checking rows and cells, and proving facts about rows.
//!
//! Every cell is a test against constants, so each cell denotes a set of column values that
//! can be computed exactly: a set of enum variants or booleans, or a union of intervals over an
//! ordered domain (integers, durations and timestamps as integers; floats; strings). Two rows
//! overlap when, in every column, their sets intersect; a row is unreachable under `hit first`
//! when one earlier row's sets contain its sets in every column. Both checks are exact for a
//! pair of rows; coverage of a row by the union of several earlier rows is not reported.

use super::{Checker, Mode};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, CellTest, CmpOp, Expr, Literal, Type};
use crate::resolve::DeclRef;
use crate::source::Span;
use crate::syntax::ast;
use std::cmp::Ordering;

impl Checker<'_> {
    pub(super) fn check_table(&mut self, id: u32, fi: usize, t: &ast::TableDecl) {
        self.begin_body(fi, Mode::Policy, Some(DeclRef::Table(id)));
        let params = self.program.tables[id as usize].params.clone();
        for (p, ty) in t.params.iter().zip(params) {
            self.bind_local(&p.name, ty.clone());
            self.types.push((p.name.span, ty));
        }
        let output = self.program.tables[id as usize].output.clone();
        let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
        let mut hit: Option<(ir::HitPolicy, Span)> = None;
        let mut given: Option<(Vec<Expr>, Span)> = None;
        let mut default: Option<(Expr, Span)> = None;
        let mut rows: Vec<ir::RowDef> = Vec::new();
        let mut row_keywords: Vec<Span> = Vec::new();
        for item in &t.items {
            match item {
                ast::TableItem::Hit { policy, span } => {
                    if let Some((_, prev)) = hit {
                        self.dup(*span, prev, "hit");
                        continue;
                    }
                    let p = match policy {
                        ast::HitPolicy::First => ir::HitPolicy::First,
                        ast::HitPolicy::Unique => ir::HitPolicy::Unique,
                        ast::HitPolicy::Collect => ir::HitPolicy::Collect,
                    };
                    hit = Some((p, *span));
                }
                ast::TableItem::Given { columns, span } => {
                    if let Some((_, prev)) = &given {
                        let prev = *prev;
                        self.dup(*span, prev, "given");
                        continue;
                    }
                    let cols: Vec<Expr> = columns.iter().map(|c| self.expr(c, None)).collect();
                    given = Some((cols, *span));
                }
                ast::TableItem::Default { value, span } => {
                    if let Some((_, prev)) = &default {
                        let prev = *prev;
                        self.dup(*span, prev, "default");
                        continue;
                    }
                    let v = self.check_as(value, &output);
                    default = Some((v, *span));
                }
                ast::TableItem::Row(r) => {
                    let col_types: Vec<Type> = given
                        .as_ref()
                        .map(|(c, _)| c.iter().map(|e| e.ty.clone()).collect())
                        .unwrap_or_default();
                    if given.is_none() {
                        self.report(
                            Diagnostic::new(
                                Code::MissingClause,
                                r.keyword,
                                "a row comes before the table's `given` columns",
                            )
                            .with_label("no columns yet")
                            .with_help("start the table with `given expr, expr, …` naming what the rows test"),
                        );
                    } else if r.cells.len() != col_types.len() {
                        self.report(
                            Diagnostic::new(
                                Code::WrongCellCount,
                                r.keyword,
                                format!(
                                    "this row has {} cell{}, but the table has {} column{}",
                                    r.cells.len(),
                                    if r.cells.len() == 1 { "" } else { "s" },
                                    col_types.len(),
                                    if col_types.len() == 1 { "" } else { "s" }
                                ),
                            )
                            .with_label("wrong number of cells")
                            .with_help("write one cell per column; `_` matches anything"),
                        );
                    }
                    let mut cells = Vec::new();
                    for (i, cell) in r.cells.iter().enumerate() {
                        let cty = col_types.get(i).cloned().unwrap_or(Type::Error);
                        cells.push(self.cell(cell, &cty));
                    }
                    let out = self.check_as(&r.output, &output);
                    if cells.len() == col_types.len() && given.is_some() {
                        rows.push(ir::RowDef {
                            cells,
                            output: out,
                            span: r.span,
                        });
                        row_keywords.push(r.keyword);
                    }
                }
            }
        }
        let policy = hit.map(|h| h.0).unwrap_or(ir::HitPolicy::First);
        if hit.is_none() {
            self.report(
                Diagnostic::new(Code::MissingClause, t.name.span, format!("table `{}` has no hit policy", t.name.name))
                    .with_label("needs `hit first`, `hit unique` or `hit collect`")
                    .with_help("`hit first` takes the first matching row; `hit unique` proves at most one row matches; `hit collect` takes them all"),
            );
        }
        if given.is_none() {
            self.report(
                Diagnostic::new(
                    Code::MissingClause,
                    t.name.span,
                    format!("table `{}` has no `given` columns", t.name.name),
                )
                .with_label("needs `given …`"),
            );
        }
        match (policy, &default) {
            (ir::HitPolicy::Collect, Some((_, span))) => {
                self.report(
                    Diagnostic::new(Code::InvalidValue, *span, "a `hit collect` table has no default")
                        .with_label("remove this")
                        .with_help("when no row matches, a collect table gives an empty list"),
                );
            }
            (ir::HitPolicy::First | ir::HitPolicy::Unique, None) if hit.is_some() => {
                self.report(
                    Diagnostic::new(
                        Code::MissingDefault,
                        t.name.span,
                        format!("table `{}` has no `default`", t.name.name),
                    )
                    .with_label("what is the value when no row matches?")
                    .with_help("add `default <value>` after the rows"),
                );
            }
            _ => {}
        }
        // A cell with an error was folded to `_`; reasoning about rows would report nonsense.
        let table_has_errors = self.diags.iter().filter(|d| d.is_error()).count() > errors_before;
        if let (Some((cols, _)), false) = (&given, table_has_errors) {
            let col_types: Vec<Type> = cols.iter().map(|c| c.ty.clone()).collect();
            self.analyse_rows(policy, &col_types, &rows, &row_keywords);
        }
        let frame = self.body.frame;
        let d = &mut self.program.tables[id as usize];
        d.hit = policy;
        d.columns = given.map(|g| g.0).unwrap_or_default();
        d.rows = rows;
        d.default = default.map(|d| d.0);
        d.frame = frame;
    }

    fn dup(&mut self, span: Span, prev: Span, what: &str) {
        self.report(
            Diagnostic::new(Code::DuplicateClause, span, format!("`{what}` appears more than once"))
                .with_label("second one")
                .with_secondary(prev, "first one"),
        );
    }

    /// Checks a cell against its column's type, folding it to constants.
    fn cell(&mut self, cell: &ast::Cell, col: &Type) -> CellTest {
        let elem = col.strip_optional().clone();
        let saved = self.body.mode;
        self.body.mode = Mode::Constant;
        let constant = |c: &mut Checker, e: &ast::Expr| -> Option<Literal> {
            let n = c.diags.len();
            let x = c.check_as(e, &elem);
            if x.ty.is_error() {
                return None;
            }
            match c.fold_literal(&x) {
                Some(l) => Some(l),
                None => {
                    if c.diags.len() == n {
                        c.report(
                            Diagnostic::new(Code::NonConstantCell, e.span, "a table cell must be a constant")
                                .with_label("computed value")
                                .with_help("cells compare the column with literals, enum values or `const`s; move the computation into the `given` column"),
                        );
                    }
                    None
                }
            }
        };
        let out = match &cell.kind {
            ast::CellKind::Any => CellTest::Any,
            ast::CellKind::Compare(op, e) => {
                let op = match op {
                    ast::CmpOp::Eq => CmpOp::Eq,
                    ast::CmpOp::Ne => CmpOp::Ne,
                    ast::CmpOp::Lt => CmpOp::Lt,
                    ast::CmpOp::Le => CmpOp::Le,
                    ast::CmpOp::Gt => CmpOp::Gt,
                    ast::CmpOp::Ge => CmpOp::Ge,
                };
                if !matches!(op, CmpOp::Eq | CmpOp::Ne)
                    && !matches!(
                        elem,
                        Type::Int | Type::Float | Type::String | Type::Duration | Type::Timestamp | Type::Error
                    )
                {
                    let t = self.type_name(&elem);
                    self.report(
                        Diagnostic::new(
                            Code::NotOrdered,
                            cell.span,
                            format!("`{t}` values cannot be compared with `<`, `<=`, `>` or `>=`"),
                        )
                        .with_label("no order")
                        .with_help("list the values instead: `in [A, B]`"),
                    );
                    self.body.mode = saved;
                    return CellTest::Any;
                }
                match constant(self, e) {
                    Some(l) => CellTest::Compare(op, l),
                    None => CellTest::Any,
                }
            }
            ast::CellKind::In { negated, values } => {
                let mut vs = Vec::new();
                for v in values {
                    if let Some(l) = constant(self, v) {
                        vs.push(l);
                    }
                }
                CellTest::In {
                    negated: *negated,
                    values: vs,
                }
            }
        };
        self.body.mode = saved;
        out
    }

    fn analyse_rows(&mut self, policy: ir::HitPolicy, cols: &[Type], rows: &[ir::RowDef], keywords: &[Span]) {
        if cols.iter().any(Type::is_error) || policy == ir::HitPolicy::Collect {
            return;
        }
        let sets: Vec<Vec<CellSet>> = rows
            .iter()
            .map(|r| r.cells.iter().zip(cols).map(|(c, t)| CellSet::of(c, t)).collect())
            .collect();
        for j in 0..rows.len() {
            for i in 0..j {
                match policy {
                    ir::HitPolicy::Unique => {
                        if sets[i].iter().zip(&sets[j]).all(|(a, b)| a.intersects(b)) {
                            self.report(
                                Diagnostic::new(Code::OverlappingRows, keywords[j], format!("rows {} and {} can both match the same input", i + 1, j + 1))
                                    .with_label(format!("row {} overlaps row {}", j + 1, i + 1))
                                    .with_secondary(keywords[i], format!("row {}", i + 1))
                                    .with_help("under `hit unique` at most one row may match: narrow a cell, or use `hit first` if the order decides"),
                            );
                            break;
                        }
                    }
                    ir::HitPolicy::First => {
                        if sets[i].iter().zip(&sets[j]).all(|(a, b)| a.contains(b)) {
                            self.report(
                                Diagnostic::new(
                                    Code::UnreachableRow,
                                    keywords[j],
                                    format!(
                                        "row {} can never be chosen: row {} matches everything it matches",
                                        j + 1,
                                        i + 1
                                    ),
                                )
                                .with_label("unreachable")
                                .with_secondary(keywords[i], format!("row {} comes first", i + 1))
                                .with_help("move it above the more general row, or remove it"),
                            );
                            break;
                        }
                    }
                    ir::HitPolicy::Collect => {}
                }
            }
        }
    }
}

/// A point of an ordered domain.
#[derive(Debug, Clone, PartialEq)]
enum Point {
    /// Ints, durations and timestamps (i128 so that `x + 1` never overflows).
    Int(i128),
    Float(f64),
    Str(String),
}

impl Point {
    fn cmp(&self, other: &Point) -> Ordering {
        match (self, other) {
            (Point::Int(a), Point::Int(b)) => a.cmp(b),
            (Point::Float(a), Point::Float(b)) => a.total_cmp(b),
            (Point::Str(a), Point::Str(b)) => a.cmp(b),
            (Point::Int(a), Point::Float(b)) => (*a as f64).total_cmp(b),
            (Point::Float(a), Point::Int(b)) => a.total_cmp(&(*b as f64)),
            _ => Ordering::Equal,
        }
    }
}

/// One end of an interval. For integer domains every bound is made inclusive.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Unbounded,
    Incl(Point),
    Excl(Point),
}

#[derive(Debug, Clone, PartialEq)]
struct Interval {
    lo: Bound,
    hi: Bound,
}

/// The set of column values a cell matches.
#[derive(Debug, Clone, PartialEq)]
enum CellSet {
    /// For enums and booleans: a bitset of variants (bool: bit 0 false, bit 1 true).
    Finite { bits: u128, universe: u128, missing: bool },
    /// For ordered domains: disjoint intervals, plus whether a missing optional matches.
    Ordered {
        intervals: Vec<Interval>,
        missing: bool,
        integer: bool,
    },
    /// A domain we do not reason about (records, collections): treated as "may match anything".
    Opaque,
}

fn point(l: &Literal) -> Option<Point> {
    match l {
        Literal::Int(i) | Literal::Duration(i) | Literal::Timestamp(i) => Some(Point::Int(i128::from(*i))),
        Literal::Float(f) => Some(Point::Float(*f)),
        Literal::String(s) => Some(Point::Str(s.to_string())),
        _ => None,
    }
}

fn finite_bit(l: &Literal) -> Option<u32> {
    match l {
        Literal::Bool(b) => Some(u32::from(*b)),
        Literal::Enum { variant, .. } if *variant < 128 => Some(*variant),
        _ => None,
    }
}

impl CellSet {
    fn of(cell: &CellTest, col: &Type) -> CellSet {
        let optional = matches!(col, Type::Optional(_));
        let base = col.strip_optional();
        let universe: Option<u128> = match base {
            Type::Bool => Some(0b11),
            Type::Enum(_) => None,
            _ => None,
        };
        match base {
            Type::Bool | Type::Enum(_) => {
                // The universe of an enum is "all bits"; variants beyond 128 make us give up.
                let universe = universe.unwrap_or(u128::MAX);
                let bits_of = |ls: &[Literal]| -> Option<u128> {
                    let mut b = 0u128;
                    for l in ls {
                        b |= 1u128 << finite_bit(l)?;
                    }
                    Some(b)
                };
                let (bits, missing) = match cell {
                    CellTest::Any => (universe, true),
                    CellTest::Compare(CmpOp::Eq, l) => match bits_of(std::slice::from_ref(l)) {
                        Some(b) => (b, false),
                        None => return CellSet::Opaque,
                    },
                    CellTest::Compare(CmpOp::Ne, l) => match bits_of(std::slice::from_ref(l)) {
                        Some(b) => (universe & !b, false),
                        None => return CellSet::Opaque,
                    },
                    CellTest::In { negated, values } => match bits_of(values) {
                        Some(b) => (if *negated { universe & !b } else { b }, false),
                        None => return CellSet::Opaque,
                    },
                    CellTest::Compare(..) => return CellSet::Opaque,
                };
                CellSet::Finite {
                    bits,
                    universe,
                    missing: missing && optional,
                }
            }
            Type::Int | Type::Duration | Type::Timestamp | Type::Float | Type::String => {
                let integer = !matches!(base, Type::Float | Type::String);
                let all = vec![Interval {
                    lo: Bound::Unbounded,
                    hi: Bound::Unbounded,
                }];
                let pt = |p: Point| {
                    vec![Interval {
                        lo: Bound::Incl(p.clone()),
                        hi: Bound::Incl(p),
                    }]
                };
                let (intervals, missing) = match cell {
                    CellTest::Any => (all, true),
                    CellTest::Compare(op, l) => {
                        let Some(p) = point(l) else { return CellSet::Opaque };
                        let iv = match op {
                            CmpOp::Eq => pt(p),
                            CmpOp::Ne => vec![
                                Interval {
                                    lo: Bound::Unbounded,
                                    hi: Bound::Excl(p.clone()),
                                },
                                Interval {
                                    lo: Bound::Excl(p),
                                    hi: Bound::Unbounded,
                                },
                            ],
                            CmpOp::Lt => vec![Interval {
                                lo: Bound::Unbounded,
                                hi: Bound::Excl(p),
                            }],
                            CmpOp::Le => vec![Interval {
                                lo: Bound::Unbounded,
                                hi: Bound::Incl(p),
                            }],
                            CmpOp::Gt => vec![Interval {
                                lo: Bound::Excl(p),
                                hi: Bound::Unbounded,
                            }],
                            CmpOp::Ge => vec![Interval {
                                lo: Bound::Incl(p),
                                hi: Bound::Unbounded,
                            }],
                        };
                        (iv, false)
                    }
                    CellTest::In { negated, values } => {
                        let mut ps = Vec::new();
                        for v in values {
                            let Some(p) = point(v) else { return CellSet::Opaque };
                            ps.push(p);
                        }
                        ps.sort_by(|a, b| a.cmp(b));
                        ps.dedup_by(|a, b| a.cmp(b) == Ordering::Equal);
                        if *negated {
                            let mut out = Vec::new();
                            let mut lo = Bound::Unbounded;
                            for p in ps {
                                out.push(Interval {
                                    lo,
                                    hi: Bound::Excl(p.clone()),
                                });
                                lo = Bound::Excl(p);
                            }
                            out.push(Interval {
                                lo,
                                hi: Bound::Unbounded,
                            });
                            (out, false)
                        } else {
                            (ps.into_iter().flat_map(pt).collect(), false)
                        }
                    }
                };
                let intervals = normalize(intervals, integer);
                CellSet::Ordered {
                    intervals,
                    missing: missing && optional,
                    integer,
                }
            }
            _ => match cell {
                CellTest::Any => CellSet::Opaque,
                _ => CellSet::Opaque,
            },
        }
    }

    fn intersects(&self, other: &CellSet) -> bool {
        match (self, other) {
            (
                CellSet::Finite {
                    bits: a, missing: ma, ..
                },
                CellSet::Finite {
                    bits: b, missing: mb, ..
                },
            ) => a & b != 0 || (*ma && *mb),
            (
                CellSet::Ordered {
                    intervals: a,
                    missing: ma,
                    integer,
                },
                CellSet::Ordered {
                    intervals: b,
                    missing: mb,
                    ..
                },
            ) => {
                (*ma && *mb)
                    || a.iter()
                        .any(|x| b.iter().any(|y| !interval_empty(&intersect(x, y), *integer)))
            }
            _ => true,
        }
    }

    /// Whether every value `other` matches, `self` matches too.
    fn contains(&self, other: &CellSet) -> bool {
        match (self, other) {
            (
                CellSet::Finite {
                    bits: a,
                    universe,
                    missing: ma,
                },
                CellSet::Finite {
                    bits: b, missing: mb, ..
                },
            ) => (b & universe & !a) == 0 && (*ma || !*mb),
            (
                CellSet::Ordered {
                    intervals: a,
                    missing: ma,
                    integer,
                },
                CellSet::Ordered {
                    intervals: b,
                    missing: mb,
                    ..
                },
            ) => {
                (*ma || !*mb)
                    && b.iter()
                        .all(|y| interval_empty(y, *integer) || a.iter().any(|x| interval_within(y, x)))
            }
            _ => false,
        }
    }
}

/// Makes integer bounds inclusive, drops empty intervals, sorts and merges touching ones.
fn normalize(ivs: Vec<Interval>, integer: bool) -> Vec<Interval> {
    let mut v: Vec<Interval> = ivs
        .into_iter()
        .map(|iv| if integer { inclusive(iv) } else { iv })
        .filter(|iv| !interval_empty(iv, integer))
        .collect();
    v.sort_by(|a, b| lo_cmp(&a.lo, &b.lo));
    let mut out: Vec<Interval> = Vec::new();
    for iv in v {
        if let Some(last) = out.last_mut() {
            if touches(&last.hi, &iv.lo, integer) {
                if hi_cmp(&iv.hi, &last.hi) == Ordering::Greater {
                    last.hi = iv.hi;
                }
                continue;
            }
        }
        out.push(iv);
    }
    out
}

fn inclusive(iv: Interval) -> Interval {
    let lo = match iv.lo {
        Bound::Excl(Point::Int(i)) => Bound::Incl(Point::Int(i + 1)),
        b => b,
    };
    let hi = match iv.hi {
        Bound::Excl(Point::Int(i)) => Bound::Incl(Point::Int(i - 1)),
        b => b,
    };
    Interval { lo, hi }
}

/// Does an interval ending at `hi` run into (or over) one starting at `lo`?
fn touches(hi: &Bound, lo: &Bound, integer: bool) -> bool {
    match (hi, lo) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Incl(a), Bound::Incl(b)) => match a.cmp(b) {
            Ordering::Less => integer && matches!((a, b), (Point::Int(x), Point::Int(y)) if x + 1 == *y),
            _ => true,
        },
        (Bound::Incl(a), Bound::Excl(b)) | (Bound::Excl(a), Bound::Incl(b)) => a.cmp(b) != Ordering::Less,
        (Bound::Excl(a), Bound::Excl(b)) => a.cmp(b) == Ordering::Greater,
    }
}

fn lo_cmp(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Incl(x), Bound::Incl(y)) | (Bound::Excl(x), Bound::Excl(y)) => x.cmp(y),
        (Bound::Incl(x), Bound::Excl(y)) => x.cmp(y).then(Ordering::Less),
        (Bound::Excl(x), Bound::Incl(y)) => x.cmp(y).then(Ordering::Greater),
    }
}

fn hi_cmp(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Greater,
        (_, Bound::Unbounded) => Ordering::Less,
        (Bound::Incl(x), Bound::Incl(y)) | (Bound::Excl(x), Bound::Excl(y)) => x.cmp(y),
        (Bound::Incl(x), Bound::Excl(y)) => x.cmp(y).then(Ordering::Greater),
        (Bound::Excl(x), Bound::Incl(y)) => x.cmp(y).then(Ordering::Less),
    }
}

fn intersect(a: &Interval, b: &Interval) -> Interval {
    let lo = if lo_cmp(&a.lo, &b.lo) == Ordering::Greater {
        a.lo.clone()
    } else {
        b.lo.clone()
    };
    let hi = if hi_cmp(&a.hi, &b.hi) == Ordering::Less {
        a.hi.clone()
    } else {
        b.hi.clone()
    };
    Interval { lo, hi }
}

fn interval_empty(iv: &Interval, integer: bool) -> bool {
    let iv = if integer { inclusive(iv.clone()) } else { iv.clone() };
    match (&iv.lo, &iv.hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
        (Bound::Incl(a), Bound::Incl(b)) => a.cmp(b) == Ordering::Greater,
        (Bound::Incl(a), Bound::Excl(b)) | (Bound::Excl(a), Bound::Incl(b)) | (Bound::Excl(a), Bound::Excl(b)) => {
            a.cmp(b) != Ordering::Less
        }
    }
}

/// Is `inner` inside `outer`?
fn interval_within(inner: &Interval, outer: &Interval) -> bool {
    lo_cmp(&outer.lo, &inner.lo) != Ordering::Greater && hi_cmp(&outer.hi, &inner.hi) != Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(op: CmpOp, i: i64) -> CellSet {
        CellSet::of(&CellTest::Compare(op, Literal::Int(i)), &Type::Int)
    }

    #[test]
    fn integer_intervals_touch_without_gaps() {
        assert!(!int(CmpOp::Gt, 1).intersects(&int(CmpOp::Lt, 2)));
        assert!(int(CmpOp::Ge, 1).intersects(&int(CmpOp::Le, 1)));
        assert!(int(CmpOp::Ge, 0).contains(&int(CmpOp::Gt, 5)));
        assert!(!int(CmpOp::Gt, 5).contains(&int(CmpOp::Ge, 5)));
        let ne = int(CmpOp::Ne, 3);
        assert!(!ne.intersects(&int(CmpOp::Eq, 3)));
        assert!(ne.intersects(&int(CmpOp::Eq, 4)));
    }

    #[test]
    fn float_bounds_are_exact() {
        let f = |op, x: f64| CellSet::of(&CellTest::Compare(op, Literal::Float(x)), &Type::Float);
        assert!(!f(CmpOp::Lt, 1.0).intersects(&f(CmpOp::Ge, 1.0)));
        assert!(f(CmpOp::Le, 1.0).intersects(&f(CmpOp::Ge, 1.0)));
        assert!(f(CmpOp::Ge, 500.0).contains(&f(CmpOp::Gt, 500.0)));
    }

    #[test]
    fn enum_cells_and_missing_optionals() {
        let e = |v: u32| Literal::Enum { enum_id: 0, variant: v };
        let t = Type::Optional(Box::new(Type::Enum(0)));
        let any = CellSet::of(&CellTest::Any, &t);
        let a = CellSet::of(&CellTest::Compare(CmpOp::Eq, e(1)), &t);
        let not_a = CellSet::of(
            &CellTest::In {
                negated: true,
                values: vec![e(1)],
            },
            &t,
        );
        assert!(any.contains(&a));
        assert!(!a.contains(&any));
        assert!(!a.intersects(&not_a));
        assert!(any.intersects(&not_a));
    }
}
