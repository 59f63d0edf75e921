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
//! writes them as one batch, flushes once (see [`crate::store::sled`]) and only then acknowledges each. The
//! [`Durability`] mode sets the group size: `sync` commits one record per flush, `batched` as
//! many as are waiting (up to `batch_max`). In both modes a decision is answered only after its
//! record is on disk; if the write fails or does not finish within the acknowledgement timeout
//! the response says `"logged": false`.

use crate::store::{decode, SharedStore, StoreError, Tree};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::time::Duration;
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

/// One audited decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
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
    /// Per-candidate outcomes (see [`compact_trace`]).
    pub rule_outcomes: Json,
    /// `{ "name": …, "variant": … }` when the decision has an experiment.
    pub experiment: Option<Json>,
    /// The response body sent to the channel (without the `explain` part).
    pub response: Json,
}

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
    pub async fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
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
        for (_, v) in self.store.scan_prefix_rev(Tree::Audit, b"", 100_000)? {
            let r: AuditRecord = decode(&v)?;
            if r.tenant_id == tenant {
                out.push(r);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Deletes every record of one subject (erasure). A full scan of the log, read into memory
    /// at once: an admin operation for logs of modest size, not for the request path (a
    /// streaming erasure job is future work). Returns how many records were removed.
    pub fn erase_subject(&self, tenant: &str, subject_hash: &str) -> Result<usize, AuditError> {
        let needle = format!("\"subject_hash\":\"{subject_hash}\"");
        let mut removed = 0;
        for (k, v) in self.store.scan_prefix(Tree::Audit, b"", usize::MAX)? {
            if !v.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                continue;
            }
            let r: AuditRecord = decode(&v)?;
            if r.tenant_id == tenant && r.subject_hash == subject_hash {
                self.store.remove(Tree::Audit, &k)?;
                removed += 1;
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

fn commit(store: &dyn crate::store::Store, mut jobs: Vec<Job>) {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = jobs
        .iter_mut()
        .map(|j| (std::mem::take(&mut j.key), std::mem::take(&mut j.bytes)))
        .collect();
    let result = store
        .put_many(Tree::Audit, &entries)
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
/// record's `catalog_hash` names.
pub fn compact_trace(trace: &[tailor_compiler::interp::CandidateTrace]) -> Json {
    use tailor_compiler::interp::CandidateOutcome;
    let mut kept = Vec::new();
    let mut capped = Vec::new();
    let mut removed: std::collections::BTreeMap<&str, Vec<usize>> = std::collections::BTreeMap::new();
    for (position, t) in trace.iter().enumerate() {
        match &t.outcome {
            CandidateOutcome::Removed { rule, .. } => removed.entry(&**rule).or_default().push(position),
            CandidateOutcome::Kept { .. } => kept.push(serde_json::to_value(t).unwrap_or(Json::Null)),
            CandidateOutcome::Capped { .. } => capped.push(serde_json::to_value(t).unwrap_or(Json::Null)),
        }
    }
    let removed: serde_json::Map<String, Json> = removed
        .into_iter()
        .map(|(rule, positions)| (rule.to_string(), Json::String(ranges(&positions))))
        .collect();
    serde_json::json!({ "kept": kept, "capped": capped, "removed": removed })
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
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
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
        }
    }
}
