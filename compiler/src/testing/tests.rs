//! Unit tests of the test runner on hand-built IR.

use super::*;
use crate::interp::testkit::*;
use crate::ir::*;

fn decision_result() -> Expr {
    ex(ExprKind::DecisionResult(0), Type::Record(1))
}

fn first() -> Expr {
    get(decision_result(), 0, Type::Optional(Box::new(Type::String)))
}

fn strings(items: &[&str]) -> Expr {
    list(items.iter().map(|s| string(s)).collect(), Type::String)
}

/// A test on the web at `home.hero`, German profile, the shop catalog.
fn test_def(name: &str, expects: Vec<Expr>) -> TestDef {
    TestDef {
        name: name.into(),
        now: None,
        subject: None,
        profile: Some(profile_expr("DE", false)),
        context: Some(context_expr(0, "home.hero")),
        consent: vec![],
        catalogs: vec![catalog_expr()],
        seen: vec![],
        expects: expects.into_iter().map(|expr| ExpectDef { expr, span: sp() }).collect(),
        frame: 2,
        span: sp(),
    }
}

fn program_with(tests: Vec<TestDef>) -> Program {
    let mut p = shop_program();
    p.tests = tests;
    p
}

fn outcome(report: &TestReport, i: usize) -> &TestOutcome {
    &report.results[i].outcome
}

fn failures(report: &TestReport, i: usize) -> Vec<Failure> {
    match outcome(report, i) {
        TestOutcome::Failed { failures } => failures.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn passing_and_failing_decision_expectations() {
    let program = program_with(vec![
        test_def(
            "welcome first",
            vec![
                bin(BinaryOp::Eq, first(), some(string("welcome"))),
                bin(
                    BinaryOp::Eq,
                    get(decision_result(), 1, Type::List(Box::new(Type::String))),
                    strings(&["welcome", "plain"]),
                ),
                not(get(decision_result(), 3, Type::Bool)),
            ],
        ),
        test_def("plain first", vec![bin(BinaryOp::Eq, first(), some(string("plain")))]),
    ]);
    let report = run_tests(&program, None);
    assert_eq!(outcome(&report, 0), &TestOutcome::Passed);
    let f = failures(&report, 1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].message, r#"expected "welcome" == "plain""#);
    let explanation = f[0].explanation.clone().unwrap_or_default();
    assert!(explanation.contains("decision home_hero"), "{explanation}");
    assert!(
        explanation.contains("removed by shop.home.offers.vip_only: VIPs only"),
        "{explanation}"
    );
    assert_eq!((report.passed(), report.failed(), report.errors()), (1, 1, 0));
    assert!(!report.all_passed());

    let json = report.to_json();
    assert_eq!(json["total"], 2);
    assert_eq!(json["failed"], 1);
    assert_eq!(json["results"][0]["status"], "passed");
    assert_eq!(json["results"][1]["status"], "failed");
    assert_eq!(
        json["results"][1]["failures"][0]["message"],
        r#"expected "welcome" == "plain""#
    );

    let filtered = run_tests(&program, Some("plain"));
    assert_eq!(filtered.results.len(), 1);
    assert_eq!(filtered.results[0].name, "plain first");
}

#[test]
fn reading_profile_without_one_fails_the_test() {
    let mut t = test_def(
        "no profile",
        vec![
            bin(BinaryOp::Eq, profile_field(COUNTRY, Type::String), string("DE")),
            boolean(false),
            bin(BinaryOp::Eq, first(), some(string("welcome"))),
        ],
    );
    t.profile = None;
    let report = run_tests(&program_with(vec![t]), None);
    let f = failures(&report, 0);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].message, NO_PROFILE_MESSAGE);
    assert_eq!(f[1].message, "expected true, got false");
    assert_eq!(f[1].explanation, None);
}

#[test]
fn defaults_seen_and_caps() {
    // Defaults: now, subject, context { channel: Web, placement: "" }.
    let mut defaults = test_def(
        "defaults",
        vec![
            bin(
                BinaryOp::Eq,
                ex(ExprKind::Now, Type::Timestamp),
                timestamp(DEFAULT_NOW_MS),
            ),
            bin(
                BinaryOp::Eq,
                builtin(Builtin::SubjectId, vec![], Type::String),
                string(DEFAULT_SUBJECT),
            ),
            bin(
                BinaryOp::Eq,
                get(ex(ExprKind::Context, Type::Record(CONTEXT)), 1, Type::String),
                string(""),
            ),
            bin(
                BinaryOp::Eq,
                get(ex(ExprKind::Context, Type::Record(CONTEXT)), 0, Type::Enum(CHANNEL)),
                channel(0),
            ),
        ],
    );
    defaults.context = None;

    // `seen "welcome" 2 times 1d ago` against `cap offer 2 per 7d`.
    let mut capped = test_def("capped", vec![bin(BinaryOp::Eq, first(), some(string("plain")))]);
    capped.seen = vec![SeenDef {
        offer: "welcome".into(),
        times: 2,
        ago_ms: 86_400_000,
    }];
    let mut uncapped = capped.clone();
    uncapped.name = "once".into();
    uncapped.seen[0].times = 1;
    uncapped.expects[0].expr = bin(BinaryOp::Eq, first(), some(string("welcome")));

    let mut program = program_with(vec![defaults, capped, uncapped]);
    program.decisions[0].caps = vec![CapDef {
        scope: CapScope::Offer,
        limit: 2,
        window_ms: 7 * 86_400_000,
    }];
    let report = run_tests(&program, None);
    for r in &report.results {
        assert_eq!(r.outcome, TestOutcome::Passed, "{}", r.name);
    }
}

#[test]
fn eligibility_results_and_variants() {
    let elig = || ex(ExprKind::EligibilityResult(0), Type::Record(2));
    let removed = get(elig(), 1, Type::List(Box::new(Type::String)));
    let eligible = get(elig(), 0, Type::List(Box::new(Type::String)));
    let variant = get(decision_result(), 2, Type::Optional(Box::new(Type::String)));
    let mut program = program_with(vec![
        test_def(
            "eligibility",
            vec![
                bin(BinaryOp::Eq, removed.clone(), strings(&["french", "vip"])),
                bin(BinaryOp::Eq, eligible, strings(&["plain", "welcome", "tie"])),
            ],
        ),
        test_def("wrong", vec![bin(BinaryOp::Eq, removed, strings(&["vip"]))]),
        test_def(
            "variant",
            vec![bin(BinaryOp::Eq, variant, some(string("no-such-variant")))],
        ),
    ]);
    program.decisions[0].experiment = Some(0);
    let report = run_tests(&program, None);
    assert_eq!(outcome(&report, 0), &TestOutcome::Passed);
    let f = failures(&report, 1);
    assert_eq!(f[0].message, r#"expected ["french", "vip"] == ["vip"]"#);
    let explanation = f[0].explanation.clone().unwrap_or_default();
    assert!(explanation.starts_with("eligibility shop.home.offers"), "{explanation}");
    let f = failures(&report, 2);
    let expected = crate::interp::assign(&program, 0, DEFAULT_SUBJECT)
        .map(|a| a.name(&program.experiments[0]).to_string())
        .unwrap_or_default();
    assert_eq!(f[0].message, format!("expected {expected:?} == \"no-such-variant\""));
}

#[test]
fn fallbacks_in_results() {
    let fallback = get(decision_result(), 3, Type::Bool);
    let offers = get(decision_result(), 1, Type::List(Box::new(Type::String)));
    let mut t = test_def(
        "consent missing",
        vec![
            fallback,
            bin(BinaryOp::Eq, first(), some(string("generic"))),
            bin(BinaryOp::Eq, offers, strings(&["generic"])),
        ],
    );
    t.catalogs.clear();
    let mut program = program_with(vec![t]);
    program.decisions[0].consent = Some("marketing".into());
    let report = run_tests(&program, None);
    assert_eq!(outcome(&report, 0), &TestOutcome::Passed);
}

#[test]
fn explain_a_test() {
    let program = program_with(vec![
        test_def(
            "welcome first",
            vec![bin(BinaryOp::Eq, first(), some(string("welcome")))],
        ),
        test_def("welcome again", vec![boolean(true)]),
    ]);
    let text = explain_test(&program, "welcome first");
    let Ok(text) = text else { panic!("{text:?}") };
    assert!(text.starts_with("test \"welcome first\"\ndecision home_hero"), "{text}");
    assert!(text.contains("chosen #1, score 3.0, boosts: welcome"), "{text}");
    assert!(text.contains("result: \"welcome\", \"plain\""), "{text}");
    let text = explain_test(&program, "again");
    assert!(matches!(&text, Ok(t) if t.contains("mention no decision")), "{text:?}");
    assert!(matches!(
        explain_test(&program, "welcome"),
        Err(ExplainError::Ambiguous { .. })
    ));
    assert_eq!(
        explain_test(&program, "nope"),
        Err(ExplainError::NoSuchTest("nope".into()))
    );
}
