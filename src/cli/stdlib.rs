//! `tailor stdlib`: the standard library's functions and prelude types, as a list or as the
//! Markdown of `docs/stdlib.md`.

use super::Exit;
use clap::Args;
use tailor_compiler::stdlib;

/// Arguments of `tailor stdlib`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  tailor stdlib\n  tailor stdlib --markdown > docs/stdlib.md")]
pub struct StdlibArgs {
    /// Print the full reference as Markdown (this is how docs/stdlib.md is made).
    #[arg(long)]
    pub markdown: bool,
}

/// Runs `tailor stdlib`.
pub fn run(args: &StdlibArgs) -> anyhow::Result<Exit> {
    if args.markdown {
        print!("{}", stdlib::markdown());
        return Ok(Exit::Success);
    }
    let width = stdlib::FUNCTIONS.iter().map(|f| f.signature.len()).max().unwrap_or(0);
    println!("{:width$}  The time of the request.", "now() -> Timestamp");
    for f in stdlib::FUNCTIONS {
        println!("{:width$}  {}", f.signature, f.doc);
    }
    Ok(Exit::Success)
}
