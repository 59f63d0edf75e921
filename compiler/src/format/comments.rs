//! Comments and blank lines: the trivia the AST does not hold, and where each piece goes.
//!
//! Comments come from the lexer ([`tokenize`]), not the AST: `//` comments are not in the AST
//! at all, and printing `///` doc comments from the tokens too means each is printed exactly
//! once, in the place the author put it (the parser then attaches it to the same node again).
//!
//! The printer walks the AST in source order and asks a [`Trivia`] cursor, at each *item*
//! (a declaration, import, field, variant, rule, clause, row, record field or list element):
//!
//! - [`Trivia::leading`]: the comments and blank lines between the previous item and this one;
//! - [`Trivia::trailing`]: a comment on the same line right after the item (only whitespace
//!   and a separating comma between them);
//! - [`Trivia::dangling`]: the comments after the last item of a block, before its `}`.
//!
//! Everything between two attachment points is passed over with [`Trivia::advance`]. If a
//! comment lies in such a stretch (say between two operands of `and`), there is nowhere to
//! put it without moving it, so the cursor records the failure and the printer emits the
//! whole declaration as written instead. No comment is ever dropped or moved across code.

use crate::syntax::lexer::{tokenize, Token, TokenKind};

/// A comment, with its text trimmed of trailing whitespace.
#[derive(Debug, Clone)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What comes before an item (or before a block's closing brace), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// One or more blank lines in the source; printed as one.
    Blank,
    Comment(String),
}

/// Drops blank lines at the start of `pieces` (where a separator already provides one, or
/// right after an opening brace).
pub fn strip_leading_blanks(pieces: &[Piece]) -> &[Piece] {
    let n = pieces.iter().take_while(|p| **p == Piece::Blank).count();
    &pieces[n..]
}

/// Drops blank lines at the end of `pieces` (before a closing brace or the end of the file).
pub fn strip_trailing_blanks(pieces: &[Piece]) -> &[Piece] {
    let n = pieces.iter().rev().take_while(|p| **p == Piece::Blank).count();
    &pieces[..pieces.len() - n]
}

/// The comments of one file and a cursor over them.
pub struct Trivia<'a> {
    text: &'a str,
    /// The tokens that are not comments, in order.
    code: Vec<Token>,
    comments: Vec<Comment>,
    /// The first comment not yet placed.
    next: usize,
    /// Where the printer is in the source: everything before has been placed.
    pos: usize,
    /// Set when a comment was found where it cannot be placed.
    failed: bool,
}

/// A saved cursor position, to retry a declaration verbatim.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    next: usize,
    pos: usize,
    failed: bool,
}

impl<'a> Trivia<'a> {
    pub fn new(text: &'a str) -> Trivia<'a> {
        let mut code = Vec::new();
        let mut comments = Vec::new();
        for tok in tokenize(text) {
            match tok.kind {
                TokenKind::LineComment | TokenKind::DocComment => comments.push(Comment {
                    start: tok.start,
                    end: tok.end,
                    text: text[tok.start..tok.end].trim_end().to_string(),
                }),
                _ => code.push(tok),
            }
        }
        Trivia {
            text,
            code,
            comments,
            next: 0,
            pos: 0,
            failed: false,
        }
    }

    pub fn comments(&self) -> &[Comment] {
        &self.comments
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn mark(&mut self) -> Mark {
        let mark = Mark {
            next: self.next,
            pos: self.pos,
            failed: self.failed,
        };
        self.failed = false;
        mark
    }

    /// Goes back to `mark`, undoing the placements since.
    pub fn reset(&mut self, mark: Mark) {
        self.next = mark.next;
        self.pos = mark.pos;
        self.failed = mark.failed;
    }

    /// Restores the failure flag saved in `mark`, keeping the placements since.
    pub fn keep(&mut self, mark: Mark) {
        self.failed |= mark.failed;
    }

    /// Marks everything before `end` as placed: the comments in it are printed verbatim.
    pub fn skip_to(&mut self, end: usize) {
        while self.comments.get(self.next).is_some_and(|c| c.start < end) {
            self.next += 1;
        }
        self.pos = self.pos.max(end);
    }

    /// Records that the printer could not print something it was given (an error node).
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// The byte range of `start..end` without the comments at either end: from the first code
    /// token to the end of the last one inside it. A node's span may or may not include its
    /// doc comments; this makes the printer independent of that choice.
    pub fn code_range(&self, start: usize, end: usize) -> (usize, usize) {
        let first = self.code.partition_point(|t| t.start < start);
        let last = self.code.partition_point(|t| t.end <= end);
        if first < last {
            (self.code[first].start, self.code[last - 1].end)
        } else {
            (start, end)
        }
    }

    /// The first code token of `kind` starting at or after `offset`.
    pub fn find(&self, offset: usize, kind: TokenKind) -> Option<Token> {
        let i = self.code.partition_point(|t| t.start < offset);
        self.code[i..].iter().find(|t| t.kind == kind).copied()
    }

    /// The last code token ending at or before `offset`.
    pub fn before(&self, offset: usize) -> Option<Token> {
        let i = self.code.partition_point(|t| t.end <= offset);
        i.checked_sub(1).map(|i| self.code[i])
    }

    /// Passes over code up to `to`. A comment in it has no place to go: the cursor fails.
    pub fn advance(&mut self, to: usize) {
        if self.comments.get(self.next).is_some_and(|c| c.start < to) {
            self.failed = true;
            self.skip_to(to);
        }
        self.pos = self.pos.max(to);
    }

    /// The comments and blank lines before an item starting at `start`.
    pub fn leading(&mut self, start: usize) -> Vec<Piece> {
        let pieces = self.pieces_before(start);
        self.pos = self.pos.max(start);
        pieces
    }

    /// The comments and blank lines before a closing brace at `close`; blank lines before the
    /// brace are dropped.
    pub fn dangling(&mut self, close: usize) -> Vec<Piece> {
        let pieces = self.pieces_before(close);
        strip_trailing_blanks(&pieces).to_vec()
    }

    fn pieces_before(&mut self, until: usize) -> Vec<Piece> {
        let mut pieces = Vec::new();
        while let Some(c) = self.comments.get(self.next).filter(|c| c.start < until) {
            if self.blank_between(self.pos, c.start) {
                push_blank(&mut pieces);
            }
            pieces.push(Piece::Comment(c.text.clone()));
            self.pos = c.end;
            self.next += 1;
        }
        if self.blank_between(self.pos, until) {
            push_blank(&mut pieces);
        }
        pieces
    }

    /// A comment on the same line as the end of the item just printed (the cursor is at its
    /// end), separated from it by nothing but spaces and a comma.
    pub fn trailing(&mut self) -> Option<String> {
        let c = self.comments.get(self.next)?;
        let gap = self.text.get(self.pos..c.start)?;
        if !gap.chars().all(|ch| matches!(ch, ' ' | '\t' | ',')) {
            return None;
        }
        self.pos = c.end;
        self.next += 1;
        Some(c.text.clone())
    }

    /// Is there an empty line between `from` and `to` (two or more newlines)?
    fn blank_between(&self, from: usize, to: usize) -> bool {
        self.text
            .get(from.min(to)..to)
            .is_some_and(|gap| gap.matches('\n').count() >= 2)
    }
}

fn push_blank(pieces: &mut Vec<Piece>) {
    if pieces.last() != Some(&Piece::Blank) {
        pieces.push(Piece::Blank);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_trailing_and_dangling_comments() {
        let text = "{\n  // a\n\n  x, // b\n  y\n\n  // c\n}";
        let mut t = Trivia::new(text);
        t.advance(1);
        let x = text.find('x').unwrap();
        assert_eq!(t.leading(x), vec![Piece::Comment("// a".into()), Piece::Blank]);
        t.advance(x + 1);
        assert_eq!(t.trailing(), Some("// b".into()));
        let y = text.find('y').unwrap();
        assert_eq!(t.leading(y), vec![]);
        t.advance(y + 1);
        assert_eq!(t.trailing(), None);
        let close = text.len() - 1;
        assert_eq!(t.dangling(close), vec![Piece::Blank, Piece::Comment("// c".into())]);
        assert!(!t.failed());
    }

    #[test]
    fn a_comment_passed_over_fails() {
        let text = "a and // why\n b";
        let mut t = Trivia::new(text);
        t.advance(text.len());
        assert!(t.failed());
    }

    #[test]
    fn code_range_skips_comments_at_the_edges() {
        let text = "/// doc\nsegment s = x // c\n";
        let t = Trivia::new(text);
        let (s, e) = t.code_range(0, text.len());
        assert_eq!(&text[s..e], "segment s = x");
    }
}
