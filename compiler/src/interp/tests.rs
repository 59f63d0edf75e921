//! Unit tests of the interpreter on hand-built IR (see [`testkit`](super::testkit)).

use super::testkit::*;
use super::*;
use crate::ir::*;
use std::sync::Arc;

/// Evaluates `e` in a fresh frame of 4 slots, in [`env`].
fn eval_in(program: &Program, env: &Env, e: &Expr) -> Result<Value, EvalError> {
    Evaluator::new(program).request(env).eval_expr(e, 4)
}

fn eval(e: &Expr) -> Result<Value, EvalError> {
    eval_in(&base_program(), &env(), e)
}

fn check(e: Expr, expected: Value) {
    assert_eq!(eval(&e), Ok(expected));
}

fn nan() -> Expr {
    // inf - inf.
    let inf = bin(BinaryOp::Mul, float(1e308), float(10.0));
    bin(BinaryOp::Sub, inf.clone(), inf)
}

#[test]
fn integer_arithmetic_saturates_and_divides_by_zero_to_zero() {
    use BinaryOp::*;
    check(bin(Add, int(i64::MAX), int(1)), Value::Int(i64::MAX));
    check(bin(Sub, int(i64::MIN), int(1)), Value::Int(i64::MIN));
    check(bin(Mul, int(i64::MAX), int(-2)), Value::Int(i64::MIN));
    check(bin(Div, int(7), int(0)), Value::Int(0));
    check(bin(Div, int(-7), int(2)), Value::Int(-3));
    check(bin(Div, int(i64::MIN), int(-1)), Value::Int(i64::MAX));
    check(bin(Rem, int(-7), int(2)), Value::Int(-1));
    check(bin(Rem, int(7), int(0)), Value::Int(0));
    check(bin(Rem, int(i64::MIN), int(-1)), Value::Int(0));
    check(
        ex(
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand: Box::new(int(i64::MIN)),
            },
            Type::Int,
        ),
        Value::Int(i64::MAX),
    );
}

#[test]
fn float_arithmetic_is_ieee_except_division_by_zero() {
    use BinaryOp::*;
    check(bin(Div, float(1.0), float(0.0)), Value::Float(0.0));
    check(bin(Rem, float(1.0), float(0.0)), Value::Float(0.0));
    check(bin(Mul, float(1e308), float(10.0)), Value::Float(f64::INFINITY));
    assert!(matches!(eval(&nan()), Ok(Value::Float(f)) if f.is_nan()));
    for op in [Eq, Lt, Le, Gt, Ge] {
        check(bin(op, nan(), nan()), Value::Bool(false));
        check(bin(op, nan(), float(1.0)), Value::Bool(false));
    }
    check(bin(Ne, nan(), nan()), Value::Bool(true));
    check(
        bin(Add, ex(ExprKind::IntToFloat(Box::new(int(2))), Type::Float), float(0.5)),
        Value::Float(2.5),
    );
}

#[test]
fn times_and_durations() {
    use BinaryOp::*;
    check(bin(Sub, timestamp(NOW), timestamp(NOW + 5)), Value::Duration(-5));
    check(bin(Add, timestamp(i64::MAX), duration(1)), Value::Timestamp(i64::MAX));
    check(bin(Sub, timestamp(i64::MIN), duration(1)), Value::Timestamp(i64::MIN));
    check(bin(Mul, duration(1000), int(3)), Value::Duration(3000));
    check(bin(Div, duration(1000), int(0)), Value::Duration(0));
    check(
        bin(Lt, ex(ExprKind::Now, Type::Timestamp), timestamp(NOW + 1)),
        Value::Bool(true),
    );
}

#[test]
fn strings_compare_by_code_point_and_concatenate() {
    use BinaryOp::*;
    check(bin(Lt, string("Z"), string("a")), Value::Bool(true));
    check(bin(Lt, string("é"), string("z")), Value::Bool(false));
    check(bin(Add, string("ab"), string("cd")), Value::str("abcd"));
    check(
        bin(StrContains, string("welcome-10"), string("come")),
        Value::Bool(true),
    );
}

#[test]
fn and_or_short_circuit() {
    use BinaryOp::*;
    // The right operands would be internal errors if evaluated.
    check(bin(And, boolean(false), Expr::error(sp())), Value::Bool(false));
    check(bin(Or, boolean(true), Expr::error(sp())), Value::Bool(true));
    assert!(eval(&bin(And, boolean(true), Expr::error(sp()))).is_err());
}

#[test]
fn optionals() {
    let email = || profile_field(EMAIL, Type::Optional(Box::new(Type::String)));
    let coalesce = ex(
        ExprKind::Coalesce {
            value: Box::new(email()),
            default: Box::new(string("unknown")),
        },
        Type::String,
    );
    let exists = ex(
        ExprKind::Unary {
            op: UnaryOp::Exists,
            operand: Box::new(email()),
        },
        Type::Bool,
    );
    let if_let = ex(
        ExprKind::IfLet {
            local: 1,
            value: Box::new(email()),
            then: Box::new(bin(BinaryOp::Eq, local(1, Type::String), string("a@b"))),
            otherwise: Box::new(boolean(false)),
        },
        Type::Bool,
    );
    let program = base_program();
    let absent = env();
    let mut present = env();
    present.profile = Some(profile("DE", false, Some("a@b")));
    assert_eq!(eval_in(&program, &absent, &coalesce), Ok(Value::str("unknown")));
    assert_eq!(eval_in(&program, &present, &coalesce), Ok(Value::str("a@b")));
    assert_eq!(eval_in(&program, &absent, &exists), Ok(Value::Bool(false)));
    assert_eq!(eval_in(&program, &present, &exists), Ok(Value::Bool(true)));
    assert_eq!(eval_in(&program, &absent, &if_let), Ok(Value::Bool(false)));
    assert_eq!(eval_in(&program, &present, &if_let), Ok(Value::Bool(true)));
    // `first == "x"` in tests: an optional against a present value.
    let eq = bin(BinaryOp::Eq, email(), some(string("a@b")));
    assert_eq!(eval_in(&program, &absent, &eq), Ok(Value::Bool(false)));
    assert_eq!(eval_in(&program, &present, &eq), Ok(Value::Bool(true)));
}

#[test]
fn reading_a_missing_profile_is_an_error() {
    let mut e = env();
    e.profile = None;
    let r = eval_in(&base_program(), &e, &profile_field(COUNTRY, Type::String));
    assert_eq!(r, Err(EvalError::NoProfile));
}

fn quantified(q: Quantifier, collection: Expr, body: Expr) -> Expr {
    let ty = if q == Quantifier::Count { Type::Int } else { Type::Bool };
    ex(
        ExprKind::Quantified {
            quantifier: q,
            local: 0,
            collection: Box::new(collection),
            body: Box::new(body),
        },
        ty,
    )
}

#[test]
fn quantifiers() {
    let xs = || list(vec![int(1), int(5), int(7)], Type::Int);
    let empty = || list(vec![], Type::Int);
    let gt4 = || bin(BinaryOp::Gt, local(0, Type::Int), int(4));
    check(quantified(Quantifier::Any, xs(), gt4()), Value::Bool(true));
    check(quantified(Quantifier::All, xs(), gt4()), Value::Bool(false));
    check(quantified(Quantifier::Count, xs(), gt4()), Value::Int(2));
    check(quantified(Quantifier::Any, empty(), gt4()), Value::Bool(false));
    check(quantified(Quantifier::All, empty(), gt4()), Value::Bool(true));
    check(quantified(Quantifier::Count, empty(), gt4()), Value::Int(0));
    // Over a set: duplicates count once.
    let s = set(vec![int(5), int(5), int(1)], Type::Int);
    check(quantified(Quantifier::Count, s, gt4()), Value::Int(1));
}

#[test]
fn membership_and_sets() {
    let s = || set(vec![string("b"), string("a"), string("b")], Type::String);
    check(bin(BinaryOp::In, string("a"), s()), Value::Bool(true));
    check(bin(BinaryOp::In, string("c"), s()), Value::Bool(false));
    check(builtin(Builtin::Len, vec![s()], Type::Int), Value::Int(2));
    let floats = set(vec![float(0.0), nan(), float(1.0)], Type::Float);
    check(bin(BinaryOp::In, nan(), floats.clone()), Value::Bool(false));
    check(bin(BinaryOp::In, float(-0.0), floats), Value::Bool(true));
    // Sets compare structurally regardless of literal order.
    let a = set(vec![int(2), int(1)], Type::Int);
    let b = set(vec![int(1), int(2), int(1)], Type::Int);
    check(bin(BinaryOp::Eq, a, b), Value::Bool(true));
}

#[test]
fn records_and_with() {
    let program = base_program();
    let lit = ex(
        ExprKind::Record {
            schema: OFFER,
            fields: vec![
                Some(string("x")),
                Some(int(1)),
                Some(float(2.0)),
                Some(set(vec![], Type::String)),
                None,
                Some(ex(
                    ExprKind::Lit(Literal::Enum {
                        enum_id: TIER,
                        variant: 1,
                    }),
                    Type::Enum(TIER),
                )),
            ],
        },
        offer_ty(),
    );
    let updated = ex(
        ExprKind::With {
            base: Box::new(lit.clone()),
            updates: vec![(PRIORITY, int(9))],
        },
        offer_ty(),
    );
    let v = eval(&updated);
    let Ok(v) = v else { panic!("{v:?}") };
    assert_eq!(
        v.display(&offer_ty(), &program),
        r#"Offer { id: "x", priority: 9, margin: 2.0, tags: [], tier: Premium }"#
    );
    check(get(updated, PRIORITY, Type::Int), Value::Int(9));
    check(bin(BinaryOp::Eq, lit.clone(), lit), Value::Bool(true));
}

#[test]
fn builtins() {
    use Builtin::*;
    let b = |f, args: Vec<Expr>, ty| builtin(f, args, ty);
    check(b(Lower, vec![string("ÄB")], Type::String), Value::str("äb"));
    check(b(Trim, vec![string("\u{2003} x ")], Type::String), Value::str("x"));
    check(b(Len, vec![string("né")], Type::Int), Value::Int(2));
    check(b(Abs, vec![int(i64::MIN)], Type::Int), Value::Int(i64::MAX));
    check(b(Min, vec![int(3), int(-1)], Type::Int), Value::Int(-1));
    assert!(matches!(eval(&b(Max, vec![nan(), float(1.0)], Type::Float)), Ok(Value::Float(f)) if f.is_nan()));
    check(b(Clamp, vec![int(15), int(0), int(10)], Type::Int), Value::Int(10));
    check(b(Round, vec![float(2.5)], Type::Int), Value::Int(3));
    check(b(Round, vec![float(-2.5)], Type::Int), Value::Int(-3));
    check(b(Round, vec![nan()], Type::Int), Value::Int(0));
    check(b(Floor, vec![float(-1e300)], Type::Int), Value::Int(i64::MIN));
    check(b(Ceil, vec![float(1.2)], Type::Int), Value::Int(2));
    check(b(ToFloat, vec![int(3)], Type::Float), Value::Float(3.0));
    assert!(matches!(eval(&b(Sqrt, vec![float(-1.0)], Type::Float)), Ok(Value::Float(f)) if f.is_nan()));
    check(b(Ln, vec![float(0.0)], Type::Float), Value::Float(f64::NEG_INFINITY));
    check(b(Days, vec![duration(-(36 * 3_600_000))], Type::Int), Value::Int(-1));
    check(b(Hours, vec![duration(90 * 60_000)], Type::Int), Value::Int(1));
    // Three and a half days ago, and half a day in the future.
    check(
        b(DaysSince, vec![timestamp(NOW - 84 * 3_600_000)], Type::Int),
        Value::Int(3),
    );
    check(
        b(DaysSince, vec![timestamp(NOW + 12 * 3_600_000)], Type::Int),
        Value::Int(0),
    );
    check(
        b(DaysSince, vec![timestamp(NOW + 48 * 3_600_000)], Type::Int),
        Value::Int(-2),
    );
    check(
        b(HourOfDay, vec![timestamp(NOW + 5 * 3_600_000)], Type::Int),
        Value::Int(5),
    );
    check(b(DayOfWeek, vec![timestamp(NOW)], Type::Int), Value::Int(4));
    check(
        b(Bucket, vec![string("hero-copy-2026-11"), string("u-42")], Type::Int),
        Value::Int(3_555_252_721),
    );
    check(b(SubjectId, vec![], Type::String), Value::str("u-1"));
    let xs = list(vec![string("a"), string("b")], Type::String);
    let ys = set(vec![string("b")], Type::String);
    check(b(Intersects, vec![xs.clone(), ys], Type::Bool), Value::Bool(true));
    check(b(IsEmpty, vec![xs], Type::Bool), Value::Bool(false));
}

#[test]
fn consts_functions_and_segments() {
    let mut program = base_program();
    // const a = 20; const b = a * 2
    program.consts = vec![
        ConstDef {
            name: "a".into(),
            ty: Type::Int,
            value: int(20),
            frame: 0,
            span: sp(),
        },
        ConstDef {
            name: "b".into(),
            ty: Type::Int,
            value: bin(BinaryOp::Mul, ex(ExprKind::Const(0), Type::Int), int(2)),
            frame: 0,
            span: sp(),
        },
        ConstDef {
            name: "bad".into(),
            ty: Type::Timestamp,
            value: ex(ExprKind::Now, Type::Timestamp),
            frame: 0,
            span: sp(),
        },
    ];
    // fn add1(x: Int) -> Int = x + 1
    program.functions = vec![FunctionDef {
        name: "add1".into(),
        params: vec![Type::Int],
        ret: Type::Int,
        body: bin(BinaryOp::Add, local(0, Type::Int), int(1)),
        frame: 1,
        span: sp(),
    }];
    // segment german = profile.country == "DE"; segment loop = loop
    program.segments = vec![
        SegmentDef {
            name: "german".into(),
            body: bin(BinaryOp::Eq, profile_field(COUNTRY, Type::String), string("DE")),
            frame: 0,
            doc: None,
            span: sp(),
        },
        SegmentDef {
            name: "loop".into(),
            body: ex(ExprKind::Segment(1), Type::Bool),
            frame: 0,
            doc: None,
            span: sp(),
        },
    ];
    let e = env();
    let b = ex(ExprKind::Const(1), Type::Int);
    let r = call(Callee::Function(0), vec![b], Type::Int);
    assert_eq!(eval_in(&program, &e, &r), Ok(Value::Int(41)));
    let evaluator = Evaluator::new(&program);
    assert_eq!(evaluator.const_value(1), Ok(Value::Int(40)));
    assert_eq!(evaluator.const_value(2), Err(EvalError::NoRequest("now()")));
    let request = evaluator.request(&e);
    assert_eq!(request.segment(0), Ok(true));
    assert_eq!(request.segment(0), Ok(true));
    assert_eq!(request.segment(1), Err(EvalError::RecursionLimit));
    assert!(matches!(request.segment(7), Err(EvalError::Internal(_))));
}

fn table(hit: HitPolicy, rows: Vec<(Vec<CellTest>, Expr)>, default: Option<Expr>) -> TableDef {
    TableDef {
        name: "t".into(),
        params: vec![offer_ty()],
        hit,
        columns: vec![
            offer_field(PRIORITY, Type::Int),
            offer_field(REGION, Type::Optional(Box::new(Type::String))),
        ],
        rows: rows
            .into_iter()
            .map(|(cells, output)| RowDef {
                cells,
                output,
                span: sp(),
            })
            .collect(),
        default,
        output: Type::String,
        frame: 1,
        span: sp(),
    }
}

#[test]
fn tables() {
    use CellTest::*;
    let eu = || In {
        negated: false,
        values: vec![Literal::String(Arc::from("DE")), Literal::String(Arc::from("FR"))],
    };
    let rows = || {
        vec![
            (vec![Compare(CmpOp::Ge, Literal::Float(10.0)), Any], string("big")),
            (vec![Any, eu()], string("eu")),
            (
                vec![
                    Compare(CmpOp::Lt, Literal::Int(10)),
                    In {
                        negated: true,
                        values: vec![Literal::String(Arc::from("DE"))],
                    },
                ],
                string("small-non-de"),
            ),
        ]
    };
    let mut program = base_program();
    program.tables = vec![
        table(HitPolicy::First, rows(), Some(string("none"))),
        table(HitPolicy::Collect, rows(), None),
        table(
            HitPolicy::Unique,
            vec![
                (vec![Compare(CmpOp::Ge, Literal::Int(10)), Any], string("big")),
                (vec![Compare(CmpOp::Lt, Literal::Int(10)), eu()], string("small-eu")),
            ],
            Some(string("other")),
        ),
    ];
    let evaluator = Evaluator::new(&program);
    let e = env();
    let request = evaluator.request(&e);
    let run = |t, o: Value| request.call_table(t, vec![o]);
    let big_de = offer("a", 12, 0.0, &[], Some("DE"));
    let small_de = offer("b", 1, 0.0, &[], Some("DE"));
    let small_none = offer("c", 1, 0.0, &[], None);
    let small_us = offer("d", 1, 0.0, &[], Some("US"));
    assert_eq!(run(0, big_de.clone()), Ok(Value::str("big")));
    assert_eq!(run(0, small_de.clone()), Ok(Value::str("eu")));
    // A missing optional column matches only `_`, not even `not in`.
    assert_eq!(run(0, small_none.clone()), Ok(Value::str("none")));
    assert_eq!(run(0, small_us.clone()), Ok(Value::str("small-non-de")));
    assert_eq!(
        run(1, big_de.clone()),
        Ok(Value::list(vec![Value::str("big"), Value::str("eu")]))
    );
    assert_eq!(run(1, small_none.clone()), Ok(Value::list(vec![])));
    assert_eq!(run(2, big_de), Ok(Value::str("big")));
    assert_eq!(run(2, small_de), Ok(Value::str("small-eu")));
    assert_eq!(run(2, small_none), Ok(Value::str("other")));
    assert_eq!(run(2, small_us), Ok(Value::str("other")));
}

fn kept_ids(outcome: &DecisionOutcome) -> Vec<&str> {
    outcome.offers.iter().map(|o| &*o.id).collect()
}

#[test]
fn eligibility_and_ranking_calls() {
    let program = shop_program();
    let e = env();
    let c = catalog();
    let check_call = |callee, i: usize, expected| {
        let evaluator = Evaluator::new(&program);
        let request = evaluator.request(&e);
        let mut frame = vec![c[i].clone()];
        let ty = if matches!(callee, Callee::Ranking(_)) {
            Type::Float
        } else {
            Type::Bool
        };
        let r = request.eval(&call(callee, vec![local(0, offer_ty())], ty), &mut frame);
        assert_eq!(r, Ok(expected));
    };
    check_call(Callee::Eligibility(0), 0, Value::Bool(true));
    check_call(Callee::Eligibility(0), 2, Value::Bool(false));
    check_call(Callee::Eligibility(0), 3, Value::Bool(false));
    check_call(Callee::Ranking(0), 0, Value::Float(1.5));
    check_call(Callee::Ranking(0), 1, Value::Float(3.0));
}

#[test]
fn decision_filters_ranks_and_keeps_catalog_order_on_ties() {
    let program = shop_program();
    let outcome = decide(&program, 0, &env(), &catalog(), None);
    let Ok(outcome) = outcome else { panic!("{outcome:?}") };
    // welcome scores 3.0; plain and tie score 1.5 each and keep catalog order.
    assert_eq!(kept_ids(&outcome), ["welcome", "plain"]);
    assert_eq!(outcome.fallback, None);
    assert_eq!(outcome.trace.len(), 5);
    assert_eq!(
        outcome.trace[2].outcome,
        CandidateOutcome::Removed {
            rule: "shop.home.offers.in_region".into(),
            reason: None
        }
    );
    assert_eq!(
        outcome.trace[3].outcome,
        CandidateOutcome::Removed {
            rule: "shop.home.offers.vip_only".into(),
            reason: Some("VIPs only".into())
        }
    );
    assert_eq!(
        outcome.trace[1].outcome,
        CandidateOutcome::Kept {
            score: 3.0,
            rank: Some(1),
            boosts: vec!["welcome".into()]
        }
    );
    assert_eq!(
        outcome.trace[4].outcome,
        CandidateOutcome::Kept {
            score: 1.5,
            rank: None,
            boosts: vec![]
        }
    );
    let text = explain_decision(&outcome);
    assert!(
        text.contains("removed by shop.home.offers.vip_only: VIPs only"),
        "{text}"
    );
    assert!(text.contains("chosen #1, score 3.0, boosts: welcome"), "{text}");
    // The request may lower max, never raise it.
    let one = decide(&program, 0, &env(), &catalog(), Some(1)).map(|o| o.offers.len());
    assert_eq!(one, Ok(1));
    let many = decide(&program, 0, &env(), &catalog(), Some(10)).map(|o| o.offers.len());
    assert_eq!(many, Ok(2));
    // The JSON form.
    let json = serde_json::to_value(&outcome).unwrap_or_default();
    assert_eq!(json["trace"][3]["outcome"], "removed");
    assert_eq!(json["trace"][3]["rule"], "shop.home.offers.vip_only");
    assert_eq!(json["trace"][1]["rank"], 1);
}

#[test]
fn nan_scores_rank_last() {
    let mut program = shop_program();
    // score = margin: NaN for the first offer.
    program.rankings[0].score = offer_field(MARGIN, Type::Float);
    program.rankings[0].boosts.clear();
    program.decisions[0].max = 3;
    let c = vec![
        offer("nan", 1, f64::NAN, &[], None),
        offer("low", 1, -1.0, &[], None),
        offer("high", 1, 5.0, &[], None),
    ];
    let ids = decide(&program, 0, &env(), &c, None).map(|o| o.offers.iter().map(|x| x.id.clone()).collect::<Vec<_>>());
    assert_eq!(ids, Ok(vec!["high".into(), "low".into(), "nan".into()]));
}

#[test]
fn channel_consent_and_fallbacks() {
    let mut program = shop_program();
    program.decisions[0].channels = Some(vec![1]); // App only
    let web = decide(&program, 0, &env(), &catalog(), None);
    assert_eq!(
        web.map(|o| o.fallback),
        Ok(Some(Fallback {
            content_id: Some("generic".into()),
            reason: FallbackReason::ChannelNotAllowed
        }))
    );
    let mut app = env();
    app.context = context(1, "home.hero");
    assert_eq!(
        decide(&program, 0, &app, &catalog(), None).map(|o| o.offers.len()),
        Ok(2)
    );

    program.decisions[0].consent = Some("marketing".into());
    let r = decide(&program, 0, &app, &catalog(), None);
    assert_eq!(
        r.map(|o| o.fallback.map(|f| f.reason)),
        Ok(Some(FallbackReason::ConsentMissing))
    );
    app.consents = vec!["marketing".into()];
    let r = decide(&program, 0, &app, &catalog(), None);
    assert_eq!(r.map(|o| o.fallback), Ok(None));

    // Nothing eligible: the fallback, or an empty decision without one.
    let r = decide(&program, 0, &app, &[], None);
    assert_eq!(
        r.map(|o| o.fallback.map(|f| f.reason)),
        Ok(Some(FallbackReason::NothingEligible))
    );
    program.decisions[0].fallback = None;
    let r = decide(&program, 0, &app, &[], None);
    assert_eq!(r.map(|o| (o.offers.len(), o.fallback)), Ok((0, None)));
}

fn seen(offer: &str, placement: &str, ago_ms: i64) -> Impression {
    Impression {
        offer_id: offer.into(),
        placement: placement.into(),
        channel: 0,
        at_ms: NOW - ago_ms,
    }
}

const DAY: i64 = 86_400_000;

#[test]
fn offer_caps_count_impressions_in_the_window() {
    let mut program = shop_program();
    program.decisions[0].caps = vec![CapDef {
        scope: CapScope::Offer,
        limit: 2,
        window_ms: 7 * DAY,
    }];
    let mut e = env();
    e.impressions = vec![
        seen("welcome", "home.hero", DAY),
        seen("welcome", "home.hero", 6 * DAY),
        // Outside the window (exactly 7 days ago is outside: the window is (now - 7d, now]).
        seen("plain", "home.hero", 7 * DAY),
        seen("plain", "home.hero", 8 * DAY),
        // Another placement does not count.
        seen("plain", "email", DAY),
        seen("plain", "email", DAY),
        // In the future: not counted.
        seen("tie", "home.hero", -DAY),
        seen("tie", "home.hero", -DAY),
    ];
    let outcome = decide(&program, 0, &e, &catalog(), None);
    let Ok(outcome) = outcome else { panic!("{outcome:?}") };
    assert_eq!(kept_ids(&outcome), ["plain", "tie"]);
    assert_eq!(
        outcome.trace[1].outcome,
        CandidateOutcome::Capped {
            scope: CapScope::Offer,
            limit: 2,
            window_ms: 7 * DAY,
            seen: 2
        }
    );
    let text = explain_decision(&outcome);
    assert!(text.contains("capped by `cap offer 2 per 1w`: seen 2 times"), "{text}");
}

#[test]
fn placement_caps_stop_every_candidate() {
    let mut program = shop_program();
    program.decisions[0].caps = vec![CapDef {
        scope: CapScope::Placement,
        limit: 3,
        window_ms: DAY,
    }];
    let mut e = env();
    e.impressions = vec![seen("a", "home.hero", 1000), seen("b", "home.hero", 2000)];
    let r = decide(&program, 0, &e, &catalog(), None).map(|o| o.offers.len());
    assert_eq!(r, Ok(2));
    e.impressions.push(seen("c", "home.hero", 3000));
    let outcome = decide(&program, 0, &e, &catalog(), None);
    let Ok(outcome) = outcome else { panic!("{outcome:?}") };
    assert!(outcome.offers.is_empty());
    assert_eq!(
        outcome.fallback.map(|f| f.reason),
        Some(FallbackReason::NothingEligible)
    );
    let capped = outcome
        .trace
        .iter()
        .filter(|t| matches!(t.outcome, CandidateOutcome::Capped { .. }))
        .count();
    assert_eq!(capped, 3);
}

#[test]
fn channel_caps_count_the_channel_across_placements() {
    let mut program = shop_program();
    program.decisions[0].caps = vec![CapDef {
        scope: CapScope::Channel,
        limit: 2,
        window_ms: DAY,
    }];
    let on = |channel: u32, placement: &str, ago_ms: i64| Impression {
        channel,
        ..seen("x", placement, ago_ms)
    };
    // The env's request is on channel 0. Impressions on channel 1, or older than the window,
    // do not count; one on channel 0 at another placement does.
    let mut e = env();
    e.impressions = vec![
        on(0, "email", 1000),
        on(1, "home.hero", 1000),
        on(0, "home.hero", 2 * DAY),
    ];
    let r = decide(&program, 0, &e, &catalog(), None).map(|o| o.offers.len());
    assert_eq!(r, Ok(2));
    e.impressions.push(on(0, "checkout", 5000));
    let outcome = decide(&program, 0, &e, &catalog(), None);
    let Ok(outcome) = outcome else { panic!("{outcome:?}") };
    assert!(outcome.offers.is_empty(), "{outcome:?}");
    assert_eq!(
        outcome.trace[0].outcome,
        CandidateOutcome::Capped {
            scope: CapScope::Channel,
            limit: 2,
            window_ms: DAY,
            seen: 2
        }
    );
    assert!(explain_decision(&outcome).contains("capped by `cap channel 2 per 1d`: seen 2 times"));
}

#[test]
fn experiment_assignment_is_deterministic_and_balanced() {
    let exp = experiment("hero", "hero-salt", 0, &[("control", 5000), ("urgent", 5000)]);
    let mut counts = [0u32; 2];
    for i in 0..100_000 {
        let subject = format!("u{i}");
        let a = assign_in(&exp, &subject);
        assert_eq!(a, assign_in(&exp, &subject));
        match a {
            Assignment::Variant(v) => counts[v as usize] += 1,
            other => panic!("no holdout or layer configured: {other:?}"),
        }
    }
    // 50% ± 1% of 100,000.
    assert!((49_000..=51_000).contains(&counts[0]), "{counts:?}");

    let held = experiment("hero", "hero-salt", 1000, &[("control", 5000), ("urgent", 5000)]);
    let holdouts = (0..100_000)
        .filter(|i| assign_in(&held, &format!("u{i}")) == Assignment::Holdout)
        .count();
    // 10% ± 1%.
    assert!((9_000..=11_000).contains(&holdouts), "{holdouts}");
    // Changing the holdout does not reshuffle the variants of those still in.
    for i in 0..1000 {
        let s = format!("u{i}");
        let a = assign_in(&held, &s);
        if a != Assignment::Holdout {
            assert_eq!(a, assign_in(&exp, &s));
        }
    }
}

fn in_layer(mut exp: ExperimentDef, layer: &str, from_bp: u32, to_bp: u32) -> ExperimentDef {
    exp.layer = Some(crate::ir::LayerSlot {
        name: layer.into(),
        from_bp,
        to_bp,
        span: crate::source::Span::default(),
    });
    exp
}

#[test]
fn experiments_of_a_layer_are_mutually_exclusive() {
    // `copy` takes 0–30% of layer `home`, `layout` 30–70%; 30% of subjects are in neither.
    let copy = in_layer(
        experiment("copy", "copy-salt", 1000, &[("a", 5000), ("b", 5000)]),
        "home",
        0,
        3000,
    );
    let layout = in_layer(
        experiment("layout", "layout-salt", 0, &[("grid", 5000), ("list", 5000)]),
        "home",
        3000,
        7000,
    );
    // Another layer is independent of `home`.
    let email = in_layer(
        experiment("subject", "subj-salt", 0, &[("short", 10_000)]),
        "email",
        0,
        5000,
    );
    let free = experiment("copy", "copy-salt", 1000, &[("a", 5000), ("b", 5000)]);
    let (mut in_copy, mut in_layout, mut copy_variant_a, mut in_email_and_copy) = (0u32, 0u32, 0u32, 0u32);
    let n = 100_000;
    for i in 0..n {
        let s = format!("u{i}");
        let (c, l) = (assign_in(&copy, &s), assign_in(&layout, &s));
        assert!(
            c == Assignment::NotEnrolled || l == Assignment::NotEnrolled,
            "{s} is in both experiments of the layer"
        );
        if c != Assignment::NotEnrolled {
            in_copy += 1;
            // Inside its slice, the experiment assigns exactly as it would without a layer.
            assert_eq!(c, assign_in(&free, &s));
            if c == Assignment::Variant(0) {
                copy_variant_a += 1;
            }
            if assign_in(&email, &s) != Assignment::NotEnrolled {
                in_email_and_copy += 1;
            }
        }
        if l != Assignment::NotEnrolled {
            in_layout += 1;
        }
    }
    // Shares within ±1% of all subjects.
    assert!((29_000..=31_000).contains(&in_copy), "{in_copy}");
    assert!((39_000..=41_000).contains(&in_layout), "{in_layout}");
    // The variant split inside a slice is independent of the layer hash: 45% of the slice
    // (10% holdout, then half) gets `a`, ±1.5% of the slice.
    let share_a = f64::from(copy_variant_a) / f64::from(in_copy);
    assert!((0.435..=0.465).contains(&share_a), "{share_a}");
    // Half of `copy`'s subjects are also in the `email` layer's experiment: layers are independent.
    let share_email = f64::from(in_email_and_copy) / f64::from(in_copy);
    assert!((0.48..=0.52).contains(&share_email), "{share_email}");
    // Slices covering the whole layer enrol everyone exactly once.
    let lo = in_layer(experiment("lo", "lo", 0, &[("x", 10_000)]), "all", 0, 5000);
    let hi = in_layer(experiment("hi", "hi", 0, &[("y", 10_000)]), "all", 5000, 10_000);
    for i in 0..10_000 {
        let s = format!("v{i}");
        let enrolled = [assign_in(&lo, &s), assign_in(&hi, &s)]
            .iter()
            .filter(|a| **a != Assignment::NotEnrolled)
            .count();
        assert_eq!(enrolled, 1, "{s}");
    }
}

#[test]
fn a_subject_outside_the_layer_slice_is_decided_without_the_experiment() {
    let mut program = shop_program();
    program.decisions[0].experiment = Some(0);
    let e = env();
    let with_everyone = decide(&program, 0, &e, &catalog(), None);
    // A slice that cannot hold `u-1` (the env's subject): whichever half it is in, take the other.
    let half = if experiment::enrolled(&in_layer(program.experiments[0].clone(), "l", 0, 5000), "u-1") {
        (5000, 10_000)
    } else {
        (0, 5000)
    };
    program.experiments[0] = in_layer(program.experiments[0].clone(), "l", half.0, half.1);
    program.experiments[0].holdout_bp = 10_000;
    let r = decide(&program, 0, &e, &catalog(), None);
    let Ok(outcome) = r else { panic!("{r:?}") };
    // Not enrolled: no variant, not held out (even with a 100% holdout), offers as decided
    // without an experiment.
    assert_eq!(outcome.experiment.as_deref(), Some("hero"));
    assert_eq!(outcome.variant, None);
    assert_eq!(outcome.fallback, None);
    let Ok(before) = with_everyone else { panic!() };
    assert_eq!(outcome.offers, before.offers);
    // `hero is holdout` and `hero is <variant>` are all false.
    for variant in [crate::ir::HOLDOUT_VARIANT, 0, 1] {
        let is = ex(ExprKind::ExperimentIs { experiment: 0, variant }, Type::Bool);
        assert_eq!(eval_in(&program, &e, &is), Ok(Value::Bool(false)), "{variant}");
    }
}

#[test]
fn experiment_thresholds_are_exact() {
    use experiment::threshold;
    assert_eq!(threshold(0), 0);
    assert_eq!(threshold(5000), 1 << 31);
    assert_eq!(threshold(10_000), 1 << 32);
    assert_eq!(threshold(3334), (3334u64 << 32) / 10_000);
    // Everyone is held out at 100%; a single variant takes everyone else.
    let all = experiment("x", "s", 10_000, &[("only", 10_000)]);
    assert_eq!(assign_in(&all, "anyone"), Assignment::Holdout);
    let one = experiment("x", "s", 0, &[("only", 10_000)]);
    assert_eq!(assign_in(&one, "anyone"), Assignment::Variant(0));
}

#[test]
fn decisions_report_the_variant_and_serve_the_holdout_its_fallback() {
    let mut program = shop_program();
    program.decisions[0].experiment = Some(0);
    let e = env();
    let expected = assign(&program, 0, "u-1");
    let Ok(Assignment::Variant(v)) = expected else {
        panic!("{expected:?}")
    };
    let name = program.experiments[0].variants[v as usize].name.clone();
    let r = decide(&program, 0, &e, &catalog(), None);
    assert_eq!(
        r.map(|o| (o.experiment, o.variant)),
        Ok((Some("hero".into()), Some(name)))
    );
    // `hero is <variant>` agrees.
    let is = ex(
        ExprKind::ExperimentIs {
            experiment: 0,
            variant: v,
        },
        Type::Bool,
    );
    assert_eq!(eval_in(&program, &e, &is), Ok(Value::Bool(true)));

    program.experiments[0].holdout_bp = 10_000;
    let r = decide(&program, 0, &e, &catalog(), None);
    let Ok(outcome) = r else { panic!("{r:?}") };
    assert_eq!(outcome.variant.as_deref(), Some("holdout"));
    assert_eq!(outcome.fallback.map(|f| f.reason), Some(FallbackReason::Holdout));
    assert!(outcome.trace.is_empty());
    assert_eq!(eval_in(&program, &e, &is), Ok(Value::Bool(false)));
}

#[test]
fn eligibility_reports() {
    let program = shop_program();
    let e = env();
    let evaluator = Evaluator::new(&program);
    let request = evaluator.request(&e);
    let report = eligibility_report(&request, 0, &catalog());
    let Ok(report) = report else { panic!("{report:?}") };
    let removed: Vec<&str> = report
        .candidates
        .iter()
        .filter(|c| c.removed_by.is_some())
        .map(|c| &*c.id)
        .collect();
    assert_eq!(removed, ["french", "vip"]);
    let text = explain_eligibility(&report);
    assert!(
        text.contains("\"vip\"      removed by shop.home.offers.vip_only: VIPs only"),
        "{text}"
    );
}

#[test]
fn json_loading() {
    let program = base_program();
    let offers = Type::List(Box::new(offer_ty()));
    let ok = serde_json::json!([
        { "id": "a", "priority": 3, "margin": 2, "tags": ["y", "x", "y"], "tier": "Premium" },
        { "id": "b", "priority": 5.0, "margin": 0.5, "tags": [], "region": null, "tier": "Standard" },
    ]);
    let v = value_from_json(&program, &offers, &ok);
    let Ok(v) = v else { panic!("{v:?}") };
    let first = v.elements().and_then(|xs| xs.first()).cloned();
    assert_eq!(
        first,
        Some(Value::Record(Arc::from(vec![
            Value::str("a"),
            Value::Int(3),
            Value::Float(2.0),
            Value::set(vec![Value::str("x"), Value::str("y")]),
            Value::Missing,
            Value::Enum(1),
        ])))
    );
    // And back.
    let back = value_to_json(&program, &offers, &v);
    let again = back.as_ref().map(|j| value_from_json(&program, &offers, j));
    assert_eq!(again, Ok(Ok(v)));

    let err = |json: serde_json::Value| match value_from_json(&program, &offers, &json) {
        Ok(v) => panic!("loaded {v:?}"),
        Err(e) => e,
    };
    let base = || serde_json::json!({ "id": "a", "priority": 3, "margin": 2.0, "tags": [], "tier": "Standard" });
    let with = |k: &str, v: serde_json::Value| {
        let mut o = base();
        o[k] = v;
        serde_json::json!([base(), base(), base(), o])
    };
    let e = err(with("tier", serde_json::json!("Gold")));
    assert_eq!(e.path, "/3/tier");
    assert_eq!(
        e.to_string(),
        "at /3/tier: unknown Tier variant \"Gold\": expected one of Standard, Premium"
    );
    let e = err(with("priority", serde_json::json!(2.5)));
    assert_eq!(e.path, "/3/priority");
    assert!(e.message.contains("not an integer"), "{e}");
    let e = err(with("priority", serde_json::json!(u64::MAX)));
    assert!(e.message.contains("out of range"), "{e}");
    let e = err(with("colour", serde_json::json!("red")));
    assert_eq!(e.path, "/3");
    assert!(e.message.contains("unknown field `colour` in a Offer"), "{e}");
    let e = err(with("tags", serde_json::json!(["a", 1])));
    assert_eq!(e.path, "/3/tags/1");
    let e = err(with("id", serde_json::Value::Null));
    assert_eq!(e.to_string(), "at /3/id: expected a String, got null");
    let mut missing = base();
    if let Some(o) = missing.as_object_mut() {
        o.remove("margin");
    }
    let e = err(serde_json::json!([missing]));
    assert_eq!(e.to_string(), "at /0: missing field `margin` of Offer (a Float)");
    let e = err(serde_json::json!({}));
    assert_eq!(e.path, "");
    assert!(e.to_string().starts_with("at the top level: expected an array"), "{e}");
}

#[test]
fn json_times() {
    let program = base_program();
    let load = |ty: Type, j: serde_json::Value| value_from_json(&program, &ty, &j);
    assert_eq!(
        load(Type::Timestamp, serde_json::json!("2026-01-01T00:00:00Z")),
        Ok(Value::Timestamp(NOW))
    );
    assert_eq!(load(Type::Timestamp, serde_json::json!(NOW)), Ok(Value::Timestamp(NOW)));
    assert!(load(Type::Timestamp, serde_json::json!("yesterday")).is_err());
    assert_eq!(
        load(Type::Duration, serde_json::json!("15m")),
        Ok(Value::Duration(900_000))
    );
    assert_eq!(load(Type::Duration, serde_json::json!(1500)), Ok(Value::Duration(1500)));
    assert_eq!(
        value_to_json(&program, &Type::Timestamp, &Value::Timestamp(NOW + 5)),
        Ok(serde_json::json!("2026-01-01T00:00:00.005Z"))
    );
    assert_eq!(
        value_to_json(&program, &Type::Float, &Value::Float(f64::NAN)),
        Ok(serde_json::json!("NaN"))
    );
    assert!(matches!(
        load(Type::Float, serde_json::json!("NaN")),
        Ok(Value::Float(f)) if f.is_nan()
    ));
}

#[test]
fn display_in_policy_syntax() {
    let program = base_program();
    let ctx = context(2, "email.winback");
    assert_eq!(
        ctx.display(&Type::Record(CONTEXT), &program),
        r#"Context { channel: Email, placement: "email.winback" }"#
    );
    assert_eq!(Value::Enum(1).display(&Type::Enum(TIER), &program), "Tier.Premium");
    assert_eq!(
        Value::Missing.display(&Type::Optional(Box::new(Type::String)), &program),
        "missing"
    );
    assert_eq!(
        Value::Timestamp(NOW).display(&Type::Timestamp, &program),
        "@2026-01-01T00:00:00Z"
    );
    assert_eq!(Value::Duration(3 * 3_600_000).display(&Type::Duration, &program), "3h");
    let many = Value::list((0..25).map(Value::Int).collect());
    let text = many.display(&Type::List(Box::new(Type::Int)), &program);
    assert!(text.ends_with("19, … 5 more]"), "{text}");
}

#[test]
fn evaluators_and_outcomes_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Evaluator<'static>>();
    shareable::<Env>();
    shareable::<DecisionOutcome>();
}
