//! The command-line interface: the clap definitions of every subcommand and the dispatch to
//! their modules.
//!
//! Each subcommand has its own module holding its arguments and its `run` function, which
//! returns an [`Exit`] for a finished run and an error only for usage and IO problems (a missing
//! path, an unreadable file). Mistakes in policies are never errors here: they are diagnostics,
//! printed, and reported through [`Exit::Failed`].

mod audit;
mod batch;
mod bench;
mod check;
mod color;
mod explain;
mod explain_code;
mod fmt;
mod import;
mod lsp;
mod policy_files;
mod replay;
mod serve;
mod stdlib;
mod test;

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  tailor check policies/                      check every .policy file under policies/
  tailor check policies/ --format sarif > tailor.sarif
  tailor test policies/ --filter welcome      run the policy tests whose name contains `welcome`
  tailor fmt --check policies/                fail if any file is not formatted
  tailor explain policies/ --test \"a new customer sees the welcome offer\"
  tailor explain 01a20f0e4350000000000006 --data tailor-data --subject-id u-00042
                                              the full story of one logged decision
  tailor explain-code E0102                   what `unknown-field` means and how to fix it
  tailor stdlib                               the built-in functions with their signatures
  tailor lsp                                  the language server, for editors (stdio)
  tailor bench policies/ --catalog examples/catalog-1000.json --profiles examples/profiles.jsonl --decision home.hero
  tailor serve --demo                         the decision server with the demo tenant on 127.0.0.1:8080
  tailor replay --data tailor-data --subjects examples/profiles.jsonl
                                              re-run a stopped server's logged decisions exactly
  tailor batch policies/ --catalog examples/catalog.json --profiles examples/profiles.jsonl \\
      --placement email.winback --channel Email --segment lapsed --consent marketing --out winback.jsonl
                                              decide a placement for every lapsed subject, into a file

Exit codes: 0 success, 1 problems in the policies, 2 usage or IO error.
Set RUST_LOG=debug for logs on stderr; NO_COLOR=1 turns colours off.";

/// Check, test, serve and replay Tailor policies.
///
/// Tailor policies (`.policy` files) decide who sees which offer. This tool checks them for
/// errors, runs their `test` blocks, formats them, explains the diagnostics it reports, serves
/// decisions over HTTP, and replays the decisions it logged.
#[derive(Debug, Parser)]
#[command(name = "tailor", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check policies for errors and print the bundle version.
    Check(check::CheckArgs),
    /// Run the `test` blocks of policies.
    Test(test::TestArgs),
    /// Format policies in place, or check that they are formatted.
    Fmt(fmt::FmtArgs),
    /// Show how a policy test's decision, or one logged decision, was made, rule by rule.
    Explain(explain::ExplainArgs),
    /// Explain a diagnostic code, or print every explanation.
    ExplainCode(explain_code::ExplainCodeArgs),
    /// List the built-in functions (with `--markdown`, also the prelude types).
    Stdlib(stdlib::StdlibArgs),
    /// Run the language server on stdin/stdout (editors start it).
    Lsp(lsp::LspArgs),
    /// Run the decision server (`--demo` for the demo tenant).
    Serve(serve::ServeArgs),
    /// Load profiles, identity links, consent, features or a catalog into a stopped server's store.
    Import(import::ImportArgs),
    /// Time a decision or eligibility block over profiles and a catalog, per backend.
    Bench(bench::BenchArgs),
    /// Export a stopped server's audit log as JSON lines.
    Audit(audit::AuditArgs),
    /// Run audit records again on their recorded bundles, or on a candidate bundle.
    Replay(replay::ReplayArgs),
    /// Decide a placement for every subject of a profiles file (in the given segments), into
    /// a JSON-lines file: a batch plan without a server.
    Batch(batch::BatchArgs),
}

/// How a command finished, as the process exit code CI scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: nothing wrong (warnings are allowed unless denied).
    Success,
    /// 1: the policies have problems (errors, denied warnings, failing tests, unformatted files).
    Failed,
    /// 2: the command could not do its job: bad arguments, missing or unreadable files.
    Usage,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Success => std::process::ExitCode::SUCCESS,
            Exit::Failed => std::process::ExitCode::from(1),
            Exit::Usage => std::process::ExitCode::from(2),
        }
    }
}

impl Cli {
    /// Whether the command sets up its own logging (the server logs JSON lines).
    pub fn configures_logging(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::ExplainCode(args) => explain_code::run(&args),
        Command::Stdlib(args) => stdlib::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Batch(args) => batch::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
