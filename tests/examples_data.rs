//! The example data under `examples/` fits the demo policies: every offer of the catalog and
//! every synthetic profile loads against the `retail` schemas, and every placement decides for
//! a sample of profiles on the interpreter. The runtime demo loads the same files.

use std::path::Path;
use tailor_compiler::interp::{decide, value_from_json, Env, Value};
use tailor_compiler::ir::Type;
use tailor_compiler::{analyze, SourceMap};

fn demo() -> tailor_compiler::Analysis {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/retail");
    let mut paths: Vec<_> = std::fs::read_dir(&root)
        .expect("policies/retail")
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    let mut map = SourceMap::new();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "policy")) {
        map.add(
            p.display().to_string(),
            std::fs::read_to_string(p).expect("policy file"),
        );
    }
    let a = analyze(map);
    assert!(!a.has_errors(), "the demo policies must check cleanly");
    a
}

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)).expect("example file")
}

#[test]
fn catalog_and_profiles_load_and_every_placement_decides() {
    let a = demo();
    let p = &a.program;
    let offer = p
        .schemas
        .iter()
        .position(|s| s.name.ends_with(".Offer"))
        .expect("an Offer schema") as u32;
    let profile = p.profile.expect("a Profile schema");

    let catalog_json: serde_json::Value = serde_json::from_str(&read("catalog.json")).expect("catalog.json parses");
    let catalog = match value_from_json(p, &Type::List(Box::new(Type::Record(offer))), &catalog_json) {
        Ok(Value::List(items)) => items,
        Ok(other) => panic!("catalog is not a list: {other:?}"),
        Err(e) => panic!("catalog.json does not match the Offer schema: {e}"),
    };
    assert!(catalog.len() >= 300, "the catalog has {} offers", catalog.len());

    let mut profiles = Vec::new();
    for (i, line) in read("profiles.jsonl").lines().enumerate() {
        let row: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("profiles.jsonl line {}: {e}", i + 1));
        let id = row["id"]
            .as_str()
            .unwrap_or_else(|| panic!("line {} has no id", i + 1))
            .to_string();
        let v = value_from_json(p, &Type::Record(profile), &row["profile"])
            .unwrap_or_else(|e| panic!("profiles.jsonl line {}: {e}", i + 1));
        profiles.push((id, v));
    }
    assert!(profiles.len() >= 1000, "found {} profiles", profiles.len());

    let context_ty = Type::Record(p.builtins.context);
    let mut chosen_any = 0usize;
    for (d, decision) in p.decisions.iter().enumerate() {
        let channel = match decision.placement.split('.').next() {
            Some("email") => "Email",
            Some("app") => "App",
            _ => "Web",
        };
        let context = value_from_json(
            p,
            &context_ty,
            &serde_json::json!({"channel": channel, "placement": decision.placement}),
        )
        .expect("context loads");
        for (id, profile) in profiles.iter().take(200) {
            let env = Env {
                profile: Some(profile.clone()),
                context: context.clone(),
                now_ms: 1_795_000_000_000,
                subject: id.as_str().into(),
                consents: vec!["marketing".to_string()],
                impressions: Vec::new(),
            };
            let out =
                decide(p, d as u32, &env, &catalog, None).unwrap_or_else(|e| panic!("{} for {id}: {e}", decision.name));
            chosen_any += out.offers.len();
        }
    }
    assert!(chosen_any > 0, "no placement chose any offer for any sample profile");
}

#[test]
fn the_benchmark_catalog_has_1000_offers_that_load() {
    let a = demo();
    let p = &a.program;
    let offer = p
        .schemas
        .iter()
        .position(|s| s.name.ends_with(".Offer"))
        .expect("an Offer schema") as u32;
    let json: serde_json::Value = serde_json::from_str(&read("catalog-1000.json")).expect("catalog-1000.json parses");
    match value_from_json(p, &Type::List(Box::new(Type::Record(offer))), &json) {
        Ok(Value::List(items)) => assert_eq!(items.len(), 1000),
        Ok(other) => panic!("catalog-1000.json is not a list: {other:?}"),
        Err(e) => panic!("catalog-1000.json does not match the Offer schema: {e}"),
    }
}

#[test]
fn the_yaml_catalog_is_the_json_catalogs_fixed_offers() {
    use tailor_runtime::catalog::{parse_catalog, CatalogFormat};
    let yaml = parse_catalog(&read("catalog-demo.yaml"), CatalogFormat::Yaml).expect("catalog-demo.yaml parses");
    let json = parse_catalog(&read("catalog.json"), CatalogFormat::Json).expect("catalog.json parses");
    assert_eq!(yaml.offers.len(), 23);
    // Field for field, number type for number type: `4.0` stays a float, `5` an integer.
    assert_eq!(yaml.offers[..], json.offers[..yaml.offers.len()]);
    assert!(yaml.templates.is_empty());
}
