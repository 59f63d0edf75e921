//! `tailor lsp`: the language server, speaking the Language Server Protocol on stdin and stdout.
//!
//! Editors start it (the VS Code extension does); people do not run it by hand. Stdout belongs
//! to the protocol, so logs (`RUST_LOG=debug`) go to stderr like every command's.

use super::Exit;
use clap::Args;

const EXAMPLES: &str = "\
Examples:
  tailor lsp                                  serve on stdio (what editors run)
  RUST_LOG=tailor_lsp=debug tailor lsp        with debug logs on stderr";

/// Arguments of `tailor lsp`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct LspArgs {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long, hide = true)]
    pub stdio: bool,
}

/// Runs the server until the client disconnects.
pub fn run(_args: &LspArgs) -> anyhow::Result<Exit> {
    tailor_lsp::serve_stdio()?;
    Ok(Exit::Success)
}
