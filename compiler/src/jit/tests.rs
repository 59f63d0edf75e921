//! Unit tests of the JIT's boundaries: what it refuses, what it checks before running native
//! code, and its thread-safety. Agreement with the interpreter is tested in
//! `tests/jit_agreement.rs` (generated programs) and `tests/jit_demo.rs` (the demo tenant).

use super::*;
use crate::interp::value_from_json;
use crate::{Backend, Bundle, CompileOptions, SourceMap};

const POLICY: &str = r#"
package demo

enum Tier { Bronze, Gold }
schema Profile { tier: Tier, tags: Set<String>, limit: Int?, home: Pair }
schema Pair { a: Int, b: String? }
schema Offer { id: String, tags: Set<String>, min: Int, pairs: List<Pair> }

const boosted: Set<String> = ["x", lower("Y")]

segment gold = profile.tier == Tier.Gold

fn fits(o: Offer) -> Bool = if let l = profile.limit then o.min <= l else true

eligibility offers for offer: Offer {
  require tagged: any t in offer.tags: t in profile.tags because "no shared tag"
  require fits: fits(offer)
  deny pairs: any p in offer.pairs: p == profile.home
}

ranking rank for offer: Offer {
  score float(offer.min) + float(profile.home.a)
  boost gold: 2.0 when gold
  boost tagged: 1.5 when any t in offer.tags: t in boosted
}

decision home {
  placement "home"
  candidates offers
  rank rank
  max 2
}
"#;

fn bundle() -> Bundle {
    let mut sources = SourceMap::new();
    sources.add("demo.policy", POLICY);
    match Bundle::compile_with(sources, CompileOptions { jit: true }) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

fn offer_schema(b: &Bundle) -> SchemaId {
    b.program()
        .schemas
        .iter()
        .position(|s| s.name == "demo.Offer")
        .unwrap_or(0) as SchemaId
}

fn env(b: &Bundle, profile: Option<serde_json::Value>) -> Env {
    let p = b.program();
    Env {
        profile: profile.map(|j| value_from_json(p, &Type::Record(p.profile.unwrap_or(0)), &j).unwrap()),
        context: value_from_json(
            p,
            &Type::Record(p.builtins.context),
            &serde_json::json!({"channel": "Web", "placement": "home"}),
        )
        .unwrap(),
        now_ms: 0,
        subject: "s".into(),
        consents: vec![],
        impressions: vec![],
    }
}

fn offers() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"id": "a", "tags": ["x", "q"], "min": 3, "pairs": []}),
        serde_json::json!({"id": "b", "tags": ["y"], "min": 9, "pairs": [{"a": 1}]}),
        serde_json::json!({"id": "c", "tags": [], "min": 1, "pairs": [{"a": 1, "b": "k"}]}),
        serde_json::json!({"id": "d", "tags": ["q"], "min": 2, "pairs": [{"a": 5}]}),
    ]
}

fn profile() -> serde_json::Value {
    serde_json::json!({"tier": "Gold", "tags": ["q", "y"], "limit": 5, "home": {"a": 1}})
}

#[test]
fn both_backends_agree_on_a_small_bundle() {
    let b = bundle();
    let catalog = b.prepare_catalog_json(offer_schema(&b), &offers()).unwrap();
    for profile in [Some(profile()), None] {
        let e = env(&b, profile);
        let i = b.decide(Backend::Interpreter, &e, 0, &catalog, None);
        let j = b.decide(Backend::Jit, &e, 0, &catalog, None);
        assert_eq!(format!("{i:?}"), format!("{j:?}"));
    }
    let e = env(&b, Some(profile()));
    let out = b.decide(Backend::Jit, &e, 0, &catalog, None).unwrap();
    let ids: Vec<&str> = out.offers.iter().map(|o| &*o.id).collect();
    assert_eq!(ids, ["a", "d"]);
}

#[test]
fn native_calls_check_their_buffers_and_positions() {
    let b = bundle();
    let catalog = b.prepare_catalog_json(offer_schema(&b), &offers()).unwrap();
    let (jit, laid_out) = b.jit_catalog(&catalog).unwrap();
    let e = env(&b, Some(profile()));
    let mut request = jit.request(laid_out, &e).unwrap();
    let mut short = vec![0i32; 2];
    assert!(request.eligibility_into(0, &mut short).is_err());
    assert!(request.rank(0, &[0, 4]).is_err());
    assert!(request.eligibility(7).is_err());
    assert_eq!(request.eligibility(0).unwrap(), vec![-1, 1, 0, -1]);
    let ranked = request.rank(0, &[0]).unwrap();
    assert_eq!(ranked.scores, vec![(3.0 + 1.0) * 2.0 * 1.5]);
    assert_eq!(ranked.boosts, vec![0b11]);
}

#[test]
fn an_empty_catalog_evaluates_nothing() {
    let b = bundle();
    let catalog = b.prepare_catalog_json(offer_schema(&b), &[]).unwrap();
    let e = env(&b, Some(profile()));
    let r = b.eligibility(Backend::Jit, &e, 0, &catalog).unwrap();
    assert!(r.candidates.is_empty());
}

#[test]
fn a_catalog_of_another_bundle_is_refused() {
    let b = bundle();
    let mut sources = SourceMap::new();
    sources.add("demo.policy", format!("{POLICY}\n// another version\n"));
    let other = Bundle::compile(sources).unwrap();
    let catalog = other.prepare_catalog_json(offer_schema(&other), &offers()).unwrap();
    let e = env(&b, Some(profile()));
    assert!(b.decide(Backend::Jit, &e, 0, &catalog, None).is_err());
}

#[test]
fn test_only_expressions_are_refused_by_name() {
    let b = bundle();
    let mut program = b.program().clone();
    let span = crate::Span::new(crate::FileId::default(), 0, 0);
    program.segments.push(crate::ir::SegmentDef {
        name: "demo.t".into(),
        body: crate::ir::Expr::new(crate::ir::ExprKind::DecisionResult(0), Type::Bool, span),
        frame: 0,
        doc: None,
        span,
    });
    // A segment is compiled when something reads it; make the ranking read it.
    let id = (program.segments.len() - 1) as u32;
    program.rankings[0].boosts[0].cond = crate::ir::Expr::new(crate::ir::ExprKind::Segment(id), Type::Bool, span);
    match JitProgram::compile(Arc::new(program)) {
        Err(JitError::Unsupported(m)) => assert!(m.contains("test"), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn bundles_and_compiled_programs_are_shareable_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Bundle>();
    shareable::<JitProgram>();
    shareable::<JitCatalog>();
    shareable::<crate::PreparedCatalog>();
}
