//! Replay of audit records: run each recorded decision again on its recorded bundle version with
//! its recorded inputs, and say whether the result is identical, different (with the first
//! difference), or cannot be reproduced (and why). The same records can also be run on a
//! *candidate* bundle for a what-if report: which decisions would change, per placement and per
//! chosen offer.
//!
//! The contract is bit-exact. A record is only compared against the bundle whose content hash it
//! names and the catalog whose hash it names; when either is missing, or the available sources or
//! catalog hash differently (changed or tampered), the record is reported as
//! [`Status::Unreproducible`] with the reason, never run on something else and reported as a
//! mismatch.
//!
//! The record stores only the subject's keyed hash, but experiments bucket on the subject id, so
//! a replay needs the ids: [`Replayer`] maps hashes back to ids from the store's identity links
//! and from ids the caller supplies (`--subjects`), hashed with the store's key. A record whose
//! subject is not among them is unreproducible ("subject id unknown").
//!
//! Replay evaluates on the reference interpreter unless asked for the JIT
//! ([`Replayer::with_backend`]): the JIT is required to agree with it exactly
//! (`compiler/tests/jit_agreement.rs`), and is worth its compile time on large logs.

use crate::audit::{compact_trace, AuditRecord, CompactTrace};
use crate::catalog::{self, CatalogDoc, LoadedCatalog};
use crate::identity::Hasher;
use crate::registry::Registry;
use crate::store::{decode, key, SharedStore, StoreError, Tree};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tailor_compiler::bundle::BundleSource;
use tailor_compiler::interp::{
    value_from_json, DataError, DecisionOutcome, Env, EvalError, Impression, TraceLevel, Value, Verdicts,
};
use tailor_compiler::ir::{DecisionId, Type};
use tailor_compiler::{Backend, Bundle, SourceMap};

/// Why replay could not run at all (as opposed to one record being unreproducible).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the given policies do not compile: {0}")]
    Policies(String),
    #[error("line {line}: not an audit record: {message}")]
    BadRecord { line: usize, message: String },
}

/// Which records to replay.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant: Option<String>,
    /// Only these decision ids (all when empty).
    pub decision_ids: Vec<String>,
    /// Inclusive lower bound on the record's `at_ms`.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound on the record's `at_ms`.
    pub until_ms: Option<i64>,
    /// Only this subject (its keyed hash, as logged).
    pub subject: Option<String>,
}

impl Filter {
    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.matches_fields(
            &record.tenant_id,
            &record.decision_id,
            record.at_ms,
            &record.subject_hash,
        )
    }

    fn matches_fields(&self, tenant: &str, decision_id: &str, at_ms: i64, subject_hash: &str) -> bool {
        self.tenant.as_ref().is_none_or(|t| t == tenant)
            && (self.decision_ids.is_empty() || self.decision_ids.iter().any(|d| d == decision_id))
            && self.since_ms.is_none_or(|s| at_ms >= s)
            && self.until_ms.is_none_or(|u| at_ms < u)
            && self.subject.as_ref().is_none_or(|h| h == subject_hash)
    }
}

/// A record as replay reads it, borrowed either from an [`AuditRecord`] (records already in
/// memory: explain, the server, what-if) or from a [`RecordView`] (records parsed by the chunked
/// replay). Everything replay needs, and nothing it does not.
#[derive(Clone, Copy)]
struct Rec<'a> {
    decision_id: &'a str,
    tenant_id: &'a str,
    subject_hash: &'a str,
    placement: &'a str,
    bundle_version: u64,
    bundle_hash: &'a str,
    catalog_hash: &'a str,
    /// What the policies read.
    inputs: Inputs<'a>,
    rule_outcomes: Recorded<'a>,
    response: Recorded<'a>,
}

/// A part of a record that replay only compares: parsed, or still its JSON text.
#[derive(Clone, Copy)]
enum Recorded<'a> {
    Parsed(&'a Json),
    Raw(&'a RawValue),
}

impl Recorded<'_> {
    /// The part as a JSON value (parsed from its text when it is raw).
    fn json(&self) -> Result<Cow<'_, Json>, String> {
        match self {
            Recorded::Parsed(json) => Ok(Cow::Borrowed(*json)),
            Recorded::Raw(raw) => serde_json::from_str(raw.get())
                .map(Cow::Owned)
                .map_err(|e| format!("the record's JSON does not parse: {e}")),
        }
    }
}

impl<'a> From<&'a AuditRecord> for Rec<'a> {
    fn from(r: &'a AuditRecord) -> Rec<'a> {
        Rec {
            decision_id: &r.decision_id,
            tenant_id: &r.tenant_id,
            subject_hash: &r.subject_hash,
            placement: &r.placement,
            bundle_version: r.bundle.version,
            bundle_hash: &r.bundle.hash,
            catalog_hash: &r.catalog_hash,
            inputs: Inputs::Parsed(&r.inputs),
            rule_outcomes: Recorded::Parsed(&r.rule_outcomes),
            response: Recorded::Parsed(&r.response),
        }
    }
}

/// An audit record as the chunked replay parses it: the same JSON as [`AuditRecord`] (the same
/// fields with the same types, so the same texts are records; the one exception is JSON nested
/// deeper than serde_json's recursion limit inside a part kept as text, reported for that record
/// if the part is ever parsed), but strings are borrowed from the text where they can be, and
/// the two largest parts, the rule outcomes and the response, are kept as JSON text. They are only compared, and most records compare equal
/// byte for byte (see [`compare`]), so building and dropping their JSON trees (most of the
/// allocation of a replay) is left to the records that differ.
#[derive(Deserialize)]
struct RecordView<'a> {
    #[serde(borrow)]
    decision_id: Cow<'a, str>,
    at_ms: i64,
    #[serde(borrow)]
    tenant_id: Cow<'a, str>,
    #[serde(borrow)]
    subject_hash: Cow<'a, str>,
    #[serde(borrow)]
    placement: Cow<'a, str>,
    /// Not used by replay, only type-checked as [`AuditRecord`] does.
    #[serde(borrow)]
    #[allow(dead_code)]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow)]
    bundle: BundleView<'a>,
    #[serde(borrow)]
    catalog_hash: Cow<'a, str>,
    /// Not used by replay, only type-checked.
    #[serde(borrow)]
    #[allow(dead_code)]
    backend: Cow<'a, str>,
    #[serde(borrow)]
    inputs: ParsedInputs<'a>,
    #[serde(borrow)]
    rule_outcomes: &'a RawValue,
    /// Not used by replay (the response's copy is compared), only type-checked.
    #[serde(borrow)]
    #[allow(dead_code)]
    experiment: Option<&'a RawValue>,
    #[serde(borrow)]
    response: &'a RawValue,
}

impl RecordView<'_> {
    fn passes(&self, filter: &Filter) -> bool {
        filter.matches_fields(&self.tenant_id, &self.decision_id, self.at_ms, &self.subject_hash)
    }
}

/// [`crate::audit::BundleRef`], borrowed.
#[derive(Deserialize)]
struct BundleView<'a> {
    version: u64,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

/// A record's inputs, as [`InputsView`] when they are an object (as every record the server
/// writes has), else as JSON ([`AuditRecord`] accepts any). Read in one pass either way.
enum ParsedInputs<'a> {
    View(InputsView<'a>),
    Json(Json),
}

/// The inputs of a record as the chunked replay reads them: every part the policies' environment
/// is built from, the profile and the context as JSON text. Their text is the key of
/// [`Converted`]: a log holds many decisions for the same profile (one per placement shown, and
/// again until the profile changes), and converting it to the policies' values is a large part
/// of re-running a record.
#[derive(Default)]
struct InputsView<'a> {
    profile: Option<&'a RawValue>,
    context: Option<&'a RawValue>,
    // The rest as `inputs[name]` gives them: `null` when absent.
    now_ms: Json,
    consents: Json,
    impressions: Json,
    constraints: Json,
    degraded: Json,
}

impl<'de: 'a, 'a> Deserialize<'de> for ParsedInputs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ParsedInputs<'a>, D::Error> {
        d.deserialize_any(InputsVisitor(std::marker::PhantomData))
    }
}

/// Reads an object into an [`InputsView`] (a key given twice: the last, as in a JSON value)
/// and anything else into JSON, so the inputs are scanned once.
struct InputsVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for InputsVisitor<'a> {
    type Value = ParsedInputs<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ParsedInputs<'a>, A::Error> {
        let mut v = InputsView::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                // `null` reads as `None`, as `inputs["profile"]` is `Json::Null` then.
                "profile" => v.profile = map.next_value()?,
                "context" => v.context = map.next_value()?,
                "now_ms" => v.now_ms = map.next_value()?,
                "consents" => v.consents = map.next_value()?,
                "impressions" => v.impressions = map.next_value()?,
                "constraints" => v.constraints = map.next_value()?,
                "degraded" => v.degraded = map.next_value()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(ParsedInputs::View(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<ParsedInputs<'a>, A::Error> {
        Json::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(ParsedInputs::Json)
    }

    fn visit_bool<E>(self, b: bool) -> Result<ParsedInputs<'a>, E> {
        Ok(ParsedInputs::Json(Json::Bool(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<ParsedInputs<'a>, E> {
        Ok(ParsedInputs::Json(Json::from(n)))
    }

    fn visit_u64<E>(self, n: u64) -> Result<ParsedInputs<'a>, E> {
        Ok(ParsedInputs::Json(Json::from(n)))
    }

    fn visit_f64<E>(self, n: f64) -> Result<ParsedInputs<'a>, E> {
        Ok(ParsedInputs::Json(Json::from(n)))
    }

    fn visit_str<E>(self, s: &str) -> Result<ParsedInputs<'a>, E> {
        Ok(ParsedInputs::Json(Json::from(s)))
    }

    fn visit_unit<E>(self) -> Result<ParsedInputs<'a>, E> {
        Ok(ParsedInputs::Json(Json::Null))
    }
}

impl RecordView<'_> {
    fn rec(&self) -> Rec<'_> {
        let view = self;
        Rec {
            decision_id: &view.decision_id,
            tenant_id: &view.tenant_id,
            subject_hash: &view.subject_hash,
            placement: &view.placement,
            bundle_version: view.bundle.version,
            bundle_hash: &view.bundle.hash,
            catalog_hash: &view.catalog_hash,
            inputs: match &view.inputs {
                ParsedInputs::View(v) => Inputs::View(v),
                ParsedInputs::Json(j) => Inputs::Parsed(j),
            },
            rule_outcomes: Recorded::Raw(view.rule_outcomes),
            response: Recorded::Raw(view.response),
        }
    }
}

/// A record's inputs, borrowed.
#[derive(Clone, Copy)]
enum Inputs<'a> {
    Parsed(&'a Json),
    View(&'a InputsView<'a>),
}

impl<'a> Inputs<'a> {
    /// `inputs[name]` for the parts other than the profile and the context.
    fn get(&self, name: &str) -> &'a Json {
        match self {
            Inputs::Parsed(j) => &j[name],
            Inputs::View(v) => match name {
                "now_ms" => &v.now_ms,
                "consents" => &v.consents,
                "impressions" => &v.impressions,
                "constraints" => &v.constraints,
                "degraded" => &v.degraded,
                _ => &Json::Null,
            },
        }
    }
}

/// Profiles and contexts already converted to the policies' values, by bundle content hash and
/// JSON text (the same text converts to the same value for the same sources). Shared by the
/// worker threads; emptied when it grows past [`Converted::MAX`] entries.
#[derive(Default)]
struct Converted {
    profiles: std::sync::RwLock<HashMap<String, ByText>>,
    contexts: std::sync::RwLock<HashMap<String, ByText>>,
}

/// Converted values by JSON text. foldhash, not SipHash: hashing whole profile texts was a
/// few percent of a replay's CPU.
type ByText = HashMap<Box<str>, Value, foldhash::fast::RandomState>;

impl Converted {
    /// Entries kept per kind before the cache starts over (bounds its memory on a long log of
    /// ever-changing profiles).
    const MAX: usize = 100_000;

    /// The value of `text` (JSON of type `ty`) for `bundle`, converted on first use.
    fn value(
        cache: &std::sync::RwLock<HashMap<String, ByText>>,
        bundle: &Bundle,
        ty: &Type,
        text: &str,
    ) -> Result<Value, DataError> {
        if let Ok(map) = cache.read() {
            if let Some(v) = map.get(bundle.version()).and_then(|m| m.get(text)) {
                return Ok(v.clone());
            }
        }
        let json: Json = serde_json::from_str(text).map_err(|e| DataError {
            path: String::new(),
            message: e.to_string(),
        })?;
        let value = value_from_json(bundle.program(), ty, &json)?;
        if let Ok(mut map) = cache.write() {
            if map.values().map(HashMap::len).sum::<usize>() >= Converted::MAX {
                map.clear();
            }
            map.entry(bundle.version().to_string())
                .or_default()
                .insert(text.into(), value.clone());
        }
        Ok(value)
    }
}

/// The audit records of a store that pass `filter`, in log order (decision ids are time-ordered).
/// Reads the whole log into memory, like the erasure scan: fine for logs of modest size. Records
/// are parsed on every core (parsing the JSON is most of the cost of reading a large log).
pub fn records_from_store(store: &SharedStore, filter: &Filter) -> Result<Vec<AuditRecord>, ReplayError> {
    let entries = store.scan_prefix(Tree::Audit, b"", usize::MAX)?;
    matching(
        par_map(&entries, default_jobs(), &|(_, v)| {
            decode::<AuditRecord>(v).map_err(ReplayError::from)
        }),
        filter,
    )
}

/// Audit records from JSON lines (the `tailor audit export` format) that pass `filter`. Blank
/// lines are skipped; a line that is not a record is an error with its line number. Lines are
/// parsed on every core.
pub fn records_from_jsonl(text: &str, filter: &Filter) -> Result<Vec<AuditRecord>, ReplayError> {
    let lines = jsonl_lines(text);
    matching(par_map(&lines, default_jobs(), &parse_line), filter)
}

/// The non-blank lines of a JSON-lines text, with their 0-based line numbers.
fn jsonl_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).collect()
}

fn parse_line((i, line): &(usize, &str)) -> Result<AuditRecord, ReplayError> {
    serde_json::from_str::<AuditRecord>(line).map_err(|e| ReplayError::BadRecord {
        line: i + 1,
        message: e.to_string(),
    })
}

/// The parsed records that pass `filter`, or the first parse error.
fn matching(parsed: Vec<Result<AuditRecord, ReplayError>>, filter: &Filter) -> Result<Vec<AuditRecord>, ReplayError> {
    let mut out = Vec::new();
    for r in parsed {
        let r = r?;
        if filter.matches(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// [`parse_line`] into a [`RecordView`] (the same errors), `None` when it does not pass
/// `filter` (its inputs are then left unparsed).
fn view_line<'a>((i, line): &(usize, &'a str), filter: &Filter) -> Result<Option<RecordView<'a>>, ReplayError> {
    let bad = |e: serde_json::Error| ReplayError::BadRecord {
        line: i + 1,
        message: e.to_string(),
    };
    let view = serde_json::from_str::<RecordView>(line).map_err(bad)?;
    if !view.passes(filter) {
        return Ok(None);
    }
    Ok(Some(view))
}

/// A stored audit entry as a [`RecordView`] (the error [`decode`] gives for an
/// [`AuditRecord`]), `None` when it does not pass `filter`.
fn view_entry<'a>(bytes: &'a [u8], filter: &Filter) -> Result<Option<RecordView<'a>>, ReplayError> {
    let corrupt = |e: serde_json::Error| ReplayError::Store(StoreError::Corrupt(e.to_string()));
    let view = serde_json::from_slice::<RecordView>(bytes).map_err(corrupt)?;
    if !view.passes(filter) {
        return Ok(None);
    }
    Ok(Some(view))
}

/// The parsed records that passed the filter, or the first parse error.
fn matching_views<'a>(
    parsed: Vec<Result<Option<RecordView<'a>>, ReplayError>>,
) -> Result<Vec<RecordView<'a>>, ReplayError> {
    let mut out = Vec::with_capacity(parsed.len());
    for r in parsed {
        if let Some(r) = r? {
            out.push(r);
        }
    }
    Ok(out)
}

/// How many records are parsed and replayed at a time by [`Replayer::replay_store`] and
/// [`Replayer::replay_jsonl`]: enough to keep every core busy, small enough that the parsed
/// records of a large log are never all in memory (parsing a record into JSON values takes
/// several times its size, and most of a replay's allocation).
const CHUNK: usize = 8192;

/// The number of worker threads replay uses by default: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// `f` over `items` on `jobs` threads, the results in the order of `items` (so reports are the
/// same whatever the number of threads). Threads take blocks of [`PAR_BLOCK`] items as they
/// finish the last, not one fixed share each: records differ in cost (a decision over the
/// whole catalog, or one that falls back at once), and a thread left idle at the end of each
/// chunk was a tenth of a replay's wall time.
fn par_map<'a, T: Sync, R: Send>(items: &'a [T], jobs: usize, f: &(dyn Fn(&'a T) -> R + Sync)) -> Vec<R> {
    let jobs = jobs.clamp(1, items.len().div_ceil(PAR_BLOCK).max(1));
    if jobs == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let block = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let start = block.saturating_mul(PAR_BLOCK);
            let Some(part) = items.get(start..items.len().min(start.saturating_add(PAR_BLOCK))) else {
                return done;
            };
            if part.is_empty() {
                return done;
            }
            done.push((block, part.iter().map(f).collect()));
        }
    };
    let mut blocks: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..jobs).map(|_| scope.spawn(work)).collect();
        let mut blocks = work();
        for h in handles {
            match h.join() {
                Ok(part) => blocks.extend(part),
                // A panicking worker is a bug; re-raise it rather than lose records silently.
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        blocks
    });
    blocks.sort_unstable_by_key(|(block, _)| *block);
    let mut out = Vec::with_capacity(items.len());
    for (_, part) in blocks {
        out.extend(part);
    }
    out
}

/// How many items a [`par_map`] thread takes at a time: small enough to even out the threads'
/// shares, large enough that taking one is rare.
const PAR_BLOCK: usize = 64;

/// The outcome of replaying one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// The rule outcomes and the answer are the recorded ones.
    Identical,
    /// Something differs; the first difference.
    Different { difference: Difference },
    /// The record cannot be run again exactly.
    Unreproducible { reason: String },
    /// The recorded decision evaluated no policy (the runtime degraded before evaluation:
    /// `store_unavailable`, `deadline_exceeded`, `profile_invalid`, `catalog_unavailable`), so
    /// there is nothing to re-run.
    NotEvaluated { reason: String },
}

/// The first difference between a record and its replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The candidate whose outcome differs (absent for a difference in the answer as a whole).
    pub candidate: Option<String>,
    /// The rule that removed it, in the record or in the replay, when a rule is involved.
    pub rule: Option<String>,
    /// What differs: `rule_outcome`, `offers`, `fallback`, `experiment` or `evaluation`.
    pub what: String,
    pub recorded: Json,
    pub replayed: Json,
}

/// One record's replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordReport {
    pub decision_id: String,
    pub tenant_id: String,
    pub placement: String,
    pub bundle_version: u64,
    #[serde(flatten)]
    pub status: Status,
}

/// The replay of a set of records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub total: usize,
    pub identical: usize,
    pub different: usize,
    pub unreproducible: usize,
    pub not_evaluated: usize,
    pub records: Vec<RecordReport>,
}

impl Report {
    /// Appends the report of the records that follow.
    pub fn extend(&mut self, next: Report) {
        self.total += next.total;
        self.identical += next.identical;
        self.different += next.different;
        self.unreproducible += next.unreproducible;
        self.not_evaluated += next.not_evaluated;
        self.records.extend(next.records);
    }

    /// Whether every record that evaluated was reproduced exactly.
    pub fn all_identical(&self) -> bool {
        self.different == 0 && self.unreproducible == 0
    }
}

/// How a candidate bundle would change the recorded decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WhatIf {
    pub candidate_hash: String,
    pub total: usize,
    /// Records run on both bundles.
    pub compared: usize,
    pub changed: usize,
    /// Records left out because their recorded decision cannot be reproduced, the candidate has
    /// no decision for their placement, or they evaluated no policy.
    pub skipped: usize,
    pub per_placement: BTreeMap<String, PlacementChanges>,
    /// By `"from → to"` (the first shown offer or fallback content, `-` for none).
    pub per_offer: BTreeMap<String, OfferChange>,
    /// The decision ids that would change, in log order.
    pub changed_decisions: Vec<String>,
}

/// Changes at one placement.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlacementChanges {
    pub compared: usize,
    pub changed: usize,
}

/// One kind of change of the chosen offer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OfferChange {
    pub count: usize,
    /// A few hashed subjects that would see the change.
    pub sample_subjects: Vec<String>,
}

/// How many sample subjects a kind of change lists.
const SAMPLES: usize = 3;

/// What a decision showed: the part of the answer that a change of policy can change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    /// Offer ids best first, or the fallback content.
    pub ids: Vec<String>,
    /// The offers' scores (none for fallback content).
    pub scores: Vec<Option<f64>>,
    pub fallback_reason: Option<String>,
    pub experiment: Option<String>,
    pub variant: Option<String>,
}

impl Shown {
    /// What a recorded response shows.
    pub fn from_response(response: &Json) -> Shown {
        let items = response["decisions"].as_array().map(Vec::as_slice).unwrap_or_default();
        Shown {
            ids: items
                .iter()
                .filter_map(|d| d.get("offer_id").or_else(|| d.get("content_id")))
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            scores: items.iter().map(|d| d.get("score").and_then(Json::as_f64)).collect(),
            fallback_reason: response["fallback"]["reason"].as_str().map(str::to_string),
            experiment: response["experiment"]["name"].as_str().map(str::to_string),
            variant: response["experiment"]["variant"].as_str().map(str::to_string),
        }
    }

    /// What an evaluation shows, as the engine builds the response from it.
    pub fn from_outcome(o: &DecisionOutcome) -> Shown {
        match &o.fallback {
            Some(f) => Shown {
                ids: f.content_id.iter().cloned().collect(),
                scores: f.content_id.iter().map(|_| None).collect(),
                fallback_reason: serde_json::to_value(f.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                experiment: o.experiment.clone(),
                variant: o.variant.clone(),
            },
            None => Shown {
                ids: o.offers.iter().map(|c| c.id.to_string()).collect(),
                scores: o.offers.iter().map(|c| Some(c.score)).collect(),
                fallback_reason: None,
                experiment: o.experiment.clone(),
                variant: o.variant.clone(),
            },
        }
    }

    /// The declared fallback of a degraded decision.
    fn degraded(content: Option<&String>, reason: &str) -> Shown {
        Shown {
            ids: content.into_iter().cloned().collect(),
            scores: content.into_iter().map(|_| None).collect(),
            fallback_reason: Some(reason.to_string()),
            experiment: None,
            variant: None,
        }
    }

    /// The first shown id (offer or fallback content), `-` for none.
    fn first(&self) -> &str {
        self.ids.first().map(String::as_str).unwrap_or("-")
    }
}

/// A decision run again: what it showed and its trace (absent when it fell back before
/// evaluating, i.e. `unknown_subject`).
struct Rerun {
    shown: Shown,
    outcome: Option<DecisionOutcome>,
    /// The decision that ran, which the outcome's verdicts refer to.
    decision: DecisionId,
}

/// A record run again, for [`crate::explain`].
pub struct Reproduced {
    pub bundle: Arc<Bundle>,
    pub catalog: Arc<LoadedCatalog>,
    pub env: Env,
    /// The re-run's outcome (absent when it fell back before evaluating).
    pub outcome: Option<DecisionOutcome>,
    /// [`Status::Identical`] or [`Status::Different`].
    pub status: Status,
}

/// Runs audit records again. Holds what it has compiled and prepared, so a log of many records
/// on few versions compiles each version once.
pub struct Replayer {
    store: Option<SharedStore>,
    /// Overrides the store's bundle versions (`--policies`): used only for records whose hash
    /// it matches.
    policies: Option<Arc<Bundle>>,
    /// Overrides the store's catalog (`--catalog`).
    catalog: Option<CatalogDoc>,
    hasher: Option<Hasher>,
    /// Subject ids supplied by the caller.
    subject_ids: Vec<String>,
    /// Per tenant: subject hash → subject id.
    subjects: HashMap<String, HashMap<String, Arc<str>>>,
    /// Per tenant and version: the compiled bundle, or why there is none. Nested so a record's
    /// lookup borrows its strings instead of building a key.
    bundles: HashMap<String, HashMap<u64, Result<Arc<Bundle>, String>>>,
    /// Per tenant and bundle content hash: the prepared catalog, or why there is none.
    catalogs: HashMap<String, HashMap<String, Result<Arc<LoadedCatalog>, String>>>,
    /// The backend that re-runs records (the interpreter unless asked).
    backend: Backend,
    /// Profiles and contexts converted from the text of records read by the chunked replay.
    converted: Converted,
}

/// Compiles sources into a bundle (interpreter only), the error as text.
pub fn compile_sources(sources: &[BundleSource]) -> Result<Bundle, String> {
    if sources.is_empty() {
        return Err("no sources".into());
    }
    let mut map = SourceMap::new();
    for s in sources {
        map.add(s.name.clone(), s.text.clone());
    }
    Bundle::compile(map).map_err(|e| e.to_string())
}

impl Replayer {
    /// A replayer over `store` (bundle versions, catalogs, identity links and the hashing key),
    /// when there is one.
    pub fn new(store: Option<SharedStore>) -> Replayer {
        Replayer {
            store,
            policies: None,
            catalog: None,
            hasher: None,
            subject_ids: Vec::new(),
            subjects: HashMap::new(),
            bundles: HashMap::new(),
            catalogs: HashMap::new(),
            backend: Backend::Interpreter,
            converted: Converted::default(),
        }
    }

    /// Re-runs records on `backend`. The interpreter is the definition of the semantics and the
    /// default; the JIT agrees with it exactly (`compiler/tests/jit_agreement.rs`) and is much
    /// faster on large logs.
    pub fn with_backend(mut self, backend: Backend) -> Replayer {
        self.backend = backend;
        self
    }

    /// Uses these sources for the records whose bundle hash they match, instead of the store's
    /// versions.
    pub fn with_policies(mut self, sources: &[BundleSource]) -> Result<Replayer, ReplayError> {
        self.policies = Some(Arc::new(compile_sources(sources).map_err(ReplayError::Policies)?));
        Ok(self)
    }

    /// Uses this catalog instead of the store's (still only for records whose catalog hash it
    /// matches).
    pub fn with_catalog(mut self, doc: CatalogDoc) -> Replayer {
        self.catalog = Some(doc);
        self
    }

    /// The identity hashing key: the configured one, else the store's.
    pub fn with_hash_key(mut self, configured: Option<&str>) -> Result<Replayer, ReplayError> {
        let key = match configured {
            Some(k) => Some(k.as_bytes().to_vec()),
            None => match &self.store {
                Some(s) => s.get(Tree::Meta, b"identity/hash_key")?,
                None => None,
            },
        };
        self.hasher = key.map(|k| Hasher::new(&k));
        Ok(self)
    }

    /// Hashes subjects with this hasher (the running server's) instead of a key.
    pub fn with_hasher(mut self, hasher: Hasher) -> Replayer {
        self.hasher = Some(hasher);
        self
    }

    /// Subject ids to recognise by their hashes.
    pub fn with_subject_ids(mut self, ids: Vec<String>) -> Replayer {
        self.subject_ids = ids;
        self
    }

    /// The id of the subject with this hash, if known. The map of a tenant is built once, on
    /// first use; ids are shared (`Arc`) so a record's environment takes its id without a copy.
    fn subject(&mut self, tenant: &str, hash: &str) -> Result<Option<Arc<str>>, String> {
        if !self.subjects.contains_key(tenant) {
            let Some(hasher) = &self.hasher else {
                return Err("no identity hashing key (give --data or --hash-key)".into());
            };
            let mut ids: Vec<String> = self.subject_ids.clone();
            // Identity links, merge aliases and the profile subject entries keep subject ids as
            // values: the only places the store holds them.
            if let Some(store) = &self.store {
                for kind in ["link", "alias", "subject"] {
                    let prefix = key(&[tenant, kind, ""]);
                    let entries = store
                        .scan_prefix(Tree::Identity, &prefix, usize::MAX)
                        .map_err(|e| e.to_string())?;
                    ids.extend(
                        entries
                            .into_iter()
                            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned()),
                    );
                }
            }
            let map = ids
                .into_iter()
                .map(|id| (hasher.subject(tenant, &id), Arc::from(id)))
                .collect();
            self.subjects.insert(tenant.to_string(), map);
        }
        Ok(self.subjects.get(tenant).and_then(|m| m.get(hash)).cloned())
    }

    /// The bundle a record names, checked against its hash.
    fn bundle(&mut self, record: &Rec) -> Result<Arc<Bundle>, String> {
        let wanted = record.bundle_hash;
        if let Some(p) = &self.policies {
            if p.version() == wanted {
                return Ok(p.clone());
            }
            if self.store.is_none() {
                return Err(format!(
                    "the given policies hash to {}, the record names version {} with hash {wanted}",
                    p.version(),
                    record.bundle_version
                ));
            }
        }
        // Looked up by `&str` first: this runs once per record, on one thread.
        let cached = self
            .bundles
            .get(record.tenant_id)
            .and_then(|versions| versions.get(&record.bundle_version));
        let bundle = match cached {
            Some(loaded) => loaded.clone(),
            None => {
                let loaded = match &self.store {
                    None => Err("no bundle source (give --data or --policies)".to_string()),
                    Some(store) => Registry::new(store.clone(), Backend::Interpreter)
                        .version(record.tenant_id, record.bundle_version)
                        .map_err(|e| e.to_string())
                        .and_then(|stored| compile_sources(&stored.sources).map(Arc::new)),
                };
                self.bundles
                    .entry(record.tenant_id.to_string())
                    .or_default()
                    .insert(record.bundle_version, loaded.clone());
                loaded
            }
        }?;
        if bundle.version() != wanted {
            return Err(format!(
                "the stored sources of version {} hash to {}, the record names {wanted} (changed or tampered)",
                record.bundle_version,
                bundle.version()
            ));
        }
        Ok(bundle)
    }

    /// The catalog a record names, prepared for `bundle`.
    fn catalog(&mut self, record: &Rec, bundle: &Bundle) -> Result<Arc<LoadedCatalog>, String> {
        let cached = self
            .catalogs
            .get(record.tenant_id)
            .and_then(|by_bundle| by_bundle.get(bundle.version()));
        if let Some(prepared) = cached {
            return prepared.clone();
        }
        let doc = match (&self.catalog, &self.store) {
            (Some(doc), _) => Ok(doc.clone()),
            (None, Some(store)) => Registry::new(store.clone(), Backend::Interpreter)
                .catalog_doc(record.tenant_id)
                .map_err(|e| e.to_string()),
            (None, None) => Err("no catalog (give --data or --catalog)".to_string()),
        };
        let prepared = doc.and_then(|d| {
            catalog::prepare(bundle, &d)
                .map(Arc::new)
                .map_err(|e| format!("the catalog does not fit the bundle: {e}"))
        });
        self.catalogs
            .entry(record.tenant_id.to_string())
            .or_default()
            .insert(bundle.version().to_string(), prepared.clone());
        prepared
    }

    /// Why a record evaluated no policy, if it did not.
    fn not_evaluated(record: &Rec) -> Option<String> {
        match record.inputs.get("degraded").as_str() {
            Some(r @ ("store_unavailable" | "deadline_exceeded" | "profile_invalid" | "catalog_unavailable")) => {
                Some(format!("the runtime degraded before evaluating ({r})"))
            }
            _ => None,
        }
    }

    /// What a record needs to run again (its bundle, its catalog checked against the recorded
    /// hash, its subject id), looked up in the replayer's caches; `Err` says why it cannot run.
    fn prepare(&mut self, record: &Rec) -> Result<Ready, NotRun> {
        if let Some(reason) = Replayer::not_evaluated(record) {
            return Err(NotRun::NotEvaluated(reason));
        }
        let unreproducible = NotRun::Unreproducible;
        let bundle = self.bundle(record).map_err(unreproducible)?;
        let catalog = self.catalog(record, &bundle).map_err(unreproducible)?;
        if catalog.hash != record.catalog_hash {
            return Err(unreproducible(format!(
                "the available catalog hashes to {}, the record names {} (the catalog changed since)",
                catalog.hash, record.catalog_hash
            )));
        }
        let subject = self
            .subject(record.tenant_id, record.subject_hash)
            .map_err(unreproducible)?
            .ok_or_else(|| unreproducible(SUBJECT_UNKNOWN.to_string()))?;
        Ok(Ready {
            bundle,
            catalog,
            subject,
        })
    }

    /// Replays one record on its recorded bundle.
    pub fn replay_record(&mut self, record: &AuditRecord) -> RecordReport {
        let rec = Rec::from(record);
        let status = match self.prepare(&rec) {
            Err(not_run) => not_run.status(),
            Ok(ready) => replay_ready(self.backend, &rec, &ready, None),
        };
        record_report(&rec, status)
    }

    /// Runs a record again for an explanation: the bundle and catalog it names, the policies'
    /// environment rebuilt from its inputs, the re-run's outcome and how it compares with the
    /// record. `Err` says why it cannot be re-run (the same reasons as an unreproducible
    /// replay, or that it evaluated no policy).
    pub fn reproduce(&mut self, record: &AuditRecord) -> Result<Reproduced, String> {
        let rec = Rec::from(record);
        let ready = self.prepare(&rec).map_err(NotRun::reason)?;
        let env = env_for(
            &ready.bundle,
            Inputs::Parsed(&record.inputs),
            ready.subject.clone(),
            None,
        )?;
        let rerun = run_on(self.backend, &rec, &ready, TraceLevel::Full, None)?;
        let status = match compare(&rec, &rerun, &ready)? {
            None => Status::Identical,
            Some(difference) => Status::Different { difference },
        };
        Ok(Reproduced {
            bundle: ready.bundle,
            catalog: ready.catalog,
            env,
            outcome: rerun.outcome,
            status,
        })
    }

    /// The catalog a record names, when it is available and hashes as recorded (prepared for the
    /// record's own bundle when that is available): what an explanation from the log uses to
    /// turn catalog positions back into offer ids.
    pub fn recorded_catalog(&mut self, record: &AuditRecord) -> Option<Arc<LoadedCatalog>> {
        let rec = Rec::from(record);
        let bundle = self.bundle(&rec).ok()?;
        let catalog = self.catalog(&rec, &bundle).ok()?;
        (catalog.hash == record.catalog_hash).then_some(catalog)
    }

    /// Replays every record.
    pub fn replay(&mut self, records: &[AuditRecord]) -> Report {
        self.replay_with(records, 1, &|_| {})
    }

    /// Replays every record on `jobs` threads, calling `progress` with the number of records
    /// finished since its last call (from any thread). The report is the same whatever `jobs`:
    /// records are split into contiguous slices and the results joined in log order.
    ///
    /// What needs the replayer's caches (the bundle, the catalog and the subject id of each
    /// record) is looked up first, on this thread; only the evaluation and the comparison run in
    /// parallel.
    pub fn replay_with(&mut self, records: &[AuditRecord], jobs: usize, progress: &(dyn Fn(u64) + Sync)) -> Report {
        let recs: Vec<Rec> = records.iter().map(Rec::from).collect();
        self.replay_recs(&recs, jobs, progress)
    }

    /// [`Replayer::replay_with`] over borrowed records.
    fn replay_recs(&mut self, records: &[Rec], jobs: usize, progress: &(dyn Fn(u64) + Sync)) -> Report {
        let at = std::time::Instant::now();
        let ready: Vec<Result<Ready, NotRun>> = records.iter().map(|r| self.prepare(r)).collect();
        tracing::trace!(
            records = records.len(),
            prepare_us = at.elapsed().as_micros() as u64,
            "prepared"
        );
        let (backend, converted) = (self.backend, &self.converted);
        let work: Vec<(&Rec, Result<Ready, NotRun>)> = records.iter().zip(ready).collect();
        // Progress is reported in steps, not per record, to keep the shared bar off the hot path.
        const STEP: usize = 512;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let reports = par_map(&work, jobs, &|(record, ready)| {
            let status = match ready {
                Err(not_run) => not_run.clone().status(),
                Ok(ready) => replay_ready(backend, record, ready, Some(converted)),
            };
            if done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STEP == STEP - 1 {
                progress(STEP as u64);
            }
            record_report(record, status)
        });
        progress((records.len() % STEP) as u64);
        let mut report = Report::default();
        for r in &reports {
            match r.status {
                Status::Identical => report.identical += 1,
                Status::Different { .. } => report.different += 1,
                Status::Unreproducible { .. } => report.unreproducible += 1,
                Status::NotEvaluated { .. } => report.not_evaluated += 1,
            }
        }
        report.records = reports;
        report.total = records.len();
        report
    }

    /// Replays the records of `store` that pass `filter`, reading, parsing and re-running a
    /// chunk at a time on `jobs` threads. `length` is told the number of log entries read so far
    /// as they are read (the total once the last chunk is read), and `progress` counts entries
    /// done (matching or not), for a progress bar. The report is the one [`Replayer::replay`]
    /// gives for [`records_from_store`]'s records.
    ///
    /// The log is read in key order a chunk at a time on a thread of its own, one chunk ahead of
    /// the replay: reading the store is otherwise a long stretch on one core with the workers
    /// idle, and the whole log is never in memory at once.
    pub fn replay_store(
        &mut self,
        store: &SharedStore,
        filter: &Filter,
        jobs: usize,
        length: &dyn Fn(u64),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Report, ReplayError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<crate::store::Entry>, StoreError>>(1);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for page in crate::store::pages(store.as_ref(), Tree::Audit, b"", CHUNK) {
                    // A send fails when the replay stopped (a record did not parse): stop too.
                    if tx.send(page).is_err() {
                        return;
                    }
                }
            });
            // Where the time goes, for `RUST_LOG=debug` (docs/benchmarks.md).
            let (mut wait, mut parse, mut run) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            let mut read = 0u64;
            let mut report = Report::default();
            let mut at = std::time::Instant::now();
            // `rx` is dropped on an early return, which stops the reader.
            for chunk in rx {
                let chunk = chunk?;
                wait += at.elapsed();
                read += chunk.len() as u64;
                length(read);
                at = std::time::Instant::now();
                let parsed = par_map(&chunk, jobs, &|(_, v)| view_entry(v, filter));
                let views = matching_views(parsed)?;
                parse += at.elapsed();
                progress((chunk.len() - views.len()) as u64);
                at = std::time::Instant::now();
                let recs: Vec<Rec> = views.iter().map(RecordView::rec).collect();
                report.extend(self.replay_recs(&recs, jobs, progress));
                run += at.elapsed();
                at = std::time::Instant::now();
            }
            tracing::debug!(
                read_wait_ms = wait.as_millis() as u64,
                parse_ms = parse.as_millis() as u64,
                run_ms = run.as_millis() as u64,
                "replayed the store's records"
            );
            Ok(report)
        })
    }

    /// [`Replayer::replay_store`] over JSON lines (a `tailor audit export`); `progress` counts
    /// non-blank lines.
    pub fn replay_jsonl(
        &mut self,
        text: &str,
        filter: &Filter,
        jobs: usize,
        length: &dyn Fn(u64),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Report, ReplayError> {
        let lines = jsonl_lines(text);
        length(lines.len() as u64);
        let mut report = Report::default();
        for chunk in lines.chunks(CHUNK) {
            let parsed = par_map(chunk, jobs, &|line| view_line(line, filter));
            let views = matching_views(parsed)?;
            progress((chunk.len() - views.len()) as u64);
            let recs: Vec<Rec> = views.iter().map(RecordView::rec).collect();
            report.extend(self.replay_recs(&recs, jobs, progress));
        }
        Ok(report)
    }

    /// Runs every record on `candidate` too, and counts the decisions whose shown offers,
    /// fallback or experiment variant would change. Only records reproduced exactly on their own
    /// bundle are compared (the others are `skipped`), so a change is the candidate's doing.
    pub fn what_if(&mut self, records: &[AuditRecord], candidate: &Bundle) -> WhatIf {
        self.what_if_with(records, candidate, 1)
    }

    /// [`Replayer::what_if`] on `jobs` threads; the report is the same whatever `jobs`. What
    /// needs the replayer's caches (both bundles' catalogs, the subject id) is looked up first,
    /// on this thread; the two evaluations of each record and the comparison run in parallel,
    /// and the counts are added up in log order.
    pub fn what_if_with(&mut self, records: &[AuditRecord], candidate: &Bundle, jobs: usize) -> WhatIf {
        let recs: Vec<Rec> = records.iter().map(Rec::from).collect();
        self.what_if_recs(&recs, candidate, jobs)
    }

    /// [`Replayer::what_if_with`] for the records of `store` that pass `filter`, parsed on
    /// `jobs` threads as [`RecordView`]s (the selected records are in memory at once, as their
    /// text, not as JSON trees).
    pub fn what_if_store(
        &mut self,
        store: &SharedStore,
        filter: &Filter,
        candidate: &Bundle,
        jobs: usize,
    ) -> Result<WhatIf, ReplayError> {
        let entries = store.scan_prefix(Tree::Audit, b"", usize::MAX)?;
        let views = matching_views(par_map(&entries, jobs, &|(_, v)| view_entry(v, filter)))?;
        let recs: Vec<Rec> = views.iter().map(RecordView::rec).collect();
        Ok(self.what_if_recs(&recs, candidate, jobs))
    }

    /// [`Replayer::what_if_store`] over JSON lines (a `tailor audit export`).
    pub fn what_if_jsonl(
        &mut self,
        text: &str,
        filter: &Filter,
        candidate: &Bundle,
        jobs: usize,
    ) -> Result<WhatIf, ReplayError> {
        let lines = jsonl_lines(text);
        let views = matching_views(par_map(&lines, jobs, &|line| view_line(line, filter)))?;
        let recs: Vec<Rec> = views.iter().map(RecordView::rec).collect();
        Ok(self.what_if_recs(&recs, candidate, jobs))
    }

    fn what_if_recs(&mut self, recs: &[Rec], candidate: &Bundle, jobs: usize) -> WhatIf {
        // A record's preparation and its catalog prepared for the candidate; `None`: skipped.
        type Both = Option<(Ready, Arc<LoadedCatalog>)>;
        let ready: Vec<Both> = recs
            .iter()
            .map(|record| {
                let ready = self.prepare(record).ok()?;
                let candidate_catalog = self.candidate_catalog(record, candidate).ok()?;
                Some((ready, candidate_catalog))
            })
            .collect();
        let (backend, converted) = (self.backend, &self.converted);
        let work: Vec<(&Rec, Both)> = recs.iter().zip(ready).collect();
        // Per record: what it showed when reproduced exactly on its own bundle, and what the
        // candidate shows; `None` when it is skipped.
        let pairs = par_map(&work, jobs, &|(record, ready)| {
            let (ready, candidate_catalog) = ready.as_ref()?;
            let before = run_on(backend, record, ready, TraceLevel::Verdicts, Some(converted)).ok()?;
            if !matches!(compare(record, &before, ready), Ok(None)) {
                return None;
            }
            let on_candidate = Ready {
                bundle: Arc::clone(&ready.bundle),
                catalog: Arc::clone(candidate_catalog),
                subject: Arc::clone(&ready.subject),
            };
            let after = run_on_bundle(
                backend,
                record,
                candidate,
                &on_candidate,
                TraceLevel::None,
                Some(converted),
            )
            .ok()?;
            Some((before.shown, after.shown))
        });
        let mut out = WhatIf {
            candidate_hash: candidate.version().to_string(),
            total: recs.len(),
            ..WhatIf::default()
        };
        for (record, pair) in recs.iter().zip(pairs) {
            let Some((before, after)) = pair else {
                out.skipped += 1;
                continue;
            };
            out.compared += 1;
            let placement = out.per_placement.entry(record.placement.to_string()).or_default();
            placement.compared += 1;
            if (&before.ids, &before.fallback_reason, &before.variant)
                == (&after.ids, &after.fallback_reason, &after.variant)
            {
                continue;
            }
            placement.changed += 1;
            out.changed += 1;
            out.changed_decisions.push(record.decision_id.to_string());
            let kind = format!("{} → {}", before.first(), after.first());
            let change = out.per_offer.entry(kind).or_default();
            change.count += 1;
            if change.sample_subjects.len() < SAMPLES
                && !change.sample_subjects.iter().any(|s| s == record.subject_hash)
            {
                change.sample_subjects.push(record.subject_hash.to_string());
            }
        }
        out
    }

    /// The record's catalog prepared for the candidate: the same offers (checked against the
    /// recorded hash), validated against the candidate's schemas.
    fn candidate_catalog(&mut self, record: &Rec, candidate: &Bundle) -> Result<Arc<LoadedCatalog>, String> {
        let prepared = self.catalog(record, candidate)?;
        if prepared.hash != record.catalog_hash {
            return Err("the catalog changed since".into());
        }
        Ok(prepared)
    }
}

/// Why a record is not run again, from [`Replayer::prepare`].
#[derive(Clone)]
enum NotRun {
    /// It evaluated no policy ([`Status::NotEvaluated`]).
    NotEvaluated(String),
    /// It cannot be run exactly ([`Status::Unreproducible`]).
    Unreproducible(String),
}

impl NotRun {
    fn status(self) -> Status {
        match self {
            NotRun::NotEvaluated(reason) => Status::NotEvaluated { reason },
            NotRun::Unreproducible(reason) => Status::Unreproducible { reason },
        }
    }

    fn reason(self) -> String {
        match self {
            NotRun::NotEvaluated(reason) | NotRun::Unreproducible(reason) => reason,
        }
    }
}

/// What a record needs to run again, from [`Replayer::prepare`].
struct Ready {
    bundle: Arc<Bundle>,
    catalog: Arc<LoadedCatalog>,
    subject: Arc<str>,
}

/// A prepared record run again and compared: identical, different, or unreproducible (the
/// evaluation could not start, or the record's compared parts are not JSON).
fn replay_ready(backend: Backend, record: &Rec, ready: &Ready, converted: Option<&Converted>) -> Status {
    let compared = run_on(backend, record, ready, TraceLevel::Verdicts, converted)
        .and_then(|rerun| compare(record, &rerun, ready));
    match compared {
        Err(reason) => Status::Unreproducible { reason },
        Ok(None) => Status::Identical,
        Ok(Some(difference)) => Status::Different { difference },
    }
}

/// A record's line in the report.
fn record_report(record: &Rec, status: Status) -> RecordReport {
    RecordReport {
        decision_id: record.decision_id.to_string(),
        tenant_id: record.tenant_id.to_string(),
        placement: record.placement.to_string(),
        bundle_version: record.bundle_version,
        status,
    }
}

/// Why a record whose subject hash matches no known id cannot be re-run.
const SUBJECT_UNKNOWN: &str =
    "subject id unknown (give its id: `--subjects` or `--subject-id`, or `subject_ids` over HTTP)";

/// Runs a prepared record on its own bundle and catalog.
fn run_on(
    backend: Backend,
    record: &Rec,
    ready: &Ready,
    trace: TraceLevel,
    converted: Option<&Converted>,
) -> Result<Rerun, String> {
    run_on_bundle(backend, record, &ready.bundle, ready, trace, converted)
}

/// Runs a record's inputs for the prepared subject on `bundle` with the prepared catalog.
/// Needs nothing mutable, so records run on many threads at once. Without `trace`, the outcome
/// has no per-candidate trace (everything else is the same): enough when only what was shown is
/// compared.
///
/// `converted` caches the profile and context values of records parsed as [`RecordView`]s.
fn run_on_bundle(
    backend: Backend,
    record: &Rec,
    bundle: &Bundle,
    ready: &Ready,
    trace: TraceLevel,
    converted: Option<&Converted>,
) -> Result<Rerun, String> {
    let program = bundle.program();
    let decision = program
        .decision_for_placement(record.placement)
        .ok_or_else(|| format!("the bundle has no decision for placement `{}`", record.placement))?;
    let def = program
        .decisions
        .get(decision as usize)
        .ok_or_else(|| "decision index out of range".to_string())?;
    let env = env_for(bundle, record.inputs, ready.subject.clone(), converted)?;
    let max = record.inputs.get("constraints")["max_variants"]
        .as_u64()
        .map(|m| u32::try_from(m).unwrap_or(u32::MAX));
    let prepared = &ready.catalog.prepared;
    match bundle.decide_traced(backend, &env, decision, prepared, max, trace) {
        Ok(o) => Ok(Rerun {
            shown: Shown::from_outcome(&o),
            outcome: Some(o),
            decision,
        }),
        Err(EvalError::NoProfile) => Ok(Rerun {
            shown: Shown::degraded(def.fallback.as_ref(), "unknown_subject"),
            outcome: None,
            decision,
        }),
        Err(e) => {
            tracing::debug!(error = %e, "replayed evaluation failed");
            Ok(Rerun {
                shown: Shown::degraded(def.fallback.as_ref(), "evaluation_error"),
                outcome: None,
                decision,
            })
        }
    }
}

/// The policies' environment from a record's inputs, for `bundle`.
pub fn env_from_inputs(bundle: &Bundle, inputs: &Json, subject: &str) -> Result<Env, String> {
    env_for(bundle, Inputs::Parsed(inputs), Arc::from(subject), None)
}

/// [`env_from_inputs`] with the subject id already shared, and for inputs parsed as
/// [`InputsView`], profiles and contexts converted once per text in `converted`.
fn env_for(bundle: &Bundle, inputs: Inputs, subject: Arc<str>, converted: Option<&Converted>) -> Result<Env, String> {
    let p = bundle.program();
    let profile_type = || {
        p.profile
            .map(Type::Record)
            .ok_or("the record has a profile but the bundle has no Profile schema")
    };
    let context_type = Type::Record(p.builtins.context);
    let in_profile = |e: DataError| format!("profile{}: {}", e.path, e.message);
    let in_context = |e: DataError| format!("context{}: {}", e.path, e.message);
    let (profile, context) = match (inputs, converted) {
        (Inputs::View(v), Some(converted)) => {
            // `null` and absent are both `None` here, as `inputs["profile"]` is `Json::Null`.
            let profile = match v.profile {
                None => None,
                Some(text) => Some(
                    Converted::value(&converted.profiles, bundle, &profile_type()?, text.get()).map_err(in_profile)?,
                ),
            };
            let context = match v.context {
                None => value_from_json(p, &context_type, &Json::Null),
                Some(text) => Converted::value(&converted.contexts, bundle, &context_type, text.get()),
            }
            .map_err(in_context)?;
            (profile, context)
        }
        (Inputs::View(v), None) => {
            let json = |text: Option<&RawValue>| -> Result<Json, String> {
                text.map(|t| serde_json::from_str(t.get()).map_err(|e| e.to_string()))
                    .unwrap_or(Ok(Json::Null))
            };
            let profile = match json(v.profile)? {
                Json::Null => None,
                json => Some(value_from_json(p, &profile_type()?, &json).map_err(in_profile)?),
            };
            let context = value_from_json(p, &context_type, &json(v.context)?).map_err(in_context)?;
            (profile, context)
        }
        (Inputs::Parsed(inputs), _) => {
            let profile = match &inputs["profile"] {
                Json::Null => None,
                json => Some(value_from_json(p, &profile_type()?, json).map_err(in_profile)?),
            };
            let context = value_from_json(p, &context_type, &inputs["context"]).map_err(in_context)?;
            (profile, context)
        }
    };
    let now_ms = inputs.get("now_ms").as_i64().ok_or("the record has no `now_ms`")?;
    // Deserialized from the value in place (`from_value` would take a copy); same errors.
    let consents = Vec::<String>::deserialize(inputs.get("consents")).map_err(|e| format!("consents: {e}"))?;
    let channels = p
        .enums
        .get(p.builtins.channel as usize)
        .map(|e| e.variants.as_slice())
        .unwrap_or_default();
    // As the engine does: impressions on a channel the bundle does not know are left out.
    let impressions = inputs
        .get("impressions")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|i| {
            let channel = channels.iter().position(|c| i["channel"] == c.as_str())?;
            Some(Impression {
                offer_id: i["offer_id"].as_str()?.into(),
                placement: i["placement"].as_str()?.into(),
                channel: u32::try_from(channel).ok()?,
                at_ms: i["at_ms"].as_i64()?,
            })
        })
        .collect();
    Ok(Env {
        profile,
        context,
        now_ms,
        subject,
        consents,
        impressions,
    })
}

/// `"0-2,5"` as `[0, 1, 2, 5]`; `None` if malformed.
pub fn parse_ranges(text: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 10_000_000 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Per catalog position, the outcome a compact trace gives it: a kept or capped entry in full,
/// or `{"outcome": "removed", "rule": …}`.
pub fn expand(compact: &Json, catalog: &LoadedCatalog) -> BTreeMap<usize, Json> {
    let mut out = BTreeMap::new();
    if let Some(removed) = compact["removed"].as_object() {
        for (rule, ranges) in removed {
            for position in ranges.as_str().and_then(parse_ranges).unwrap_or_default() {
                out.insert(position, serde_json::json!({ "outcome": "removed", "rule": rule }));
            }
        }
    }
    for kind in ["kept", "capped"] {
        for entry in compact[kind].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(position) = entry["id"].as_str().and_then(|id| catalog.index.get(id)) {
                out.insert(*position, entry.clone());
            }
        }
    }
    out
}

/// The first difference between a record and its re-run, or `None` when identical; `Err` when
/// the record's rule outcomes or response (kept as text) turn out not to be JSON.
///
/// The common case is checked first without building JSON trees: the re-run's compact trace is
/// written as the text [`compact_trace`] would serialize to and compared byte for byte with the
/// recorded text, and the shown offers are compared field by field with the recorded response.
/// Equal there means equal as JSON; anything else (a real difference, or a record whose text is
/// formatted differently) is decided by the JSON comparison below, which alone writes the
/// difference report.
fn compare(record: &Rec, rerun: &Rerun, ready: &Ready) -> Result<Option<Difference>, String> {
    let catalog = &*ready.catalog;
    let verdicts = rerun
        .outcome
        .as_ref()
        .map(|o| {
            Verdicts::new(
                ready.bundle.program(),
                rerun.decision,
                catalog.prepared.offers(),
                &o.verdicts,
            )
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    let same_trace = match record.rule_outcomes {
        Recorded::Raw(raw) => SCRATCH.with_borrow_mut(|text| {
            text.clear();
            write_compact_trace(verdicts, text);
            text.as_slice() == raw.get().as_bytes()
        }),
        Recorded::Parsed(_) => false,
    };
    if !same_trace {
        let recorded_trace = record.rule_outcomes.json()?;
        if let Some(difference) = trace_difference(&recorded_trace, verdicts, catalog) {
            return Ok(Some(difference));
        }
    }
    if let Recorded::Raw(raw) = record.response {
        // A response of an unexpected shape fails to parse here and is compared as JSON below.
        if let Ok(view) = serde_json::from_str::<ResponseView>(raw.get()) {
            if view.shows(&rerun.shown) {
                return Ok(None);
            }
        }
    }
    let response = record.response.json()?;
    Ok(shown_difference(&Shown::from_response(&response), &rerun.shown))
}

thread_local! {
    /// The text of the re-run's compact trace, reused by the records a worker thread compares.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The first difference in the per-candidate outcomes, `None` when they are the same.
fn trace_difference(recorded: &Json, verdicts: Option<Verdicts>, catalog: &LoadedCatalog) -> Option<Difference> {
    let replayed_trace = verdicts.map(compact_trace).unwrap_or(Json::Null);
    if replayed_trace == *recorded {
        return None;
    }
    let (old, new) = (expand(recorded, catalog), expand(&replayed_trace, catalog));
    let positions: std::collections::BTreeSet<usize> = old.keys().chain(new.keys()).copied().collect();
    for position in positions {
        let (a, b) = (old.get(&position), new.get(&position));
        if a != b {
            let rule = a
                .and_then(|j| j["rule"].as_str())
                .or_else(|| b.and_then(|j| j["rule"].as_str()))
                .map(str::to_string);
            return Some(Difference {
                candidate: catalog
                    .offers_json
                    .get(position)
                    .and_then(|o| o["id"].as_str())
                    .map(str::to_string),
                rule,
                what: "rule_outcome".into(),
                recorded: a.cloned().unwrap_or(Json::Null),
                replayed: b.cloned().unwrap_or(Json::Null),
            });
        }
    }
    // Same per-candidate outcomes but different JSON (e.g. one side did not evaluate).
    Some(Difference {
        candidate: None,
        rule: None,
        what: "evaluation".into(),
        recorded: recorded.clone(),
        replayed: replayed_trace,
    })
}

/// The first difference in what was shown, `None` when the same.
fn shown_difference(recorded: &Shown, replayed: &Shown) -> Option<Difference> {
    let field = |what: &str, a: Json, b: Json| {
        (a != b).then(|| Difference {
            candidate: None,
            rule: None,
            what: what.into(),
            recorded: a,
            replayed: b,
        })
    };
    use serde_json::json;
    field("offers", json!(recorded.ids), json!(replayed.ids))
        .or_else(|| field("offers", json!(recorded.scores), json!(replayed.scores)))
        .or_else(|| {
            field(
                "fallback",
                json!(recorded.fallback_reason),
                json!(replayed.fallback_reason),
            )
        })
        .or_else(|| {
            field(
                "experiment",
                json!([recorded.experiment, recorded.variant]),
                json!([replayed.experiment, replayed.variant]),
            )
        })
}

/// Writes the JSON text of `compact_trace(verdicts)` (`null` without verdicts) without building
/// the JSON tree: [`CompactTrace`] writes the same bytes as the tree (keys in sorted order), so
/// the text compares byte for byte with a recorded one.
fn write_compact_trace(verdicts: Option<Verdicts>, out: &mut Vec<u8>) {
    match verdicts {
        Some(v) => CompactTrace(v).write(out),
        None => out.extend_from_slice(b"null"),
    }
}

/// What [`Shown::from_response`] reads of a recorded response, borrowed from its text. Stricter
/// than that function: a field of another type than expected fails to parse (the caller then
/// falls back to the JSON value), so a successful parse reads exactly what it reads.
#[derive(Deserialize)]
struct ResponseView<'a> {
    #[serde(borrow)]
    decisions: Option<Vec<ItemView<'a>>>,
    #[serde(borrow)]
    fallback: Option<ReasonView<'a>>,
    #[serde(borrow)]
    experiment: Option<ExperimentView<'a>>,
}

/// One entry of a response's `decisions`.
#[derive(Deserialize)]
struct ItemView<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    offer_id: Present<'a>,
    #[serde(default, borrow, deserialize_with = "present")]
    content_id: Present<'a>,
    score: Option<f64>,
}

#[derive(Deserialize)]
struct ReasonView<'a> {
    #[serde(borrow)]
    reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ExperimentView<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    variant: Option<Text<'a>>,
}

/// A string borrowed from the record's text when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// A string field that may be absent or `null`: [`Shown::from_response`] takes `content_id`
/// only when `offer_id` is absent, not when it is `null`.
#[derive(Default)]
enum Present<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Present<'de>, D::Error> {
    Ok(match Option::<Text<'de>>::deserialize(d)? {
        None => Present::Null,
        Some(Text(s)) => Present::Str(s),
    })
}

impl ResponseView<'_> {
    /// Whether the response shows what `shown` shows, as [`Shown::from_response`] reads it.
    /// `false` can also mean "cannot tell without the JSON comparison" (a NaN score).
    fn shows(&self, shown: &Shown) -> bool {
        let items = self.decisions.as_deref().unwrap_or_default();
        let ids = items.iter().filter_map(|d| match (&d.offer_id, &d.content_id) {
            (Present::Str(id), _) | (Present::Absent, Present::Str(id)) => Some(&**id),
            _ => None,
        });
        fn text<'s>(t: &'s Option<Text>) -> Option<&'s str> {
            t.as_ref().map(|Text(s)| &**s)
        }
        let reason = self.fallback.as_ref().and_then(|f| text(&f.reason));
        let (experiment, variant) = match &self.experiment {
            Some(e) => (text(&e.name), text(&e.variant)),
            None => (None, None),
        };
        ids.eq(shown.ids.iter().map(String::as_str))
            // `f64` equality: equal scores are equal JSON numbers (the converse fails only for
            // NaN, which the JSON comparison settles).
            && items.iter().map(|d| d.score).eq(shown.scores.iter().copied())
            && reason == shown.fallback_reason.as_deref()
            && experiment == shown.experiment.as_deref()
            && variant == shown.variant.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::ranges;
    use crate::config::Config;
    use crate::demo::{self, DemoFiles};
    use crate::engine::{DecideRequest, Engine};
    use crate::store::MemoryStore;
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use tailor_compiler::interp::CandidateOutcome;

    const SUBJECTS: [&str; 6] = ["u-00001", "u-00024", "u-00042", "u-00100", "u-01234", "u-04999"];
    const PLACEMENTS: [(&str, &str); 4] = [
        ("Web", "home.hero"),
        ("Web", "home.recs"),
        ("App", "checkout.upsell"),
        ("Email", "email.winback"),
    ];

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The demo tenant in a memory store, and the records of a few decisions made on it: seeded
    /// once, shared by the tests (each only reads).
    fn fixture() -> &'static (SharedStore, Vec<AuditRecord>) {
        static FIXTURE: OnceLock<(SharedStore, Vec<AuditRecord>)> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let mut config = Config::default();
            config.decide.fixed_now = Some("2026-11-24T10:00:00Z".into());
            // Debug builds on a busy machine must not hit the load deadline.
            config.decide.deadline_ms = 60_000;
            let store: SharedStore = Arc::new(MemoryStore::new());
            let engine = Engine::with_store(config, store.clone()).unwrap();
            let files = DemoFiles {
                policies: repo().join("policies"),
                catalog: repo().join("examples/catalog.json"),
                templates: Some(repo().join("examples/http/templates.json")),
                profiles: repo().join("examples/profiles.jsonl"),
            };
            demo::seed(&engine, &files).unwrap();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for subject in SUBJECTS {
                    for (channel, placement) in PLACEMENTS {
                        let req: DecideRequest = serde_json::from_value(serde_json::json!({
                            "subject": {"id": subject, "tenant_id": "demo"},
                            "context": {"channel": channel, "placement": placement},
                        }))
                        .unwrap();
                        let r = engine.decide(req, false).await.unwrap();
                        assert_eq!(r["logged"], true);
                    }
                }
            });
            let records = records_from_store(&store, &Filter::default()).unwrap();
            (store, records)
        })
    }

    fn replayer() -> Replayer {
        let (store, _) = fixture();
        Replayer::new(Some(store.clone()))
            .with_hash_key(None)
            .unwrap()
            .with_subject_ids(SUBJECTS.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn every_recorded_decision_replays_identically() {
        let (_, records) = fixture();
        assert_eq!(records.len(), SUBJECTS.len() * PLACEMENTS.len());
        let report = replayer().replay(records);
        assert_eq!(report.identical, records.len(), "{report:#?}");
        assert!(report.all_identical());
    }

    #[test]
    fn parallel_replay_reports_the_same_in_log_order() {
        let (_, records) = fixture();
        let mut mixed = records.clone();
        // Some records that cannot be reproduced, among identical ones.
        mixed[1].bundle.version = 99;
        mixed[5].subject_hash = "0".repeat(32);
        mixed[7].inputs["degraded"] = Json::String("deadline_exceeded".into());
        let sequential = replayer().replay(&mixed);
        let counted = std::sync::atomic::AtomicU64::new(0);
        let parallel = replayer().replay_with(&mixed, 3, &|n| {
            counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(parallel, sequential);
        assert_eq!(parallel.unreproducible, 2);
        assert_eq!(parallel.not_evaluated, 1);
        assert_eq!(counted.into_inner(), mixed.len() as u64);
    }

    #[test]
    fn chunked_replay_from_the_store_and_from_json_lines_equals_the_replay_of_all_records() {
        let (store, records) = fixture();
        let expected = replayer().replay(records);
        let filter = Filter::default();
        let from_store = replayer()
            .replay_store(store, &filter, 2, &|n| assert_eq!(n, 24), &|_| {})
            .unwrap();
        assert_eq!(from_store, expected);
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let from_file = replayer().replay_jsonl(&text, &filter, 2, &|_| {}, &|_| {}).unwrap();
        assert_eq!(from_file, expected);
        let one = Filter {
            decision_ids: vec![records[3].decision_id.clone()],
            ..Filter::default()
        };
        let done = std::sync::atomic::AtomicU64::new(0);
        let report = replayer()
            .replay_jsonl(&text, &one, 1, &|_| {}, &|n| {
                done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!((report.total, report.identical), (1, 1));
        assert_eq!(
            done.into_inner(),
            records.len() as u64,
            "filtered-out lines count as done"
        );
    }

    #[test]
    fn filters_select_one_subject() {
        let (_, records) = fixture();
        let filter = Filter {
            subject: Some(records[0].subject_hash.clone()),
            ..Filter::default()
        };
        let picked: Vec<_> = records.iter().filter(|r| filter.matches(r)).collect();
        assert_eq!(picked.len(), PLACEMENTS.len());
        assert!(picked.iter().all(|r| r.subject_hash == records[0].subject_hash));
    }

    #[test]
    fn a_tampered_bundle_hash_is_unreproducible() {
        let mut record = fixture().1[0].clone();
        record.bundle.hash = "0".repeat(64);
        match replayer().replay_record(&record).status {
            Status::Unreproducible { reason } => assert!(reason.contains("tampered"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_version_or_catalog_or_subject_is_unreproducible() {
        let base = fixture().1[0].clone();
        let mut missing = base.clone();
        missing.bundle.version = 99;
        let mut catalog = base.clone();
        catalog.catalog_hash = "c".into();
        let mut subject = base.clone();
        subject.subject_hash = "0".repeat(32);
        for (record, needle) in [
            (missing, "no version 99"),
            (catalog, "catalog changed"),
            (subject, "subject id unknown"),
        ] {
            match replayer().replay_record(&record).status {
                Status::Unreproducible { reason } => assert!(reason.contains(needle), "{reason}"),
                other => panic!("{needle}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_first_difference_names_the_candidate_and_the_rule() {
        let records = &fixture().1;
        let record = records
            .iter()
            .find(|r| r.rule_outcomes["removed"].as_object().is_some_and(|m| !m.is_empty()))
            .unwrap();
        let mut edited = record.clone();
        let removed = edited.rule_outcomes["removed"].as_object_mut().unwrap();
        let (rule, positions) = removed.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
        let mut list = parse_ranges(positions.as_str().unwrap()).unwrap();
        let dropped = list.remove(0);
        removed.insert(rule.clone(), Json::String(ranges(&list)));
        match replayer().replay_record(&edited).status {
            Status::Different { difference } => {
                assert_eq!(difference.what, "rule_outcome");
                assert_eq!(difference.rule.as_deref(), Some(rule.as_str()));
                let (store, _) = fixture();
                let doc = Registry::new(store.clone(), Backend::Interpreter)
                    .catalog_doc("demo")
                    .unwrap();
                assert_eq!(difference.candidate.as_deref(), doc.offers[dropped]["id"].as_str());
            }
            other => panic!("{other:?}"),
        }
        // A different answer with the same rule outcomes: the offers differ.
        let mut answer = record.clone();
        answer.response["decisions"] = serde_json::json!([{"offer_id": "nope"}]);
        match replayer().replay_record(&answer).status {
            Status::Different { difference } => assert_eq!(difference.what, "offers"),
            other => panic!("{other:?}"),
        }
    }

    /// The records as JSON lines, as the store keeps them (`serde_json::to_vec`).
    fn lines(records: &[AuditRecord]) -> String {
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect()
    }

    /// The report of `records` replayed from their text (records parsed as [`RecordView`]s,
    /// compared without JSON trees where they can be) and from [`AuditRecord`]s, which must
    /// agree.
    fn replayed_both_ways(records: &[AuditRecord]) -> Report {
        let from_values = replayer().replay(records);
        let from_text = replayer()
            .replay_jsonl(&lines(records), &Filter::default(), 1, &|_| {}, &|_| {})
            .unwrap();
        assert_eq!(from_text, from_values);
        from_text
    }

    #[test]
    fn the_compact_trace_text_is_what_the_named_trace_gives() {
        let records = &fixture().1;
        let mut replayer = replayer();
        let mut text = Vec::new();
        let mut kept = 0;
        for record in records {
            let rec = Rec::from(record);
            let ready = replayer.prepare(&rec).ok().unwrap();
            for backend in [Backend::Interpreter, Backend::Jit] {
                let rerun = run_on(backend, &rec, &ready, TraceLevel::Full, None).unwrap();
                let outcome = rerun.outcome.unwrap();
                let verdicts = Verdicts::new(
                    ready.bundle.program(),
                    rerun.decision,
                    ready.catalog.prepared.offers(),
                    &outcome.verdicts,
                )
                .unwrap();
                text.clear();
                write_compact_trace(Some(verdicts), &mut text);
                assert_eq!(
                    String::from_utf8(text.clone()).unwrap(),
                    serde_json::to_string(&crate::audit::tests::reference_compact(&outcome.trace)).unwrap()
                );
                kept += outcome
                    .trace
                    .iter()
                    .filter(|t| matches!(t.outcome, CandidateOutcome::Kept { .. }))
                    .count();
            }
        }
        assert!(kept > 0);
        text.clear();
        write_compact_trace(None, &mut text);
        assert_eq!(text, b"null");
    }

    #[test]
    fn records_replayed_from_their_text_report_what_records_replayed_as_values_do() {
        let records = &fixture().1;
        let report = replayed_both_ways(records);
        assert_eq!(report.identical, records.len());
        let with_kept = records
            .iter()
            .position(|r| r.rule_outcomes["kept"].as_array().is_some_and(|k| !k.is_empty()))
            .unwrap();
        let with_removed = records
            .iter()
            .position(|r| r.rule_outcomes["removed"].as_object().is_some_and(|m| !m.is_empty()))
            .unwrap();
        let mut tampered = records.clone();
        // One candidate outcome tampered with: a kept candidate's score, then a removed one's
        // positions.
        tampered[with_kept].rule_outcomes["kept"][0]["score"] = Json::from(-1.5);
        let removed = tampered[with_removed].rule_outcomes["removed"].as_object_mut().unwrap();
        let (rule, positions) = removed.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
        let mut list = parse_ranges(positions.as_str().unwrap()).unwrap();
        list.remove(0);
        removed.insert(rule, Json::String(ranges(&list)));
        // The answer: another offer shown, another score, an `offer_id` of `null` (which hides
        // the content id), the experiment, a response that is not an object.
        let with_offers = |r: &&AuditRecord| r.response["decisions"][0]["offer_id"].is_string();
        let shown = records.iter().position(|r| with_offers(&r)).unwrap();
        tampered[shown].response["decisions"][0]["offer_id"] = Json::String("nope".into());
        let scored = records.iter().rposition(|r| with_offers(&r)).unwrap();
        assert_ne!(scored, shown);
        tampered[scored].response["decisions"][0]["score"] = Json::from(1e-9);
        let fallback = records
            .iter()
            .position(|r| r.response["decisions"][0]["content_id"].is_string())
            .unwrap();
        tampered[fallback].response["decisions"][0]["offer_id"] = Json::Null;
        let last = tampered.len() - 1;
        tampered[last - 1].response["experiment"] = serde_json::json!({"name": "x", "variant": 1});
        tampered[last].response = Json::from(7);
        let report = replayed_both_ways(&tampered);
        let different: Vec<usize> = report
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.status, Status::Different { .. }))
            .map(|(i, _)| i)
            .collect();
        let mut expected = vec![with_kept, with_removed, shown, scored, fallback, last - 1, last];
        expected.sort();
        expected.dedup();
        assert_eq!(different, expected, "{report:#?}");
        let alone = [with_removed, shown, scored, fallback, last - 1, last];
        match &report.records[with_kept].status {
            _ if alone.contains(&with_kept) => {}
            Status::Different { difference } => {
                assert_eq!(difference.what, "rule_outcome");
                assert_eq!(difference.recorded["score"], Json::from(-1.5));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn records_with_odd_inputs_replay_from_their_text_as_from_values() {
        let records = &fixture().1;
        let mut odd = records.clone();
        // Inputs of other shapes than the server writes: read as JSON, with the same outcome
        // (and the same reasons) as before.
        odd[0].inputs["degraded"] = Json::String("deadline_exceeded".into());
        odd[1].inputs["consents"] = Json::String("marketing".into());
        odd[2].inputs["now_ms"] = Json::from(1.5);
        odd[3].inputs["profile"]["orders"] = Json::from(999);
        odd[4].inputs = Json::Null;
        odd[5].inputs["profile"] = Json::Null;
        odd[6].inputs["context"]["channel"] = Json::String("Nope".into());
        odd[7].inputs["degraded"] = Json::from(3);
        odd[8].inputs["extra"] = serde_json::json!({"a": [1, 2]});
        odd[9].inputs.as_object_mut().unwrap().remove("impressions");
        odd[10].inputs = serde_json::json!([{"now_ms": 1}]);
        odd[11].inputs = Json::from(5);
        odd[12].inputs = Json::String("inputs".into());
        let report = replayed_both_ways(&odd);
        assert_eq!(report.not_evaluated, 1, "{report:#?}");
        assert!(report.unreproducible >= 7, "{report:#?}");
        // A key given twice counts once, its last value, in the text as in a JSON value.
        let text: String = lines(&records[..20]).replace(
            "\"inputs\":{",
            "\"inputs\":{\"now_ms\":0,\"profile\":null,\"context\":7,",
        );
        assert_eq!(text.matches("\"now_ms\":0,").count(), 20);
        let from_text = replayer()
            .replay_jsonl(&text, &Filter::default(), 1, &|_| {}, &|_| {})
            .unwrap();
        let values = records_from_jsonl(&text, &Filter::default()).unwrap();
        assert_eq!(from_text, replayer().replay(&values));
        assert_eq!(from_text.identical, 20, "{from_text:#?}");
        // The same profiles again (from the converted-value cache) replay as the first time.
        let twice: Vec<AuditRecord> = records.iter().chain(records).cloned().collect();
        assert_eq!(replayed_both_ways(&twice).identical, twice.len());
    }

    #[test]
    fn a_record_formatted_differently_still_replays_identically() {
        let records = &fixture().1;
        // Whitespace and key order differ from what the server writes: the byte comparison
        // fails, the JSON comparison decides.
        let text: String = records
            .iter()
            .map(|r| {
                let mut value = serde_json::to_value(r).unwrap();
                value["response"]["zz"] = Json::Null;
                serde_json::to_string_pretty(&value).unwrap().replace('\n', " ") + "\n"
            })
            .collect();
        let report = replayer()
            .replay_jsonl(&text, &Filter::default(), 2, &|_| {}, &|_| {})
            .unwrap();
        assert_eq!(report.identical, records.len(), "{report:#?}");
        assert!(matches!(
            replayer().replay_jsonl("{\"decision_id\": 1}\n", &Filter::default(), 1, &|_| {}, &|_| {}),
            Err(ReplayError::BadRecord { line: 1, .. })
        ));
    }

    #[test]
    fn degraded_records_are_not_evaluated() {
        let mut record = fixture().1[0].clone();
        record.inputs["degraded"] = Json::String("deadline_exceeded".into());
        let report = replayer().replay(&[record]);
        assert_eq!(report.not_evaluated, 1);
        assert!(report.all_identical());
    }

    #[test]
    fn records_round_trip_through_json_lines_and_filters() {
        let records = &fixture().1;
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        assert_eq!(&records_from_jsonl(&text, &Filter::default()).unwrap(), records);
        let one = Filter {
            decision_ids: vec![records[2].decision_id.clone()],
            ..Filter::default()
        };
        assert_eq!(records_from_jsonl(&text, &one).unwrap().len(), 1);
        let other_tenant = Filter {
            tenant: Some("acme".into()),
            ..Filter::default()
        };
        assert!(records_from_jsonl(&text, &other_tenant).unwrap().is_empty());
        let later = Filter {
            since_ms: Some(records[0].at_ms + 1),
            ..Filter::default()
        };
        assert!(records_from_jsonl(&text, &later).unwrap().is_empty());
        assert!(matches!(
            records_from_jsonl("\n{\"not\": 1}\n", &Filter::default()),
            Err(ReplayError::BadRecord { line: 2, .. })
        ));
    }

    #[test]
    fn recorded_floats_parse_back_exactly() {
        // Bit-exact replay needs serde_json's `float_roundtrip`: without it, parsing can be one
        // ulp off, and a recorded score or profile value would not come back as it was.
        for x in [
            19.439999999999998_f64,
            0.1 + 0.2,
            1.0 / 3.0,
            2.0_f64.sqrt() * 1e-300,
            1.7976931348623157e308,
        ] {
            let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x}");
        }
    }

    #[test]
    fn ranges_parse_back() {
        for positions in [vec![], vec![4], vec![0, 1, 2, 5, 7, 8]] {
            assert_eq!(parse_ranges(&ranges(&positions)), Some(positions));
        }
        assert_eq!(parse_ranges("3-1"), None);
        assert_eq!(parse_ranges("x"), None);
    }

    #[test]
    fn the_same_bundle_as_a_candidate_changes_nothing() {
        let (store, records) = fixture();
        let stored = Registry::new(store.clone(), Backend::Interpreter)
            .version("demo", 1)
            .unwrap();
        let bundle = compile_sources(&stored.sources).unwrap();
        let what_if = replayer().what_if(records, &bundle);
        assert_eq!(what_if.compared, records.len());
        assert_eq!(what_if.changed, 0);
        assert!(what_if.changed_decisions.is_empty());
    }

    #[test]
    fn a_parallel_what_if_reports_the_same_as_a_sequential_one() {
        let (store, records) = fixture();
        let stored = Registry::new(store.clone(), Backend::Interpreter)
            .version("demo", 1)
            .unwrap();
        // A candidate that changes decisions: the hero never shows `welcome-10`.
        let sources: Vec<BundleSource> = stored
            .sources
            .iter()
            .map(|s| BundleSource {
                name: s.name.clone(),
                text: s.text.replacen(
                    "  deny basket_content:",
                    "  deny no_welcome: offer.id == \"welcome-10\" because \"pilot\"\n  deny basket_content:",
                    1,
                ),
            })
            .collect();
        let candidate = compile_sources(&sources).unwrap();
        let mut mixed = records.clone();
        // Some records that are skipped, among compared ones.
        mixed[1].bundle.version = 99;
        mixed[5].subject_hash = "0".repeat(32);
        mixed[7].inputs["degraded"] = Json::String("deadline_exceeded".into());
        let sequential = replayer().what_if(&mixed, &candidate);
        assert!(sequential.changed > 0, "{sequential:#?}");
        assert!(sequential.skipped >= 3, "{sequential:#?}");
        for jobs in [2, 3, 8] {
            assert_eq!(
                replayer().what_if_with(&mixed, &candidate, jobs),
                sequential,
                "{jobs} jobs"
            );
        }
        // The same from the records' text.
        let from_text = replayer()
            .what_if_jsonl(&lines(&mixed), &Filter::default(), &candidate, 2)
            .unwrap();
        assert_eq!(from_text, sequential);
    }
}
