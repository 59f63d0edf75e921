//! Operators: arithmetic, comparisons and the table-cell tests, on [`Value`]s.
//!
//! Every operation is total. The integer rules (saturation, division and remainder by zero
//! giving 0, `MIN / -1 = MAX`, `MIN % -1 = 0`) and the float rules (IEEE 754, except that
//! division and remainder by zero give `0.0`) are spelled out once here, as small `pub`
//! functions, so the JIT can call or mirror exactly these definitions.
//!
//! Operands are dispatched on their runtime shape. The checker makes both operands agree (it
//! inserts `IntToFloat` where it promotes), so a shape mismatch is a checker bug and is reported
//! as [`EvalError::Internal`] rather than guessed at.

use crate::interp::eval::EvalError;
use crate::interp::value::Value;
use crate::ir::{BinaryOp, CellTest, CmpOp, Literal, UnaryOp};
use std::cmp::Ordering;

/// `a / b` on integers (and durations): truncating toward zero, `x / 0 = 0`, `MIN / -1 = MAX`.
pub fn int_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.saturating_div(b)
    }
}

/// `a % b` on integers: the sign of `a`, `x % 0 = 0`, `MIN % -1 = 0`.
pub fn int_rem(a: i64, b: i64) -> i64 {
    // `checked_rem` fails exactly for `b == 0` and `MIN % -1`, whose true value is 0.
    a.checked_rem(b).unwrap_or(0)
}

/// `a / b` on floats: IEEE, except that dividing by `0.0` or `-0.0` gives `0.0`.
pub fn float_div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// `a % b` on floats: C `fmod` (the sign of `a`), except that `x % 0.0` gives `0.0`.
pub fn float_rem(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a % b
    }
}

/// The internal error for operands the checker should not have let through.
fn mismatch(op: impl std::fmt::Debug, operands: &[&Value]) -> EvalError {
    let shapes: Vec<&str> = operands.iter().map(|v| shape(v)).collect();
    EvalError::Internal(format!("operator {op:?} applied to {}", shapes.join(" and ")))
}

/// A short name of a value's shape, for internal error messages.
pub(crate) fn shape(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "Bool",
        Value::Int(_) => "Int",
        Value::Float(_) => "Float",
        Value::Str(_) => "String",
        Value::Duration(_) => "Duration",
        Value::Timestamp(_) => "Timestamp",
        Value::Enum(_) => "an enum",
        Value::List(_) => "a List",
        Value::Set(_) => "a Set",
        Value::Record(_) => "a record",
        Value::Missing => "a missing optional",
    }
}

/// A unary operator.
pub fn unary(op: UnaryOp, v: Value) -> Result<Value, EvalError> {
    Ok(match (op, v) {
        (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
        (UnaryOp::Neg, Value::Int(i)) => Value::Int(i.saturating_neg()),
        (UnaryOp::Neg, Value::Duration(d)) => Value::Duration(d.saturating_neg()),
        (UnaryOp::Neg, Value::Float(f)) => Value::Float(-f),
        (UnaryOp::Exists, v) => Value::Bool(!v.is_missing()),
        (op, v) => return Err(mismatch(op, &[&v])),
    })
}

/// The order of two values for `<`, `<=`, `>`, `>=`: `None` when unordered (a NaN operand).
fn order(op: impl std::fmt::Debug, a: &Value, b: &Value) -> Result<Option<Ordering>, EvalError> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y))
        | (Value::Duration(x), Value::Duration(y))
        | (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        // UTF-8 byte order is Unicode code point order.
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => return Err(mismatch(op, &[a, b])),
    })
}

/// A comparison. `==` is structural language equality (IEEE on floats, so `NaN == NaN` is
/// false and `NaN != NaN` is true); the orderings are false whenever a NaN is involved.
pub fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    Ok(match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => order(op, a, b)? == Some(Ordering::Less),
        CmpOp::Le => matches!(order(op, a, b)?, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(op, a, b)? == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(op, a, b)?, Some(Ordering::Greater | Ordering::Equal)),
    })
}

/// A binary operator other than the short-circuit `and` / `or` (which the evaluator handles;
/// given here on two evaluated operands they are plain logic).
pub fn binary(op: BinaryOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use Value::*;
    let cmp = |c: CmpOp| compare(c, &a, &b).map(Bool);
    Ok(match op {
        BinaryOp::And | BinaryOp::Or => match (&a, &b) {
            (Bool(x), Bool(y)) => Bool(if op == BinaryOp::And { *x && *y } else { *x || *y }),
            _ => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::Eq => return cmp(CmpOp::Eq),
        BinaryOp::Ne => return cmp(CmpOp::Ne),
        BinaryOp::Lt => return cmp(CmpOp::Lt),
        BinaryOp::Le => return cmp(CmpOp::Le),
        BinaryOp::Gt => return cmp(CmpOp::Gt),
        BinaryOp::Ge => return cmp(CmpOp::Ge),
        BinaryOp::In => match b.elements() {
            Some(_) => Bool(b.contains(&a)),
            None => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::StrContains => match (&a, &b) {
            (Str(hay), Str(needle)) => Bool(hay.contains(&**needle)),
            _ => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::Add => match (&a, &b) {
            (Int(x), Int(y)) => Int(x.saturating_add(*y)),
            (Float(x), Float(y)) => Float(x + y),
            (Duration(x), Duration(y)) => Duration(x.saturating_add(*y)),
            (Timestamp(t), Duration(d)) | (Duration(d), Timestamp(t)) => Timestamp(t.saturating_add(*d)),
            (Str(x), Str(y)) => {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                Value::str(&s)
            }
            _ => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::Sub => match (&a, &b) {
            (Int(x), Int(y)) => Int(x.saturating_sub(*y)),
            (Float(x), Float(y)) => Float(x - y),
            (Duration(x), Duration(y)) => Duration(x.saturating_sub(*y)),
            (Timestamp(t), Duration(d)) => Timestamp(t.saturating_sub(*d)),
            (Timestamp(x), Timestamp(y)) => Duration(x.saturating_sub(*y)),
            _ => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::Mul => match (&a, &b) {
            (Int(x), Int(y)) => Int(x.saturating_mul(*y)),
            (Float(x), Float(y)) => Float(x * y),
            (Duration(d), Int(n)) | (Int(n), Duration(d)) => Duration(d.saturating_mul(*n)),
            _ => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::Div => match (&a, &b) {
            (Int(x), Int(y)) => Int(int_div(*x, *y)),
            (Float(x), Float(y)) => Float(float_div(*x, *y)),
            (Duration(d), Int(n)) => Duration(int_div(*d, *n)),
            _ => return Err(mismatch(op, &[&a, &b])),
        },
        BinaryOp::Rem => match (&a, &b) {
            (Int(x), Int(y)) => Int(int_rem(*x, *y)),
            (Float(x), Float(y)) => Float(float_rem(*x, *y)),
            (Duration(x), Duration(y)) => Duration(int_rem(*x, *y)),
            _ => return Err(mismatch(op, &[&a, &b])),
        },
    })
}

/// A literal as a value.
pub fn literal(lit: &Literal) -> Value {
    match lit {
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(f) => Value::Float(*f),
        Literal::String(s) => Value::Str(s.clone()),
        Literal::Duration(d) => Value::Duration(*d),
        Literal::Timestamp(t) => Value::Timestamp(*t),
        Literal::Enum { variant, .. } => Value::Enum(*variant),
    }
}

/// Promotes an `Int` to `Float` when the other side is a `Float`, as table cells do.
fn promote_pair(a: &Value, b: Value) -> (Value, Value) {
    match (a, b) {
        (Value::Int(x), b @ Value::Float(_)) => (Value::Float(*x as f64), b),
        (a @ Value::Float(_), Value::Int(y)) => (a.clone(), Value::Float(y as f64)),
        (a, b) => (a.clone(), b),
    }
}

/// Does a table column value match a cell. A missing optional matches only `_`. Cells compare
/// with the same rules as the operators, `Int` and `Float` mixing by converting the `Int`.
pub fn cell_matches(value: &Value, cell: &CellTest) -> Result<bool, EvalError> {
    match cell {
        CellTest::Any => Ok(true),
        _ if value.is_missing() => Ok(false),
        CellTest::Compare(op, lit) => {
            let (a, b) = promote_pair(value, literal(lit));
            compare(*op, &a, &b)
        }
        CellTest::In { negated, values } => {
            let found = values.iter().any(|lit| {
                let (a, b) = promote_pair(value, literal(lit));
                a == b
            });
            Ok(found != *negated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_edges() {
        assert_eq!(int_div(7, 0), 0);
        assert_eq!(int_div(i64::MIN, -1), i64::MAX);
        assert_eq!(int_div(-7, 2), -3);
        assert_eq!(int_rem(-7, 2), -1);
        assert_eq!(int_rem(7, 0), 0);
        assert_eq!(int_rem(i64::MIN, -1), 0);
        let add = binary(BinaryOp::Add, Value::Int(i64::MAX), Value::Int(1));
        assert_eq!(add, Ok(Value::Int(i64::MAX)));
        let mul = binary(BinaryOp::Mul, Value::Int(i64::MIN), Value::Int(2));
        assert_eq!(mul, Ok(Value::Int(i64::MIN)));
        let neg = unary(UnaryOp::Neg, Value::Int(i64::MIN));
        assert_eq!(neg, Ok(Value::Int(i64::MAX)));
    }

    #[test]
    fn float_edges() {
        assert_eq!(float_div(1.0, 0.0), 0.0);
        assert_eq!(float_div(1.0, -0.0), 0.0);
        assert_eq!(float_rem(1.0, 0.0), 0.0);
        assert_eq!(float_rem(-7.5, 2.0), -1.5);
        let nan = Value::Float(f64::NAN);
        for op in [CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
            assert_eq!(compare(op, &nan, &nan), Ok(false), "{op:?}");
            assert_eq!(compare(op, &nan, &Value::Float(1.0)), Ok(false), "{op:?}");
        }
        assert_eq!(compare(CmpOp::Ne, &nan, &nan), Ok(true));
        let inf = binary(BinaryOp::Mul, Value::Float(1e308), Value::Float(10.0));
        assert_eq!(inf, Ok(Value::Float(f64::INFINITY)));
    }

    #[test]
    fn times() {
        let t = binary(BinaryOp::Add, Value::Timestamp(i64::MAX), Value::Duration(5));
        assert_eq!(t, Ok(Value::Timestamp(i64::MAX)));
        let d = binary(BinaryOp::Sub, Value::Timestamp(10), Value::Timestamp(25));
        assert_eq!(d, Ok(Value::Duration(-15)));
        let q = binary(BinaryOp::Div, Value::Duration(10), Value::Int(0));
        assert_eq!(q, Ok(Value::Duration(0)));
        let m = binary(BinaryOp::Mul, Value::Duration(i64::MAX), Value::Int(3));
        assert_eq!(m, Ok(Value::Duration(i64::MAX)));
    }

    #[test]
    fn mismatches_are_internal_errors() {
        let r = binary(BinaryOp::Add, Value::Int(1), Value::Float(1.0));
        assert!(matches!(r, Err(EvalError::Internal(_))));
        let r = compare(CmpOp::Lt, &Value::Enum(0), &Value::Enum(1));
        assert!(matches!(r, Err(EvalError::Internal(_))));
    }

    #[test]
    fn cells() {
        let ge = CellTest::Compare(CmpOp::Ge, Literal::Float(500.0));
        assert_eq!(cell_matches(&Value::Int(500), &ge), Ok(true));
        assert_eq!(cell_matches(&Value::Missing, &ge), Ok(false));
        assert_eq!(cell_matches(&Value::Missing, &CellTest::Any), Ok(true));
        let not_in = CellTest::In {
            negated: true,
            values: vec![Literal::Int(1), Literal::Int(2)],
        };
        assert_eq!(cell_matches(&Value::Int(3), &not_in), Ok(true));
        assert_eq!(cell_matches(&Value::Int(2), &not_in), Ok(false));
        assert_eq!(cell_matches(&Value::Missing, &not_in), Ok(false));
    }
}
