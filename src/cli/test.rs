//! `tailor test`: runs the `test` blocks of policies.
//!
//! Policies are checked first: tests run only on a bundle without errors. Each failing
//! expectation is shown with its location, both sides of the comparison and, for decisions,
//! which rule removed or kept each candidate.

use super::{color, policy_files, Exit};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;
use tailor_compiler::diagnostics::render;
use tailor_compiler::testing::{run_tests, TestOutcome};

const EXAMPLES: &str = "\
Examples:
  tailor test policies/
  tailor test policies/retail --filter \"welcome offer\"
  tailor test policies/ --format json > results.json

Exit codes: 0 all tests passed, 1 a test failed or the policies have errors, 2 usage or IO error.";

/// Arguments of `tailor test`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct TestArgs {
    /// Files or directories; directories are searched recursively for `*.policy` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Run only the tests whose name contains this text.
    #[arg(long, value_name = "NAME")]
    pub filter: Option<String>,

    /// How to print results: `text` for people (stderr), `json` for tools (stdout).
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}

/// Output formats of `tailor test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// Human-readable results.
    Text,
    /// One JSON document with every test's outcome.
    Json,
}

/// Runs `tailor test`.
pub fn run(args: &TestArgs) -> anyhow::Result<Exit> {
    tracing::debug!(paths = ?args.paths, filter = ?args.filter, format = ?args.format, "tailor test");
    let sources = policy_files::load(&args.paths)?;
    let file_count = sources.len();
    let analysis = tailor_compiler::analyze(sources);
    if analysis.has_errors() {
        let text = render::render_terminal(&analysis.diagnostics, &analysis.sources, color::stderr_wants_color());
        eprintln!("{text}");
        eprintln!("{}", render::summary_line(&analysis.diagnostics, file_count));
        eprintln!("error: the policies have errors; fix them before running tests");
        return Ok(Exit::Failed);
    }
    let report = run_tests(&analysis.program, args.filter.as_deref());
    let (passed, failed, errors) = (report.passed(), report.failed(), report.errors());
    if args.format == TestFormat::Json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string_pretty(&report.to_json())?)?;
    } else {
        let mut out = std::io::stderr().lock();
        for r in &report.results {
            let file = analysis.sources.get(r.span.file);
            let (line, col) = file.line_col(r.span.start as usize);
            match &r.outcome {
                TestOutcome::Passed => writeln!(out, "test {} ... ok", r.name)?,
                TestOutcome::Failed { failures } => {
                    writeln!(out, "test {} ... FAILED", r.name)?;
                    writeln!(out, "  --> {}:{}:{}", file.name, line + 1, col + 1)?;
                    for f in failures {
                        let ffile = analysis.sources.get(f.span.file);
                        let (fl, fc) = ffile.line_col(f.span.start as usize);
                        let src = analysis.sources.slice(f.span);
                        writeln!(out, "  {}:{}:{}: `{}`", ffile.name, fl + 1, fc + 1, src.trim())?;
                        writeln!(out, "    {}", f.message)?;
                        if let Some(e) = &f.explanation {
                            for l in e.lines() {
                                writeln!(out, "    | {l}")?;
                            }
                        }
                    }
                }
                TestOutcome::Error(msg) => {
                    writeln!(out, "test {} ... ERROR", r.name)?;
                    writeln!(out, "  --> {}:{}:{}", file.name, line + 1, col + 1)?;
                    writeln!(out, "    {msg}")?;
                }
            }
        }
        if report.results.is_empty() {
            match &args.filter {
                Some(f) => writeln!(out, "no test matches the filter {f:?}")?,
                None => writeln!(out, "no tests found")?,
            }
        }
        writeln!(out, "{passed} passed, {} failed", failed + errors)?;
    }
    Ok(if failed + errors > 0 {
        Exit::Failed
    } else {
        Exit::Success
    })
}
