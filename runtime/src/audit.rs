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
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;
use tailor_compiler::interp::{CandidateOutcome, CandidateTrace};
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
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .scan_prefix_after(Tree::Audit, b"", after.as_deref(), NEWEST_PAGE)?;
            let full = page.len() >= NEWEST_PAGE;
            after = page.last().map(|(k, _)| k.clone());
            for (k, v) in page {
                if !v.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    continue;
                }
                let r: AuditRecord = decode(&v)?;
                if r.tenant_id == tenant && r.subject_hash == subject_hash {
                    self.store.remove(Tree::Audit, &k)?;
                    removed += 1;
                }
            }
            if !full || after.is_none() {
                break;
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
#[derive(Debug, Clone, Copy)]
pub struct CompactTrace<'a>(pub &'a [CandidateTrace]);

/// [`CompactTrace`] as a JSON value (what replay compares a re-run against).
pub fn compact_trace(trace: &[CandidateTrace]) -> Json {
    serde_json::to_value(CompactTrace(trace)).unwrap_or(Json::Null)
}

impl Serialize for CompactTrace<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("capped", &Entries(self.0, true))?;
        map.serialize_entry("kept", &Entries(self.0, false))?;
        map.serialize_entry("removed", &Removed(removed_ranges(self.0)))?;
        map.end()
    }
}

/// The positions each rule removed, as ranges, sorted by rule.
struct Removed<'a>(Vec<(&'a str, String)>);

impl Serialize for Removed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (rule, positions) in &self.0 {
            map.serialize_entry(rule, positions)?;
        }
        map.end()
    }
}

/// One pass over the trace, with no list of positions per rule: a decision over a large
/// catalog removes most candidates, and this runs on every decision the server logs.
fn removed_ranges(trace: &[CandidateTrace]) -> Vec<(&str, String)> {
    struct Run<'a> {
        rule: &'a Arc<str>,
        text: String,
        start: usize,
        end: usize,
    }
    let mut runs: Vec<Run<'_>> = Vec::new();
    // The previous removed candidate's rule: neighbours are mostly removed by the same one.
    let mut last = 0;
    for (position, t) in trace.iter().enumerate() {
        let CandidateOutcome::Removed { rule, .. } = &t.outcome else {
            continue;
        };
        let same = |r: &Run<'_>| Arc::ptr_eq(r.rule, rule) || **r.rule == **rule;
        let found = match runs.get(last) {
            Some(r) if same(r) => Some(last),
            _ => runs.iter().position(same),
        };
        match found.and_then(|i| runs.get_mut(i).map(|r| (i, r))) {
            Some((i, run)) => {
                last = i;
                if position == run.end + 1 {
                    run.end = position;
                } else {
                    push_range(&mut run.text, run.start, run.end);
                    (run.start, run.end) = (position, position);
                }
            }
            None => {
                last = runs.len();
                runs.push(Run {
                    rule,
                    text: String::new(),
                    start: position,
                    end: position,
                });
            }
        }
    }
    let mut out: Vec<(&str, String)> = runs
        .into_iter()
        .map(|mut r| {
            push_range(&mut r.text, r.start, r.end);
            (&**r.rule, r.text)
        })
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out
}

/// Appends `start` or `start-end` to a comma-separated list.
fn push_range(out: &mut String, start: usize, end: usize) {
    use std::fmt::Write;
    if !out.is_empty() {
        out.push(',');
    }
    // Writing into a String cannot fail.
    let _ = if start == end {
        write!(out, "{start}")
    } else {
        write!(out, "{start}-{end}")
    };
}

/// The capped (`true`) or kept (`false`) candidates of a trace, in catalog order.
struct Entries<'a>(&'a [CandidateTrace], bool);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for t in self.0 {
            match (&t.outcome, self.1) {
                (CandidateOutcome::Kept { score, rank, boosts }, false) => seq.serialize_element(&KeptEntry {
                    boosts,
                    id: &t.id,
                    outcome: "kept",
                    rank: *rank,
                    score: *score,
                })?,
                (
                    CandidateOutcome::Capped {
                        scope,
                        limit,
                        window_ms,
                        seen,
                    },
                    true,
                ) => seq.serialize_element(&CappedEntry {
                    id: &t.id,
                    limit: *limit,
                    outcome: "capped",
                    scope: scope.keyword(),
                    seen: *seen,
                    window_ms: *window_ms,
                })?,
                _ => {}
            }
        }
        seq.end()
    }
}

// Fields in sorted order: see `CompactTrace`.
#[derive(Serialize)]
struct KeptEntry<'a> {
    boosts: &'a [std::sync::Arc<str>],
    id: &'a str,
    outcome: &'static str,
    rank: Option<u32>,
    score: f64,
}

#[derive(Serialize)]
struct CappedEntry<'a> {
    id: &'a str,
    limit: u32,
    outcome: &'static str,
    scope: &'static str,
    seen: u64,
    window_ms: i64,
}

/// `[0, 1, 2, 5, 7, 8]` as `"0-2,5,7-8"`.
pub fn ranges(positions: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < positions.len() {
        let start = positions[i];
        let mut end = start;
        while i + 1 < positions.len() && positions[i + 1] == end + 1 {
            i += 1;
            end = positions[i];
        }
        push_range(&mut out, start, end);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn a_written_record_reads_back_to_the_same_bytes() {
        use std::sync::Arc;
        use tailor_compiler::ir::CapScope;
        let t = |id: &str, outcome| CandidateTrace {
            id: Arc::from(id),
            outcome,
        };
        let removed = |rule: &str| CandidateOutcome::Removed {
            rule: Arc::from(rule),
            reason: Some(Arc::from("a reason the record leaves out")),
        };
        let trace = vec![
            t("a", removed("p.b.z_rule")),
            t(
                "b",
                CandidateOutcome::Kept {
                    score: 2.5,
                    rank: Some(1),
                    boosts: vec![Arc::from("p.r.boost")],
                },
            ),
            t("c", removed("p.b.a_rule")),
            t("d", removed("p.b.z_rule")),
            t(
                "e",
                CandidateOutcome::Capped {
                    scope: CapScope::Channel,
                    limit: 3,
                    window_ms: 60_000,
                    seen: 4,
                },
            ),
            t(
                "f",
                CandidateOutcome::Kept {
                    score: f64::NAN,
                    rank: None,
                    boosts: vec![],
                },
            ),
            t("g", removed("p.b.z_rule")),
            t("h", removed("p.b.z_rule")),
            t("i", removed("p.b.z_rule")),
            t("j", removed("p.b.a_rule")),
            t("k", removed("p.b.z_rule")),
        ];
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
            rule_outcomes: Some(CompactTrace(&trace)),
            experiment: Some(serde_json::json!({ "name": "x", "variant": "b" })),
            response: serde_json::json!({ "decision_id": "d1", "decisions": [{ "offer_id": "b", "priority": 1 }] }),
        };
        let bytes = serde_json::to_vec(&written).unwrap();
        let read: AuditRecord = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&read).unwrap(), bytes);
        assert_eq!(read.rule_outcomes, compact_trace(&trace));
        assert_eq!(
            read.rule_outcomes,
            serde_json::json!({
                "capped": [{ "id": "e", "limit": 3, "outcome": "capped", "scope": "channel", "seen": 4, "window_ms": 60_000 }],
                "kept": [
                    { "boosts": ["p.r.boost"], "id": "b", "outcome": "kept", "rank": 1, "score": 2.5 },
                    { "boosts": [], "id": "f", "outcome": "kept", "rank": null, "score": null },
                ],
                "removed": { "p.b.a_rule": "2,9", "p.b.z_rule": "0,3,6-8,10" },
            })
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
