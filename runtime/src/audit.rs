//! The audit log: every decision, appended to [`Tree::Audit`] before the response leaves.
//!
//! A record holds what compliance and replay need: the decision id and time, the tenant, the
//! hashed subject, the inputs the policies read (profile, context, the request time, consents,
//! impressions, the request's constraints), the bundle version and catalog hash, the
//! per-candidate rule outcomes (compactly: kept and capped candidates in full, removed ones as
//! catalog positions per rule), the experiment assignment and the response. With the subject id
//! (which only the hash of is stored) and the recorded bundle version, that is enough to run the
//! decision again and get the same answer.
//!
//! Writes go through one writer thread that commits in groups: it takes every record waiting,
//! writes them, flushes once (see [`crate::store::sled`]) and only then acknowledges each. The
//! [`Durability`] mode sets the group size: `sync` commits one record per flush, `batched` as
//! many as are waiting (up to `batch_max`). In both modes a decision is answered only after its
//! record is on disk; if the write fails or does not finish within the acknowledgement timeout
//! the response says `"logged": false`.

use crate::store::{decode, SharedStore, StoreError, Tree};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::time::Duration;
use tailor_compiler::interp::{Verdict, Verdicts};
use tokio::sync::{mpsc, oneshot};

/// How audit records reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// One flush per record.
    Sync,
    /// Group commit: one flush per batch of waiting records.
    #[default]
    Batched,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Durability, String> {
        match s {
            "sync" => Ok(Durability::Sync),
            "batched" => Ok(Durability::Batched),
            other => Err(format!(
                "unknown audit durability `{other}` (expected `sync` or `batched`)"
            )),
        }
    }
}

/// The bundle a decision ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    /// The tenant's deploy sequence number.
    pub version: u64,
    /// The content hash of the sources.
    pub hash: String,
}

/// One audited decision. `O` is the per-candidate outcomes' type: JSON when read back, a
/// [`CompactTrace`] when the server writes one (serialized straight from the decision's trace,
/// without building the JSON tree first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord<O = Json> {
    pub decision_id: String,
    /// Milliseconds since the epoch (the `now()` the policies saw).
    pub at_ms: i64,
    pub tenant_id: String,
    pub subject_hash: String,
    pub placement: String,
    /// The decision's name in the bundle (absent when none ran).
    pub decision: Option<String>,
    pub bundle: BundleRef,
    pub catalog_hash: String,
    /// `interpreter` or `jit`.
    pub backend: String,
    /// What the policies read.
    pub inputs: Json,
    /// Per-candidate outcomes (see [`CompactTrace`]); `null` when no policy ran.
    pub rule_outcomes: O,
    /// `{ "name": …, "variant": … }` when the decision has an experiment.
    pub experiment: Option<Json>,
    /// The response body sent to the channel (without the `explain` part).
    pub response: Json,
}

/// Records read per page by [`AuditLog::for_each_newest`]: a few MB of records at most.
pub const NEWEST_PAGE: usize = 1024;

/// Why a record was not logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log is shut down")]
    Closed,
    #[error("the audit write did not finish in {0} ms")]
    Timeout(u64),
    #[error("the audit write failed: {0}")]
    Write(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Job {
    key: Vec<u8>,
    bytes: Vec<u8>,
    ack: oneshot::Sender<Result<(), String>>,
}

enum Msg {
    Record(Job),
    Stop(oneshot::Sender<()>),
}

/// The audit log's writer.
pub struct AuditLog {
    store: SharedStore,
    tx: mpsc::Sender<Msg>,
    ack_timeout: Duration,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl AuditLog {
    /// Starts the writer thread.
    pub fn start(store: SharedStore, durability: Durability, batch_max: usize, ack_timeout: Duration) -> AuditLog {
        let (tx, rx) = mpsc::channel::<Msg>(65_536);
        let group = match durability {
            Durability::Sync => 1,
            Durability::Batched => batch_max.max(1),
        };
        let writer_store = store.clone();
        let writer = std::thread::Builder::new()
            .name("tailor-audit".into())
            .spawn(move || write_loop(writer_store, rx, group))
            .ok();
        AuditLog {
            store,
            tx,
            ack_timeout,
            writer: std::sync::Mutex::new(writer),
        }
    }

    /// Appends a record and waits until it is durable.
    pub async fn append<O: Serialize>(&self, record: &AuditRecord<O>) -> Result<(), AuditError> {
        let bytes = serde_json::to_vec(record).map_err(|e| AuditError::Write(e.to_string()))?;
        let (ack, done) = oneshot::channel();
        let job = Job {
            key: record.decision_id.as_bytes().to_vec(),
            bytes,
            ack,
        };
        let wait = async {
            self.tx.send(Msg::Record(job)).await.map_err(|_| AuditError::Closed)?;
            match done.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(AuditError::Write(e)),
                Err(_) => Err(AuditError::Closed),
            }
        };
        match tokio::time::timeout(self.ack_timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(AuditError::Timeout(self.ack_timeout.as_millis() as u64)),
        }
    }

    /// A record by decision id.
    pub fn get(&self, decision_id: &str) -> Result<Option<AuditRecord>, AuditError> {
        Ok(self
            .store
            .get(Tree::Audit, decision_id.as_bytes())?
            .map(|b| decode(&b))
            .transpose()?)
    }

    /// The newest records of a tenant, newest first (looking at most at 100,000 records).
    pub fn latest(&self, tenant: &str, limit: usize) -> Result<Vec<AuditRecord>, AuditError> {
        let mut out = Vec::new();
        let mut looked = 0;
        if limit > 0 {
            self.for_each_newest(|r| {
                looked += 1;
                if r.tenant_id == tenant {
                    out.push(r);
                }
                out.len() < limit && looked < 100_000
            })?;
        }
        Ok(out)
    }

    /// Reads the log newest first, [`NEWEST_PAGE`] records at a time (never the whole log into
    /// memory), handing each record to `visit` until it returns false or the log ends.
    pub fn for_each_newest(&self, visit: impl FnMut(AuditRecord) -> bool) -> Result<(), AuditError> {
        self.for_each_newest_paged(NEWEST_PAGE, visit)
    }

    fn for_each_newest_paged(&self, page: usize, mut visit: impl FnMut(AuditRecord) -> bool) -> Result<(), AuditError> {
        let mut before: Option<Vec<u8>> = None;
        loop {
            let entries = self
                .store
                .scan_prefix_rev_before(Tree::Audit, b"", before.as_deref(), page)?;
            let full = entries.len() >= page;
            before = entries.last().map(|(k, _)| k.clone());
            for (_, v) in entries {
                if !visit(decode(&v)?) {
                    return Ok(());
                }
            }
            if !full || before.is_none() {
                return Ok(());
            }
        }
    }

    /// Deletes every record of one subject (erasure). A full scan of the log, a page at a time
    /// (so memory stays bounded), but it reads every record: an admin operation, not for the
    /// request path. Returns how many records were removed.
    pub fn erase_subject(&self, tenant: &str, subject_hash: &str) -> Result<usize, AuditError> {
        let needle = format!("\"subject_hash\":\"{subject_hash}\"");
        let mut removed = 0;
        for page in crate::store::pages(self.store.as_ref(), Tree::Audit, b"", NEWEST_PAGE) {
            for (k, v) in page? {
                if !v.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    continue;
                }
                let r: AuditRecord = decode(&v)?;
                if r.tenant_id == tenant && r.subject_hash == subject_hash {
                    self.store.remove(Tree::Audit, &k)?;
                    removed += 1;
                }
            }
        }
        self.store.flush()?;
        Ok(removed)
    }

    /// Writes every record queued so far, then stops the writer: records appended afterwards
    /// are reported as not logged. Waits at most five seconds.
    pub async fn shutdown(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Stop(ack)).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

fn write_loop(store: SharedStore, mut rx: mpsc::Receiver<Msg>, group: usize) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = Vec::new();
        let mut stop = None;
        match first {
            Msg::Record(job) => jobs.push(job),
            Msg::Stop(ack) => stop = Some(ack),
        }
        while stop.is_none() && jobs.len() < group {
            match rx.try_recv() {
                Ok(Msg::Record(job)) => jobs.push(job),
                Ok(Msg::Stop(ack)) => stop = Some(ack),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            commit(store.as_ref(), jobs);
        }
        if let Some(ack) = stop {
            let _ = ack.send(());
            return;
        }
    }
}

/// Writes a group and flushes once. Records go in one by one, not as one atomic batch: no
/// reader needs a group's records together, and sled's batch costs about a fifth more CPU per
/// record (`benches/audit_ceiling.rs`, docs/benchmarks.md). A failure part-way fails the whole
/// group, so some of its records may be in the log while all are reported not logged: the
/// report errs on the safe side.
fn commit(store: &dyn crate::store::Store, jobs: Vec<Job>) {
    let result = jobs
        .iter()
        .try_for_each(|j| store.put(Tree::Audit, &j.key, &j.bytes))
        .and_then(|()| store.flush())
        .map_err(|e| e.to_string());
    if let Err(e) = &result {
        tracing::error!(error = %e, records = jobs.len(), "audit write failed");
    }
    for job in jobs {
        let _ = job.ack.send(result.clone());
    }
}

/// Per-candidate outcomes in a compact form: kept and capped candidates in full, removed ones
/// as catalog positions (ranges like `"0-3,7"`) per rule. The positions index the catalog the
/// record's `catalog_hash` names. Serializes as
/// `{"capped": [...], "kept": [...], "removed": {"rule": "positions"}}`, every object's keys in
/// sorted order (so the bytes are those of the same JSON read back as a `serde_json::Value`).
///
/// Written straight from a decision's [`Verdicts`] (indices, no shared strings), the same bytes
/// as from its named trace: this runs on every decision the server logs and every record replay
/// re-runs.
#[derive(Clone, Copy)]
pub struct CompactTrace<'a>(pub Verdicts<'a>);

/// [`CompactTrace`] as a JSON value (what replay compares a re-run against).
pub fn compact_trace(verdicts: Verdicts<'_>) -> Json {
    serde_json::to_value(CompactTrace(verdicts)).unwrap_or(Json::Null)
}

impl CompactTrace<'_> {
    /// Appends the JSON text to `out`: one pass over the verdicts, then the three parts.
    pub fn write(&self, out: &mut Vec<u8>) {
        let v = self.0;
        let mut kept = Vec::new();
        let mut capped = Vec::new();
        let mut removed = Removed::new(v);
        for (position, verdict) in v.all().iter().enumerate() {
            match verdict {
                Verdict::Kept { .. } => kept.push(position),
                Verdict::Capped { .. } => capped.push(position),
                Verdict::Removed { rule } => removed.add(*rule, position),
            }
        }
        let mut numbers = itoa::Buffer::new();
        out.extend_from_slice(b"{\"capped\":[");
        let mut first = true;
        for position in capped {
            let Some(Verdict::Capped { cap, seen }) = v.all().get(position) else {
                continue;
            };
            // An index out of range is left out, as the named trace leaves it out.
            let Some(cap) = v.cap(*cap) else { continue };
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            json_string(out, &v.id(position));
            out.extend_from_slice(b",\"limit\":");
            out.extend_from_slice(numbers.format(cap.limit).as_bytes());
            out.extend_from_slice(b",\"outcome\":\"capped\",\"scope\":");
            json_string(out, cap.scope.keyword());
            out.extend_from_slice(b",\"seen\":");
            out.extend_from_slice(numbers.format(*seen).as_bytes());
            out.extend_from_slice(b",\"window_ms\":");
            out.extend_from_slice(numbers.format(cap.window_ms).as_bytes());
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"kept\":[");
        for (i, &position) in kept.iter().enumerate() {
            let Some(Verdict::Kept { score, rank, boosts }) = v.all().get(position) else {
                continue;
            };
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"boosts\":[");
            let mut first = true;
            for id in boosts.iter().filter_map(|&b| v.boost(b)) {
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                json_string(out, id);
            }
            out.extend_from_slice(b"],\"id\":");
            json_string(out, &v.id(position));
            out.extend_from_slice(b",\"outcome\":\"kept\",\"rank\":");
            match rank {
                Some(r) => out.extend_from_slice(numbers.format(*r).as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"score\":");
            // serde_json's own number text (`null` for NaN and the infinities), as a record
            // read back writes it.
            let _ = serde_json::to_writer(&mut *out, score);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"removed\":{");
        removed.write(out);
        out.extend_from_slice(b"}}");
    }
}

/// Writes `s` as a JSON string, escaped as serde_json escapes it.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}

/// Serialized as the text [`CompactTrace::write`] writes.
impl Serialize for CompactTrace<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut text = Vec::new();
        self.write(&mut text);
        let text = String::from_utf8(text).map_err(S::Error::custom)?;
        serde_json::value::RawValue::from_string(text)
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

/// The positions each rule removed, as ranges: built in one pass with no list of positions per
/// rule (a decision over a large catalog removes most candidates). Rules are told apart by
/// their id, as the record names them (two rules with one id share an entry).
struct Removed<'a> {
    verdicts: Verdicts<'a>,
    runs: Vec<Run<'a>>,
    /// The run of each rule index, once the rule has removed a candidate.
    run_of: Vec<Option<usize>>,
}

/// The positions one rule removed: `text` holds the finished ranges, `start..=end` the open one.
struct Run<'a> {
    rule: &'a str,
    text: Vec<u8>,
    start: usize,
    end: usize,
}

impl<'a> Removed<'a> {
    fn new(verdicts: Verdicts<'a>) -> Removed<'a> {
        Removed {
            verdicts,
            runs: Vec::new(),
            run_of: vec![None; verdicts.rule_count()],
        }
    }

    /// Rule `rule` removed the candidate at `position` (positions come in increasing order).
    fn add(&mut self, rule: usize, position: usize) {
        let Some(slot) = self.run_of.get_mut(rule) else {
            return;
        };
        let run = match *slot {
            Some(i) => i,
            None => {
                let Some(id) = self.verdicts.rule(rule).map(|r| &*r.id) else {
                    return;
                };
                let i = match self.runs.iter().position(|r| r.rule == id) {
                    Some(i) => i,
                    None => {
                        self.runs.push(Run {
                            rule: id,
                            text: Vec::new(),
                            start: position,
                            end: position,
                        });
                        *slot = Some(self.runs.len() - 1);
                        return;
                    }
                };
                *slot = Some(i);
                i
            }
        };
        let Some(run) = self.runs.get_mut(run) else {
            return;
        };
        if position == run.end + 1 {
            run.end = position;
        } else {
            push_range(&mut run.text, run.start, run.end);
            (run.start, run.end) = (position, position);
        }
    }

    /// Writes `"rule":"ranges"` pairs, sorted by rule.
    fn write(mut self, out: &mut Vec<u8>) {
        self.runs.sort_unstable_by(|a, b| a.rule.cmp(b.rule));
        for (i, mut run) in self.runs.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_range(&mut run.text, run.start, run.end);
            json_string(out, run.rule);
            // Digits, commas and dashes: nothing to escape.
            out.extend_from_slice(b":\"");
            out.extend_from_slice(&run.text);
            out.push(b'"');
        }
    }
}

/// Appends `start` or `start-end` to a comma-separated list.
fn push_range(out: &mut Vec<u8>, start: usize, end: usize) {
    let mut numbers = itoa::Buffer::new();
    if !out.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(numbers.format(start).as_bytes());
    if start != end {
        out.push(b'-');
        out.extend_from_slice(numbers.format(end).as_bytes());
    }
}

/// `[0, 1, 2, 5, 7, 8]` as `"0-2,5,7-8"`.
pub fn ranges(positions: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < positions.len() {
        let start = positions[i];
        let mut end = start;
        while i + 1 < positions.len() && positions[i + 1] == end + 1 {
            i += 1;
            end = positions[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use std::sync::Arc;

    fn record(id: &str, tenant: &str) -> AuditRecord {
        AuditRecord {
            decision_id: id.into(),
            at_ms: 1,
            tenant_id: tenant.into(),
            subject_hash: "h".into(),
            placement: "p".into(),
            decision: None,
            bundle: BundleRef {
                version: 1,
                hash: "x".into(),
            },
            catalog_hash: "c".into(),
            backend: "interpreter".into(),
            inputs: Json::Null,
            rule_outcomes: Json::Null,
            experiment: None,
            response: Json::Null,
        }
    }

    /// The compact trace built the obvious way from a named trace, as a JSON tree (whose
    /// objects keep their keys sorted): what [`CompactTrace`] must write, byte for byte.
    pub(crate) fn reference_compact(trace: &[tailor_compiler::interp::CandidateTrace]) -> Json {
        use serde_json::json;
        use tailor_compiler::interp::CandidateOutcome;
        let mut capped = Vec::new();
        let mut kept = Vec::new();
        let mut removed: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (position, t) in trace.iter().enumerate() {
            match &t.outcome {
                CandidateOutcome::Kept { score, rank, boosts } => kept.push(json!({
                    "boosts": boosts.iter().map(|b| &**b).collect::<Vec<_>>(),
                    "id": &*t.id, "outcome": "kept", "rank": rank, "score": score,
                })),
                CandidateOutcome::Capped {
                    scope,
                    limit,
                    window_ms,
                    seen,
                } => capped.push(json!({
                    "id": &*t.id, "limit": limit, "outcome": "capped", "scope": scope.keyword(),
                    "seen": seen, "window_ms": window_ms,
                })),
                CandidateOutcome::Removed { rule, .. } => removed.entry(rule.to_string()).or_default().push(position),
            }
        }
        let removed: serde_json::Map<String, Json> = removed
            .into_iter()
            .map(|(rule, p)| (rule, Json::String(ranges(&p))))
            .collect();
        json!({ "capped": capped, "kept": kept, "removed": removed })
    }

    /// Rules declared out of name order, two with one id (`rule4`: a label, and the fourth
    /// rule's default name), a cap and two boosts.
    const POLICY: &str = r#"
package p

schema Offer {
  id: String
  score: Float
}

eligibility b for offer: Offer {
  deny z_rule: offer.score < 0.0
  deny a_rule: offer.score > 100.0 because "a reason the record leaves out"
  deny rule4: offer.score == 7.0
  deny offer.score == 8.0
}

ranking r for offer: Offer {
  score offer.score
  boost first: 2.0 when offer.score > 1.0
  boost second: 1.5 when offer.score > 2.0
}

decision hero {
  placement "p"
  candidates b
  rank r
  max 2
  cap channel 3 per 1d
  fallback "house"
}
"#;

    #[test]
    fn a_written_record_reads_back_to_the_same_bytes() {
        use tailor_compiler::interp::Verdict;
        let mut sources = tailor_compiler::SourceMap::new();
        sources.add("p.policy", POLICY);
        let bundle = tailor_compiler::Bundle::compile(sources).unwrap();
        let program = bundle.program();
        let decision = program.decision_for_placement("p").unwrap();
        let schema = program.eligibilities[0].schema;
        // Ids the JSON must escape.
        let ids = [
            "a", "b\n\"x\"", "c", "d", "e", "f\\", "g", "h", "i", "j", "k", "l", "m", "n",
        ];
        let offers: Vec<Json> = ids
            .iter()
            .map(|id| serde_json::json!({ "id": id, "score": 1.0 }))
            .collect();
        let catalog = bundle.prepare_catalog_json(schema, &offers).unwrap();
        let removed = |rule| Verdict::Removed { rule };
        let verdicts = vec![
            removed(0),
            Verdict::Kept {
                score: 2.5,
                rank: Some(1),
                boosts: vec![1, 0],
            },
            removed(1),
            removed(0),
            Verdict::Capped { cap: 0, seen: 4 },
            Verdict::Kept {
                score: f64::NAN,
                rank: None,
                boosts: vec![],
            },
            removed(0),
            removed(0),
            removed(0),
            removed(1),
            removed(0),
            removed(2),
            removed(3),
            removed(2),
        ];
        let v = Verdicts::new(program, decision, catalog.offers(), &verdicts).unwrap();
        let r = record("d1", "t");
        let written = AuditRecord {
            decision_id: r.decision_id,
            at_ms: r.at_ms,
            tenant_id: r.tenant_id,
            subject_hash: r.subject_hash,
            placement: r.placement,
            decision: Some("hero".into()),
            bundle: r.bundle,
            catalog_hash: r.catalog_hash,
            backend: r.backend,
            inputs: serde_json::json!({ "now_ms": 5, "consents": ["email"], "context": { "placement": "p", "channel": "Web" } }),
            rule_outcomes: Some(CompactTrace(v)),
            experiment: Some(serde_json::json!({ "name": "x", "variant": "b" })),
            response: serde_json::json!({ "decision_id": "d1", "decisions": [{ "offer_id": "b", "priority": 1 }] }),
        };
        let bytes = serde_json::to_vec(&written).unwrap();
        let read: AuditRecord = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&read).unwrap(), bytes);
        assert_eq!(read.rule_outcomes, compact_trace(v));
        assert_eq!(
            read.rule_outcomes,
            serde_json::json!({
                "capped": [{ "id": "e", "limit": 3, "outcome": "capped", "scope": "channel", "seen": 4, "window_ms": 86_400_000 }],
                "kept": [
                    { "boosts": ["p.r.second", "p.r.first"], "id": "b\n\"x\"", "outcome": "kept", "rank": 1, "score": 2.5 },
                    { "boosts": [], "id": "f\\", "outcome": "kept", "rank": null, "score": null },
                ],
                "removed": { "p.b.a_rule": "2,9", "p.b.rule4": "11-13", "p.b.z_rule": "0,3,6-8,10" },
            })
        );
        // The same bytes as the named trace gives.
        assert_eq!(
            serde_json::to_string(&CompactTrace(v)).unwrap(),
            serde_json::to_string(&reference_compact(&v.traces().unwrap())).unwrap()
        );
    }

    #[test]
    fn erasure_pages_through_a_log_longer_than_a_page() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let log = AuditLog::start(store, Durability::Batched, 512, Duration::from_secs(5));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let n = NEWEST_PAGE * 2 + 7;
        rt.block_on(async {
            for i in 0..n {
                let mut r = record(&format!("d{i:05}"), "a");
                r.subject_hash = if i % 2 == 0 { "h1".into() } else { "h2".into() };
                log.append(&r).await.unwrap();
            }
        });
        assert_eq!(log.erase_subject("a", "h1").unwrap(), n.div_ceil(2));
        let mut left = Vec::new();
        log.for_each_newest(|r| {
            left.push(r.subject_hash);
            true
        })
        .unwrap();
        assert_eq!(left.len(), n / 2);
        assert!(left.iter().all(|h| h == "h2"));
    }

    #[test]
    fn positions_compress_to_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[4]), "4");
    }

    #[test]
    fn appended_records_are_readable_in_both_modes() {
        for mode in [Durability::Sync, Durability::Batched] {
            let store: SharedStore = Arc::new(MemoryStore::new());
            let log = AuditLog::start(store, mode, 64, Duration::from_secs(5));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for i in 0..10 {
                    log.append(&record(&format!("d{i:02}"), if i % 2 == 0 { "a" } else { "b" }))
                        .await
                        .unwrap();
                }
            });
            assert_eq!(log.get("d03").unwrap().unwrap().tenant_id, "b");
            let latest = log.latest("a", 2).unwrap();
            assert_eq!(
                latest.iter().map(|r| r.decision_id.as_str()).collect::<Vec<_>>(),
                vec!["d08", "d06"]
            );
            // Paging: every record once, newest first, whatever the page size, and the visit
            // can stop it.
            for page in [1, 3, 10, 64] {
                let mut seen = Vec::new();
                log.for_each_newest_paged(page, |r| {
                    seen.push(r.decision_id);
                    true
                })
                .unwrap();
                let expected: Vec<String> = (0..10).rev().map(|i| format!("d{i:02}")).collect();
                assert_eq!(seen, expected, "page {page}");
                let mut first = Vec::new();
                log.for_each_newest_paged(page, |r| {
                    first.push(r.decision_id);
                    first.len() < 4
                })
                .unwrap();
                assert_eq!(first, expected[..4], "page {page}");
            }
        }
    }
}
