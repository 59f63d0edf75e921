//! Eligibility of a 1,000-offer catalog for one request: the JIT against the interpreter and
//! against a hand-written Rust function computing the same rules over plain structs.
//!
//! The rule is the demo's ground rules, `retail.rules.sellable` (placement booking, channel,
//! campaign window, country, legal block, muted topics, minimum spend, order limit, premium
//! and VIP tiers, discount allowance table), over `examples/catalog-1000.json` and the first
//! profile of `examples/profiles.jsonl`. Each iteration is one request: the per-request setup
//! (laying out the profile for the JIT; a fresh memo for the interpreter) is included, so the
//! figures compare what a request costs. `jit: native loop only` reuses one request.
//!
//! Run: `cargo bench -p tailor-compiler --bench eligibility`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::collections::HashSet;
use std::hint::black_box;
use std::path::Path;
use tailor_compiler::interp::{time, value_from_json, Env, Evaluator};
use tailor_compiler::ir::Type;
use tailor_compiler::{Backend, Bundle, CompileOptions, SourceMap};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn demo() -> Bundle {
    let dir = root().join("policies/retail");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("policies/retail")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    paths.sort();
    let mut map = SourceMap::new();
    for p in &paths {
        map.add(p.display().to_string(), std::fs::read_to_string(p).expect("policy"));
    }
    Bundle::compile_with(map, CompileOptions { jit: true }).expect("demo compiles")
}

// ---- the hand-written baseline ---------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Tier {
    Member,
    Silver,
    Gold,
    Platinum,
}

#[derive(Clone, Copy, PartialEq)]
enum Lifecycle {
    New,
    Active,
    Lapsed,
    Churned,
}

#[derive(Clone, Copy, PartialEq)]
enum OfferTier {
    Standard,
    Premium,
    Exclusive,
}

struct Profile {
    lifecycle: Lifecycle,
    tier: Tier,
    lifetime_value: f64,
    country: String,
    orders: i64,
    muted_topics: HashSet<String>,
    churn_risk: f64,
}

struct Offer {
    tier: OfferTier,
    tags: Vec<String>,
    channels: Vec<String>,
    placements: Vec<String>,
    countries: Vec<String>,
    blocked_countries: Vec<String>,
    min_lifetime_value: f64,
    max_orders: Option<i64>,
    discount_pct: f64,
    starts_at: i64,
    ends_at: i64,
}

struct Request<'a> {
    profile: &'a Profile,
    channel: &'a str,
    placement: &'a str,
    now: i64,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|xs| xs.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn ts(v: &serde_json::Value) -> i64 {
    v.as_str().and_then(|s| time::parse_rfc3339(s).ok()).unwrap_or(0)
}

fn offer_struct(o: &serde_json::Value) -> Offer {
    Offer {
        tier: match o["tier"].as_str() {
            Some("Premium") => OfferTier::Premium,
            Some("Exclusive") => OfferTier::Exclusive,
            _ => OfferTier::Standard,
        },
        tags: strings(&o["tags"]),
        channels: strings(&o["channels"]),
        placements: strings(&o["placements"]),
        countries: strings(&o["countries"]),
        blocked_countries: strings(&o["blocked_countries"]),
        min_lifetime_value: o["min_lifetime_value"].as_f64().unwrap_or(0.0),
        max_orders: o["max_orders"].as_i64(),
        discount_pct: o["discount_pct"].as_f64().unwrap_or(0.0),
        starts_at: ts(&o["starts_at"]),
        ends_at: ts(&o["ends_at"]),
    }
}

fn profile_struct(p: &serde_json::Value) -> Profile {
    Profile {
        lifecycle: match p["lifecycle"].as_str() {
            Some("New") => Lifecycle::New,
            Some("Lapsed") => Lifecycle::Lapsed,
            Some("Churned") => Lifecycle::Churned,
            _ => Lifecycle::Active,
        },
        tier: match p["tier"].as_str() {
            Some("Silver") => Tier::Silver,
            Some("Gold") => Tier::Gold,
            Some("Platinum") => Tier::Platinum,
            _ => Tier::Member,
        },
        lifetime_value: p["lifetime_value"].as_f64().unwrap_or(0.0),
        country: p["country"].as_str().unwrap_or("").to_string(),
        orders: p["orders"].as_i64().unwrap_or(0),
        muted_topics: strings(&p["muted_topics"]).into_iter().collect(),
        churn_risk: p["churn_risk"].as_f64().unwrap_or(0.0),
    }
}

/// `retail.rules.sellable`, by hand: the index of the first failing rule, or `None`.
fn sellable(r: &Request<'_>, o: &Offer, high_value: bool, vip: bool, allowance: f64) -> Option<usize> {
    let p = r.profile;
    if !o.placements.iter().any(|x| x == r.placement) {
        return Some(0);
    }
    if !o.channels.iter().any(|x| x == r.channel) {
        return Some(1);
    }
    if !(o.starts_at <= r.now && r.now < o.ends_at) {
        return Some(2);
    }
    if !o.countries.contains(&p.country) {
        return Some(3);
    }
    if o.blocked_countries.contains(&p.country) {
        return Some(4);
    }
    if !o.tags.iter().all(|t| !p.muted_topics.contains(t)) {
        return Some(5);
    }
    if p.lifetime_value < o.min_lifetime_value {
        return Some(6);
    }
    if o.max_orders.is_some_and(|limit| p.orders > limit) {
        return Some(7);
    }
    if o.tier == OfferTier::Premium && !high_value {
        return Some(8);
    }
    if o.tier == OfferTier::Exclusive && !vip {
        return Some(9);
    }
    if o.discount_pct > allowance {
        return Some(10);
    }
    None
}

fn hand_written(r: &Request<'_>, offers: &[Offer], out: &mut Vec<Option<usize>>) {
    let p = r.profile;
    let high_value = p.lifetime_value >= 500.0;
    let vip = p.tier == Tier::Platinum || (p.lifetime_value >= 2000.0 && p.orders >= 20);
    let allowance = match (p.tier, p.lifecycle, p.churn_risk) {
        (Tier::Platinum, _, _) => 30.0,
        (_, Lifecycle::Lapsed | Lifecycle::Churned, c) if c >= 0.7 => 25.0,
        (Tier::Gold, _, _) => 20.0,
        (_, Lifecycle::New, _) => 15.0,
        (_, _, c) if c >= 0.7 => 15.0,
        _ => 10.0,
    };
    out.clear();
    out.extend(offers.iter().map(|o| sellable(r, o, high_value, vip, allowance)));
}

// ---- the benchmark ---------------------------------------------------------------------------

fn bench(c: &mut Criterion) {
    let bundle = demo();
    let p = bundle.program();
    let offer = p
        .schemas
        .iter()
        .position(|s| s.name.ends_with(".Offer"))
        .expect("Offer") as u32;
    let elig = p
        .eligibilities
        .iter()
        .position(|e| e.name == "retail.rules.sellable")
        .expect("sellable") as u32;
    let text = std::fs::read_to_string(root().join("examples/catalog-1000.json")).expect("catalog-1000.json");
    let offers_json: Vec<serde_json::Value> = serde_json::from_str(&text).expect("catalog json");
    let catalog = bundle.prepare_catalog_json(offer, &offers_json).expect("catalog");
    let profiles = std::fs::read_to_string(root().join("examples/profiles.jsonl")).expect("profiles");
    let row: serde_json::Value = serde_json::from_str(profiles.lines().next().expect("a profile")).expect("json");
    let placement = "home.hero";
    let now = time::parse_rfc3339("2026-11-24T10:00:00Z").expect("time");
    let env = Env {
        profile: Some(
            value_from_json(p, &Type::Record(p.profile.expect("Profile")), &row["profile"]).expect("profile"),
        ),
        context: value_from_json(
            p,
            &Type::Record(p.builtins.context),
            &serde_json::json!({"channel": "Web", "placement": placement}),
        )
        .expect("context"),
        now_ms: now,
        subject: "u-00001".into(),
        consents: vec![],
        impressions: vec![],
    };

    // The three agree before anything is timed.
    let interp = bundle
        .eligibility(Backend::Interpreter, &env, elig, &catalog)
        .expect("interpreter");
    let jit = bundle.eligibility(Backend::Jit, &env, elig, &catalog).expect("jit");
    assert_eq!(format!("{interp:?}"), format!("{jit:?}"));
    let structs: Vec<Offer> = offers_json.iter().map(offer_struct).collect();
    let profile = profile_struct(&row["profile"]);
    let req = Request {
        profile: &profile,
        channel: "Web",
        placement,
        now,
    };
    let mut hand = Vec::new();
    hand_written(&req, &structs, &mut hand);
    let rule_ids: Vec<Option<usize>> = interp
        .candidates
        .iter()
        .map(|c| {
            c.removed_by
                .as_ref()
                .and_then(|r| p.eligibilities[elig as usize].rules.iter().position(|x| x.id == r.rule))
        })
        .collect();
    assert_eq!(
        hand, rule_ids,
        "the hand-written function must agree with the interpreter"
    );
    let eligible = hand.iter().filter(|r| r.is_none()).count();
    eprintln!(
        "{} offers, {eligible} eligible for the benchmark profile",
        structs.len()
    );

    let (jit_program, laid_out) = bundle.jit_catalog(&catalog).expect("jit catalog");
    let evaluator = Evaluator::new(p);
    let n = catalog.len();
    let mut group = c.benchmark_group("eligibility_1000_offers");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("hand-written rust", n), |b| {
        let mut out = Vec::with_capacity(n);
        b.iter(|| {
            hand_written(black_box(&req), black_box(&structs), &mut out);
            black_box(&out);
        })
    });
    group.bench_function(BenchmarkId::new("jit", n), |b| {
        let mut out = vec![0i32; n];
        b.iter(|| {
            let mut request = jit_program.request(laid_out, black_box(&env)).expect("request");
            request.eligibility_into(elig, &mut out).expect("eligibility");
            black_box(&out);
        })
    });
    group.bench_function(BenchmarkId::new("jit: native loop only", n), |b| {
        let mut out = vec![0i32; n];
        let mut request = jit_program.request(laid_out, &env).expect("request");
        b.iter(|| {
            request.eligibility_into(elig, &mut out).expect("eligibility");
            black_box(&out);
        })
    });
    group.bench_function(BenchmarkId::new("interpreter", n), |b| {
        b.iter(|| {
            let request = evaluator.request(black_box(&env));
            let r: Vec<Option<usize>> = catalog
                .offers()
                .iter()
                .map(|o| request.first_failing_rule(elig, o).expect("rules"))
                .collect();
            black_box(r);
        })
    });
    group.finish();

    // Whole decisions (rules, caps, ranking, sort, traces) through the public API.
    let decision = p.decision_for_placement(placement).expect("home.hero");
    let mut group = c.benchmark_group("decide_home_hero_1000_offers");
    group.throughput(Throughput::Elements(n as u64));
    for backend in [Backend::Jit, Backend::Interpreter] {
        group.bench_function(BenchmarkId::new(backend.to_string(), n), |b| {
            b.iter(|| {
                black_box(
                    bundle
                        .decide(backend, black_box(&env), decision, &catalog, None)
                        .expect("decides"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
