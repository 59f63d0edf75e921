//! The full story of one logged decision (`tailor explain DECISION_ID`,
//! `GET /admin/audit/{decision_id}/explain`): its inputs, the segments the subject matched, the
//! experiment assignment, every candidate with the rule that removed it or its score and boosts,
//! the caps applied, the consent and channel policy, the fallback, the response as served, and
//! whether running it again reproduces it.
//!
//! The record is run again on its recorded bundle with [`Replayer::reproduce`], which applies
//! the same bit-exact checks as a replay. When that is impossible (the version is gone, the
//! catalog changed, the subject id is unknown, the runtime degraded before evaluating), the
//! decision is explained from what the log recorded — the compact rule outcomes and the response
//! — with a warning saying it could not be re-run and why: a compliance answer must never be
//! silently built on something other than what ran. The JSON shape is documented in
//! `docs/replay.md`.

use crate::audit::AuditRecord;
use crate::replay::{expand, parse_ranges, Replayer, Reproduced, Status};
use serde_json::{json, Value as Json};
use tailor_compiler::interp::builtins::bucket;
use tailor_compiler::interp::time::format_rfc3339;
use tailor_compiler::interp::{assign_in, CandidateOutcome, Evaluator};

/// Explains `record`, running it again with `replayer` when possible.
pub fn explain(replayer: &mut Replayer, record: &AuditRecord) -> Json {
    let inputs = &record.inputs;
    let impressions = inputs["impressions"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut doc = json!({
        "decision_id": record.decision_id,
        "at": format_rfc3339(record.at_ms),
        "at_ms": record.at_ms,
        "tenant_id": record.tenant_id,
        "subject_hash": record.subject_hash,
        "placement": record.placement,
        "decision": record.decision,
        "channel": inputs["context"]["channel"],
        "bundle": { "version": record.bundle.version, "hash": record.bundle.hash },
        "catalog_hash": record.catalog_hash,
        "backend": record.backend,
        // A record exists only once it was durably appended: the decision was logged.
        "logged": true,
        "inputs": {
            "profile": inputs["profile"],
            "context": inputs["context"],
            "now_ms": inputs["now_ms"],
            "consents": inputs["consents"],
            "impressions": { "count": impressions.len(), "items": impressions },
            "constraints": inputs["constraints"],
            "hints": inputs["hints"],
            "degraded": inputs["degraded"],
        },
        "response": record.response,
        "fallback": record.response["fallback"],
        "warnings": [],
    });
    match replayer.reproduce(record) {
        Ok(r) => explain_rerun(&mut doc, record, &r),
        Err(reason) => {
            let not_evaluated = record.inputs["degraded"].as_str().is_some_and(|d| {
                matches!(
                    d,
                    "store_unavailable" | "deadline_exceeded" | "profile_invalid" | "catalog_unavailable"
                )
            });
            doc["replay"] = json!({
                "status": if not_evaluated { "not_evaluated" } else { "unreproducible" },
                "reason": reason,
                "source": "recorded",
            });
            doc["warnings"] = json!([format!(
                "this decision could not be re-run ({reason}); it is explained from the audit record alone"
            )]);
            explain_recorded(&mut doc, replayer, record);
        }
    }
    doc
}

/// Fills in what the re-run shows.
fn explain_rerun(doc: &mut Json, record: &AuditRecord, r: &Reproduced) {
    let program = r.bundle.program();
    let (status, difference) = match &r.status {
        Status::Identical => ("identical", Json::Null),
        Status::Different { difference } => ("different", json!(difference)),
        _ => ("unreproducible", Json::Null),
    };
    doc["replay"] = json!({ "status": status, "difference": difference, "source": "replayed" });
    if status == "different" {
        doc["warnings"] = json!(["the re-run differs from the record: the record is what was served"]);
    }

    // Every segment of the bundle on the recorded inputs, on the reference interpreter.
    let evaluator = Evaluator::new(program);
    let request = evaluator.request(&r.env);
    let segments: Vec<Json> = program
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| match request.segment(i as u32) {
            Ok(b) => json!({ "name": s.name, "matched": b }),
            Err(e) => json!({ "name": s.name, "matched": null, "error": e.to_string() }),
        })
        .collect();
    doc["segments"] = Json::Array(segments);

    let def = program
        .decision_for_placement(&record.placement)
        .and_then(|d| program.decisions.get(d as usize));
    if let Some(def) = def {
        let channels: Option<Vec<String>> = def.channels.as_ref().map(|cs| {
            let names = program.enums.get(program.builtins.channel as usize);
            cs.iter()
                .filter_map(|c| names.and_then(|e| e.variants.get(*c as usize)).cloned())
                .collect()
        });
        let channel = record.inputs["context"]["channel"].as_str().unwrap_or_default();
        let consents: Vec<&str> = r.env.consents.iter().map(String::as_str).collect();
        doc["policy"] = json!({
            "channels": channels,
            "channel_allowed": channels.as_ref().is_none_or(|cs| cs.iter().any(|c| c == channel)),
            "consent_purpose": def.consent,
            "consent_granted": def.consent.as_ref().is_none_or(|p| consents.contains(&p.as_str())),
            "consent_enforced": record.inputs["constraints"]["require_consent"].as_bool().unwrap_or(true),
            "max": def.max,
            "caps": def.caps.iter().map(|c| json!({
                "scope": c.scope.keyword(),
                "limit": c.limit,
                "window_ms": c.window_ms,
            })).collect::<Vec<_>>(),
        });
        doc["experiment"] = match def.experiment.and_then(|e| program.experiments.get(e as usize)) {
            Some(e) => {
                let subject: &str = &r.env.subject;
                let assignment = assign_in(e, subject);
                json!({
                    "name": e.name,
                    "variant": assignment.name(e),
                    "holdout": assignment.name(e) == "holdout",
                    "holdout_bp": e.holdout_bp,
                    "holdout_bucket": (e.holdout_bp > 0).then(|| bucket(&format!("{}/holdout", e.salt), subject)),
                    "bucket": bucket(&e.salt, subject),
                    // The layer slice the experiment runs in, and where the subject falls.
                    "layer": e.layer.as_ref().map(|l| json!({
                        "name": l.name,
                        "from_bp": l.from_bp,
                        "to_bp": l.to_bp,
                        "bucket": bucket(&format!("layer/{}", l.name), subject),
                        "enrolled": tailor_compiler::interp::experiment::enrolled(e, subject),
                    })),
                    "variants": e.variants.iter().map(|v| json!({"name": v.name, "weight_bp": v.weight_bp})).collect::<Vec<_>>(),
                })
            }
            None => Json::Null,
        };
    }

    let Some(outcome) = &r.outcome else {
        doc["candidates"] = json!([]);
        doc["caps_applied"] = json!([]);
        return;
    };
    let candidates: Vec<Json> = outcome
        .trace
        .iter()
        .map(|t| {
            let mut c = serde_json::to_value(t).unwrap_or(Json::Null);
            if let CandidateOutcome::Capped { .. } = t.outcome {
                c["impressions"] = counted(record, &t.id);
            }
            c
        })
        .collect();
    set_candidates(doc, candidates);
    if let Some(f) = &outcome.fallback {
        doc["fallback"] = json!(f);
    }
}

/// The explanation's `candidates`, and its `caps_applied`: the capped ones among them.
fn set_candidates(doc: &mut Json, candidates: Vec<Json>) {
    doc["caps_applied"] = Json::Array(
        candidates
            .iter()
            .filter(|c| c["outcome"] == "capped")
            .cloned()
            .collect(),
    );
    doc["candidates"] = Json::Array(candidates);
}

/// The recorded impressions of `offer` at the record's placement (what a cap counted).
fn counted(record: &AuditRecord, offer: &str) -> Json {
    let items = record.inputs["impressions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Json::Array(
        items
            .iter()
            .filter(|i| i["placement"] == record.placement.as_str() && i["offer_id"] == offer)
            .cloned()
            .collect(),
    )
}

/// Fills in what the record alone says: the compact rule outcomes (catalog positions turned
/// back into offer ids when the recorded catalog is still available) and the experiment.
fn explain_recorded(doc: &mut Json, replayer: &mut Replayer, record: &AuditRecord) {
    doc["segments"] = Json::Null;
    doc["policy"] = Json::Null;
    doc["experiment"] = match &record.experiment {
        Some(e) => json!({
            "name": e["name"],
            "variant": e["variant"],
            "holdout": e["variant"] == "holdout",
        }),
        None => Json::Null,
    };
    let outcomes = &record.rule_outcomes;
    let mut candidates = Vec::new();
    match replayer.recorded_catalog(record) {
        Some(catalog) => {
            for (position, outcome) in expand(outcomes, &catalog) {
                let mut c = outcome.clone();
                if c.get("id").is_none() {
                    c["id"] = catalog
                        .offers_json
                        .get(position)
                        .map(|o| o["id"].clone())
                        .unwrap_or(Json::Null);
                }
                c["position"] = json!(position);
                candidates.push(c);
            }
        }
        None => {
            // Without the catalog, removed candidates are known only by position.
            for kind in ["kept", "capped"] {
                for c in outcomes[kind].as_array().map(Vec::as_slice).unwrap_or_default() {
                    candidates.push(c.clone());
                }
            }
            if let Some(removed) = outcomes["removed"].as_object() {
                for (rule, ranges) in removed {
                    for position in ranges.as_str().and_then(parse_ranges).unwrap_or_default() {
                        candidates
                            .push(json!({ "id": null, "position": position, "outcome": "removed", "rule": rule }));
                    }
                }
            }
        }
    }
    for c in candidates.iter_mut().filter(|c| c["outcome"] == "capped") {
        let id = c["id"].as_str().unwrap_or_default().to_string();
        c["impressions"] = counted(record, &id);
    }
    set_candidates(doc, candidates);
}

/// The explanation as text, for a terminal.
pub fn to_text(doc: &Json) -> String {
    let mut out = String::new();
    let s = |v: &Json| match v {
        Json::String(s) => s.clone(),
        Json::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!("decision {}", s(&doc["decision_id"])));
    line(format!("  time:       {} ({} ms)", s(&doc["at"]), s(&doc["at_ms"])));
    line(format!("  tenant:     {}", s(&doc["tenant_id"])));
    line(format!("  subject:    {} (keyed hash)", s(&doc["subject_hash"])));
    line(format!(
        "  placement:  {} (decision {}, channel {})",
        s(&doc["placement"]),
        s(&doc["decision"]),
        s(&doc["channel"])
    ));
    line(format!(
        "  bundle:     version {} ({})",
        s(&doc["bundle"]["version"]),
        s(&doc["bundle"]["hash"])
    ));
    line(format!("  catalog:    {}", s(&doc["catalog_hash"])));
    line(format!("  backend:    {}", s(&doc["backend"])));
    line(format!("  logged:     {}", s(&doc["logged"])));
    for w in doc["warnings"].as_array().map(Vec::as_slice).unwrap_or_default() {
        line(format!("warning: {}", s(w)));
    }

    line("inputs".into());
    match doc["inputs"]["profile"].as_object() {
        Some(p) => {
            line("  profile:".into());
            for (k, v) in p {
                line(format!("    {k}: {v}"));
            }
        }
        None => line("  profile: none".into()),
    }
    line(format!("  context: {}", doc["inputs"]["context"]));
    line(format!("  consents: {}", doc["inputs"]["consents"]));
    line(format!(
        "  impressions counted: {}",
        s(&doc["inputs"]["impressions"]["count"])
    ));
    line(format!("  constraints: {}", doc["inputs"]["constraints"]));
    if !doc["inputs"]["hints"].is_null() {
        line(format!("  hints: {}", doc["inputs"]["hints"]));
    }
    if !doc["inputs"]["degraded"].is_null() {
        line(format!("  degraded: {}", s(&doc["inputs"]["degraded"])));
    }

    match doc["segments"].as_array() {
        Some(segments) => {
            line("segments".into());
            for seg in segments {
                let mark = match seg["matched"].as_bool() {
                    Some(true) => "yes",
                    Some(false) => "no ",
                    None => "err",
                };
                line(format!("  {mark} {}", s(&seg["name"])));
            }
        }
        None => line("segments: not evaluated (the decision was not re-run)".into()),
    }

    if let Some(p) = doc["policy"].as_object() {
        line("consent and channel policy".into());
        line(format!(
            "  channels: {} (allowed: {})",
            s(&p["channels"]),
            s(&p["channel_allowed"])
        ));
        line(format!(
            "  consent purpose: {} (granted: {}, enforced: {})",
            s(&p["consent_purpose"]),
            s(&p["consent_granted"]),
            s(&p["consent_enforced"])
        ));
    }

    match doc["experiment"].as_object() {
        Some(e) => {
            let mut text = format!("experiment {}: variant {}", s(&e["name"]), s(&e["variant"]));
            if let Some(b) = e.get("bucket").filter(|b| !b.is_null()) {
                text.push_str(&format!(" (bucket {b}"));
                if let Some(h) = e.get("holdout_bucket").filter(|h| !h.is_null()) {
                    text.push_str(&format!(", holdout bucket {h}, holdout {} bp", s(&e["holdout_bp"])));
                }
                text.push(')');
            }
            if let Some(l) = e.get("layer").and_then(Json::as_object) {
                let pct = |v: &Json| {
                    let bp = v.as_u64().unwrap_or(0);
                    format!("{}.{:02}%", bp / 100, bp % 100)
                };
                text.push_str(&format!(
                    "; layer {} slice {} to {}, layer bucket {}: {}",
                    s(&l["name"]),
                    pct(&l["from_bp"]),
                    pct(&l["to_bp"]),
                    s(&l["bucket"]),
                    if l["enrolled"] == true {
                        "enrolled"
                    } else {
                        "outside the slice, not enrolled"
                    }
                ));
            }
            line(text);
        }
        None => line("experiment: none".into()),
    }

    line("candidates".into());
    for c in doc["candidates"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let id = match &c["id"] {
            Json::Null => format!("#{}", s(&c["position"])),
            v => s(v),
        };
        let text = match c["outcome"].as_str() {
            Some("removed") => {
                let mut t = format!("  {id}: removed by {}", s(&c["rule"]));
                if let Some(r) = c["reason"].as_str() {
                    t.push_str(&format!(" because \"{r}\""));
                }
                t
            }
            Some("capped") => format!(
                "  {id}: capped ({} cap {} per {} ms, {} impression(s) counted)",
                s(&c["scope"]),
                s(&c["limit"]),
                s(&c["window_ms"]),
                s(&c["seen"])
            ),
            Some("kept") => {
                let rank = match c["rank"].as_u64() {
                    Some(r) => format!("shown at rank {r}"),
                    None => "kept, not shown (over max)".into(),
                };
                let boosts: Vec<String> = c["boosts"]
                    .as_array()
                    .map(|b| b.iter().map(s).collect())
                    .unwrap_or_default();
                let boosts = if boosts.is_empty() {
                    String::new()
                } else {
                    format!(", boosts {}", boosts.join(", "))
                };
                format!("  {id}: {rank}, score {}{boosts}", s(&c["score"]))
            }
            _ => format!("  {id}: {c}"),
        };
        line(text);
    }
    let all = doc["candidates"].as_array().map(Vec::as_slice).unwrap_or_default();
    let count = |outcome: &str| all.iter().filter(|c| c["outcome"] == outcome).count();
    let shown = all.iter().filter(|c| c["rank"].is_u64()).count();
    line(format!(
        "summary: {} candidate(s): {} removed, {} capped, {} kept ({shown} shown)",
        all.len(),
        count("removed"),
        count("capped"),
        count("kept")
    ));
    let caps = doc["caps_applied"].as_array().map(Vec::len).unwrap_or(0);
    line(format!("caps applied: {caps} candidate(s) capped"));
    match doc["fallback"].as_object() {
        Some(f) => line(format!(
            "fallback: {} (reason {})",
            s(&f["content_id"]),
            s(&f["reason"])
        )),
        None => line("fallback: none".into()),
    }
    line(format!("response: {}", doc["response"]));
    let replay = &doc["replay"];
    let mut verdict = format!("re-run: {}", s(&replay["status"]));
    if let Some(r) = replay["reason"].as_str() {
        verdict.push_str(&format!(" ({r})"));
    }
    if !replay["difference"].is_null() {
        verdict.push_str(&format!(": {}", replay["difference"]));
    }
    line(verdict);
    out
}
