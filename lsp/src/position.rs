//! Between the compiler's byte offsets and the protocol's (line, UTF-16 column) positions.
//!
//! The compiler thinks in byte ranges only; this is the one place in the server that converts,
//! using the line tables `SourceFile` keeps. Positions past the end of a line or the file clamp
//! to it, so a stale or malformed position from the client can never index out of bounds.

use tailor_compiler::source::SourceFile;
use tailor_compiler::Span;
use tower_lsp_server::ls_types::{Position, Range};

/// The byte offset of a position.
pub fn offset(file: &SourceFile, pos: Position) -> usize {
    file.offset_of_utf16(pos.line as usize, pos.character as usize)
}

/// The position of a byte offset.
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let (line, col) = file.line_col_utf16(offset);
    Position::new(line as u32, col as u32)
}

/// The range a span covers (the span must be in `file`).
pub fn range(file: &SourceFile, span: Span) -> Range {
    Range::new(position(file, span.start as usize), position(file, span.end as usize))
}

/// The range of the whole file.
pub fn whole(file: &SourceFile) -> Range {
    Range::new(Position::new(0, 0), position(file, file.text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_and_clamp() {
        let f = SourceFile::new("a", "ab\n😀x\n");
        let x = f.text.find('x').unwrap();
        assert_eq!(position(&f, x), Position::new(1, 2));
        assert_eq!(offset(&f, Position::new(1, 2)), x);
        assert_eq!(offset(&f, Position::new(0, 99)), 2);
        assert_eq!(offset(&f, Position::new(99, 0)), f.text.len());
    }
}
