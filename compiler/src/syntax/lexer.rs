//! The logos lexer.
//!
//! The grammar (pest) does the real parsing, but pest stops at the first error. The lexer runs
//! first over the whole file and gives three things the parser cannot: the boundaries of
//! top-level declarations (so each is parsed on its own and one mistake does not hide the
//! rest), comments with their spans (for the formatter and doc comments), and lexical errors
//! (unterminated strings, stray characters) reported precisely.

use logos::Logos;

/// One token kind. Words are not split into keywords here; [`Token::Word`] carries the text.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\f\u{FEFF}]+")]
pub enum TokenKind {
    #[regex(r"///[^\n]*")]
    DocComment,
    #[regex(r"//[^\n]*")]
    LineComment,
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Word,
    #[regex(r"[0-9][0-9_]*(\.[0-9][0-9_]*)?([eE][+-]?[0-9]+)?(ms|s|m|h|d|w|%)?")]
    Number,
    #[regex(r"@[A-Za-z0-9:.+\-]+")]
    Timestamp,
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    String,
    /// A string with no closing quote on its line.
    #[regex(r#""([^"\\\n]|\\[^\n])*"#)]
    UnterminatedString,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[regex(r"==|!=|<=|>=|=>|->|\?\?|[<>=+\-*/%.,:?]")]
    Punct,
    /// A character no token starts with.
    Unknown,
}

/// A token with its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Words that start a top-level declaration.
pub const DECLARATION_KEYWORDS: &[&str] = &[
    "package",
    "import",
    "enum",
    "schema",
    "segment",
    "const",
    "fn",
    "eligibility",
    "ranking",
    "table",
    "experiment",
    "decision",
    "test",
];

/// Splits `text` into tokens. Never fails: unknown characters become [`TokenKind::Unknown`].
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut lexer = TokenKind::lexer(text);
    let mut tokens = Vec::new();
    while let Some(result) = lexer.next() {
        let span = lexer.span();
        let kind = result.unwrap_or(TokenKind::Unknown);
        tokens.push(Token {
            kind,
            start: span.start,
            end: span.end,
        });
    }
    tokens
}

/// A top-level declaration's extent: from its first doc comment (if any) to just before the
/// next declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Where the doc comments (or, without them, the keyword) start.
    pub start: usize,
    /// Where the declaration keyword starts.
    pub keyword_start: usize,
    pub end: usize,
}

/// Finds declaration boundaries.
///
/// A declaration starts at a declaration keyword that is the first token on its line and
/// either outside all braces or in column 0. The column-0 rule lets a missing `}` end at the
/// next unindented declaration instead of swallowing the rest of the file.
pub fn chunks(text: &str, tokens: &[Token]) -> Vec<Chunk> {
    let mut starts = Vec::new();
    let mut depth: i64 = 0;
    let mut prev_line_end_token: Option<usize> = None;
    let mut pending_doc: Option<usize> = None;
    for (i, tok) in tokens.iter().enumerate() {
        let first_on_line = match prev_line_end_token {
            None => true,
            Some(p) => text[tokens[p].end..tok.start].contains('\n'),
        };
        let column0 = tok.start == 0 || text.as_bytes().get(tok.start - 1) == Some(&b'\n');
        match tok.kind {
            TokenKind::DocComment => {
                if first_on_line && pending_doc.is_none() && (depth <= 0 || column0) {
                    pending_doc = Some(tok.start);
                }
            }
            TokenKind::LineComment => {}
            TokenKind::Word
                if first_on_line
                    && (depth <= 0 || column0)
                    && DECLARATION_KEYWORDS.contains(&&text[tok.start..tok.end]) =>
            {
                starts.push((pending_doc.unwrap_or(tok.start), tok.start));
                depth = 0;
                pending_doc = None;
            }
            _ => pending_doc = None,
        }
        match tok.kind {
            TokenKind::LBrace => depth += 1,
            TokenKind::RBrace => depth -= 1,
            _ => {}
        }
        prev_line_end_token = Some(i);
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, &(start, keyword_start)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map(|s| s.0).unwrap_or(text.len());
        out.push(Chunk {
            start,
            keyword_start,
            end,
        });
    }
    out
}

/// Is `word` reserved (not usable as a name)?
pub fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "package"
            | "import"
            | "enum"
            | "schema"
            | "segment"
            | "const"
            | "fn"
            | "eligibility"
            | "ranking"
            | "table"
            | "experiment"
            | "decision"
            | "test"
            | "for"
            | "and"
            | "or"
            | "not"
            | "true"
            | "false"
            | "if"
            | "then"
            | "else"
            | "let"
            | "any"
            | "all"
            | "count"
            | "in"
            | "contains"
            | "exists"
            | "with"
            | "is"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexes_literals_and_comments() {
        use TokenKind::*;
        assert_eq!(
            kinds("/// doc\nx == 30d // c\n\"s\\\"\" @2026-01-01 1.5 33.3% \"open"),
            vec![
                DocComment,
                Word,
                Punct,
                Number,
                LineComment,
                String,
                Timestamp,
                Number,
                Number,
                UnterminatedString
            ]
        );
        assert_eq!(kinds("a # b"), vec![Word, Unknown, Word]);
    }

    #[test]
    fn splits_declarations_at_line_starts_outside_braces() {
        let text = "package a\n\n/// doc\nsegment s = x\ndecision d {\n  experiment e\n}\ntest \"t\" {\n}\n";
        let toks = tokenize(text);
        let cs = chunks(text, &toks);
        let words: Vec<&str> = cs
            .iter()
            .map(|c| text[c.keyword_start..].split_whitespace().next().unwrap_or(""))
            .collect();
        assert_eq!(words, vec!["package", "segment", "decision", "test"]);
        assert_eq!(&text[cs[1].start..cs[1].start + 3], "///");
    }

    #[test]
    fn a_missing_brace_stops_at_the_next_unindented_declaration() {
        let text = "package a\ndecision d {\n  placement \"x\"\nsegment s = true\n";
        let toks = tokenize(text);
        assert_eq!(chunks(text, &toks).len(), 3);
    }
}
