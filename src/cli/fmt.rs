//! `tailor fmt`: formats policies in place, or checks that they are formatted.
//!
//! `--check` changes nothing and lists the files that would change. A file with syntax errors is
//! never rewritten; its diagnostics are shown instead.

use super::{color, policy_files, Exit};
use clap::Args;
use std::path::PathBuf;
use tailor_compiler::diagnostics::render;

const EXAMPLES: &str = "\
Examples:
  tailor fmt policies/            rewrite every .policy file under policies/
  tailor fmt --check policies/    list unformatted files and fail, changing nothing

Exit codes: 0 formatted, 1 with --check: some file is not formatted, 2 usage or IO error.";

/// Arguments of `tailor fmt`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct FmtArgs {
    /// Files or directories; directories are searched recursively for `*.policy` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Change nothing; list the files that are not formatted and exit with 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

/// Runs `tailor fmt`.
pub fn run(args: &FmtArgs) -> anyhow::Result<Exit> {
    tracing::debug!(paths = ?args.paths, check = args.check, "tailor fmt");
    let sources = policy_files::load(&args.paths)?;
    let mut unformatted = 0usize;
    let mut broken = 0usize;
    let mut changed = 0usize;
    for (id, file) in sources.files() {
        match tailor_compiler::format::format_source(&file.text) {
            Ok(formatted) if formatted == file.text => {}
            Ok(formatted) => {
                if args.check {
                    eprintln!("would reformat {}", file.name);
                    unformatted += 1;
                } else {
                    std::fs::write(&file.name, formatted)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.name))?;
                    eprintln!("formatted {}", file.name);
                    changed += 1;
                }
            }
            Err(diags) => {
                let mut one = tailor_compiler::SourceMap::new();
                let _ = id;
                one.add(file.name.clone(), file.text.clone());
                eprintln!("{}", render::render_terminal(&diags, &one, color::stderr_wants_color()));
                broken += 1;
            }
        }
    }
    let total = sources.len();
    if args.check {
        eprintln!("{} of {total} files need formatting", unformatted);
    } else {
        eprintln!("formatted {changed} of {total} files");
    }
    if broken > 0 {
        eprintln!("error: {broken} file(s) have syntax errors and were left unchanged");
    }
    Ok(if unformatted > 0 || broken > 0 {
        Exit::Failed
    } else {
        Exit::Success
    })
}
