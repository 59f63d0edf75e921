//! Prometheus metrics, exposed at `/metrics` in the text exposition format.
//!
//! Hand-written rather than a metrics crate: the runtime needs a handful of counters and one
//! histogram family, all with bounded label sets (tenants and placements come from deployed
//! bundles, error codes from a fixed list, never from raw request input). Series are created
//! on first use and updated with relaxed atomics; the decide path takes one read lock per
//! series lookup.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }
}

/// A family of series keyed by their rendered labels (`tenant="demo",placement="home.hero"`).
#[derive(Debug, Default)]
struct Family<T> {
    series: RwLock<HashMap<String, Arc<T>>>,
}

impl<T: Default> Family<T> {
    fn get(&self, labels: &str) -> Option<Arc<T>> {
        if let Some(s) = self.series.read().ok()?.get(labels) {
            return Some(s.clone());
        }
        let mut map = self.series.write().ok()?;
        Some(map.entry(labels.to_string()).or_default().clone())
    }

    fn sorted(&self) -> Vec<(String, Arc<T>)> {
        let mut v: Vec<(String, Arc<T>)> = self
            .series
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Every metric of the server.
#[derive(Debug, Default)]
pub struct Metrics {
    latency: Family<Histogram>,
    decisions: Family<AtomicU64>,
    fallbacks: Family<AtomicU64>,
    errors: Family<AtomicU64>,
    http: Family<AtomicU64>,
    audit_failures: AtomicU64,
    deploys: Family<AtomicU64>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// A decision for a deployed placement, how long it took, and its fallback reason if any.
    pub fn decision(&self, tenant: &str, placement: &str, seconds: f64, fallback: Option<&str>) {
        let labels = format!("tenant=\"{}\",placement=\"{}\"", label(tenant), label(placement));
        if let Some(h) = self.latency.get(&labels) {
            h.observe(seconds);
        }
        if let Some(c) = self.decisions.get(&labels) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(reason) = fallback {
            let labels = format!("{labels},reason=\"{}\"", label(reason));
            if let Some(c) = self.fallbacks.get(&labels) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// An error answered to a client or a server fault, by its code.
    pub fn error(&self, code: &str) {
        if let Some(c) = self.errors.get(&format!("code=\"{}\"", label(code))) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An HTTP response, by status code.
    pub fn http_response(&self, status: u16) {
        if let Some(c) = self.http.get(&format!("status=\"{status}\"")) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A decision whose audit record could not be written.
    pub fn audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A deploy attempt and its result (`ok`, `invalid`, `tests_failed`, …).
    pub fn deploy(&self, result: &str) {
        if let Some(c) = self.deploys.get(&format!("result=\"{}\"", label(result))) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP tailor_decision_latency_seconds Time to answer a decide request, by placement."
        );
        let _ = writeln!(out, "# TYPE tailor_decision_latency_seconds histogram");
        for (labels, h) in self.latency.sorted() {
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tailor_decision_latency_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.buckets[i].load(Ordering::Relaxed)
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "tailor_decision_latency_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "tailor_decision_latency_seconds_sum{{{labels}}} {}",
                h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(out, "tailor_decision_latency_seconds_count{{{labels}}} {count}");
        }
        counter_family(
            &mut out,
            "tailor_decisions_total",
            "Decisions answered, by placement.",
            &self.decisions,
        );
        counter_family(
            &mut out,
            "tailor_fallbacks_total",
            "Decisions that served the placement's fallback, by reason.",
            &self.fallbacks,
        );
        counter_family(
            &mut out,
            "tailor_errors_total",
            "Error responses, by code.",
            &self.errors,
        );
        counter_family(
            &mut out,
            "tailor_http_responses_total",
            "HTTP responses, by status.",
            &self.http,
        );
        counter_family(
            &mut out,
            "tailor_deploys_total",
            "Bundle deploys, by result.",
            &self.deploys,
        );
        let _ = writeln!(
            out,
            "# HELP tailor_audit_failures_total Decisions whose audit record was not written."
        );
        let _ = writeln!(out, "# TYPE tailor_audit_failures_total counter");
        let _ = writeln!(
            out,
            "tailor_audit_failures_total {}",
            self.audit_failures.load(Ordering::Relaxed)
        );
        out
    }
}

fn counter_family(out: &mut String, name: &str, help: &str, family: &Family<AtomicU64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (labels, c) in family.sorted() {
        let _ = writeln!(out, "{name}{{{labels}}} {}", c.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_histograms_and_counters() {
        let m = Metrics::new();
        m.decision("demo", "home.hero", 0.0003, None);
        m.decision("demo", "home.hero", 0.002, Some("holdout"));
        m.error("invalid_request");
        let text = m.render();
        assert!(text.contains(
            "tailor_decision_latency_seconds_bucket{tenant=\"demo\",placement=\"home.hero\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains("tailor_decision_latency_seconds_count{tenant=\"demo\",placement=\"home.hero\"} 2"));
        assert!(text.contains("tailor_decisions_total{tenant=\"demo\",placement=\"home.hero\"} 2"));
        assert!(text.contains("tailor_fallbacks_total{tenant=\"demo\",placement=\"home.hero\",reason=\"holdout\"} 1"));
        assert!(text.contains("tailor_errors_total{code=\"invalid_request\"} 1"));
    }
}
