//! The abstract syntax tree: what a `.policy` file says, before names and types are known.
//!
//! Every node carries a [`Span`]. A declaration that failed to parse is kept as
//! [`DeclKind::Error`] so the rest of the file can still be resolved and checked, and so the
//! formatter can leave it untouched. Doc comments (`///`) are attached to the declaration,
//! field or variant they precede.

use crate::source::Span;

/// A name with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A dotted name, e.g. `retail.schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl Path {
    /// The dotted text, e.g. `retail.schema`.
    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One parsed file.
#[derive(Debug, Clone)]
pub struct File {
    /// `None` when the file has no (parsable) `package` line; `E0004` was reported.
    pub package: Option<Path>,
    pub imports: Vec<Import>,
    pub decls: Vec<Decl>,
    pub span: Span,
    /// Names of declarations that failed to parse (see [`DeclKind::Error`]).
    pub broken_names: Vec<String>,
}

/// `import a.b.C` or `import a.b.{C, D}`.
#[derive(Debug, Clone)]
pub struct Import {
    pub package: Path,
    pub members: Vec<Ident>,
    /// True for the braced form, even with one member (the formatter keeps the braces).
    pub braced: bool,
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone)]
pub struct Decl {
    /// The text of the `///` lines before it, without the slashes, joined by newlines.
    pub doc: Option<String>,
    pub kind: DeclKind,
    pub span: Span,
}

impl Decl {
    /// The declared name, if the declaration has one (tests and error nodes do not).
    pub fn name(&self) -> Option<&Ident> {
        match &self.kind {
            DeclKind::Enum(d) => Some(&d.name),
            DeclKind::Schema(d) => Some(&d.name),
            DeclKind::Const(d) => Some(&d.name),
            DeclKind::Segment(d) => Some(&d.name),
            DeclKind::Fn(d) => Some(&d.name),
            DeclKind::Eligibility(d) => Some(&d.name),
            DeclKind::Ranking(d) => Some(&d.name),
            DeclKind::Table(d) => Some(&d.name),
            DeclKind::Experiment(d) => Some(&d.name),
            DeclKind::Decision(d) => Some(&d.name),
            DeclKind::Test(_) | DeclKind::Error => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum DeclKind {
    Enum(EnumDecl),
    Schema(SchemaDecl),
    Const(ConstDecl),
    Segment(SegmentDecl),
    Fn(FnDecl),
    Eligibility(EligibilityDecl),
    Ranking(RankingDecl),
    Table(TableDecl),
    Experiment(ExperimentDecl),
    Decision(DecisionDecl),
    Test(TestDecl),
    /// A declaration that did not parse; its diagnostic has been reported.
    Error,
}

/// `enum Tier { Standard, Premium }`
#[derive(Debug, Clone)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub doc: Option<String>,
    pub name: Ident,
}

/// `schema Offer { id: String … }`
#[derive(Debug, Clone)]
pub struct SchemaDecl {
    pub name: Ident,
    pub fields: Vec<FieldDecl>,
}

#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub doc: Option<String>,
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// A written type: `Int`, `Set<String>`, `Offer?`.
#[derive(Debug, Clone)]
pub struct TypeExpr {
    pub name: Ident,
    pub args: Vec<TypeExpr>,
    pub optional: bool,
    pub span: Span,
}

/// `const name: Type = expr`
#[derive(Debug, Clone)]
pub struct ConstDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub value: Expr,
}

/// `segment name = expr`
#[derive(Debug, Clone)]
pub struct SegmentDecl {
    pub name: Ident,
    pub value: Expr,
}

/// A typed parameter: `offer: Offer`.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `fn name(a: T) -> R = expr`
#[derive(Debug, Clone)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub body: Expr,
}

/// `eligibility name for x: T { rules }`
#[derive(Debug, Clone)]
pub struct EligibilityDecl {
    pub name: Ident,
    pub binder: Param,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Require,
    Deny,
}

/// `require label: cond because "reason"`
#[derive(Debug, Clone)]
pub struct Rule {
    pub doc: Option<String>,
    pub kind: RuleKind,
    /// The span of the `require`/`deny` keyword.
    pub keyword: Span,
    pub label: Option<Ident>,
    pub cond: Expr,
    pub reason: Option<StringLit>,
    pub span: Span,
}

/// A string literal with its decoded value.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLit {
    pub value: String,
    pub span: Span,
}

/// `ranking name for x: T { score …  boost … }`
#[derive(Debug, Clone)]
pub struct RankingDecl {
    pub name: Ident,
    pub binder: Param,
    pub items: Vec<RankItem>,
}

#[derive(Debug, Clone)]
pub enum RankItem {
    /// `score expr`; the span is the whole clause.
    Score { expr: Expr, span: Span },
    /// `boost label: factor when cond`
    Boost {
        label: Option<Ident>,
        factor: Expr,
        cond: Expr,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitPolicy {
    First,
    Unique,
    Collect,
}

/// `table name(params) -> T { hit …  given …  row …  default … }`
#[derive(Debug, Clone)]
pub struct TableDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub output: TypeExpr,
    pub items: Vec<TableItem>,
}

#[derive(Debug, Clone)]
pub enum TableItem {
    Hit { policy: HitPolicy, span: Span },
    Given { columns: Vec<Expr>, span: Span },
    Row(Row),
    Default { value: Expr, span: Span },
}

/// `row cell, cell => output`
#[derive(Debug, Clone)]
pub struct Row {
    /// The span of the `row` keyword.
    pub keyword: Span,
    pub cells: Vec<Cell>,
    pub output: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub enum CellKind {
    /// `_`
    Any,
    /// `v` (equality) or `op v`.
    Compare(CmpOp, Expr),
    /// `in [..]` (negated: `not in [..]`).
    In { negated: bool, values: Vec<Expr> },
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub kind: CellKind,
    pub span: Span,
}

/// `experiment name { salt …  layer …  holdout …  variant … }`
#[derive(Debug, Clone)]
pub struct ExperimentDecl {
    pub name: Ident,
    pub items: Vec<ExperimentItem>,
}

/// A percentage as written, e.g. `33.34%`, kept exact in hundredths of a percent (basis points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent {
    /// Hundredths of a percent: `33.34%` is 3334; `100%` is 10000.
    pub basis_points: u32,
    /// False when the literal had more than two decimals (reported as `E0003`; the value is
    /// rounded), so checks that add weights up stay quiet instead of reporting a second error.
    pub exact: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExperimentItem {
    Salt {
        value: StringLit,
        span: Span,
    },
    /// `layer name FROM% to TO%`: the slice `[from, to)` of the layer's 32-bit bucket range.
    Layer {
        name: Ident,
        from: Percent,
        to: Percent,
        span: Span,
    },
    Holdout {
        weight: Percent,
        span: Span,
    },
    Variant {
        name: Ident,
        weight: Percent,
        span: Span,
    },
}

/// `decision name { clauses }`
#[derive(Debug, Clone)]
pub struct DecisionDecl {
    pub name: Ident,
    pub clauses: Vec<DecisionClause>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapScope {
    /// Per subject and offer.
    Offer,
    /// Per subject and placement.
    Placement,
    /// Per subject and channel, across placements.
    Channel,
}

#[derive(Debug, Clone)]
pub struct DecisionClause {
    pub kind: DecisionClauseKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum DecisionClauseKind {
    Placement(StringLit),
    Channels(Vec<Ident>),
    Candidates(Ident),
    Rank(Ident),
    Experiment(Ident),
    Max(IntLit),
    Cap {
        scope: CapScope,
        limit: IntLit,
        window: DurationLit,
    },
    Consent(Ident),
    Fallback(StringLit),
    Ttl(DurationLit),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntLit {
    pub value: i64,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationLit {
    /// Milliseconds.
    pub millis: i64,
    pub span: Span,
}

/// `test "name" { clauses }`
#[derive(Debug, Clone)]
pub struct TestDecl {
    pub name: StringLit,
    pub clauses: Vec<TestClause>,
}

#[derive(Debug, Clone)]
pub struct TestClause {
    pub kind: TestClauseKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TestClauseKind {
    /// `now @2026-11-24T10:00:00Z` (any expression of type Timestamp).
    Now(Expr),
    Subject(StringLit),
    Profile(Expr),
    Context(Expr),
    Consent(Vec<Ident>),
    Catalog(Expr),
    /// `seen "offer" N times [D ago]`
    Seen {
        offer: StringLit,
        times: IntLit,
        ago: Option<DurationLit>,
    },
    Expect(Expr),
}

/// An expression.
#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `x in xs`
    In,
    /// `xs contains x`
    Contains,
    /// `a ?? b`
    Coalesce,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Contains => "contains",
            BinOp::Coalesce => "??",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    /// Binding strength: higher binds tighter. Used by the parser and the formatter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::In | BinOp::Contains => 4,
            BinOp::Coalesce => 5,
            BinOp::Add | BinOp::Sub => 6,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 7,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `not e` (precedence 3: between `and` and comparisons).
    Not,
    /// `-e` (precedence 8).
    Neg,
    /// `exists e` (precedence 8).
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
    Count,
}

#[derive(Debug, Clone)]
pub struct FieldInit {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    /// Milliseconds.
    Duration(i64),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A plain name: a local, segment, const, enum variant (bare), `profile`, `context`, …
    Name(Ident),
    /// `base.field`
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    /// `f(args)`; the callee is always a name.
    Call {
        func: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `exp is variant`
    Is {
        experiment: Box<Expr>,
        variant: Ident,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    IfLet {
        binding: Ident,
        value: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Quantified {
        quantifier: Quantifier,
        var: Ident,
        collection: Box<Expr>,
        body: Box<Expr>,
    },
    /// `[a, b, c]`: a list, or a set where a set is expected.
    List(Vec<Expr>),
    /// `Offer { … }` (typed) or `{ … }` (type from context).
    Record {
        ty: Option<Ident>,
        fields: Vec<FieldInit>,
    },
    /// `base with { … }`
    With {
        base: Box<Expr>,
        fields: Vec<FieldInit>,
    },
    /// `( e )`, kept so the formatter preserves the author's grouping.
    Paren(Box<Expr>),
    /// An expression that failed to parse (only inside error-tolerant contexts).
    Error,
}
