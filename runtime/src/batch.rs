//! Batch plans: one placement's decision run for many subjects at once, written as JSON lines
//! (`POST /personalization/batch-plan`, `tailor batch`; `docs/batch.md`).
//!
//! A plan is fixed when it is submitted: the tenant's live bundle and catalog (one `Arc` load,
//! whatever is deployed meanwhile), the decision, the context and the plan time `now`. Every
//! row carries the plan id and the bundle version and hash, so an assignment is attributable
//! and can be reproduced. Each subject goes through the same steps as `POST
//! /personalization/decide` (profile with features and counters laid over it, granted consent,
//! impressions within the longest cap window, `Bundle::decide` on the configured backend), after
//! the plan's segment filter.
//!
//! The shape: a [`Plan`] (what to run), a source of subjects read in chunks (the store's
//! profiles in key order, or a profiles file in line order), a loader run on the workers that
//! turns one item into [`SubjectData`], and [`run`], which evaluates each chunk across the
//! worker threads and writes the rows in input order, so two runs of a plan are byte-identical
//! and memory stays bounded by one chunk.
//!
//! Files: rows go to `<id>.jsonl.partial`, which is synced and renamed to `<id>.jsonl` only
//! when the plan completed ([`PlanFile`]); a manifest `<id>.manifest.json` follows. A cancelled
//! or failed plan's partial file is removed; a plan found `running` at startup (the process
//! died) is marked `interrupted` and its partial file removed ([`recover`]). So a file named
//! `<id>.jsonl` is always complete.

use crate::caps::{self, StoredImpression};
use crate::catalog::{LoadedCatalog, TemplateInput};
use crate::consent;
use crate::engine::Engine;
use crate::identity::Identity;
use crate::profiles::{self, Object};
use crate::registry::wall_ms;
use crate::store::{decode, encode, key, Store, StoreError, Tree};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tailor_compiler::interp::time::{format_rfc3339, parse_duration};
use tailor_compiler::interp::{value_from_json, Env, EvalError, Evaluator, Value};
use tailor_compiler::ir::{Program, Type};
use tailor_compiler::{Backend, Bundle, PreparedCatalog};

/// Subjects per chunk and worker: what one worker evaluates between two ordered writes.
const CHUNK_PER_THREAD: usize = 2048;

/// How plan records are keyed in [`Tree::Meta`].
const PLAN_PREFIX: &str = "batch-plan";

/// How the plan's segments combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// The subject is in every segment.
    #[default]
    All,
    /// The subject is in at least one segment.
    Any,
}

/// A batch plan request (`POST /personalization/batch-plan`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub tenant_id: String,
    /// The placement to fill (the campaign configuration: its decision runs).
    pub placement: Option<String>,
    /// Or the decision, by name (`winback_email` or `retail.email.winback_email`).
    pub decision: Option<String>,
    /// A `std.Channel` variant.
    pub channel: String,
    pub scenario: Option<String>,
    pub locale: Option<String>,
    /// Segment names; empty selects every subject.
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default, rename = "match")]
    pub match_mode: Match,
    /// Lowers the decision's `max` (never raises it).
    pub max_variants: Option<u32>,
    /// How long the assignments are valid, as a policy duration (`7d`, `12h`); default the
    /// decision's `ttl`.
    pub valid_for: Option<String>,
    /// Stop after this many selected subjects.
    pub limit: Option<u64>,
    /// Render the content template of each chosen offer (and of the fallback content) into the
    /// row, as the decide response does.
    #[serde(default)]
    pub render: bool,
}

/// Why a plan cannot be submitted, run or found.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("unknown batch plan `{0}`")]
    UnknownPlan(String),
    #[error("batch plan `{id}` is already {status}")]
    Finished { id: String, status: String },
    #[error("cannot write `{path}`: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the plan was cancelled")]
    Cancelled,
    #[error("{running} batch plans are running, the most allowed at once (`batch.max_running`); submit again when one has ended")]
    TooManyRunning { running: usize },
    #[error("{0}")]
    Internal(String),
}

fn invalid(field: &str, message: impl Into<String>) -> BatchError {
    BatchError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> BatchError {
    BatchError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn matches_name(qualified: &str, wanted: &str) -> bool {
    qualified == wanted || qualified.rsplit('.').next() == Some(wanted)
}

/// The decision, segments and context of a spec, checked against a bundle.
#[derive(Debug, Clone)]
pub struct Target {
    pub decision: u32,
    pub decision_name: String,
    pub placement: String,
    pub channel: String,
    pub context: Value,
    pub context_json: Json,
    /// (segment index, name as given).
    pub segments: Vec<(u32, String)>,
    pub match_mode: Match,
    pub max_variants: Option<u32>,
    pub valid_for_ms: i64,
    pub limit: Option<u64>,
    pub render: bool,
}

/// Checks a spec against a program: the placement or decision exists, the channel is a
/// `std.Channel` variant, the segments exist (the error lists the known ones).
pub fn resolve(program: &Program, channels: &[String], spec: &PlanSpec) -> Result<Target, BatchError> {
    let decision = match (&spec.placement, &spec.decision) {
        (Some(_), Some(_)) => return Err(invalid("placement", "give `placement` or `decision`, not both")),
        (None, None) => return Err(invalid("placement", "give `placement` or `decision`")),
        (Some(p), None) => program.decision_for_placement(p).ok_or_else(|| {
            let known: Vec<&str> = program.decisions.iter().map(|d| d.placement.as_str()).collect();
            invalid(
                "placement",
                format!("no decision fills placement `{p}` (placements: {})", known.join(", ")),
            )
        })?,
        (None, Some(d)) => program
            .decisions
            .iter()
            .position(|def| matches_name(&def.name, d))
            .map(|i| i as u32)
            .ok_or_else(|| {
                let known: Vec<&str> = program.decisions.iter().map(|d| d.name.as_str()).collect();
                invalid(
                    "decision",
                    format!("unknown decision `{d}` (decisions: {})", known.join(", ")),
                )
            })?,
    };
    let def = program
        .decisions
        .get(decision as usize)
        .ok_or_else(|| BatchError::Internal("decision index out of range".into()))?;
    if !channels.contains(&spec.channel) {
        return Err(invalid(
            "channel",
            format!(
                "unknown channel `{}` (expected one of: {})",
                spec.channel,
                channels.join(", ")
            ),
        ));
    }
    let mut segments = Vec::new();
    for (i, name) in spec.segments.iter().enumerate() {
        let found = program.segments.iter().position(|s| matches_name(&s.name, name));
        match found {
            Some(id) => segments.push((id as u32, name.clone())),
            None => {
                let known: Vec<&str> = program
                    .segments
                    .iter()
                    .map(|s| s.name.rsplit('.').next().unwrap_or(&s.name))
                    .collect();
                return Err(invalid(
                    &format!("segments[{i}]"),
                    format!("unknown segment `{name}` (segments: {})", known.join(", ")),
                ));
            }
        }
    }
    if spec.max_variants == Some(0) {
        return Err(invalid("max_variants", "must be at least 1"));
    }
    if spec.limit == Some(0) {
        return Err(invalid("limit", "must be at least 1"));
    }
    let valid_for_ms = match &spec.valid_for {
        Some(d) => {
            let ms = parse_duration(d).map_err(|m| invalid("valid_for", m))?;
            if ms <= 0 {
                return Err(invalid("valid_for", "must be positive"));
            }
            ms
        }
        None => def.ttl_ms,
    };
    let mut context_json = json!({ "channel": spec.channel, "placement": def.placement });
    if let Some(s) = &spec.scenario {
        context_json["scenario"] = Json::String(s.clone());
    }
    if let Some(l) = &spec.locale {
        context_json["locale"] = Json::String(l.clone());
    }
    let context = value_from_json(program, &Type::Record(program.builtins.context), &context_json)
        .map_err(|e| invalid(&format!("context{}", e.path), e.message))?;
    Ok(Target {
        decision,
        decision_name: def.name.clone(),
        placement: def.placement.clone(),
        channel: spec.channel.clone(),
        context,
        context_json,
        segments,
        match_mode: spec.match_mode,
        max_variants: spec.max_variants,
        valid_for_ms,
        limit: spec.limit,
        render: spec.render,
    })
}

/// The catalog a plan evaluates against: a tenant's live one, or one the CLI prepared.
pub trait CatalogSource: Send + Sync {
    fn prepared(&self) -> &PreparedCatalog;
    /// The offers as JSON (each worker prepares its own copy from them).
    fn offers_json(&self) -> &[Json];
    /// The template of `id` rendered, if the catalog has one (see [`LoadedCatalog::render`]).
    fn render(&self, _id: &str, _input: &TemplateInput<'_>) -> Option<Result<String, String>> {
        None
    }
    /// The offer with this id, as JSON (what a template sees as `offer`).
    fn item(&self, _id: &str) -> Option<&Json> {
        None
    }
}

impl CatalogSource for LoadedCatalog {
    fn prepared(&self) -> &PreparedCatalog {
        &self.prepared
    }

    fn offers_json(&self) -> &[Json] {
        &self.offers_json
    }

    fn render(&self, id: &str, input: &TemplateInput<'_>) -> Option<Result<String, String>> {
        LoadedCatalog::render(self, id, input)
    }

    fn item(&self, id: &str) -> Option<&Json> {
        LoadedCatalog::item(self, id)
    }
}

/// A catalog prepared from a file (`tailor batch`).
pub struct OwnedCatalog {
    pub prepared: PreparedCatalog,
    pub offers: Vec<Json>,
}

impl CatalogSource for OwnedCatalog {
    fn prepared(&self) -> &PreparedCatalog {
        &self.prepared
    }

    fn offers_json(&self) -> &[Json] {
        &self.offers
    }
}

/// One worker's own bundle, catalog and context.
///
/// Why copies: a decision clones the `Arc<str>` ids of every candidate and rule into its trace
/// (about 3,000 reference-count updates per decision with 1,000 offers), and when two cores do
/// that on the same `Arc`s the counts bounce one cache line between them. Each copy is compiled
/// from the same sources (the same bundle hash, checked) and prepared from the same offers, so
/// rows do not depend on which worker wrote them (`tests/batch.rs` compares 1 and 2 threads).
struct Replica {
    bundle: Arc<Bundle>,
    catalog: Arc<dyn CatalogSource>,
    context: Value,
}

impl Replica {
    fn of(plan: &Plan) -> Replica {
        Replica {
            bundle: plan.bundle.clone(),
            catalog: plan.catalog.clone(),
            context: plan.target.context.clone(),
        }
    }

    /// A copy of the plan's bundle and catalog; the plan's own when copying fails.
    fn copy(plan: &Plan) -> Replica {
        let copied = || -> Result<Replica, String> {
            let bundle = crate::replay::compile_sources(plan.bundle.sources())?;
            if bundle.version() != plan.bundle.version() {
                return Err("the copied bundle hashes differently".into());
            }
            let program = bundle.program();
            let schema = program
                .decisions
                .get(plan.target.decision as usize)
                .and_then(|d| program.eligibilities.get(d.candidates as usize))
                .map(|e| e.schema)
                .ok_or("no candidates block")?;
            let prepared = bundle
                .prepare_catalog_json(schema, plan.catalog.offers_json())
                .map_err(|e| e.to_string())?;
            let context = value_from_json(
                program,
                &Type::Record(program.builtins.context),
                &plan.target.context_json,
            )
            .map_err(|e| e.message)?;
            Ok(Replica {
                bundle: Arc::new(bundle),
                catalog: Arc::new(OwnedCatalog {
                    prepared,
                    offers: Vec::new(),
                }),
                context,
            })
        };
        copied().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot copy the bundle for a batch worker; sharing it");
            Replica::of(plan)
        })
    }
}

/// Everything a run needs, fixed at submission.
pub struct Plan {
    pub id: String,
    pub tenant_id: String,
    pub bundle: Arc<Bundle>,
    pub catalog: Arc<dyn CatalogSource>,
    pub backend: Backend,
    pub target: Target,
    /// The `std.Channel` variant names, by index (impressions name their channel).
    pub channels: Vec<String>,
    pub now_ms: i64,
    /// Impressions since this time are read (the bundle's longest cap window).
    pub since_ms: i64,
    pub bundle_version: Option<u64>,
    pub bundle_hash: String,
}

impl Plan {
    fn valid_from(&self) -> String {
        format_rfc3339(self.now_ms)
    }

    fn valid_until(&self) -> String {
        format_rfc3339(self.now_ms.saturating_add(self.target.valid_for_ms))
    }
}

/// One subject's data, as the decide flow would load it.
#[derive(Debug, Clone, Default)]
pub struct SubjectData {
    /// The subject id policies see; `None` when the store does not know it.
    pub id: Option<String>,
    pub hash: Option<String>,
    pub profile: Option<Object>,
    pub features: Object,
    pub counters: Object,
    /// Purposes granted on the plan's channel.
    pub consents: Vec<String>,
    pub impressions: Vec<StoredImpression>,
}

/// What the loader made of one item.
#[derive(Debug)]
pub enum Loaded {
    Subject(SubjectData),
    /// Not evaluated, with the reason counted in the summary.
    Skip(&'static str),
}

/// One offer of a row.
#[derive(Debug, Serialize)]
struct RowOffer<'a> {
    offer_id: &'a str,
    priority: usize,
    score: f64,
    /// The rendered template, with `render` and when the offer has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

#[derive(Debug, Serialize)]
struct RowFallback<'a> {
    content_id: Option<&'a str>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// One output line (`docs/batch.md` documents the schema).
#[derive(Debug, Serialize)]
struct RowOut<'a> {
    plan_id: &'a str,
    tenant_id: &'a str,
    subject_id: &'a str,
    subject_hash: Option<&'a str>,
    decision: &'a str,
    placement: &'a str,
    channel: &'a str,
    offers: Vec<RowOffer<'a>>,
    experiment: Option<&'a str>,
    variant: Option<&'a str>,
    fallback: Option<RowFallback<'a>>,
    valid_from: &'a str,
    valid_until: &'a str,
    bundle_version: Option<u64>,
    bundle_hash: &'a str,
}

/// One evaluated subject.
#[derive(Debug)]
enum Row {
    Selected {
        line: Vec<u8>,
        offers: Vec<Arc<str>>,
        fallback: bool,
        /// Templates that failed to render (the row is written without their content).
        template_errors: u64,
    },
    Skipped(&'static str),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Subjects read.
    pub processed: u64,
    /// Subjects written (in the segments, decided).
    pub selected: u64,
    /// Rows that are a fallback instead of offers.
    pub fallbacks: u64,
    /// Subjects not written, by reason (`not_in_segment`, `no_profile`, …).
    pub skipped: BTreeMap<String, u64>,
    /// Rows per chosen offer.
    pub offers: BTreeMap<String, u64>,
    /// With `render`: templates that failed to render, so their rows lack that `content`.
    #[serde(default)]
    pub template_errors: u64,
}

/// Live progress of a run, shared with whoever reports it; `cancel` stops the workers.
#[derive(Debug, Default)]
pub struct Progress {
    pub processed: AtomicU64,
    pub selected: AtomicU64,
    /// The number of subjects to read, once known (0 = unknown).
    pub total: AtomicU64,
    pub cancel: AtomicBool,
}

/// Worker time, summed over the workers (nanoseconds), for the per-phase timings.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Phases {
    pub load_ns: u64,
    pub evaluate_ns: u64,
    pub write_ns: u64,
    pub read_ns: u64,
}

/// Evaluates one subject: the segment filter, then the decision, as `POST
/// /personalization/decide` would.
fn evaluate(plan: &Plan, replica: &Replica, evaluator: &Evaluator<'_>, valid: (&str, &str), data: SubjectData) -> Row {
    let program = replica.bundle.program();
    let Some(id) = data.id else {
        return Row::Skipped("subject_id_unknown");
    };
    let (profile, profile_json) = match profiles::profile_value(program, data.profile, &data.features, &data.counters) {
        Ok(Some((v, j))) => (Some(v), plan.target.render.then_some(j)),
        Ok(None) => (None, None),
        Err(_) => return Row::Skipped("profile_invalid"),
    };
    let impressions = data
        .impressions
        .iter()
        .filter_map(|i| i.for_policies(&plan.channels))
        .collect();
    let env = Env {
        profile,
        context: replica.context.clone(),
        now_ms: plan.now_ms,
        subject: Arc::from(id.as_str()),
        consents: data.consents,
        impressions,
    };
    if !plan.target.segments.is_empty() {
        let request = evaluator.request(&env);
        let mut any = false;
        let mut all = true;
        for (segment, _) in &plan.target.segments {
            match request.segment(*segment) {
                Ok(true) => any = true,
                Ok(false) => all = false,
                Err(EvalError::NoProfile) => return Row::Skipped("no_profile"),
                Err(e) => {
                    tracing::warn!(error = %e, "segment evaluation failed; subject skipped");
                    return Row::Skipped("segment_error");
                }
            }
        }
        let selected = match plan.target.match_mode {
            Match::All => all,
            Match::Any => any,
        };
        if !selected {
            return Row::Skipped("not_in_segment");
        }
    }
    let def = program.decisions.get(plan.target.decision as usize);
    // Rows carry only the answer, so the per-candidate trace is not built (it was about half
    // of a plan's CPU time; docs/benchmarks.md, "Batch plans").
    let decided = replica.bundle.decide_untraced(
        plan.backend,
        &env,
        plan.target.decision,
        replica.catalog.prepared(),
        plan.target.max_variants,
    );
    // The same degradations as the decide flow: the decision's fallback, with the reason.
    let degraded = |reason: &'static str| (def.and_then(|d| d.fallback.clone()), reason.to_string());
    let (outcome, fallback) = match decided {
        Ok(o) => {
            let f = o.fallback.as_ref().map(|f| {
                let reason = serde_json::to_value(f.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                (f.content_id.clone(), reason)
            });
            (Some(o), f)
        }
        Err(EvalError::NoProfile) => (None, Some(degraded("unknown_subject"))),
        Err(e) => {
            tracing::warn!(error = %e, "evaluation failed; the row is the fallback");
            (None, Some(degraded("evaluation_error")))
        }
    };
    let experiment = outcome.as_ref().and_then(|o| o.experiment.as_deref());
    let variant = outcome.as_ref().and_then(|o| o.variant.as_deref());
    // Templates see what they see in the decide response (`catalog::TemplateInput`).
    let mut template_errors = 0;
    let mut render = |id: &str| -> Option<String> {
        if !plan.target.render {
            return None;
        }
        let input = TemplateInput {
            offer: plan.catalog.item(id),
            profile: profile_json.as_ref(),
            context: &plan.target.context_json,
            variant,
            experiment,
        };
        match plan.catalog.render(id, &input)? {
            Ok(text) => Some(text),
            Err(e) => {
                template_errors += 1;
                tracing::debug!(id, error = %e, "template failed to render");
                None
            }
        }
    };
    let offers: Vec<RowOffer<'_>> = match (&fallback, &outcome) {
        (None, Some(o)) => o
            .offers
            .iter()
            .enumerate()
            .map(|(i, c)| RowOffer {
                offer_id: &c.id,
                priority: i + 1,
                score: c.score,
                content: render(&c.id),
            })
            .collect(),
        _ => Vec::new(),
    };
    let fallback_content = fallback.as_ref().and_then(|(c, _)| c.as_deref()).and_then(&mut render);
    let row = RowOut {
        plan_id: &plan.id,
        tenant_id: &plan.tenant_id,
        subject_id: &id,
        subject_hash: data.hash.as_deref(),
        decision: &plan.target.decision_name,
        placement: &plan.target.placement,
        channel: &plan.target.channel,
        offers,
        experiment,
        variant,
        fallback: fallback.as_ref().map(|(c, r)| RowFallback {
            content_id: c.as_deref(),
            reason: r,
            content: fallback_content,
        }),
        valid_from: valid.0,
        valid_until: valid.1,
        bundle_version: plan.bundle_version,
        bundle_hash: &plan.bundle_hash,
    };
    let mut line = match serde_json::to_vec(&row) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a row");
            return Row::Skipped("internal_error");
        }
    };
    line.push(b'\n');
    let chosen = row.offers.iter().map(|o| Arc::from(o.offer_id)).collect();
    Row::Selected {
        line,
        offers: chosen,
        fallback: row.fallback.is_some(),
        template_errors,
    }
}

/// Runs `plan` over the chunks `next_chunk` returns, loading each item with `load` and
/// evaluating on `threads` workers; writes the selected rows to `out` in input order.
/// Returns [`BatchError::Cancelled`] as soon as `progress.cancel` is set.
pub fn run<I, L>(
    plan: &Plan,
    threads: usize,
    mut next_chunk: impl FnMut(usize) -> Result<Option<Vec<I>>, BatchError>,
    load: L,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<(Counts, Phases), BatchError>
where
    I: Sync,
    L: Fn(&I) -> Result<Loaded, BatchError> + Sync,
{
    let _span = tracing::info_span!("batch_plan", plan_id = %plan.id).entered();
    let threads = threads.max(1);
    let replicas: Vec<Replica> = (0..threads)
        .map(|i| if i == 0 { Replica::of(plan) } else { Replica::copy(plan) })
        .collect();
    let (from, until) = (plan.valid_from(), plan.valid_until());
    let mut counts = Counts::default();
    let mut phases = Phases::default();
    let (load_ns, eval_ns) = (AtomicU64::new(0), AtomicU64::new(0));
    'chunks: loop {
        if progress.cancel.load(Ordering::Relaxed) {
            return Err(BatchError::Cancelled);
        }
        let started = Instant::now();
        let Some(chunk) = next_chunk(threads * CHUNK_PER_THREAD)? else {
            break;
        };
        phases.read_ns += started.elapsed().as_nanos() as u64;
        if chunk.is_empty() {
            break;
        }
        let per = chunk.len().div_ceil(threads);
        let results: Vec<Result<Vec<Row>, BatchError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .chunks(per)
                .zip(&replicas)
                .map(|(slice, replica)| {
                    let (load, valid) = (&load, (from.as_str(), until.as_str()));
                    let (load_ns, eval_ns) = (&load_ns, &eval_ns);
                    scope.spawn(move || {
                        let evaluator = Evaluator::new(replica.bundle.program());
                        let mut rows = Vec::with_capacity(slice.len());
                        // Counted locally and published in batches: shared counters bumped
                        // per subject would bounce between the cores too.
                        let (mut loading, mut evaluating, mut done) = (0u64, 0u64, 0u64);
                        let publish = |loading: u64, evaluating: u64, done: u64| {
                            load_ns.fetch_add(loading, Ordering::Relaxed);
                            eval_ns.fetch_add(evaluating, Ordering::Relaxed);
                            progress.processed.fetch_add(done, Ordering::Relaxed);
                        };
                        for item in slice {
                            if progress.cancel.load(Ordering::Relaxed) {
                                publish(loading, evaluating, done);
                                return Err(BatchError::Cancelled);
                            }
                            let t0 = Instant::now();
                            let loaded = load(item)?;
                            let t1 = Instant::now();
                            rows.push(match loaded {
                                Loaded::Skip(reason) => Row::Skipped(reason),
                                Loaded::Subject(data) => evaluate(plan, replica, &evaluator, valid, data),
                            });
                            loading += (t1 - t0).as_nanos() as u64;
                            evaluating += t1.elapsed().as_nanos() as u64;
                            done += 1;
                            if done % 64 == 0 {
                                publish(loading, evaluating, done);
                                (loading, evaluating, done) = (0, 0, 0);
                            }
                        }
                        publish(loading, evaluating, done);
                        Ok(rows)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(BatchError::Internal("a batch worker panicked".into())))
                })
                .collect()
        });
        let started = Instant::now();
        for part in results {
            for row in part? {
                counts.processed += 1;
                match row {
                    Row::Skipped(reason) => *counts.skipped.entry(reason.to_string()).or_default() += 1,
                    Row::Selected {
                        line,
                        offers,
                        fallback,
                        template_errors,
                    } => {
                        counts.template_errors += template_errors;
                        out.write_all(&line)
                            .map_err(|e| BatchError::Internal(format!("writing the output: {e}")))?;
                        counts.selected += 1;
                        progress.selected.fetch_add(1, Ordering::Relaxed);
                        if fallback {
                            counts.fallbacks += 1;
                        }
                        for o in offers {
                            *counts.offers.entry(o.to_string()).or_default() += 1;
                        }
                        if plan.target.limit.is_some_and(|l| counts.selected >= l) {
                            phases.write_ns += started.elapsed().as_nanos() as u64;
                            break 'chunks;
                        }
                    }
                }
            }
        }
        phases.write_ns += started.elapsed().as_nanos() as u64;
    }
    // With a limit, workers may have read past the last written row: report what was written.
    progress.processed.store(counts.processed, Ordering::Relaxed);
    phases.load_ns = load_ns.load(Ordering::Relaxed);
    phases.evaluate_ns = eval_ns.load(Ordering::Relaxed);
    Ok((counts, phases))
}

/// An output file written as `<name>.partial` and renamed when complete.
pub struct PlanFile {
    partial: PathBuf,
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    sha: Sha256,
    bytes: u64,
}

impl PlanFile {
    /// Creates `<path>.partial` (and its directory).
    pub fn create(path: &Path) -> Result<PlanFile, BatchError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        let partial = partial_path(path);
        let file = std::fs::File::create(&partial).map_err(|e| io_error(&partial, e))?;
        Ok(PlanFile {
            partial,
            path: path.to_path_buf(),
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            sha: Sha256::new(),
            bytes: 0,
        })
    }

    /// Syncs the partial file to disk and renames it to its final name: only a complete
    /// output ever has that name. Returns the SHA-256 (hex) and size of the content.
    pub fn finish(mut self) -> Result<(String, u64), BatchError> {
        self.file.flush().map_err(|e| io_error(&self.partial, e))?;
        self.file.get_ref().sync_all().map_err(|e| io_error(&self.partial, e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| io_error(&self.path, e))?;
        sync_parent(&self.path);
        let sha = hex(&self.sha.finalize());
        Ok((sha, self.bytes))
    }

    /// Removes the partial file (a cancelled or failed plan).
    pub fn abandon(self) {
        let partial = self.partial.clone();
        drop(self);
        if let Err(e) = std::fs::remove_file(&partial) {
            tracing::warn!(path = %partial.display(), error = %e, "cannot remove a partial plan file");
        }
    }
}

impl Write for PlanFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// `<path>.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `value` to `path` through a temporary file and a rename.
pub fn write_json_atomically(path: &Path, value: &Json) -> Result<(), BatchError> {
    let tmp = partial_path(path);
    let text = serde_json::to_vec_pretty(value).map_err(|e| BatchError::Internal(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    f.write_all(&text).map_err(|e| io_error(&tmp, e))?;
    f.sync_all().map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_parent(path);
    Ok(())
}

// ---- plans on the server ------------------------------------------------------------------

/// A plan's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Completed,
    Cancelled,
    Failed,
    /// The server stopped while the plan ran; its output was never completed.
    Interrupted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// A plan as the store keeps it (`GET /personalization/batch-plan/{id}` answers from it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRecord {
    pub plan_id: String,
    pub tenant_id: String,
    pub status: Status,
    pub spec: PlanSpec,
    pub decision: String,
    pub placement: String,
    pub bundle_version: u64,
    pub bundle_hash: String,
    pub catalog_hash: String,
    pub backend: Backend,
    pub valid_from: String,
    pub valid_until: String,
    pub submitted_at: String,
    pub finished_at: Option<String>,
    pub total: Option<u64>,
    #[serde(flatten)]
    pub counts: Counts,
    /// The complete output, once completed.
    pub output: Option<String>,
    pub manifest: Option<String>,
    pub sha256: Option<String>,
    pub error: Option<String>,
}

fn plan_key(id: &str) -> Vec<u8> {
    key(&[PLAN_PREFIX, id])
}

fn save(store: &dyn Store, record: &PlanRecord) -> Result<(), StoreError> {
    store.put(Tree::Meta, &plan_key(&record.plan_id), &encode(record)?)?;
    store.flush()
}

fn load_record(store: &dyn Store, id: &str) -> Result<Option<PlanRecord>, StoreError> {
    store.get(Tree::Meta, &plan_key(id))?.map(|b| decode(&b)).transpose()
}

/// A plan id is `p` and hex digits; anything else is not one of ours.
fn valid_plan_id(id: &str) -> bool {
    id.len() <= 40 && id.starts_with('p') && id[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The plans running in this process.
#[derive(Debug, Default)]
pub struct Plans {
    running: Mutex<HashMap<String, Arc<Progress>>>,
}

impl Plans {
    fn get(&self, id: &str) -> Option<Arc<Progress>> {
        self.running.lock().ok().and_then(|m| m.get(id).cloned())
    }

    /// Registers a plan unless `limit` plans are running already (checked and inserted under
    /// one lock, so two submissions cannot both take the last place).
    fn try_insert(&self, id: &str, p: Arc<Progress>, limit: usize) -> Result<(), BatchError> {
        let mut m = self
            .running
            .lock()
            .map_err(|_| BatchError::Internal("the plan table is poisoned".into()))?;
        if m.len() >= limit {
            return Err(BatchError::TooManyRunning { running: m.len() });
        }
        m.insert(id.to_string(), p);
        Ok(())
    }

    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.running.lock() {
            m.remove(id);
        }
    }
}

/// Marks every plan recorded as `running` as `interrupted` (the process that ran it is gone),
/// removes its partial output and writes its manifest. Called once at startup, before any plan
/// can start. Returns how many plans were marked.
pub fn recover(store: &dyn Store, dir: &Path) -> Result<usize, StoreError> {
    let prefix = key(&[PLAN_PREFIX, ""]);
    let mut marked = 0;
    for (_, v) in store.scan_prefix(Tree::Meta, &prefix, usize::MAX)? {
        let mut record: PlanRecord = match decode(&v) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable batch plan record");
                continue;
            }
        };
        if record.status != Status::Running {
            continue;
        }
        record.status = Status::Interrupted;
        record.finished_at = Some(format_rfc3339(wall_ms()));
        record.error = Some("the server stopped while the plan ran; its output is incomplete and was removed".into());
        let output = dir.join(format!("{}.jsonl", record.plan_id));
        let partial = partial_path(&output);
        if partial.exists() {
            if let Err(e) = std::fs::remove_file(&partial) {
                tracing::warn!(path = %partial.display(), error = %e, "cannot remove a partial plan file");
            }
        }
        let manifest = dir.join(format!("{}.manifest.json", record.plan_id));
        if dir.exists() && write_json_atomically(&manifest, &manifest_json(&record)).is_ok() {
            record.manifest = Some(manifest.display().to_string());
        }
        save(store, &record)?;
        tracing::warn!(plan_id = %record.plan_id, "batch plan interrupted by a restart");
        marked += 1;
    }
    Ok(marked)
}

fn manifest_json(record: &PlanRecord) -> Json {
    json!({
        "plan_id": record.plan_id,
        "status": record.status,
        "complete": record.status == Status::Completed,
        "tenant_id": record.tenant_id,
        "decision": record.decision,
        "placement": record.placement,
        "spec": record.spec,
        "bundle": { "version": record.bundle_version, "hash": record.bundle_hash },
        "catalog_hash": record.catalog_hash,
        "backend": record.backend,
        "valid_from": record.valid_from,
        "valid_until": record.valid_until,
        "submitted_at": record.submitted_at,
        "finished_at": record.finished_at,
        "processed": record.counts.processed,
        "selected": record.counts.selected,
        "fallbacks": record.counts.fallbacks,
        "template_errors": record.counts.template_errors,
        "skipped": record.counts.skipped,
        "offers": record.counts.offers,
        "output": record.output,
        "sha256": record.sha256,
        "error": record.error,
    })
}

/// A stored profile: (subject hash, the profile's JSON bytes).
type StoredProfile = (String, Vec<u8>);

/// A plan that was started: its id, live progress and thread (join it to wait for the end).
pub struct StartedPlan {
    pub plan_id: String,
    pub progress: Arc<Progress>,
    pub handle: std::thread::JoinHandle<()>,
}

/// Profiles read per page of the store scan.
const PAGE: usize = 4096;

impl Engine {
    /// Where plan outputs go.
    pub fn plans_dir(&self) -> PathBuf {
        self.config
            .batch
            .dir
            .clone()
            .unwrap_or_else(|| self.config.data_dir.join("plans"))
    }

    fn batch_threads(&self) -> usize {
        match self.config.batch.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }

    /// Checks a spec, records the plan and starts it on its own threads. Answers at once.
    pub fn submit_plan(self: &Arc<Self>, spec: PlanSpec) -> Result<Json, BatchError> {
        let started = self.start_plan(spec)?;
        let id = started.plan_id;
        Ok(json!({
            "plan_id": id,
            "status": "running",
            "status_url": format!("/personalization/batch-plan/{id}"),
        }))
    }

    /// Checks a spec, records the plan and starts it on its own thread; the caller may wait
    /// for it (`tailor batch --data`) or not (the HTTP API).
    pub fn start_plan(self: &Arc<Self>, spec: PlanSpec) -> Result<StartedPlan, BatchError> {
        let live = self
            .registry
            .tenant(&spec.tenant_id)
            .map(|t| t.live.load_full())
            .ok_or_else(|| BatchError::UnknownTenant(spec.tenant_id.clone()))?;
        let target = resolve(live.bundle.program(), &live.channels, &spec)?;
        let seq = self.store.next_id()?;
        let id = format!("p{:012x}{:08x}", wall_ms(), seq & 0xffff_ffff);
        let now_ms = self.now_ms();
        let plan = Plan {
            id: id.clone(),
            tenant_id: spec.tenant_id.clone(),
            bundle: live.bundle.clone(),
            catalog: live.catalog.clone(),
            backend: self.config.backend,
            channels: live.channels.clone(),
            now_ms,
            since_ms: now_ms.saturating_sub(live.max_cap_window_ms),
            bundle_version: Some(live.meta.version),
            bundle_hash: live.meta.hash.clone(),
            target,
        };
        let record = PlanRecord {
            plan_id: id.clone(),
            tenant_id: spec.tenant_id.clone(),
            status: Status::Running,
            decision: plan.target.decision_name.clone(),
            placement: plan.target.placement.clone(),
            bundle_version: live.meta.version,
            bundle_hash: live.meta.hash.clone(),
            catalog_hash: live.catalog.hash.clone(),
            backend: self.config.backend,
            valid_from: plan.valid_from(),
            valid_until: plan.valid_until(),
            submitted_at: format_rfc3339(wall_ms()),
            finished_at: None,
            total: None,
            counts: Counts::default(),
            output: None,
            manifest: None,
            sha256: None,
            error: None,
            spec,
        };
        let progress = Arc::new(Progress::default());
        self.plans
            .try_insert(&id, progress.clone(), self.config.batch.max_running)?;
        let dir = self.plans_dir();
        let recorded = std::fs::create_dir_all(&dir)
            .map_err(|e| io_error(&dir, e))
            .and_then(|()| Ok(save(self.store.as_ref(), &record)?));
        if let Err(e) = recorded {
            self.plans.remove(&id);
            return Err(e);
        }
        let engine = self.clone();
        let worker_progress = progress.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("plan-{id}"))
            .spawn(move || engine.run_plan(plan, record, worker_progress));
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                self.plans.remove(&id);
                return Err(BatchError::Internal(format!("cannot start the plan: {e}")));
            }
        };
        tracing::info!(plan_id = %id, "batch plan submitted");
        Ok(StartedPlan {
            plan_id: id,
            progress,
            handle,
        })
    }

    fn run_plan(self: Arc<Self>, plan: Plan, mut record: PlanRecord, progress: Arc<Progress>) {
        let started = Instant::now();
        let dir = self.plans_dir();
        let output = dir.join(format!("{}.jsonl", plan.id));
        let result = self.run_plan_to(&plan, &output, &progress, &mut record);
        record.finished_at = Some(format_rfc3339(wall_ms()));
        match result {
            Ok((counts, sha)) => {
                record.status = Status::Completed;
                record.counts = counts;
                record.output = Some(output.display().to_string());
                record.sha256 = Some(sha);
            }
            Err(BatchError::Cancelled) => {
                record.status = Status::Cancelled;
                record.counts.processed = progress.processed.load(Ordering::Relaxed);
                record.counts.selected = progress.selected.load(Ordering::Relaxed);
            }
            Err(e) => {
                record.status = Status::Failed;
                record.error = Some(e.to_string());
                record.counts.processed = progress.processed.load(Ordering::Relaxed);
                record.counts.selected = progress.selected.load(Ordering::Relaxed);
            }
        }
        let manifest = dir.join(format!("{}.manifest.json", plan.id));
        match write_json_atomically(&manifest, &manifest_json(&record)) {
            Ok(()) => record.manifest = Some(manifest.display().to_string()),
            Err(e) => tracing::error!(plan_id = %plan.id, error = %e, "cannot write the plan manifest"),
        }
        if let Err(e) = save(self.store.as_ref(), &record) {
            tracing::error!(plan_id = %plan.id, error = %e, "cannot record the plan's end");
        }
        self.plans.remove(&plan.id);
        tracing::info!(
            plan_id = %plan.id,
            status = record.status.name(),
            selected = record.counts.selected,
            seconds = started.elapsed().as_secs_f64(),
            "batch plan finished"
        );
    }

    fn run_plan_to(
        &self,
        plan: &Plan,
        output: &Path,
        progress: &Progress,
        record: &mut PlanRecord,
    ) -> Result<(Counts, String), BatchError> {
        let store = self.store.as_ref();
        let tenant = plan.tenant_id.as_str();
        let prefix = key(&[tenant, ""]);
        // Count first (keys only in spirit: one paged pass), so progress has a denominator.
        let mut total = 0u64;
        for page in crate::store::pages(store, Tree::Profiles, &prefix, PAGE) {
            if progress.cancel.load(Ordering::Relaxed) {
                return Err(BatchError::Cancelled);
            }
            total += page?.len() as u64;
        }
        progress.total.store(total, Ordering::Relaxed);
        record.total = Some(total);
        save(store, record)?;

        let mut file = PlanFile::create(output)?;
        let mut after: Option<Vec<u8>> = None;
        let mut done = false;
        let mut last_save = Instant::now();
        let identity = Identity {
            store,
            hasher: &self.hasher,
        };
        let next_chunk = |max: usize| -> Result<Option<Vec<StoredProfile>>, BatchError> {
            if done {
                return Ok(None);
            }
            if last_save.elapsed().as_secs() >= 1 {
                // Progress survives a restart only as far as the last save; that is enough to
                // say how far an interrupted plan got.
                record.counts.processed = progress.processed.load(Ordering::Relaxed);
                record.counts.selected = progress.selected.load(Ordering::Relaxed);
                let _ = save(store, record);
                last_save = Instant::now();
            }
            let page = store.scan_prefix_after(Tree::Profiles, &prefix, after.as_deref(), max)?;
            if page.len() < max {
                done = true;
            }
            after = page.last().map(|(k, _)| k.clone());
            Ok(Some(
                page.into_iter()
                    .map(|(k, v)| (String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), v))
                    .collect(),
            ))
        };
        let load = |(hash, profile): &StoredProfile| -> Result<Loaded, BatchError> {
            let Some(id) = identity
                .subject_id(tenant, hash)
                .map_err(|e| BatchError::Internal(e.to_string()))?
            else {
                return Ok(Loaded::Skip("subject_id_unknown"));
            };
            let profile: Object = match decode(profile) {
                Ok(p) => p,
                Err(_) => return Ok(Loaded::Skip("profile_invalid")),
            };
            let consents = consent::granted_purposes(&consent::get(store, tenant, hash)?, &plan.target.channel);
            Ok(Loaded::Subject(SubjectData {
                id: Some(id),
                hash: Some(hash.clone()),
                profile: Some(profile),
                features: profiles::get_features(store, tenant, hash)?,
                counters: profiles::get_counters(store, tenant, hash)?,
                consents,
                impressions: caps::impressions_since(store, tenant, hash, plan.since_ms)?,
            }))
        };
        match run(plan, self.batch_threads(), next_chunk, load, &mut file, progress) {
            Ok((counts, _)) => {
                let (sha, _) = file.finish()?;
                Ok((counts, sha))
            }
            Err(e) => {
                file.abandon();
                Err(e)
            }
        }
    }

    /// A plan's status, with live progress while it runs.
    pub fn plan_status(&self, id: &str) -> Result<Json, BatchError> {
        if !valid_plan_id(id) {
            return Err(BatchError::UnknownPlan(id.to_string()));
        }
        let record = load_record(self.store.as_ref(), id)?.ok_or_else(|| BatchError::UnknownPlan(id.to_string()))?;
        let mut body = serde_json::to_value(&record).map_err(|e| BatchError::Internal(e.to_string()))?;
        let (processed, total) = match (record.status, self.plans.get(id)) {
            (Status::Running, Some(p)) => {
                let processed = p.processed.load(Ordering::Relaxed);
                body["processed"] = json!(processed);
                body["selected"] = json!(p.selected.load(Ordering::Relaxed));
                let t = p.total.load(Ordering::Relaxed);
                if t > 0 {
                    body["total"] = json!(t);
                }
                body["cancel_requested"] = json!(p.cancel.load(Ordering::Relaxed));
                (processed, (t > 0).then_some(t).or(record.total))
            }
            _ => (record.counts.processed, record.total),
        };
        body["progress"] = match (record.status, total) {
            (Status::Completed, _) => json!(1.0),
            (_, Some(t)) if t > 0 => json!((processed as f64 / t as f64).min(1.0)),
            _ => json!(0.0),
        };
        body["status_url"] = json!(format!("/personalization/batch-plan/{id}"));
        Ok(body)
    }

    /// Asks a running plan to stop; its partial output is removed and its status becomes
    /// `cancelled` once the workers notice (within one subject each).
    pub fn cancel_plan(&self, id: &str) -> Result<Json, BatchError> {
        if !valid_plan_id(id) {
            return Err(BatchError::UnknownPlan(id.to_string()));
        }
        let record = load_record(self.store.as_ref(), id)?.ok_or_else(|| BatchError::UnknownPlan(id.to_string()))?;
        match self.plans.get(id) {
            Some(p) if record.status == Status::Running => {
                p.cancel.store(true, Ordering::Relaxed);
                tracing::info!(plan_id = %id, "batch plan cancel requested");
                Ok(
                    json!({ "plan_id": id, "status": "cancelling", "status_url": format!("/personalization/batch-plan/{id}") }),
                )
            }
            _ => Err(BatchError::Finished {
                id: id.to_string(),
                status: record.status.name().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use tailor_compiler::SourceMap;

    const POLICY: &str = r#"
package t

schema Profile {
  id: String
  ltv: Float
}

schema Offer {
  id: String
  min_ltv: Float
}

segment rich = profile.ltv >= 100.0
segment poor = profile.ltv < 10.0

eligibility ok for offer: Offer {
  deny too_poor: profile.ltv < offer.min_ltv because "too poor"
}

decision home {
  placement "home"
  channels Web
  candidates ok
  max 1
  fallback "house"
  ttl 1h
}
"#;

    fn bundle() -> Arc<Bundle> {
        let mut map = SourceMap::new();
        map.add("t.policy".to_string(), POLICY.to_string());
        Arc::new(Bundle::compile(map).unwrap_or_else(|e| panic!("{e}")))
    }

    fn spec(segments: &[&str], m: Match) -> PlanSpec {
        PlanSpec {
            tenant_id: "t".into(),
            placement: Some("home".into()),
            decision: None,
            channel: "Web".into(),
            scenario: None,
            locale: None,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            match_mode: m,
            max_variants: None,
            valid_for: None,
            limit: None,
            render: false,
        }
    }

    fn channels() -> Vec<String> {
        ["Web", "App", "Email", "Sms", "Push"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn plan(bundle: &Arc<Bundle>, spec: &PlanSpec) -> Plan {
        let program = bundle.program();
        let schema = program.schemas.iter().position(|s| s.name.ends_with("Offer")).unwrap() as u32;
        let offers = vec![json!({"id": "a", "min_ltv": 50.0}), json!({"id": "b", "min_ltv": 0.0})];
        let catalog = bundle.prepare_catalog_json(schema, &offers).unwrap();
        Plan {
            id: "p1".into(),
            tenant_id: "t".into(),
            bundle: bundle.clone(),
            catalog: Arc::new(OwnedCatalog {
                prepared: catalog,
                offers,
            }),
            backend: Backend::Interpreter,
            target: resolve(program, &channels(), spec).unwrap(),
            channels: channels(),
            now_ms: 0,
            since_ms: 0,
            bundle_version: Some(1),
            bundle_hash: bundle.version().to_string(),
        }
    }

    fn subjects() -> Vec<(String, f64)> {
        vec![
            ("s1".into(), 500.0),
            ("s2".into(), 5.0),
            ("s3".into(), 50.0),
            ("s4".into(), 150.0),
        ]
    }

    fn run_plan(plan: &Plan, threads: usize) -> (Counts, String) {
        let items = subjects();
        let mut taken = false;
        let next = |_max: usize| {
            if taken {
                return Ok(None);
            }
            taken = true;
            Ok(Some(items.clone()))
        };
        let load = |(id, ltv): &(String, f64)| {
            let mut profile = Object::new();
            profile.insert("id".into(), json!(id));
            profile.insert("ltv".into(), json!(ltv));
            Ok(Loaded::Subject(SubjectData {
                id: Some(id.clone()),
                profile: Some(profile),
                ..SubjectData::default()
            }))
        };
        let mut out = Vec::new();
        let (counts, _) = run(plan, threads, next, load, &mut out, &Progress::default()).unwrap();
        (counts, String::from_utf8(out).unwrap())
    }

    fn subject_ids(out: &str) -> Vec<String> {
        out.lines()
            .map(|l| {
                serde_json::from_str::<Json>(l).unwrap()["subject_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn segments_filter_all_and_any() {
        let b = bundle();
        let (c, out) = run_plan(&plan(&b, &spec(&["rich"], Match::All)), 2);
        assert_eq!(subject_ids(&out), ["s1", "s4"]);
        assert_eq!(c.skipped.get("not_in_segment"), Some(&2));
        let (_, out) = run_plan(&plan(&b, &spec(&["rich", "poor"], Match::All)), 1);
        assert!(out.is_empty());
        let (_, out) = run_plan(&plan(&b, &spec(&["rich", "poor"], Match::Any)), 3);
        assert_eq!(subject_ids(&out), ["s1", "s2", "s4"]);
        let (c, out) = run_plan(&plan(&b, &spec(&[], Match::All)), 2);
        assert_eq!(subject_ids(&out), ["s1", "s2", "s3", "s4"]);
        assert_eq!(c.selected, 4);
        // s1, s3, s4 get `a` (first eligible); s2 only `b`.
        assert_eq!(c.offers.get("a"), Some(&3));
        assert_eq!(c.offers.get("b"), Some(&1));
    }

    #[test]
    fn render_puts_each_rows_content_in_and_counts_template_errors() {
        let b = bundle();
        let doc = crate::catalog::CatalogDoc {
            offers: vec![json!({"id": "a", "min_ltv": 50.0}), json!({"id": "b", "min_ltv": 0.0})],
            templates: [
                (
                    "a".to_string(),
                    "A for {{ profile.id }} in {{ context.channel }}".to_string(),
                ),
                // Type-checks (the placeholder exists) but fails when rendered.
                ("b".to_string(), "{{ offer.min_ltv + offer.id }}".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        let loaded = crate::catalog::prepare(&b, &doc).unwrap_or_else(|e| panic!("{e}"));
        let mut rendering = spec(&[], Match::All);
        rendering.render = true;
        let mut p = plan(&b, &rendering);
        p.catalog = Arc::new(loaded);
        let (counts, out) = run_plan(&p, 2);
        let rows: Vec<Json> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let content = |subject: &str| {
            let row = rows.iter().find(|r| r["subject_id"] == subject).unwrap();
            (
                row["offers"][0]["offer_id"].clone(),
                row["offers"][0].get("content").cloned(),
            )
        };
        // s1 (ltv 500) gets `a`, rendered; s2 (ltv 5) gets `b`, whose template fails: the row
        // is written without content and the failure counted.
        assert_eq!(content("s1"), (json!("a"), Some(json!("A for s1 in Web"))));
        assert_eq!(content("s2"), (json!("b"), None));
        assert_eq!(counts.template_errors, 1, "{out}");
        // Without `render`, no row has content.
        let (_, plain) = run_plan(&plan(&b, &spec(&[], Match::All)), 1);
        assert!(!plain.contains("\"content\""), "{plain}");
    }

    #[test]
    fn rows_carry_attribution_and_are_deterministic() {
        let b = bundle();
        let p = plan(&b, &spec(&[], Match::All));
        let (_, one) = run_plan(&p, 1);
        let (_, two) = run_plan(&p, 3);
        assert_eq!(one, two, "thread count must not change the output");
        let row: Json = serde_json::from_str(one.lines().next().unwrap()).unwrap();
        assert_eq!(row["plan_id"], "p1");
        assert_eq!(row["bundle_version"], 1);
        assert_eq!(row["bundle_hash"], b.version());
        assert_eq!(row["valid_from"], "1970-01-01T00:00:00Z");
        assert_eq!(row["valid_until"], "1970-01-01T01:00:00Z");
        assert_eq!(row["offers"][0]["offer_id"], "a");
    }

    #[test]
    fn bad_specs_are_rejected_with_what_exists() {
        let b = bundle();
        let program = b.program();
        let err = resolve(program, &channels(), &spec(&["richh"], Match::All)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unknown segment `richh`") && text.contains("rich, poor"),
            "{text}"
        );
        let mut s = spec(&[], Match::All);
        s.placement = Some("nowhere".into());
        assert!(resolve(program, &channels(), &s)
            .unwrap_err()
            .to_string()
            .contains("home"));
        let mut s = spec(&[], Match::All);
        s.channel = "Fax".into();
        assert!(resolve(program, &channels(), &s).is_err());
        let mut s = spec(&[], Match::All);
        s.valid_for = Some("soon".into());
        assert!(resolve(program, &channels(), &s).is_err());
        let mut s = spec(&[], Match::All);
        s.decision = Some("home".into());
        assert!(
            resolve(program, &channels(), &s).is_err(),
            "placement and decision together"
        );
        s.placement = None;
        assert_eq!(resolve(program, &channels(), &s).unwrap().placement, "home");
    }

    #[test]
    fn limit_stops_after_that_many_rows() {
        let b = bundle();
        let mut s = spec(&[], Match::All);
        s.limit = Some(2);
        let (c, out) = run_plan(&plan(&b, &s), 2);
        assert_eq!(subject_ids(&out), ["s1", "s2"]);
        assert_eq!(c.selected, 2);
    }

    #[test]
    fn only_a_finished_file_has_the_final_name() {
        let dir = std::env::temp_dir().join(format!("tailor-batch-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("p1.jsonl");
        let mut f = PlanFile::create(&path).unwrap();
        f.write_all(b"{}\n").unwrap();
        assert!(partial_path(&path).exists() && !path.exists());
        let (sha, bytes) = f.finish().unwrap();
        assert!(path.exists() && !partial_path(&path).exists());
        assert_eq!(bytes, 3);
        assert_eq!(sha, hex(&Sha256::digest(b"{}\n")));
        let other = dir.join("p2.jsonl");
        let mut g = PlanFile::create(&other).unwrap();
        g.write_all(b"{}\n").unwrap();
        g.abandon();
        assert!(!other.exists() && !partial_path(&other).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn running_plans_are_marked_interrupted_at_startup() {
        let b = bundle();
        let store = MemoryStore::new();
        let dir = std::env::temp_dir().join(format!("tailor-batch-recover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let partial = partial_path(&dir.join("pab.jsonl"));
        std::fs::write(&partial, "{}\n").unwrap();
        let record = |id: &str, status: Status| PlanRecord {
            plan_id: id.into(),
            tenant_id: "t".into(),
            status,
            spec: spec(&[], Match::All),
            decision: "home".into(),
            placement: "home".into(),
            bundle_version: 1,
            bundle_hash: b.version().to_string(),
            catalog_hash: String::new(),
            backend: Backend::Interpreter,
            valid_from: String::new(),
            valid_until: String::new(),
            submitted_at: String::new(),
            finished_at: None,
            total: None,
            counts: Counts::default(),
            output: None,
            manifest: None,
            sha256: None,
            error: None,
        };
        save(&store, &record("pab", Status::Running)).unwrap();
        save(&store, &record("pcd", Status::Completed)).unwrap();
        assert_eq!(recover(&store, &dir).unwrap(), 1);
        assert_eq!(load_record(&store, "pab").unwrap().unwrap().status, Status::Interrupted);
        assert_eq!(load_record(&store, "pcd").unwrap().unwrap().status, Status::Completed);
        assert!(!partial.exists());
        let manifest: Json =
            serde_json::from_str(&std::fs::read_to_string(dir.join("pab.manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["status"], "interrupted");
        assert_eq!(manifest["complete"], false);
        assert_eq!(recover(&store, &dir).unwrap(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn plan_ids_are_checked() {
        assert!(valid_plan_id("p0123abc"));
        assert!(!valid_plan_id("../etc"));
        assert!(!valid_plan_id("x12"));
    }
}
