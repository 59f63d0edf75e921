//! Checker tests: each case is a small bundle and the diagnostics it must produce, as
//! `CODE@line` strings (line numbers in the first file, 1-based).

use crate::{analyze, SourceMap};

const SCHEMA: &str = "package shop.schema

enum Tier { Standard, Premium }
schema Profile {
  tier: Tier
  tenure: Duration
  lifetime_value: Float
  orders: Int
  country: String
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
}
";

/// Checks `src` (as package `shop.main`, importing everything from the schema) and returns
/// the diagnostics of the main file as `CODE@line`.
fn check(src: &str) -> Vec<String> {
    let mut map = SourceMap::new();
    let main = format!("package shop.main\nimport shop.schema.{{Profile, Offer, Tier}}\n{src}");
    map.add("main.policy", main);
    map.add("schema.policy", SCHEMA);
    let a = analyze(map);
    a.diagnostics
        .iter()
        .filter(|d| a.sources.get(d.primary.span.file).name == "main.policy")
        .filter(|d| d.code != crate::Code::UnusedImport)
        .map(|d| {
            let (line, _) = a
                .sources
                .get(d.primary.span.file)
                .line_col(d.primary.span.start as usize);
            format!("{}@{}", d.code.id(), line + 1)
        })
        .collect()
}

fn messages(src: &str) -> Vec<String> {
    let mut map = SourceMap::new();
    map.add(
        "main.policy",
        format!("package shop.main\nimport shop.schema.{{Profile, Offer, Tier}}\n{src}"),
    );
    map.add("schema.policy", SCHEMA);
    let a = analyze(map);
    a.diagnostics
        .iter()
        .filter(|d| d.code != crate::Code::UnusedImport)
        .map(|d| {
            format!(
                "{}: {}{}",
                d.code.id(),
                d.message,
                d.help.as_ref().map(|h| format!(" | {h}")).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn a_clean_policy_has_no_diagnostics() {
    let src = r#"
segment vip = profile.tier == Tier.Premium and profile.lifetime_value >= 500
segment engaged = (count i in profile.interests: i != "") > 2
eligibility offers for offer: Offer {
  require ch: offer.channels contains context.channel
  deny premium: offer.tier == Premium and not vip because "premium only"
  require domain: (profile.email_domain ?? "") != "spam.com"
}
ranking r for offer: Offer {
  score offer.priority * 10 + offer.margin
  boost b: 1.5 when engaged
}
decision d {
  placement "home"
  candidates offers
  rank r
}
"#;
    assert_eq!(check(src), Vec::<String>::new());
}

#[test]
fn unknown_field_suggests_the_close_name() {
    assert_eq!(
        check("segment s = profile.lifetime_valu > 1.0\ntest \"t\" { expect s }"),
        vec!["E0102@3"]
    );
    let m = messages("segment s = profile.lifetime_valu > 1.0\ntest \"t\" { expect s }");
    assert!(m[0].contains("did you mean `lifetime_value`?"), "{m:?}");
}

#[test]
fn one_mistake_makes_one_diagnostic() {
    // The unknown name poisons the expression with the error type; nothing cascades.
    assert_eq!(
        check("segment s = nope.x + 1 > 2 and profile.orders > 1\ntest \"t\" { expect s }"),
        vec!["E0101@3"]
    );
}

#[test]
fn optionals_must_be_handled() {
    assert_eq!(
        check("segment s = profile.email_domain == \"x\"\ntest \"t\" { expect s }"),
        vec!["E0202@3"]
    );
    assert_eq!(
        check("segment s = (profile.email_domain ?? \"\") == \"x\"\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("segment s = exists profile.email_domain\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("segment s = if let d = profile.email_domain then d == \"x\" else false\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("segment s = exists profile.country\ntest \"t\" { expect s }"),
        vec!["W0005@3"]
    );
}

#[test]
fn int_and_float_mix_but_strings_do_not() {
    assert_eq!(
        check("segment s = profile.orders * 1.5 > profile.lifetime_value\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("segment s = profile.country * 2 > 1\ntest \"t\" { expect s }"),
        vec!["E0205@3"]
    );
    assert_eq!(
        check("segment s = profile.tier == \"Premium\"\ntest \"t\" { expect s }"),
        vec!["E0201@3"]
    );
}

#[test]
fn bare_enum_variants_need_an_expected_enum() {
    assert_eq!(
        check("segment s = profile.tier == Premium\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("segment s = Premium == profile.tier\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("segment s = profile.tier == Tier.Gold\ntest \"t\" { expect s }"),
        vec!["E0108@3"]
    );
}

#[test]
fn recursion_is_an_error() {
    assert_eq!(
        check("segment a = b\nsegment b = a\ntest \"t\" { expect a }"),
        vec!["E0111@3"]
    );
    assert_eq!(
        check("fn f(x: Int) -> Int = f(x)\nsegment s = f(1) > 0\ntest \"t\" { expect s }"),
        vec!["E0111@3"]
    );
}

#[test]
fn experiment_weights_must_add_up() {
    assert_eq!(check("experiment e {\n  salt \"s\"\n  variant a 50%\n  variant b 40%\n}\nsegment s = e is a\ntest \"t\" { expect s }"), vec!["E0301@3"]);
    assert_eq!(
        check("experiment e {\n  salt \"s\"\n  variant a 33.33%\n  variant b 33.33%\n  variant c 33.34%\n}\nsegment s = e is c\ntest \"t\" { expect s }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("experiment e {\n  salt \"s\"\n  variant a 100%\n}\nsegment s = e is z\ntest \"t\" { expect s }"),
        vec!["E0116@7"]
    );
}

#[test]
fn experiments_of_a_layer_take_disjoint_slices() {
    let two = |a: &str, b: &str| {
        format!(
            "experiment x {{\n  salt \"x\"\n  layer home {a}\n  variant a 100%\n}}\n\
             experiment y {{\n  salt \"y\"\n  layer home {b}\n  variant b 100%\n}}\n\
             segment s = x is a or y is b\ntest \"t\" {{ expect s }}"
        )
    };
    // Half-open slices: touching is not overlapping.
    assert_eq!(check(&two("0% to 50%", "50% to 100%")), Vec::<String>::new());
    assert_eq!(check(&two("0% to 30.5%", "60% to 100%")), Vec::<String>::new());
    // The later experiment's clause is reported, pointing at the earlier one's.
    assert_eq!(check(&two("0% to 60%", "50% to 100%")), vec!["E0315@10"]);
    assert_eq!(check(&two("20% to 30%", "0% to 100%")), vec!["E0315@10"]);
    let msgs = messages(&two("0% to 60%", "50% to 100%"));
    assert!(
        msgs.iter().any(|m| m.contains("both take 50% to 60% of layer `home`")),
        "{msgs:?}"
    );
    // Different layers never conflict.
    let other = two("0% to 60%", "50% to 100%").replacen("layer home 50%", "layer checkout 50%", 1);
    assert_eq!(check(&other), Vec::<String>::new());
    // Empty, reversed and oversized slices; a second `layer` clause.
    let one = |clause: &str| {
        format!("experiment x {{\n  salt \"x\"\n  {clause}\n  variant a 100%\n}}\nsegment s = x is a\ntest \"t\" {{ expect s }}")
    };
    assert_eq!(check(&one("layer home 50% to 50%")), vec!["E0302@5"]);
    assert_eq!(check(&one("layer home 60% to 10%")), vec!["E0302@5"]);
    assert_eq!(check(&one("layer home 0% to 120%")), vec!["E0302@5"]);
    assert_eq!(
        check(&one("layer home 0% to 10%\n  layer home 10% to 20%")),
        vec!["E0306@6"]
    );
}

#[test]
fn unique_tables_must_not_overlap_and_first_tables_warn_on_dead_rows() {
    let unique = "table t -> Float {\n  hit unique\n  given profile.tier, profile.orders\n  row Premium, >= 10 => 0.2\n  row Premium, > 5 => 0.1\n  row Standard, _ => 0.0\n  default 0.0\n}\nsegment s = t > 0.0\ntest \"x\" { expect s }";
    assert_eq!(check(unique), vec!["E0303@7"]);
    let disjoint = "table t -> Float {\n  hit unique\n  given profile.tier, profile.orders\n  row Premium, >= 10 => 0.2\n  row Premium, < 10 => 0.1\n  row Standard, _ => 0.0\n  default 0.0\n}\nsegment s = t > 0.0\ntest \"x\" { expect s }";
    assert_eq!(check(disjoint), Vec::<String>::new());
    let first = "table t -> Float {\n  hit first\n  given profile.tier, profile.orders\n  row _, > 1 => 0.2\n  row Premium, > 5 => 0.1\n  default 0.0\n}\nsegment s = t > 0.0\ntest \"x\" { expect s }";
    assert_eq!(check(first), vec!["W0003@7"]);
    let no_default = "table t -> Float {\n  hit first\n  given profile.orders\n  row > 1 => 0.2\n}\nsegment s = t > 0.0\ntest \"x\" { expect s }";
    assert_eq!(check(no_default), vec!["E0304@3"]);
}

#[test]
fn decisions_need_placement_and_candidates() {
    assert_eq!(check("decision d {\n  max 2\n}"), vec!["E0305@3", "E0305@3"]);
    let dup = "eligibility e for o: Offer {\n  require true\n}\ndecision a {\n  placement \"p\"\n  candidates e\n}\ndecision b {\n  placement \"p\"\n  candidates e\n}";
    let got = check(dup);
    assert!(got.contains(&"E0114@11".to_string()), "{got:?}");
}

#[test]
fn test_only_values_stay_in_tests() {
    let src = "eligibility e for o: Offer {\n  require o.priority > 1\n}\ndecision d {\n  placement \"p\"\n  candidates e\n}\nsegment s = d.fallback\ntest \"t\" { expect s }";
    assert_eq!(check(src), vec!["E0312@10"]);
}

#[test]
fn statically_decided_rules_warn() {
    let src = "eligibility e for o: Offer {\n  require false\n  deny false\n}\ndecision d {\n  placement \"p\"\n  candidates e\n}";
    assert_eq!(check(src), vec!["W0002@4", "W0002@5"]);
}

#[test]
fn unused_definitions_warn() {
    assert_eq!(check("segment lonely = true"), vec!["W0001@3"]);
    assert_eq!(check("fn f(x: Int) -> Int = x"), vec!["W0007@3"]);
}

#[test]
fn every_error_is_reported_in_one_run() {
    let src = "segment a = profile.nope\nsegment b = 1 + \"x\" > 0\nsegment c = unknown_thing\ntest \"t\" { expect a and b and c }";
    assert_eq!(check(src), vec!["E0102@3", "E0205@4", "E0101@5"]);
}

#[test]
fn record_literals_need_every_required_field() {
    let src = "const o: Offer = Offer { id: \"x\", priority: 1 }\ntest \"t\" { expect o.priority == 1 }";
    assert_eq!(check(src), vec!["E0207@3"]);
}

#[test]
fn constants_cannot_read_the_request() {
    assert_eq!(
        check("const c: Int = profile.orders\ntest \"t\" { expect c == 1 }"),
        vec!["E0308@3"]
    );
}

#[test]
fn the_synthetic_set_checks_cleanly() {
    let mut map = SourceMap::new();
    for (n, t) in crate::synth::policy_set(600) {
        map.add(n, t);
    }
    let a = analyze(map);
    let errs: Vec<_> = a
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn retrying_a_bare_variant_keeps_diagnostics_from_the_right_side() {
    // `Premium` on the left is only known once the right side's type is; the retry must drop the
    // first attempt's report and nothing else.
    let src = "segment s = Premium == (if exists profile.country then profile.tier else profile.tier)\ntest \"t\" { expect s }";
    assert_eq!(check(src), vec!["W0005@3"]);
}

#[test]
fn a_bad_cell_does_not_make_later_rows_look_unreachable() {
    let src = "table t -> Int {\n  hit first\n  given profile.tier\n  row \"Premium\" => 1\n  row Standard => 2\n  default 0\n}\nsegment s = t > 0\ntest \"x\" { expect s }";
    assert_eq!(check(src), vec!["E0201@6"]);
}
