//! The calling convention between Rust and compiled code.
//!
//! Every compiled function takes a pointer to a [`Ctx`] first. `Ctx` is `repr(C)` and compiled
//! code reads its fields at the fixed offsets below; everything compiled code needs beyond the
//! data words (interning new strings, allocating records, experiment assignment) it reaches
//! through helpers (`runtime_helpers.rs`) that get the same pointer and find the per-request
//! [`RequestState`] through it.
//!
//! Entry points (all `extern "C"`, all addresses and counts as 64-bit integers):
//!
//! | entry | signature | meaning |
//! | --- | --- | --- |
//! | eligibility batch | `(ctx, base, n, out_rules: *mut i32)` | for `i < n`, the record at `base + i * stride`; `out_rules[i]` is the first failing rule, or -1 |
//! | ranking batch | `(ctx, base, idx: *const u32, m, out_scores: *mut f64, out_boosts: *mut u64)` | for `j < m`, candidate `idx[j]`; score and `boost_words` bitmask words per candidate |
//! | segment | `(ctx) -> i8` | a segment's value |
//! | constant | `(ctx)` | evaluates a constant into the bundle's constant store |
//!
//! Errors do not unwind through compiled code: a helper or a `profile` read without a profile
//! records an error code in [`Ctx::error`] and evaluation continues on well-formed zero data;
//! the Rust caller checks the code after the call and discards the results.

use crate::interp::EvalError;
use crate::ir::{Program, Type};
use crate::jit::intern::Overlay;
use crate::jit::layout::{Arena, Layout};
use std::sync::Arc;

/// Per-call state compiled code reads directly.
#[repr(C)]
#[derive(Debug)]
pub struct Ctx {
    /// Address of the profile record (a zero record when the request has none).
    pub profile: u64,
    /// Address of the `std.Context` record.
    pub context: u64,
    /// `now()`, milliseconds since the epoch.
    pub now: i64,
    /// The subject id's symbol.
    pub subject: u64,
    /// 1 when the request has no profile: reading `profile` then records [`ERR_NO_PROFILE`].
    pub no_profile: u64,
    /// 0, or the first error code recorded.
    pub error: u64,
    /// Address of one byte per segment: 0 not yet evaluated, 1 false, 2 true.
    pub segments: u64,
    /// Address of the [`RequestState`].
    pub state: u64,
}

pub const CTX_PROFILE: i32 = 0;
pub const CTX_CONTEXT: i32 = 8;
pub const CTX_NOW: i32 = 16;
pub const CTX_SUBJECT: i32 = 24;
pub const CTX_NO_PROFILE: i32 = 32;
pub const CTX_ERROR: i32 = 40;
pub const CTX_SEGMENTS: i32 = 48;

/// The program read `profile` and the request has none.
pub const ERR_NO_PROFILE: u64 = 1;
/// A helper met data that breaks the layout's invariants.
pub const ERR_INTERNAL: u64 = 2;
/// A constant read request data while it was evaluated.
pub const ERR_NO_REQUEST: u64 = 3;

/// The error for a recorded code.
pub fn error_of(code: u64) -> EvalError {
    match code {
        ERR_NO_PROFILE => EvalError::NoProfile,
        ERR_NO_REQUEST => EvalError::NoRequest("request data"),
        _ => EvalError::Internal("compiled code met data that does not fit its layout".into()),
    }
}

/// The Rust side of one evaluation, reached by helpers through [`Ctx::state`].
pub struct RequestState<'a> {
    pub program: &'a Program,
    pub layout: &'a Layout,
    /// Types by the ids codegen gave them (helpers that walk values take a type id).
    pub types: &'a [Type],
    pub strings: Overlay<'a>,
    /// Blocks built while evaluating (record and collection literals, table results).
    pub arena: Arena,
    /// Memoized experiment assignments (`u32::MAX` is the holdout).
    pub assignments: Vec<Option<u32>>,
    pub subject: Arc<str>,
}
