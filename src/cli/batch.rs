//! `tailor batch`: a batch plan from files, without a server. Runs one placement's decision for
//! every profile of a JSON-lines file (in the segments asked for) against a catalog, on every
//! core, and writes one assignment per selected subject, the same rows `POST
//! /personalization/batch-plan` writes (`docs/batch.md`).
//!
//! The output is written as `<out>.partial` and renamed to `<out>` only when the run completed,
//! then a manifest `<stem>.manifest.json` is written next to it; an interrupted or failed run
//! leaves no file with the final name. Progress goes to stderr, the summary to stdout.

use super::replay::Format;
use super::{policy_files, Exit};
use anyhow::{anyhow, Context as _};
use clap::{Args, ValueEnum};
use serde_json::{json, Value as Json};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tailor_compiler::interp::time as ptime;
use tailor_compiler::{Backend, Bundle, BundleError};
use tailor_runtime::batch::{self, Loaded, Match, Plan, PlanFile, PlanSpec, Progress, SubjectData};
use tailor_runtime::identity::Hasher;
use tailor_runtime::profiles::Object;

const EXAMPLES: &str = "\
Examples:
  tailor batch policies/ --catalog examples/catalog-1000.json --profiles examples/profiles.jsonl \\
      --placement email.winback --channel Email --segment lapsed --consent marketing --out winback.jsonl
  tailor batch policies/ --catalog examples/catalog.json --profiles examples/profiles.jsonl \\
      --placement home.hero --channel Web --segment vip --segment high_value --match any --backend jit

Exit codes: 0 done, 1 the policies have errors, 2 usage or IO error (unknown segment, bad file).";

/// Arguments of `tailor batch`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct BatchArgs {
    /// Policy files or directories.
    #[arg(value_name = "PATH", required_unless_present = "data")]
    pub paths: Vec<PathBuf>,
    /// The catalog: a JSON array of offers, or a `{offers, templates}` document.
    #[arg(long, value_name = "FILE", required_unless_present = "data")]
    pub catalog: Option<PathBuf>,
    /// Profiles, one `{"id": …, "profile": {…}}` per line (an optional `"consents"` array of
    /// granted purposes overrides `--consent` for that subject).
    #[arg(long, value_name = "FILE", required_unless_present = "data")]
    pub profiles: Option<PathBuf>,
    /// Plan over a stopped server's store instead of files: the tenant's active bundle,
    /// catalog, profiles, consent and impressions, as `POST /personalization/batch-plan` does;
    /// the output goes to the server's plan directory.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["paths", "catalog", "profiles", "out", "consent", "plan_id", "hash_key"])]
    pub data: Option<PathBuf>,
    /// The placement to fill.
    #[arg(long, value_name = "PLACEMENT", required_unless_present = "decision")]
    pub placement: Option<String>,
    /// Or the decision to run, by name.
    #[arg(long, value_name = "NAME", conflicts_with = "placement")]
    pub decision: Option<String>,
    /// The channel (`Web`, `App`, `Email`, `Sms`, `Push`).
    #[arg(long, value_name = "CHANNEL")]
    pub channel: String,
    /// Keep only subjects in this segment (repeat for several).
    #[arg(long = "segment", value_name = "NAME")]
    pub segments: Vec<String>,
    /// How several segments combine.
    #[arg(long = "match", value_enum, default_value_t = MatchArg::All)]
    pub match_mode: MatchArg,
    /// Purposes every subject consented to, unless its line has `"consents"` (default: none).
    #[arg(long, value_name = "PURPOSE")]
    pub consent: Vec<String>,
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<String>,
    #[arg(long, value_name = "LOCALE")]
    pub locale: Option<String>,
    /// Lowers the decision's `max`.
    #[arg(long, value_name = "N")]
    pub max_variants: Option<u32>,
    /// How long the assignments are valid (`7d`, `12h`; default the decision's ttl).
    #[arg(long, value_name = "DURATION")]
    pub valid_for: Option<String>,
    /// Stop after this many selected subjects.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Render each chosen offer's content template into its row (`content`), as the decide
    /// response does; from files, the catalog's templates are checked first.
    #[arg(long)]
    pub render: bool,
    /// Content templates for `--render` (a JSON or YAML map of id to template), added to
    /// those of the catalog document.
    #[arg(long, value_name = "FILE", requires = "render", conflicts_with = "data")]
    pub templates: Option<PathBuf>,
    /// The output file (default `<plan id>.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The evaluator: `jit` or `interpreter` (they agree exactly).
    #[arg(long, default_value = "jit", value_name = "BACKEND")]
    pub backend: Backend,
    /// The plan time, RFC 3339 (default: now): what `now()` returns, and `valid_from`.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// The plan id written on every row (default: a new one).
    #[arg(long, value_name = "ID")]
    pub plan_id: Option<String>,
    /// The tenant (with `--data`, required); from files, the tenant id written on every row
    /// (default `cli`).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// The server's identity hashing key, to fill `subject_hash` (otherwise null).
    #[arg(long, value_name = "KEY")]
    pub hash_key: Option<String>,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatchArg {
    All,
    Any,
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn manifest_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    out.with_file_name(format!("{stem}.manifest.json"))
}

fn spec_of(args: &BatchArgs, tenant: &str) -> PlanSpec {
    PlanSpec {
        tenant_id: tenant.to_string(),
        placement: args.placement.clone(),
        decision: args.decision.clone(),
        channel: args.channel.clone(),
        scenario: args.scenario.clone(),
        locale: args.locale.clone(),
        segments: args.segments.clone(),
        match_mode: match args.match_mode {
            MatchArg::All => Match::All,
            MatchArg::Any => Match::Any,
        },
        max_variants: args.max_variants,
        valid_for: args.valid_for.clone(),
        limit: args.limit,
        render: args.render,
    }
}

/// `tailor batch --data DIR`: the server's plan, run here on a stopped server's store.
fn run_store(args: &BatchArgs, data: &Path) -> anyhow::Result<Exit> {
    let tenant = args
        .tenant
        .clone()
        .ok_or_else(|| anyhow!("--data needs --tenant (the tenant to plan for)"))?;
    let mut config = super::serve::load_config(None, Some(data))?;
    config.backend = args.backend;
    if let Some(now) = &args.now {
        ptime::parse_rfc3339(now).map_err(|e| anyhow!("--now: {e}"))?;
        config.decide.fixed_now = Some(now.clone());
    }
    if let Some(t) = args.threads {
        config.batch.threads = t;
    }
    let engine = super::serve::open_engine(config)?;
    let t_start = Instant::now();
    let started = engine.start_plan(spec_of(args, &tenant)).map_err(|e| anyhow!("{e}"))?;
    let id = started.plan_id.clone();
    eprintln!("batch: plan {id} started");
    while !started.handle.is_finished() {
        std::thread::sleep(Duration::from_millis(200));
        if t_start.elapsed().as_millis() % 1000 < 200 {
            let p = &started.progress;
            eprintln!(
                "batch: {} of {} subjects, {} selected",
                p.processed.load(Ordering::Relaxed),
                p.total.load(Ordering::Relaxed),
                p.selected.load(Ordering::Relaxed)
            );
        }
    }
    if started.handle.join().is_err() {
        anyhow::bail!("the plan's thread panicked");
    }
    let status = engine.plan_status(&id).map_err(|e| anyhow!("{e}"))?;
    engine.store.flush().context("flushing the store")?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        Format::Text => {
            println!(
                "plan {id}: {} — {} of {} subjects selected ({} fallbacks) for {} on {}",
                status["status"].as_str().unwrap_or_default(),
                status["selected"],
                status["processed"],
                status["fallbacks"],
                status["placement"].as_str().unwrap_or_default(),
                args.channel
            );
            if let Some(out) = status["output"].as_str() {
                println!(
                    "output {out}, manifest {}",
                    status["manifest"].as_str().unwrap_or_default()
                );
            }
            println!("time {:.2} s", t_start.elapsed().as_secs_f64());
        }
    }
    if status["status"] != "completed" {
        eprintln!(
            "error: the plan did not complete: {}",
            status["error"].as_str().unwrap_or("no reason recorded")
        );
        return Ok(Exit::Usage);
    }
    Ok(Exit::Success)
}

/// Runs `tailor batch`.
pub fn run(args: &BatchArgs) -> anyhow::Result<Exit> {
    if let Some(data) = &args.data {
        return run_store(args, data);
    }
    let (Some(catalog_path), Some(profiles_path)) = (&args.catalog, &args.profiles) else {
        anyhow::bail!("give --catalog and --profiles (or --data)");
    };
    let tenant = args.tenant.clone().unwrap_or_else(|| "cli".to_string());
    let t_start = Instant::now();
    let sources = policy_files::load(&args.paths)?;
    let bundle = match Bundle::compile(sources) {
        Ok(b) => Arc::new(b),
        Err(BundleError::Invalid(analysis)) => {
            eprintln!(
                "error: the policies have {} error(s); run `tailor check` to see them",
                analysis.error_count()
            );
            return Ok(Exit::Failed);
        }
        Err(e) => return Err(e.into()),
    };
    let program = bundle.program();
    let channels = program
        .enums
        .get(program.builtins.channel as usize)
        .map(|e| e.variants.clone())
        .unwrap_or_default();
    let spec = spec_of(args, &tenant);
    let target = batch::resolve(program, &channels, &spec).map_err(|e| anyhow!("{e}"))?;
    let def = &program.decisions[target.decision as usize];
    if let Some(purpose) = &def.consent {
        if args.consent.is_empty() {
            eprintln!(
                "note: decision `{}` needs consent `{purpose}`; subjects without a `consents` field get its fallback (give --consent {purpose} if they all consented)",
                def.name
            );
        }
    }
    let schema = program
        .eligibilities
        .get(def.candidates as usize)
        .map(|e| e.schema)
        .ok_or_else(|| anyhow!("the decision has no candidates block"))?;
    let doc = tailor_runtime::demo::read_catalog(catalog_path, args.templates.as_deref())?;
    // Rendering needs the templates, checked against the schemas as a deploy checks them.
    let catalog: Arc<dyn batch::CatalogSource> = if args.render {
        Arc::new(
            tailor_runtime::catalog::prepare(&bundle, &doc).map_err(|e| anyhow!("{}: {e}", catalog_path.display()))?,
        )
    } else {
        let prepared = bundle
            .prepare_catalog_json(schema, &doc.offers)
            .map_err(|e| anyhow!("{}: {e}", catalog_path.display()))?;
        Arc::new(batch::OwnedCatalog {
            prepared,
            offers: doc.offers,
        })
    };
    let compiled = t_start.elapsed();
    let backend = args.backend;
    let t_jit = Instant::now();
    if backend == Backend::Jit {
        bundle.jit_catalog(catalog.prepared())?;
    }
    let jit_time = t_jit.elapsed();
    let now_ms = match &args.now {
        Some(t) => ptime::parse_rfc3339(t).map_err(|e| anyhow!("--now: {e}"))?,
        None => wall_ms(),
    };
    let plan_id = match &args.plan_id {
        Some(id) => id.clone(),
        None => format!("p{:012x}{:08x}", wall_ms(), std::process::id()),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{plan_id}.jsonl")));
    let max_window = program
        .decisions
        .iter()
        .flat_map(|d| d.caps.iter().map(|c| c.window_ms))
        .max()
        .unwrap_or(0);
    let bundle_hash = bundle.version().to_string();
    let plan = Plan {
        id: plan_id.clone(),
        tenant_id: tenant.clone(),
        bundle: bundle.clone(),
        catalog,
        backend,
        target,
        channels,
        now_ms,
        since_ms: now_ms.saturating_sub(max_window),
        bundle_version: None,
        bundle_hash: bundle_hash.clone(),
    };
    let file =
        std::fs::File::open(profiles_path).with_context(|| format!("cannot read `{}`", profiles_path.display()))?;
    let mut lines = BufReader::with_capacity(1 << 20, file).lines().enumerate();
    let hasher = args.hash_key.as_ref().map(|k| Hasher::new(k.as_bytes()));
    let progress = Progress::default();
    let threads = args
        .threads
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let mut last_report = Instant::now();
    let t_run = Instant::now();
    let mut read_error: Option<anyhow::Error> = None;
    let next_chunk = |max: usize| -> Result<Option<Vec<(usize, String)>>, batch::BatchError> {
        if last_report.elapsed() >= Duration::from_secs(1) {
            let n = progress.processed.load(Ordering::Relaxed);
            eprintln!(
                "batch: {n} subjects, {} selected, {:.0} subjects/s",
                progress.selected.load(Ordering::Relaxed),
                n as f64 / t_run.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        let mut chunk = Vec::with_capacity(max);
        for (i, line) in lines.by_ref() {
            match line {
                Ok(l) if l.trim().is_empty() => continue,
                Ok(l) => chunk.push((i + 1, l)),
                Err(e) => {
                    read_error = Some(anyhow!("{} line {}: {e}", profiles_path.display(), i + 1));
                    return Err(batch::BatchError::Internal("cannot read the profiles".into()));
                }
            }
            if chunk.len() >= max {
                break;
            }
        }
        Ok((!chunk.is_empty()).then_some(chunk))
    };
    let bad_line = std::sync::Mutex::new(None::<String>);
    let load = |(line_no, text): &(usize, String)| -> Result<Loaded, batch::BatchError> {
        let row: Json = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                if let Ok(mut b) = bad_line.lock() {
                    b.get_or_insert_with(|| format!("{} line {line_no}: {e}", profiles_path.display()));
                }
                return Ok(Loaded::Skip("malformed_line"));
            }
        };
        let id = row.get("id").and_then(Json::as_str).map(str::to_string);
        let profile: Option<Object> = row.get("profile").and_then(Json::as_object).cloned();
        let consents = match row.get("consents").and_then(Json::as_array) {
            Some(c) => c.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
            None => args.consent.clone(),
        };
        let hash = match (&hasher, &id) {
            (Some(h), Some(id)) => Some(h.subject(&tenant, id)),
            _ => None,
        };
        Ok(Loaded::Subject(SubjectData {
            id,
            hash,
            profile,
            consents,
            ..SubjectData::default()
        }))
    };
    let mut writer = PlanFile::create(&out)?;
    let result = batch::run(&plan, threads, next_chunk, load, &mut writer, &progress);
    let (counts, phases) = match result {
        Ok(r) => r,
        Err(e) => {
            writer.abandon();
            return Err(read_error.unwrap_or_else(|| anyhow!("{e}")));
        }
    };
    let (sha, bytes) = writer.finish()?;
    let run_time = t_run.elapsed();
    if let Ok(Some(b)) = bad_line.into_inner() {
        eprintln!("warning: skipped malformed lines; the first: {b}");
    }
    let per_second = counts.processed as f64 / run_time.as_secs_f64().max(1e-9);
    let manifest = json!({
        "plan_id": plan_id,
        "status": "completed",
        "complete": true,
        "tenant_id": tenant,
        "decision": plan.target.decision_name,
        "placement": plan.target.placement,
        "spec": spec,
        "bundle": { "version": null, "hash": bundle_hash },
        "backend": backend,
        "valid_from": ptime::format_rfc3339(now_ms),
        "valid_until": ptime::format_rfc3339(now_ms.saturating_add(plan.target.valid_for_ms)),
        "processed": counts.processed,
        "selected": counts.selected,
        "fallbacks": counts.fallbacks,
        "template_errors": counts.template_errors,
        "skipped": counts.skipped,
        "offers": counts.offers,
        "output": out.display().to_string(),
        "sha256": sha,
        "bytes": bytes,
    });
    let manifest_file = manifest_path(&out);
    batch::write_json_atomically(&manifest_file, &manifest)?;
    let total = t_start.elapsed();
    let timings = json!({
        "compile_seconds": compiled.as_secs_f64(),
        "jit_catalog_seconds": jit_time.as_secs_f64(),
        "run_seconds": run_time.as_secs_f64(),
        "total_seconds": total.as_secs_f64(),
        "threads": threads,
        "worker_load_seconds": phases.load_ns as f64 / 1e9,
        "worker_evaluate_seconds": phases.evaluate_ns as f64 / 1e9,
        "read_seconds": phases.read_ns as f64 / 1e9,
        "write_seconds": phases.write_ns as f64 / 1e9,
    });
    let stdout = std::io::stdout();
    let mut o = stdout.lock();
    match args.format {
        Format::Json => {
            let mut m = manifest;
            m["manifest"] = json!(manifest_file.display().to_string());
            m["subjects_per_second"] = json!(per_second);
            m["timings"] = timings;
            writeln!(o, "{}", serde_json::to_string_pretty(&m)?)?;
        }
        Format::Text => {
            writeln!(
                o,
                "plan {plan_id}: {} of {} subjects selected ({} fallbacks) for {} on {}",
                counts.selected, counts.processed, counts.fallbacks, plan.target.placement, plan.target.channel
            )?;
            for (reason, n) in &counts.skipped {
                writeln!(o, "  skipped {n:>9}  {reason}")?;
            }
            if counts.template_errors > 0 {
                writeln!(
                    o,
                    "  {} templates failed to render (their rows lack that content)",
                    counts.template_errors
                )?;
            }
            let mut offers: Vec<(&String, &u64)> = counts.offers.iter().collect();
            offers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (offer, n) in offers.iter().take(10) {
                writeln!(o, "  offer   {n:>9}  {offer}")?;
            }
            if offers.len() > 10 {
                writeln!(o, "  … and {} more offers", offers.len() - 10)?;
            }
            writeln!(
                o,
                "output {} ({} bytes, sha256 {sha}), manifest {}",
                out.display(),
                bytes,
                manifest_file.display()
            )?;
            writeln!(
                o,
                "time {:.2} s ({:.2} s compile, {:.2} s JIT catalog, {:.2} s run on {threads} threads), {:.0} subjects/s",
                total.as_secs_f64(),
                compiled.as_secs_f64(),
                jit_time.as_secs_f64(),
                run_time.as_secs_f64(),
                per_second
            )?;
        }
    }
    Ok(Exit::Success)
}
