//! The conformance corpus: policies with inputs and the decisions they must produce, run on
//! every backend.
//!
//! Each `tests/conformance/NAME.policy` has a `NAME.json` beside it holding a catalog, named
//! profiles and cases (a placement, a subject, a moment, consents and past impressions). Every
//! case is decided on every backend in [`BACKENDS`]; the backends must agree with each other,
//! and the interpreter's outcomes (with every candidate's trace) are snapshot-tested, so a
//! change in semantics shows up as a reviewed snapshot diff (`cargo insta review`). The HTTP
//! runtime and replay run the same corpus through their own entry points.

use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use tailor_compiler::bundle::PreparedCatalog;
use tailor_compiler::interp::{time, value_from_json, Env, Impression};
use tailor_compiler::ir::Type;
use tailor_compiler::{Backend, Bundle, SourceMap};

/// Every backend, the reference interpreter first.
const BACKENDS: &[Backend] = &[Backend::Interpreter, Backend::Jit];

const DEFAULT_NOW: &str = "2026-11-24T10:00:00Z";
const DEFAULT_SUBJECT: &str = "conformance-subject";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn compile(policy: &Path) -> Bundle {
    let text = std::fs::read_to_string(policy).unwrap_or_else(|e| panic!("{}: {e}", policy.display()));
    let mut sources = SourceMap::new();
    sources.add(policy.display().to_string(), text);
    match Bundle::compile(sources) {
        Ok(bundle) => bundle,
        Err(e) => panic!("{} does not compile: {e}", policy.display()),
    }
}

fn str_field<'a>(case: &'a Json, key: &str, default: &'a str) -> &'a str {
    case.get(key).and_then(Json::as_str).unwrap_or(default)
}

fn timestamp(text: &str) -> i64 {
    time::parse_rfc3339(text).unwrap_or_else(|e| panic!("bad timestamp `{text}`: {e}"))
}

/// The environment of one case.
fn env(bundle: &Bundle, corpus: &Json, case: &Json) -> Env {
    let program = bundle.program();
    let placement = str_field(case, "placement", "");
    let channel = str_field(case, "channel", "Web");
    let profile = match case.get("profile") {
        None | Some(Json::Null) => None,
        Some(Json::String(name)) => Some(
            corpus["profiles"]
                .get(name.as_str())
                .unwrap_or_else(|| panic!("no profile named `{name}`"))
                .clone(),
        ),
        Some(inline) => Some(inline.clone()),
    };
    let profile = profile.map(|json| {
        let schema = program.profile.expect("the policy has a Profile schema");
        value_from_json(program, &Type::Record(schema), &json).unwrap_or_else(|e| panic!("profile: {e}"))
    });
    let context = value_from_json(
        program,
        &Type::Record(program.builtins.context),
        &json!({"channel": channel, "placement": placement}),
    )
    .unwrap_or_else(|e| panic!("context: {e}"));
    let channel_index = program.enums[program.builtins.channel as usize]
        .variants
        .iter()
        .position(|v| v == channel)
        .unwrap_or_else(|| panic!("no channel {channel}")) as u32;
    let consents = match case.get("consents") {
        Some(list) => serde_json::from_value(list.clone()).expect("consents is a list of strings"),
        None => vec!["marketing".to_string()],
    };
    let impressions = case
        .get("impressions")
        .and_then(Json::as_array)
        .map(|list| {
            list.iter()
                .map(|i| Impression {
                    offer_id: str_field(i, "offer_id", "").to_string(),
                    placement: str_field(i, "placement", placement).to_string(),
                    channel: channel_index,
                    at_ms: timestamp(str_field(i, "at", DEFAULT_NOW)),
                })
                .collect()
        })
        .unwrap_or_default();
    Env {
        profile,
        context,
        now_ms: timestamp(str_field(case, "now", DEFAULT_NOW)),
        subject: str_field(case, "subject", DEFAULT_SUBJECT).into(),
        consents,
        impressions,
    }
}

fn catalog(bundle: &Bundle, decision: u32, offers: &Json) -> PreparedCatalog {
    let program = bundle.program();
    let eligibility = program.decisions[decision as usize].candidates;
    let schema = program.eligibilities[eligibility as usize].schema;
    let offers = offers.as_array().expect("a catalog is a list");
    bundle
        .prepare_catalog_json(schema, offers)
        .unwrap_or_else(|e| panic!("catalog: {e}"))
}

/// Runs one corpus file on every backend and returns the interpreter's outcomes as text.
fn run_corpus(policy: &Path) -> String {
    let bundle = compile(policy);
    let cases_path = policy.with_extension("json");
    let corpus: Json = serde_json::from_str(
        &std::fs::read_to_string(&cases_path).unwrap_or_else(|e| panic!("{}: {e}", cases_path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", cases_path.display()));
    let mut out = String::new();
    let cases = corpus["cases"].as_array().expect("`cases` is a list");
    assert!(!cases.is_empty(), "{} has no cases", cases_path.display());
    for case in cases {
        let name = str_field(case, "name", "?");
        let placement = str_field(case, "placement", "");
        let decision = bundle
            .program()
            .decision_for_placement(placement)
            .unwrap_or_else(|| panic!("case `{name}`: no decision for placement `{placement}`"));
        let env = env(&bundle, &corpus, case);
        let catalog = catalog(&bundle, decision, case.get("catalog").unwrap_or(&corpus["catalog"]));
        let max = case.get("max_variants").and_then(Json::as_u64).map(|m| m as u32);
        let outcomes: Vec<_> = BACKENDS
            .iter()
            .map(|&backend| {
                bundle
                    .decide(backend, &env, decision, &catalog, max)
                    .unwrap_or_else(|e| panic!("case `{name}` on {backend}: {e}"))
            })
            .collect();
        let reference = &outcomes[0];
        for (backend, outcome) in BACKENDS.iter().zip(&outcomes).skip(1) {
            // Compared as JSON so that NaN scores (serialized as null) compare equal.
            assert_eq!(
                serde_json::to_value(outcome).expect("serializable"),
                serde_json::to_value(reference).expect("serializable"),
                "case `{name}`: {backend} disagrees with the interpreter"
            );
        }
        out.push_str(&format!("## {name}\n"));
        out.push_str(&serde_json::to_string_pretty(reference).expect("serializable"));
        out.push_str("\n\n");
    }
    out
}

#[test]
fn every_backend_agrees_with_the_recorded_outcomes() {
    let mut policies: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/conformance exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    policies.sort();
    assert!(policies.len() >= 2, "the corpus is missing");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/conformance");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for policy in &policies {
            let name = policy.file_stem().and_then(|s| s.to_str()).expect("a file name");
            insta::assert_snapshot!(name, run_corpus(policy));
        }
    });
}
