//! Formatting: the `tailor fmt` layout, from the compiler's formatter.
//!
//! A file with syntax errors is left alone (the formatter never rewrites what it cannot
//! parse), and an already formatted file gets no edits, so saving with format-on-save is a
//! no-op when nothing changes.

use tailor_compiler::source::SourceFile;
use tower_lsp_server::ls_types::TextEdit;

/// The edits that format `text`: none when it is formatted or does not parse.
pub fn format(text: &str) -> Vec<TextEdit> {
    match tailor_compiler::format::format_source(text) {
        Ok(formatted) if formatted != text => {
            let file = SourceFile::new("", text);
            vec![TextEdit {
                range: crate::position::whole(&file),
                new_text: formatted,
            }]
        }
        Ok(_) => Vec::new(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_leaves_broken_files_alone() {
        let edits = format("package a\nsegment   x =true\n");
        assert_eq!(edits.len(), 1);
        assert!(
            edits[0].new_text.contains("segment x = true\n"),
            "{}",
            edits[0].new_text
        );
        assert!(format(&edits[0].new_text).is_empty());
        assert!(format("package a\nsegment x = = \n").is_empty());
    }
}
