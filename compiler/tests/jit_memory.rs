//! Compiled code is freed with its bundle: compiling, running and dropping 1,000 bundles must
//! not grow the process's resident memory beyond a fixed bound. (Each JIT module maps at
//! least one page of code and one of data, so a leak of modules would show as megabytes.)
//!
//! Not a timing test: it measures pages, from `/proc/self/statm`, after warming up the
//! allocator. It is its own test binary so no other test shares the process.

use tailor_compiler::interp::{value_from_json, Env};
use tailor_compiler::ir::Type;
use tailor_compiler::{Backend, Bundle, CompileOptions, SourceMap};

const POLICY: &str = r#"
package mem

schema Profile { country: String, tags: Set<String>, spend: Float }
schema Offer { id: String, countries: Set<String>, tags: Set<String>, min_spend: Float }

segment big = profile.spend >= 100.0

eligibility offers for offer: Offer {
  require market: profile.country in offer.countries
  require tagged: any t in offer.tags: t in profile.tags
  deny small: offer.min_spend > profile.spend and not big
}

ranking rank for offer: Offer {
  score offer.min_spend + 1.0
  boost big: 2.0 when big
}

decision home {
  placement "home"
  candidates offers
  rank rank
  max 3
}
"#;

/// Resident memory in bytes, or `None` where `/proc` is unavailable.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn cycle(i: usize) {
    let mut sources = SourceMap::new();
    // A different comment each time: a new bundle version, compiled from scratch.
    sources.add("mem.policy", format!("{POLICY}\n// bundle {i}\n"));
    let bundle = match Bundle::compile_with(sources, CompileOptions { jit: true }) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let p = bundle.program();
    let offer = p.schemas.iter().position(|s| s.name == "mem.Offer").unwrap_or(0) as u32;
    let offers: Vec<serde_json::Value> = (0..20)
        .map(|k| serde_json::json!({"id": format!("o{k}"), "countries": ["DE", "FR"], "tags": ["a", "b"], "min_spend": k as f64 * 10.0}))
        .collect();
    let catalog = bundle.prepare_catalog_json(offer, &offers).expect("catalog");
    let env = Env {
        profile: Some(
            value_from_json(
                p,
                &Type::Record(p.profile.unwrap_or(0)),
                &serde_json::json!({"country": "DE", "tags": ["b"], "spend": 50.0}),
            )
            .expect("profile"),
        ),
        context: value_from_json(
            p,
            &Type::Record(p.builtins.context),
            &serde_json::json!({"channel": "Web", "placement": "home"}),
        )
        .expect("context"),
        now_ms: 0,
        subject: "s".into(),
        consents: vec![],
        impressions: vec![],
    };
    let out = bundle.decide(Backend::Jit, &env, 0, &catalog, None).expect("decides");
    assert_eq!(out.offers.len(), 3);
}

#[test]
fn compiling_and_dropping_1000_bundles_does_not_grow_memory() {
    for i in 0..100 {
        cycle(i);
    }
    let Some(before) = rss() else {
        return;
    };
    for i in 100..1100 {
        cycle(i);
    }
    let after = rss().unwrap_or(before);
    let growth = after.saturating_sub(before);
    eprintln!("rss before {before} after {after} growth {growth}");
    // A leaked module is at least 8 KiB (a code page and a data page): 1,000 of them would
    // be 8 MiB. Allow 2 MiB for allocator noise.
    assert!(
        growth < 2 * 1024 * 1024,
        "resident memory grew by {growth} bytes over 1,000 bundles"
    );
}
