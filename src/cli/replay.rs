//! `tailor replay`: runs audit records again on their recorded bundle versions and reports, per
//! record, identical / different (with the first difference) / unreproducible (with why); with
//! `--candidate DIR`, runs them on a candidate bundle too and reports which decisions would
//! change. The logic is `tailor_runtime::replay`; this module reads the arguments and files and
//! prints. See `docs/replay.md`.
//!
//! Exit codes: 0 every record reproduced (or a what-if report), 1 any difference or
//! unreproducible record, 2 usage or IO errors.

use super::audit::{open_store, RangeArgs};
use super::Exit;
use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;
use tailor_runtime::replay::{self, Replayer, Report, Status, WhatIf};
use tailor_runtime::store::SharedStore;

const EXAMPLES: &str = "\
Examples:
  tailor replay --data tailor-data --subjects examples/profiles.jsonl
  tailor replay --file audit.jsonl --data tailor-data --subjects examples/profiles.jsonl --format json
  tailor replay --file audit.jsonl --policies policies --catalog catalog.json --hash-key KEY --subjects ids.txt
  tailor replay --data tailor-data --subjects examples/profiles.jsonl --candidate new-policies/

Exit codes: 0 all identical (or a --candidate report), 1 any difference or unreproducible record,
2 usage or IO error.";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Arguments of `tailor replay`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ReplayArgs {
    /// A stopped server's data directory: its audit records (unless --file), bundle versions,
    /// catalogs, identity links and hashing key.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Audit records from `tailor audit export` instead of the store's.
    #[arg(long, value_name = "EXPORT.jsonl")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub rerun: RerunArgs,
    /// Only these decisions. Repeatable.
    #[arg(long = "decision-id", value_name = "ID")]
    pub decision_ids: Vec<String>,
    /// Only this subject's decisions (its keyed hash, as in the log's `subject_hash`).
    #[arg(long, value_name = "HASH")]
    pub subject: Option<String>,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Instead of a replay report: run the records on this policy directory too and report
    /// which decisions would change.
    #[arg(long, value_name = "PATH")]
    pub candidate: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The backend that re-runs the records: `interpreter` (the definition) or `jit` (faster on
    /// large logs; it agrees with the interpreter exactly).
    #[arg(long, default_value = "interpreter", value_name = "BACKEND")]
    pub backend: tailor_compiler::Backend,
    /// Worker threads that re-run records [default: one per core]. The report is the same for
    /// any number.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub fn subject_ids(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('{') {
                let row: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("`{}` line {}: not JSON", path.display(), i + 1))?;
                match row.get("id").or_else(|| row.get("subject_id")).and_then(|v| v.as_str()) {
                    Some(id) => ids.push(id.to_string()),
                    None => bail!("`{}` line {}: no `id` or `subject_id`", path.display(), i + 1),
                }
            } else {
                ids.push(line.to_string());
            }
        }
    }
    Ok(ids)
}

/// What re-running a record needs besides the record, shared by `tailor replay` and `tailor
/// explain`: policies, catalog, subject ids and hashing key.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// Policies to re-run with (their content hash must match each record's).
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The catalog (JSON array or `{offers, templates}`), instead of the store's; its hash must
    /// match each record's.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Subject ids, to recognise records by their subject hash (experiments bucket on the id,
    /// which the log does not keep): one id per line, or JSON lines with `id` or `subject_id`
    /// (`examples/profiles.jsonl` works). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub subjects: Vec<PathBuf>,
    /// The identity hashing key [default: $TAILOR_HASH_KEY, else the store's].
    #[arg(long, value_name = "KEY")]
    pub hash_key: Option<String>,
}

impl RerunArgs {
    /// A replayer over `store` with these sources; `more_ids` join the `--subjects` files' ids.
    pub fn replayer(&self, store: Option<SharedStore>, more_ids: &[String]) -> anyhow::Result<Replayer> {
        let hash_key = self.hash_key.clone().or_else(|| std::env::var("TAILOR_HASH_KEY").ok());
        let mut ids = subject_ids(&self.subjects)?;
        ids.extend(more_ids.iter().cloned());
        let mut replayer = Replayer::new(store)
            .with_hash_key(hash_key.as_deref())?
            .with_subject_ids(ids);
        if let Some(dir) = &self.policies {
            replayer = replayer.with_policies(&tailor_runtime::demo::policy_sources(dir)?)?;
        }
        if let Some(path) = &self.catalog {
            replayer = replayer.with_catalog(tailor_runtime::demo::read_catalog(path, None)?);
        }
        Ok(replayer)
    }
}

/// Runs `tailor replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<Exit> {
    if args.data.is_none() && args.file.is_none() {
        bail!("give the records: --data DIR (a stopped server's store) or --file EXPORT.jsonl");
    }
    let mut filter = args.range.filter()?;
    filter.decision_ids = args.decision_ids.clone();
    filter.subject = args.subject.clone();
    let started = std::time::Instant::now();
    let store = args.data.as_deref().map(open_store).transpose()?;
    let text = match &args.file {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?),
        None => None,
    };
    let mut replayer = args.rerun.replayer(store.clone(), &[])?.with_backend(args.backend);
    tracing::debug!(
        open_ms = started.elapsed().as_millis() as u64,
        "records' store opened, subjects read"
    );
    match &args.candidate {
        Some(dir) => {
            let sources = tailor_runtime::demo::policy_sources(dir)?;
            let candidate = replay::compile_sources(&sources)
                .map_err(|e| anyhow::anyhow!("the candidate `{}` does not compile: {e}", dir.display()))?;
            let jobs = args.jobs.unwrap_or_else(replay::default_jobs).max(1);
            let what_if = match (&text, &store) {
                (Some(text), _) => replayer
                    .what_if_jsonl(text, &filter, &candidate, jobs)
                    .with_context(|| file_name(args))?,
                (None, Some(s)) => replayer.what_if_store(s, &filter, &candidate, jobs)?,
                (None, None) => replayer.what_if_with(&[], &candidate, jobs),
            };
            match args.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&what_if)?),
                Format::Text => print!("{}", what_if_text(&what_if)),
            }
            Ok(Exit::Success)
        }
        None => {
            let jobs = args.jobs.unwrap_or_else(replay::default_jobs).max(1);
            let bar = progress_bar();
            let length = |n| bar.set_length(n);
            let progress = |n| bar.inc(n);
            // Records are parsed and re-run a chunk at a time (replay::CHUNK), so the parsed
            // log is never in memory all at once.
            let report = match (&text, &store) {
                (Some(text), _) => replayer
                    .replay_jsonl(text, &filter, jobs, &length, &progress)
                    .with_context(|| file_name(args))?,
                (None, Some(s)) => replayer.replay_store(s, &filter, jobs, &length, &progress)?,
                (None, None) => replay::Report::default(),
            };
            bar.finish_and_clear();
            // Where the time goes, for `RUST_LOG=debug` (docs/benchmarks.md).
            tracing::debug!(
                records = report.total,
                jobs,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "replayed"
            );
            let out = std::time::Instant::now();
            match args.format {
                // Written as it is serialized (the same text as `to_string_pretty`), not built
                // in memory first: the report of a large log is tens of megabytes.
                Format::Json => {
                    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                    serde_json::to_writer_pretty(&mut stdout, &report)?;
                    writeln!(stdout)?;
                    stdout.flush()?;
                }
                Format::Text => print!("{}", report_text(&report)),
            }
            tracing::debug!(report_ms = out.elapsed().as_millis() as u64, "report written");
            Ok(if report.all_identical() {
                Exit::Success
            } else {
                Exit::Failed
            })
        }
    }
}

fn file_name(args: &ReplayArgs) -> String {
    format!(
        "reading `{}`",
        args.file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    )
}

fn report_text(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.records {
        let head = format!(
            "{} {} {} v{}",
            r.decision_id, r.tenant_id, r.placement, r.bundle_version
        );
        let line = match &r.status {
            Status::Identical => format!("{head}: identical"),
            Status::NotEvaluated { reason } => format!("{head}: not evaluated: {reason}"),
            Status::Unreproducible { reason } => format!("{head}: unreproducible: {reason}"),
            Status::Different { difference: d } => {
                let mut what = d.what.clone();
                if let Some(c) = &d.candidate {
                    what.push_str(&format!(" of candidate `{c}`"));
                }
                if let Some(rule) = &d.rule {
                    what.push_str(&format!(" (rule {rule})"));
                }
                format!(
                    "{head}: different: {what}: recorded {}, replayed {}",
                    d.recorded, d.replayed
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "{} record(s): {} identical, {} different, {} unreproducible, {} not evaluated\n",
        report.total, report.identical, report.different, report.unreproducible, report.not_evaluated
    ));
    out
}

fn what_if_text(w: &WhatIf) -> String {
    let mut out = format!(
        "candidate {}: {} of {} compared decision(s) would change ({} record(s) skipped)\n",
        w.candidate_hash, w.changed, w.compared, w.skipped
    );
    if !w.per_placement.is_empty() {
        out.push_str("per placement:\n");
        for (placement, p) in &w.per_placement {
            out.push_str(&format!("  {placement}: {} of {} change\n", p.changed, p.compared));
        }
    }
    if !w.per_offer.is_empty() {
        out.push_str("per offer (first shown, from → to):\n");
        for (kind, c) in &w.per_offer {
            out.push_str(&format!(
                "  {kind}: {} (e.g. {})\n",
                c.count,
                c.sample_subjects.join(", ")
            ));
        }
    }
    out
}

/// A progress bar on stderr when stderr is a terminal; hidden otherwise (pipes, CI logs, files),
/// so neither the JSON on stdout nor a captured stderr ever carries it.
fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("replaying {bar:40} {pos}/{len} records ({per_sec}, eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}
