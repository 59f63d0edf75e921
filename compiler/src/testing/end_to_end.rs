//! End-to-end tests: policy source text through the checker, then the test runner and the
//! interpreter. These pin the semantics as users see them.

use super::{explain_test, run_tests, TestOutcome, TestReport};
use crate::{analyze, Analysis, SourceMap};

const SCHEMA: &str = r#"package shop.schema

enum Tier { Standard, Premium }

schema Profile {
  country: String
  tier: Tier
  lifetime_value: Float
  orders: Int
  signup: Timestamp
  email_domain: String?
  interests: Set<String>
}

schema Offer {
  id: String
  priority: Int
  margin: Float
  tier: Tier
  tags: Set<String>
  channels: Set<Channel>
  region: String?
}
"#;

const HOME: &str = r#"package shop.home

import shop.schema.{Profile, Offer, Tier}

segment high_value = profile.lifetime_value >= 500.0
segment new_customer = days_since(profile.signup) < 30

const eu: Set<String> = ["DE", "FR", "NL"]
const no_ints: List<Int> = []

fn discount(tier: Tier, value: Float) -> Float = if tier == Tier.Premium then value * 0.2 else 0.0

table band -> String {
  hit first
  given profile.lifetime_value, profile.email_domain
  row >= 1000.0, _ => "gold"
  row >= 500.0, "gmail.com" => "silver-gmail"
  row >= 500.0, _ => "silver"
  default "bronze"
}

eligibility home_offers for offer: Offer {
  require in_channel: offer.channels contains context.channel
  require in_region: if let r = offer.region then r == profile.country else true
  deny premium_only: offer.tier == Tier.Premium and not high_value because "premium is for high-value customers"
}

ranking home_rank for offer: Offer {
  score offer.priority * 10.0 + offer.margin
  boost welcome: 1.5 when new_customer and offer.tags contains "welcome"
}

experiment hero_copy {
  salt "hero-copy-2026-11"
  variant control 50%
  variant urgent 50%
}

decision home_hero {
  placement "home.hero"
  channels Web, App
  candidates home_offers
  rank home_rank
  experiment hero_copy
  max 2
  cap offer 2 per 7d
  consent marketing
  fallback "generic-welcome"
  ttl 15m
}

const demo_offers: List<Offer> = [
  Offer { id: "welcome-10", priority: 5, margin: 2.0, tier: Standard, tags: ["welcome"],
          channels: [Web, App] },
  Offer { id: "premium-box", priority: 9, margin: 1.0, tier: Premium, tags: [],
          channels: [Web] },
  Offer { id: "french-deal", priority: 7, margin: 0.0, tier: Standard, tags: [],
          channels: [Web], region: "FR" },
  Offer { id: "app-only", priority: 6, margin: 0.0, tier: Standard, tags: [],
          channels: [App] },
  Offer { id: "basic", priority: 5, margin: 2.0, tier: Standard, tags: [], channels: [Web] },
]

const base: Profile = Profile { country: "DE", tier: Standard, lifetime_value: 0.0, orders: 0,
                                signup: @2025-12-30, interests: [] }
"#;

const TESTS: &str = r#"package shop.home_tests

import shop.schema.{Profile, Tier}
import shop.home.{home_hero, home_offers, base, demo_offers, band, discount, high_value, new_customer, hero_copy, eu, no_ints}

test "a new customer sees the welcome offer first" {
  profile base
  context { channel: Web, placement: "home.hero" }
  consent marketing
  catalog demo_offers
  expect home_hero.first == "welcome-10"
  expect home_hero.offers == ["welcome-10", "basic"]
  expect not home_hero.fallback
  expect new_customer
  expect not high_value
}

test "eligibility by rule" {
  profile base
  catalog demo_offers
  expect home_offers.eligible == ["welcome-10", "basic"]
  expect home_offers.removed == ["premium-box", "french-deal", "app-only"]
}

test "high value customers get premium" {
  profile base with { lifetime_value: 800.0, signup: @2020-01-01 }
  consent marketing
  context { channel: Web, placement: "home.hero" }
  catalog demo_offers
  expect home_hero.offers == ["premium-box", "welcome-10"]
  expect band == "silver"
  expect discount(Tier.Premium, 100.0) == 20.0
}

test "tables see missing optionals" {
  profile base with { lifetime_value: 600.0, email_domain: "gmail.com" }
  expect band == "silver-gmail"
}

test "no consent gets the fallback" {
  profile base
  catalog demo_offers
  expect home_hero.fallback
  expect home_hero.first == "generic-welcome"
  expect home_hero.offers == ["generic-welcome"]
}

test "the wrong channel gets the fallback" {
  profile base
  consent marketing
  context { channel: Email, placement: "home.hero" }
  catalog demo_offers
  expect home_hero.fallback
}

test "caps count what was seen" {
  profile base
  consent marketing
  context { channel: Web, placement: "home.hero" }
  catalog demo_offers
  seen "welcome-10" 2 times 1d ago
  expect home_hero.offers == ["basic"]
}

test "old impressions do not count" {
  profile base
  consent marketing
  context { channel: Web, placement: "home.hero" }
  catalog demo_offers
  seen "welcome-10" 5 times 8d ago
  expect home_hero.first == "welcome-10"
}

test "experiments are deterministic" {
  subject "u-42"
  profile base
  consent marketing
  context { channel: Web, placement: "home.hero" }
  catalog demo_offers
  expect home_hero.variant == "urgent"
  expect hero_copy is urgent
  expect bucket("hero-copy-2026-11", subject_id()) == 3555252721
}

test "arithmetic never fails" {
  expect 7 / 0 == 0
  expect 7 % 0 == 0
  expect 9223372036854775807 + 1 == 9223372036854775807
  expect 1.0 / 0.0 == 0.0
  expect -7 / 2 == -3
  expect round(2.5) == 3
  expect round(-2.5) == -3
  expect "DE" in eu
  expect all x in no_ints: x > 1
  expect not (any x in no_ints: x > 1)
  expect (count x in [1, 5, 7]: x > 4) == 2
  expect @2026-01-02 - @2026-01-01 == 1d
  expect days(36h) == 1
  expect "welcome-10" contains "come"
  expect now() == @2026-01-01T00:00:00Z
}

test "failing: wrong first offer" {
  profile base
  consent marketing
  context { channel: Web, placement: "home.hero" }
  catalog demo_offers
  expect home_hero.first == "basic"
}

test "failing: no profile" {
  expect high_value
}
"#;

fn analyze_ok() -> Analysis {
    let mut map = SourceMap::new();
    map.add("schema.policy", SCHEMA);
    map.add("home.policy", HOME);
    map.add("home_tests.policy", TESTS);
    let a = analyze(map);
    let errors: Vec<String> = a
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let file = a.sources.get(d.primary.span.file);
            let (line, col) = file.line_col(d.primary.span.start as usize);
            format!("{}:{}:{}: {:?} {}", file.name, line + 1, col + 1, d.code, d.message)
        })
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    a
}

fn report() -> TestReport {
    run_tests(&analyze_ok().program, None)
}

#[test]
fn passing_tests_pass() {
    let report = report();
    for r in &report.results {
        if !r.name.starts_with("failing") {
            assert_eq!(r.outcome, TestOutcome::Passed, "{}", r.name);
        }
    }
}

#[test]
fn failing_tests_explain_themselves() {
    let report = report();
    let failures = |name: &str| match report.results.iter().find(|r| r.name == name) {
        Some(r) => match &r.outcome {
            TestOutcome::Failed { failures } => failures.clone(),
            other => panic!("{name}: {other:?}"),
        },
        None => panic!("no test {name}"),
    };
    let f = failures("failing: wrong first offer");
    assert_eq!(f[0].message, r#"expected "welcome-10" == "basic""#);
    let explanation = f[0].explanation.clone().unwrap_or_default();
    assert!(
        explanation.contains("removed by shop.home.home_offers.premium_only: premium is for high-value customers"),
        "{explanation}"
    );
    let f = failures("failing: no profile");
    assert_eq!(f[0].message, super::NO_PROFILE_MESSAGE);
    assert_eq!((report.failed(), report.errors()), (2, 0));
}

#[test]
fn explain_a_test_from_source() {
    let a = analyze_ok();
    let text = explain_test(&a.program, "a new customer");
    let Ok(text) = text else { panic!("{text:?}") };
    assert!(text.contains("decision shop.home.home_hero"), "{text}");
    assert!(
        text.contains(r#""welcome-10"   chosen #1, score 78.0, boosts: shop.home.home_rank.welcome"#),
        "{text}"
    );
    assert!(text.contains(r#"result: "welcome-10", "basic""#), "{text}");
    let text = explain_test(&a.program, "eligibility by rule");
    let Ok(text) = text else { panic!("{text:?}") };
    assert!(
        text.contains(r#""app-only"     removed by shop.home.home_offers.in_channel"#),
        "{text}"
    );
}

#[test]
fn decide_from_json_inputs() {
    use crate::interp::{decide, value_from_json, Env, Impression};
    use crate::ir::Type;
    let a = analyze_ok();
    let program = &a.program;
    let Some(profile_schema) = program.profile else {
        panic!("no Profile schema")
    };
    let offer = program
        .schemas
        .iter()
        .position(|s| s.name == "shop.schema.Offer")
        .map(|i| Type::List(Box::new(Type::Record(i as u32))));
    let Some(offers_ty) = offer else {
        panic!("no Offer schema")
    };
    let catalog = serde_json::json!([
        { "id": "a", "priority": 1, "margin": 0.0, "tier": "Standard", "tags": [], "channels": ["App"] },
        { "id": "b", "priority": 3, "margin": 0.5, "tier": "Standard", "tags": ["welcome"], "channels": ["App", "Web"] },
        { "id": "c", "priority": 2, "margin": 0.0, "tier": "Premium", "tags": [], "channels": ["App"] },
    ]);
    let profile = serde_json::json!({
        "country": "DE", "tier": "Premium", "lifetime_value": 900, "orders": 3,
        "signup": "2025-01-01T00:00:00Z", "interests": ["shoes"]
    });
    let context = serde_json::json!({ "channel": "App", "placement": "home.hero" });
    let load = |ty: &Type, j: &serde_json::Value| match value_from_json(program, ty, j) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    let catalog = load(&offers_ty, &catalog);
    let env = Env {
        profile: Some(load(&Type::Record(profile_schema), &profile)),
        context: load(&Type::Record(program.builtins.context), &context),
        now_ms: super::DEFAULT_NOW_MS,
        subject: "u-7".into(),
        consents: vec!["marketing".into()],
        impressions: vec![Impression {
            offer_id: "b".into(),
            placement: "home.hero".into(),
            channel: 1,
            at_ms: super::DEFAULT_NOW_MS - 1000,
        }],
    };
    let Some(decision) = program.decision_for_placement("home.hero") else {
        panic!("no decision")
    };
    let outcome = decide(program, decision, &env, catalog.elements().unwrap_or(&[]), None);
    let Ok(outcome) = outcome else { panic!("{outcome:?}") };
    let json = serde_json::to_value(&outcome).unwrap_or_default();
    assert_eq!(json["offers"][0]["id"], "b");
    assert_eq!(json["offers"][1]["id"], "c");
    assert_eq!(json["ttl_ms"], 900_000);
    assert_eq!(json["trace"][0]["outcome"], "kept");
    assert_eq!(json["trace"][0]["rank"], serde_json::Value::Null);
    assert_eq!(json["fallback"], serde_json::Value::Null);
    assert_eq!(json["experiment"], "shop.home.hero_copy");
}

#[test]
fn held_out_subjects_are_visible_to_is_holdout() {
    // With 99.99% held out, essentially every subject is out; with the docs' rules each subject
    // is either held out or in exactly one variant.
    let src = r#"package x
experiment e {
  salt "holdout-test"
  holdout 99.99%
  variant a 50%
  variant b 50%
}
segment out = e is holdout
segment in_a = e is a
segment in_b = e is b
test "subject 1 is held out" {
  subject "subject-1"
  expect out
  expect not in_a and not in_b
}
"#;
    let mut map = SourceMap::new();
    map.add("x.policy", src);
    let a = analyze(map);
    assert!(!a.has_errors(), "{:?}", a.diagnostics);
    let report = run_tests(&a.program, None);
    assert!(report.all_passed(), "{:?}", report.results);
}
