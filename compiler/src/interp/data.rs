//! JSON in and out: profiles, contexts and catalogs arrive as JSON and are converted to
//! [`Value`]s by their declared [`Type`]; outcomes go back out the same way.
//!
//! Loading is strict so that a data mistake is reported where it is, not discovered as a
//! surprising decision: unknown record fields are errors, integers must be integers, enum
//! variants must match exactly. Every error names the JSON-pointer path of the offending value
//! (`/offers/3/tier`).
//!
//! Encodings, beyond the obvious ones:
//!
//! | type | JSON in | JSON out |
//! | --- | --- | --- |
//! | `Int` | an integer (or a float with no fractional part, like `5.0`) in the `i64` range | integer |
//! | `Float` | a number; or `"NaN"`, `"inf"`, `"-inf"` | number; those strings for non-finite values |
//! | `Duration` | integer milliseconds, or text like `"15m"`, `"1h30m"`, `"500ms"` | integer milliseconds |
//! | `Timestamp` | RFC 3339 text (a bare date is midnight UTC), or integer milliseconds | RFC 3339 text, UTC |
//! | enums | the variant name | the variant name |
//! | `T?` | `null` or absent (in a record) for missing | the field is left out; `null` elsewhere |

use crate::interp::time;
use crate::interp::value::Value;
use crate::ir::{Program, Type};
use serde_json::Value as Json;
use std::fmt;
use std::sync::Arc;

/// A value that does not fit its declared type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", PathDisplay(path))]
pub struct DataError {
    /// A JSON pointer to the value (`/offers/3/tier`); empty for the top level.
    pub path: String,
    /// What is wrong, and what was expected.
    pub message: String,
}

struct PathDisplay<'a>(&'a str);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("at the top level")
        } else {
            write!(f, "at {}", self.0)
        }
    }
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, Copy)]
enum Step<'j> {
    Key(&'j str),
    Index(usize),
}

/// Builds errors with the current path.
struct Loader<'p, 'j> {
    program: &'p Program,
    path: Vec<Step<'j>>,
}

fn json_kind(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string {}", crate::interp::value::quote(s)),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}

impl<'j> Loader<'_, 'j> {
    fn error(&self, message: impl Into<String>) -> DataError {
        let mut path = String::new();
        for step in &self.path {
            path.push('/');
            match step {
                Step::Key(k) => path.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Step::Index(i) => path.push_str(&i.to_string()),
            }
        }
        DataError {
            path,
            message: message.into(),
        }
    }

    fn expected(&self, what: &str, json: &Json) -> DataError {
        self.error(format!("expected {what}, got {}", json_kind(json)))
    }

    fn load(&mut self, ty: &Type, json: &'j Json) -> Result<Value, DataError> {
        match ty {
            Type::Optional(inner) => match json {
                Json::Null => Ok(Value::Missing),
                json => self.load(inner, json),
            },
            Type::Bool => match json {
                Json::Bool(b) => Ok(Value::Bool(*b)),
                json => Err(self.expected("a Bool (true or false)", json)),
            },
            Type::Int => self.int(json, "an Int").map(Value::Int),
            Type::Float => match json {
                Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => Ok(Value::Float(i as f64)),
                    (_, Some(u), _) => Ok(Value::Float(u as f64)),
                    (_, _, Some(f)) => Ok(Value::Float(f)),
                    _ => Err(self.expected("a Float", json)),
                },
                Json::String(s) => match s.as_str() {
                    "NaN" => Ok(Value::Float(f64::NAN)),
                    "inf" | "Infinity" => Ok(Value::Float(f64::INFINITY)),
                    "-inf" | "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY)),
                    _ => Err(self.expected("a Float", json)),
                },
                json => Err(self.expected("a Float", json)),
            },
            Type::String => match json {
                Json::String(s) => Ok(Value::str(s)),
                json => Err(self.expected("a String", json)),
            },
            Type::Duration => match json {
                Json::String(s) => time::parse_duration(s)
                    .map(Value::Duration)
                    .map_err(|m| self.error(format!("invalid Duration: {m}"))),
                json => self
                    .int(json, "a Duration (milliseconds, or text like \"15m\")")
                    .map(Value::Duration),
            },
            Type::Timestamp => match json {
                Json::String(s) => time::parse_rfc3339(s).map(Value::Timestamp).map_err(|m| {
                    self.error(format!(
                        "invalid Timestamp {}: {m} (expected RFC 3339, like \"2026-11-24T10:30:00Z\")",
                        crate::interp::value::quote(s)
                    ))
                }),
                json => self
                    .int(json, "a Timestamp (RFC 3339 text, or milliseconds since the epoch)")
                    .map(Value::Timestamp),
            },
            Type::Enum(e) => {
                let def = self
                    .program
                    .enums
                    .get(*e as usize)
                    .ok_or_else(|| self.error(format!("the program has no enum {e}")))?;
                let name = self.program.type_name(ty);
                let Json::String(s) = json else {
                    return Err(self.expected(&format!("a {name} variant name"), json));
                };
                match def.variants.iter().position(|v| v == s) {
                    Some(i) => Ok(Value::Enum(i as u32)),
                    None => Err(self.error(format!(
                        "unknown {name} variant {}: expected one of {}",
                        crate::interp::value::quote(s),
                        def.variants.join(", ")
                    ))),
                }
            }
            Type::Set(elem) | Type::List(elem) => {
                let Json::Array(items) = json else {
                    return Err(self.expected(&format!("an array for {}", self.program.type_name(ty)), json));
                };
                let mut values = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(i));
                    let v = self.load(elem, item);
                    self.path.pop();
                    values.push(v?);
                }
                Ok(match ty {
                    Type::Set(_) => Value::set(values),
                    _ => Value::list(values),
                })
            }
            Type::Record(s) => self.record(*s, ty, json),
            Type::Error => Err(self.error("the declared type has errors")),
        }
    }

    fn int(&self, json: &Json, what: &str) -> Result<i64, DataError> {
        let Json::Number(n) = json else {
            return Err(self.expected(what, json));
        };
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        if n.as_u64().is_some() {
            return Err(self.error(format!("{n} is out of range for {what}")));
        }
        match n.as_f64() {
            // `i64::MAX as f64` is 2^63, itself out of range, hence the strict `<`.
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(f as i64),
            Some(f) if f.fract() == 0.0 => Err(self.error(format!("{n} is out of range for {what}"))),
            _ => Err(self.error(format!("expected {what}, got {n}, which is not an integer"))),
        }
    }

    fn record(&mut self, schema: u32, ty: &Type, json: &'j Json) -> Result<Value, DataError> {
        let def = self
            .program
            .schemas
            .get(schema as usize)
            .ok_or_else(|| self.error(format!("the program has no schema {schema}")))?;
        let name = self.program.type_name(ty);
        let Json::Object(map) = json else {
            return Err(self.expected(&format!("an object for a {name}"), json));
        };
        for key in map.keys() {
            if def.field_index(key).is_none() {
                let fields: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(self.error(format!(
                    "unknown field `{key}` in a {name} (its fields are {})",
                    fields.join(", ")
                )));
            }
        }
        let mut values = Vec::with_capacity(def.fields.len());
        for field in &def.fields {
            let value = match map.get_key_value(field.name.as_str()) {
                Some((key, v)) => {
                    self.path.push(Step::Key(key));
                    let r = self.load(&field.ty, v);
                    self.path.pop();
                    r?
                }
                None if matches!(field.ty, Type::Optional(_)) => Value::Missing,
                None => {
                    return Err(self.error(format!(
                        "missing field `{}` of {name} (a {})",
                        field.name,
                        self.program.type_name(&field.ty)
                    )))
                }
            };
            values.push(value);
        }
        Ok(Value::Record(Arc::from(values)))
    }
}

/// Converts JSON to a value of type `ty`. See the module documentation for the encodings.
pub fn value_from_json(program: &Program, ty: &Type, json: &Json) -> Result<Value, DataError> {
    let mut loader = Loader {
        program,
        path: Vec::new(),
    };
    loader.load(ty, json)
}

fn float_to_json(f: f64) -> Json {
    match serde_json::Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".into()),
        None if f > 0.0 => Json::String("inf".into()),
        None => Json::String("-inf".into()),
    }
}

/// Converts a value of type `ty` to JSON; the inverse of [`value_from_json`]. A value that does
/// not have the shape of its type is an error.
pub fn value_to_json(program: &Program, ty: &Type, value: &Value) -> Result<Json, DataError> {
    let mismatch = || DataError {
        path: String::new(),
        message: format!(
            "a {} value does not have type {}",
            crate::interp::ops::shape(value),
            program.type_name(ty)
        ),
    };
    let in_path = |step: String, mut e: DataError| {
        e.path = format!("/{step}{}", e.path);
        e
    };
    Ok(match (ty, value) {
        (Type::Optional(_), Value::Missing) => Json::Null,
        (Type::Optional(inner), v) => return value_to_json(program, inner, v),
        (Type::Bool, Value::Bool(b)) => Json::Bool(*b),
        (Type::Int, Value::Int(i)) | (Type::Duration, Value::Duration(i)) => Json::from(*i),
        (Type::Float, Value::Float(f)) => float_to_json(*f),
        (Type::String, Value::Str(s)) => Json::String(s.to_string()),
        (Type::Timestamp, Value::Timestamp(t)) => Json::String(time::format_rfc3339(*t)),
        (Type::Enum(e), Value::Enum(i)) => {
            let name = program
                .enums
                .get(*e as usize)
                .and_then(|d| d.variants.get(*i as usize))
                .ok_or_else(mismatch)?;
            Json::String(name.clone())
        }
        (Type::Set(elem) | Type::List(elem), Value::Set(xs) | Value::List(xs)) => {
            let mut items = Vec::with_capacity(xs.len());
            for (i, x) in xs.iter().enumerate() {
                items.push(value_to_json(program, elem, x).map_err(|e| in_path(i.to_string(), e))?);
            }
            Json::Array(items)
        }
        (Type::Record(s), Value::Record(fields)) => {
            let def = program.schemas.get(*s as usize).ok_or_else(mismatch)?;
            if def.fields.len() != fields.len() {
                return Err(mismatch());
            }
            let mut map = serde_json::Map::new();
            for (field, v) in def.fields.iter().zip(fields.iter()) {
                if v.is_missing() {
                    continue;
                }
                let j = value_to_json(program, &field.ty, v)
                    .map_err(|e| in_path(field.name.replace('~', "~0").replace('/', "~1"), e))?;
                map.insert(field.name.clone(), j);
            }
            Json::Object(map)
        }
        _ => return Err(mismatch()),
    })
}
