//! `tailor explain`: shows how the decision in one policy test was made.
//!
//! The arguments are final; the explanation comes with `tailor_compiler::testing`, which runs
//! tests on the interpreter and records which rule removed or kept each candidate. Until then the
//! command says so and exits with code 2.

use super::Exit;
use clap::Args;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  tailor explain policies/ --test \"a new German customer sees the welcome offer first\"

Exit codes: 0 explained, 1 the policies have errors, 2 usage or IO error (such as no test of that name).";

/// Arguments of `tailor explain`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ExplainArgs {
    /// Files or directories; directories are searched recursively for `*.policy` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The name of the test whose decisions to explain, as written after `test`.
    #[arg(long, value_name = "NAME")]
    pub test: String,
}

/// Runs `tailor explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<Exit> {
    tracing::debug!(paths = ?args.paths, test = %args.test, "tailor explain");
    let sources = super::policy_files::load(&args.paths)?;
    let file_count = sources.len();
    let analysis = tailor_compiler::analyze(sources);
    if analysis.has_errors() {
        let render = tailor_compiler::diagnostics::render::render_terminal(
            &analysis.diagnostics,
            &analysis.sources,
            super::color::stderr_wants_color(),
        );
        eprintln!("{render}");
        eprintln!(
            "{}",
            tailor_compiler::diagnostics::render::summary_line(&analysis.diagnostics, file_count)
        );
        return Ok(Exit::Failed);
    }
    match tailor_compiler::testing::explain_test(&analysis.program, &args.test) {
        Ok(text) => {
            println!("{text}");
            Ok(Exit::Success)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Exit::Usage)
        }
    }
}
