//! Operators and built-in functions, with the interpreter's semantics spelled out in machine
//! terms: saturating `Int`/`Duration`/`Timestamp` arithmetic (overflow flags select the bound),
//! integer division and remainder by zero giving 0 (and `MIN / -1 = MAX`, `MIN % -1 = 0`)
//! without ever executing a trapping instruction, IEEE floats with `x / 0.0 = 0.0`, ordered
//! float comparisons (false with a NaN) and `!=` as the negation of `==`. Membership and
//! equality on compound values, float `min`/`max`/`round`/`%`, `ln`, calendar functions,
//! string functions and `bucket` call the helpers, which reuse the interpreter's definitions.

use super::expr::{internal, Fx, Vals, R};
use crate::interp::time;
use crate::ir::{BinaryOp, Builtin, CmpOp, Type, UnaryOp};
use crate::jit::layout::words;
use crate::jit::runtime_helpers as h;
use cranelift_codegen::ir::{
    condcodes::{FloatCC, IntCC},
    types, InstBuilder, Value,
};

/// Types of one word whose equality is a single compare.
pub(crate) fn is_scalar(ty: &Type) -> bool {
    matches!(
        ty,
        Type::Bool | Type::Int | Type::Float | Type::String | Type::Duration | Type::Timestamp | Type::Enum(_)
    )
}

fn int_like(ty: &Type) -> bool {
    matches!(ty, Type::Int | Type::Duration | Type::Timestamp)
}

fn addr(f: *const ()) -> usize {
    f as usize
}

impl Fx<'_, '_, '_> {
    fn first(v: &[Value]) -> R<Value> {
        v.first().copied().ok_or_else(|| internal("an operand has no value"))
    }

    pub fn sat_add(&mut self, a: Value, b: Value) -> Value {
        let (r, of) = self.b.ins().sadd_overflow(a, b);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
        let min = self.i64c(i64::MIN);
        let max = self.i64c(i64::MAX);
        let sat = self.b.ins().select(neg, min, max);
        self.b.ins().select(of, sat, r)
    }

    pub fn sat_sub(&mut self, a: Value, b: Value) -> Value {
        let (r, of) = self.b.ins().ssub_overflow(a, b);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
        let min = self.i64c(i64::MIN);
        let max = self.i64c(i64::MAX);
        let sat = self.b.ins().select(neg, max, min);
        self.b.ins().select(of, sat, r)
    }

    fn sat_mul(&mut self, a: Value, b: Value) -> Value {
        let (r, of) = self.b.ins().smul_overflow(a, b);
        let x = self.b.ins().bxor(a, b);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
        let min = self.i64c(i64::MIN);
        let max = self.i64c(i64::MAX);
        let sat = self.b.ins().select(neg, min, max);
        self.b.ins().select(of, sat, r)
    }

    fn sat_neg(&mut self, a: Value) -> Value {
        let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, a, i64::MIN);
        let n = self.b.ins().ineg(a);
        let max = self.i64c(i64::MAX);
        self.b.ins().select(is_min, max, n)
    }

    fn sat_abs(&mut self, a: Value) -> Value {
        let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, a, i64::MIN);
        let n = self.b.ins().iabs(a);
        let max = self.i64c(i64::MAX);
        self.b.ins().select(is_min, max, n)
    }

    /// `(b == 0 or (a == MIN and b == -1))`, both conditions.
    fn div_guards(&mut self, a: Value, b: Value) -> (Value, Value, Value) {
        let bz = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let amin = self.b.ins().icmp_imm_s(IntCC::Equal, a, i64::MIN);
        let bm1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
        let ovf = self.b.ins().band(amin, bm1);
        let bad = self.b.ins().bor(bz, ovf);
        let one = self.i64c(1);
        let safe = self.b.ins().select(bad, one, b);
        (bz, ovf, safe)
    }

    fn int_div(&mut self, a: Value, b: Value) -> Value {
        let (bz, ovf, safe) = self.div_guards(a, b);
        let q = self.b.ins().sdiv(a, safe);
        let max = self.i64c(i64::MAX);
        let zero = self.i64c(0);
        let q = self.b.ins().select(ovf, max, q);
        self.b.ins().select(bz, zero, q)
    }

    fn int_rem(&mut self, a: Value, b: Value) -> Value {
        // With the divisor replaced by 1 in both special cases, the remainder is already 0.
        let (_, _, safe) = self.div_guards(a, b);
        self.b.ins().srem(a, safe)
    }

    fn float_div(&mut self, a: Value, b: Value) -> Value {
        let zero = self.b.ins().f64const(0.0);
        let bz = self.b.ins().fcmp(FloatCC::Equal, b, zero);
        let q = self.b.ins().fdiv(a, b);
        self.b.ins().select(bz, zero, q)
    }

    pub fn unary(&mut self, op: UnaryOp, ty: &Type, v: &[Value]) -> R<Value> {
        let x = Self::first(v)?;
        Ok(match (op, ty) {
            (UnaryOp::Not, _) => self.not(x),
            (UnaryOp::Neg, Type::Float) => self.b.ins().fneg(x),
            (UnaryOp::Neg, _) => self.sat_neg(x),
            // The presence word of an optional.
            (UnaryOp::Exists, _) => x,
        })
    }

    /// Language equality of two values of `ty`.
    pub fn eq(&mut self, ty: &Type, a: &[Value], b: &[Value]) -> R<Value> {
        match ty {
            Type::Float => Ok(self.b.ins().fcmp(FloatCC::Equal, Self::first(a)?, Self::first(b)?)),
            t if is_scalar(t) => Ok(self.b.ins().icmp(IntCC::Equal, Self::first(a)?, Self::first(b)?)),
            Type::Optional(inner) if is_scalar(inner) => {
                let (pa, pb) = (Self::first(a)?, Self::first(b)?);
                let same = self.b.ins().icmp(IntCC::Equal, pa, pb);
                // Absent optionals hold zero words, so comparing them is harmless.
                let ie = self.eq(inner, a.get(1..).unwrap_or(&[]), b.get(1..).unwrap_or(&[]))?;
                let absent = self.not(pa);
                let either = self.b.ins().bor(absent, ie);
                Ok(self.b.ins().band(same, either))
            }
            _ => {
                let tid = self.m.type_id(ty);
                let tid = self.i64c(i64::from(tid));
                let pa = self.spill(a);
                let pb = self.spill(b);
                self.helper1(
                    addr(h::h_value_eq as *const ()),
                    &[types::I64, types::I64, types::I64],
                    types::I8,
                    &[tid, pa, pb],
                )
            }
        }
    }

    /// An ordering comparison (`<`, `<=`, `>`, `>=`) or equality of two scalars of `ty`.
    pub fn compare(&mut self, op: CmpOp, ty: &Type, a: &[Value], b: &[Value]) -> R<Value> {
        match op {
            CmpOp::Eq => return self.eq(ty, a, b),
            CmpOp::Ne => {
                let e = self.eq(ty, a, b)?;
                return Ok(self.not(e));
            }
            _ => {}
        }
        let (x, y) = (Self::first(a)?, Self::first(b)?);
        Ok(match ty {
            Type::Float => {
                let cc = match op {
                    CmpOp::Lt => FloatCC::LessThan,
                    CmpOp::Le => FloatCC::LessThanOrEqual,
                    CmpOp::Gt => FloatCC::GreaterThan,
                    _ => FloatCC::GreaterThanOrEqual,
                };
                self.b.ins().fcmp(cc, x, y)
            }
            t if int_like(t) => self.b.ins().icmp(int_cc(op), x, y),
            Type::String => {
                let c = self.helper1(
                    addr(h::h_str_cmp as *const ()),
                    &[types::I64, types::I64],
                    types::I64,
                    &[x, y],
                )?;
                self.b.ins().icmp_imm_s(int_cc(op), c, 0)
            }
            t => return Err(internal(format!("ordering on {t:?}"))),
        })
    }

    /// `needle in collection` (the collection's words are `ptr`, `len`).
    pub fn contains(&mut self, set: bool, elem: &Type, needle: &[Value], ptr: Value, len: Value) -> R<Value> {
        if !is_scalar(elem) {
            let tid = self.m.type_id(elem);
            let tid = self.i64c(i64::from(tid));
            let is_set = self.boolc(set);
            let n = self.spill(needle);
            return self.helper1(
                addr(h::h_contains as *const ()),
                &[types::I64, types::I8, types::I64, types::I64, types::I64],
                types::I8,
                &[tid, is_set, ptr, len, n],
            );
        }
        // Scalars: for sets, the interpreter's search by total order on the canonical needle
        // finds exactly the IEEE-equal element (sets hold no -0.0; NaN is never found), so a
        // scan with language equality gives the same answer for both sets and lists.
        let stride = (words(elem) * 8) as i64;
        let header = self.block_with(&[types::I64]);
        let body = self.b.create_block();
        let exit = self.block_with(&[types::I8]);
        let zero = self.i64c(0);
        self.jump(header, &[zero]);
        self.b.switch_to_block(header);
        let i = self.params(header)[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, len);
        let no = self.boolc(false);
        self.brif(more, body, &[], exit, &[no]);
        self.b.switch_to_block(body);
        let off = self.b.ins().imul_imm_s(i, stride);
        let at = self.b.ins().iadd(ptr, off);
        let x = self.load(elem, at, 0);
        let e = self.eq(elem, &x, needle)?;
        let next = self.b.ins().iadd_imm_s(i, 1);
        let yes = self.boolc(true);
        self.brif(e, exit, &[yes], header, &[next]);
        self.b.switch_to_block(exit);
        Ok(self.params(exit)[0])
    }

    pub fn binary(&mut self, op: BinaryOp, lt: &Type, rt: &Type, a: &[Value], b: &[Value]) -> R<Value> {
        use Type as T;
        let cmp = |op| Some(op);
        let as_cmp = match op {
            BinaryOp::Eq => cmp(CmpOp::Eq),
            BinaryOp::Ne => cmp(CmpOp::Ne),
            BinaryOp::Lt => cmp(CmpOp::Lt),
            BinaryOp::Le => cmp(CmpOp::Le),
            BinaryOp::Gt => cmp(CmpOp::Gt),
            BinaryOp::Ge => cmp(CmpOp::Ge),
            _ => None,
        };
        if let Some(c) = as_cmp {
            return self.compare(c, lt, a, b);
        }
        if op == BinaryOp::In {
            let (set, elem) = match rt {
                T::Set(e) => (true, e.as_ref().clone()),
                T::List(e) => (false, e.as_ref().clone()),
                t => return Err(internal(format!("`in` on {t:?}"))),
            };
            let (ptr, len) = match b {
                [p, l] => (*p, *l),
                _ => return Err(internal("a collection is not two words")),
            };
            return self.contains(set, &elem, a, ptr, len);
        }
        let (x, y) = (Self::first(a)?, Self::first(b)?);
        Ok(match (op, lt, rt) {
            (BinaryOp::StrContains, T::String, T::String) => {
                let which = self.i64c(2);
                self.helper1(
                    addr(h::h_str_test as *const ()),
                    &[types::I64, types::I64, types::I64],
                    types::I8,
                    &[which, x, y],
                )?
            }
            (BinaryOp::Add, T::Float, T::Float) => self.b.ins().fadd(x, y),
            (BinaryOp::Add, T::String, T::String) => self.helper1(
                addr(h::h_str_concat as *const ()),
                &[types::I64, types::I64],
                types::I64,
                &[x, y],
            )?,
            (BinaryOp::Add, l, r) if int_like(l) && int_like(r) => self.sat_add(x, y),
            (BinaryOp::Sub, T::Float, T::Float) => self.b.ins().fsub(x, y),
            (BinaryOp::Sub, l, r) if int_like(l) && int_like(r) => self.sat_sub(x, y),
            (BinaryOp::Mul, T::Float, T::Float) => self.b.ins().fmul(x, y),
            (BinaryOp::Mul, l, r) if int_like(l) && int_like(r) => self.sat_mul(x, y),
            (BinaryOp::Div, T::Float, T::Float) => self.float_div(x, y),
            (BinaryOp::Div, l, r) if int_like(l) && int_like(r) => self.int_div(x, y),
            (BinaryOp::Rem, T::Float, T::Float) => self
                .helper(
                    addr(h::h_float_rem as *const ()),
                    &[types::F64, types::F64],
                    &[types::F64],
                    &[x, y],
                )
                .first()
                .copied()
                .ok_or_else(|| internal("fmod returned nothing"))?,
            (BinaryOp::Rem, l, r) if int_like(l) && int_like(r) => self.int_rem(x, y),
            (op, l, r) => return Err(internal(format!("operator {op:?} on {l:?} and {r:?}"))),
        })
    }

    fn min_max(&mut self, is_min: bool, ty: &Type, x: Value, y: Value) -> R<Value> {
        Ok(match ty {
            Type::Float => {
                let f = if is_min {
                    h::h_float_min as *const ()
                } else {
                    h::h_float_max as *const ()
                };
                self.helper(addr(f), &[types::F64, types::F64], &[types::F64], &[x, y])
                    .first()
                    .copied()
                    .ok_or_else(|| internal("min/max returned nothing"))?
            }
            _ if is_min => self.b.ins().smin(x, y),
            _ => self.b.ins().smax(x, y),
        })
    }

    fn pure_helper(&mut self, f: *const (), param: types::Type, ret: types::Type, x: Value) -> R<Value> {
        self.helper(addr(f), &[param], &[ret], &[x])
            .first()
            .copied()
            .ok_or_else(|| internal("a helper returned nothing"))
    }

    pub fn builtin(&mut self, func: Builtin, tys: &[&Type], vals: &[Vals], _ret: &Type) -> R<Vals> {
        use Builtin as B;
        let arg = |i: usize| -> R<Value> {
            vals.get(i)
                .and_then(|v| v.first().copied())
                .ok_or_else(|| internal(format!("built-in {func:?} misses argument {i}")))
        };
        let ty0 = tys.first().copied().cloned().unwrap_or(Type::Error);
        let i64t = types::I64;
        let one = |v: Value| Ok(vec![v]);
        match func {
            B::Lower | B::Upper | B::Trim => {
                let f = match func {
                    B::Lower => h::h_str_lower as *const (),
                    B::Upper => h::h_str_upper as *const (),
                    _ => h::h_str_trim as *const (),
                };
                let x = arg(0)?;
                one(self.helper1(addr(f), &[i64t], i64t, &[x])?)
            }
            B::StartsWith | B::EndsWith => {
                let which = self.i64c(if func == B::StartsWith { 0 } else { 1 });
                let (x, y) = (arg(0)?, arg(1)?);
                one(self.helper1(
                    addr(h::h_str_test as *const ()),
                    &[i64t, i64t, i64t],
                    types::I8,
                    &[which, x, y],
                )?)
            }
            B::Len | B::IsEmpty => {
                let n = match ty0 {
                    Type::String => {
                        let x = arg(0)?;
                        self.helper1(addr(h::h_str_len as *const ()), &[i64t], i64t, &[x])?
                    }
                    _ => vals
                        .first()
                        .and_then(|v| v.get(1).copied())
                        .ok_or_else(|| internal("len of a value that is not a collection"))?,
                };
                if func == B::Len {
                    one(n)
                } else {
                    one(self.b.ins().icmp_imm_s(IntCC::Equal, n, 0))
                }
            }
            B::Intersects => {
                let (a, b) = match (vals.first(), vals.get(1)) {
                    (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => (a.clone(), b.clone()),
                    _ => return Err(internal("intersects of values that are not collections")),
                };
                let (elem, set) = match tys.get(1) {
                    Some(Type::Set(e)) => (e.as_ref().clone(), true),
                    Some(Type::List(e)) => (e.as_ref().clone(), false),
                    _ => return Err(internal("intersects with a value that is not a collection")),
                };
                let stride = (words(&elem) * 8) as i64;
                let header = self.block_with(&[i64t]);
                let body = self.b.create_block();
                let exit = self.block_with(&[types::I8]);
                let zero = self.i64c(0);
                self.jump(header, &[zero]);
                self.b.switch_to_block(header);
                let i = self.params(header)[0];
                let more = self.b.ins().icmp(IntCC::SignedLessThan, i, a[1]);
                let no = self.boolc(false);
                self.brif(more, body, &[], exit, &[no]);
                self.b.switch_to_block(body);
                let off = self.b.ins().imul_imm_s(i, stride);
                let at = self.b.ins().iadd(a[0], off);
                let x = self.load(&elem, at, 0);
                let found = self.contains(set, &elem, &x, b[0], b[1])?;
                let next = self.b.ins().iadd_imm_s(i, 1);
                let yes = self.boolc(true);
                self.brif(found, exit, &[yes], header, &[next]);
                self.b.switch_to_block(exit);
                one(self.params(exit)[0])
            }
            B::Abs => {
                let x = arg(0)?;
                one(match ty0 {
                    Type::Float => self.b.ins().fabs(x),
                    _ => self.sat_abs(x),
                })
            }
            B::Min | B::Max => {
                let (x, y) = (arg(0)?, arg(1)?);
                one(self.min_max(func == B::Min, &ty0, x, y)?)
            }
            B::Clamp => {
                let (x, lo, hi) = (arg(0)?, arg(1)?, arg(2)?);
                let low = self.min_max(false, &ty0, x, lo)?;
                one(self.min_max(true, &ty0, low, hi)?)
            }
            B::Round | B::Floor | B::Ceil => {
                let x = arg(0)?;
                one(match ty0 {
                    Type::Float => match func {
                        B::Round => self.pure_helper(h::h_round as *const (), types::F64, i64t, x)?,
                        B::Floor => {
                            let f = self.b.ins().floor(x);
                            self.b.ins().fcvt_to_sint_sat(i64t, f)
                        }
                        _ => {
                            let f = self.b.ins().ceil(x);
                            self.b.ins().fcvt_to_sint_sat(i64t, f)
                        }
                    },
                    _ => x,
                })
            }
            B::ToFloat => {
                let x = arg(0)?;
                one(match ty0 {
                    Type::Float => x,
                    _ => self.b.ins().fcvt_from_sint(types::F64, x),
                })
            }
            B::Sqrt => {
                let x = arg(0)?;
                one(self.b.ins().sqrt(x))
            }
            B::Ln => {
                let x = arg(0)?;
                one(self.pure_helper(h::h_ln as *const (), types::F64, types::F64, x)?)
            }
            B::Days | B::Hours | B::Minutes => {
                let unit = match func {
                    B::Days => time::MS_PER_DAY,
                    B::Hours => time::MS_PER_HOUR,
                    _ => time::MS_PER_MINUTE,
                };
                let x = arg(0)?;
                let u = self.i64c(unit);
                one(self.b.ins().sdiv(x, u))
            }
            B::DaysSince => {
                let t = arg(0)?;
                let now = self.load_now();
                let d = self.sat_sub(now, t);
                let u = self.i64c(time::MS_PER_DAY);
                one(self.b.ins().sdiv(d, u))
            }
            B::HourOfDay => {
                let x = arg(0)?;
                one(self.pure_helper(h::h_hour_of_day as *const (), i64t, i64t, x)?)
            }
            B::DayOfWeek => {
                let x = arg(0)?;
                one(self.pure_helper(h::h_day_of_week as *const (), i64t, i64t, x)?)
            }
            B::Bucket => {
                let (x, y) = (arg(0)?, arg(1)?);
                one(self.helper1(addr(h::h_bucket as *const ()), &[i64t, i64t], i64t, &[x, y])?)
            }
            B::SubjectId => one(self.load_subject()),
        }
    }
}

fn int_cc(op: CmpOp) -> IntCC {
    match op {
        CmpOp::Lt => IntCC::SignedLessThan,
        CmpOp::Le => IntCC::SignedLessThanOrEqual,
        CmpOp::Gt => IntCC::SignedGreaterThan,
        CmpOp::Ge => IntCC::SignedGreaterThanOrEqual,
        CmpOp::Eq => IntCC::Equal,
        CmpOp::Ne => IntCC::NotEqual,
    }
}
