//! Semantic tokens: colours from what names mean, not only how they look.
//!
//! The compiler's lexer splits the file; each word is then classified by the checker's facts
//! (a use of a segment, a field, an enum variant, a parameter, a built-in) or by the symbol
//! table (a declaration's name), and otherwise as a keyword when the grammar treats it as one.
//! Comments, strings, numbers and operators come straight from the token kinds.

use crate::query;
use crate::workspace::Snapshot;
use std::collections::HashMap;
use tailor_compiler::resolve::DeclRef;
use tailor_compiler::syntax::lexer::{self, TokenKind};
use tailor_compiler::types::Target;
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::{SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokensLegend};

/// Token types, in legend order (the index is what the protocol sends).
const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::TYPE,
    SemanticTokenType::STRUCT,
    SemanticTokenType::ENUM,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::KEYWORD,
    SemanticTokenType::COMMENT,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::EVENT,
];

#[derive(Clone, Copy)]
#[repr(u32)]
enum Kind {
    Namespace,
    Type,
    Struct,
    Enum,
    EnumMember,
    Parameter,
    Variable,
    Property,
    Function,
    Keyword,
    Comment,
    String,
    Number,
    Operator,
    Event,
}

const MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::READONLY,
    SemanticTokenModifier::DOCUMENTATION,
    SemanticTokenModifier::DEFAULT_LIBRARY,
];
const DECLARATION: u32 = 1;
const READONLY: u32 = 2;
const DOCUMENTATION: u32 = 4;
const DEFAULT_LIBRARY: u32 = 8;

/// Clause words: keywords where they appear, but not reserved (`lexer::is_reserved` covers
/// the reserved ones).
const CLAUSE_WORDS: &[&str] = &[
    "require",
    "deny",
    "because",
    "score",
    "boost",
    "when",
    "hit",
    "first",
    "unique",
    "collect",
    "given",
    "row",
    "default",
    "salt",
    "layer",
    "to",
    "holdout",
    "variant",
    "placement",
    "channels",
    "candidates",
    "rank",
    "max",
    "cap",
    "offer",
    "channel",
    "per",
    "consent",
    "fallback",
    "ttl",
    "now",
    "subject",
    "profile",
    "context",
    "catalog",
    "seen",
    "times",
    "ago",
    "expect",
];

/// The types the language builds in.
const BUILTIN_TYPES: &[&str] = &["Bool", "Int", "Float", "String", "Duration", "Timestamp", "Set", "List"];

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: MODIFIERS.to_vec(),
    }
}

/// The tokens of a file, delta-encoded as the protocol wants.
pub fn tokens(snap: &Snapshot, file: FileId) -> Vec<SemanticToken> {
    let source = snap.source(file);
    let text = &source.text;
    // What each name span means: uses first, then definitions (which win for their own span).
    let mut meaning: HashMap<(u32, u32), (Kind, u32)> = HashMap::new();
    let facts = &snap.analysis.facts;
    for u in facts.uses.iter().filter(|u| u.span.file == file) {
        meaning.insert((u.span.start, u.span.end), classify(&u.target, 0));
    }
    for (r, info) in &facts.symbols.decls {
        if info.name_span.file == file {
            meaning.insert(
                (info.name_span.start, info.name_span.end),
                classify(&Target::Decl(*r), DECLARATION),
            );
        }
    }
    for scope in &facts.symbols.scopes {
        for b in scope.imports.values().filter(|b| b.span.file == file) {
            meaning.insert((b.span.start, b.span.end), classify(&Target::Decl(b.target), 0));
        }
    }
    for def in query::definitions_in(snap, file) {
        meaning.insert((def.span.start, def.span.end), classify(&def.target, DECLARATION));
    }
    let mut out = Vec::new();
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    for tok in lexer::tokenize(text) {
        let word = &text[tok.start..tok.end];
        let class = match tok.kind {
            TokenKind::DocComment => Some((Kind::Comment, DOCUMENTATION)),
            TokenKind::LineComment => Some((Kind::Comment, 0)),
            TokenKind::String | TokenKind::UnterminatedString => Some((Kind::String, 0)),
            TokenKind::Number | TokenKind::Timestamp => Some((Kind::Number, 0)),
            TokenKind::Punct if word != "." && word != "," && word != ":" => Some((Kind::Operator, 0)),
            TokenKind::Word => match meaning.get(&(tok.start as u32, tok.end as u32)) {
                Some(k) => Some(*k),
                None if BUILTIN_TYPES.contains(&word) => Some((Kind::Type, DEFAULT_LIBRARY)),
                None if lexer::is_reserved(word) || CLAUSE_WORDS.contains(&word) => Some((Kind::Keyword, 0)),
                // The other words of a `package` or `import` line are package names.
                None if in_package_line(text, tok.start) => Some((Kind::Namespace, 0)),
                None => None,
            },
            _ => None,
        };
        let Some((kind, modifiers)) = class else { continue };
        let (line, col) = source.line_col_utf16(tok.start);
        let (line, col) = (line as u32, col as u32);
        let length = word.encode_utf16().count() as u32;
        let delta_line = line - prev_line;
        let delta_start = if delta_line == 0 { col - prev_col } else { col };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: kind as u32,
            token_modifiers_bitset: modifiers,
        });
        (prev_line, prev_col) = (line, col);
    }
    out
}

/// Whether the line of `offset` is a `package` or `import` line.
fn in_package_line(text: &str, offset: usize) -> bool {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..offset].trim_start();
    line.starts_with("package ") || line.starts_with("import ")
}

fn classify(target: &Target, modifiers: u32) -> (Kind, u32) {
    match target {
        Target::Decl(r) => match r {
            DeclRef::Enum(_) => (Kind::Enum, modifiers),
            DeclRef::Schema(_) => (Kind::Struct, modifiers),
            DeclRef::Const(_) => (Kind::Variable, modifiers | READONLY),
            DeclRef::Segment(_) => (Kind::Variable, modifiers),
            DeclRef::Function(_) | DeclRef::Table(_) | DeclRef::Eligibility(_) | DeclRef::Ranking(_) => {
                (Kind::Function, modifiers)
            }
            DeclRef::Experiment(_) => (Kind::Event, modifiers),
            DeclRef::Decision(_) => (Kind::Type, modifiers),
        },
        Target::Field { .. } => (Kind::Property, modifiers),
        Target::Variant { .. } => (Kind::EnumMember, modifiers),
        Target::Local(_) => (Kind::Parameter, modifiers),
        Target::Builtin(_) => (Kind::Function, modifiers | DEFAULT_LIBRARY),
        Target::Special(_) => (Kind::Variable, modifiers | DEFAULT_LIBRARY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot;

    /// Absolute (line, column, length, type name) of every token.
    fn decoded(text: &str) -> Vec<(u32, u32, u32, String)> {
        let (snap, ids) = snapshot(&[("a.policy", text)]);
        let (mut line, mut col) = (0, 0);
        tokens(&snap, ids[0])
            .into_iter()
            .map(|t| {
                line += t.delta_line;
                col = if t.delta_line == 0 {
                    col + t.delta_start
                } else {
                    t.delta_start
                };
                (line, col, t.length, TYPES[t.token_type as usize].as_str().to_string())
            })
            .collect()
    }

    #[test]
    fn classifies_by_meaning() {
        let got = decoded("package a.b\nenum T { X }\nfn f(t: T) -> Bool = t == T.X // c\n");
        let kinds: Vec<&str> = got.iter().map(|t| t.3.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "keyword",
                "namespace",
                "namespace",
                "keyword",
                "enum",
                "enumMember",
                "keyword",
                "function",
                "parameter",
                "enum",
                "operator",
                "type",
                "operator",
                "parameter",
                "operator",
                "enum",
                "enumMember",
                "comment"
            ]
        );
        assert_eq!(got[1], (0, 8, 1, "namespace".into()));
    }
}
