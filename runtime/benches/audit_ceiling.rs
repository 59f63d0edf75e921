//! The audit log alone, under concurrent appends: how many records per second the group-commit
//! writer makes durable in sled on this machine, and at what latency, with nothing else running
//! (no HTTP, no decisions). It bounds what `tailor serve` can reach with the audit log on: a
//! decision is answered only after its record is durable.
//!
//! ```sh
//! cargo bench -p tailor-runtime --bench audit_ceiling                 # the defaults below
//! RECORD_BYTES=1500 TASKS=8 SECONDS=10 cargo bench -p tailor-runtime --bench audit_ceiling
//! ```
//!
//! Prints one line per run: records/s and latency percentiles of `AuditLog::append`.

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tailor_runtime::audit::{AuditLog, AuditRecord, BundleRef, Durability};
use tailor_runtime::store::sled::SledStore;
use tailor_runtime::store::SharedStore;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn record(id: String, bytes: usize) -> AuditRecord {
    AuditRecord {
        decision_id: id,
        at_ms: 1_764_000_000_000,
        tenant_id: "demo".into(),
        subject_hash: "3f1c9a0b7d2e4f6a8c0e1f2a3b4c5d6e".into(),
        placement: "home.hero".into(),
        decision: Some("hero".into()),
        bundle: BundleRef {
            version: 1,
            hash: "ab".repeat(32),
        },
        catalog_hash: "cd".repeat(32),
        backend: "jit".into(),
        // The rest of a record's size, as one string: what is measured is the write path.
        inputs: json!({ "padding": "x".repeat(bytes.saturating_sub(400)) }),
        rule_outcomes: serde_json::Value::Null,
        experiment: None,
        response: json!({ "decisions": [] }),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes its settings from the environment.
    let record_bytes: usize = env_or("RECORD_BYTES", 4500);
    let seconds: u64 = env_or("SECONDS", 8);
    let durability: Durability = std::env::var("DURABILITY")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(Durability::Batched);
    let task_counts: Vec<usize> = std::env::var("TASKS")
        .ok()
        .map(|t| t.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 4, 16, 64]);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    for tasks in task_counts {
        let dir = std::env::temp_dir().join(format!("tailor-audit-ceiling-{}-{tasks}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: SharedStore = match SledStore::open(&dir, Some(1000)) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("cannot open sled in {}: {e}", dir.display());
                std::process::exit(1);
            }
        };
        let log = Arc::new(AuditLog::start(store, durability, 256, Duration::from_secs(10)));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let latencies: Vec<Duration> = runtime.block_on(async {
            let workers: Vec<_> = (0..tasks)
                .map(|t| {
                    let log = log.clone();
                    tokio::spawn(async move {
                        let mut mine = Vec::new();
                        let mut i = 0u64;
                        while Instant::now() < deadline {
                            let r = record(format!("{t:04}{i:016}"), record_bytes);
                            let start = Instant::now();
                            if log.append(&r).await.is_ok() {
                                mine.push(start.elapsed());
                            }
                            i += 1;
                        }
                        mine
                    })
                })
                .collect();
            let mut all = Vec::new();
            for w in workers {
                if let Ok(mut mine) = w.await {
                    all.append(&mut mine);
                }
            }
            log.shutdown().await;
            all
        });
        let mut sorted = latencies;
        sorted.sort();
        println!(
            "{durability:?} {record_bytes} B records, {tasks} tasks: {:.0} records/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            sorted.len() as f64 / seconds as f64,
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99),
            percentile(&sorted, 1.0),
        );
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
