//! `tailor explain`: shows how a decision was made, rule by rule. Two modes:
//!
//! - `tailor explain PATHS --test NAME`: the decision in one policy test, run on the interpreter
//!   (`tailor_compiler::testing`).
//! - `tailor explain DECISION_ID (--data DIR | --audit FILE)`: one logged decision, run again on
//!   its recorded bundle (`tailor_runtime::explain`): inputs, segments, experiment, every
//!   candidate's fate, caps, policy, fallback, the response and whether the re-run is identical.
//!
//! Without `--test`, a single argument that is not an existing path is a decision id.

use super::Exit;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  tailor explain policies/ --test \"a new German customer sees the welcome offer first\"
  tailor explain 01a20efbe27d000000000001 --data tailor-data --subjects examples/profiles.jsonl
  tailor explain 01a20efbe27d000000000001 --audit audit.jsonl --data tailor-data --subject-id u-00042 --format json

Exit codes: 0 explained, 1 the policies have errors (test mode), 2 usage or IO error (such as no
test of that name, or an unknown decision id).";

/// Arguments of `tailor explain`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ExplainArgs {
    /// Files or directories (with `--test`; directories are searched recursively for `*.policy`
    /// files), or one logged decision's id.
    #[arg(required = true, value_name = "PATH|DECISION_ID")]
    pub paths: Vec<PathBuf>,

    /// The name of the test whose decisions to explain, as written after `test`.
    #[arg(long, value_name = "NAME")]
    pub test: Option<String>,

    /// A stopped server's data directory: the record (unless --audit), bundle versions, catalog,
    /// identity links and hashing key.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// An export from `tailor audit export` to find the record in.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,

    #[command(flatten)]
    pub rerun: super::replay::RerunArgs,

    /// The decision's subject id, when the store has no identity link for it. Repeatable.
    #[arg(long = "subject-id", value_name = "ID")]
    pub subject_ids: Vec<String>,

    /// Output format of a decision's explanation.
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::replay::Format,
}

/// Runs `tailor explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<Exit> {
    let test = match &args.test {
        Some(test) => test,
        None => match args.paths.as_slice() {
            [one] if !one.exists() => return explain_decision(&one.to_string_lossy(), args),
            _ => anyhow::bail!(
                "give `--test NAME` to explain a policy test, or a single decision id with --data DIR or --audit FILE"
            ),
        },
    };
    tracing::debug!(paths = ?args.paths, test = %test, "tailor explain");
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
    match tailor_compiler::testing::explain_test(&analysis.program, test) {
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

/// `tailor explain DECISION_ID`.
fn explain_decision(id: &str, args: &ExplainArgs) -> anyhow::Result<Exit> {
    use super::audit::open_store;
    use tailor_runtime::replay::{self, Filter};
    if args.data.is_none() && args.audit.is_none() {
        anyhow::bail!("give the record: --data DIR (a stopped server's store) or --audit EXPORT.jsonl");
    }
    let store = args.data.as_deref().map(open_store).transpose()?;
    let filter = Filter {
        decision_ids: vec![id.to_string()],
        ..Filter::default()
    };
    let record = match (&args.audit, &store) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
            replay::records_from_jsonl(&text, &filter)
                .with_context(|| format!("reading `{}`", path.display()))?
                .into_iter()
                .next()
        }
        (None, Some(s)) => s
            .get(tailor_runtime::store::Tree::Audit, id.as_bytes())?
            .map(|b| tailor_runtime::store::decode(&b))
            .transpose()?,
        (None, None) => None,
    };
    let Some(record) = record else {
        let source = match (&args.audit, &args.data) {
            (Some(p), _) | (None, Some(p)) => p.display().to_string(),
            (None, None) => String::new(),
        };
        eprintln!("error: no decision `{id}` in `{source}`");
        return Ok(Exit::Usage);
    };
    let mut replayer = args.rerun.replayer(store, &args.subject_ids)?;
    let doc = tailor_runtime::explain::explain(&mut replayer, &record);
    match args.format {
        super::replay::Format::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        super::replay::Format::Text => print!("{}", tailor_runtime::explain::to_text(&doc)),
    }
    Ok(Exit::Success)
}
