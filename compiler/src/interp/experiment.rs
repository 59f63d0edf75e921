//! Experiment assignment: which variant (or the holdout) a subject gets.
//!
//! Assignment is a pure function of the experiment's salt, weights and the subject id, so every
//! server and every replay agrees. A subject's 32-bit bucket ([`bucket`]) is compared with
//! cumulative thresholds: a weight of `bp` hundredths of a percent covers
//! `floor(bp * 2^32 / 10_000)` buckets. The holdout uses its own hash (salt + `"/holdout"`), so
//! changing the holdout share does not reshuffle who gets which variant.
//!
//! An experiment in a layer first checks enrolment, with the layer's own hash
//! (`"layer/" + name`): every experiment of the layer sees the same bucket, and their slices are
//! disjoint (checked: `E0315`), so a subject is enrolled in at most one of them. The layer hash
//! is independent of each experiment's salt, so the variant split inside a slice is as even as
//! without layers.

use crate::interp::builtins::bucket;
use crate::interp::eval::EvalError;
use crate::ir::{ExperimentDef, ExperimentId, Program};
use serde::Serialize;

/// The outcome of assigning a subject to an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Outside the experiment's layer slice: the subject is in no variant and not held out;
    /// decisions using the experiment decide as if they had none.
    NotEnrolled,
    /// Held out of the experiment: decisions using it serve their fallback.
    Holdout,
    /// The index of the assigned variant.
    Variant(u32),
}

impl Assignment {
    /// The variant's name, or `"holdout"`; `None` when not enrolled.
    pub fn variant_name<'a>(&self, experiment: &'a ExperimentDef) -> Option<&'a str> {
        match self {
            Assignment::NotEnrolled => None,
            other => Some(other.name(experiment)),
        }
    }

    /// The variant's name, `"holdout"`, or `"not_enrolled"`.
    pub fn name<'a>(&self, experiment: &'a ExperimentDef) -> &'a str {
        match self {
            Assignment::NotEnrolled => "not_enrolled",
            Assignment::Holdout => "holdout",
            Assignment::Variant(i) => experiment
                .variants
                .get(*i as usize)
                .map(|v| v.name.as_str())
                .unwrap_or("holdout"),
        }
    }
}

/// The number of buckets (out of 2^32) that `bp` hundredths of a percent cover:
/// `floor(bp * 2^32 / 10_000)`. Values above 10,000 are treated as 10,000 (all buckets).
pub fn threshold(bp: u64) -> u64 {
    (bp.min(10_000) << 32) / 10_000
}

/// Whether `subject` falls in the experiment's layer slice (always, without a layer):
/// `threshold(from_bp) <= bucket("layer/" + name, subject) < threshold(to_bp)`.
pub fn enrolled(experiment: &ExperimentDef, subject: &str) -> bool {
    match &experiment.layer {
        None => true,
        Some(slot) => {
            let h = u64::from(bucket(&format!("layer/{}", slot.name), subject));
            threshold(u64::from(slot.from_bp)) <= h && h < threshold(u64::from(slot.to_bp))
        }
    }
}

/// Assigns `subject` in `experiment`. Layer enrolment comes first ([`enrolled`]), then the
/// holdout: when `holdout_bp > 0` and
/// `bucket(salt + "/holdout", subject) < threshold(holdout_bp)` the subject is held out.
/// Otherwise `h = bucket(salt, subject)` and the variant is the first whose cumulative
/// threshold exceeds `h`; the last variant takes whatever rounding leaves. An experiment with no
/// variants (impossible in a checked program) holds everyone out.
pub fn assign_in(experiment: &ExperimentDef, subject: &str) -> Assignment {
    if !enrolled(experiment, subject) {
        return Assignment::NotEnrolled;
    }
    if experiment.holdout_bp > 0 {
        let salt = format!("{}/holdout", experiment.salt);
        if u64::from(bucket(&salt, subject)) < threshold(u64::from(experiment.holdout_bp)) {
            return Assignment::Holdout;
        }
    }
    let Some(last) = experiment.variants.len().checked_sub(1) else {
        return Assignment::Holdout;
    };
    let h = u64::from(bucket(&experiment.salt, subject));
    let mut cumulative: u64 = 0;
    for (i, variant) in experiment.variants.iter().enumerate() {
        cumulative += u64::from(variant.weight_bp);
        if threshold(cumulative) > h {
            return Assignment::Variant(i as u32);
        }
    }
    Assignment::Variant(last as u32)
}

/// Assigns `subject` in the program's experiment `experiment`.
pub fn assign(program: &Program, experiment: ExperimentId, subject: &str) -> Result<Assignment, EvalError> {
    let def = program
        .experiments
        .get(experiment as usize)
        .ok_or_else(|| EvalError::Internal(format!("no experiment {experiment}")))?;
    Ok(assign_in(def, subject))
}
