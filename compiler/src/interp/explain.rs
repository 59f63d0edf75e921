//! Human-readable explanations of decisions and eligibility results, for `tailor explain` and
//! for failing tests: which rule removed each candidate, which cap stopped it, or what it
//! scored, which boosts applied, and what was finally shown.

use crate::interp::decide::{CandidateOutcome, DecisionOutcome, EligibilityReport, FallbackReason};
use crate::interp::time::format_duration;
use crate::interp::value::{format_float, quote};
use std::fmt::Write;

fn reason_text(reason: FallbackReason) -> &'static str {
    match reason {
        FallbackReason::ChannelNotAllowed => "the request's channel is not allowed for this decision",
        FallbackReason::ConsentMissing => "the subject has not given the required consent",
        FallbackReason::Holdout => "the subject is in the experiment's holdout",
        FallbackReason::NothingEligible => "no candidate is left after the rules and caps",
    }
}

/// Left-aligned quoted ids padded to a common width.
fn padded_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let quoted: Vec<String> = ids.map(quote).collect();
    let width = quoted.iter().map(|q| q.chars().count()).max().unwrap_or(0);
    quoted
        .into_iter()
        .map(|q| {
            let pad = width - q.chars().count();
            format!("{q}{}", " ".repeat(pad))
        })
        .collect()
}

fn removed_text(rule: &str, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("removed by {rule}: {r}"),
        None => format!("removed by {rule}"),
    }
}

/// Explains a decision's outcome, one line per candidate, in catalog order.
pub fn explain_decision(outcome: &DecisionOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "decision {} (placement {})",
        outcome.decision,
        quote(&outcome.placement)
    );
    if let (Some(e), Some(v)) = (&outcome.experiment, &outcome.variant) {
        let _ = writeln!(out, "  experiment {e}: variant {v}");
    }
    let early = matches!(
        outcome.fallback.as_ref().map(|f| f.reason),
        Some(FallbackReason::ChannelNotAllowed | FallbackReason::ConsentMissing | FallbackReason::Holdout)
    );
    if early {
        out.push_str("  candidates were not considered\n");
    } else if outcome.trace.is_empty() {
        out.push_str("  the catalog has no candidates\n");
    } else {
        out.push_str("  candidates, in catalog order:\n");
        let ids = padded_ids(outcome.trace.iter().map(|t| &*t.id));
        for (id, trace) in ids.iter().zip(&outcome.trace) {
            let text = match &trace.outcome {
                CandidateOutcome::Kept { score, rank, boosts } => {
                    let mut s = match rank {
                        Some(r) => format!("chosen #{r}, score {}", format_float(*score)),
                        None => format!("eligible, score {}, but not chosen (max reached)", format_float(*score)),
                    };
                    if !boosts.is_empty() {
                        let _ = write!(s, ", boosts: {}", boosts.join(", "));
                    }
                    s
                }
                CandidateOutcome::Removed { rule, reason } => removed_text(rule, reason.as_deref()),
                CandidateOutcome::Capped {
                    scope,
                    limit,
                    window_ms,
                    seen,
                } => format!(
                    "capped by `cap {} {limit} per {}`: seen {seen} time{}",
                    scope.keyword(),
                    format_duration(*window_ms),
                    if *seen == 1 { "" } else { "s" }
                ),
            };
            let _ = writeln!(out, "    {id}  {text}");
        }
    }
    match &outcome.fallback {
        Some(f) => {
            let what = match &f.content_id {
                Some(c) => format!("fallback {}", quote(c)),
                None => "nothing (the decision has no fallback)".into(),
            };
            let _ = writeln!(out, "  result: {what}, because {}", reason_text(f.reason));
        }
        None if outcome.offers.is_empty() => {
            out.push_str("  result: no offers (and no fallback)\n");
        }
        None => {
            let ids: Vec<String> = outcome.offers.iter().map(|o| quote(&o.id)).collect();
            let _ = writeln!(out, "  result: {}", ids.join(", "));
        }
    }
    out
}

/// Explains an eligibility block's verdict on each candidate, in catalog order.
pub fn explain_eligibility(report: &EligibilityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "eligibility {}", report.eligibility);
    if report.candidates.is_empty() {
        out.push_str("  the catalog has no candidates\n");
        return out;
    }
    let ids = padded_ids(report.candidates.iter().map(|c| &*c.id));
    for (id, c) in ids.iter().zip(&report.candidates) {
        let text = match &c.removed_by {
            Some(r) => removed_text(&r.rule, r.reason.as_deref()),
            None => "eligible".into(),
        };
        let _ = writeln!(out, "  {id}  {text}");
    }
    out
}
