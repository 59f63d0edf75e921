//! `tailor bench`: the policy author's benchmark (like `opa bench`). Evaluates a decision or an
//! eligibility block for every profile of a JSON-lines file against a catalog, on each backend,
//! and reports time per decision, per candidate and throughput, with the number of eligible
//! candidates so runs (and backends) can be compared.
//!
//! Profiles and the catalog are parsed and validated before timing starts; what is timed is
//! what a server does per request: the per-request setup (for the JIT, laying out the profile)
//! and the evaluation. Compile time and catalog preparation are reported separately. If the two
//! backends disagree on the eligible count, the run fails: they must agree.

use super::{policy_files, Exit};
use anyhow::{anyhow, bail, Context as _};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tailor_compiler::interp::{time as ptime, value_from_json, Env, TraceLevel, Verdict};
use tailor_compiler::ir::{Program, Type};
use tailor_compiler::{Backend, Bundle, BundleError, PreparedCatalog};
use tailor_runtime::catalog::CatalogFormat;

const EXAMPLES: &str = "\
Examples:
  tailor bench policies/ --catalog examples/catalog-1000.json --profiles examples/profiles.jsonl --decision home.hero
  tailor bench policies/ --catalog examples/catalog.json --profiles examples/profiles.jsonl \\
      --eligibility sellable --placement home.hero --backend jit --format json

Exit codes: 0 done, 1 the policies have errors or the backends disagree, 2 usage or IO error.";

/// Arguments of `tailor bench`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct BenchArgs {
    /// Policy files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The catalog: an array of candidate records or a `{offers, templates}` document, in JSON
    /// (YAML for `.yaml`/`.yml`).
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,
    /// Profiles, one JSON object per line: `{"id": …, "profile": {…}}` or a bare profile.
    #[arg(long, value_name = "FILE")]
    pub profiles: PathBuf,
    /// The decision to run: its name (`home_hero`, `retail.web.home_hero`) or its placement.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "eligibility",
        required_unless_present = "eligibility"
    )]
    pub decision: Option<String>,
    /// The eligibility block to run, by name (`sellable` or `retail.rules.sellable`).
    #[arg(long, value_name = "NAME")]
    pub eligibility: Option<String>,
    /// Which backends to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,
    /// The request channel (default: the decision's first allowed channel, else `Web`).
    #[arg(long, value_name = "CHANNEL")]
    pub channel: Option<String>,
    /// The request's placement (default: the decision's; empty for an eligibility block).
    #[arg(long, value_name = "PLACEMENT")]
    pub placement: Option<String>,
    /// The request time, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Purposes the subjects consented to (default: the decision's consent purpose, if any).
    #[arg(long, value_name = "PURPOSE")]
    pub consent: Vec<String>,
    /// Use at most this many profiles.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Repeat passes over the profiles for at least this many seconds per backend.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub time: f64,
    /// `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    Both,
    Jit,
    Interpreter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Text,
    Json,
}

/// What is benchmarked.
#[derive(Debug, Clone, Copy)]
enum Target {
    Decision(u32),
    Eligibility(u32),
}

/// One backend's figures.
#[derive(Debug, serde::Serialize)]
struct Figures {
    backend: String,
    /// Seconds to compile native code (0 for the interpreter).
    compile_seconds: f64,
    /// Seconds to prepare the catalog for this backend (once per catalog version).
    catalog_seconds: f64,
    profiles: usize,
    candidates: usize,
    /// Decisions (or eligibility evaluations) timed, over all passes.
    evaluations: u64,
    ns_per_decision: f64,
    ns_per_candidate: f64,
    decisions_per_second: f64,
    candidates_per_second: f64,
    /// Eligible candidates summed over the profiles (one pass).
    eligible: u64,
    /// Offers chosen, summed over the profiles (decisions only).
    chosen: u64,
}

fn matches_name(qualified: &str, wanted: &str) -> bool {
    qualified == wanted || qualified.rsplit('.').next() == Some(wanted)
}

fn find_target(program: &Program, args: &BenchArgs) -> anyhow::Result<Target> {
    if let Some(name) = &args.decision {
        let found = program
            .decisions
            .iter()
            .position(|d| matches_name(&d.name, name) || d.placement == *name)
            .ok_or_else(|| {
                let names: Vec<&str> = program.decisions.iter().map(|d| d.name.as_str()).collect();
                anyhow!("no decision named `{name}`; the decisions are {}", names.join(", "))
            })?;
        return Ok(Target::Decision(found as u32));
    }
    let name = args.eligibility.as_deref().unwrap_or_default();
    let found = program
        .eligibilities
        .iter()
        .position(|e| matches_name(&e.name, name))
        .ok_or_else(|| {
            let names: Vec<&str> = program.eligibilities.iter().map(|e| e.name.as_str()).collect();
            anyhow!("no eligibility block named `{name}`; they are {}", names.join(", "))
        })?;
    Ok(Target::Eligibility(found as u32))
}

fn load_envs(program: &Program, args: &BenchArgs, target: Target) -> anyhow::Result<Vec<Env>> {
    let profile_ty = Type::Record(
        program
            .profile
            .ok_or_else(|| anyhow!("the policies have no `Profile` schema"))?,
    );
    let text = std::fs::read_to_string(&args.profiles)
        .with_context(|| format!("cannot read `{}`", args.profiles.display()))?;
    let (placement, allowed, purpose) = match target {
        Target::Decision(d) => {
            let def = &program.decisions[d as usize];
            (def.placement.clone(), def.channels.clone(), def.consent.clone())
        }
        Target::Eligibility(_) => (String::new(), None, None),
    };
    let placement = args.placement.clone().unwrap_or(placement);
    let channel_enum = program
        .enums
        .get(program.builtins.channel as usize)
        .ok_or_else(|| anyhow!("the program has no Channel enum"))?;
    let channel = match (&args.channel, allowed.as_ref().and_then(|c| c.first())) {
        (Some(c), _) => c.clone(),
        (None, Some(&i)) => channel_enum
            .variants
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| "Web".into()),
        (None, None) => "Web".into(),
    };
    let context = value_from_json(
        program,
        &Type::Record(program.builtins.context),
        &serde_json::json!({"channel": channel, "placement": placement}),
    )
    .map_err(|e| anyhow!("the context: {e}"))?;
    let now_ms = match &args.now {
        Some(t) => ptime::parse_rfc3339(t).map_err(|e| anyhow!("--now: {e}"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    };
    let consents = if args.consent.is_empty() {
        purpose.into_iter().collect()
    } else {
        args.consent.clone()
    };
    let mut envs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if args.limit.is_some_and(|l| envs.len() >= l) {
            break;
        }
        let row: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{} line {}", args.profiles.display(), i + 1))?;
        let (id, json) = match row.get("profile") {
            Some(p) => (row.get("id").and_then(|v| v.as_str()).map(String::from), p),
            None => (None, &row),
        };
        let profile = value_from_json(program, &profile_ty, json)
            .map_err(|e| anyhow!("{} line {}: {e}", args.profiles.display(), i + 1))?;
        envs.push(Env {
            profile: Some(profile),
            context: context.clone(),
            now_ms,
            subject: id.unwrap_or_else(|| format!("line-{}", i + 1)).into(),
            consents: consents.clone(),
            impressions: Vec::new(),
        });
    }
    if envs.is_empty() {
        bail!("`{}` has no profiles", args.profiles.display());
    }
    Ok(envs)
}

/// One evaluation: (eligible candidates, chosen offers).
fn evaluate(
    bundle: &Bundle,
    backend: Backend,
    target: Target,
    env: &Env,
    catalog: &PreparedCatalog,
) -> anyhow::Result<(u64, u64)> {
    Ok(match target {
        Target::Decision(d) => {
            // With the verdicts the server logs and replay compares, not the named trace only
            // an explanation builds.
            let out = bundle.decide_traced(backend, env, d, catalog, None, TraceLevel::Verdicts)?;
            let eligible = out
                .verdicts
                .iter()
                .filter(|v| !matches!(v, Verdict::Removed { .. }))
                .count() as u64;
            (eligible, out.offers.len() as u64)
        }
        Target::Eligibility(e) => {
            let out = bundle.eligibility(backend, env, e, catalog)?;
            (
                out.candidates.iter().filter(|c| c.removed_by.is_none()).count() as u64,
                0,
            )
        }
    })
}

fn measure(
    bundle: &Bundle,
    backend: Backend,
    target: Target,
    envs: &[Env],
    catalog: &PreparedCatalog,
    min_time: Duration,
) -> anyhow::Result<Figures> {
    let compile_seconds = if backend == Backend::Jit {
        let start = Instant::now();
        bundle
            .jit()
            .map_err(|m| anyhow!("the JIT cannot compile these policies: {m}"))?;
        start.elapsed().as_secs_f64()
    } else {
        0.0
    };
    let catalog_seconds = if backend == Backend::Jit {
        let start = Instant::now();
        bundle.jit_catalog(catalog)?;
        start.elapsed().as_secs_f64()
    } else {
        0.0
    };
    // One untimed pass: counts, and warms caches.
    let (mut eligible, mut chosen) = (0, 0);
    for env in envs {
        let (e, c) = evaluate(bundle, backend, target, env, catalog)?;
        eligible += e;
        chosen += c;
    }
    let mut evaluations = 0u64;
    let start = Instant::now();
    loop {
        for env in envs {
            std::hint::black_box(evaluate(bundle, backend, target, env, catalog)?);
        }
        evaluations += envs.len() as u64;
        if start.elapsed() >= min_time {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let candidates = catalog.len();
    let ns_per_decision = elapsed * 1e9 / evaluations as f64;
    Ok(Figures {
        backend: backend.to_string(),
        compile_seconds,
        catalog_seconds,
        profiles: envs.len(),
        candidates,
        evaluations,
        ns_per_decision,
        ns_per_candidate: ns_per_decision / candidates.max(1) as f64,
        decisions_per_second: evaluations as f64 / elapsed,
        candidates_per_second: (evaluations * candidates as u64) as f64 / elapsed,
        eligible,
        chosen,
    })
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Runs `tailor bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<Exit> {
    let sources = policy_files::load(&args.paths)?;
    let bundle = match Bundle::compile(sources) {
        Ok(b) => b,
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
    let target = find_target(program, args)?;
    let elig = match target {
        Target::Decision(d) => program.decisions[d as usize].candidates,
        Target::Eligibility(e) => e,
    };
    let schema = program.eligibilities[elig as usize].schema;
    let text =
        std::fs::read_to_string(&args.catalog).with_context(|| format!("cannot read `{}`", args.catalog.display()))?;
    let doc = tailor_runtime::catalog::parse_catalog(&text, CatalogFormat::from_path(&args.catalog))
        .map_err(|e| anyhow!("{}: {e}", args.catalog.display()))?;
    let catalog = bundle
        .prepare_catalog_json(schema, &doc.offers)
        .map_err(|e| anyhow!("{}: {e}", args.catalog.display()))?;
    let envs = load_envs(program, args, target)?;
    let backends: &[Backend] = match args.backend {
        BackendChoice::Both => &[Backend::Jit, Backend::Interpreter],
        BackendChoice::Jit => &[Backend::Jit],
        BackendChoice::Interpreter => &[Backend::Interpreter],
    };
    let min_time = Duration::from_secs_f64(args.time.max(0.0));
    let mut results = Vec::new();
    for &backend in backends {
        results.push(measure(&bundle, backend, target, &envs, &catalog, min_time)?);
    }
    let what = match target {
        Target::Decision(d) => format!("decision {}", program.decisions[d as usize].name),
        Target::Eligibility(e) => format!("eligibility {}", program.eligibilities[e as usize].name),
    };
    if args.format == BenchFormat::Json {
        let doc = serde_json::json!({ "target": what, "results": results });
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{what}: {} profiles × {} candidates", envs.len(), catalog.len())?;
        for r in &results {
            writeln!(out, "\n{}", r.backend)?;
            if r.backend == "jit" {
                writeln!(out, "  compile             {}", human_ns(r.compile_seconds * 1e9))?;
                writeln!(out, "  catalog layout      {}", human_ns(r.catalog_seconds * 1e9))?;
            }
            writeln!(out, "  per decision        {}", human_ns(r.ns_per_decision))?;
            writeln!(out, "  per candidate       {}", human_ns(r.ns_per_candidate))?;
            writeln!(out, "  decisions/s         {:.0}", r.decisions_per_second)?;
            writeln!(out, "  candidates/s        {:.0}", r.candidates_per_second)?;
            writeln!(out, "  eligible (1 pass)   {}", r.eligible)?;
            if matches!(target, Target::Decision(_)) {
                writeln!(out, "  chosen (1 pass)     {}", r.chosen)?;
            }
        }
        if let [a, b] = results.as_slice() {
            writeln!(
                out,
                "\njit is {:.1}× the interpreter",
                b.ns_per_decision / a.ns_per_decision
            )?;
        }
    }
    if let [a, b] = results.as_slice() {
        if (a.eligible, a.chosen) != (b.eligible, b.chosen) {
            eprintln!(
                "error: the backends disagree: {} eligible / {} chosen on the jit, {} / {} on the interpreter",
                a.eligible, a.chosen, b.eligible, b.chosen
            );
            return Ok(Exit::Failed);
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    fn args(decision: Option<&str>, eligibility: Option<&str>) -> BenchArgs {
        BenchArgs {
            paths: vec![repo("policies")],
            catalog: repo("examples/catalog.json"),
            profiles: repo("examples/profiles.jsonl"),
            decision: decision.map(String::from),
            eligibility: eligibility.map(String::from),
            backend: BackendChoice::Both,
            channel: None,
            placement: Some("home.hero".into()),
            now: Some("2026-11-24T10:00:00Z".into()),
            consent: vec![],
            limit: Some(5),
            time: 0.0,
            format: BenchFormat::Json,
        }
    }

    #[test]
    fn benches_a_decision_and_an_eligibility_block_on_both_backends() {
        assert_eq!(run(&args(Some("home.hero"), None)).ok(), Some(Exit::Success));
        assert_eq!(run(&args(None, Some("sellable"))).ok(), Some(Exit::Success));
        let yaml = BenchArgs {
            catalog: repo("examples/catalog-demo.yaml"),
            ..args(Some("home.hero"), None)
        };
        assert_eq!(run(&yaml).ok(), Some(Exit::Success));
        let not_a_catalog = BenchArgs {
            catalog: repo("examples/README.md"),
            ..args(Some("home.hero"), None)
        };
        assert!(run(&not_a_catalog).is_err());
    }

    #[test]
    fn an_unknown_target_is_a_usage_error() {
        assert!(run(&args(Some("nope"), None)).is_err());
    }
}
