//! One eligibility rule (channel, campaign window, country, tier, muted tags, interests) over
//! the 1,000 offers of `examples/catalog-1000.json` for one profile, in cedar-policy, regorus
//! (Rego), cel-interpreter (CEL), zen-expression and Tailor's JIT, in the same criterion run.
//!
//! Every engine gets its inputs prepared before timing (parsed policies or compiled
//! expressions, per-offer input values), which is the best case for each; what is timed is
//! evaluating the rule for all 1,000 offers. Before timing, every engine must find the same
//! number of eligible offers.
//!
//! Run: `cd benches/peers && cargo bench -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value as Json};
use std::hint::black_box;
use std::path::Path;
use std::str::FromStr;

const NOW: &str = "2026-11-24T10:00:00Z";

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn ms(v: &Json) -> i64 {
    v.as_str()
        .and_then(|s| tailor_compiler::interp::time::parse_rfc3339(s).ok())
        .unwrap_or(0)
}

/// The fields the rule reads, with timestamps as milliseconds.
fn offer_input(o: &Json) -> Json {
    json!({
        "id": o["id"],
        "channels": o["channels"],
        "starts_at": ms(&o["starts_at"]),
        "ends_at": ms(&o["ends_at"]),
        "countries": o["countries"],
        "tier": o["tier"],
        "tags": o["tags"],
        "priority": o["priority"],
    })
}

fn profile_input(p: &Json) -> Json {
    json!({
        "country": p["country"],
        "tier": p["tier"],
        "muted_topics": p["muted_topics"],
        "interests": p["interests"],
    })
}

const CEL: &str = "channel in offer.channels && offer.starts_at <= now && now < offer.ends_at \
    && profile.country in offer.countries \
    && (offer.tier != 'Premium' || profile.tier in ['Gold', 'Platinum']) \
    && !offer.tags.exists(t, t in profile.muted_topics) \
    && (offer.tags.exists(t, t in profile.interests) || offer.priority >= 5)";

const ZEN: &str = "channel in offer.channels and offer.starts_at <= now and now < offer.ends_at \
    and profile.country in offer.countries \
    and (offer.tier != 'Premium' or profile.tier in ['Gold', 'Platinum']) \
    and none(offer.tags, # in profile.muted_topics) \
    and (some(offer.tags, # in profile.interests) or offer.priority >= 5)";

const REGO: &str = r#"
package peer

import rego.v1

default allow := false

allow if {
	input.channel in input.offer.channels
	input.offer.starts_at <= input.now
	input.now < input.offer.ends_at
	input.profile.country in input.offer.countries
	tier_ok
	not muted
	interested
}

tier_ok if input.offer.tier != "Premium"

tier_ok if input.profile.tier in {"Gold", "Platinum"}

muted if {
	some t in input.offer.tags
	t in input.profile.muted_topics
}

interested if {
	some t in input.offer.tags
	t in input.profile.interests
}

interested if input.offer.priority >= 5
"#;

const CEDAR: &str = r#"
permit (principal, action == Action::"view", resource)
when {
  resource.channels.contains(context.channel) &&
  resource.starts_at <= context.now && context.now < resource.ends_at &&
  resource.countries.contains(principal.country) &&
  (resource.tier != "Premium" || ["Gold", "Platinum"].contains(principal.tier)) &&
  !resource.tags.containsAny(principal.muted_topics) &&
  (resource.tags.containsAny(principal.interests) || resource.priority >= 5)
};
"#;

fn tailor_bundle() -> tailor_compiler::Bundle {
    let mut map = tailor_compiler::SourceMap::new();
    let dir = root().join("policies/retail");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("policies/retail")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    paths.sort();
    for p in &paths {
        map.add(p.display().to_string(), std::fs::read_to_string(p).expect("policy"));
    }
    map.add("peer_rule.policy", include_str!("../peer_rule.policy").to_string());
    tailor_compiler::Bundle::compile_with(map, tailor_compiler::CompileOptions { jit: true }).expect("compiles")
}

fn bench(c: &mut Criterion) {
    let catalog: Vec<Json> =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/catalog-1000.json")).expect("catalog"))
            .expect("json");
    let profiles = std::fs::read_to_string(root().join("examples/profiles.jsonl")).expect("profiles");
    let row: Json = serde_json::from_str(profiles.lines().next().expect("a profile")).expect("json");
    let now = tailor_compiler::interp::time::parse_rfc3339(NOW).expect("now");
    let channel = "Web";
    let offers: Vec<Json> = catalog.iter().map(offer_input).collect();
    let profile = profile_input(&row["profile"]);
    let n = offers.len();

    // Tailor.
    let bundle = tailor_bundle();
    let p = bundle.program();
    let offer_schema = p
        .schemas
        .iter()
        .position(|s| s.name.ends_with(".Offer"))
        .expect("Offer") as u32;
    let elig = p
        .eligibilities
        .iter()
        .position(|e| e.name == "peers.peer_rule")
        .expect("rule") as u32;
    let prepared = bundle.prepare_catalog_json(offer_schema, &catalog).expect("catalog");
    let env = tailor_compiler::interp::Env {
        profile: Some(
            tailor_compiler::interp::value_from_json(
                p,
                &tailor_compiler::ir::Type::Record(p.profile.expect("Profile")),
                &row["profile"],
            )
            .expect("profile"),
        ),
        context: tailor_compiler::interp::value_from_json(
            p,
            &tailor_compiler::ir::Type::Record(p.builtins.context),
            &json!({"channel": channel, "placement": "home.hero"}),
        )
        .expect("context"),
        now_ms: now,
        subject: "u-00001".into(),
        consents: vec![],
        impressions: vec![],
    };
    let (jit, laid_out) = bundle.jit_catalog(&prepared).expect("jit");
    let mut out = vec![0i32; n];
    jit.request(laid_out, &env)
        .expect("request")
        .eligibility_into(elig, &mut out)
        .expect("runs");
    let expected = out.iter().filter(|r| **r < 0).count();
    let interp = bundle
        .eligibility(tailor_compiler::Backend::Interpreter, &env, elig, &prepared)
        .expect("interpreter");
    assert_eq!(
        expected,
        interp.candidates.iter().filter(|c| c.removed_by.is_none()).count()
    );

    // CEL.
    let cel = cel_interpreter::Program::compile(CEL).expect("CEL compiles");
    let cel_contexts: Vec<cel_interpreter::Context> = offers
        .iter()
        .map(|o| {
            let mut ctx = cel_interpreter::Context::default();
            ctx.add_variable("offer", o.clone()).expect("offer");
            ctx.add_variable("profile", profile.clone()).expect("profile");
            ctx.add_variable("channel", channel).expect("channel");
            ctx.add_variable("now", now).expect("now");
            ctx
        })
        .collect();
    let cel_count = cel_contexts
        .iter()
        .filter(|ctx| matches!(cel.execute(ctx), Ok(cel_interpreter::Value::Bool(true))))
        .count();
    assert_eq!(cel_count, expected, "CEL disagrees");

    // zen-expression.
    let zen = zen_expression::compile_expression(ZEN).expect("zen compiles");
    let zen_inputs: Vec<zen_expression::Variable> = offers
        .iter()
        .map(|o| json!({"offer": o, "profile": profile, "channel": channel, "now": now}).into())
        .collect();
    let zen_true = |v: &zen_expression::Variable| matches!(v, zen_expression::Variable::Bool(true));
    let zen_count = zen_inputs
        .iter()
        .filter(|v| zen.evaluate((*v).clone()).map(|r| zen_true(&r)).unwrap_or(false))
        .count();
    assert_eq!(zen_count, expected, "zen-expression disagrees");

    // regorus.
    let mut rego = regorus::Engine::new();
    rego.add_policy("peer.rego".into(), REGO.into()).expect("rego parses");
    let rego_inputs: Vec<regorus::Value> = offers
        .iter()
        .map(|o| {
            regorus::Value::from_json_str(
                &json!({"offer": o, "profile": profile, "channel": channel, "now": now}).to_string(),
            )
            .expect("input")
        })
        .collect();
    let mut rego_count = 0;
    for input in &rego_inputs {
        rego.set_input(input.clone());
        if rego.eval_rule("data.peer.allow".into()).expect("evaluates") == regorus::Value::from(true) {
            rego_count += 1;
        }
    }
    assert_eq!(rego_count, expected, "regorus disagrees");

    // cedar-policy.
    let policies = cedar_policy::PolicySet::from_str(CEDAR).expect("cedar parses");
    let mut entities = vec![json!({
        "uid": {"type": "User", "id": "u"},
        "attrs": profile,
        "parents": []
    })];
    for (i, o) in offers.iter().enumerate() {
        let mut attrs = o.clone();
        if let Some(m) = attrs.as_object_mut() {
            m.remove("id");
        }
        entities.push(json!({"uid": {"type": "Offer", "id": format!("o{i}")}, "attrs": attrs, "parents": []}));
    }
    let entities = cedar_policy::Entities::from_json_value(Json::Array(entities), None).expect("entities");
    let principal = cedar_policy::EntityUid::from_str(r#"User::"u""#).expect("uid");
    let action = cedar_policy::EntityUid::from_str(r#"Action::"view""#).expect("uid");
    let context =
        cedar_policy::Context::from_json_value(json!({"channel": channel, "now": now}), None).expect("context");
    let requests: Vec<cedar_policy::Request> = (0..n)
        .map(|i| {
            let resource = cedar_policy::EntityUid::from_str(&format!(r#"Offer::"o{i}""#)).expect("uid");
            cedar_policy::Request::new(principal.clone(), action.clone(), resource, context.clone(), None)
                .expect("request")
        })
        .collect();
    let authorizer = cedar_policy::Authorizer::new();
    let cedar_count = requests
        .iter()
        .filter(|r| authorizer.is_authorized(r, &policies, &entities).decision() == cedar_policy::Decision::Allow)
        .count();
    assert_eq!(cedar_count, expected, "cedar disagrees");
    eprintln!("{n} offers, {expected} eligible in every engine");

    let mut group = c.benchmark_group("peer_rule_1000_offers");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("tailor jit", n), |b| {
        b.iter(|| {
            let mut request = jit.request(laid_out, black_box(&env)).expect("request");
            request.eligibility_into(elig, &mut out).expect("runs");
            black_box(&out);
        })
    });
    group.bench_function(BenchmarkId::new("zen-expression", n), |b| {
        b.iter(|| {
            zen_inputs
                .iter()
                .filter(|v| zen.evaluate((*v).clone()).map(|r| zen_true(&r)).unwrap_or(false))
                .count()
        })
    });
    group.bench_function(BenchmarkId::new("cel-interpreter", n), |b| {
        b.iter(|| {
            cel_contexts
                .iter()
                .filter(|ctx| matches!(cel.execute(ctx), Ok(cel_interpreter::Value::Bool(true))))
                .count()
        })
    });
    group.bench_function(BenchmarkId::new("regorus", n), |b| {
        b.iter(|| {
            let mut count = 0;
            for input in &rego_inputs {
                rego.set_input(input.clone());
                if rego.eval_rule("data.peer.allow".into()).expect("evaluates") == regorus::Value::from(true) {
                    count += 1;
                }
            }
            count
        })
    });
    group.bench_function(BenchmarkId::new("cedar-policy", n), |b| {
        b.iter(|| {
            requests
                .iter()
                .filter(|r| {
                    authorizer.is_authorized(r, &policies, &entities).decision() == cedar_policy::Decision::Allow
                })
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
