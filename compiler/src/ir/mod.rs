//! The typed intermediate representation.
//!
//! The type checker lowers the AST to this form: every name is resolved to an index, every
//! expression carries its [`Type`], implicit conversions (`Int` to `Float`, `T` to `T?`) are
//! explicit nodes, and table cells are folded to constants. The interpreter ([`crate::interp`])
//! gives it its meaning; the JIT compiles the same structures.
//!
//! Invariant: a [`Program`] built from sources with no errors is well typed. Nothing in the IR
//! refers back to the AST.

use crate::source::Span;
use std::sync::Arc;

pub type EnumId = u32;
pub type SchemaId = u32;
pub type ConstId = u32;
pub type SegmentId = u32;
pub type FunctionId = u32;
pub type TableId = u32;
pub type EligibilityId = u32;
pub type RankingId = u32;
pub type ExperimentId = u32;
pub type DecisionId = u32;

/// The variant index `experiment is holdout` tests for: subjects held out of the experiment.
pub const HOLDOUT_VARIANT: u32 = u32::MAX;
/// The assignment code (JIT helpers) of a subject outside its experiment's layer slice: never a
/// variant index (an experiment has at most 10,000 variants) and never the holdout.
pub const NOT_ENROLLED_VARIANT: u32 = u32::MAX - 1;

/// A type of the language.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Float,
    String,
    Duration,
    Timestamp,
    Enum(EnumId),
    Record(SchemaId),
    Set(Box<Type>),
    List(Box<Type>),
    Optional(Box<Type>),
    /// The type of an expression that already has an error; it agrees with every type, so one
    /// mistake produces one diagnostic.
    Error,
}

impl Type {
    pub fn is_error(&self) -> bool {
        matches!(self, Type::Error)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    /// The element type of a set or list.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::Set(t) | Type::List(t) => Some(t),
            _ => None,
        }
    }

    /// `T` for `T?`, otherwise the type itself.
    pub fn strip_optional(&self) -> &Type {
        match self {
            Type::Optional(t) => t,
            t => t,
        }
    }
}

/// A constant value that can appear in the IR.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Arc<str>),
    /// Milliseconds.
    Duration(i64),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Enum {
        enum_id: EnumId,
        variant: u32,
    },
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

/// What a call calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callee {
    Function(FunctionId),
    Table(TableId),
    /// `eligibility(x)`: is `x` eligible.
    Eligibility(EligibilityId),
    /// `ranking(x)`: `x`'s final score.
    Ranking(RankingId),
}

/// Built-in functions (see `stdlib.rs` for signatures and documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Lower,
    Upper,
    Trim,
    StartsWith,
    EndsWith,
    Len,
    IsEmpty,
    Intersects,
    Abs,
    Min,
    Max,
    Clamp,
    Round,
    Floor,
    Ceil,
    ToFloat,
    Sqrt,
    Ln,
    Days,
    Hours,
    Minutes,
    DaysSince,
    HourOfDay,
    DayOfWeek,
    Bucket,
    SubjectId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    /// Arithmetic negation of an `Int`, `Float` or `Duration` (saturating for integers).
    Neg,
    /// Is an optional present.
    Exists,
}

/// Binary operators. Operand types are those of the operand expressions (after explicit
/// conversions), which the backends dispatch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// Short-circuit.
    And,
    /// Short-circuit.
    Or,
    /// Structural equality; operands have the same type.
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `Int + Int` (saturating), `Float + Float`, `Duration + Duration`,
    /// `Timestamp + Duration`, `String + String` (concatenation).
    Add,
    /// `Int`, `Float`, `Duration - Duration`, `Timestamp - Duration`, `Timestamp - Timestamp`.
    Sub,
    /// `Int`, `Float`, `Duration * Int`.
    Mul,
    /// `Int` (truncating; by zero gives 0), `Float` (by zero gives 0.0), `Duration / Int`.
    Div,
    /// `Int`, `Float`; by zero gives 0.
    Rem,
    /// `element in collection`; the lhs is the element.
    In,
    /// `haystack contains needle` for two strings (substring).
    StrContains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Literal),
    /// A slot of the current frame: parameters first, then `if let` and quantifier variables.
    Local(u32),
    Profile,
    Context,
    Now,
    Field {
        base: Box<Expr>,
        index: u32,
    },
    Segment(SegmentId),
    Const(ConstId),
    Call {
        callee: Callee,
        args: Vec<Expr>,
    },
    Builtin {
        func: Builtin,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `if let local = value then … else …`; `value` is optional.
    IfLet {
        local: u32,
        value: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `value ?? default`; `value` is optional.
    Coalesce {
        value: Box<Expr>,
        default: Box<Expr>,
    },
    Quantified {
        quantifier: Quantifier,
        local: u32,
        collection: Box<Expr>,
        body: Box<Expr>,
    },
    /// A list or set literal; `ty` says which.
    Collection(Vec<Expr>),
    /// A record literal; `None` is a missing optional field.
    Record {
        schema: SchemaId,
        fields: Vec<Option<Expr>>,
    },
    /// `base with { … }`: replaces fields by index.
    With {
        base: Box<Expr>,
        updates: Vec<(u32, Expr)>,
    },
    /// An `Int` converted to `Float`.
    IntToFloat(Box<Expr>),
    /// A present value of type `T` where `T?` is expected.
    Some(Box<Expr>),
    /// `experiment is variant`; `variant` is [`HOLDOUT_VARIANT`] for `experiment is holdout`.
    ExperimentIs {
        experiment: ExperimentId,
        variant: u32,
    },
    /// Tests only: the result of a decision, a `DecisionResult` record.
    DecisionResult(DecisionId),
    /// Tests only: the result of an eligibility block over the test's catalog, an
    /// `EligibilityResult` record.
    EligibilityResult(EligibilityId),
    /// Produced only when there were errors.
    Error,
}

impl Expr {
    pub fn new(kind: ExprKind, ty: Type, span: Span) -> Expr {
        Expr { kind, ty, span }
    }

    pub fn error(span: Span) -> Expr {
        Expr::new(ExprKind::Error, Type::Error, span)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    /// Qualified, e.g. `retail.schema.Tier`.
    pub name: String,
    pub variants: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub ty: Type,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    /// Qualified, e.g. `retail.schema.Offer`.
    pub name: String,
    pub fields: Vec<FieldDef>,
    pub doc: Option<String>,
    pub span: Span,
}

impl SchemaDef {
    pub fn field_index(&self, name: &str) -> Option<u32> {
        self.fields.iter().position(|f| f.name == name).map(|i| i as u32)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConstDef {
    pub name: String,
    pub ty: Type,
    pub value: Expr,
    pub frame: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDef {
    pub name: String,
    pub body: Expr,
    pub frame: u32,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    pub params: Vec<Type>,
    pub ret: Type,
    pub body: Expr,
    /// Frame size: parameters plus body locals.
    pub frame: u32,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Require,
    Deny,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    /// Stable identity: `package.block.label`. Shared (`Arc`) because every decision's trace
    /// names the rule that removed each candidate, and a clone must not allocate.
    pub id: Arc<str>,
    pub kind: RuleKind,
    pub cond: Expr,
    pub reason: Option<Arc<str>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EligibilityDef {
    pub name: String,
    /// The candidate's schema; the candidate is local 0.
    pub schema: SchemaId,
    pub rules: Vec<RuleDef>,
    pub frame: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BoostDef {
    /// Shared for the same reason as [`RuleDef::id`].
    pub id: Arc<str>,
    /// A `Float` (integers are converted).
    pub factor: Expr,
    pub cond: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RankingDef {
    pub name: String,
    /// The candidate's schema; the candidate is local 0.
    pub schema: SchemaId,
    /// A `Float` (integers are converted).
    pub score: Expr,
    pub boosts: Vec<BoostDef>,
    pub frame: u32,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitPolicy {
    First,
    Unique,
    Collect,
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

/// A table cell folded to constants.
#[derive(Debug, Clone, PartialEq)]
pub enum CellTest {
    Any,
    Compare(CmpOp, Literal),
    In { negated: bool, values: Vec<Literal> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowDef {
    pub cells: Vec<CellTest>,
    pub output: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub params: Vec<Type>,
    pub hit: HitPolicy,
    /// Column expressions; an optional column value that is missing matches only `_` cells.
    pub columns: Vec<Expr>,
    pub rows: Vec<RowDef>,
    /// Always present for `first` and `unique` in a checked program.
    pub default: Option<Expr>,
    /// The declared output type; for `collect` the table's value is `List<output>`.
    pub output: Type,
    pub frame: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VariantDef {
    pub name: String,
    /// Hundredths of a percent; the variants of an experiment add up to 10,000.
    pub weight_bp: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentDef {
    pub name: String,
    pub salt: String,
    /// The slice of a layer the experiment runs in; subjects outside it are not enrolled.
    pub layer: Option<LayerSlot>,
    /// Hundredths of a percent held out of the experiment.
    pub holdout_bp: u32,
    pub variants: Vec<VariantDef>,
    pub span: Span,
}

/// `layer name FROM% to TO%`: the experiment enrols the subjects whose layer bucket
/// (`bucket("layer/" + name, subject)`) falls in `[threshold(from_bp), threshold(to_bp))`. The
/// checker proves the slices of one layer's experiments disjoint (`E0315`), so experiments of a
/// layer are mutually exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSlot {
    /// The layer's name as written; layers are bundle-wide (not package-qualified).
    pub name: String,
    /// Hundredths of a percent, `from_bp < to_bp <= 10_000`.
    pub from_bp: u32,
    pub to_bp: u32,
    /// The `layer` clause.
    pub span: Span,
}

/// What a frequency cap counts: the subject's impressions of one offer at the decision's
/// placement, of anything at the placement, or of anything on the request's channel at any
/// placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapScope {
    Offer,
    Placement,
    Channel,
}

impl CapScope {
    /// The word after `cap` in the source: `offer`, `placement` or `channel`.
    pub fn keyword(self) -> &'static str {
        match self {
            CapScope::Offer => "offer",
            CapScope::Placement => "placement",
            CapScope::Channel => "channel",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CapDef {
    pub scope: CapScope,
    pub limit: u32,
    pub window_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionDef {
    pub name: String,
    pub placement: String,
    /// Variant indices of `std.Channel`; `None` allows every channel.
    pub channels: Option<Vec<u32>>,
    pub candidates: EligibilityId,
    pub rank: Option<RankingId>,
    pub experiment: Option<ExperimentId>,
    pub max: u32,
    pub caps: Vec<CapDef>,
    pub consent: Option<String>,
    pub fallback: Option<String>,
    pub ttl_ms: i64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeenDef {
    pub offer: String,
    pub times: u32,
    pub ago_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpectDef {
    /// A `Bool`.
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestDef {
    pub name: String,
    pub now: Option<Expr>,
    pub subject: Option<String>,
    pub profile: Option<Expr>,
    pub context: Option<Expr>,
    pub consent: Vec<String>,
    /// Each a `List` of records.
    pub catalogs: Vec<Expr>,
    pub seen: Vec<SeenDef>,
    pub expects: Vec<ExpectDef>,
    pub frame: u32,
    pub span: Span,
}

/// Well-known schemas and enums every program has.
#[derive(Debug, Clone, PartialEq)]
pub struct Builtins {
    /// `std.Channel`.
    pub channel: EnumId,
    /// `std.Context`.
    pub context: SchemaId,
    /// `std.DecisionResult { first: String?, offers: List<String>, variant: String?, fallback: Bool }`.
    pub decision_result: SchemaId,
    /// `std.EligibilityResult { eligible: List<String>, removed: List<String> }`.
    pub eligibility_result: SchemaId,
}

/// A checked bundle of packages, lowered.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub enums: Vec<EnumDef>,
    pub schemas: Vec<SchemaDef>,
    pub consts: Vec<ConstDef>,
    pub segments: Vec<SegmentDef>,
    pub functions: Vec<FunctionDef>,
    pub tables: Vec<TableDef>,
    pub eligibilities: Vec<EligibilityDef>,
    pub rankings: Vec<RankingDef>,
    pub experiments: Vec<ExperimentDef>,
    pub decisions: Vec<DecisionDef>,
    pub tests: Vec<TestDef>,
    /// The schema named `Profile`, if the bundle has one.
    pub profile: Option<SchemaId>,
    pub builtins: Builtins,
}

/// A share in hundredths of a percent as policies write it: `50%`, `33.34%`.
pub fn percent_text(bp: u64) -> String {
    if bp.is_multiple_of(100) {
        format!("{}%", bp / 100)
    } else {
        format!("{}.{:02}%", bp / 100, bp % 100)
    }
}

impl Program {
    /// The parts of layer `layer` that no experiment takes (ignoring experiment `except`, to
    /// see where it could move), as `(from_bp, to_bp)` in order.
    pub fn layer_free_slices(&self, layer: &str, except: Option<&str>) -> Vec<(u32, u32)> {
        let mut taken: Vec<(u32, u32)> = self
            .experiments
            .iter()
            .filter(|e| except != Some(e.name.as_str()))
            .filter_map(|e| e.layer.as_ref())
            .filter(|l| l.name == layer)
            .map(|l| (l.from_bp, l.to_bp))
            .collect();
        taken.sort_unstable();
        let mut free = Vec::new();
        let mut at = 0;
        for (f, t) in taken {
            if f > at {
                free.push((at, f));
            }
            at = at.max(t);
        }
        if at < 10_000 {
            free.push((at, 10_000));
        }
        free
    }

    /// The decision serving `placement`.
    pub fn decision_for_placement(&self, placement: &str) -> Option<DecisionId> {
        self.decisions
            .iter()
            .position(|d| d.placement == placement)
            .map(|i| i as DecisionId)
    }

    /// A type as a user would write it, with unqualified names.
    pub fn type_name(&self, ty: &Type) -> String {
        fn short(q: &str) -> &str {
            q.rsplit('.').next().unwrap_or(q)
        }
        match ty {
            Type::Bool => "Bool".into(),
            Type::Int => "Int".into(),
            Type::Float => "Float".into(),
            Type::String => "String".into(),
            Type::Duration => "Duration".into(),
            Type::Timestamp => "Timestamp".into(),
            Type::Enum(e) => self
                .enums
                .get(*e as usize)
                .map(|d| short(&d.name).to_string())
                .unwrap_or_else(|| "?".into()),
            Type::Record(s) => self
                .schemas
                .get(*s as usize)
                .map(|d| short(&d.name).to_string())
                .unwrap_or_else(|| "?".into()),
            Type::Set(t) => format!("Set<{}>", self.type_name(t)),
            Type::List(t) => format!("List<{}>", self.type_name(t)),
            Type::Optional(t) => format!("{}?", self.type_name(t)),
            Type::Error => "{unknown}".into(),
        }
    }
}
