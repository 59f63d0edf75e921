//! Tests of the formatter's guarantees (same AST, every comment kept, idempotent, one layout
//! whatever the input's whitespace) over the examples of `docs/language.md`, and snapshots of
//! what it makes of messy input.
//!
//! Every check goes through [`check`], which calls the printer directly: `format_source`
//! returns its input unchanged when the printer's output fails the safety net, which would
//! hide exactly the bugs these tests look for.

use super::*;
use crate::syntax::lexer::{tokenize, TokenKind, DECLARATION_KEYWORDS};
use proptest::prelude::*;

/// Formats `input`, asserting that it parses, that the output parses to the same AST with the
/// same comments, that formatting the output changes nothing, and that every declaration was
/// formatted (none left as written for want of a place for a comment).
fn check(input: &str) -> String {
    check_with_verbatim(input, Some(0))
}

/// [`check`], for an input where `verbatim` top-level items (any number if `None`) must be
/// left as written.
fn check_with_verbatim(input: &str, verbatim: Option<usize>) -> String {
    let (file, diagnostics) = parse_file(FileId::default(), input);
    assert!(
        !diagnostics.iter().any(Diagnostic::is_error),
        "the input does not parse: {diagnostics:#?}\n{input}"
    );
    let (out, left_as_written) = print_counting_verbatim(&file, input);
    assert!(
        verbatim.is_none_or(|n| n == left_as_written),
        "items left as written\n---- input\n{input}\n---- output\n{out}"
    );
    let (reparsed, diagnostics) = parse_file(FileId::default(), &out);
    assert!(
        !diagnostics.iter().any(Diagnostic::is_error),
        "the output does not parse: {diagnostics:#?}\n---- input\n{input}\n---- output\n{out}"
    );
    assert_eq!(
        fingerprint(&file),
        fingerprint(&reparsed),
        "the output means something else\n---- input\n{input}\n---- output\n{out}"
    );
    assert_eq!(
        comment_texts(input),
        comment_texts(&out),
        "comments changed\n---- input\n{input}\n---- output\n{out}"
    );
    let again = print(&reparsed, &out);
    assert_eq!(out, again, "formatting twice changes the output\n---- input\n{input}");
    assert_eq!(format_source(input).as_deref(), Ok(out.as_str()));
    out
}

/// Input and output together, for a snapshot.
fn snapshot(input: &str) -> String {
    snapshot_with_verbatim(input, 0)
}

fn snapshot_with_verbatim(input: &str, verbatim: usize) -> String {
    let verbatim = Some(verbatim);
    let out = check_with_verbatim(input, verbatim);
    format!("---- input\n{input}\n---- formatted\n{out}")
}

/// The code blocks of the language reference, each made into a file: a block without a
/// `package` line gets one, and a block of bare expressions becomes one segment per line.
fn doc_examples() -> Vec<String> {
    let md = include_str!("../../../docs/language.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = &mut current {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
        .into_iter()
        .filter(|b| !b.lines().all(|l| l.trim().is_empty() || l.starts_with("tailor ")))
        .map(|block| {
            let first_word = block
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("//"))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("");
            if first_word == "package" {
                block
            } else if DECLARATION_KEYWORDS.contains(&first_word) {
                format!("package example\n\n{block}")
            } else {
                let mut file = String::from("package example\n");
                for (i, line) in block.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                    file.push_str(&format!("segment e{i} = {line}\n"));
                }
                file
            }
        })
        .collect()
}

#[test]
fn the_language_reference_has_examples() {
    assert!(doc_examples().len() >= 10);
}

#[test]
fn every_documented_example_formats_idempotently_to_the_same_ast() {
    for example in doc_examples() {
        check(&example);
    }
}

#[test]
fn the_first_policy_example() {
    // The reference's main example is almost in the canonical layout: only the aligned
    // trailing comment, the long rule and the hand-wrapped record literal change.
    let examples = doc_examples();
    let schema = examples.iter().find(|e| e.contains("package retail.schema")).unwrap();
    insta::assert_snapshot!("first_policy_schema", check(schema));
    let home = examples
        .iter()
        .find(|e| e.contains("package retail.home\n\nimport"))
        .unwrap();
    insta::assert_snapshot!("first_policy_home", check(home));
}

#[test]
fn a_file_with_syntax_errors_is_not_formatted() {
    let errors = format_source("package a\n\nsegment s = (a and\n").unwrap_err();
    assert!(errors.iter().any(Diagnostic::is_error));
    assert!(format_source("segment s = true\n").is_err());
}

#[test]
fn messy_layout() {
    insta::assert_snapshot!(snapshot(
        r#"   package   retail.home
import retail.schema.{Profile,Offer,
    Tier}
import retail.schema.Lifecycle



segment   new_customer=profile.lifecycle==Lifecycle.New   and profile.tenure<30d
      segment high_value = profile.lifetime_value>=500.0
eligibility home_offers for offer:Offer{
require in_channel:offer.channels contains context.channel
        require live : offer.starts_at <= now() and now()<offer.ends_at


   deny blocked: offer.blocked_countries contains profile.country because "not sold here"
}
ranking home_rank for offer : Offer {   score offer.priority*10.0+offer.margin
 boost welcome : 1.5 when new_customer and offer.tags contains "welcome" }
experiment hero_copy { salt "hero-copy-2026-11" holdout 10% variant control 45.5% variant urgent 44.5% }
decision home_hero{placement "home.hero" channels Web,App candidates home_offers
rank home_rank experiment hero_copy max 3 cap offer 3 per 7d cap placement 10 per 1d
consent marketing fallback "generic-welcome" ttl 15m}
fn discount_for(tier:Tier,value:Float)->Float=if tier==Tier.Premium then value*0.2 else 0.0
const limits : List< Int > = [ 1_000 , 2_500,10000 ]
schema Empty {}
enum Tier{Standard,Premium,}
"#
    ));
}

#[test]
fn comments_everywhere() {
    insta::assert_snapshot!(snapshot(
        r#"// policies/retail/home.policy
// The home page.

package retail.home // the package

// Schemas first.
import retail.schema.{Profile, Offer} // several members
// one member:
import retail.schema.Tier

import retail.schema.Lifecycle

// ---- Segments ----

/// Customers in their first month.
segment new_customer = profile.lifecycle == Lifecycle.New // new
segment high_value = profile.lifetime_value >= 500.0
// (a comment between declarations)
/// Offers that may be shown.
/// Two lines of doc.
eligibility home_offers for offer: Offer { // the rules
  // Channel first.
  require in_channel: offer.channels contains context.channel // cheap

  /// Documented rule.
  deny blocked: offer.blocked_countries contains profile.country because "not sold here"
  // Nothing after this.
}

schema Profile {
  /// The lifecycle stage.
  lifecycle: Lifecycle // trailing
  tenure: Duration

  // Optional fields.
  email_domain: String?          // may be missing
}

enum Tier { Standard, // the default
  Premium }

enum Lifecycle {
  /// Just signed up.
  New,
  Active, // buying
  Lapsed,
}

test "comments in records and lists" {
  profile {
    lifecycle: New, // fresh
    // How long.
    tenure: 3d,
    interests: [
      "shoes", // popular
      "bags",
    ],
  }
  expect new_customer
}

decision empty {
  // TODO: fill in
}
// The end.

// Really the end.
"#
    ));
}

#[test]
fn long_expressions_break_before_and_and_or() {
    insta::assert_snapshot!(snapshot(
        r#"package retail.long

segment eligible_for_the_big_promotion = profile.lifecycle == Lifecycle.New and profile.tenure < 30d and profile.country in premium_countries
segment mixed = profile.lifecycle == Lifecycle.Active and profile.lifetime_value >= 500.0 or profile.lifecycle == Lifecycle.New and exists profile.email_domain
segment short = a and b or c

eligibility promo for offer: Offer {
  deny premium_only: offer.tier == Tier.Premium and not high_value and not (profile.country in ["DE", "FR"]) because "premium is for high-value customers"
}

const demo_offers: List<Offer> = [
  Offer { id: "welcome-10", priority: 5, margin: 2.0, tier: Standard, tags: ["welcome"],
          channels: [Web, App], blocked_countries: [], starts_at: @2026-01-01, ends_at: @2027-01-01 },
]

const countries: List<String> = ["DE", "FR", "NL", "BE", "LU", "AT", "CH", "IT", "ES", "PT", "DK", "SE", "NO", "FI"]

fn score_for(value: Float, tier: Tier) -> Float = if tier == Tier.Premium and value > 1000.0 then value * 0.25 + 10.0 else value * 0.1
"#
    ));
}

#[test]
fn table_rows_are_aligned_like_a_spreadsheet() {
    insta::assert_snapshot!(snapshot(
        r#"package retail.tables

table welcome_discount(offer: Offer) -> Float {
  hit first
  given profile.tier, profile.lifecycle, profile.lifetime_value
  row Premium, New, >= 500.0 => 0.20
  row Premium,_,_ => 0.10 // any premium
  // Everyone else who is new.
  row _, New, _ => 0.05
  row Standard, in [Active, Lapsed], < 100.0 => 0.01
  row _, not in [Churned], != 0.0 => 0.0
  default 0.0
}

table region -> String {
  hit unique
  given context.locale ?? "en"
  row "de" => "DACH"
  row "fr" => "FR"
  default "ROW"
}
"#
    ));
}

#[test]
fn a_comment_with_no_place_keeps_its_declaration_as_written() {
    // Between operands, inside an import's braces, in a declaration's header, inside a type:
    // each of those four items stays as written (trailing spaces aside); the rest is formatted.
    insta::assert_snapshot!(snapshot_with_verbatim(
        r#"package retail.verbatim
import retail.schema.{Profile, // the subject
  Offer}

segment   a=x   // first

segment tricky = profile.tenure < 30d and   // short tenure
      profile.country == "DE"   
segment   b=y
eligibility home_offers // all offers
  for offer: Offer {
  require   live: true
}
schema S {
  tags: Set< // why not
    String>
  other:Int
}
"#,
        4
    ));
}

#[test]
fn odds_and_ends() {
    insta::assert_snapshot!(snapshot(
        r#"package retail.odds // no newline at the end follows
enum Empty { // nothing yet
}
enum Flags {}
segment q = any t in profile.interests: t contains "shoe" and (count o in [1, 2]: o > 1) >= 1
segment l = if let d = profile.email_domain then d == "gmail.com" else false
segment x = hero_copy is urgent or exists profile.email_domain and -profile.tenure < -1d
segment calls = contains_any(profile.interests, ["a", "b"]) and round(1.5) == 2
test "records" {
  subject "u-42"
  profile base_profile with {
    lifecycle: Lapsed,

    // Blank line above is kept.
    tenure: 3d
  }
  context {}
  seen "winback-20" 2 times 3d ago
  seen "other" 1 times
  consent marketing, analytics
  catalog [ // the catalog
    Offer { id: "a" },
    Offer { id: "b", tags: [] },
  ]
} // after the test
// eof"#
    ));
}

#[test]
fn literals_keep_their_spelling_and_strings_their_value() {
    insta::assert_snapshot!(snapshot(
        r#"package retail.literals

const big: Int = 1_000_000
const rate: Float = 0.20
const small: Float = 1.5e3
const window: Duration = 500ms
const when: Timestamp = @2026-11-24T10:30:00Z
const negative: Int = -7
const quoted: String = "say \"hi\"\n\ttab \\ backslash"
experiment split {
  salt "s"
  variant a 33.33%
  variant b 33.33%
  variant c 33.34%
}
"#
    ));
}

#[test]
fn parentheses_are_kept_where_written_and_never_added() {
    let out = check(
        "package p\nsegment s = ((a)) and (b or c) and not (d == e) and (x + 1) * 2 > 3\nsegment t = a and if c then x else y\n",
    );
    assert_eq!(
        out,
        "package p\n\nsegment s = ((a)) and (b or c) and not (d == e) and (x + 1) * 2 > 3\n\nsegment t = a and if c then x else y\n"
    );
}

/// Removes every `Paren` node, leaving trees that only precedence can print correctly.
fn strip_parens(e: &mut ast::Expr) {
    use ast::ExprKind as K;
    if let K::Paren(inner) = &mut e.kind {
        let inner = std::mem::replace(
            inner.as_mut(),
            ast::Expr {
                kind: K::Error,
                span: e.span,
            },
        );
        *e = inner;
        strip_parens(e);
        return;
    }
    match &mut e.kind {
        K::Field { base, .. } => strip_parens(base),
        K::Call { args, .. } => args.iter_mut().for_each(strip_parens),
        K::Unary { operand, .. } => strip_parens(operand),
        K::Binary { lhs, rhs, .. } => {
            strip_parens(lhs);
            strip_parens(rhs);
        }
        K::Is { experiment, .. } => strip_parens(experiment),
        K::If { cond, then, otherwise } => {
            strip_parens(cond);
            strip_parens(then);
            strip_parens(otherwise);
        }
        _ => {}
    }
}

#[test]
fn the_printer_adds_parentheses_that_precedence_needs() {
    let cases = [
        ("(a or b) and c", "(a or b) and c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("-(a + b) * c", "-(a + b) * c"),
        ("not (a and b)", "not (a and b)"),
        ("(not a) == b", "(not a) == b"),
        ("(if a then b else c) + 1", "(if a then b else c) + 1"),
        ("1 + (if a then b else c)", "1 + if a then b else c"),
        ("(a ?? b).c", "(a ?? b).c"),
    ];
    for (input, expected) in cases {
        let text = format!("package p\nsegment s = {input}\n");
        let (mut file, diagnostics) = parse_file(FileId::default(), &text);
        assert!(diagnostics.is_empty(), "{input}: {diagnostics:?}");
        let ast::DeclKind::Segment(seg) = &mut file.decls[0].kind else {
            panic!("not a segment")
        };
        strip_parens(&mut seg.value);
        let out = print(&file, &text);
        assert_eq!(out, format!("package p\n\nsegment s = {expected}\n"), "{input}");
        // And the printed text means the stripped tree.
        let (reparsed, _) = parse_file(FileId::default(), &out);
        let mut printed = reparsed.clone();
        let ast::DeclKind::Segment(seg2) = &mut printed.decls[0].kind else {
            panic!("not a segment")
        };
        strip_parens(&mut seg2.value);
        assert_eq!(fingerprint(&file), fingerprint(&printed), "{input}");
    }
}

#[test]
fn every_comment_is_kept() {
    let mut inputs = doc_examples();
    inputs.push(
        "// a\npackage p // b\n// c\nimport q.R // d\n/// e\nsegment s = [ // f\n  1, // g\n  // h\n  2 // i\n] // j\n// k\n".into(),
    );
    for input in inputs {
        let out = check(&input);
        assert_eq!(comment_texts(&input), comment_texts(&out));
    }
}

#[test]
fn crlf_and_trailing_whitespace_are_normalised() {
    let out = check("package p   \r\n\r\n/// doc   \r\nsegment s = a   // c   \r\n");
    assert_eq!(out, "package p\n\n/// doc\nsegment s = a // c\n");
}

/// Rewrites the whitespace between tokens of `text` as `choices` say, where that cannot change
/// the meaning: blank lines stay blank lines (they group items), a comment keeps its own
/// spacing (a comment on an item's line belongs to that item, one on a line of its own to the
/// next), a declaration keyword keeps its line, and no line starts with a comma (two line
/// breaks around one would read as a blank line between the items it separates).
fn perturb(text: &str, choices: &[u8]) -> String {
    let tokens = tokenize(text);
    let mut out = String::new();
    let mut prev_end = 0;
    let mut choice = choices.iter().copied().cycle();
    for (i, tok) in tokens.iter().enumerate() {
        let gap = &text[prev_end..tok.start];
        let this = &text[tok.start..tok.end];
        let comment = |k: TokenKind| matches!(k, TokenKind::LineComment | TokenKind::DocComment);
        let keep = i == 0
            || comment(tok.kind)
            || comment(tokens[i - 1].kind)
            || (tok.kind == TokenKind::Word && DECLARATION_KEYWORDS.contains(&this));
        let c = if choices.is_empty() {
            0
        } else {
            choice.next().unwrap_or(0)
        };
        if keep {
            out.push_str(gap);
        } else if gap.matches('\n').count() >= 2 {
            out.push_str(&"\n".repeat(2 + (c % 2) as usize));
            out.push_str(&" ".repeat((c / 2 % 5) as usize));
        } else {
            let prev = &text[tokens[i - 1].start..tokens[i - 1].end];
            let tight = |k: TokenKind, s: &str| {
                matches!(
                    k,
                    TokenKind::LBrace
                        | TokenKind::RBrace
                        | TokenKind::LParen
                        | TokenKind::RParen
                        | TokenKind::LBracket
                        | TokenKind::RBracket
                ) || s == ","
                    || s == ":"
            };
            let may_touch = tight(tok.kind, this) || tight(tokens[i - 1].kind, prev);
            match c % 4 {
                0 if may_touch => {}
                0 | 1 => out.push(' '),
                2 => out.push_str(&" ".repeat(2 + (c / 4 % 4) as usize)),
                _ if this == "," => out.push(' '),
                _ => {
                    out.push('\n');
                    out.push_str(&" ".repeat(1 + (c / 4 % 8) as usize));
                }
            }
        }
        out.push_str(this);
        prev_end = tok.end;
    }
    out.push_str(&text[prev_end..]);
    out
}

#[test]
fn perturbing_keeps_the_tokens() {
    for example in doc_examples() {
        let p = perturb(&example, &[0, 3, 7, 11, 2]);
        let texts = |s: &str| {
            tokenize(s)
                .iter()
                .map(|t| s[t.start..t.end].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(&example), texts(&p));
    }
}

/// Puts a comment at a line end before each token `picks` selects, except where that would
/// run into a comment already there.
fn sprinkle_comments(text: &str, picks: &[bool]) -> String {
    let tokens = tokenize(text);
    let mut out = String::new();
    let mut prev_end = 0;
    for (i, tok) in tokens.iter().enumerate() {
        out.push_str(&text[prev_end..tok.start]);
        let after_comment = i > 0 && matches!(tokens[i - 1].kind, TokenKind::LineComment | TokenKind::DocComment);
        if picks.get(i).copied().unwrap_or(false) && !after_comment {
            out.push_str(&format!(" // c{i}\n  "));
        }
        out.push_str(&text[tok.start..tok.end]);
        prev_end = tok.end;
    }
    out.push_str(&text[prev_end..]);
    out
}

proptest! {

    /// Comments anywhere: the output means the same, keeps them all, and is a fixed point
    /// (declarations holding a comment the layout has no place for are left as written).
    #[test]
    fn comments_anywhere_are_kept(
        which in any::<prop::sample::Index>(),
        picks in prop::collection::vec(prop::bool::weighted(0.08), 0..400),
    ) {
        let examples = doc_examples();
        let input = sprinkle_comments(which.get(&examples).as_str(), &picks);
        let (_, diagnostics) = parse_file(FileId::default(), &input);
        // A comment can split a declaration keyword from its line start; skip those inputs.
        prop_assume!(!diagnostics.iter().any(Diagnostic::is_error));
        check_with_verbatim(&input, None);
    }


    /// The layout does not depend on the input's whitespace.
    #[test]
    fn whitespace_does_not_change_the_output(
        which in any::<prop::sample::Index>(),
        choices in prop::collection::vec(any::<u8>(), 1..400),
    ) {
        let examples = doc_examples();
        let example = which.get(&examples);
        let canonical = check(example);
        let perturbed = perturb(example, &choices);
        prop_assert_eq!(check(&perturbed), canonical, "perturbed input:\n{}", perturbed);
    }
}
