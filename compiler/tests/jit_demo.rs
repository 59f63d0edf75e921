//! The demo tenant's policies (`policies/retail`) with the example catalog and every example
//! profile (`examples/`), through both backends: every profile × placement must give the same
//! `DecisionOutcome`, and every eligibility block the same report, down to the rule that
//! removed each candidate, the scores' bits and the applied boosts.

use std::path::{Path, PathBuf};
use tailor_compiler::interp::{value_from_json, Env, Impression, Value};
use tailor_compiler::ir::Type;
use tailor_compiler::{Backend, Bundle, CompileOptions, SourceMap};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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
        map.add(
            p.display().to_string(),
            std::fs::read_to_string(p).expect("policy file"),
        );
    }
    match Bundle::compile_with(map, CompileOptions { jit: true }) {
        Ok(b) => b,
        Err(e) => panic!("the demo policies must compile on both backends: {e}"),
    }
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(name)).expect("example file")
}

/// Exact comparison: `Debug` shows every float's value, sign of zero and NaN.
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

#[test]
fn every_profile_and_placement_decides_the_same_on_both_backends() {
    let bundle = demo();
    let p = bundle.program();
    let offer = p
        .schemas
        .iter()
        .position(|s| s.name.ends_with(".Offer"))
        .expect("an Offer schema") as u32;
    let profile = p.profile.expect("a Profile schema");
    let catalog_json: Vec<serde_json::Value> = serde_json::from_str(&read("catalog.json")).expect("catalog.json");
    let catalog = bundle
        .prepare_catalog_json(offer, &catalog_json)
        .expect("catalog loads");
    let mut profiles = Vec::new();
    for line in read("profiles.jsonl").lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("a profile line");
        let id = row["id"].as_str().expect("an id").to_string();
        let v = value_from_json(p, &Type::Record(profile), &row["profile"]).expect("profile loads");
        profiles.push((id, v));
    }
    assert!(profiles.len() >= 1000);
    let first_offers: Vec<String> = catalog_json
        .iter()
        .take(40)
        .filter_map(|o| o["id"].as_str().map(String::from))
        .collect();

    let context_ty = Type::Record(p.builtins.context);
    let mut decided = 0usize;
    let mut chosen = 0usize;
    for (d, decision) in p.decisions.iter().enumerate() {
        for (k, (id, profile)) in profiles.iter().enumerate() {
            // Vary the channel (including disallowed ones), time, consent and impressions.
            let channel = ["Web", "App", "Email", "Web"][k % 4];
            let context = value_from_json(
                p,
                &context_ty,
                &serde_json::json!({"channel": channel, "placement": decision.placement}),
            )
            .expect("context loads");
            let now_ms = 1_795_000_000_000 + (k as i64 % 97) * 3_600_000 * 13;
            let impressions = if k % 3 == 0 {
                first_offers
                    .iter()
                    .enumerate()
                    .map(|(j, o)| Impression {
                        offer_id: o.clone(),
                        placement: decision.placement.clone(),
                        channel: 0,
                        at_ms: now_ms - (j as i64) * 3_600_000 * 7,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let env = Env {
                profile: Some(profile.clone()),
                context,
                now_ms,
                subject: id.as_str().into(),
                consents: if k % 5 == 0 {
                    vec![]
                } else {
                    vec!["marketing".to_string()]
                },
                impressions,
            };
            let interp = bundle.decide(Backend::Interpreter, &env, d as u32, &catalog, None);
            let jit = bundle.decide(Backend::Jit, &env, d as u32, &catalog, None);
            assert!(
                same(&interp, &jit),
                "{} for {id}:\ninterpreter: {interp:?}\njit: {jit:?}",
                decision.name
            );
            decided += 1;
            chosen += interp.map(|o| o.offers.len()).unwrap_or(0);
        }
    }
    assert!(decided >= 1000 && chosen > 0);

    // Every eligibility block of the same schema, for a sample of profiles.
    for (e, elig) in p.eligibilities.iter().enumerate() {
        if elig.schema != offer {
            continue;
        }
        for (id, profile) in profiles.iter().step_by(17) {
            let context = value_from_json(
                p,
                &context_ty,
                &serde_json::json!({"channel": "Web", "placement": "home.hero"}),
            )
            .expect("context loads");
            let env = Env {
                profile: Some(profile.clone()),
                context,
                now_ms: 1_795_000_000_000,
                subject: id.as_str().into(),
                consents: vec![],
                impressions: vec![],
            };
            let a = bundle.eligibility(Backend::Interpreter, &env, e as u32, &catalog);
            let b = bundle.eligibility(Backend::Jit, &env, e as u32, &catalog);
            assert!(same(&a, &b), "{} for {id}:\n{a:?}\n{b:?}", elig.name);
        }
    }
}

#[test]
fn a_request_without_a_profile_fails_the_same_way() {
    let bundle = demo();
    let p = bundle.program();
    let offer = p
        .schemas
        .iter()
        .position(|s| s.name.ends_with(".Offer"))
        .expect("an Offer schema") as u32;
    let catalog_json: Vec<serde_json::Value> = serde_json::from_str(&read("catalog.json")).expect("catalog.json");
    let catalog = bundle
        .prepare_catalog_json(offer, &catalog_json)
        .expect("catalog loads");
    let context = value_from_json(
        p,
        &Type::Record(p.builtins.context),
        &serde_json::json!({"channel": "Web", "placement": "home.hero"}),
    )
    .expect("context");
    let env = Env {
        profile: None,
        context,
        now_ms: 1_795_000_000_000,
        subject: "s".into(),
        consents: vec!["marketing".into()],
        impressions: vec![],
    };
    for d in 0..p.decisions.len() as u32 {
        let a = bundle.decide(Backend::Interpreter, &env, d, &catalog, None);
        let b = bundle.decide(Backend::Jit, &env, d, &catalog, None);
        assert!(same(&a, &b), "{a:?}\n{b:?}");
    }
    let _ = Value::Missing;
}
