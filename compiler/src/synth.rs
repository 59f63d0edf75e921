//! Synthetic policy sets of a chosen size, for benchmarks and robustness tests.
//!
//! The generated bundle is realistic in shape (schemas, segments, eligibility with quantifiers
//! and optionals, rankings, tables, experiments, decisions and tests across packages) and
//! checks without errors, so timing it measures the checker's normal path.

/// Generates a bundle of roughly `target_lines` lines as (file name, text) pairs.
pub fn policy_set(target_lines: usize) -> Vec<(String, String)> {
    let mut files = vec![("synth/schema.policy".to_string(), SCHEMA.to_string())];
    let mut lines = SCHEMA.lines().count();
    let mut i = 0;
    while lines < target_lines {
        let text = module(i);
        lines += text.lines().count();
        files.push((format!("synth/m{i:04}.policy"), text));
        i += 1;
    }
    files
}

const SCHEMA: &str = r#"package synth.schema

enum Tier { Bronze, Silver, Gold, Platinum }
enum Kind { Discount, Content, Bundle, Shipping }

schema Profile {
  tier: Tier
  tenure: Duration
  lifetime_value: Float
  orders: Int
  country: String
  email_domain: String?
  interests: Set<String>
  last_order_at: Timestamp?
}

schema Offer {
  id: String
  kind: Kind
  priority: Int
  margin: Float
  tier: Tier
  tags: Set<String>
  channels: Set<Channel>
  countries: Set<String>
  starts_at: Timestamp
  ends_at: Timestamp
}
"#;

fn module(i: usize) -> String {
    format!(
        r#"package synth.m{i}

import synth.schema.{{Profile, Offer, Tier, Kind}}

/// Customers with at least {n} orders.
segment frequent_{i} = profile.orders >= {n} and profile.tenure > {d}d

segment valuable_{i} = profile.lifetime_value >= {v}.0 or profile.tier == Tier.Gold

segment reachable_{i} = exists profile.email_domain and not (profile.email_domain ?? "" == "example.com")

fn affinity_{i}(offer: Offer) -> Int = count t in offer.tags: t in profile.interests

const launch_{i}: Timestamp = @2026-0{m}-01

eligibility offers_{i} for offer: Offer {{
  require in_channel: offer.channels contains context.channel
  require live: offer.starts_at <= now() and now() < offer.ends_at
  require market: profile.country in offer.countries because "not sold here"
  deny premium: offer.tier == Tier.Platinum and not valuable_{i} because "premium only"
  deny stale: any t in offer.tags: t == "retired-{i}" because "retired"
  require launched: now() >= launch_{i}
}}

ranking rank_{i} for offer: Offer {{
  score offer.priority * 10 + offer.margin + float(affinity_{i}(offer))
  boost loyal: 1.5 when frequent_{i} and offer.kind == Kind.Discount
  boost reach: 1.1 when reachable_{i}
}}

table discount_{i}(offer: Offer) -> Float {{
  hit first
  given profile.tier, offer.kind, profile.orders
  row Platinum, _,        _      => 0.25
  row Gold,     Discount, >= 10  => 0.20
  row Gold,     _,        _      => 0.15
  row _,        Shipping, _      => 0.05
  default 0.0
}}

experiment exp_{i} {{
  salt "synth-{i}"
  variant control 50%
  variant treatment 50%
}}

decision placement_{i} {{
  placement "synth.p{i}"
  channels Web, App
  candidates offers_{i}
  rank rank_{i}
  experiment exp_{i}
  max 3
  cap offer 3 per 7d
  fallback "synth-fallback-{i}"
  ttl 10m
}}

test "synth {i}: gold customers get a discount" {{
  profile Profile {{ tier: Gold, tenure: 400d, lifetime_value: 900.0, orders: 12, country: "DE", interests: ["shoes"] }}
  context {{ channel: Web, placement: "synth.p{i}" }}
  expect valuable_{i}
  expect frequent_{i} or not frequent_{i}
  expect discount_{i}(Offer {{ id: "o", kind: Discount, priority: 1, margin: 1.0, tier: Gold, tags: [], channels: [Web], countries: ["DE"], starts_at: @2026-01-01, ends_at: @2027-01-01 }}) == 0.20
  expect placement_{i}.fallback
}}
"#,
        i = i,
        n = i % 20 + 1,
        d = i % 90 + 1,
        v = (i % 10) * 100 + 100,
        m = i % 9 + 1,
    )
}
