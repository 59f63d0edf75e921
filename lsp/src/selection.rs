//! Selection ranges ("expand selection"): from the name under the cursor outwards through
//! every expression that contains it, then its declaration, then the whole file.
//!
//! The expressions are the ones the checker recorded a type for, so the steps follow the
//! parse (operator precedence included), not the text's brackets.

use crate::query;
use crate::workspace::Snapshot;
use tailor_compiler::{FileId, Span};
use tower_lsp_server::ls_types::SelectionRange;

pub fn selection_range(snap: &Snapshot, file: FileId, offset: usize) -> SelectionRange {
    let source = snap.source(file);
    let mut spans: Vec<Span> = snap
        .analysis
        .facts
        .types
        .iter()
        .map(|(s, _)| *s)
        .chain(query::at(snap, file, offset).map(|o| o.span))
        .filter(|s| s.file == file && s.contains(offset))
        .collect();
    if let Some((_, decl)) = query::enclosing_decl(snap, file, offset) {
        spans.push(decl.span);
    }
    spans.push(Span::new(file, 0, source.text.len()));
    spans.sort_by_key(|s| (s.end - s.start, s.start));
    spans.dedup();
    // Outermost first, so each range can be the parent of the next.
    let mut range: Option<SelectionRange> = None;
    for span in spans.into_iter().rev() {
        range = Some(SelectionRange {
            range: crate::position::range(source, span),
            parent: range.map(Box::new),
        });
    }
    range.unwrap_or_else(|| SelectionRange {
        range: crate::position::whole(source),
        parent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot_at;

    #[test]
    fn expands_through_expressions_to_the_file() {
        let (snap, ids, cursor) = snapshot_at(&[("a.policy", "package a\nconst c: Int = 1 + 2$0 * 3\n")]);
        let mut widths = Vec::new();
        let mut r = Some(selection_range(&snap, ids[0], cursor));
        while let Some(s) = r {
            widths.push((
                s.range.start.character,
                s.range.end.character,
                s.range.start.line,
                s.range.end.line,
            ));
            r = s.parent.map(|p| *p);
        }
        // `2`, `2 * 3`, `1 + 2 * 3`, the declaration, the file.
        assert_eq!(widths[0], (19, 20, 1, 1));
        assert_eq!(widths[1], (19, 24, 1, 1));
        assert_eq!(widths[2], (15, 24, 1, 1));
        assert_eq!(widths.last().map(|w| (w.2, w.3)), Some((0, 2)));
    }
}
