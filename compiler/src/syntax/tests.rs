//! Tests of the syntax stage: the documentation's examples, precedence, every syntax error code,
//! recovery, doc comments, literals, and a property test that no input makes the parser panic.
//!
//! Expressions are compared as S-expressions (`(and a (not b))`) and diagnostics as
//! `E0001 12..13 message` lines, so a change to the AST or to a message edits one helper.

use super::ast::{self, DeclKind, ExprKind};
use super::parse_file;
use super::parser::parse_expr;
use crate::diagnostics::Diagnostic;
use crate::source::FileId;

const FILE: FileId = FileId(0);

/// An expression as an S-expression: operators and node kinds first, literals as values.
fn sexpr(e: &ast::Expr) -> String {
    let list = |items: &[&ast::Expr]| items.iter().map(|e| sexpr(e)).collect::<Vec<_>>().join(" ");
    let fields = |fs: &[ast::FieldInit]| {
        fs.iter()
            .map(|f| format!("{}: {}", f.name.name, sexpr(&f.value)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &e.kind {
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::String(s) => format!("{s:?}"),
        ExprKind::Duration(ms) => format!("{ms}ms"),
        ExprKind::Timestamp(ms) => format!("@{ms}"),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Field { base, field } => format!("(. {} {})", sexpr(base), field.name),
        ExprKind::Call { func, args } => {
            let args: Vec<&ast::Expr> = args.iter().collect();
            format!("(call {} {})", func.name, list(&args)).replace(" )", ")")
        }
        ExprKind::Unary { op, operand } => {
            let op = match op {
                ast::UnOp::Not => "not",
                ast::UnOp::Neg => "neg",
                ast::UnOp::Exists => "exists",
            };
            format!("({op} {})", sexpr(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs)),
        ExprKind::Is { experiment, variant } => format!("(is {} {})", sexpr(experiment), variant.name),
        ExprKind::If { cond, then, otherwise } => format!("(if {})", list(&[cond, then, otherwise])),
        ExprKind::IfLet {
            binding,
            value,
            then,
            otherwise,
        } => format!("(iflet {} {})", binding.name, list(&[value, then, otherwise])),
        ExprKind::Quantified {
            quantifier,
            var,
            collection,
            body,
        } => format!("({:?} {} {})", quantifier, var.name, list(&[collection, body])).to_lowercase(),
        ExprKind::List(items) => {
            let items: Vec<&ast::Expr> = items.iter().collect();
            format!("[{}]", list(&items))
        }
        ExprKind::Record { ty, fields: fs } => match ty {
            Some(t) => format!("{} {{{}}}", t.name, fields(fs)),
            None => format!("{{{}}}", fields(fs)),
        },
        ExprKind::With { base, fields: fs } => format!("(with {} {{{}}})", sexpr(base), fields(fs)),
        ExprKind::Paren(inner) => format!("(paren {})", sexpr(inner)),
        ExprKind::Error => "<error>".into(),
    }
}

/// A diagnostic as `E0001 12..13 message`.
fn line(d: &Diagnostic) -> String {
    format!(
        "{} {}..{} {}",
        d.code, d.primary.span.start, d.primary.span.end, d.message
    )
}

fn lines(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(line).collect()
}

/// Parses `src` as an expression and compares its S-expression.
#[track_caller]
fn check_expr(src: &str, expected: &str) {
    let (e, diags) = parse_expr(FILE, src);
    assert!(diags.is_empty(), "{src}: {:?}", lines(&diags));
    let e = e.unwrap_or_else(|| panic!("{src}: no expression"));
    assert_eq!(sexpr(&e), expected, "{src}");
    assert_eq!(e.span.range(), 0..src.trim_end().len(), "{src}: span");
}

/// Parses a whole file that must be free of diagnostics.
#[track_caller]
fn parse_ok(src: &str) -> ast::File {
    let (file, diags) = parse_file(FILE, src);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics: {:#?}\nin:\n{src}",
        lines(&diags)
    );
    assert!(
        !file.decls.iter().any(|d| matches!(d.kind, DeclKind::Error)),
        "error declaration in:\n{src}"
    );
    file
}

/// Parses a file and compares its diagnostics, as `E0001 12..13 message` lines.
#[track_caller]
fn check_errors(src: &str, expected: &[&str]) {
    let (_, diags) = parse_file(FILE, src);
    assert_eq!(lines(&diags), expected, "in:\n{src}");
}

/// The value of the single segment in `src` (after a package line).
#[track_caller]
fn segment_value(src: &str) -> String {
    let file = parse_ok(&format!("package t\nsegment s = {src}\n"));
    match &file.decls[0].kind {
        DeclKind::Segment(s) => sexpr(&s.value),
        other => panic!("not a segment: {other:?}"),
    }
}

// ---- the documentation ------------------------------------------------------------------------

const LANGUAGE_DOC: &str = include_str!("../../../docs/language.md");

/// The fenced code blocks of `docs/language.md`.
fn doc_blocks() -> Vec<&'static str> {
    let mut blocks = Vec::new();
    let mut rest = LANGUAGE_DOC;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let Some(body_start) = after.find('\n') else { break };
        let body = &after[body_start + 1..];
        let Some(close) = body.find("```") else { break };
        blocks.push(&body[..close]);
        rest = &body[close + 3..];
    }
    blocks
}

/// The first word of the first line that is not blank or a comment.
fn first_word(block: &str) -> &str {
    block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("//"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
}

#[test]
fn every_example_in_the_language_reference_parses() {
    let blocks = doc_blocks();
    assert!(blocks.len() >= 15, "found only {} code blocks", blocks.len());
    let mut files = 0;
    let mut exprs = 0;
    for block in blocks {
        let word = first_word(block);
        if word == "tailor" {
            continue; // shell commands
        }
        if super::lexer::DECLARATION_KEYWORDS.contains(&word) {
            let has_package = block.lines().any(|l| l.trim_start().starts_with("package "));
            let src = if has_package {
                block.to_string()
            } else {
                format!("package docs.example\n{block}")
            };
            parse_ok(&src);
            files += 1;
        } else {
            // A block of expressions, one per line.
            for line in block.lines() {
                let code = line.split("//").next().unwrap_or("").trim();
                if code.is_empty() {
                    continue;
                }
                let (e, diags) = parse_expr(FILE, code);
                assert!(diags.is_empty() && e.is_some(), "{code}: {:?}", lines(&diags));
                exprs += 1;
            }
        }
    }
    assert!(files >= 12 && exprs >= 3, "files {files}, expressions {exprs}");
}

/// The `home.policy` file of "A first policy".
fn first_policy() -> &'static str {
    doc_blocks()
        .into_iter()
        .find(|b| b.contains("package retail.home"))
        .expect("docs/language.md has the home.policy example")
}

#[test]
fn the_first_policy_has_the_expected_shape() {
    let file = parse_ok(first_policy());
    assert_eq!(
        file.package.as_ref().map(|p| p.dotted()).as_deref(),
        Some("retail.home")
    );
    assert_eq!(file.imports.len(), 1);
    let import = &file.imports[0];
    assert_eq!(import.package.dotted(), "retail.schema");
    assert!(import.braced);
    let members: Vec<&str> = import.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(members, ["Profile", "Offer", "Lifecycle", "Tier"]);

    let kinds: Vec<String> = file
        .decls
        .iter()
        .map(|d| {
            let kind = format!("{:?}", d.kind);
            let kind = kind.split('(').next().unwrap_or("").to_string();
            match d.name() {
                Some(n) => format!("{kind} {}", n.name),
                None => kind,
            }
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Segment new_customer",
            "Segment high_value",
            "Eligibility home_offers",
            "Ranking home_rank",
            "Experiment hero_copy",
            "Decision home_hero",
            "Const demo_offers",
            "Test",
        ]
    );

    let DeclKind::Segment(seg) = &file.decls[0].kind else {
        panic!()
    };
    assert_eq!(
        sexpr(&seg.value),
        "(and (== (. profile lifecycle) (. Lifecycle New)) (< (. profile tenure) 2592000000ms))"
    );
    let DeclKind::Eligibility(el) = &file.decls[2].kind else {
        panic!()
    };
    assert_eq!(el.binder.name.name, "offer");
    assert_eq!(el.rules.len(), 4);
    assert_eq!(el.rules[2].kind, ast::RuleKind::Deny);
    assert_eq!(el.rules[2].label.as_ref().map(|l| l.name.as_str()), Some("blocked"));
    assert_eq!(
        el.rules[2].reason.as_ref().map(|r| r.value.as_str()),
        Some("not sold in this country")
    );
    let src = first_policy();
    assert_eq!(&src[el.rules[0].keyword.range()], "require");

    let DeclKind::Experiment(ex) = &file.decls[4].kind else {
        panic!()
    };
    let weights: Vec<u32> = ex
        .items
        .iter()
        .filter_map(|i| match i {
            ast::ExperimentItem::Variant { weight, .. } => Some(weight.basis_points),
            _ => None,
        })
        .collect();
    assert_eq!(weights, [5000, 5000]);

    let DeclKind::Decision(dec) = &file.decls[5].kind else {
        panic!()
    };
    let cap = dec.clauses.iter().find_map(|c| match &c.kind {
        ast::DecisionClauseKind::Cap { scope, limit, window } => Some((*scope, limit.value, window.millis)),
        _ => None,
    });
    assert_eq!(cap, Some((ast::CapScope::Offer, 3, 7 * 86_400_000)));
    assert!(dec
        .clauses
        .iter()
        .any(|c| matches!(c.kind, ast::DecisionClauseKind::Ttl(d) if d.millis == 900_000)));

    let DeclKind::Test(test) = &file.decls[7].kind else {
        panic!()
    };
    assert_eq!(test.name.value, "a new German customer sees the welcome offer first");
    assert!(matches!(
        &test.clauses[0].kind,
        ast::TestClauseKind::Now(e) if matches!(e.kind, ExprKind::Timestamp(1_795_514_400_000))
    ));
}

// ---- expressions ----------------------------------------------------------------------------------

#[test]
fn precedence_and_associativity() {
    check_expr("a or b and c", "(or a (and b c))");
    check_expr("a and b or c", "(or (and a b) c)");
    check_expr("not a == b", "(not (== a b))");
    check_expr("not a and b", "(and (not a) b)");
    check_expr("not a or not b", "(or (not a) (not b))");
    check_expr("a and not b", "(and a (not b))");
    check_expr("-x * y", "(* (neg x) y)");
    check_expr("- x.y * 2", "(* (neg (. x y)) 2)");
    check_expr("exists a ?? b", "(?? (exists a) b)");
    check_expr("a ?? b + c", "(?? a (+ b c))");
    check_expr("a + b ?? c", "(?? (+ a b) c)");
    check_expr("a - b - c", "(- (- a b) c)");
    check_expr("a / b * c % d", "(% (* (/ a b) c) d)");
    check_expr("a + b * c - d", "(- (+ a (* b c)) d)");
    check_expr("a < b + 1", "(< a (+ b 1))");
    check_expr("x in xs and xs contains y", "(and (in x xs) (contains xs y))");
    check_expr("a == b or c != d", "(or (== a b) (!= c d))");
    check_expr("(a or b) and c", "(and (paren (or a b)) c)");
    check_expr("a - -b", "(- a (neg b))");
    check_expr("not not a", "(not (not a))");
    check_expr("-9223372036854775808", "-9223372036854775808");
    check_expr("-9_223_372_036_854_775_808 + 1", "(+ -9223372036854775808 1)");
}

#[test]
fn postfix_binds_tightest() {
    check_expr("a.b.c", "(. (. a b) c)");
    check_expr("hero_copy is urgent and x", "(and (is hero_copy urgent) x)");
    check_expr("not exp is v", "(not (is exp v))");
    check_expr("base with { a: 1 }.a", "(. (with base {a: 1}) a)");
    check_expr("offer.count", "(. offer count)");
    check_expr("f(a, b).x", "(. (call f a b) x)");
    check_expr("now()", "(call now)");
}

#[test]
fn quantifier_and_if_bodies_extend_to_the_right() {
    check_expr("any x in xs: x > 1 and y", "(any x xs (and (> x 1) y))");
    check_expr("a and all x in xs: p or q", "(and a (all x xs (or p q)))");
    check_expr(
        "(count t in tags: t == \"a\") > 2",
        "(> (paren (count t tags (== t \"a\"))) 2)",
    );
    check_expr("if c then a else b + 1", "(if c a (+ b 1))");
    check_expr(
        "if let d = p.e then d == \"g\" else false",
        "(iflet d (. p e) (== d \"g\") false)",
    );
    check_expr("not any x in xs: p", "(not (any x xs p))");
}

#[test]
fn literals_and_collections() {
    check_expr(
        "[1, 2.5, \"s\", true, 30d, 500ms, 1_000]",
        "[1 2.5 \"s\" true 2592000000ms 500ms 1000]",
    );
    check_expr("[]", "[]");
    check_expr("Offer { id: \"x\", tags: [] }", "Offer {id: \"x\", tags: []}");
    check_expr("{ channel: Web }", "{channel: Web}");
    check_expr("\"say \\\"hi\\\"\\n\"", "\"say \\\"hi\\\"\\n\"");
    check_expr("1w + 2h + 3m + 4s", "(+ (+ (+ 604800000ms 7200000ms) 180000ms) 4000ms)");
    check_expr("1.5e3", "1500.0");
}

#[test]
fn comparisons_do_not_chain() {
    let (e, diags) = parse_expr(FILE, "1 < x < 10");
    assert_eq!(lines(&diags), ["E0001 0..10 comparisons can't be chained"]);
    assert_eq!(
        diags[0].help.as_deref(),
        Some("combine them with `and`: `1 < x and x < 10`")
    );
    assert!(matches!(e.map(|e| e.kind), Some(ExprKind::Error)));
    // A longer chain is still one mistake; parentheses make it something else.
    let (_, diags) = parse_expr(FILE, "a == b == c == d");
    assert_eq!(diags.len(), 1);
    check_expr("(a < b) == c", "(== (paren (< a b)) c)");
    check_expr("a < b and b < c", "(and (< a b) (< b c))");
}

#[test]
fn expressions_report_their_own_errors() {
    let (e, diags) = parse_expr(FILE, "a +");
    assert!(e.is_none());
    assert_eq!(
        lines(&diags),
        ["E0001 3..3 expected an expression, found the end of the expression"]
    );
    let (_, diags) = parse_expr(FILE, "a = b");
    assert_eq!(lines(&diags), ["E0001 2..3 expected an operator, found `=`"]);
    assert_eq!(diags[0].help.as_deref(), Some("use `==` to compare"));
}

// ---- syntax errors, one code at a time -------------------------------------------------------

#[test]
fn e0001_syntax_errors_say_what_was_expected_and_found() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "package a\nschema A { x Int }\n",
            "E0001 23..26 expected `:`, found `Int`",
            None,
        ),
        (
            "package a\nsegment s = a +\n",
            "E0001 25..25 expected an expression, found end of file",
            None,
        ),
        (
            "package a\nsegment s = a b\n",
            "E0001 24..25 expected an operator, found `b`",
            None,
        ),
        (
            "package a\nsegment s = a = b\n",
            "E0001 24..25 expected an operator, found `=`",
            Some("use `==` to compare"),
        ),
        (
            "package a\nsegment count = 1\n",
            "E0001 18..23 expected a name, found `count`",
            Some("`count` is a reserved word; choose another name"),
        ),
        (
            "package a\ndecision d {\n  placement \"x\"\n",
            "E0001 38..38 expected a decision clause (`placement`, `candidates`, `rank`, …) or `}`, \
             found end of file",
            Some("every `{` needs a matching `}`"),
        ),
        (
            "package a\ndecision d {\n  ttl 30days\n}\n",
            "E0001 29..35 expected a duration like `7d`, found `30days`",
            None,
        ),
        (
            "package a\nexperiment e {\n  variant a 50\n}\n",
            "E0001 37..39 expected a percentage like `50%`, found `50`",
            None,
        ),
        (
            "package a\neligibility e offer: Offer {}\n",
            "E0001 24..29 expected `for`, found `offer`",
            None,
        ),
        (
            "package a\neligibility e for o: Offer {\n  allow x\n}\n",
            "E0001 41..46 expected `require`, `deny` or `}`, found `allow`",
            None,
        ),
        (
            "package a\nranking r for o: Offer {\n  scor 1\n}\n",
            "E0001 37..41 expected `boost`, `score` or `}`, found `scor`",
            None,
        ),
        (
            "package a\ntest \"t\" {\n  expct a\n}\n",
            "E0001 23..28 expected a test clause (`now`, `profile`, `expect`, …) or `}`, found `expct`",
            None,
        ),
        (
            "package a\ntable t -> Float {\n  hit last\n}\n",
            "E0001 35..39 expected `first`, `unique` or `collect`, found `last`",
            None,
        ),
        (
            "package a\ntest foo {}\n",
            "E0001 15..18 expected a string, found `foo`",
            None,
        ),
        (
            "package a\nsegment s = f(a, b\n",
            "E0001 28..28 expected an operator, `)` or `,`, found end of file",
            Some("every `(` needs a matching `)`"),
        ),
        (
            "package a\nsegment s = if a then b\n",
            "E0001 33..33 expected an operator or `else`, found end of file",
            None,
        ),
        (
            "package a\nsegment s = any x xs: x\n",
            "E0001 28..30 expected `in`, found `xs`",
            None,
        ),
        (
            "package a\nsegment s = 12abc\n",
            "E0001 22..27 expected an expression, found `12abc`",
            None,
        ),
        (
            "package a\nsegment s = a AND b\n",
            "E0001 24..27 expected an operator, found `AND`",
            Some("write `and`"),
        ),
        (
            "package a\nsegment s = xs[0] == 1\n",
            "E0001 24..25 expected an operator, found `[`",
            Some("lists and sets have no indexing: test their elements with `any x in xs: …`, `all`, `count` or `contains`"),
        ),
        (
            "package a\nsegment s = a }\n",
            "E0001 24..25 expected an operator, found `}`",
            Some("this `}` has no matching opening bracket; remove it"),
        ),
        (
            "package a\nimport a\n",
            "E0001 17..18 an import names a package and a member, e.g. `import retail.schema.Offer`",
            Some("name what to import: `import a.Name` or `import a.{A, B}`"),
        ),
        (
            "junk here\npackage a\n",
            "E0001 0..9 expected a declaration, found `junk`",
            Some(
                "declarations start at the beginning of a line with a keyword such as `package`, \
                 `segment` or `decision`",
            ),
        ),
        (
            "package a\nsegment s = a < b < c\n",
            "E0001 22..31 comparisons can't be chained",
            Some("combine them with `and`: `a < b and b < c`"),
        ),
    ];
    for (src, expected, help) in cases {
        let (_, diags) = parse_file(FILE, src);
        assert_eq!(lines(&diags), [*expected], "in:\n{src}");
        assert_eq!(diags[0].help.as_deref(), *help, "help for:\n{src}");
    }
}

#[test]
fn e0001_a_missing_brace_points_at_the_opening_one() {
    let src = "package a\ndecision d {\n  placement \"x\"\nsegment s = true\n";
    let (file, diags) = parse_file(FILE, src);
    assert_eq!(
        lines(&diags),
        [
            "E0001 38..38 expected a decision clause (`placement`, `candidates`, `rank`, …) or `}` \
          before the next declaration"
        ]
    );
    assert_eq!(diags[0].secondary[0].span.range(), 21..22);
    assert_eq!(diags[0].secondary[0].message, "this `{` is never closed");
    // The segment after it is unaffected.
    assert!(matches!(file.decls[1].kind, DeclKind::Segment(_)));
}

#[test]
fn e0002_unterminated_string() {
    let src = "package a\nsegment s = \"abc\nsegment t = true\n";
    let (file, diags) = parse_file(FILE, src);
    assert_eq!(lines(&diags), ["E0002 22..26 unterminated string"]);
    // The declaration is an error node, without a second diagnostic; the next one is fine.
    assert!(matches!(file.decls[0].kind, DeclKind::Error));
    assert!(matches!(file.decls[1].kind, DeclKind::Segment(_)));
}

#[test]
fn e0003_invalid_literals() {
    check_errors(
        "package a\nconst c: Int = 99999999999999999999\n",
        &["E0003 25..45 integer literal out of range"],
    );
    check_errors(
        "package a\nconst c: Duration = 99999999999999w\n",
        &["E0003 30..45 duration literal out of range"],
    );
    check_errors(
        "package a\nexperiment e {\n  variant a 33.333%\n}\n",
        &["E0003 37..44 percentages have at most two decimals"],
    );
    check_errors(
        "package a\nsegment s = \"a\\qb\"\n",
        &["E0003 24..26 invalid escape `\\q` in a string"],
    );
    check_errors(
        "package a\nsegment s = \"\\u{110000}\"\n",
        &["E0003 23..33 invalid unicode escape `\\u{110000}`"],
    );
    check_errors(
        "package a\nconst c: Float = 1.0e999\n",
        &["E0003 27..34 float literal out of range"],
    );
    check_errors(
        "package a\ndecision d {\n  max 99999999999999999999\n}\n",
        &["E0003 29..49 integer literal out of range"],
    );
    // An invalid literal inside an expression becomes an error node; the declaration stays.
    let (file, _) = parse_file(FILE, "package a\nsegment s = x < 99999999999999999999\n");
    let DeclKind::Segment(seg) = &file.decls[0].kind else {
        panic!("{:?}", file.decls[0].kind)
    };
    assert_eq!(sexpr(&seg.value), "(< x <error>)");
}

#[test]
fn e0004_missing_package() {
    check_errors("segment s = 1\n", &["E0004 0..7 missing `package` declaration"]);
    check_errors("", &["E0004 0..0 missing `package` declaration"]);
    check_errors("// only a comment\n", &["E0004 0..0 missing `package` declaration"]);
    let (file, diags) = parse_file(FILE, "segment s = 1\npackage a\n");
    assert_eq!(lines(&diags), ["E0004 0..7 the `package` line must come first"]);
    assert_eq!(diags[0].secondary[0].span.range(), 14..21);
    // The file is still parsed, package and all.
    assert_eq!(file.package.map(|p| p.dotted()).as_deref(), Some("a"));
    assert_eq!(file.decls.len(), 1);
}

#[test]
fn e0005_misplaced_import() {
    let src = "package a\nimport b.C\nsegment s = true\nimport d.{E, F}\n";
    let (file, diags) = parse_file(FILE, src);
    assert_eq!(
        lines(&diags),
        ["E0005 38..53 imports must come before other declarations"]
    );
    assert_eq!(diags[0].secondary[0].span.range(), 21..28);
    // Still recorded.
    assert_eq!(file.imports.len(), 2);
    assert_eq!(file.imports[1].package.dotted(), "d");
}

#[test]
fn e0006_unknown_character() {
    let (file, diags) = parse_file(FILE, "package a\nsegment s = a # b\nsegment t = a && b\n");
    assert_eq!(
        lines(&diags),
        [
            "E0006 24..25 unknown character `#`",
            "E0006 42..43 unknown character `&`",
            "E0006 43..44 unknown character `&`",
        ]
    );
    assert_eq!(diags[0].help.as_deref(), Some("comments start with `//`"));
    assert_eq!(diags[1].help.as_deref(), Some("write `and`"));
    assert!(file.decls.iter().all(|d| matches!(d.kind, DeclKind::Error)));
}

#[test]
fn e0007_duplicate_package() {
    let (file, diags) = parse_file(FILE, "package a\npackage b\nsegment s = true\n");
    assert_eq!(lines(&diags), ["E0007 10..19 the package is declared twice"]);
    assert_eq!(diags[0].secondary[0].span.range(), 0..7);
    assert_eq!(file.package.map(|p| p.dotted()).as_deref(), Some("a"));
}

#[test]
fn double_optional_types_are_reported() {
    check_errors(
        "package a\nschema S { a: Int?? }\n",
        &["E0208 28..29 a type can be optional only once"],
    );
}

// ---- recovery -------------------------------------------------------------------------------------

#[test]
fn broken_declarations_do_not_hide_the_good_ones() {
    let src = "\
package retail.home

segment ok1 = profile.tenure < 30d

segment broken1 = profile.tenure <

/// Still documented.
eligibility broken2 for offer: Offer {
  require offer.x ==
  deny y
}

segment ok2 = true

decision broken3 {
  placement \"home\"
  max three
}

schema Ok3 { id: String }
";
    let (file, diags) = parse_file(FILE, src);
    assert_eq!(diags.len(), 3, "{:#?}", lines(&diags));
    let shape: Vec<String> = file
        .decls
        .iter()
        .map(|d| match d.name() {
            Some(n) => n.name.clone(),
            None => format!("<error: {}>", &src[d.span.range()].lines().next().unwrap_or("")),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "ok1",
            "<error: segment broken1 = profile.tenure <>",
            "<error: eligibility broken2 for offer: Offer {>",
            "ok2",
            "<error: decision broken3 {>",
            "Ok3",
        ]
    );
    assert_eq!(file.decls[2].doc.as_deref(), Some("Still documented."));
    // Each error points into its own declaration.
    assert!(diags[0].message.contains("expression"));
    assert!(diags[1].message.contains("`deny`"), "{}", diags[1].message);
    assert_eq!(&src[diags[2].primary.span.range()], "three");
}

// ---- doc comments -------------------------------------------------------------------------------

#[test]
fn doc_comments_attach_to_what_follows() {
    let src = "\
package a

/// A lifecycle.
/// Two lines.
enum Lifecycle {
  /// Brand new.
  New,
  Active
}

// A plain comment is not documentation.
segment plain = true

///No space.
///   Indented.
schema Offer {
  /// Shown in reports.
  id: String, priority: Int
  /// Last.
  margin: Float
}

eligibility e for o: Offer {
  /// Why this rule exists.
  require x: true
  deny false
}
";
    let file = parse_ok(src);
    let d = &file.decls;
    assert_eq!(d[0].doc.as_deref(), Some("A lifecycle.\nTwo lines."));
    let DeclKind::Enum(en) = &d[0].kind else { panic!() };
    assert_eq!(en.variants[0].doc.as_deref(), Some("Brand new."));
    assert_eq!(en.variants[1].doc, None);
    assert_eq!(d[1].doc, None);
    assert_eq!(d[2].doc.as_deref(), Some("No space.\n  Indented."));
    let DeclKind::Schema(s) = &d[2].kind else { panic!() };
    let docs: Vec<Option<&str>> = s.fields.iter().map(|f| f.doc.as_deref()).collect();
    assert_eq!(docs, [Some("Shown in reports."), None, Some("Last.")]);
    let DeclKind::Eligibility(el) = &d[3].kind else {
        panic!()
    };
    assert_eq!(el.rules[0].doc.as_deref(), Some("Why this rule exists."));
    assert_eq!(el.rules[1].doc, None);
    // Declaration spans start at the keyword, not at the doc comment.
    assert_eq!(&src[d[0].span.range()][..4], "enum");
}

#[test]
fn windows_line_endings_parse_the_same() {
    let crlf = first_policy().replace('\n', "\r\n");
    let file = parse_ok(&crlf);
    let lf = parse_ok(first_policy());
    assert_eq!(file.decls.len(), lf.decls.len());
    let docs: Vec<Option<&str>> = file.decls.iter().map(|d| d.doc.as_deref()).collect();
    let lf_docs: Vec<Option<&str>> = lf.decls.iter().map(|d| d.doc.as_deref()).collect();
    assert_eq!(docs, lf_docs);
    assert_eq!(docs[0], Some("Customers in their first month."));
}

// ---- timestamps ---------------------------------------------------------------------------------

#[track_caller]
fn timestamp(src: &str) -> i64 {
    match parse_expr(FILE, src) {
        (
            Some(ast::Expr {
                kind: ExprKind::Timestamp(ms),
                ..
            }),
            d,
        ) if d.is_empty() => ms,
        other => panic!("{src}: {:?}", other.1.iter().map(line).collect::<Vec<_>>()),
    }
}

#[track_caller]
fn bad_timestamp(src: &str) -> Diagnostic {
    let (_, diags) = parse_expr(FILE, src);
    assert_eq!(diags.len(), 1, "{src}");
    diags.into_iter().next().unwrap_or_else(|| unreachable!())
}

#[test]
fn timestamps_are_milliseconds_since_the_epoch() {
    assert_eq!(timestamp("@1970-01-01"), 0);
    assert_eq!(timestamp("@1969-12-31T23:00Z"), -3_600_000);
    assert_eq!(timestamp("@2026-11-24T10:00:00Z"), 1_795_514_400_000);
    assert_eq!(timestamp("@2026-11-24T10:30:00.250Z"), 1_795_516_200_250);
    assert_eq!(timestamp("@2026-11-24T10:30:00.25Z"), 1_795_516_200_250);
    // Offsets: local time minus the offset is UTC.
    assert_eq!(timestamp("@2026-11-24T10:30:00+01:00"), 1_795_512_600_000);
    assert_eq!(timestamp("@2026-11-24T10:30-05:00"), 1_795_534_200_000);
    assert_eq!(timestamp("@2026-11-24T11:30+01:00"), timestamp("@2026-11-24T10:30Z"));
    // Leap years: every fourth, except centuries, except every fourth century.
    assert_eq!(timestamp("@2024-02-29"), 1_709_164_800_000);
    assert_eq!(timestamp("@2000-02-29"), 951_782_400_000);
    assert_eq!(timestamp("@2024-03-01") - timestamp("@2024-02-28"), 2 * 86_400_000);
    assert_eq!(timestamp("@2023-03-01") - timestamp("@2023-02-28"), 86_400_000);
}

#[test]
fn invalid_timestamps_say_why() {
    let d = bad_timestamp("@2026-13-01");
    assert_eq!(line(&d), "E0003 0..11 invalid timestamp `@2026-13-01`");
    assert_eq!(
        d.help.as_deref(),
        Some("write timestamps as `@2026-11-24` or `@2026-11-24T10:30:00Z`")
    );
    assert_eq!(d.notes, ["there is no month 13"]);
    assert_eq!(bad_timestamp("@2023-02-29").notes, ["2023 is not a leap year"]);
    assert_eq!(bad_timestamp("@1900-02-29").notes, ["1900 is not a leap year"]);
    assert_eq!(bad_timestamp("@2026-04-31").notes, ["2026-04 has 30 days"]);
    assert_eq!(
        bad_timestamp("@2026-11-24T24:00Z").notes,
        ["24:00:00 is not a time of day"]
    );
    assert_eq!(
        bad_timestamp("@2026-11-24T10:00").notes,
        ["a time needs a zone: `Z` for UTC or an offset like `+01:00`"]
    );
    for bad in [
        "@2026-1-01",
        "@26-01-01",
        "@2026-01-01T",
        "@2026-01-01Z",
        "@2026-01-01T10:00:00.1234Z",
        "@now",
    ] {
        assert_eq!(
            bad_timestamp(bad).code,
            crate::diagnostics::Code::InvalidLiteral,
            "{bad}"
        );
    }
}

// ---- declarations in detail -----------------------------------------------------------------------

#[test]
fn tables_experiments_and_tests() {
    let src = "\
package a
table welcome_discount(offer: Offer) -> Float {
  hit first
  given profile.tier, profile.lifecycle, profile.lifetime_value
  row Premium,  New, >= 500.0 => 0.20
  row _, not in [A, B], in [C] => 0.10
  default 0.0
}
table region -> String {
  hit collect
}
experiment hero_copy {
  salt \"s\"
  layer home 12.5% to 40%
  holdout 10%
  variant control 33.34%
  variant urgent 66.66%
}
test \"t\" {
  subject \"u-42\"
  consent marketing, email
  seen \"winback-20\" 2 times 3d ago
  seen \"x\" 1 times
  expect not new_customer
}
";
    let file = parse_ok(src);
    let DeclKind::Table(t) = &file.decls[0].kind else {
        panic!()
    };
    assert_eq!(t.params.len(), 1);
    let rows: Vec<String> = t
        .items
        .iter()
        .filter_map(|i| match i {
            ast::TableItem::Row(r) => Some(
                r.cells
                    .iter()
                    .map(|c| match &c.kind {
                        ast::CellKind::Any => "_".to_string(),
                        ast::CellKind::Compare(op, e) => format!("{op:?} {}", sexpr(e)),
                        ast::CellKind::In { negated, values } => {
                            let vs: Vec<String> = values.iter().map(sexpr).collect();
                            format!("{}in {}", if *negated { "not " } else { "" }, vs.join(" "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
                    + " => "
                    + &sexpr(&r.output),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(
        rows,
        ["Eq Premium | Eq New | Ge 500.0 => 0.2", "_ | not in A B | in C => 0.1"]
    );
    for item in &t.items {
        if let ast::TableItem::Row(r) = item {
            assert_eq!(&src[r.keyword.range()], "row");
            assert!(src[r.span.range()].starts_with("row ") && !src[r.span.range()].ends_with('\n'));
        }
    }
    let DeclKind::Table(region) = &file.decls[1].kind else {
        panic!()
    };
    assert!(region.params.is_empty());

    let DeclKind::Experiment(ex) = &file.decls[2].kind else {
        panic!()
    };
    let weights: Vec<u32> = ex
        .items
        .iter()
        .filter_map(|i| match i {
            ast::ExperimentItem::Variant { weight, .. } | ast::ExperimentItem::Holdout { weight, .. } => {
                Some(weight.basis_points)
            }
            ast::ExperimentItem::Layer { from, to, .. } => Some(from.basis_points * 100_000 + to.basis_points),
            ast::ExperimentItem::Salt { .. } => None,
        })
        .collect();
    assert_eq!(weights, [1250 * 100_000 + 4000, 1000, 3334, 6666]);

    let DeclKind::Test(test) = &file.decls[3].kind else {
        panic!()
    };
    let seen: Vec<(String, i64, Option<i64>)> = test
        .clauses
        .iter()
        .filter_map(|c| match &c.kind {
            ast::TestClauseKind::Seen { offer, times, ago } => {
                Some((offer.value.clone(), times.value, ago.map(|a| a.millis)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("winback-20".to_string(), 2, Some(3 * 86_400_000)),
            ("x".to_string(), 1, None)
        ]
    );
    assert!(matches!(&test.clauses[1].kind, ast::TestClauseKind::Consent(c) if c.len() == 2));
}

#[test]
fn imports_and_packages() {
    let file = parse_ok("package retail.test.schema\nimport a.b.C\nimport a.{D}\nimport std.Channel\n");
    assert_eq!(file.package.map(|p| p.dotted()).as_deref(), Some("retail.test.schema"));
    let imports: Vec<(String, Vec<&str>, bool)> = file
        .imports
        .iter()
        .map(|i| {
            (
                i.package.dotted(),
                i.members.iter().map(|m| m.name.as_str()).collect(),
                i.braced,
            )
        })
        .collect();
    assert_eq!(
        imports,
        [
            ("a.b".to_string(), vec!["C"], false),
            ("a".to_string(), vec!["D"], true),
            ("std".to_string(), vec!["Channel"], false),
        ]
    );
    assert_eq!(file.imports[0].package.span.range(), 34..37);
}

#[test]
fn spans_are_offsets_in_the_whole_file() {
    let src = "package a\n\nsegment s = x.y // trailing comment\n";
    let file = parse_ok(src);
    let DeclKind::Segment(seg) = &file.decls[0].kind else {
        panic!()
    };
    assert_eq!(&src[seg.name.span.range()], "s");
    assert_eq!(&src[seg.value.span.range()], "x.y");
    assert_eq!(&src[file.decls[0].span.range()], "segment s = x.y");
}

#[test]
fn keywords_need_a_word_boundary() {
    // `format` starts with `for`, `notable` with `not`, `index` with `in`.
    assert_eq!(
        segment_value("notable and format or index"),
        "(or (and notable format) index)"
    );
    assert_eq!(segment_value("isx"), "isx");
    assert_eq!(segment_value("a or in_stock"), "(or a in_stock)");
    assert_eq!(segment_value("exists existing"), "(exists existing)");
}

// ---- robustness -----------------------------------------------------------------------------------

/// Runs `f` on a thread with a 2 MiB stack, the smallest a caller (a test harness, a language
/// server's worker pool) is likely to give the parser.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the parser did not panic")
}

#[test]
fn nesting_up_to_the_limit_parses_on_a_small_stack() {
    on_small_stack(|| {
        for open in ["(", "[", "f(", "{ a: ", "if c then 1 else "] {
            let close = match open {
                "(" | "f(" => ")",
                "[" => "]",
                "{ a: " => " }",
                _ => "",
            };
            let src = format!("package a\nsegment s = {}x{}\n", open.repeat(63), close.repeat(63));
            parse_ok(&src);
            let src = format!("package a\nsegment s = {}x{}\n", open.repeat(70), close.repeat(70));
            let (file, diags) = parse_file(FILE, &src);
            assert_eq!(diags.len(), 1, "{open}: {:?}", lines(&diags));
            assert_eq!(diags[0].message, "this expression is nested too deeply");
            assert!(matches!(file.decls[0].kind, DeclKind::Segment(_)));
        }
        let chain = format!("package a\nsegment s = x{}\n", " or x".repeat(300));
        parse_ok(&chain);
    });
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    on_small_stack(|| {
        let deep = format!("package a\nsegment s = {}x{}\n", "(".repeat(3000), ")".repeat(3000));
        let (file, diags) = parse_file(FILE, &deep);
        assert_eq!(diags.len(), 1, "{:?}", lines(&diags));
        assert!(diags[0].message.contains("nested too deeply"), "{}", diags[0].message);
        assert_eq!(file.decls.len(), 1);

        let nots = format!("package a\nsegment s = {}x\n", "not ".repeat(5000));
        let (_, diags) = parse_file(FILE, &nots);
        assert_eq!(lines(&diags), ["E0001 22..20023 this expression is nested too deeply"]);

        let chain = format!("package a\nsegment s = x{}\n", " + x".repeat(5000));
        let (_, diags) = parse_file(FILE, &chain);
        assert_eq!(diags.len(), 1);

        let (e, diags) = parse_expr(FILE, &"[".repeat(100_000));
        assert!(e.is_none() && diags.len() == 1);
    });
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    /// An edit to a text: delete, insert or swap characters at a position.
    #[derive(Debug, Clone)]
    enum Edit {
        Delete(usize),
        Insert(usize, char),
        Swap(usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let interesting = prop::sample::select(vec![
            '{', '}', '(', ')', '[', ']', '"', '\\', ':', '=', '<', '>', '.', ',', '@', '%', '-', '/', '\n', ' ', '_',
            '0', '9', 'a', 'Z', 'é', '\u{FEFF}', '#',
        ]);
        prop_oneof![
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), interesting).prop_map(|(i, c)| Edit::Insert(i, c)),
            (any::<usize>(), any::<char>()).prop_map(|(i, c)| Edit::Insert(i, c)),
            any::<usize>().prop_map(Edit::Swap),
        ]
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for e in edits {
            let n = chars.len();
            match *e {
                Edit::Delete(i) if n > 0 => {
                    chars.remove(i % n);
                }
                Edit::Insert(i, c) => chars.insert(i % (n + 1), c),
                Edit::Swap(i) if n > 1 => chars.swap(i % (n - 1), i % (n - 1) + 1),
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    /// Parses and checks the invariants every result keeps: spans inside the text.
    fn parse_and_check(text: &str) {
        let (file, diags) = parse_file(FILE, text);
        for d in &diags {
            assert!(d.primary.span.end as usize <= text.len(), "{d:?}");
            assert!(!d.message.is_empty());
        }
        for decl in &file.decls {
            assert!(decl.span.end as usize <= text.len());
        }
        let _ = parse_expr(FILE, text);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_text(text in any::<String>()) {
            parse_and_check(&text);
        }

        #[test]
        fn random_policy_like_text(text in "(package a\n)?[a-z{}()\\[\\]:=<>\"@ .,\n0-9%_/-]{0,120}") {
            parse_and_check(&text);
        }

        #[test]
        fn mutations_of_the_first_policy(edits in prop::collection::vec(edit(), 1..8)) {
            parse_and_check(&apply(first_policy(), &edits));
        }
    }
}
