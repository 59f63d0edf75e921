//! Folding ranges: blocks in braces, runs of comments and runs of imports.
//!
//! Found from the compiler's lexer tokens, so a block folds even while a declaration inside
//! it does not parse.

use tailor_compiler::source::SourceFile;
use tailor_compiler::syntax::lexer::{self, TokenKind};
use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind};

pub fn folding_ranges(file: &SourceFile) -> Vec<FoldingRange> {
    let text = &file.text;
    let tokens = lexer::tokenize(text);
    let line = |offset: usize| file.line_col(offset).0 as u32;
    let mut out = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let fold = |start: u32, end: u32, kind: Option<FoldingRangeKind>| FoldingRange {
        start_line: start,
        start_character: None,
        end_line: end,
        end_character: None,
        kind,
        collapsed_text: None,
    };
    // A run of comment lines, and a run of import lines: (first line, last line).
    let mut comments: Option<(u32, u32)> = None;
    let mut imports: Option<(u32, u32)> = None;
    let flush = |run: &mut Option<(u32, u32)>, kind: FoldingRangeKind, out: &mut Vec<FoldingRange>| {
        if let Some((a, b)) = run.take() {
            if b > a {
                out.push(fold(a, b, Some(kind)));
            }
        }
    };
    for tok in &tokens {
        let l = line(tok.start);
        match tok.kind {
            TokenKind::LBrace => open.push(tok.start),
            TokenKind::RBrace => {
                if let Some(start) = open.pop() {
                    let (a, b) = (line(start), l);
                    // The closing brace's line stays visible.
                    if b > a + 1 {
                        out.push(fold(a, b - 1, None));
                    }
                }
            }
            _ => {}
        }
        if matches!(tok.kind, TokenKind::LineComment | TokenKind::DocComment) {
            comments = match comments {
                Some((a, b)) if b + 1 >= l => Some((a, l)),
                _ => {
                    flush(&mut comments, FoldingRangeKind::Comment, &mut out);
                    Some((l, l))
                }
            };
        } else if comments.is_some_and(|(_, b)| l > b) {
            flush(&mut comments, FoldingRangeKind::Comment, &mut out);
        }
        let column0 = tok.start == 0 || text.as_bytes().get(tok.start - 1) == Some(&b'\n');
        if column0 && tok.kind == TokenKind::Word {
            if &text[tok.start..tok.end] == "import" {
                imports = match imports {
                    Some((a, _)) => Some((a, l)),
                    None => Some((l, l)),
                };
            } else {
                flush(&mut imports, FoldingRangeKind::Imports, &mut out);
            }
        }
    }
    flush(&mut comments, FoldingRangeKind::Comment, &mut out);
    flush(&mut imports, FoldingRangeKind::Imports, &mut out);
    out.sort_by_key(|f| (f.start_line, f.end_line));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_blocks_comments_and_imports() {
        let text = "package a\nimport b.{x}\nimport c.{y}\n// one\n// two\nschema P {\n  a: Int\n  b: Int\n}\n";
        let ranges: Vec<(u32, u32, Option<FoldingRangeKind>)> = folding_ranges(&SourceFile::new("a", text))
            .into_iter()
            .map(|f| (f.start_line, f.end_line, f.kind))
            .collect();
        assert_eq!(
            ranges,
            [
                (1, 2, Some(FoldingRangeKind::Imports)),
                (3, 4, Some(FoldingRangeKind::Comment)),
                (5, 7, None)
            ]
        );
    }
}
