//! Runtime values of the interpreter.
//!
//! A [`Value`] carries just enough shape to be evaluated; its [`Type`] lives in the IR. Enums are
//! variant indices, records are fields in schema order, and optionals are not wrapped: a present
//! `T?` is the `T` itself and an absent one is [`Value::Missing`]. Compound values share their
//! contents through `Arc`, so copying a record or a catalog is cheap.
//!
//! Two relations live here and must not be confused:
//!
//! - **Language equality** is `PartialEq` (derived): structural, with IEEE `==` on floats, so a
//!   NaN anywhere inside makes two values unequal, and `0.0 == -0.0`.
//! - **The total order** ([`Value::total_cmp`]) sorts and deduplicates sets. It uses
//!   `f64::total_cmp` on floats. Set elements are canonicalized first (see [`Value::set`]) so
//!   that deduplication by the total order agrees with IEEE equality on every non-NaN float.

use crate::interp::time;
use crate::ir::{Program, Type};
use std::cmp::Ordering;
use std::fmt::Write;
use std::sync::Arc;

/// A value of the language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// Milliseconds.
    Duration(i64),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A variant index of the enum the type names.
    Enum(u32),
    List(Arc<[Value]>),
    /// Sorted by [`Value::total_cmp`], without duplicates; build with [`Value::set`].
    Set(Arc<[Value]>),
    /// Fields in schema order; a missing optional field is [`Value::Missing`].
    Record(Arc<[Value]>),
    /// An absent optional.
    Missing,
}

/// How many elements of a collection [`Value::display`] shows before abbreviating.
const DISPLAY_ELEMENTS: usize = 20;

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// A list value.
    pub fn list(elements: Vec<Value>) -> Value {
        Value::List(Arc::from(elements))
    }

    /// A set value: elements are canonicalized (`-0.0` becomes `0.0`, every NaN becomes the one
    /// quiet NaN `f64::NAN`), sorted by [`Value::total_cmp`] and deduplicated. After this, two
    /// float elements are distinct exactly when they differ under IEEE `==`, except that one NaN
    /// may remain (a NaN is never equal to anything, so it never matches `in`).
    pub fn set(elements: Vec<Value>) -> Value {
        let mut elements: Vec<Value> = elements.into_iter().map(canonical_element).collect();
        elements.sort_by(Value::total_cmp);
        elements.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
        Value::Set(Arc::from(elements))
    }

    /// Is this an absent optional.
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    /// The elements of a list or set.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(xs) | Value::Set(xs) => Some(xs),
            _ => None,
        }
    }

    /// A total order over values of one type: `false < true`, numbers and times numerically,
    /// floats by `f64::total_cmp`, strings by Unicode code points (UTF-8 byte order), enums by
    /// variant index, collections and records lexicographically. Values of different shapes are
    /// ordered by shape (this never happens between values of one type, except `Missing`,
    /// which sorts first).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) | (Duration(a), Duration(b)) | (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Str(a), Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Enum(a), Enum(b)) => a.cmp(b),
            (List(a), List(b)) | (Set(a), Set(b)) | (Record(a), Record(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    match x.total_cmp(y) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                a.len().cmp(&b.len())
            }
            (a, b) => a.shape_rank().cmp(&b.shape_rank()),
        }
    }

    fn shape_rank(&self) -> u8 {
        match self {
            Value::Missing => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Str(_) => 4,
            Value::Duration(_) => 5,
            Value::Timestamp(_) => 6,
            Value::Enum(_) => 7,
            Value::List(_) => 8,
            Value::Set(_) => 9,
            Value::Record(_) => 10,
        }
    }

    /// Is `needle` an element of this list or set, under language equality. For sets this is a
    /// binary search by the total order on the canonicalized needle; for float elements that is
    /// exactly IEEE equality, because sets hold no `-0.0` and a NaN needle is never found (NaN
    /// equals nothing, so NaN is never `in` anything). Lists are scanned with `==`.
    pub fn contains(&self, needle: &Value) -> bool {
        match self {
            Value::Set(xs) => {
                if matches!(needle, Value::Float(f) if f.is_nan()) {
                    return false;
                }
                let needle = canonical_element(needle.clone());
                xs.binary_search_by(|x| x.total_cmp(&needle)).is_ok()
            }
            Value::List(xs) => xs.iter().any(|x| x == needle),
            _ => false,
        }
    }

    /// The value in policy syntax, for messages: strings quoted, enums by variant name
    /// (`Tier.Premium`), records as `Offer { id: "x", … }` with missing fields left out, long
    /// collections abbreviated with `…`. A missing optional shows as `missing`.
    pub fn display(&self, ty: &Type, program: &Program) -> String {
        let mut out = String::new();
        write_value(&mut out, self, ty, program, true);
        out
    }
}

/// Normalizes a set element so the total order deduplicates like IEEE equality.
fn canonical_element(v: Value) -> Value {
    match v {
        Value::Float(f) if f.is_nan() => Value::Float(f64::NAN),
        // `-0.0 == 0.0`, so this turns both zeros into `0.0`.
        Value::Float(f) => Value::Float(if f == 0.0 { 0.0 } else { f }),
        v => v,
    }
}

/// A float in policy syntax: always with a decimal point when finite.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    }
}

/// A string literal in policy syntax.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn short_name(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

fn write_value(out: &mut String, v: &Value, ty: &Type, program: &Program, top: bool) {
    let ty = match (v, ty) {
        (Value::Missing, _) => {
            out.push_str("missing");
            return;
        }
        (_, Type::Optional(inner)) => inner.as_ref(),
        _ => ty,
    };
    match v {
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::Str(s) => out.push_str(&quote(s)),
        Value::Duration(d) => out.push_str(&time::format_duration(*d)),
        Value::Timestamp(t) => {
            out.push('@');
            out.push_str(&time::format_rfc3339(*t));
        }
        Value::Enum(i) => {
            let def = match ty {
                Type::Enum(e) => program.enums.get(*e as usize),
                _ => None,
            };
            match def.and_then(|d| d.variants.get(*i as usize).map(|v| (d, v))) {
                Some((d, variant)) if top => {
                    let _ = write!(out, "{}.{variant}", short_name(&d.name));
                }
                Some((_, variant)) => out.push_str(variant),
                None => {
                    let _ = write!(out, "<variant {i}>");
                }
            }
        }
        Value::List(xs) | Value::Set(xs) => {
            let elem = ty.element().cloned().unwrap_or(Type::Error);
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if i == DISPLAY_ELEMENTS {
                    let _ = write!(out, "… {} more", xs.len() - i);
                    break;
                }
                write_value(out, x, &elem, program, false);
            }
            out.push(']');
        }
        Value::Record(fields) => {
            let schema = match ty {
                Type::Record(s) => program.schemas.get(*s as usize),
                _ => None,
            };
            let Some(schema) = schema else {
                out.push_str("{ … }");
                return;
            };
            let _ = write!(out, "{} {{", short_name(&schema.name));
            let mut first = true;
            for (def, value) in schema.fields.iter().zip(fields.iter()) {
                if value.is_missing() {
                    continue;
                }
                out.push_str(if first { " " } else { ", " });
                first = false;
                let _ = write!(out, "{}: ", def.name);
                write_value(out, value, &def.ty, program, false);
            }
            out.push_str(if first { "}" } else { " }" });
        }
        Value::Missing => out.push_str("missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_sorted_and_deduplicated() {
        let s = Value::set(vec![
            Value::Float(1.0),
            Value::Float(-0.0),
            Value::Float(0.0),
            Value::Float(f64::NAN),
            Value::Float(-f64::NAN),
            Value::Float(-1.0),
        ]);
        let xs = s.elements().unwrap_or(&[]);
        assert_eq!(xs.len(), 4);
        assert_eq!(xs[0], Value::Float(-1.0));
        assert!(s.contains(&Value::Float(-0.0)));
        assert!(s.contains(&Value::Float(1.0)));
        assert!(!s.contains(&Value::Float(f64::NAN)));
        assert!(!s.contains(&Value::Float(2.0)));
        let l = Value::list(vec![Value::Float(f64::NAN), Value::Float(0.0)]);
        assert!(!l.contains(&Value::Float(f64::NAN)));
        assert!(l.contains(&Value::Float(-0.0)));
    }

    #[test]
    fn equality_is_ieee() {
        assert_ne!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_eq!(Value::Float(0.0), Value::Float(-0.0));
        let r = |f| Value::Record(Arc::from(vec![Value::str("a"), Value::Float(f)]));
        assert_eq!(r(1.0), r(1.0));
        assert_ne!(r(f64::NAN), r(f64::NAN));
        assert_eq!(Value::Missing, Value::Missing);
    }

    #[test]
    fn floats_and_strings_display_as_literals() {
        assert_eq!(format_float(1.0), "1.0");
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(format_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(quote("say \"hi\"\n"), r#""say \"hi\"\n""#);
    }
}
