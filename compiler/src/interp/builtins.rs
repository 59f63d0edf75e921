//! The standard library's built-in functions.
//!
//! [`apply`] dispatches a [`Builtin`] on evaluated arguments. The numeric helpers with edge
//! cases the docs pin down (`min`/`max` with NaN and signed zeros, float-to-int conversion,
//! `bucket`) are `pub` so the JIT can call or mirror exactly these definitions.

use crate::interp::eval::{EvalError, Request};
use crate::interp::ops::shape;
use crate::interp::time;
use crate::interp::value::Value;
use crate::ir::Builtin;
use sha2::{Digest, Sha256};

/// `bucket(salt, key)`: the first 4 bytes, big-endian, of SHA-256(salt ++ [0x1F] ++ key).
/// The unit separator keeps `("ab", "c")` and `("a", "bc")` apart.
pub fn bucket(salt: &str, key: &str) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0x1F]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// `min` on floats: NaN if either operand is NaN; `min(-0.0, 0.0)` is `-0.0`.
pub fn float_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a < b {
        a
    } else if b < a {
        b
    } else if a.is_sign_negative() {
        a
    } else {
        b
    }
}

/// `max` on floats: NaN if either operand is NaN; `max(-0.0, 0.0)` is `0.0`.
pub fn float_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a > b {
        a
    } else if b > a {
        b
    } else if a.is_sign_positive() {
        a
    } else {
        b
    }
}

/// A float converted to an integer: NaN is 0, and values beyond the `i64` range (including the
/// infinities) saturate to `i64::MIN` / `i64::MAX`. (This is Rust's `as`, spelled out.)
pub fn float_to_int(f: f64) -> i64 {
    f as i64
}

/// `round`: half away from zero, then [`float_to_int`].
pub fn round(f: f64) -> i64 {
    float_to_int(f.round())
}

fn bad_args(func: Builtin, args: &[Value]) -> EvalError {
    let shapes: Vec<&str> = args.iter().map(shape).collect();
    EvalError::Internal(format!("built-in {func:?} applied to ({})", shapes.join(", ")))
}

fn min_max(func: Builtin, a: &Value, b: &Value) -> Option<Value> {
    let is_min = func == Builtin::Min;
    let pick = |x: i64, y: i64| if is_min { x.min(y) } else { x.max(y) };
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(pick(*x, *y)),
        (Value::Duration(x), Value::Duration(y)) => Value::Duration(pick(*x, *y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Value::Timestamp(pick(*x, *y)),
        (Value::Float(x), Value::Float(y)) => Value::Float(if is_min { float_min(*x, *y) } else { float_max(*x, *y) }),
        _ => return None,
    })
}

fn collection_len(v: &Value) -> Option<usize> {
    match v {
        Value::Str(s) => Some(s.chars().count()),
        Value::List(xs) | Value::Set(xs) => Some(xs.len()),
        _ => None,
    }
}

fn to_int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Applies a built-in function to evaluated arguments. `request` supplies `now()` and the
/// subject id for `days_since` and `subject_id`.
pub fn apply(func: Builtin, args: &[Value], request: &Request<'_>) -> Result<Value, EvalError> {
    use Builtin as B;
    use Value as V;
    let bad = || bad_args(func, args);
    Ok(match (func, args) {
        (B::Lower, [V::Str(s)]) => Value::str(&s.to_lowercase()),
        (B::Upper, [V::Str(s)]) => Value::str(&s.to_uppercase()),
        (B::Trim, [V::Str(s)]) => Value::str(s.trim()),
        (B::StartsWith, [V::Str(s), V::Str(p)]) => V::Bool(s.starts_with(&**p)),
        (B::EndsWith, [V::Str(s), V::Str(p)]) => V::Bool(s.ends_with(&**p)),
        (B::Len, [x]) => V::Int(to_int(collection_len(x).ok_or_else(bad)?)),
        (B::IsEmpty, [x]) => V::Bool(collection_len(x).ok_or_else(bad)? == 0),
        (B::Intersects, [a, b]) => {
            let xs = a.elements().ok_or_else(bad)?;
            if b.elements().is_none() {
                return Err(bad());
            }
            V::Bool(xs.iter().any(|x| b.contains(x)))
        }
        (B::Abs, [V::Int(i)]) => V::Int(i.saturating_abs()),
        (B::Abs, [V::Duration(d)]) => V::Duration(d.saturating_abs()),
        (B::Abs, [V::Float(f)]) => V::Float(f.abs()),
        (B::Min | B::Max, [a, b]) => min_max(func, a, b).ok_or_else(bad)?,
        (B::Clamp, [x, lo, hi]) => {
            let low = min_max(B::Max, x, lo).ok_or_else(bad)?;
            min_max(B::Min, &low, hi).ok_or_else(bad)?
        }
        (B::Round, [V::Float(f)]) => V::Int(round(*f)),
        (B::Floor, [V::Float(f)]) => V::Int(float_to_int(f.floor())),
        (B::Ceil, [V::Float(f)]) => V::Int(float_to_int(f.ceil())),
        // Rounding an integer is the identity; the checker may or may not convert first.
        (B::Round | B::Floor | B::Ceil, [V::Int(i)]) => V::Int(*i),
        (B::ToFloat, [V::Int(i)]) => V::Float(*i as f64),
        (B::ToFloat, [V::Float(f)]) => V::Float(*f),
        (B::Sqrt, [V::Float(f)]) => V::Float(f.sqrt()),
        (B::Ln, [V::Float(f)]) => V::Float(f.ln()),
        (B::Days, [V::Duration(d)]) => V::Int(d / time::MS_PER_DAY),
        (B::Hours, [V::Duration(d)]) => V::Int(d / time::MS_PER_HOUR),
        (B::Minutes, [V::Duration(d)]) => V::Int(d / time::MS_PER_MINUTE),
        (B::DaysSince, [V::Timestamp(t)]) => V::Int(request.now_ms()?.saturating_sub(*t) / time::MS_PER_DAY),
        (B::HourOfDay, [V::Timestamp(t)]) => V::Int(time::hour_of_day(*t)),
        (B::DayOfWeek, [V::Timestamp(t)]) => V::Int(time::day_of_week(*t)),
        (B::Bucket, [V::Str(salt), V::Str(key)]) => V::Int(i64::from(bucket(salt, key))),
        (B::SubjectId, []) => Value::str(request.subject()?),
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_known_values() {
        // Computed independently with Python:
        //   python3 -c "import hashlib; h = hashlib.sha256(b'hero-copy-2026-11' + b'\x1f' + b'u-42').digest(); print(int.from_bytes(h[:4], 'big'))"
        assert_eq!(bucket("hero-copy-2026-11", "u-42"), 3_555_252_721);
        //   python3 -c "import hashlib; h = hashlib.sha256(b'salt' + b'\x1f').digest(); print(int.from_bytes(h[:4], 'big'))"
        assert_eq!(bucket("salt", ""), 3_815_617_159);
    }

    #[test]
    fn float_helpers() {
        assert!(float_min(f64::NAN, 1.0).is_nan());
        assert!(float_max(1.0, f64::NAN).is_nan());
        assert!(float_min(0.0, -0.0).is_sign_negative());
        assert!(float_max(-0.0, 0.0).is_sign_positive());
        assert_eq!(round(2.5), 3);
        assert_eq!(round(-2.5), -3);
        assert_eq!(round(f64::NAN), 0);
        assert_eq!(round(f64::INFINITY), i64::MAX);
        assert_eq!(float_to_int(-1e300), i64::MIN);
    }
}
