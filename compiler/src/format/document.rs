//! The layout engine: a small Wadler-style document algebra and its line-fitting renderer.
//!
//! The printer turns the AST into a [`Doc`] that says where lines *may* break ([`Doc::Line`],
//! [`Doc::SoftLine`]), where they *must* ([`Doc::HardLine`]) and which parts break together
//! ([`Doc::Group`]). The renderer then decides, group by group from the outside in, whether a
//! group fits flat in the rest of the line ([`WIDTH`] columns); if not, its lines break.
//!
//! Layout therefore depends only on the document, never on how the input was laid out, which
//! is what makes the formatter idempotent. A group that contains a hard line or a trailing
//! comment ([`Doc::LineSuffix`]) always breaks: a `//` comment runs to the end of its line, so
//! nothing may be printed after it on that line.

/// The line width the formatter aims for.
pub const WIDTH: usize = 100;

/// One level of indentation.
pub const INDENT: usize = 2;

#[derive(Debug, Clone)]
pub enum Doc {
    /// Text without newlines.
    Text(String),
    /// A space when the enclosing group is flat, a newline when it breaks.
    Line,
    /// Nothing when the enclosing group is flat, a newline when it breaks.
    SoftLine,
    /// Always a newline; forces every enclosing group to break.
    HardLine,
    /// Text printed only when the enclosing group breaks (a trailing comma).
    IfBreak(&'static str),
    /// A trailing `//` comment: printed (after a space) at the end of the current line, just
    /// before the next newline. Forces every enclosing group to break.
    LineSuffix(String),
    /// The content, with lines after its first indented by [`INDENT`] more.
    Nest(Box<Doc>),
    /// Content that is laid out flat if it fits, else broken; `forced` if it cannot be flat.
    Group {
        forced: bool,
        doc: Box<Doc>,
    },
    Concat(Vec<Doc>),
}

pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

pub fn concat(docs: Vec<Doc>) -> Doc {
    Doc::Concat(docs)
}

pub fn nest(doc: Doc) -> Doc {
    Doc::Nest(Box::new(doc))
}

pub fn group(doc: Doc) -> Doc {
    Doc::Group {
        forced: doc.forces_break(),
        doc: Box::new(doc),
    }
}

impl Doc {
    /// Does this document contain something that can never be laid out flat?
    fn forces_break(&self) -> bool {
        match self {
            Doc::HardLine | Doc::LineSuffix(_) => true,
            Doc::Group { forced, .. } => *forced,
            Doc::Nest(d) => d.forces_break(),
            Doc::Concat(ds) => ds.iter().any(Doc::forces_break),
            Doc::Text(_) | Doc::Line | Doc::SoftLine | Doc::IfBreak(_) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// Renders `doc` in lines of at most `width` columns where the document allows it.
pub fn render(doc: &Doc, width: usize) -> String {
    let mut w = Writer::default();
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(0, Mode::Break, doc)];
    while let Some((indent, mode, doc)) = stack.pop() {
        match doc {
            Doc::Text(s) => w.text(s),
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    w.text(s);
                }
            }
            Doc::LineSuffix(s) => w.suffixes.push(s),
            Doc::Line if mode == Mode::Flat => w.text(" "),
            Doc::SoftLine if mode == Mode::Flat => {}
            Doc::Line | Doc::SoftLine | Doc::HardLine => w.newline(indent),
            Doc::Nest(d) => stack.push((indent + INDENT, mode, d)),
            Doc::Concat(ds) => stack.extend(ds.iter().rev().map(|d| (indent, mode, d))),
            Doc::Group { forced, doc: d } => {
                let flat = mode == Mode::Flat || (!forced && fits(d, width.saturating_sub(w.col), &stack));
                stack.push((indent, if flat { Mode::Flat } else { Mode::Break }, d));
            }
        }
    }
    w.flush_suffixes();
    w.out
}

/// Renders `doc` on one line, or `None` if it cannot be (it holds a comment or a hard line).
pub fn render_flat(doc: &Doc) -> Option<String> {
    let out = render(&group(doc.clone()), usize::MAX);
    (!doc.forces_break()).then_some(out)
}

/// The output being built. Indentation is written lazily, when the first text of a line
/// arrives, so empty lines carry no trailing whitespace.
#[derive(Default)]
struct Writer<'a> {
    out: String,
    col: usize,
    pending_indent: Option<usize>,
    suffixes: Vec<&'a str>,
}

impl<'a> Writer<'a> {
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(n) = self.pending_indent.take() {
            self.out.extend(std::iter::repeat_n(' ', n));
        }
        self.out.push_str(s);
        self.col += s.chars().count();
    }

    fn newline(&mut self, indent: usize) {
        self.flush_suffixes();
        self.out.push('\n');
        self.pending_indent = Some(indent);
        self.col = indent;
    }

    fn flush_suffixes(&mut self) {
        for s in std::mem::take(&mut self.suffixes) {
            self.out.push(' ');
            self.out.push_str(s);
        }
    }
}

/// Does `doc`, laid out flat, fit in `width` columns, together with whatever follows it up to
/// the next line break (`rest`, the renderer's pending commands)?
fn fits(doc: &Doc, width: usize, rest: &[(usize, Mode, &Doc)]) -> bool {
    let mut remaining = isize::try_from(width).unwrap_or(isize::MAX);
    let mut stack: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest = rest.iter().rev();
    loop {
        let Some((mode, doc)) = stack.pop().or_else(|| rest.next().map(|&(_, m, d)| (m, d))) else {
            return true;
        };
        match doc {
            Doc::Text(s) => remaining -= s.chars().count() as isize,
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    remaining -= s.chars().count() as isize;
                }
            }
            Doc::LineSuffix(_) => {}
            Doc::Line => match mode {
                Mode::Flat => remaining -= 1,
                Mode::Break => return true,
            },
            Doc::SoftLine => {
                if mode == Mode::Break {
                    return true;
                }
            }
            Doc::HardLine => return mode == Mode::Break,
            Doc::Nest(d) => stack.push((mode, d)),
            Doc::Concat(ds) => stack.extend(ds.iter().rev().map(|d| (mode, d))),
            Doc::Group { forced, doc: d } => {
                stack.push((if *forced { Mode::Break } else { mode }, d));
            }
        }
        if remaining < 0 {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(text(*it));
        }
        inner.push(Doc::IfBreak(","));
        group(concat(vec![text("["), nest(concat(inner)), Doc::SoftLine, text("]")]))
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(render(&list(&["a", "b"]), 10), "[a, b]");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_with_a_trailing_comma() {
        assert_eq!(render(&list(&["aaaa", "bbbb"]), 10), "[\n  aaaa,\n  bbbb,\n]");
    }

    #[test]
    fn text_after_a_group_counts_towards_its_fit() {
        let doc = concat(vec![list(&["a", "b"]), text(" and more")]);
        assert_eq!(render(&doc, 10), "[\n  a,\n  b,\n] and more");
    }

    #[test]
    fn a_line_suffix_forces_a_break_and_lands_before_the_newline() {
        let doc = group(concat(vec![
            text("{"),
            nest(concat(vec![
                Doc::Line,
                text("a,"),
                Doc::LineSuffix("// c".into()),
                Doc::Line,
                text("b"),
            ])),
            Doc::Line,
            text("}"),
        ]));
        assert_eq!(render(&doc, 100), "{\n  a, // c\n  b\n}");
    }

    #[test]
    fn flat_rendering_never_breaks_a_group() {
        let long: Vec<String> = (0..100).map(|i| format!("item{i}")).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let flat = render_flat(&list(&refs)).unwrap();
        assert!(!flat.contains('\n'));
        assert_eq!(render_flat(&concat(vec![text("a"), Doc::HardLine])), None);
    }

    #[test]
    fn empty_lines_have_no_indentation() {
        let doc = nest(concat(vec![text("a"), Doc::HardLine, Doc::HardLine, text("b")]));
        assert_eq!(render(&doc, 100), "a\n\n  b");
    }
}
