//! `tailor check`: parses, resolves and type-checks policies, and reports what is wrong.
//!
//! Output follows one rule: what a person reads goes to stderr, what a tool parses goes to
//! stdout. Text diagnostics and the summary line go to stderr; `--format json` and `--format
//! sarif` write exactly one JSON document to stdout. On success the bundle version is printed to
//! stdout in text mode (it is the command's result) and to stderr otherwise (stdout holds the
//! document).

use super::{color, policy_files, Exit};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;
use tailor_compiler::diagnostics::render;
use tailor_compiler::Severity;

const EXAMPLES: &str = "\
Examples:
  tailor check policies/
  tailor check policies/retail/home.policy policies/retail/schema.policy
  tailor check policies/ --deny-warnings
  tailor check policies/ --format json | jq '.[] | select(.severity == \"error\")'
  tailor check policies/ --format sarif > tailor.sarif

Exit codes: 0 no errors (warnings allowed unless --deny-warnings), 1 errors in the policies,
2 usage or IO error (missing path, no .policy files, unreadable file).";

/// Arguments of `tailor check`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct CheckArgs {
    /// Files or directories; directories are searched recursively for `*.policy` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// How to print diagnostics: `text` for people (stderr), `json` or `sarif` for tools (stdout).
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Treat warnings as errors: exit with 1 if there are any.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Output formats of `tailor check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Source snippets with the problem underlined, for a terminal or a CI log.
    Text,
    /// A JSON array with one object per diagnostic.
    Json,
    /// A SARIF 2.1.0 log, for code-scanning services.
    Sarif,
}

/// Runs `tailor check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<Exit> {
    let sources = policy_files::load(&args.paths)?;
    let file_count = sources.len();
    let analysis = tailor_compiler::analyze(sources);
    let diags = &analysis.diagnostics;

    let mut stdout = std::io::stdout().lock();
    match args.format {
        CheckFormat::Text => {
            let text = render::render_terminal(diags, &analysis.sources, color::stderr_wants_color());
            if !text.is_empty() {
                eprintln!("{text}");
            }
        }
        CheckFormat::Json => {
            let value = render::render_json(diags, &analysis.sources);
            writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        CheckFormat::Sarif => {
            let value = render::render_sarif(diags, &analysis.sources, env!("CARGO_PKG_VERSION"));
            writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
        }
    }

    let has_errors = analysis.has_errors();
    let has_warnings = diags.iter().any(|d| d.severity == Severity::Warning);
    let denied = args.deny_warnings && has_warnings && !has_errors;
    let summary = render::summary_line(diags, file_count);
    if denied {
        eprintln!("{summary} (warnings are denied by --deny-warnings)");
    } else {
        eprintln!("{summary}");
    }
    if has_errors || denied {
        return Ok(Exit::Failed);
    }

    let version = format!("bundle version: {}", analysis.version);
    if args.format == CheckFormat::Text {
        writeln!(stdout, "{version}")?;
    } else {
        eprintln!("{version}");
    }
    Ok(Exit::Success)
}
