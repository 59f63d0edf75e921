//! Whether to colour what is written to stderr.
//!
//! Colour only helps a person at a terminal: it is off when stderr is redirected (CI logs, files)
//! and whenever `NO_COLOR` is set to a non-empty value (<https://no-color.org>).

use std::io::IsTerminal;

/// True when diagnostics on stderr should be coloured.
pub fn stderr_wants_color() -> bool {
    wants_color(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

fn wants_color(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn terminal_and_no_color_decide() {
        assert!(wants_color(true, None));
        assert!(wants_color(true, Some(OsStr::new(""))));
        assert!(!wants_color(true, Some(OsStr::new("1"))));
        assert!(!wants_color(false, None));
    }
}
