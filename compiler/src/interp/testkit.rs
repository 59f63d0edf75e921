//! Hand-built IR for unit tests of the interpreter and the test runner, written before the type
//! checker existed: a base [`Program`] with the `std` declarations and a small shop schema, and
//! terse expression builders.

use crate::interp::eval::Env;
use crate::interp::value::Value;
use crate::ir::*;
use crate::source::Span;
use std::sync::Arc;

pub const CHANNEL: EnumId = 0;
pub const TIER: EnumId = 1;
pub const CONTEXT: SchemaId = 0;
pub const OFFER: SchemaId = 3;
pub const PROFILE: SchemaId = 4;

/// Offer fields.
pub const PRIORITY: u32 = 1;
pub const MARGIN: u32 = 2;
pub const TAGS: u32 = 3;
pub const REGION: u32 = 4;

/// Profile fields.
pub const COUNTRY: u32 = 0;
pub const VIP: u32 = 1;
pub const EMAIL: u32 = 2;

/// 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600_000;

pub fn sp() -> Span {
    Span::default()
}

fn field(name: &str, ty: Type) -> FieldDef {
    FieldDef {
        name: name.into(),
        ty,
        doc: None,
        span: sp(),
    }
}

fn schema(name: &str, fields: Vec<FieldDef>) -> SchemaDef {
    SchemaDef {
        name: name.into(),
        fields,
        doc: None,
        span: sp(),
    }
}

fn opt(t: Type) -> Type {
    Type::Optional(Box::new(t))
}

/// The `std` declarations plus `shop.Tier`, `shop.Offer` and `shop.Profile`.
pub fn base_program() -> Program {
    let channel = EnumDef {
        name: "std.Channel".into(),
        variants: ["Web", "App", "Email", "Sms", "Push"].map(String::from).to_vec(),
        span: sp(),
    };
    let tier = EnumDef {
        name: "shop.Tier".into(),
        variants: vec!["Standard".into(), "Premium".into()],
        span: sp(),
    };
    let strings = Type::List(Box::new(Type::String));
    Program {
        enums: vec![channel, tier],
        schemas: vec![
            schema(
                "std.Context",
                vec![
                    field("channel", Type::Enum(CHANNEL)),
                    field("placement", Type::String),
                    field("scenario", opt(Type::String)),
                    field("locale", opt(Type::String)),
                ],
            ),
            schema(
                "std.DecisionResult",
                vec![
                    field("first", opt(Type::String)),
                    field("offers", strings.clone()),
                    field("variant", opt(Type::String)),
                    field("fallback", Type::Bool),
                ],
            ),
            schema(
                "std.EligibilityResult",
                vec![field("eligible", strings.clone()), field("removed", strings)],
            ),
            schema(
                "shop.Offer",
                vec![
                    field("id", Type::String),
                    field("priority", Type::Int),
                    field("margin", Type::Float),
                    field("tags", Type::Set(Box::new(Type::String))),
                    field("region", opt(Type::String)),
                    field("tier", Type::Enum(TIER)),
                ],
            ),
            schema(
                "shop.Profile",
                vec![
                    field("country", Type::String),
                    field("vip", Type::Bool),
                    field("email", opt(Type::String)),
                ],
            ),
        ],
        consts: vec![],
        segments: vec![],
        functions: vec![],
        tables: vec![],
        eligibilities: vec![],
        rankings: vec![],
        experiments: vec![],
        decisions: vec![],
        tests: vec![],
        profile: Some(PROFILE),
        builtins: Builtins {
            channel: CHANNEL,
            context: CONTEXT,
            decision_result: 1,
            eligibility_result: 2,
        },
    }
}

pub fn offer_ty() -> Type {
    Type::Record(OFFER)
}

pub fn profile_ty() -> Type {
    Type::Record(PROFILE)
}

/// An offer record; `tier` 1 is Premium.
pub fn offer(id: &str, priority: i64, margin: f64, tags: &[&str], region: Option<&str>) -> Value {
    Value::Record(Arc::from(vec![
        Value::str(id),
        Value::Int(priority),
        Value::Float(margin),
        Value::set(tags.iter().map(|t| Value::str(t)).collect()),
        region.map(Value::str).unwrap_or(Value::Missing),
        Value::Enum(0),
    ]))
}

pub fn profile(country: &str, vip: bool, email: Option<&str>) -> Value {
    Value::Record(Arc::from(vec![
        Value::str(country),
        Value::Bool(vip),
        email.map(Value::str).unwrap_or(Value::Missing),
    ]))
}

/// A context record on `channel` (a variant index) at `placement`.
pub fn context(channel: u32, placement: &str) -> Value {
    Value::Record(Arc::from(vec![
        Value::Enum(channel),
        Value::str(placement),
        Value::Missing,
        Value::Missing,
    ]))
}

/// An env at [`NOW`] on the web, with a German non-VIP profile.
pub fn env() -> Env {
    Env {
        profile: Some(profile("DE", false, None)),
        context: context(0, "home.hero"),
        now_ms: NOW,
        subject: Arc::from("u-1"),
        consents: vec![],
        impressions: vec![],
    }
}

pub fn ex(kind: ExprKind, ty: Type) -> Expr {
    Expr::new(kind, ty, sp())
}

pub fn int(i: i64) -> Expr {
    ex(ExprKind::Lit(Literal::Int(i)), Type::Int)
}

pub fn float(f: f64) -> Expr {
    ex(ExprKind::Lit(Literal::Float(f)), Type::Float)
}

pub fn boolean(b: bool) -> Expr {
    ex(ExprKind::Lit(Literal::Bool(b)), Type::Bool)
}

pub fn string(s: &str) -> Expr {
    ex(ExprKind::Lit(Literal::String(Arc::from(s))), Type::String)
}

pub fn duration(ms: i64) -> Expr {
    ex(ExprKind::Lit(Literal::Duration(ms)), Type::Duration)
}

pub fn timestamp(ms: i64) -> Expr {
    ex(ExprKind::Lit(Literal::Timestamp(ms)), Type::Timestamp)
}

pub fn channel(variant: u32) -> Expr {
    ex(
        ExprKind::Lit(Literal::Enum {
            enum_id: CHANNEL,
            variant,
        }),
        Type::Enum(CHANNEL),
    )
}

pub fn local(slot: u32, ty: Type) -> Expr {
    ex(ExprKind::Local(slot), ty)
}

pub fn get(base: Expr, index: u32, ty: Type) -> Expr {
    ex(
        ExprKind::Field {
            base: Box::new(base),
            index,
        },
        ty,
    )
}

pub fn profile_field(index: u32, ty: Type) -> Expr {
    get(ex(ExprKind::Profile, profile_ty()), index, ty)
}

/// Local 0 as an offer, and one of its fields.
pub fn offer_field(index: u32, ty: Type) -> Expr {
    get(local(0, offer_ty()), index, ty)
}

/// A binary expression; the result type follows the operator.
pub fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    use BinaryOp::*;
    let ty = match op {
        And | Or | Eq | Ne | Lt | Le | Gt | Ge | In | StrContains => Type::Bool,
        Sub if lhs.ty == Type::Timestamp && rhs.ty == Type::Timestamp => Type::Duration,
        _ if rhs.ty == Type::Timestamp => Type::Timestamp,
        _ => lhs.ty.clone(),
    };
    ex(
        ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        ty,
    )
}

pub fn not(e: Expr) -> Expr {
    ex(
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand: Box::new(e),
        },
        Type::Bool,
    )
}

pub fn builtin(func: Builtin, args: Vec<Expr>, ty: Type) -> Expr {
    ex(ExprKind::Builtin { func, args }, ty)
}

pub fn list(items: Vec<Expr>, elem: Type) -> Expr {
    ex(ExprKind::Collection(items), Type::List(Box::new(elem)))
}

pub fn set(items: Vec<Expr>, elem: Type) -> Expr {
    ex(ExprKind::Collection(items), Type::Set(Box::new(elem)))
}

pub fn some(e: Expr) -> Expr {
    let ty = Type::Optional(Box::new(e.ty.clone()));
    ex(ExprKind::Some(Box::new(e)), ty)
}

pub fn call(callee: Callee, args: Vec<Expr>, ty: Type) -> Expr {
    ex(ExprKind::Call { callee, args }, ty)
}

pub fn rule(id: &str, kind: RuleKind, cond: Expr, reason: Option<&str>) -> RuleDef {
    RuleDef {
        id: id.into(),
        kind,
        cond,
        reason: reason.map(Arc::from),
        span: sp(),
    }
}

pub fn eligibility(name: &str, rules: Vec<RuleDef>) -> EligibilityDef {
    EligibilityDef {
        name: name.into(),
        schema: OFFER,
        rules,
        frame: 1,
        span: sp(),
    }
}

pub fn boost(id: &str, factor: f64, cond: Expr) -> BoostDef {
    BoostDef {
        id: id.into(),
        factor: float(factor),
        cond,
        span: sp(),
    }
}

pub fn ranking(name: &str, score: Expr, boosts: Vec<BoostDef>) -> RankingDef {
    RankingDef {
        name: name.into(),
        schema: OFFER,
        score,
        boosts,
        frame: 1,
        span: sp(),
    }
}

pub fn experiment(name: &str, salt: &str, holdout_bp: u32, weights: &[(&str, u32)]) -> ExperimentDef {
    ExperimentDef {
        name: name.into(),
        salt: salt.into(),
        layer: None,
        holdout_bp,
        variants: weights
            .iter()
            .map(|(n, w)| VariantDef {
                name: (*n).into(),
                weight_bp: *w,
            })
            .collect(),
        span: sp(),
    }
}

/// A decision with only the required clauses (and `max 1`, `ttl 5m`).
pub fn decision(name: &str, placement: &str, candidates: EligibilityId) -> DecisionDef {
    DecisionDef {
        name: name.into(),
        placement: placement.into(),
        channels: None,
        candidates,
        rank: None,
        experiment: None,
        max: 1,
        caps: vec![],
        consent: None,
        fallback: None,
        ttl_ms: 5 * 60_000,
        span: sp(),
    }
}

/// `shop.home.offers`: require in_region: region ?? "DE" == profile.country;
/// deny vip_only: "vip" in tags and not profile.vip, because "VIPs only".
pub fn shop_eligibility() -> EligibilityDef {
    let region = ex(
        ExprKind::Coalesce {
            value: Box::new(offer_field(REGION, Type::Optional(Box::new(Type::String)))),
            default: Box::new(string("DE")),
        },
        Type::String,
    );
    let vip_tag = bin(
        BinaryOp::In,
        string("vip"),
        offer_field(TAGS, Type::Set(Box::new(Type::String))),
    );
    eligibility(
        "shop.home.offers",
        vec![
            rule(
                "shop.home.offers.in_region",
                RuleKind::Require,
                bin(BinaryOp::Eq, region, profile_field(COUNTRY, Type::String)),
                None,
            ),
            rule(
                "shop.home.offers.vip_only",
                RuleKind::Deny,
                bin(BinaryOp::And, vip_tag, not(profile_field(VIP, Type::Bool))),
                Some("VIPs only"),
            ),
        ],
    )
}

/// score = float(priority) + margin; boost welcome 2.0 when "welcome" in tags.
pub fn shop_ranking() -> RankingDef {
    let score = bin(
        BinaryOp::Add,
        ex(
            ExprKind::IntToFloat(Box::new(offer_field(PRIORITY, Type::Int))),
            Type::Float,
        ),
        offer_field(MARGIN, Type::Float),
    );
    let welcome = bin(
        BinaryOp::In,
        string("welcome"),
        offer_field(TAGS, Type::Set(Box::new(Type::String))),
    );
    ranking("shop.home.rank", score, vec![boost("welcome", 2.0, welcome)])
}

pub fn shop_program() -> Program {
    let mut p = base_program();
    p.eligibilities = vec![shop_eligibility()];
    p.rankings = vec![shop_ranking()];
    p.experiments = vec![experiment(
        "hero",
        "hero-salt",
        0,
        &[("control", 5000), ("urgent", 5000)],
    )];
    let mut d = decision("home_hero", "home.hero", 0);
    d.rank = Some(0);
    d.max = 2;
    d.fallback = Some("generic".into());
    p.decisions = vec![d];
    p
}

pub fn catalog() -> Vec<Value> {
    vec![
        offer("plain", 1, 0.5, &[], None),
        offer("welcome", 1, 0.5, &["welcome"], Some("DE")),
        offer("french", 9, 0.0, &[], Some("FR")),
        offer("vip", 9, 0.0, &["vip"], None),
        offer("tie", 1, 0.5, &[], None),
    ]
}

/// An offer record literal (Standard tier).
pub fn offer_expr(id: &str, priority: i64, margin: f64, tags: &[&str], region: Option<&str>) -> Expr {
    ex(
        ExprKind::Record {
            schema: OFFER,
            fields: vec![
                Some(string(id)),
                Some(int(priority)),
                Some(float(margin)),
                Some(set(tags.iter().map(|t| string(t)).collect(), Type::String)),
                region.map(|r| some(string(r))),
                Some(ex(
                    ExprKind::Lit(Literal::Enum {
                        enum_id: TIER,
                        variant: 0,
                    }),
                    Type::Enum(TIER),
                )),
            ],
        },
        offer_ty(),
    )
}

/// [`catalog`] as a `List<Offer>` literal.
pub fn catalog_expr() -> Expr {
    list(
        vec![
            offer_expr("plain", 1, 0.5, &[], None),
            offer_expr("welcome", 1, 0.5, &["welcome"], Some("DE")),
            offer_expr("french", 9, 0.0, &[], Some("FR")),
            offer_expr("vip", 9, 0.0, &["vip"], None),
            offer_expr("tie", 1, 0.5, &[], None),
        ],
        offer_ty(),
    )
}

/// A profile record literal.
pub fn profile_expr(country: &str, vip: bool) -> Expr {
    ex(
        ExprKind::Record {
            schema: PROFILE,
            fields: vec![Some(string(country)), Some(boolean(vip)), None],
        },
        profile_ty(),
    )
}

/// A context record literal on `channel` (a variant index) at `placement`.
pub fn context_expr(channel_variant: u32, placement: &str) -> Expr {
    ex(
        ExprKind::Record {
            schema: CONTEXT,
            fields: vec![Some(channel(channel_variant)), Some(string(placement)), None, None],
        },
        Type::Record(CONTEXT),
    )
}
