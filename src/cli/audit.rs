//! `tailor audit export`: writes the audit records of a stopped server's store as JSON lines,
//! one record per line, in log order (decision ids are time-ordered), for archiving and for
//! `tailor replay --file`. The record schema is documented in `docs/replay.md`.
//!
//! The store is opened directly, so the server must be stopped: sled allows one process per
//! data directory, and a locked directory is reported as such rather than as a bare sled error.

use super::Exit;
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use tailor_runtime::audit::AuditRecord;
use tailor_runtime::replay::Filter;
use tailor_runtime::store::{decode, SharedStore, Tree};

const EXAMPLES: &str = "\
Examples:
  tailor audit export --data tailor-data --out audit.jsonl
  tailor audit export --data tailor-data --tenant demo --since 2026-11-24T00:00:00Z";

/// Arguments of `tailor audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// What to do with the audit log.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the audit records as JSON lines, in log order (the server must be stopped).
    Export(ExportArgs),
}

/// Arguments of `tailor audit export`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ExportArgs {
    /// The data directory (the sled store of a stopped server).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Which records, by tenant and time: shared by `audit export` and `replay`.
#[derive(Debug, Args)]
pub struct RangeArgs {
    /// Only this tenant's records.
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Only records decided at or after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Only records decided before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
}

impl RangeArgs {
    /// The filter these arguments describe.
    pub fn filter(&self) -> anyhow::Result<Filter> {
        let time = |flag: &str, t: &Option<String>| -> anyhow::Result<Option<i64>> {
            t.as_deref()
                .map(|t| {
                    tailor_compiler::interp::time::parse_rfc3339(t).map_err(|m| anyhow::anyhow!("--{flag} `{t}`: {m}"))
                })
                .transpose()
        };
        Ok(Filter {
            tenant: self.tenant.clone(),
            decision_ids: Vec::new(),
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
            subject: None,
        })
    }
}

/// Opens a stopped server's store, without creating one where there is none.
pub fn open_store(dir: &Path) -> anyhow::Result<SharedStore> {
    if !dir.is_dir() {
        bail!("no data directory `{}`", dir.display());
    }
    // Read once, start to end (replay, export, explain): a small page cache (see
    // `open_with_cache`).
    const READ_ONCE_CACHE_BYTES: u64 = 64 << 20;
    let store = tailor_runtime::store::sled::SledStore::open_with_cache(dir, None, READ_ONCE_CACHE_BYTES).with_context(|| {
        format!(
            "opening the data directory `{}` (is a `tailor serve` using it? sled allows one process per directory: stop the server first)",
            dir.display()
        )
    })?;
    Ok(std::sync::Arc::new(store))
}

/// Runs `tailor audit`.
pub fn run(args: &AuditArgs) -> anyhow::Result<Exit> {
    match &args.command {
        AuditCommand::Export(a) => export(a),
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<Exit> {
    let filter = args.range.filter()?;
    let store = open_store(&args.data)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating `{}`", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut written = 0usize;
    for (_, bytes) in store.scan_prefix(Tree::Audit, b"", usize::MAX)? {
        let record: AuditRecord = decode(&bytes)?;
        if !filter.matches(&record) {
            continue;
        }
        // The stored bytes as they are (compact JSON has no raw newlines): the export is the
        // log, not a re-serialization of it.
        out.write_all(&bytes)?;
        out.write_all(b"\n")?;
        written += 1;
    }
    out.flush()?;
    if args.out.is_some() {
        eprintln!("exported {written} audit record(s)");
    }
    Ok(Exit::Success)
}
