//! Completion: fields after `.`, names in scope, built-in functions, clause words and snippets.
//!
//! After a `.`, the receiver's type comes from the checker. While the user types, the
//! declaration around the cursor usually does not parse (`profile.` is not an expression), so
//! when the checker recorded no type for the receiver, the workspace is analyzed again with a
//! placeholder name inserted after the dot: the compiler, not a second parser here, decides
//! what the receiver is. Anywhere else the list holds what the position allows: declaration
//! keywords and snippets at the top level, the clause words of the enclosing block, and the
//! names, locals, functions and expression keywords visible in the file.

use crate::query;
use crate::workspace::Snapshot;
use tailor_compiler::ir::Type;
use tailor_compiler::resolve::DeclRef;
use tailor_compiler::syntax::lexer::{self, TokenKind};
use tailor_compiler::types::Target;
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, Documentation, InsertTextFormat, MarkupContent, MarkupKind,
};

/// Inserted after a dot so that the expression parses; not a name anyone writes.
const PLACEHOLDER: &str = "__tailor_completion__";

/// Words that may start an expression or join two.
const EXPRESSION_KEYWORDS: &[&str] = &[
    "and", "or", "not", "if", "then", "else", "let", "any", "all", "count", "in", "contains", "exists", "with", "is",
    "true", "false",
];

/// Snippets offered where a declaration may start: (label, description, body).
const SNIPPETS: &[(&str, &str, &str)] = &[
    ("segment", "a named condition on the profile", "segment ${1:name} = ${0:condition}"),
    (
        "eligibility",
        "which candidates may be shown",
        "eligibility ${1:name} for ${2:offer}: ${3:Offer} {\n  require ${4:label}: ${5:condition} because \"${6:reason}\"\n  deny ${7:label}: ${8:condition} because \"${9:reason}\"\n}",
    ),
    (
        "ranking",
        "the order of eligible candidates",
        "ranking ${1:name} for ${2:offer}: ${3:Offer} {\n  score ${4:1.0}\n  boost ${5:label}: ${6:1.5} when ${0:condition}\n}",
    ),
    (
        "decision",
        "what one placement shows",
        "decision ${1:name} {\n  placement \"${2:home.hero}\"\n  channels ${3:Web}\n  candidates ${4:eligibility}\n  rank ${5:ranking}\n  max ${6:1}\n  fallback \"${7:content-id}\"\n  ttl ${8:15m}\n}",
    ),
    (
        "table",
        "a decision table",
        "table ${1:name} -> ${2:Float} {\n  hit ${3|first,unique,collect|}\n  given ${4:profile.tier}\n  row ${5:_} => ${6:1.0}\n  default ${0:1.0}\n}",
    ),
    (
        "test",
        "a policy test",
        "test \"${1:what it shows}\" {\n  now @${2:2026-01-01T10:00:00Z}\n  profile ${3:profile_fixture}\n  context { channel: ${4:Web}, placement: \"${5:home.hero}\" }\n  catalog ${6:offers}\n  expect ${0:condition}\n}",
    ),
    (
        "experiment",
        "an A/B test with variants",
        "experiment ${1:name} {\n  salt \"${2:name-2026}\"\n  holdout ${3:10%}\n  variant ${4:control} ${5:50%}\n  variant ${6:treatment} ${7:50%}\n}",
    ),
    ("schema", "a record type", "schema ${1:Name} {\n  ${2:field}: ${0:String}\n}"),
    ("enum", "an enumeration", "enum ${1:Name} { ${0:A, B} }"),
    ("fn", "a function", "fn ${1:name}(${2:x}: ${3:Int}) -> ${4:Int} = ${0:x}"),
    ("const", "a constant", "const ${1:name}: ${2:Int} = ${0:0}"),
    ("import", "names from another package", "import ${1:package}.{${0:Name}}"),
    ("package", "the package of this file", "package ${0:name}"),
];

/// Clause words by the declaration they appear in.
fn clause_words(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "eligibility" => &["require", "deny", "because"],
        "ranking" => &["score", "boost", "when"],
        "table" => &["hit", "first", "unique", "collect", "given", "row", "default"],
        "experiment" => &["salt", "layer", "holdout", "variant"],
        "decision" => &[
            "placement",
            "channels",
            "candidates",
            "rank",
            "experiment",
            "max",
            "cap",
            "offer",
            "channel",
            "per",
            "consent",
            "fallback",
            "ttl",
        ],
        "test" => &[
            "now", "subject", "profile", "context", "consent", "catalog", "seen", "times", "ago", "expect",
        ],
        _ => &[],
    }
}

/// The completion list at `offset` of `file`.
pub fn complete(snap: &Snapshot, file: FileId, offset: usize) -> Vec<CompletionItem> {
    let text = &snap.source(file).text;
    let offset = offset.min(text.len());
    let word_start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map_or(offset, |(i, _)| i);
    if text[..word_start].ends_with('.') {
        return members(snap, file, word_start - 1, word_start);
    }
    let tokens = lexer::tokenize(&text[..word_start]);
    let depth: i64 = tokens
        .iter()
        .map(|t| match t.kind {
            TokenKind::LBrace => 1,
            TokenKind::RBrace => -1,
            _ => 0,
        })
        .sum();
    let line_start = text[..word_start].rfind('\n').map_or(0, |i| i + 1);
    let at_line_start = text[line_start..word_start].trim().is_empty();
    if let Some(last) = tokens.last() {
        if matches!(last.kind, TokenKind::LineComment | TokenKind::DocComment)
            && !text[last.end..word_start].contains('\n')
        {
            return Vec::new();
        }
    }
    if let Some(schema) = record_at(snap, file, text, &tokens, word_start) {
        return record_fields(snap, schema);
    }
    let decl_keyword = enclosing_keyword(text, &tokens);
    let mut items = Vec::new();
    if depth <= 0 && at_line_start {
        items.extend(
            SNIPPETS
                .iter()
                .map(|(label, detail, body)| snippet(label, detail, body)),
        );
        return items;
    }
    if at_line_start {
        if let Some(k) = decl_keyword {
            items.extend(clause_words(k).iter().map(|w| keyword(w)));
        }
    }
    items.extend(expression_items(snap, file, word_start));
    items
}

/// The schema of the record literal whose field name is being typed at `word_start`: in
/// `Offer { … }`, `base with { … }` and the test clauses `profile { … }` and `context { … }`,
/// right after the `{` or a `,`.
fn record_at(snap: &Snapshot, file: FileId, text: &str, tokens: &[lexer::Token], word_start: usize) -> Option<u32> {
    let before = text[..word_start].trim_end();
    if !(before.ends_with('{') || before.ends_with(',')) {
        return None;
    }
    // The innermost `{` still open before the cursor.
    let mut depth = 0i32;
    let open = tokens.iter().rposition(|t| match t.kind {
        TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
            depth += 1;
            false
        }
        TokenKind::LParen | TokenKind::LBracket if depth > 0 => {
            depth -= 1;
            false
        }
        TokenKind::LBrace if depth > 0 => {
            depth -= 1;
            false
        }
        TokenKind::LBrace => true,
        _ => false,
    })?;
    let word = |i: usize| {
        tokens
            .get(i)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| &text[t.start..t.end])
    };
    let fi = snap.file_index(file)?;
    let symbols = &snap.analysis.facts.symbols;
    let program = &snap.analysis.program;
    let schema_named = |name: &str| match symbols.lookup(fi, name) {
        Some(DeclRef::Schema(s)) => Some(s),
        _ => None,
    };
    let head = word(open.checked_sub(1)?)?;
    match head {
        "profile" => program.profile,
        "context" => Some(program.builtins.context),
        "with" => match word(open.checked_sub(2)?)? {
            "profile" => program.profile,
            // A constant's type as the checker resolved it (in the constant's own file).
            base => match symbols.lookup(fi, base)? {
                DeclRef::Const(id) => match program.consts.get(id as usize)?.ty.strip_optional() {
                    Type::Record(s) => Some(*s),
                    _ => None,
                },
                _ => None,
            },
        },
        // `for offer: Offer {` and `schema Offer {` open a declaration, not a record.
        name => {
            let prev = open
                .checked_sub(2)
                .and_then(|i| tokens.get(i))
                .map(|t| &text[t.start..t.end]);
            if matches!(prev, Some(":" | "schema" | "enum")) {
                return None;
            }
            schema_named(name)
        }
    }
}

fn record_fields(snap: &Snapshot, schema: u32) -> Vec<CompletionItem> {
    let program = &snap.analysis.program;
    let Some(s) = program.schemas.get(schema as usize) else {
        return Vec::new();
    };
    s.fields
        .iter()
        .map(|f| CompletionItem {
            label: f.name.clone(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(program.type_name(&f.ty)),
            documentation: f.doc.clone().map(markdown),
            insert_text: Some(format!("{}: ", f.name)),
            ..CompletionItem::default()
        })
        .collect()
}

/// The keyword of the declaration the cursor is in: the last declaration keyword that starts a
/// line (the same rule the compiler's lexer uses to find declarations).
fn enclosing_keyword<'t>(text: &'t str, tokens: &[lexer::Token]) -> Option<&'t str> {
    tokens.iter().rev().find_map(|t| {
        let word = &text[t.start..t.end];
        let column0 = t.start == 0 || text.as_bytes().get(t.start - 1) == Some(&b'\n');
        (t.kind == TokenKind::Word && column0 && lexer::DECLARATION_KEYWORDS.contains(&word)).then_some(word)
    })
}

/// Names, locals, built-ins and keywords usable in an expression.
fn expression_items(snap: &Snapshot, file: FileId, offset: usize) -> Vec<CompletionItem> {
    let mut items = Vec::new();
    let symbols = &snap.analysis.facts.symbols;
    if let Some(fi) = snap.file_index(file) {
        for (name, r) in symbols.visible_names(fi) {
            let mut item = CompletionItem {
                label: name.clone(),
                kind: Some(decl_kind(r)),
                detail: symbols.info(r).map(|i| {
                    format!(
                        "{} in {}",
                        r.describe().trim_start_matches("a ").trim_start_matches("an "),
                        i.package
                    )
                }),
                ..CompletionItem::default()
            };
            if let Some(doc) = snap.decl(r).and_then(|(_, d)| d.doc.clone()) {
                item.documentation = Some(markdown(doc));
            }
            items.push(item);
        }
    }
    // Parameters and variables of the enclosing declaration.
    if let Some((_, decl)) = query::enclosing_decl(snap, file, offset) {
        let mut seen = std::collections::HashSet::new();
        let mut locals: Vec<tailor_compiler::Span> = query::definitions_in(snap, file)
            .into_iter()
            .filter_map(|o| match o.target {
                Target::Local(s) => Some(s),
                _ => None,
            })
            .collect();
        locals.extend(snap.analysis.facts.uses.iter().filter_map(|u| match u.target {
            Target::Local(s) if s.file == file => Some(s),
            _ => None,
        }));
        for span in locals {
            if decl.span.start <= span.start && span.end as usize <= offset && seen.insert(span) {
                let name = snap.analysis.sources.slice(span).to_string();
                let ty = snap
                    .analysis
                    .facts
                    .types
                    .iter()
                    .rev()
                    .find(|(s, _)| *s == span)
                    .map(|(_, t)| snap.analysis.program.type_name(t));
                items.push(CompletionItem {
                    label: name,
                    kind: Some(CompletionItemKind::VARIABLE),
                    detail: ty,
                    sort_text: Some("0".into()),
                    ..CompletionItem::default()
                });
            }
        }
    }
    for f in tailor_compiler::stdlib::FUNCTIONS {
        items.push(CompletionItem {
            label: f.name.to_string(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: Some(f.signature.to_string()),
            documentation: Some(markdown(format!("{}\n\nExample: `{}`", f.doc, f.example))),
            insert_text: Some(format!("{}($1)$0", f.name)),
            insert_text_format: Some(InsertTextFormat::SNIPPET),
            ..CompletionItem::default()
        });
    }
    for (name, detail) in [
        ("profile", "the subject's profile"),
        ("context", "the request's context"),
    ] {
        items.push(CompletionItem {
            label: name.into(),
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some(detail.into()),
            ..CompletionItem::default()
        });
    }
    items.push(CompletionItem {
        label: "now".into(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: Some("now() -> Timestamp".into()),
        insert_text: Some("now()".into()),
        ..CompletionItem::default()
    });
    items.extend(EXPRESSION_KEYWORDS.iter().map(|w| keyword(w)));
    items
}

/// Fields (or enum variants) of the receiver ending at `dot`.
fn members(snap: &Snapshot, file: FileId, dot: usize, word_start: usize) -> Vec<CompletionItem> {
    let text = &snap.source(file).text;
    // `Tier.` names an enum, not a value: its variants.
    let receiver_start = text[..dot]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map_or(dot, |(i, _)| i);
    let receiver = &text[receiver_start..dot];
    let before = text[..receiver_start].trim_end();
    if !receiver.is_empty() && !before.ends_with('.') {
        if let Some(DeclRef::Enum(id)) = snap
            .file_index(file)
            .and_then(|fi| snap.analysis.facts.symbols.lookup(fi, receiver))
        {
            return variants(snap, id);
        }
    }
    if let Some(ty) = receiver_type(snap, file, dot) {
        return fields(snap, &ty);
    }
    let patched = snap.with_insertion(file, word_start, PLACEHOLDER);
    match receiver_type(&patched, file, dot) {
        Some(ty) => fields(&patched, &ty),
        None => Vec::new(),
    }
}

/// The type of the expression that ends at `dot`.
fn receiver_type(snap: &Snapshot, file: FileId, dot: usize) -> Option<Type> {
    snap.analysis
        .facts
        .types
        .iter()
        .filter(|(s, t)| s.file == file && s.end as usize == dot && !t.is_error())
        .max_by_key(|(s, _)| s.end - s.start)
        .map(|(_, t)| t.clone())
}

fn fields(snap: &Snapshot, ty: &Type) -> Vec<CompletionItem> {
    let program = &snap.analysis.program;
    let Type::Record(s) = ty.strip_optional() else {
        return Vec::new();
    };
    let Some(schema) = program.schemas.get(*s as usize) else {
        return Vec::new();
    };
    schema
        .fields
        .iter()
        .map(|f| CompletionItem {
            label: f.name.clone(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(program.type_name(&f.ty)),
            documentation: f.doc.clone().map(markdown),
            ..CompletionItem::default()
        })
        .collect()
}

fn variants(snap: &Snapshot, enum_id: u32) -> Vec<CompletionItem> {
    let Some(e) = snap.analysis.program.enums.get(enum_id as usize) else {
        return Vec::new();
    };
    (0..e.variants.len())
        .map(|i| CompletionItem {
            label: e.variants[i].clone(),
            kind: Some(CompletionItemKind::ENUM_MEMBER),
            detail: Some(e.name.clone()),
            documentation: query::variant_decl(snap, enum_id, i as u32)
                .and_then(|v| v.doc.clone())
                .map(markdown),
            ..CompletionItem::default()
        })
        .collect()
}

fn decl_kind(r: DeclRef) -> CompletionItemKind {
    match r {
        DeclRef::Enum(_) => CompletionItemKind::ENUM,
        DeclRef::Schema(_) => CompletionItemKind::STRUCT,
        DeclRef::Const(_) => CompletionItemKind::CONSTANT,
        DeclRef::Segment(_) => CompletionItemKind::VARIABLE,
        DeclRef::Function(_) | DeclRef::Table(_) => CompletionItemKind::FUNCTION,
        DeclRef::Eligibility(_) | DeclRef::Ranking(_) => CompletionItemKind::INTERFACE,
        DeclRef::Experiment(_) => CompletionItemKind::EVENT,
        DeclRef::Decision(_) => CompletionItemKind::MODULE,
    }
}

fn keyword(word: &str) -> CompletionItem {
    CompletionItem {
        label: word.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        sort_text: Some(format!("z{word}")),
        ..CompletionItem::default()
    }
}

fn snippet(label: &str, detail: &str, body: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(CompletionItemKind::SNIPPET),
        detail: Some(detail.to_string()),
        insert_text: Some(body.to_string()),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        ..CompletionItem::default()
    }
}

fn markdown(text: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot_at;

    fn labels(files: &[(&str, &str)]) -> Vec<String> {
        let (snap, ids, cursor) = snapshot_at(files);
        complete(&snap, ids[0], cursor).into_iter().map(|i| i.label).collect()
    }

    const SCHEMA: &str = "package s\nenum Tier { Gold, Silver }\nschema Address { city: String }\nschema Profile {\n  age: Int\n  tier: Tier\n  home: Address\n}\n";

    #[test]
    fn fields_after_profile_dot_in_a_broken_declaration() {
        let got = labels(&[
            ("a.policy", "package s\nsegment a = profile.$0\nsegment b = true\n"),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(got, ["age", "tier", "home"]);
    }

    #[test]
    fn fields_of_a_nested_record_and_with_a_prefix() {
        let got = labels(&[
            ("a.policy", "package s\nsegment a = profile.home.ci$0\n"),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(got, ["city"]);
        let got = labels(&[
            ("a.policy", "package s\nfn f(p: Profile) -> Bool = p.$0\n"),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(got, ["age", "tier", "home"]);
    }

    #[test]
    fn variants_after_an_enum_name() {
        let got = labels(&[
            ("a.policy", "package s\nsegment a = profile.tier == Tier.$0\n"),
            ("s.policy", SCHEMA),
        ]);
        assert_eq!(got, ["Gold", "Silver"]);
    }

    #[test]
    fn snippets_at_top_level_and_clause_words_inside_blocks() {
        let got = labels(&[("a.policy", "package s\n$0\n")]);
        assert!(
            got.contains(&"eligibility".to_string()) && got.contains(&"decision".to_string()),
            "{got:?}"
        );
        let got = labels(&[
            ("a.policy", "package s\neligibility e for o: Profile {\n  $0\n}\n"),
            ("s.policy", SCHEMA),
        ]);
        assert!(
            got.contains(&"require".to_string()) && got.contains(&"o".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"days_since".to_string()) && got.contains(&"Tier".to_string()),
            "{got:?}"
        );
    }

    #[test]
    fn fields_in_record_literals() {
        let schema = "package s\nschema Profile {\n  age: Int\n}\nconst base: Profile = Profile { age: 1 }\n";
        let got = labels(&[
            ("a.policy", "package s\nconst p: Profile = Profile { $0\n"),
            ("s.policy", schema),
        ]);
        assert_eq!(got, ["age"]);
        let got = labels(&[
            (
                "a.policy",
                "package s\ntest \"t\" {\n  profile base with { age: 2, $0\n",
            ),
            ("s.policy", schema),
        ]);
        assert_eq!(got, ["age"]);
        // The constant's schema need not be imported where it is used.
        let got = labels(&[
            ("a.policy", "package t\nimport s.{base}\nconst q = base with { $0\n"),
            ("s.policy", schema),
        ]);
        assert_eq!(got, ["age"]);
        let got = labels(&[("a.policy", "package s\ntest \"t\" {\n  context { $0 }\n}\n")]);
        assert!(
            got.contains(&"channel".to_string()) && got.contains(&"placement".to_string()),
            "{got:?}"
        );
    }

    #[test]
    fn nothing_in_a_comment() {
        assert!(labels(&[("a.policy", "package s\n// prof$0\n")]).is_empty());
    }
}
