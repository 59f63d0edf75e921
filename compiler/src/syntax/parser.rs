//! The parser: a file's text to an [`ast::File`] plus diagnostics, never a panic.
//!
//! pest stops at the first failure of a rule, and a marketer's file is mostly broken while they
//! type, so the work is split three ways:
//!
//! 1. The logos lexer runs over the whole file. It reports lexical errors (unterminated strings,
//!    stray characters) with exact spans and finds the declaration boundaries
//!    ([`lexer::chunks`]).
//! 2. Each declaration's text is parsed on its own with the pest rule `chunk`. A declaration
//!    that fails becomes [`ast::DeclKind::Error`] with one diagnostic; the others are unaffected.
//!    A declaration containing a lexical error is not handed to pest at all (its lexical
//!    diagnostic is the one that matters).
//! 3. The pest tree becomes the AST here: operator precedence is applied to the flat operand /
//!    operator sequence the grammar produces, literals are decoded and validated (`E0003`),
//!    doc comments are attached from the token stream, and file-level rules (`package` first,
//!    imports before declarations) are checked.
//!
//! Syntax errors are translated from pest's view (rule names, literal tokens, byte offsets) into
//! words: "expected `:`, found `Int`". A declaration that fails is parsed a second time with
//! pest's extra error detail switched on (see [`run_pest`]): it records the literal tokens
//! (`:`, `}`) expected at the furthest position reached; without it a missing `:` would be
//! reported at the start of the field.
//!
//! Invariant: no input makes this module panic. The pest tree's shape is guaranteed by the
//! grammar, but every access to it goes through `Option` anyway; a shape the builder does not
//! expect makes the declaration an error node with an "internal" diagnostic instead of a crash.
//! Expressions nested deeper than [`MAX_DEPTH`] become [`ast::ExprKind::Error`], so neither this
//! builder nor any later pass that recurses over the tree can exhaust the stack.

use super::ast::{self, BinOp, UnOp};
use super::lexer::{self, Chunk, Token, TokenKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use grammar::{PolicyParser, Rule};
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

mod grammar {
    //! The pest parser generated from `grammar.pest`, private so pest's rule names never leak
    //! into the compiler's API.
    use pest_derive::Parser;

    #[derive(Parser)]
    #[grammar = "syntax/grammar.pest"]
    pub(super) struct PolicyParser;
}

/// How deep an expression tree may get. Deeper expressions are reported and replaced by an
/// error node, so the builder and every later pass that recurses over the tree have a bounded
/// depth. Counted conservatively: each operand, prefix operator and postfix of a flat operator
/// sequence costs one, whatever the precedence turns out to be, and each nested sub-expression
/// (brackets, list elements, call arguments, quantifier and `if` parts) another
/// [`NESTED_COST`]. That allows 300-term operator chains, and 64 levels of brackets.
const MAX_DEPTH: usize = 320;

/// The extra cost of a nested sub-expression: the builder recurses for it, and its frames are
/// larger than those of a flat operator chain (about 8 KiB per level in unoptimised builds,
/// so 64 levels fit well within a 2 MiB thread stack).
const NESTED_COST: usize = 4;

/// Precedence of the comparison operators, which do not chain.
const COMPARISON: u8 = 4;

/// Parses one file. Never panics; every problem becomes a diagnostic, and the file is still
/// returned with the declarations that did parse (failed ones as `DeclKind::Error`).
pub fn parse_file(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    let tokens = lexer::tokenize(text);
    let cx = Cx {
        file,
        text,
        tokens: &tokens,
        expression_mode: false,
    };
    let mut diags = cx.lexical_errors(0, text.len());
    let chunks = lexer::chunks(text, &tokens);
    let mut out = ast::File {
        package: None,
        imports: Vec::new(),
        decls: Vec::new(),
        span: Span::new(file, 0, text.len()),
        broken_names: Vec::new(),
    };

    let preamble_broken = cx.check_preamble(&chunks, &mut diags);
    cx.check_package_first(&chunks, preamble_broken, &mut diags);

    // The first `package` line (parsed or not), and the first declaration that is neither a
    // package nor an import: imports after it are misplaced.
    let mut package_line: Option<Span> = None;
    let mut first_other: Option<Span> = None;
    for chunk in &chunks {
        let keyword = cx.keyword_span(chunk);
        let word = cx.slice(keyword);
        match cx.parse_chunk(chunk, &mut diags) {
            Parsed::Package(path, span) => match package_line {
                Some(first) => diags.push(
                    Diagnostic::new(Code::DuplicatePackage, span, "the package is declared twice")
                        .with_label("second package line")
                        .with_secondary(first, "first declared here")
                        .with_help("a file belongs to exactly one package; remove this line"),
                ),
                None => out.package = Some(path),
            },
            Parsed::Import(import) => {
                if let Some(other) = first_other {
                    diags.push(
                        Diagnostic::new(
                            Code::MisplacedImport,
                            import.span,
                            "imports must come before other declarations",
                        )
                        .with_label("import after a declaration")
                        .with_secondary(other, "first declaration here")
                        .with_help("move this import up, right after the `package` line"),
                    );
                }
                out.imports.push(import);
            }
            Parsed::Decl(decl) => out.decls.push(decl),
        }
        match word {
            "package" => package_line = package_line.or(Some(keyword)),
            "import" => {}
            _ => first_other = first_other.or(Some(keyword)),
        }
    }
    out.broken_names = broken_names(text, &out.decls);
    (out, diags)
}

/// Parses a single expression (for the language server and tests).
pub fn parse_expr(file: FileId, text: &str) -> (Option<ast::Expr>, Vec<Diagnostic>) {
    let tokens = lexer::tokenize(text);
    let cx = Cx {
        file,
        text,
        tokens: &tokens,
        expression_mode: true,
    };
    let mut diags = cx.lexical_errors(0, text.len());
    if !diags.is_empty() {
        return (None, diags);
    }
    match run_pest(Rule::expression, text) {
        Err(err) => {
            diags.push(cx.syntax_error(&err, 0, text.len()));
            (None, diags)
        }
        Ok(pairs) => {
            let mut b = Builder::new(&cx, 0);
            let expr = pairs
                .into_iter()
                .find(|p| p.as_rule() == Rule::expr)
                .and_then(|p| b.expr(p));
            diags.append(&mut b.diags);
            if expr.is_none() {
                diags.push(cx.internal_error(Span::new(file, 0, text.len())));
            }
            (expr, diags)
        }
    }
}

/// Runs pest. Its extra error detail (the literal tokens expected at the furthest position
/// reached, such as a missing `:`) makes parsing two to four times slower, so it is switched on
/// only to parse again text that failed. The switch is process-wide and read when a parse
/// starts: the lock makes those second parses take turns, so each sees it on; a parse that
/// succeeds does not depend on it.
fn run_pest(start: Rule, text: &str) -> Result<Pairs<'_, Rule>, pest::error::Error<Rule>> {
    static DETAIL: Mutex<()> = Mutex::new(());
    match PolicyParser::parse(start, text) {
        Ok(pairs) => Ok(pairs),
        Err(_) => {
            let _turn = DETAIL.lock().unwrap_or_else(PoisonError::into_inner);
            pest::set_error_detail(true);
            let result = PolicyParser::parse(start, text);
            pest::set_error_detail(false);
            result
        }
    }
}

/// What one declaration chunk turned into.
enum Parsed {
    Package(ast::Path, Span),
    Import(ast::Import),
    Decl(ast::Decl),
}

/// The whole file: text and tokens, shared by the per-declaration parsers.
struct Cx<'a> {
    file: FileId,
    text: &'a str,
    tokens: &'a [Token],
    /// Parsing a lone expression: the end of the input is described as such.
    expression_mode: bool,
}

impl<'a> Cx<'a> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn slice(&self, span: Span) -> &'a str {
        self.text.get(span.range()).unwrap_or("")
    }

    /// Index of the first token that ends after `offset`.
    fn token_index_after(&self, offset: usize) -> usize {
        self.tokens.partition_point(|t| t.end <= offset)
    }

    /// The tokens of `start..end`.
    fn tokens_in(&self, start: usize, end: usize) -> &'a [Token] {
        let lo = self.tokens.partition_point(|t| t.start < start);
        let hi = self.tokens.partition_point(|t| t.start < end);
        self.tokens.get(lo..hi).unwrap_or(&[])
    }

    /// E0002 and E0006 for every lexical error in `start..end`.
    fn lexical_errors(&self, start: usize, end: usize) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for t in self.tokens_in(start, end) {
            let span = self.span(t.start, t.end);
            match t.kind {
                TokenKind::UnterminatedString => diags.push(
                    Diagnostic::new(Code::UnterminatedString, span, "unterminated string")
                        .with_label("this string has no closing `\"`")
                        .with_help("close it with `\"` on the same line; write a line break as `\\n`"),
                ),
                TokenKind::Unknown => {
                    let text = self.slice(span);
                    let mut d = Diagnostic::new(
                        Code::UnknownCharacter,
                        span,
                        format!("unknown character `{}`", text.escape_debug()),
                    )
                    .with_label("not part of the language");
                    if let Some(help) = unknown_character_help(text) {
                        d = d.with_help(help);
                    }
                    diags.push(d);
                }
                _ => {}
            }
        }
        diags
    }

    /// E0001 for text before the first declaration. Returns whether there was any.
    fn check_preamble(&self, chunks: &[Chunk], diags: &mut Vec<Diagnostic>) -> bool {
        let end = chunks.first().map_or(self.text.len(), |c| c.start);
        let stray: Vec<&Token> = self.tokens_in(0, end).iter().filter(|t| !is_comment(t.kind)).collect();
        let (Some(first), Some(last)) = (stray.first(), stray.last()) else {
            return false;
        };
        if !stray.iter().any(|t| is_lexical_error(t.kind)) {
            diags.push(
                Diagnostic::new(
                    Code::SyntaxError,
                    self.span(first.start, last.end),
                    format!("expected a declaration, found {}", self.describe_token(first)),
                )
                .with_label("not part of any declaration")
                .with_help(
                    "declarations start at the beginning of a line with a keyword such as \
                     `package`, `segment` or `decision`",
                ),
            );
        }
        true
    }

    /// E0004 when the first declaration is not `package`.
    fn check_package_first(&self, chunks: &[Chunk], preamble_broken: bool, diags: &mut Vec<Diagnostic>) {
        let package_at = chunks
            .iter()
            .position(|c| self.slice(self.keyword_span(c)) == "package");
        let d = match (chunks.first(), package_at) {
            (_, Some(0)) => return,
            (None, _) if preamble_broken => return,
            (None, _) => Diagnostic::new(Code::MissingPackage, self.span(0, 0), "missing `package` declaration")
                .with_label("expected `package` here"),
            (Some(first), None) => Diagnostic::new(
                Code::MissingPackage,
                self.keyword_span(first),
                "missing `package` declaration",
            )
            .with_label("expected `package` before this declaration"),
            (Some(first), Some(i)) => {
                let mut d = Diagnostic::new(
                    Code::MissingPackage,
                    self.keyword_span(first),
                    "the `package` line must come first",
                )
                .with_label("expected `package` before this declaration");
                if let Some(c) = chunks.get(i) {
                    d = d.with_secondary(self.keyword_span(c), "the package is declared here");
                }
                diags.push(d.with_help("move the `package` line to the top of the file"));
                return;
            }
        };
        diags.push(d.with_help("start the file with `package name`, e.g. `package retail.home`"));
    }

    /// The span of a chunk's declaration keyword.
    fn keyword_span(&self, chunk: &Chunk) -> Span {
        let i = self.token_index_after(chunk.keyword_start);
        let end = self
            .tokens
            .get(i)
            .filter(|t| t.start == chunk.keyword_start)
            .map_or(chunk.keyword_start, |t| t.end);
        self.span(chunk.keyword_start, end)
    }

    /// The end of the last token (comments aside) in `start..end`, or `start`.
    fn last_token_end(&self, start: usize, end: usize) -> usize {
        self.tokens_in(start, end)
            .iter()
            .rev()
            .find(|t| !is_comment(t.kind))
            .map_or(start, |t| t.end)
    }

    /// The `///` comments directly before the token starting at `offset` (only whitespace
    /// between them), not looking before `floor`: the slashes and one space removed, joined
    /// by newlines.
    fn doc_before(&self, offset: usize, floor: usize) -> Option<String> {
        let i = self.tokens.partition_point(|t| t.start < offset);
        let mut lines = Vec::new();
        for t in self.tokens.get(..i).unwrap_or(&[]).iter().rev() {
            if t.kind != TokenKind::DocComment || t.start < floor {
                break;
            }
            let text = self.text.get(t.start..t.end).unwrap_or("");
            let text = text.strip_prefix("///").unwrap_or(text);
            let text = text.strip_prefix(' ').unwrap_or(text);
            lines.push(text.strip_suffix('\r').unwrap_or(text));
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    }

    /// Parses one declaration chunk; a failure becomes an error declaration.
    fn parse_chunk(&self, chunk: &Chunk, diags: &mut Vec<Diagnostic>) -> Parsed {
        let doc = self.doc_before(chunk.keyword_start, chunk.start);
        let error_decl = |doc: Option<String>| {
            Parsed::Decl(ast::Decl {
                doc,
                kind: ast::DeclKind::Error,
                span: self.span(chunk.keyword_start, self.last_token_end(chunk.keyword_start, chunk.end)),
            })
        };
        if self
            .tokens_in(chunk.start, chunk.end)
            .iter()
            .any(|t| is_lexical_error(t.kind))
        {
            return error_decl(doc);
        }
        let Some(slice) = self.text.get(chunk.start..chunk.end) else {
            return error_decl(doc);
        };
        match run_pest(Rule::chunk, slice) {
            Err(err) => {
                diags.push(self.syntax_error(&err, chunk.start, chunk.end));
                error_decl(doc)
            }
            Ok(pairs) => {
                let mut b = Builder::new(self, chunk.start);
                let parsed = pairs
                    .into_iter()
                    .find(|p| p.as_rule() != Rule::EOI)
                    .and_then(|p| b.declaration(p, doc.clone()));
                diags.append(&mut b.diags);
                parsed.unwrap_or_else(|| {
                    diags.push(self.internal_error(self.keyword_span(chunk)));
                    error_decl(doc)
                })
            }
        }
    }

    /// A diagnostic for a parse tree the builder does not expect: a bug, not the user's fault.
    fn internal_error(&self, span: Span) -> Diagnostic {
        Diagnostic::new(
            Code::SyntaxError,
            span,
            "the parser could not understand this declaration",
        )
        .with_note("this is a bug in the Tailor compiler; please report it with this file")
    }

    // ---- syntax errors ------------------------------------------------------------------------

    /// Translates a pest failure in the text `base..end` into a diagnostic.
    fn syntax_error(&self, err: &pest::error::Error<Rule>, base: usize, end: usize) -> Diagnostic {
        let positives = match &err.variant {
            ErrorVariant::ParsingError { positives, .. } => positives,
            // pest's only custom errors are its call and stack limits.
            ErrorVariant::CustomError { .. } => {
                let first = self.tokens_in(base, end).iter().find(|t| !is_comment(t.kind));
                let span = first.map_or(self.span(base, base), |t| self.span(t.start, t.end));
                return Diagnostic::new(Code::SyntaxError, span, "this declaration is nested too deeply")
                    .with_help("split it into smaller segments, constants or functions");
            }
        };
        let rule_pos = base
            + match err.location {
                InputLocation::Pos(p) => p,
                InputLocation::Span((s, _)) => s,
            };
        let rule_wants: BTreeSet<Want> = positives.iter().filter_map(|r| want_of_rule(*r)).collect();
        let (tok_pos, tok_wants) = match err.parse_attempts() {
            Some(a) => (
                base + a.max_position,
                a.expected_tokens()
                    .iter()
                    .filter_map(|t| want_of_literal(&t.to_string()))
                    .collect::<BTreeSet<Want>>(),
            ),
            None => (rule_pos, BTreeSet::new()),
        };
        // Right after a number, or in the middle of a word, pest's literal tokens are about
        // continuing that token (`ms`, `_`, `.`); the rule that failed says more.
        let noisy = self.glued(tok_pos);
        let (pos, mut wants) = if tok_pos > rule_pos && !tok_wants.is_empty() && !noisy {
            (tok_pos, tok_wants)
        } else if tok_pos == rule_pos && !noisy {
            (rule_pos, rule_wants.union(&tok_wants).cloned().collect())
        } else {
            (rule_pos, rule_wants)
        };
        simplify(&mut wants);

        let found = self.found_at(pos, base, end);
        let (brace_help, unclosed) = self.bracket_problem(base, end, &found, &wants);
        let list = join_or(wants.iter().flat_map(Want::describe).collect());
        let (message, label) = match (&list, &found) {
            (Some(list), Found::NextDeclaration(_)) => (
                format!("expected {list} before the next declaration"),
                format!("expected {list} here"),
            ),
            (Some(list), _) => (
                format!("expected {list}, found {}", found.describe(self)),
                format!("expected {list}"),
            ),
            (None, Found::Token(..)) => (
                format!("unexpected {}", found.describe(self)),
                "unexpected here".to_string(),
            ),
            (None, Found::NextDeclaration(_)) => (
                "the declaration ends too early".to_string(),
                "the declaration ends here".to_string(),
            ),
            (None, Found::End(_)) => (
                format!("unexpected {}", found.describe(self)),
                "the text ends too early".to_string(),
            ),
        };
        let mut d = Diagnostic::new(Code::SyntaxError, found.span(self), message).with_label(label);
        if let Some((span, text)) = unclosed {
            d = d.with_secondary(span, text);
        }
        if let Some(help) = brace_help.or_else(|| self.token_help(&found, &wants)) {
            d = d.with_help(help);
        }
        d
    }

    /// Is `offset` right after a number, or inside a word (an identifier character on both
    /// sides)?
    fn glued(&self, offset: usize) -> bool {
        let bytes = self.text.as_bytes();
        let before = offset
            .checked_sub(1)
            .and_then(|i| bytes.get(i))
            .is_some_and(|b| is_word_byte(*b));
        if !before {
            return false;
        }
        let after = bytes.get(offset).is_some_and(|b| is_word_byte(*b));
        let i = self.tokens.partition_point(|t| t.end < offset);
        let after_number = self
            .tokens
            .get(i)
            .is_some_and(|t| t.end == offset && t.kind == TokenKind::Number);
        after || after_number
    }

    /// What the parser found at `offset` (absolute) inside the chunk `base..end`.
    fn found_at(&self, offset: usize, base: usize, end: usize) -> Found {
        let mut i = self.token_index_after(offset);
        while self.tokens.get(i).is_some_and(|t| is_comment(t.kind)) {
            i += 1;
        }
        match self.tokens.get(i) {
            Some(t) if t.start < end => {
                // Words and numbers written together (`30days`) are shown as one.
                let mut last = *t;
                while let Some(next) = self.tokens.get(i + 1) {
                    if next.start == last.end && is_wordish(last.kind) && is_wordish(next.kind) {
                        last = *next;
                        i += 1;
                    } else {
                        break;
                    }
                }
                Found::Token(*t, last.end)
            }
            _ => {
                let at = self.last_token_end(base, end);
                if end >= self.text.len() {
                    Found::End(at)
                } else {
                    Found::NextDeclaration(at)
                }
            }
        }
    }

    fn describe_token(&self, t: &Token) -> String {
        describe_token_text(t.kind, self.text.get(t.start..t.end).unwrap_or(""))
    }

    /// Help for an unbalanced bracket in the chunk, when the error is about one; plus a
    /// secondary label on the bracket that is never closed.
    fn bracket_problem(
        &self,
        base: usize,
        end: usize,
        found: &Found,
        wants: &BTreeSet<Want>,
    ) -> (Option<String>, Option<(Span, String)>) {
        let mut open: Vec<Token> = Vec::new();
        let mut stray_close: Option<Token> = None;
        for t in self.tokens_in(base, end) {
            match t.kind {
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => open.push(*t),
                TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                    if open.last().is_some_and(|o| closer(o.kind) == Some(t.kind)) {
                        open.pop();
                    } else if stray_close.is_none() {
                        stray_close = Some(*t);
                    }
                }
                _ => {}
            }
        }
        if let (Found::Token(t, _), Some(stray)) = (found, stray_close) {
            if t.start == stray.start && matches!(t.kind, TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket) {
                let text = self.describe_token(t);
                return (
                    Some(format!("this {text} has no matching opening bracket; remove it")),
                    None,
                );
            }
        }
        let Some(unclosed) = open.last() else {
            return (None, None);
        };
        let (o, c) = match unclosed.kind {
            TokenKind::LBrace => ("{", "}"),
            TokenKind::LParen => ("(", ")"),
            _ => ("[", "]"),
        };
        let at_end = !matches!(found, Found::Token(..));
        if at_end || wants.contains(&Want::Token(c.to_string())) {
            (
                Some(format!("every `{o}` needs a matching `{c}`")),
                Some((
                    self.span(unclosed.start, unclosed.end),
                    format!("this `{o}` is never closed"),
                )),
            )
        } else {
            (None, None)
        }
    }

    /// Help computed from the token that was found.
    fn token_help(&self, found: &Found, wants: &BTreeSet<Want>) -> Option<String> {
        let Found::Token(t, _) = found else {
            return None;
        };
        let text = self.text.get(t.start..t.end).unwrap_or("");
        if t.kind == TokenKind::Word && lexer::is_reserved(text) {
            let wants_name = wants.contains(&Want::Name) || wants.contains(&Want::Expression);
            if wants_name {
                return Some(format!("`{text}` is a reserved word; choose another name"));
            }
        }
        if text == "=" && (wants.contains(&Want::Operator) || wants.contains(&Want::Token("==".into()))) {
            return Some("use `==` to compare".into());
        }
        if text == "=" && wants.contains(&Want::Token(":".into())) {
            return Some("fields are written `name: value`".into());
        }
        if text == ":" && wants.contains(&Want::Token("=".into())) {
            return Some("write `=` here".into());
        }
        if text == "[" && wants.contains(&Want::Operator) {
            return Some(
                "lists and sets have no indexing: test their elements with `any x in xs: …`, `all`, `count` or `contains`"
                    .into(),
            );
        }
        if t.kind == TokenKind::Word && wants.contains(&Want::Operator) {
            match text {
                "AND" | "And" => return Some("write `and`".into()),
                "OR" | "Or" => return Some("write `or`".into()),
                _ => {}
            }
        }
        None
    }
}

/// Where a syntax error is.
enum Found {
    /// A token, and the end of the word it is glued to (`30` in `30days` ends at `s`).
    Token(Token, usize),
    /// The end of the file; the offset right after the last token.
    End(usize),
    /// The end of the declaration's text, where the next declaration starts.
    NextDeclaration(usize),
}

impl Found {
    fn span(&self, cx: &Cx) -> Span {
        match self {
            Found::Token(t, end) => cx.span(t.start, *end),
            Found::End(at) | Found::NextDeclaration(at) => cx.span(*at, *at),
        }
    }

    fn describe(&self, cx: &Cx) -> String {
        match self {
            Found::Token(t, end) => {
                let text = cx.text.get(t.start..*end).unwrap_or("");
                describe_token_text(t.kind, text)
            }
            Found::End(_) if cx.expression_mode => "the end of the expression".into(),
            Found::End(_) => "end of file".into(),
            Found::NextDeclaration(_) => "the next declaration".into(),
        }
    }
}

/// Something the parser expected, in words. The order of the variants is the order in
/// which they are listed in a message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    Expression,
    Name,
    Type,
    Str,
    WholeNumber,
    Number,
    Duration,
    Percent,
    Timestamp,
    Operator,
    RuleKeyword,
    DecisionClause,
    TestClause,
    Cell,
    Comparison,
    HitPolicy,
    CapScope,
    Field,
    FieldInit,
    Param,
    Declaration,
    /// A literal word or punctuation, e.g. `:` or `for`.
    Token(String),
    /// The end of the declaration (or expression).
    End,
}

const EXPRESSION_STARTERS: &[&str] = &[
    "not", "-", "exists", "(", "[", "{", "if", "any", "all", "count", "true", "false",
];
const OPERATORS: &[&str] = &[
    "or", "and", "==", "!=", "<=", ">=", "<", ">", "in", "contains", "??", "+", "-", "*", "/", "%", ".", "is", "with",
];
const COMPARISONS: &[&str] = &["==", "!=", "<=", ">=", "<", ">"];
const DECISION_WORDS: &[&str] = &[
    "placement",
    "channels",
    "candidates",
    "rank",
    "experiment",
    "max",
    "cap",
    "consent",
    "fallback",
    "ttl",
];
const TEST_WORDS: &[&str] = &[
    "now", "subject", "profile", "context", "consent", "catalog", "seen", "expect",
];

impl Want {
    /// The words for this expectation: usually one item, several for a choice of keywords
    /// (so that a list reads "`require`, `deny` or `}`").
    fn describe(&self) -> Vec<String> {
        let words = |ws: &[&str]| ws.iter().map(|w| format!("`{w}`")).collect();
        vec![match self {
            Want::RuleKeyword => return words(&["require", "deny"]),
            Want::HitPolicy => return words(&["first", "unique", "collect"]),
            Want::CapScope => return words(&["offer", "placement", "channel"]),
            Want::Expression => "an expression".into(),
            Want::Name => "a name".into(),
            Want::Type => "a type".into(),
            Want::Str => "a string".into(),
            Want::WholeNumber => "a whole number".into(),
            Want::Number => "a number".into(),
            Want::Duration => "a duration like `7d`".into(),
            Want::Percent => "a percentage like `50%`".into(),
            Want::Timestamp => "a timestamp like `@2026-11-24`".into(),
            Want::Operator => "an operator".into(),
            Want::DecisionClause => "a decision clause (`placement`, `candidates`, `rank`, …)".into(),
            Want::TestClause => "a test clause (`now`, `profile`, `expect`, …)".into(),
            Want::Cell => "a cell (`_`, a value, a comparison or `in [...]`)".into(),
            Want::Comparison => "a comparison".into(),
            Want::Field => "a field like `name: Type`".into(),
            Want::FieldInit => "a field like `name: value`".into(),
            Want::Param => "a parameter like `offer: Offer`".into(),
            Want::Declaration => "a declaration".into(),
            Want::Token(t) => format!("`{t}`"),
            Want::End => "the end of the declaration".into(),
        }]
    }

    /// Whether this expectation already includes `other` (so it need not be listed).
    fn covers(&self, other: &Want) -> bool {
        let lit = |list: &[&str]| matches!(other, Want::Token(t) if list.contains(&t.as_str()));
        match self {
            Want::Expression => {
                lit(EXPRESSION_STARTERS)
                    || matches!(
                        other,
                        Want::Name | Want::Str | Want::WholeNumber | Want::Number | Want::Duration | Want::Timestamp
                    )
            }
            Want::Operator => lit(OPERATORS) || matches!(other, Want::Comparison),
            Want::Cell => {
                lit(EXPRESSION_STARTERS)
                    || lit(COMPARISONS)
                    || lit(&["_", "in", "not"])
                    || matches!(other, Want::Comparison)
            }
            Want::Comparison => lit(COMPARISONS),
            Want::DecisionClause => lit(DECISION_WORDS),
            Want::TestClause => lit(TEST_WORDS),
            Want::RuleKeyword => lit(&["require", "deny"]),
            Want::HitPolicy => lit(&["first", "unique", "collect"]),
            Want::CapScope => lit(&["offer", "placement", "channel"]),
            _ => false,
        }
    }
}

/// Removes expectations that others include, and "the end" when anything else is possible;
/// a list of clause words becomes "a decision clause" or "a test clause".
fn simplify(wants: &mut BTreeSet<Want>) {
    let words = |list: &[&str]| {
        list.iter()
            .filter(|w| wants.contains(&Want::Token(w.to_string())))
            .count()
    };
    let has = |w: &str| wants.contains(&Want::Token(w.to_string()));
    let decision = words(DECISION_WORDS) >= 3 && has("candidates");
    let test = words(TEST_WORDS) >= 3 && has("expect");
    if decision {
        wants.insert(Want::DecisionClause);
    }
    if test {
        wants.insert(Want::TestClause);
    }
    let all: Vec<Want> = wants.iter().cloned().collect();
    wants.retain(|w| !all.iter().any(|o| o != w && o.covers(w)));
    // After an operand, a call's `(` and a record's `{` are possible too, but "an operator"
    // is what the reader is missing.
    if wants.contains(&Want::Operator) {
        wants.remove(&Want::Token("(".into()));
        wants.remove(&Want::Token("{".into()));
        wants.remove(&Want::FieldInit);
    }
    // Likewise a type could continue with `<` or `?`.
    let type_continuation = |w: &Want| matches!(w, Want::Token(t) if t == "<" || t == "?");
    if wants.iter().any(|w| !type_continuation(w)) {
        wants.retain(|w| !type_continuation(w));
    }
    if wants.len() > 1 {
        wants.remove(&Want::End);
    }
}

/// What a pest rule that failed means to a reader; `None` for rules that say nothing useful.
fn want_of_rule(r: Rule) -> Option<Want> {
    use Rule as R;
    Some(match r {
        R::expr
        | R::operand
        | R::op_not
        | R::op_neg
        | R::op_exists
        | R::paren
        | R::quantified
        | R::if_let
        | R::if_expr
        | R::list
        | R::typed_record
        | R::record
        | R::call
        | R::true_lit
        | R::false_lit
        | R::name => Want::Expression,
        R::op_or
        | R::op_and
        | R::op_eq
        | R::op_ne
        | R::op_le
        | R::op_ge
        | R::op_lt
        | R::op_gt
        | R::op_in
        | R::op_contains
        | R::op_coalesce
        | R::op_add
        | R::op_sub
        | R::op_mul
        | R::op_div
        | R::op_rem => Want::Operator,
        R::field_access => Want::Token(".".into()),
        R::is_test => Want::Token("is".into()),
        R::with_update => Want::Token("with".into()),
        R::ident | R::field_name | R::path | R::variant | R::quantifier => Want::Name,
        R::type_expr => Want::Type,
        R::optional_mark => Want::Token("?".into()),
        R::string | R::string_inner => Want::Str,
        R::int => Want::WholeNumber,
        R::float => Want::Number,
        R::duration => Want::Duration,
        R::percent => Want::Percent,
        R::timestamp => Want::Timestamp,
        R::rule | R::w_require | R::w_deny => Want::RuleKeyword,
        R::label => Want::Name,
        R::because => Want::Token("because".into()),
        R::score_clause => Want::Token("score".into()),
        R::boost_clause => Want::Token("boost".into()),
        R::hit_clause => Want::Token("hit".into()),
        R::given_clause => Want::Token("given".into()),
        R::row_clause | R::w_row => Want::Token("row".into()),
        R::default_clause => Want::Token("default".into()),
        R::salt_clause => Want::Token("salt".into()),
        R::holdout_clause => Want::Token("holdout".into()),
        R::layer_clause => Want::Token("layer".into()),
        R::variant_clause => Want::Token("variant".into()),
        R::hit_policy => Want::HitPolicy,
        R::cap_scope => Want::CapScope,
        R::cell | R::cell_any | R::cell_cmp | R::cell_in | R::cell_not_in | R::cell_eq => Want::Cell,
        R::cmp_op => Want::Comparison,
        R::placement_clause
        | R::channels_clause
        | R::candidates_clause
        | R::rank_clause
        | R::experiment_clause
        | R::max_clause
        | R::cap_clause
        | R::consent_clause
        | R::fallback_clause
        | R::ttl_clause => Want::DecisionClause,
        R::now_clause
        | R::subject_clause
        | R::profile_clause
        | R::context_clause
        | R::test_consent_clause
        | R::catalog_clause
        | R::seen_clause
        | R::expect_clause => Want::TestClause,
        R::field_decl => Want::Field,
        R::field_init | R::record_body => Want::FieldInit,
        R::params | R::param => Want::Param,
        R::import_braces => Want::Token("{".into()),
        R::package_decl
        | R::import_decl
        | R::enum_decl
        | R::schema_decl
        | R::const_decl
        | R::segment_decl
        | R::fn_decl
        | R::eligibility_decl
        | R::ranking_decl
        | R::table_decl
        | R::experiment_decl
        | R::decision_decl
        | R::test_decl => Want::Declaration,
        R::EOI => Want::End,
        // Keyword rules are named for their word: `kw_for`, `w_because`.
        r if is_skipped_keyword(r) => {
            let name = format!("{r:?}");
            let word = name.strip_prefix("kw_").or_else(|| name.strip_prefix("w_"))?;
            Want::Token(word.to_string())
        }
        _ => return None,
    })
}

/// What a literal token pest expected means; `None` for whitespace, comments, character
/// ranges, built-in rules and the pieces of numbers and words (`ms`, `_`, `e`).
fn want_of_literal(token: &str) -> Option<Want> {
    // `ParsingToken` displays ranges as `a..z` and built-in rules as `BUILTIN_RULE`; no
    // literal in the grammar looks like either.
    let is_range = token.chars().count() == 4 && token.get(1..3) == Some("..");
    if is_range || token == "BUILTIN_RULE" {
        return None;
    }
    match token {
        " " | "\t" | "\r" | "\n" | "\u{FEFF}" | "//" | "_" | "ms" | "s" | "m" | "h" | "d" | "w" | "e" | "E" => None,
        "\"" => Some(Want::Str),
        "@" => Some(Want::Timestamp),
        t => Some(Want::Token(t.to_string())),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(items: Vec<String>) -> Option<String> {
    let (last, rest) = items.split_last()?;
    if rest.is_empty() {
        return Some(last.clone());
    }
    Some(format!("{} or {}", rest.join(", "), last))
}

fn describe_token_text(kind: TokenKind, text: &str) -> String {
    match kind {
        TokenKind::String | TokenKind::UnterminatedString => "a string".into(),
        TokenKind::DocComment => "a doc comment".into(),
        _ => {
            let mut shown: String = text.chars().take(24).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("`{shown}`")
        }
    }
}

fn unknown_character_help(text: &str) -> Option<&'static str> {
    Some(match text {
        "'" => "strings are written with double quotes: `\"…\"`",
        "&" => "write `and`",
        "|" => "write `or`",
        "!" => "write `not`, or `!=` for \"not equal\"",
        ";" => "declarations and clauses don't end with `;`; remove it",
        "#" => "comments start with `//`",
        _ if text.chars().any(|c| c.is_alphabetic()) => {
            "names use ASCII letters, digits and `_`; other characters belong in strings"
        }
        _ => return None,
    })
}

fn is_comment(kind: TokenKind) -> bool {
    matches!(kind, TokenKind::LineComment | TokenKind::DocComment)
}

fn is_lexical_error(kind: TokenKind) -> bool {
    matches!(kind, TokenKind::UnterminatedString | TokenKind::Unknown)
}

fn is_wordish(kind: TokenKind) -> bool {
    matches!(kind, TokenKind::Word | TokenKind::Number)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn closer(open: TokenKind) -> Option<TokenKind> {
    match open {
        TokenKind::LBrace => Some(TokenKind::RBrace),
        TokenKind::LParen => Some(TokenKind::RParen),
        TokenKind::LBracket => Some(TokenKind::RBracket),
        _ => None,
    }
}

// ---- the AST builder ----------------------------------------------------------------------------

/// Builds the AST of one declaration from pest's tree. Methods return `None` only when the
/// tree does not have the shape the grammar guarantees (see the module invariant).
struct Builder<'c, 'a> {
    cx: &'c Cx<'a>,
    /// Offset of the parsed text in the file: pest's offsets are relative to the chunk.
    base: usize,
    diags: Vec<Diagnostic>,
    /// Expression nesting so far (see [`MAX_DEPTH`]).
    depth: usize,
    too_deep_reported: bool,
}

/// One element of the flat sequence `prefix* operand (infix prefix* operand)*`.
enum Item<'i> {
    Prefix(UnOp, Span),
    Infix(BinOp),
    Operand(Pair<'i, Rule>),
}

/// The children of a pair, without the keywords the builder has no use for (the grammar makes
/// keywords atomic rules, so they appear in the tree; see `grammar.pest`).
type Items<'i> = std::iter::Peekable<std::vec::IntoIter<Pair<'i, Rule>>>;

fn inner(p: Pair<'_, Rule>) -> Items<'_> {
    p.into_inner()
        .filter(|q| !is_skipped_keyword(q.as_rule()))
        .collect::<Vec<_>>()
        .into_iter()
        .peekable()
}

/// Keyword rules whose pairs carry no information (`require`, `deny` and `row` do: the AST
/// keeps their spans).
fn is_skipped_keyword(r: Rule) -> bool {
    use Rule as R;
    matches!(
        r,
        R::kw_package
            | R::kw_import
            | R::kw_enum
            | R::kw_schema
            | R::kw_segment
            | R::kw_const
            | R::kw_fn
            | R::kw_eligibility
            | R::kw_ranking
            | R::kw_table
            | R::kw_experiment
            | R::kw_decision
            | R::kw_test
            | R::kw_for
            | R::kw_if
            | R::kw_then
            | R::kw_else
            | R::kw_let
            | R::kw_in
            | R::kw_not
            | R::kw_with
            | R::kw_is
            | R::w_because
            | R::w_score
            | R::w_boost
            | R::w_when
            | R::w_hit
            | R::w_given
            | R::w_default
            | R::w_salt
            | R::w_holdout
            | R::w_layer
            | R::w_to
            | R::w_variant
            | R::w_placement
            | R::w_channels
            | R::w_candidates
            | R::w_rank
            | R::w_max
            | R::w_cap
            | R::w_per
            | R::w_consent
            | R::w_fallback
            | R::w_ttl
            | R::w_now
            | R::w_subject
            | R::w_profile
            | R::w_context
            | R::w_catalog
            | R::w_seen
            | R::w_times
            | R::w_ago
            | R::w_expect
    )
}

/// The next pair, if it has rule `want`.
fn take<'i>(it: &mut Items<'i>, want: Rule) -> Option<Pair<'i, Rule>> {
    it.next().filter(|p| p.as_rule() == want)
}

/// The next pair if it has rule `want`; otherwise nothing is consumed.
fn take_if<'i>(it: &mut Items<'i>, want: Rule) -> Option<Pair<'i, Rule>> {
    if it.peek().is_some_and(|p| p.as_rule() == want) {
        it.next()
    } else {
        None
    }
}

impl<'c, 'a> Builder<'c, 'a> {
    fn new(cx: &'c Cx<'a>, base: usize) -> Self {
        Builder {
            cx,
            base,
            diags: Vec::new(),
            depth: 0,
            too_deep_reported: false,
        }
    }

    /// A pair's span in the file. pest includes the whitespace and comments it skipped before
    /// a repetition that then matched nothing (`expr` ends with `(infix operand)*`), so the
    /// end is pulled back to the last token inside the span.
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        let (start, end) = (self.base + s.start(), self.base + s.end());
        let end = self
            .cx
            .tokens_in(start, end)
            .iter()
            .rev()
            .find(|t| !is_comment(t.kind))
            .map_or(end, |t| t.end.min(end));
        self.cx.span(start, end)
    }

    fn ident(&self, p: Pair<'_, Rule>) -> ast::Ident {
        ast::Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn next_ident(&self, it: &mut Items<'_>) -> Option<ast::Ident> {
        take(it, Rule::ident).map(|p| self.ident(p))
    }

    fn doc(&self, span: Span) -> Option<String> {
        self.cx.doc_before(span.start as usize, 0)
    }

    /// E0003 with an optional help and note.
    fn invalid_literal(&mut self, span: Span, err: LitError) {
        let mut d = Diagnostic::new(Code::InvalidLiteral, span, err.message).with_label("invalid literal");
        if let Some(help) = err.help {
            d = d.with_help(help);
        }
        if let Some(note) = err.note {
            d = d.with_note(note);
        }
        self.diags.push(d);
    }

    // ---- declarations -----------------------------------------------------------------------

    fn declaration(&mut self, p: Pair<'_, Rule>, doc: Option<String>) -> Option<Parsed> {
        let span = self.span(&p);
        let r = p.as_rule();
        let mut it = inner(p);
        let kind = match r {
            Rule::package_decl => {
                let path = self.path(take(&mut it, Rule::path)?)?;
                return Some(Parsed::Package(path, span));
            }
            Rule::import_decl => return self.import(it, span, doc),
            Rule::enum_decl => {
                let name = self.next_ident(&mut it)?;
                let mut variants = Vec::new();
                for v in it {
                    let vspan = self.span(&v);
                    let ident = self.ident(take(&mut inner(v), Rule::ident)?);
                    variants.push(ast::Variant {
                        doc: self.doc(vspan),
                        name: ident,
                    });
                }
                ast::DeclKind::Enum(ast::EnumDecl { name, variants })
            }
            Rule::schema_decl => {
                let name = self.next_ident(&mut it)?;
                let mut fields = Vec::new();
                for f in it {
                    let fspan = self.span(&f);
                    let mut fi = inner(f);
                    let fname = self.ident(take(&mut fi, Rule::field_name)?);
                    let ty = self.type_expr(take(&mut fi, Rule::type_expr)?)?;
                    fields.push(ast::FieldDecl {
                        doc: self.doc(fspan),
                        name: fname,
                        ty,
                        span: fspan,
                    });
                }
                ast::DeclKind::Schema(ast::SchemaDecl { name, fields })
            }
            Rule::const_decl => {
                let name = self.next_ident(&mut it)?;
                let ty = self.type_expr(take(&mut it, Rule::type_expr)?)?;
                let value = self.expr(take(&mut it, Rule::expr)?)?;
                ast::DeclKind::Const(ast::ConstDecl { name, ty, value })
            }
            Rule::segment_decl => {
                let name = self.next_ident(&mut it)?;
                let value = self.expr(take(&mut it, Rule::expr)?)?;
                ast::DeclKind::Segment(ast::SegmentDecl { name, value })
            }
            Rule::fn_decl => {
                let name = self.next_ident(&mut it)?;
                let params = match take_if(&mut it, Rule::params) {
                    Some(ps) => self.params(ps)?,
                    None => Vec::new(),
                };
                let ret = self.type_expr(take(&mut it, Rule::type_expr)?)?;
                let body = self.expr(take(&mut it, Rule::expr)?)?;
                ast::DeclKind::Fn(ast::FnDecl {
                    name,
                    params,
                    ret,
                    body,
                })
            }
            Rule::eligibility_decl => {
                let name = self.next_ident(&mut it)?;
                let binder = self.param(take(&mut it, Rule::param)?)?;
                let rules = it.map(|r| self.rule(r)).collect::<Option<Vec<_>>>()?;
                ast::DeclKind::Eligibility(ast::EligibilityDecl { name, binder, rules })
            }
            Rule::ranking_decl => {
                let name = self.next_ident(&mut it)?;
                let binder = self.param(take(&mut it, Rule::param)?)?;
                let items = it.map(|r| self.rank_item(r)).collect::<Option<Vec<_>>>()?;
                ast::DeclKind::Ranking(ast::RankingDecl { name, binder, items })
            }
            Rule::table_decl => {
                let name = self.next_ident(&mut it)?;
                let params = match take_if(&mut it, Rule::params) {
                    Some(ps) => self.params(ps)?,
                    None => Vec::new(),
                };
                let output = self.type_expr(take(&mut it, Rule::type_expr)?)?;
                let items = it.map(|r| self.table_item(r)).collect::<Option<Vec<_>>>()?;
                ast::DeclKind::Table(ast::TableDecl {
                    name,
                    params,
                    output,
                    items,
                })
            }
            Rule::experiment_decl => {
                let name = self.next_ident(&mut it)?;
                let items = it.map(|r| self.experiment_item(r)).collect::<Option<Vec<_>>>()?;
                ast::DeclKind::Experiment(ast::ExperimentDecl { name, items })
            }
            Rule::decision_decl => {
                let name = self.next_ident(&mut it)?;
                let clauses = it.map(|r| self.decision_clause(r)).collect::<Option<Vec<_>>>()?;
                ast::DeclKind::Decision(ast::DecisionDecl { name, clauses })
            }
            Rule::test_decl => {
                let name = self.string(take(&mut it, Rule::string)?)?;
                let clauses = it.map(|r| self.test_clause(r)).collect::<Option<Vec<_>>>()?;
                ast::DeclKind::Test(ast::TestDecl { name, clauses })
            }
            _ => return None,
        };
        Some(Parsed::Decl(ast::Decl { doc, kind, span }))
    }

    fn path(&self, p: Pair<'_, Rule>) -> Option<ast::Path> {
        let span = self.span(&p);
        let segments: Vec<ast::Ident> = inner(p).map(|s| self.ident(s)).collect();
        (!segments.is_empty()).then_some(ast::Path { segments, span })
    }

    /// `import a.b.C` (the last segment is the member) or `import a.b.{C, D}`.
    fn import(&mut self, mut it: Items<'_>, span: Span, doc: Option<String>) -> Option<Parsed> {
        let path = self.path(take(&mut it, Rule::path)?)?;
        if let Some(braces) = take_if(&mut it, Rule::import_braces) {
            let members = inner(braces).map(|m| self.ident(m)).collect();
            return Some(Parsed::Import(ast::Import {
                package: path,
                members,
                braced: true,
                span,
            }));
        }
        let mut segments = path.segments;
        let member = segments.pop()?;
        let Some(first) = segments.first() else {
            self.diags.push(
                Diagnostic::new(
                    Code::SyntaxError,
                    member.span,
                    "an import names a package and a member, e.g. `import retail.schema.Offer`",
                )
                .with_label("only a package name")
                .with_help(format!(
                    "name what to import: `import {0}.Name` or `import {0}.{{A, B}}`",
                    member.name
                )),
            );
            return Some(Parsed::Decl(ast::Decl {
                doc,
                kind: ast::DeclKind::Error,
                span,
            }));
        };
        let package_span = first.span.to(segments.last().map_or(first.span, |s| s.span));
        Some(Parsed::Import(ast::Import {
            package: ast::Path {
                segments,
                span: package_span,
            },
            members: vec![member],
            braced: false,
            span,
        }))
    }

    fn type_expr(&mut self, p: Pair<'_, Rule>) -> Option<ast::TypeExpr> {
        let span = self.span(&p);
        let mut it = inner(p);
        let name = self.next_ident(&mut it)?;
        let mut args = Vec::new();
        let mut marks = Vec::new();
        for q in it {
            match q.as_rule() {
                Rule::type_expr => args.push(self.type_expr(q)?),
                Rule::optional_mark => marks.push(self.span(&q)),
                _ => return None,
            }
        }
        if let (Some(second), Some(last)) = (marks.get(1), marks.last()) {
            // The AST cannot hold `T??`, so the parser reports it (the code is the type
            // checker's: it is about a type, not about syntax).
            self.diags.push(
                Diagnostic::new(Code::InvalidType, second.to(*last), "a type can be optional only once")
                    .with_label("extra `?`")
                    .with_help(format!(
                        "write `{}?`",
                        self.cx.slice(span.to(marks[0])).trim_end_matches('?')
                    )),
            );
        }
        Some(ast::TypeExpr {
            name,
            args,
            optional: !marks.is_empty(),
            span,
        })
    }

    fn param(&mut self, p: Pair<'_, Rule>) -> Option<ast::Param> {
        let span = self.span(&p);
        let mut it = inner(p);
        let name = self.next_ident(&mut it)?;
        let ty = self.type_expr(take(&mut it, Rule::type_expr)?)?;
        Some(ast::Param { name, ty, span })
    }

    fn params(&mut self, p: Pair<'_, Rule>) -> Option<Vec<ast::Param>> {
        inner(p).map(|q| self.param(q)).collect()
    }

    fn rule(&mut self, p: Pair<'_, Rule>) -> Option<ast::Rule> {
        let span = self.span(&p);
        let mut it = inner(p);
        let kw = it.next()?;
        let kind = match kw.as_rule() {
            Rule::w_require => ast::RuleKind::Require,
            Rule::w_deny => ast::RuleKind::Deny,
            _ => return None,
        };
        let keyword = self.span(&kw);
        let label = match take_if(&mut it, Rule::label) {
            Some(l) => Some(self.next_ident(&mut inner(l))?),
            None => None,
        };
        let cond = self.expr(take(&mut it, Rule::expr)?)?;
        let reason = match take_if(&mut it, Rule::because) {
            Some(b) => Some(self.string(take(&mut inner(b), Rule::string)?)?),
            None => None,
        };
        Some(ast::Rule {
            doc: self.doc(span),
            kind,
            keyword,
            label,
            cond,
            reason,
            span,
        })
    }

    fn rank_item(&mut self, p: Pair<'_, Rule>) -> Option<ast::RankItem> {
        let span = self.span(&p);
        let r = p.as_rule();
        let mut it = inner(p);
        match r {
            Rule::score_clause => Some(ast::RankItem::Score {
                expr: self.expr(take(&mut it, Rule::expr)?)?,
                span,
            }),
            Rule::boost_clause => {
                let label = match take_if(&mut it, Rule::label) {
                    Some(l) => Some(self.next_ident(&mut inner(l))?),
                    None => None,
                };
                let factor = self.expr(take(&mut it, Rule::expr)?)?;
                let cond = self.expr(take(&mut it, Rule::expr)?)?;
                Some(ast::RankItem::Boost {
                    label,
                    factor,
                    cond,
                    span,
                })
            }
            _ => None,
        }
    }

    fn table_item(&mut self, p: Pair<'_, Rule>) -> Option<ast::TableItem> {
        let span = self.span(&p);
        let r = p.as_rule();
        let mut it = inner(p);
        Some(match r {
            Rule::hit_clause => {
                let policy = match take(&mut it, Rule::hit_policy)?.as_str() {
                    "first" => ast::HitPolicy::First,
                    "unique" => ast::HitPolicy::Unique,
                    "collect" => ast::HitPolicy::Collect,
                    _ => return None,
                };
                ast::TableItem::Hit { policy, span }
            }
            Rule::given_clause => ast::TableItem::Given {
                columns: it.map(|e| self.expr(e)).collect::<Option<Vec<_>>>()?,
                span,
            },
            Rule::row_clause => {
                let keyword = self.span(&take(&mut it, Rule::w_row)?);
                let mut cells = Vec::new();
                let mut output = None;
                for q in it {
                    match q.as_rule() {
                        Rule::cell => cells.push(self.cell(q)?),
                        Rule::expr => output = Some(self.expr(q)?),
                        _ => return None,
                    }
                }
                ast::TableItem::Row(ast::Row {
                    keyword,
                    cells,
                    output: output?,
                    span,
                })
            }
            Rule::default_clause => ast::TableItem::Default {
                value: self.expr(take(&mut it, Rule::expr)?)?,
                span,
            },
            _ => return None,
        })
    }

    fn cell(&mut self, p: Pair<'_, Rule>) -> Option<ast::Cell> {
        let span = self.span(&p);
        let choice = inner(p).next()?;
        let r = choice.as_rule();
        let mut it = inner(choice);
        let kind = match r {
            Rule::cell_any => ast::CellKind::Any,
            Rule::cell_eq => ast::CellKind::Compare(ast::CmpOp::Eq, self.expr(take(&mut it, Rule::expr)?)?),
            Rule::cell_cmp => {
                let op = match take(&mut it, Rule::cmp_op)?.as_str() {
                    "==" => ast::CmpOp::Eq,
                    "!=" => ast::CmpOp::Ne,
                    "<" => ast::CmpOp::Lt,
                    "<=" => ast::CmpOp::Le,
                    ">" => ast::CmpOp::Gt,
                    ">=" => ast::CmpOp::Ge,
                    _ => return None,
                };
                ast::CellKind::Compare(op, self.expr(take(&mut it, Rule::expr)?)?)
            }
            Rule::cell_in | Rule::cell_not_in => ast::CellKind::In {
                negated: r == Rule::cell_not_in,
                values: it.map(|e| self.expr(e)).collect::<Option<Vec<_>>>()?,
            },
            _ => return None,
        };
        Some(ast::Cell { kind, span })
    }

    fn experiment_item(&mut self, p: Pair<'_, Rule>) -> Option<ast::ExperimentItem> {
        let span = self.span(&p);
        let r = p.as_rule();
        let mut it = inner(p);
        Some(match r {
            Rule::salt_clause => ast::ExperimentItem::Salt {
                value: self.string(take(&mut it, Rule::string)?)?,
                span,
            },
            Rule::holdout_clause => ast::ExperimentItem::Holdout {
                weight: self.percent(take(&mut it, Rule::percent)?),
                span,
            },
            Rule::variant_clause => {
                let name = self.next_ident(&mut it)?;
                let weight = self.percent(take(&mut it, Rule::percent)?);
                ast::ExperimentItem::Variant { name, weight, span }
            }
            Rule::layer_clause => {
                let name = self.next_ident(&mut it)?;
                let from = self.percent(take(&mut it, Rule::percent)?);
                let to = self.percent(take(&mut it, Rule::percent)?);
                ast::ExperimentItem::Layer { name, from, to, span }
            }
            _ => return None,
        })
    }

    fn decision_clause(&mut self, p: Pair<'_, Rule>) -> Option<ast::DecisionClause> {
        use ast::DecisionClauseKind as K;
        let span = self.span(&p);
        let r = p.as_rule();
        let mut it = inner(p);
        let kind = match r {
            Rule::placement_clause => K::Placement(self.string(take(&mut it, Rule::string)?)?),
            Rule::channels_clause => K::Channels(it.map(|i| self.ident(i)).collect()),
            Rule::candidates_clause => K::Candidates(self.next_ident(&mut it)?),
            Rule::rank_clause => K::Rank(self.next_ident(&mut it)?),
            Rule::experiment_clause => K::Experiment(self.next_ident(&mut it)?),
            Rule::max_clause => K::Max(self.int_lit(take(&mut it, Rule::int)?)),
            Rule::cap_clause => {
                let scope = match take(&mut it, Rule::cap_scope)?.as_str() {
                    "offer" => ast::CapScope::Offer,
                    "placement" => ast::CapScope::Placement,
                    "channel" => ast::CapScope::Channel,
                    _ => return None,
                };
                let limit = self.int_lit(take(&mut it, Rule::int)?);
                let window = self.duration_lit(take(&mut it, Rule::duration)?);
                K::Cap { scope, limit, window }
            }
            Rule::consent_clause => K::Consent(self.next_ident(&mut it)?),
            Rule::fallback_clause => K::Fallback(self.string(take(&mut it, Rule::string)?)?),
            Rule::ttl_clause => K::Ttl(self.duration_lit(take(&mut it, Rule::duration)?)),
            _ => return None,
        };
        Some(ast::DecisionClause { kind, span })
    }

    fn test_clause(&mut self, p: Pair<'_, Rule>) -> Option<ast::TestClause> {
        use ast::TestClauseKind as K;
        let span = self.span(&p);
        let r = p.as_rule();
        let mut it = inner(p);
        let kind = match r {
            Rule::now_clause => K::Now(self.expr(take(&mut it, Rule::expr)?)?),
            Rule::subject_clause => K::Subject(self.string(take(&mut it, Rule::string)?)?),
            Rule::profile_clause => K::Profile(self.expr(take(&mut it, Rule::expr)?)?),
            Rule::context_clause => K::Context(self.expr(take(&mut it, Rule::expr)?)?),
            Rule::test_consent_clause => K::Consent(it.map(|i| self.ident(i)).collect()),
            Rule::catalog_clause => K::Catalog(self.expr(take(&mut it, Rule::expr)?)?),
            Rule::seen_clause => {
                let offer = self.string(take(&mut it, Rule::string)?)?;
                let times = self.int_lit(take(&mut it, Rule::int)?);
                let ago = take_if(&mut it, Rule::duration).map(|d| self.duration_lit(d));
                K::Seen { offer, times, ago }
            }
            Rule::expect_clause => K::Expect(self.expr(take(&mut it, Rule::expr)?)?),
            _ => return None,
        };
        Some(ast::TestClause { kind, span })
    }

    // ---- literals outside expressions ----------------------------------------------------------
    //
    // These have no error node, so an invalid one is reported and replaced by the nearest
    // valid value (saturated or truncated); the declaration itself stays usable.

    fn string(&mut self, p: Pair<'_, Rule>) -> Option<ast::StringLit> {
        let span = self.span(&p);
        let raw = take(&mut inner(p), Rule::string_inner)?;
        let start = self.base + raw.as_span().start();
        let (value, errors) = decode_string(raw.as_str());
        for (range, err) in errors {
            let espan = self.cx.span(start + range.start, start + range.end);
            self.invalid_literal(espan, err);
        }
        Some(ast::StringLit { value, span })
    }

    fn int_lit(&mut self, p: Pair<'_, Rule>) -> ast::IntLit {
        let span = self.span(&p);
        let value = parse_int(p.as_str()).unwrap_or_else(|err| {
            self.invalid_literal(span, err);
            i64::MAX
        });
        ast::IntLit { value, span }
    }

    fn duration_lit(&mut self, p: Pair<'_, Rule>) -> ast::DurationLit {
        let span = self.span(&p);
        let millis = parse_duration(p.as_str()).unwrap_or_else(|err| {
            self.invalid_literal(span, err);
            i64::MAX
        });
        ast::DurationLit { millis, span }
    }

    fn percent(&mut self, p: Pair<'_, Rule>) -> ast::Percent {
        let span = self.span(&p);
        let (basis_points, err) = parse_percent(p.as_str());
        let exact = err.is_none();
        if let Some(err) = err {
            self.invalid_literal(span, err);
        }
        ast::Percent {
            basis_points,
            exact,
            span,
        }
    }

    // ---- expressions ---------------------------------------------------------------------------

    fn error_expr(span: Span) -> ast::Expr {
        ast::Expr {
            kind: ast::ExprKind::Error,
            span,
        }
    }

    /// `prefix* operand (infix prefix* operand)*`, with precedence applied.
    fn expr(&mut self, p: Pair<'_, Rule>) -> Option<ast::Expr> {
        let span = self.span(&p);
        let mut items = Vec::new();
        let mut cost = NESTED_COST;
        for q in inner(p) {
            let item = match q.as_rule() {
                Rule::op_not => Item::Prefix(UnOp::Not, self.span(&q)),
                Rule::op_neg => Item::Prefix(UnOp::Neg, self.span(&q)),
                Rule::op_exists => Item::Prefix(UnOp::Exists, self.span(&q)),
                Rule::operand => {
                    cost += inner(q.clone()).count();
                    items.push(Item::Operand(q));
                    continue;
                }
                other => Item::Infix(binop_of(other)?),
            };
            if matches!(item, Item::Prefix(..)) {
                cost += 1;
            }
            items.push(item);
        }
        if self.depth + cost > MAX_DEPTH {
            if !self.too_deep_reported {
                self.too_deep_reported = true;
                self.diags.push(
                    Diagnostic::new(Code::SyntaxError, span, "this expression is nested too deeply")
                        .with_label("too deep")
                        .with_help("split it into smaller segments, constants or functions"),
                );
            }
            return Some(Self::error_expr(span));
        }
        self.depth += cost;
        let mut pos = 0;
        let result = self.climb(&items, &mut pos, 0);
        self.depth -= cost;
        result.filter(|_| pos == items.len())
    }

    /// Precedence climbing over `items[*pos..]`: parses operators binding at least `min`.
    fn climb(&mut self, items: &[Item<'_>], pos: &mut usize, min: u8) -> Option<ast::Expr> {
        let mut lhs = match items.get(*pos)? {
            Item::Prefix(op, op_span) => {
                let (op, op_span) = (*op, *op_span);
                *pos += 1;
                if let Some(e) = self.most_negative_int(op, op_span, items, pos) {
                    e
                } else {
                    // `not` takes comparisons and tighter (`not a == b` is `not (a == b)`), but
                    // never more than its context allows; `-` and `exists` take one operand.
                    let bp = if op == UnOp::Not { min.max(COMPARISON) } else { u8::MAX };
                    let operand = self.climb(items, pos, bp)?;
                    ast::Expr {
                        span: op_span.to(operand.span),
                        kind: ast::ExprKind::Unary {
                            op,
                            operand: Box::new(operand),
                        },
                    }
                }
            }
            Item::Operand(p) => {
                let p = p.clone();
                *pos += 1;
                self.operand(p)?
            }
            Item::Infix(_) => return None,
        };
        let mut chained = false;
        while let Some(Item::Infix(op)) = items.get(*pos) {
            let op = *op;
            let prec = op.precedence();
            if prec < min {
                break;
            }
            *pos += 1;
            // All binary operators are left-associative.
            let rhs = self.climb(items, pos, prec + 1)?;
            let span = lhs.span.to(rhs.span);
            if prec == COMPARISON && (chained || is_comparison(&lhs)) {
                if !chained {
                    self.chained_comparison(&lhs, op, &rhs, span);
                }
                chained = true;
                lhs = Self::error_expr(span);
                continue;
            }
            lhs = ast::Expr {
                kind: ast::ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Some(lhs)
    }

    /// `-9223372036854775808` is a valid `Int` although its digits alone are not: fold the sign
    /// into the literal in that one case.
    fn most_negative_int(&mut self, op: UnOp, op_span: Span, items: &[Item<'_>], pos: &mut usize) -> Option<ast::Expr> {
        if op != UnOp::Neg {
            return None;
        }
        let Some(Item::Operand(p)) = items.get(*pos) else {
            return None;
        };
        let mut parts = inner(p.clone());
        let lit = parts.next().filter(|q| q.as_rule() == Rule::int)?;
        if parts.next().is_some() || lit.as_str().replace('_', "") != "9223372036854775808" {
            return None;
        }
        let span = op_span.to(self.span(p));
        *pos += 1;
        Some(ast::Expr {
            kind: ast::ExprKind::Int(i64::MIN),
            span,
        })
    }

    fn chained_comparison(&mut self, lhs: &ast::Expr, op: BinOp, rhs: &ast::Expr, span: Span) {
        let mut d = Diagnostic::new(Code::SyntaxError, span, "comparisons can't be chained")
            .with_label("two comparisons in a row");
        let mut help = "combine them with `and`: `a < b and b < c`".to_string();
        if let ast::ExprKind::Binary {
            op: op1,
            lhs: a,
            rhs: b,
        } = &lhs.kind
        {
            let (a, b, c) = (self.cx.slice(a.span), self.cx.slice(b.span), self.cx.slice(rhs.span));
            let suggestion = format!("{a} {} {b} and {b} {} {c}", op1.symbol(), op.symbol());
            if suggestion.len() <= 60 && !suggestion.contains('\n') {
                help = format!("combine them with `and`: `{suggestion}`");
            }
        }
        d = d.with_help(help);
        self.diags.push(d);
    }

    /// A primary followed by postfixes (field access, `is`, `with`), which bind tightest.
    fn operand(&mut self, p: Pair<'_, Rule>) -> Option<ast::Expr> {
        let mut it = inner(p);
        let mut e = self.primary(it.next()?)?;
        for post in it {
            let span = e.span.to(self.span(&post));
            let r = post.as_rule();
            let mut pi = inner(post);
            let kind = match r {
                Rule::field_access => ast::ExprKind::Field {
                    base: Box::new(e),
                    field: self.ident(take(&mut pi, Rule::field_name)?),
                },
                Rule::is_test => ast::ExprKind::Is {
                    experiment: Box::new(e),
                    variant: self.next_ident(&mut pi)?,
                },
                Rule::with_update => ast::ExprKind::With {
                    base: Box::new(e),
                    fields: self.record_body(take(&mut pi, Rule::record_body)?)?,
                },
                _ => return None,
            };
            e = ast::Expr { kind, span };
        }
        Some(e)
    }

    fn exprs(&mut self, it: Items<'_>) -> Option<Vec<ast::Expr>> {
        it.map(|q| self.expr(q)).collect()
    }

    fn record_body(&mut self, p: Pair<'_, Rule>) -> Option<Vec<ast::FieldInit>> {
        inner(p)
            .map(|f| {
                let span = self.span(&f);
                let mut fi = inner(f);
                let name = self.ident(take(&mut fi, Rule::field_name)?);
                let value = self.expr(take(&mut fi, Rule::expr)?)?;
                Some(ast::FieldInit { name, value, span })
            })
            .collect()
    }

    /// A primary expression. Each compound form has its own function so that the frames on
    /// the recursive path (expression → operand → primary → expression) stay small even in
    /// unoptimised builds, where a large `match` gets a large frame.
    fn primary(&mut self, p: Pair<'_, Rule>) -> Option<ast::Expr> {
        use ast::ExprKind as K;
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::paren => K::Paren(Box::new(self.expr(take(&mut inner(p), Rule::expr)?)?)),
            Rule::quantified => self.quantified(p)?,
            Rule::if_let => self.if_let(p)?,
            Rule::if_expr => self.if_expr(p)?,
            Rule::list => K::List(self.exprs(inner(p))?),
            Rule::typed_record | Rule::record => self.record(p)?,
            Rule::call => self.call(p)?,
            Rule::name => K::Name(self.next_ident(&mut inner(p))?),
            _ => self.literal(p, span)?,
        };
        Some(ast::Expr { kind, span })
    }

    fn quantified(&mut self, p: Pair<'_, Rule>) -> Option<ast::ExprKind> {
        let mut it = inner(p);
        let quantifier = match take(&mut it, Rule::quantifier)?.as_str() {
            "any" => ast::Quantifier::Any,
            "all" => ast::Quantifier::All,
            "count" => ast::Quantifier::Count,
            _ => return None,
        };
        let var = self.next_ident(&mut it)?;
        let collection = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        let body = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        Some(ast::ExprKind::Quantified {
            quantifier,
            var,
            collection,
            body,
        })
    }

    fn if_let(&mut self, p: Pair<'_, Rule>) -> Option<ast::ExprKind> {
        let mut it = inner(p);
        let binding = self.next_ident(&mut it)?;
        let value = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        let then = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        let otherwise = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        Some(ast::ExprKind::IfLet {
            binding,
            value,
            then,
            otherwise,
        })
    }

    fn if_expr(&mut self, p: Pair<'_, Rule>) -> Option<ast::ExprKind> {
        let mut it = inner(p);
        let cond = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        let then = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        let otherwise = Box::new(self.expr(take(&mut it, Rule::expr)?)?);
        Some(ast::ExprKind::If { cond, then, otherwise })
    }

    /// `Offer { … }` or `{ … }`.
    fn record(&mut self, p: Pair<'_, Rule>) -> Option<ast::ExprKind> {
        let mut it = inner(p);
        let ty = take_if(&mut it, Rule::ident).map(|i| self.ident(i));
        let fields = self.record_body(take(&mut it, Rule::record_body)?)?;
        Some(ast::ExprKind::Record { ty, fields })
    }

    fn call(&mut self, p: Pair<'_, Rule>) -> Option<ast::ExprKind> {
        let mut it = inner(p);
        let func = self.next_ident(&mut it)?;
        let args = self.exprs(it)?;
        Some(ast::ExprKind::Call { func, args })
    }

    /// A literal; an invalid one is reported and becomes an error node.
    fn literal(&mut self, p: Pair<'_, Rule>, span: Span) -> Option<ast::ExprKind> {
        use ast::ExprKind as K;
        let text = p.as_str();
        let value = match p.as_rule() {
            Rule::true_lit => Ok(K::Bool(true)),
            Rule::false_lit => Ok(K::Bool(false)),
            Rule::string => Ok(K::String(self.string(p)?.value)),
            Rule::int => parse_int(text).map(K::Int),
            Rule::float => parse_float(text).map(K::Float),
            Rule::duration => parse_duration(text).map(K::Duration),
            Rule::timestamp => parse_timestamp(text).map(K::Timestamp),
            _ => return None,
        };
        Some(value.unwrap_or_else(|err| {
            self.invalid_literal(span, err);
            K::Error
        }))
    }
}

fn binop_of(r: Rule) -> Option<BinOp> {
    Some(match r {
        Rule::op_or => BinOp::Or,
        Rule::op_and => BinOp::And,
        Rule::op_eq => BinOp::Eq,
        Rule::op_ne => BinOp::Ne,
        Rule::op_lt => BinOp::Lt,
        Rule::op_le => BinOp::Le,
        Rule::op_gt => BinOp::Gt,
        Rule::op_ge => BinOp::Ge,
        Rule::op_in => BinOp::In,
        Rule::op_contains => BinOp::Contains,
        Rule::op_coalesce => BinOp::Coalesce,
        Rule::op_add => BinOp::Add,
        Rule::op_sub => BinOp::Sub,
        Rule::op_mul => BinOp::Mul,
        Rule::op_div => BinOp::Div,
        Rule::op_rem => BinOp::Rem,
        _ => return None,
    })
}

fn is_comparison(e: &ast::Expr) -> bool {
    matches!(&e.kind, ast::ExprKind::Binary { op, .. } if op.precedence() == COMPARISON)
}

// ---- literals -----------------------------------------------------------------------------------
//
// The grammar has already checked the shape of each literal (digits, units, characters); these
// functions compute values and check ranges.

/// Why a literal is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LitError {
    message: String,
    help: Option<String>,
    note: Option<String>,
}

impl LitError {
    fn new(message: impl Into<String>) -> LitError {
        LitError {
            message: message.into(),
            help: None,
            note: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> LitError {
        self.help = Some(help.into());
        self
    }

    fn note(mut self, note: impl Into<String>) -> LitError {
        self.note = Some(note.into());
        self
    }
}

fn digits_without_underscores(text: &str) -> String {
    text.chars().filter(|c| *c != '_').collect()
}

/// `1_000` → 1000.
fn parse_int(text: &str) -> Result<i64, LitError> {
    digits_without_underscores(text).parse::<i64>().map_err(|_| {
        LitError::new("integer literal out of range")
            .help("integers are between -9223372036854775808 and 9223372036854775807")
    })
}

fn parse_float(text: &str) -> Result<f64, LitError> {
    match digits_without_underscores(text).parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(LitError::new("float literal out of range").help("floats are at most about 1.8e308")),
    }
}

/// `30d` → milliseconds.
fn parse_duration(text: &str) -> Result<i64, LitError> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: i64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(LitError::new(format!("unknown duration unit `{unit}`"))),
    };
    digits_without_underscores(number)
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| {
            LitError::new("duration literal out of range").help("durations are at most about 292 million years")
        })
}

/// `33.34%` → 3334 basis points, exactly. Returns the value to use even when invalid (more
/// than two decimals are rounded to the nearest hundredth, which the help suggests; too large
/// saturates), with the problem.
fn parse_percent(text: &str) -> (u32, Option<LitError>) {
    let body = text.strip_suffix('%').unwrap_or(text);
    let (whole, decimals) = body.split_once('.').unwrap_or((body, ""));
    let mut hundredths = decimals.chars().take(2).collect::<String>();
    while hundredths.len() < 2 {
        hundredths.push('0');
    }
    let round_up = decimals.len() > 2 && decimals[2..].starts_with(['5', '6', '7', '8', '9']);
    let value = digits_without_underscores(whole)
        .parse::<u64>()
        .ok()
        .and_then(|w| w.checked_mul(100))
        .and_then(|w| w.checked_add(hundredths.parse::<u64>().ok()?))
        .map(|bp| bp + u64::from(round_up))
        .and_then(|bp| u32::try_from(bp).ok());
    match value {
        Some(bp) if decimals.len() > 2 => (
            bp,
            Some(LitError::new("percentages have at most two decimals").help(format!(
                "write `{}.{:02}%`",
                bp / 100,
                bp % 100
            ))),
        ),
        Some(bp) => (bp, None),
        None => (
            u32::MAX,
            Some(LitError::new("percentage out of range").help("weights are at most `100%`")),
        ),
    }
}

const TIMESTAMP_HELP: &str = "write timestamps as `@2026-11-24` or `@2026-11-24T10:30:00Z`";

/// `@2026-11-24`, `@2026-11-24T10:30Z`, `@2026-11-24T10:30:00.250+01:00` → milliseconds since
/// the Unix epoch (UTC).
fn parse_timestamp(text: &str) -> Result<i64, LitError> {
    timestamp_millis(text).map_err(|reason| {
        let mut e = LitError::new(format!("invalid timestamp `{text}`")).help(TIMESTAMP_HELP);
        if let Some(reason) = reason {
            e = e.note(reason);
        }
        e
    })
}

/// The value of a timestamp; the error is a reason when one can be given more precisely than
/// "invalid".
fn timestamp_millis(text: &str) -> Result<i64, Option<String>> {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let mut cur = Cursor {
        bytes: text.strip_prefix('@').unwrap_or(text).as_bytes(),
        at: 0,
    };
    let year = cur.number(4)?;
    cur.expect(b'-')?;
    let month = cur.number(2)?;
    cur.expect(b'-')?;
    let day = cur.number(2)?;
    if !(1..=12).contains(&month) {
        return Err(Some(format!("there is no month {month}")));
    }
    let month_days = days_in_month(year, month);
    if day < 1 || day > month_days {
        return Err(Some(if month == 2 && day == 29 {
            format!("{year} is not a leap year")
        } else {
            format!("{year}-{month:02} has {month_days} days")
        }));
    }
    let date = days_from_civil(year, month, day) * DAY;
    if cur.done() {
        return Ok(date);
    }
    cur.expect(b'T')?;
    let hour = cur.number(2)?;
    cur.expect(b':')?;
    let minute = cur.number(2)?;
    let mut second = 0;
    let mut millis = 0;
    if cur.eat(b':') {
        second = cur.number(2)?;
        if cur.eat(b'.') {
            let start = cur.at;
            let mut scale = 100;
            while let Some(d) = cur.digit() {
                if cur.at - start > 3 {
                    return Err(Some("timestamps have at most millisecond precision".into()));
                }
                millis += d * scale;
                scale /= 10;
            }
            if cur.at == start {
                return Err(None);
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(Some(format!("{hour:02}:{minute:02}:{second:02} is not a time of day")));
    }
    let offset = if cur.eat(b'Z') {
        0
    } else {
        let sign = if cur.eat(b'+') {
            1
        } else if cur.eat(b'-') {
            -1
        } else {
            return Err(Some(
                "a time needs a zone: `Z` for UTC or an offset like `+01:00`".into(),
            ));
        };
        let oh = cur.number(2)?;
        cur.expect(b':')?;
        let om = cur.number(2)?;
        if oh > 23 || om > 59 {
            return Err(Some(format!("`{oh:02}:{om:02}` is not a valid offset")));
        }
        sign * (oh * HOUR + om * MINUTE)
    };
    if !cur.done() {
        return Err(None);
    }
    Ok(date + hour * HOUR + minute * MINUTE + second * 1_000 + millis - offset)
}

/// A cursor over the bytes of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.bytes.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), Option<String>> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(None)
        }
    }

    fn digit(&mut self) -> Option<i64> {
        let d = self.bytes.get(self.at).filter(|b| b.is_ascii_digit())?;
        self.at += 1;
        Some(i64::from(d - b'0'))
    }

    /// Exactly `n` digits.
    fn number(&mut self, n: usize) -> Result<i64, Option<String>> {
        let mut v = 0;
        for _ in 0..n {
            v = v * 10 + self.digit().ok_or(None)?;
        }
        Ok(v)
    }
}

fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9) % 12; // March is 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Decodes the text between a string's quotes. Invalid escapes are kept as written and
/// reported with their byte range in `raw`.
fn decode_string(raw: &str) -> (String, Vec<(std::ops::Range<usize>, LitError)>) {
    let mut out = String::with_capacity(raw.len());
    let mut errors = Vec::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((j, e)) = chars.next() else {
            errors.push((i..raw.len(), escape_error("\\")));
            out.push('\\');
            continue;
        };
        let simple = match e {
            '"' => Some('"'),
            '\\' => Some('\\'),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '0' => Some('\0'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            continue;
        }
        let mut end = j + e.len_utf8();
        if e == 'u' {
            // `\u{XXXX}`: one to six hex digits naming a Unicode scalar value.
            let mut hex = String::new();
            let mut closed = false;
            if chars.peek().is_some_and(|(_, c)| *c == '{') {
                chars.next();
                end += 1;
                while let Some(&(k, c)) = chars.peek() {
                    if c == '}' {
                        chars.next();
                        end = k + 1;
                        closed = true;
                        break;
                    }
                    if !c.is_ascii_hexdigit() || hex.len() >= 6 {
                        break;
                    }
                    hex.push(c);
                    chars.next();
                    end = k + 1;
                }
            }
            let ch = (closed && !hex.is_empty())
                .then(|| u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32))
                .flatten();
            match ch {
                Some(ch) => out.push(ch),
                None => {
                    let written = raw.get(i..end).unwrap_or("\\u");
                    errors.push((
                        i..end,
                        LitError::new(format!("invalid unicode escape `{written}`"))
                            .help("write a Unicode escape as `\\u{1F600}`: one to six hex digits in braces"),
                    ));
                    out.push_str(written);
                }
            }
            continue;
        }
        let written = raw.get(i..end).unwrap_or("\\");
        errors.push((i..end, escape_error(written)));
        out.push_str(written);
    }
    (out, errors)
}

fn escape_error(written: &str) -> LitError {
    LitError::new(format!("invalid escape `{written}` in a string"))
        .help("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\0` and `\\u{…}`")
}

/// The names of declarations that failed to parse, read from their text (`segment name …`), so
/// later stages can stay quiet about uses of a name whose definition already has an error.
fn broken_names(text: &str, decls: &[ast::Decl]) -> Vec<String> {
    let mut out = Vec::new();
    for d in decls.iter().filter(|d| matches!(d.kind, ast::DeclKind::Error)) {
        let Some(src) = text.get(d.span.range()) else { continue };
        let words: Vec<&str> = src
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|w| !w.is_empty())
            .take(2)
            .collect();
        if let [kw, name] = words.as_slice() {
            if lexer::DECLARATION_KEYWORDS.contains(kw) && !matches!(*kw, "package" | "import" | "test") {
                out.push((*name).to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod literal_tests {
    use super::*;

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2026, 11, 24), 20_781);
    }

    #[test]
    fn percents_are_exact() {
        assert_eq!(parse_percent("33.34%"), (3334, None));
        assert_eq!(parse_percent("100%"), (10_000, None));
        assert_eq!(parse_percent("0.5%"), (50, None));
        assert_eq!(parse_percent("1_0%"), (1000, None));
        let (v, err) = parse_percent("33.333%");
        assert_eq!(v, 3333);
        assert_eq!(
            err.map(|e| e.message).as_deref(),
            Some("percentages have at most two decimals")
        );
        // Rounded to the nearest hundredth, carrying into the whole part.
        let (v, err) = parse_percent("66.667%");
        assert_eq!(v, 6667);
        assert_eq!(err.and_then(|e| e.help).as_deref(), Some("write `66.67%`"));
        let (v, err) = parse_percent("9.995%");
        assert_eq!(v, 1000);
        assert_eq!(err.and_then(|e| e.help).as_deref(), Some("write `10.00%`"));
        assert!(parse_percent("99999999999%").1.is_some());
    }

    #[test]
    fn durations_and_ints() {
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("15m"), Ok(900_000));
        assert_eq!(parse_duration("1_0s"), Ok(10_000));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        assert!(parse_duration("99999999999999w").is_err());
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert!(parse_int("9223372036854775808").is_err());
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(decode_string(r#"say \"hi\"\n"#).0, "say \"hi\"\n");
        assert_eq!(decode_string(r"\t\r\0\\").0, "\t\r\0\\");
        assert_eq!(decode_string(r"\u{1F600}x").0, "😀x");
        let (v, errs) = decode_string(r"a\qb");
        assert_eq!(v, r"a\qb");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 1..3);
        assert_eq!(errs[0].1.message, "invalid escape `\\q` in a string");
        let (_, errs) = decode_string(r"\u{D800}");
        assert_eq!(errs[0].1.message, "invalid unicode escape `\\u{D800}`");
        assert_eq!(decode_string(r"\u{}").1.len(), 1);
        assert_eq!(decode_string(r"\u{1234567}").1.len(), 1);
        assert_eq!(decode_string(r"\u12").1.len(), 1);
    }
}
