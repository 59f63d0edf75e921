//! `tailor import`: loads files into a server's data directory while the server is stopped
//! (sled allows one process per directory; a running server takes the same rows over HTTP at
//! `/ingest/*/bulk`, and catalogs at `PUT /admin/catalog/{tenant}`).
//!
//! Row files are JSON lines in the shapes of the bulk endpoints (`examples/profiles.jsonl` is
//! one); the tenant comes from `--tenant` unless a line names its own. Every valid line is
//! applied; bad lines are reported with their line numbers and make the exit code 1.

use super::serve::{load_config, open_engine};
use super::Exit;
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use tailor_runtime::engine::{ConsentRow, Engine, EngineError, FeaturesRow, IdentityRow, ProfileRow};

const EXAMPLES: &str = "\
Examples:
  tailor import profiles examples/profiles.jsonl --tenant demo --data tailor-data
  tailor import consent consent.jsonl --tenant demo
  tailor import catalog examples/catalog.json --tenant demo";

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// `{"id", "profile", "identifiers"?}` per line.
    Profiles,
    /// `{"subject_id", "identifiers"}` per line.
    Identity,
    /// `{"subject_id", "purpose", "channel"?, "granted", "at"?, "source"}` per line.
    Consent,
    /// `{"subject_id", "features"}` per line.
    Features,
    /// A JSON array of offers or a `{"offers", "templates"}` document.
    Catalog,
}

/// Arguments of `tailor import`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ImportArgs {
    /// What the file holds.
    pub kind: Kind,
    /// The file.
    pub file: PathBuf,
    /// The tenant (which must have a deployed bundle).
    #[arg(long)]
    pub tenant: String,
    /// The data directory [default: tailor-data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A TOML configuration file (for the identity hashing key and the data directory).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn rows<T: DeserializeOwned>(
    engine: &Engine,
    tenant: &str,
    text: &str,
    line_tenant: fn(&T) -> Option<&str>,
    apply: fn(&Engine, &str, T) -> Result<(), EngineError>,
) -> (usize, usize) {
    let (mut ok, mut bad) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<T>(line)
            .map_err(|e| e.to_string())
            .and_then(|row| {
                let t = line_tenant(&row).unwrap_or(tenant).to_string();
                apply(engine, &t, row).map_err(|e| e.to_string())
            });
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                bad += 1;
                if bad <= 100 {
                    eprintln!("line {}: {e}", i + 1);
                }
            }
        }
    }
    (ok, bad)
}

/// Imports the file.
pub fn run(args: &ImportArgs) -> anyhow::Result<Exit> {
    let config = load_config(args.config.as_deref(), args.data.as_deref())?;
    let engine = open_engine(config)?;
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let t = args.tenant.as_str();
    let (ok, bad) = match args.kind {
        Kind::Profiles => rows::<ProfileRow>(
            &engine,
            t,
            &text,
            |r| r.tenant_id.as_deref(),
            |e, t, r| e.ingest_profile(t, r),
        ),
        Kind::Identity => rows::<IdentityRow>(
            &engine,
            t,
            &text,
            |r| r.tenant_id.as_deref(),
            |e, t, r| e.ingest_identity(t, r),
        ),
        Kind::Consent => rows::<ConsentRow>(
            &engine,
            t,
            &text,
            |r| r.tenant_id.as_deref(),
            |e, t, r| e.ingest_consent(t, r),
        ),
        Kind::Features => rows::<FeaturesRow>(
            &engine,
            t,
            &text,
            |r| r.tenant_id.as_deref(),
            |e, t, r| e.ingest_features(t, r),
        ),
        Kind::Catalog => {
            let doc = tailor_runtime::demo::read_catalog(&args.file, None)?;
            match engine.put_catalog(t, doc, "tailor import") {
                Ok(summary) => {
                    println!("{summary}");
                    (1, 0)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    (0, 1)
                }
            }
        }
    };
    engine.store.flush().context("flushing the store")?;
    println!("imported {ok}, rejected {bad}");
    Ok(if bad == 0 { Exit::Success } else { Exit::Failed })
}
