//! The standard library: the prelude package `std` and the built-in functions.
//!
//! The prelude is ordinary policy source (`stdlib/prelude.policy`), compiled into every bundle.
//! Built-in functions are listed here with their signatures and documentation; the type checker
//! (`types/builtins.rs`) checks calls and the interpreter gives them their meaning.
//! `docs/stdlib.md` is generated from [`FUNCTIONS`] (`tailor stdlib --markdown`).

use crate::ir::Builtin;

/// The prelude's source text.
pub const PRELUDE: &str = include_str!("../../stdlib/prelude.policy");

/// The name the prelude file has in diagnostics and in editors.
pub const PRELUDE_NAME: &str = "<std>/prelude.policy";

/// Documentation for one built-in function.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDoc {
    pub builtin: Builtin,
    pub name: &'static str,
    /// The signature as a user reads it; `T` and `N` are placeholders explained in `doc`.
    pub signature: &'static str,
    pub doc: &'static str,
    pub example: &'static str,
}

/// Every built-in function, grouped by topic.
pub const FUNCTIONS: &[FunctionDoc] = &[
    FunctionDoc { builtin: Builtin::Lower, name: "lower", signature: "lower(s: String) -> String", doc: "`s` in lower case (Unicode).", example: "lower(profile.country) == \"de\"" },
    FunctionDoc { builtin: Builtin::Upper, name: "upper", signature: "upper(s: String) -> String", doc: "`s` in upper case (Unicode).", example: "upper(\"de\") == \"DE\"" },
    FunctionDoc { builtin: Builtin::Trim, name: "trim", signature: "trim(s: String) -> String", doc: "`s` without leading and trailing white space.", example: "trim(\" a \") == \"a\"" },
    FunctionDoc { builtin: Builtin::StartsWith, name: "starts_with", signature: "starts_with(s: String, prefix: String) -> Bool", doc: "Whether `s` begins with `prefix`.", example: "starts_with(context.placement, \"email.\")" },
    FunctionDoc { builtin: Builtin::EndsWith, name: "ends_with", signature: "ends_with(s: String, suffix: String) -> Bool", doc: "Whether `s` ends with `suffix`.", example: "ends_with(profile.email_domain ?? \"\", \".de\")" },
    FunctionDoc { builtin: Builtin::Len, name: "len", signature: "len(x: String | Set<T> | List<T>) -> Int", doc: "The number of characters of a string, or elements of a collection.", example: "len(profile.interests) >= 3" },
    FunctionDoc { builtin: Builtin::IsEmpty, name: "is_empty", signature: "is_empty(x: String | Set<T> | List<T>) -> Bool", doc: "Whether `len(x) == 0`.", example: "is_empty(offer.tags)" },
    FunctionDoc { builtin: Builtin::Intersects, name: "intersects", signature: "intersects(a: Set<T> | List<T>, b: Set<T> | List<T>) -> Bool", doc: "Whether the two collections share an element.", example: "intersects(offer.tags, profile.interests)" },
    FunctionDoc { builtin: Builtin::Abs, name: "abs", signature: "abs(x: N) -> N", doc: "Absolute value of an `Int`, `Float` or `Duration` (saturating: `abs` of the smallest `Int` is the largest).", example: "abs(-3) == 3" },
    FunctionDoc { builtin: Builtin::Min, name: "min", signature: "min(a: T, b: T) -> T", doc: "The smaller of two numbers, durations or timestamps (`Int` and `Float` mix to `Float`; NaN if either is NaN).", example: "min(offer.discount_pct, 30.0)" },
    FunctionDoc { builtin: Builtin::Max, name: "max", signature: "max(a: T, b: T) -> T", doc: "The larger of two numbers, durations or timestamps.", example: "max(profile.orders, 1)" },
    FunctionDoc { builtin: Builtin::Clamp, name: "clamp", signature: "clamp(x: T, lo: T, hi: T) -> T", doc: "`min(max(x, lo), hi)`.", example: "clamp(profile.churn_risk, 0.0, 1.0)" },
    FunctionDoc { builtin: Builtin::Round, name: "round", signature: "round(x: Float) -> Int", doc: "Nearest integer, halves away from zero. NaN gives 0; values beyond the `Int` range saturate.", example: "round(2.5) == 3" },
    FunctionDoc { builtin: Builtin::Floor, name: "floor", signature: "floor(x: Float) -> Int", doc: "Largest integer not above `x` (NaN gives 0; saturates).", example: "floor(2.7) == 2" },
    FunctionDoc { builtin: Builtin::Ceil, name: "ceil", signature: "ceil(x: Float) -> Int", doc: "Smallest integer not below `x` (NaN gives 0; saturates).", example: "ceil(2.1) == 3" },
    FunctionDoc { builtin: Builtin::ToFloat, name: "float", signature: "float(x: Int) -> Float", doc: "`x` as a `Float` (exact up to 2^53).", example: "float(offer.priority) / 10.0" },
    FunctionDoc { builtin: Builtin::Sqrt, name: "sqrt", signature: "sqrt(x: Float) -> Float", doc: "Square root; NaN for negative `x`.", example: "sqrt(profile.lifetime_value)" },
    FunctionDoc { builtin: Builtin::Ln, name: "ln", signature: "ln(x: Float) -> Float", doc: "Natural logarithm; `ln(0.0)` is negative infinity, NaN for negative `x`.", example: "ln(1.0 + offer.margin)" },
    FunctionDoc { builtin: Builtin::Days, name: "days", signature: "days(d: Duration) -> Int", doc: "Whole days in `d`, truncated toward zero.", example: "days(profile.tenure) < 30" },
    FunctionDoc { builtin: Builtin::Hours, name: "hours", signature: "hours(d: Duration) -> Int", doc: "Whole hours in `d`, truncated toward zero.", example: "hours(36h) == 36" },
    FunctionDoc { builtin: Builtin::Minutes, name: "minutes", signature: "minutes(d: Duration) -> Int", doc: "Whole minutes in `d`, truncated toward zero.", example: "minutes(2h) == 120" },
    FunctionDoc { builtin: Builtin::DaysSince, name: "days_since", signature: "days_since(t: Timestamp) -> Int", doc: "Whole days from `t` to `now()`, truncated toward zero (negative when `t` is in the future).", example: "days_since(offer.starts_at) < 7" },
    FunctionDoc { builtin: Builtin::HourOfDay, name: "hour_of_day", signature: "hour_of_day(t: Timestamp) -> Int", doc: "The hour of `t` in UTC, 0 to 23.", example: "hour_of_day(now()) >= 18" },
    FunctionDoc { builtin: Builtin::DayOfWeek, name: "day_of_week", signature: "day_of_week(t: Timestamp) -> Int", doc: "The weekday of `t` in UTC: 1 is Monday, 7 is Sunday.", example: "day_of_week(now()) >= 6" },
    FunctionDoc { builtin: Builtin::Bucket, name: "bucket", signature: "bucket(salt: String, key: String) -> Int", doc: "A keyed hash in `[0, 4294967296)`: the first four bytes, big-endian, of SHA-256 of the salt, a 0x1F byte and the key. The same inputs give the same bucket on every machine, forever; experiments use it.", example: "bucket(\"promo-2026\", subject_id()) % 100 < 10" },
    FunctionDoc { builtin: Builtin::SubjectId, name: "subject_id", signature: "subject_id() -> String", doc: "The id of the subject being decided for.", example: "bucket(\"s\", subject_id()) < 2147483648" },
];

/// Looks a built-in function up by name.
pub fn builtin_by_name(name: &str) -> Option<Builtin> {
    FUNCTIONS.iter().find(|f| f.name == name).map(|f| f.builtin)
}

/// The documentation of a built-in function.
pub fn doc(builtin: Builtin) -> Option<&'static FunctionDoc> {
    FUNCTIONS.iter().find(|f| f.builtin == builtin)
}

/// `docs/stdlib.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# The standard library\n\n<!-- Generated by `tailor stdlib --markdown`; do not edit. -->\n\n\
         Every package sees the prelude package `std` and these functions without an import.\n\n\
         ## Prelude types\n\n```\n",
    );
    out.push_str(PRELUDE.trim());
    out.push_str("\n```\n\n## Functions\n\n`now()` gives the request time as a `Timestamp`.\n\n");
    for f in FUNCTIONS {
        out.push_str(&format!(
            "### `{}`\n\n```\n{}\n```\n\n{}\n\nExample: `{}`\n\n",
            f.name, f.signature, f.doc, f.example
        ));
    }
    out
}
