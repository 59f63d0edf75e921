//! The reference interpreter: the definition of what a checked [`Program`](crate::ir::Program)
//! means. The JIT must agree with it bit for bit on every program and input.
//!
//! - [`value`]: runtime [`Value`]s, language equality, the total order sets use, display.
//! - [`ops`]: operators (saturating integers, division by zero is 0, IEEE floats) and table
//!   cells.
//! - [`builtins`]: the standard library's functions, including `bucket`.
//! - [`eval`]: the [`Evaluator`] (per program: constants) and [`Request`] (per request:
//!   segments, assignments) over an [`Env`].
//! - [`experiment`]: variant assignment.
//! - [`decide`]: decisions, with a per-candidate trace; [`explain`] renders it as text.
//! - [`data`]: JSON in and out, by type; [`time`]: RFC 3339 and calendar arithmetic.
//!
//! A typical request:
//!
//! ```text
//! let evaluator = Evaluator::new(&program);            // once per bundle
//! let request = evaluator.request(&env);               // once per request
//! let outcome = decide_in(&request, decision, &catalog, None)?;
//! ```

pub mod builtins;
pub mod data;
pub mod decide;
pub mod eval;
pub mod experiment;
pub mod explain;
pub mod ops;
pub mod time;
pub mod value;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

pub use data::{value_from_json, value_to_json, DataError};
pub use decide::{
    decide, decide_in, decide_traced, decide_with, eligibility_report, eligibility_report_with, CandidateEvaluator,
    CandidateOutcome, CandidateTrace, Chosen, DecisionOutcome, EligibilityReport, EligibilityTrace, Fallback,
    FallbackReason, RemovedBy, TraceLevel, Verdict, Verdicts,
};
pub use eval::{Env, EvalError, Evaluator, Impression, RankScore, Request, TestResults};
pub use experiment::{assign, assign_in, Assignment};
pub use explain::{explain_decision, explain_eligibility};
pub use value::Value;
