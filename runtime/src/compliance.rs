//! Replay on the running server: the explanation of one logged decision
//! (`GET /admin/audit/{decision_id}/explain`), a replay or what-if report over the server's own
//! audit log (`POST /admin/replay`), and deploys gated on a what-if replay of the tenant's
//! recent traffic (`POST /admin/bundles` with `what_if`). The replay logic is
//! [`crate::replay`]'s; this module picks the records, builds the [`Replayer`] over the live
//! store with the server's hashing key, and decides whether a what-if lets a deploy through.
//! Every function here is blocking (compiling bundles and re-running records): call it off the
//! async workers.

use crate::audit::AuditRecord;
use crate::config::MAX_WHAT_IF_RECENT;
use crate::engine::{Engine, EngineError};
use crate::registry::{DeployError, DeployRequest};
use crate::replay::{self, Filter, Replayer, WhatIf};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use tailor_compiler::bundle::BundleSource;

/// How many records `POST /admin/replay` replays when the request gives no `limit`.
pub const DEFAULT_REPLAY_LIMIT: usize = 10_000;
/// The most records one `POST /admin/replay` replays.
pub const MAX_REPLAY_LIMIT: usize = 100_000;

/// A `POST /admin/replay` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayIn {
    pub tenant_id: String,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    #[serde(default)]
    pub decision_ids: Vec<String>,
    /// A subject's keyed hash, as logged.
    pub subject: Option<String>,
    pub limit: Option<usize>,
    /// A what-if report on this stored version of the tenant's bundle.
    pub against_version: Option<u64>,
    /// A what-if report on these sources.
    pub candidate_sources: Option<Vec<BundleSource>>,
    /// Subject ids to recognise by their hashes (the log keeps only hashes; experiments bucket
    /// on the id), in addition to the store's identity links.
    #[serde(default)]
    pub subject_ids: Vec<String>,
}

/// A deploy's what-if gate (`what_if` in a `POST /admin/bundles` body).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatIfIn {
    /// How many of the tenant's most recent decisions to replay, newest first.
    pub recent: usize,
    /// Refuse the deploy when more than this fraction of the compared decisions would change.
    pub max_changed_fraction: Option<f64>,
    /// Subject ids to recognise by their hashes, as in [`ReplayIn::subject_ids`].
    #[serde(default)]
    pub subject_ids: Vec<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Engine {
    /// A replayer over the live store, hashing subjects with the server's key.
    pub fn replayer(&self, subject_ids: Vec<String>) -> Replayer {
        Replayer::new(Some(self.store.clone()))
            .with_hasher(self.hasher.clone())
            .with_subject_ids(subject_ids)
    }

    /// The explanation of one logged decision (see [`crate::explain`]).
    pub fn explain_decision(&self, decision_id: &str, subject_ids: Vec<String>) -> Result<Json, EngineError> {
        let record = self
            .audit
            .get(decision_id)
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .ok_or_else(|| EngineError::UnknownDecision(decision_id.to_string()))?;
        Ok(crate::explain::explain(&mut self.replayer(subject_ids), &record))
    }

    /// A replay report (or, with `against_version` or `candidate_sources`, a what-if report) over
    /// the server's own audit log.
    pub fn replay_request(&self, req: ReplayIn) -> Result<Json, EngineError> {
        if self.registry.tenant(&req.tenant_id).is_none() {
            return Err(EngineError::UnknownTenant(req.tenant_id));
        }
        let limit = req.limit.unwrap_or(DEFAULT_REPLAY_LIMIT);
        if !(1..=MAX_REPLAY_LIMIT).contains(&limit) {
            return Err(invalid("limit", format!("must be from 1 to {MAX_REPLAY_LIMIT}")));
        }
        if req.against_version.is_some() && req.candidate_sources.is_some() {
            return Err(invalid(
                "against_version",
                "give `against_version` or `candidate_sources`, not both",
            ));
        }
        let time = |field: &str, t: &Option<String>| -> Result<Option<i64>, EngineError> {
            t.as_deref()
                .map(|t| tailor_compiler::interp::time::parse_rfc3339(t).map_err(|m| invalid(field, m)))
                .transpose()
        };
        let filter = Filter {
            tenant: Some(req.tenant_id.clone()),
            decision_ids: req.decision_ids.clone(),
            since_ms: time("since", &req.since)?,
            until_ms: time("until", &req.until)?,
            subject: req.subject.clone(),
        };
        let candidate = match (&req.against_version, &req.candidate_sources) {
            (Some(v), _) => {
                let stored = self.registry.version(&req.tenant_id, *v)?;
                Some(replay::compile_sources(&stored.sources).map_err(EngineError::Internal))
            }
            (None, Some(sources)) => Some(
                replay::compile_sources(sources)
                    .map_err(|e| invalid("candidate_sources", format!("the candidate does not compile: {e}"))),
            ),
            (None, None) => None,
        }
        .transpose()?;
        let (records, truncated) = self.newest_records(&filter, limit)?;
        // On the server's backend: the JIT agrees with the interpreter exactly and is several
        // times faster over many records (an explanation, one record, stays on the interpreter).
        let mut replayer = self.replayer(req.subject_ids).with_backend(self.config.backend);
        let mut out = match &candidate {
            Some(bundle) => serde_json::to_value(replayer.what_if(&records, bundle)),
            None => serde_json::to_value(replayer.replay(&records)),
        }
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        out["truncated"] = Json::Bool(truncated);
        Ok(out)
    }

    /// The newest `limit` records that pass `filter`, in log order, and whether more matched.
    fn newest_records(&self, filter: &Filter, limit: usize) -> Result<(Vec<AuditRecord>, bool), EngineError> {
        let mut out = Vec::new();
        let mut truncated = false;
        self.audit
            .for_each_newest(|r| {
                if filter.matches(&r) {
                    if out.len() == limit {
                        truncated = true;
                        return false;
                    }
                    out.push(r);
                }
                true
            })
            .map_err(|e| match e {
                // An unreadable store is the store's failure (503), as everywhere else.
                crate::audit::AuditError::Store(e) => EngineError::Store(e),
                other => EngineError::Internal(other.to_string()),
            })?;
        out.reverse();
        Ok((out, truncated))
    }

    /// Deploys with the what-if gate: `what_if` from the request, or the configured
    /// `[deploy] require_what_if`. The candidate is compiled and tested as for any deploy, then
    /// run on the tenant's most recent decisions; the report goes into the answer, and a deploy
    /// changing more than the allowed fraction is refused ([`DeployError::WhatIfRejected`]).
    /// `dry_run` stops before anything is stored.
    pub fn deploy_gated(
        &self,
        req: DeployRequest,
        what_if: Option<WhatIfIn>,
        dry_run: bool,
    ) -> Result<Json, EngineError> {
        let what_if = match (what_if, self.config.deploy.require_what_if) {
            (Some(mut w), Some(required)) => {
                w.recent = w.recent.max(required);
                Some(w)
            }
            (Some(w), None) => Some(w),
            (None, Some(required)) => Some(WhatIfIn {
                recent: required,
                ..WhatIfIn::default()
            }),
            (None, None) => None,
        };
        let mut threshold = None;
        if let Some(w) = &what_if {
            if !(1..=MAX_WHAT_IF_RECENT).contains(&w.recent) {
                return Err(invalid(
                    "what_if.recent",
                    format!("must be from 1 to {MAX_WHAT_IF_RECENT}"),
                ));
            }
            threshold = w.max_changed_fraction.or(self.config.deploy.max_changed_fraction);
            if threshold.is_some_and(|f| !(0.0..=1.0).contains(&f)) {
                return Err(invalid("what_if.max_changed_fraction", "must be from 0.0 to 1.0"));
            }
        }
        let tenant = req.tenant.clone();
        let mut report: Option<WhatIf> = None;
        let started = std::time::Instant::now();
        let timeout = std::time::Duration::from_millis(self.config.http.request_timeout_ms);
        let deployed = self.registry.deploy_checked(req, |bundle| {
            if let Some(w) = &what_if {
                let mut records = self
                    .audit
                    .latest(&tenant, w.recent)
                    .map_err(|e| DeployError::Backend(format!("reading the audit log: {e}")))?;
                records.reverse();
                let r = self
                    .replayer(w.subject_ids.clone())
                    .with_backend(self.config.backend)
                    .what_if(&records, bundle);
                let verdict = gate(&r, threshold);
                let json = serde_json::to_value(&r).unwrap_or(Json::Null);
                report = Some(r);
                if let Err(message) = verdict {
                    return Err(DeployError::WhatIfRejected { message, report: json });
                }
                // The HTTP layer answers 503 once the request timeout passes and lets this task
                // finish: a deploy must not then swap in behind the caller's back.
                if started.elapsed() >= timeout {
                    return Err(DeployError::WhatIfRejected {
                        message: format!(
                            "the what-if replay took longer than the request timeout ({} ms): nothing was deployed; replay fewer records or raise http.request_timeout_ms",
                            timeout.as_millis()
                        ),
                        report: json,
                    });
                }
            }
            Ok(!dry_run)
        })?;
        let what_if_json = report
            .as_ref()
            .map(|r| serde_json::to_value(r).unwrap_or(Json::Null))
            .unwrap_or(Json::Null);
        Ok(match deployed {
            Some(d) => json!({
                "tenant_id": d.meta.tenant_id,
                "version": d.meta.version,
                "hash": d.meta.hash,
                "changed": d.changed,
                "tests_passed": d.meta.tests_passed,
                "warnings": d.warnings,
                "dry_run": false,
                "what_if": what_if_json,
            }),
            None => json!({
                "tenant_id": tenant,
                "dry_run": true,
                "changed": false,
                "what_if": what_if_json,
            }),
        })
    }
}

/// Whether a what-if report lets a deploy through under `max_changed_fraction`. Only decisions
/// that could be compared count; when records exist but none could be compared (their subjects
/// or catalogs unknown), a threshold cannot be checked, and the deploy is refused rather than
/// waved through.
pub fn gate(report: &WhatIf, max_changed_fraction: Option<f64>) -> Result<(), String> {
    let Some(max) = max_changed_fraction else {
        return Ok(());
    };
    if report.compared == 0 {
        if report.total == 0 {
            return Ok(());
        }
        return Err(format!(
            "none of the {} recent decision(s) could be compared ({} skipped: unknown subjects, changed catalog or unreproducible), so the changed fraction cannot be checked",
            report.total, report.skipped
        ));
    }
    let fraction = report.changed as f64 / report.compared as f64;
    if fraction > max {
        return Err(format!(
            "the candidate changes {} of {} compared decision(s) ({:.1}%), more than the allowed {:.1}%",
            report.changed,
            report.compared,
            fraction * 100.0,
            max * 100.0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(total: usize, compared: usize, changed: usize) -> WhatIf {
        WhatIf {
            total,
            compared,
            changed,
            skipped: total - compared,
            ..WhatIf::default()
        }
    }

    #[test]
    fn the_gate_compares_the_changed_fraction_with_the_threshold() {
        assert!(gate(&report(10, 10, 5), None).is_ok());
        assert!(gate(&report(10, 10, 1), Some(0.1)).is_ok());
        assert!(gate(&report(10, 10, 2), Some(0.1)).unwrap_err().contains("2 of 10"));
        assert!(gate(&report(10, 10, 0), Some(0.0)).is_ok());
        assert!(gate(&report(0, 0, 0), Some(0.0)).is_ok());
        assert!(gate(&report(5, 0, 0), Some(0.5))
            .unwrap_err()
            .contains("could be compared"));
    }
}
