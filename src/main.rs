//! `tailor`: the command line for Tailor policies.
//!
//! This file only sets up logging, parses the command line and turns a command's outcome into
//! the process exit code; each subcommand lives in its own module under [`cli`]. Exit codes are
//! a contract with CI scripts: 0 clean, 1 problems in the policies, 2 usage or IO errors (see
//! `docs/cli.md`).

mod cli;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

// mimalloc instead of glibc's malloc: decisions, replay and batch plans allocate small objects
// per candidate on many threads, where glibc's arenas spent a quarter of the CPU time
// (`docs/benchmarks.md`, "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if !args.configures_logging() {
        init_tracing();
    }
    match cli::run(args) {
        Ok(exit) => exit.into(),
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: "reading `a.policy`: …".
            eprintln!("error: {err:#}");
            cli::Exit::Usage.into()
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`), so they never mix with the
/// machine-readable output some commands write to stdout.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
