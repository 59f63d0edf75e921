//! Helpers compiled code calls for the rare or complex operations: string functions,
//! calendar math, `bucket` (SHA-256), experiment assignment, allocation, and equality,
//! ordering and set construction on compound values.
//!
//! Each is an `extern "C"` function whose address is embedded in the code as a constant
//! (`call_indirect`), so no symbol lookup happens. They reuse the interpreter's own definitions
//! (`interp::ops`, `interp::builtins`, `interp::time`, `interp::experiment`) wherever one exists,
//! which is what keeps the two backends in agreement on the hard edge cases.
//!
//! Safety: a helper dereferences the `Ctx` pointer compiled code passes (always the one the
//! Rust caller created for this call) and reads values by the addresses in their words. Those
//! addresses come only from the [`Arena`](crate::jit::layout::Arena)s the loader and these
//! helpers fill, so every read is within a live block of the size the value's type says (see
//! `layout.rs`). Helpers never panic: on data that breaks the layout they record
//! [`ERR_INTERNAL`] and return a harmless value.

use crate::interp::{builtins, experiment, ops, time};
use crate::ir::Type;
use crate::jit::abi::{Ctx, RequestState, ERR_INTERNAL};
use crate::jit::layout::{words, Layout};
use std::cmp::Ordering;

/// The request state behind `ctx`.
///
/// # Safety
/// `ctx` must be the live `Ctx` the Rust caller passed to compiled code, whose `state` is the
/// address of a live `RequestState` not otherwise borrowed during the call.
unsafe fn state<'x>(ctx: *mut Ctx) -> &'x mut RequestState<'x> {
    // SAFETY: the caller guarantees `ctx` and its `state` are live and exclusively ours.
    unsafe { &mut *((*ctx).state as *mut RequestState<'x>) }
}

/// # Safety
/// `ctx` as for [`state`].
unsafe fn fail(ctx: *mut Ctx) {
    // SAFETY: `ctx` is live (caller's contract).
    unsafe {
        if (*ctx).error == 0 {
            (*ctx).error = ERR_INTERNAL;
        }
    }
}

/// The `n` words at `addr`.
///
/// # Safety
/// `addr` must be the address of `n` initialized words inside a live arena block (or `n` is 0).
unsafe fn read<'x>(addr: u64, n: usize) -> &'x [u64] {
    if n == 0 || addr == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees the range is a live, initialized arena block.
    unsafe { std::slice::from_raw_parts(addr as *const u64, n) }
}

/// What helpers need to walk values.
struct Walk<'s, 'a> {
    st: &'s RequestState<'a>,
    layout: &'s Layout,
}

impl Walk<'_, '_> {
    fn record_words(&self, schema: u32) -> usize {
        self.layout.record_words(schema).unwrap_or(0) as usize
    }

    /// The fields of a record block, as (type, words) pairs.
    fn fields<'v>(&self, schema: u32, block: &'v [u64]) -> Vec<(&Type, &'v [u64])> {
        let Some(def) = self.st.program.schemas.get(schema as usize) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(def.fields.len());
        for (i, f) in def.fields.iter().enumerate() {
            let off = self.layout.field_offset(schema, i as u32).unwrap_or(0) as usize;
            if let Some(w) = block.get(off..off + words(&f.ty)) {
                out.push((&f.ty, w));
            }
        }
        out
    }

    /// The elements of a collection value `[addr, len]` of element type `elem`.
    fn elements<'v>(&self, elem: &Type, v: &[u64]) -> Vec<&'v [u64]> {
        let (Some(&addr), Some(&len)) = (v.first(), v.get(1)) else {
            return Vec::new();
        };
        let w = words(elem);
        // SAFETY: a collection's words are the address and count of `len * w` words the
        // loader or a helper wrote into a live arena block.
        let all = unsafe { read(addr, len as usize * w) };
        all.chunks(w.max(1)).collect()
    }

    /// Language equality (the interpreter's `PartialEq` on values).
    fn eq(&self, ty: &Type, a: &[u64], b: &[u64]) -> bool {
        match ty {
            Type::Float => f(a) == f(b),
            Type::Optional(inner) => match (w0(a) != 0, w0(b) != 0) {
                (false, false) => true,
                (true, true) => self.eq(inner, a.get(1..).unwrap_or(&[]), b.get(1..).unwrap_or(&[])),
                _ => false,
            },
            Type::Bool => (w0(a) & 0xff != 0) == (w0(b) & 0xff != 0),
            Type::Record(s) => {
                let n = self.record_words(*s);
                // SAFETY: a record word is the address of a block of the schema's size.
                let (x, y) = unsafe { (read(w0(a), n), read(w0(b), n)) };
                let fx = self.fields(*s, x);
                let fy = self.fields(*s, y);
                fx.len() == fy.len() && fx.iter().zip(&fy).all(|((t, x), (_, y))| self.eq(t, x, y))
            }
            Type::List(e) | Type::Set(e) => {
                let xs = self.elements(e, a);
                let ys = self.elements(e, b);
                xs.len() == ys.len() && xs.iter().zip(&ys).all(|(x, y)| self.eq(e, x, y))
            }
            _ => w0(a) == w0(b),
        }
    }

    /// The interpreter's total order ([`crate::interp::Value::total_cmp`]).
    fn cmp(&self, ty: &Type, a: &[u64], b: &[u64]) -> Ordering {
        match ty {
            Type::Bool => (w0(a) & 0xff != 0).cmp(&(w0(b) & 0xff != 0)),
            Type::Int | Type::Duration | Type::Timestamp => (w0(a) as i64).cmp(&(w0(b) as i64)),
            Type::Float => f(a).total_cmp(&f(b)),
            Type::Enum(_) => w0(a).cmp(&w0(b)),
            Type::String => {
                let s = &self.st.strings;
                s.text(w0(a) as u32).as_bytes().cmp(s.text(w0(b) as u32).as_bytes())
            }
            Type::Optional(inner) => match (w0(a) != 0, w0(b) != 0) {
                (false, false) => Ordering::Equal,
                (false, true) => Ordering::Less,
                (true, false) => Ordering::Greater,
                (true, true) => self.cmp(inner, a.get(1..).unwrap_or(&[]), b.get(1..).unwrap_or(&[])),
            },
            Type::Record(s) => {
                let n = self.record_words(*s);
                // SAFETY: as in `eq`.
                let (x, y) = unsafe { (read(w0(a), n), read(w0(b), n)) };
                let fx = self.fields(*s, x);
                let fy = self.fields(*s, y);
                for ((t, x), (_, y)) in fx.iter().zip(&fy) {
                    match self.cmp(t, x, y) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                fx.len().cmp(&fy.len())
            }
            Type::List(e) | Type::Set(e) => {
                let xs = self.elements(e, a);
                let ys = self.elements(e, b);
                for (x, y) in xs.iter().zip(&ys) {
                    match self.cmp(e, x, y) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                xs.len().cmp(&ys.len())
            }
            Type::Error => Ordering::Equal,
        }
    }
}

fn w0(v: &[u64]) -> u64 {
    v.first().copied().unwrap_or(0)
}

fn f(v: &[u64]) -> f64 {
    f64::from_bits(w0(v))
}

/// Is a set element (or needle) a NaN float, present or not wrapped in an optional.
fn is_nan_element(ty: &Type, v: &[u64]) -> bool {
    match ty {
        Type::Float => f(v).is_nan(),
        Type::Optional(inner) if matches!(**inner, Type::Float) => w0(v) != 0 && f(v.get(1..).unwrap_or(&[])).is_nan(),
        _ => false,
    }
}

/// The interpreter's set-element canonicalization: every NaN is `f64::NAN`, `-0.0` is `0.0`.
fn canonical(ty: &Type, v: &mut [u64]) {
    let slot = match ty {
        Type::Float => v.get_mut(0),
        Type::Optional(inner) if matches!(**inner, Type::Float) && w0(v) != 0 => v.get_mut(1),
        _ => None,
    };
    if let Some(w) = slot {
        let x = f64::from_bits(*w);
        *w = if x.is_nan() {
            f64::NAN.to_bits()
        } else if x == 0.0 {
            0.0f64.to_bits()
        } else {
            x.to_bits()
        };
    }
}

/// # Safety
/// `ctx` as for [`state`]; `layout` must be the bundle's.
unsafe fn walk<'x>(ctx: *mut Ctx) -> Option<(Walk<'x, 'x>, &'x RequestState<'x>)> {
    // SAFETY: caller's contract.
    let st: &RequestState<'x> = unsafe { state(ctx) };
    Some((Walk { st, layout: st.layout }, st))
}

fn type_of<'x>(st: &RequestState<'x>, id: u64) -> Option<&'x Type> {
    st.types.get(id as usize)
}

/// Allocates `n` zeroed words for a value built by compiled code.
pub(crate) extern "C" fn h_alloc(ctx: *mut Ctx, n: u64) -> u64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    st.arena.alloc(n as usize).1
}

/// Sorts and deduplicates `len` elements (of type id `tid`) at `addr` in place, as
/// [`crate::interp::Value::set`] does, and returns the new length.
pub(crate) extern "C" fn h_set_finish(ctx: *mut Ctx, tid: u64, addr: u64, len: u64) -> u64 {
    // SAFETY: `ctx` is the caller's live context.
    let Some((w, st)) = (unsafe { walk(ctx) }) else {
        // SAFETY: as above.
        unsafe { fail(ctx) };
        return 0;
    };
    let Some(elem) = type_of(st, tid) else {
        // SAFETY: as above.
        unsafe { fail(ctx) };
        return 0;
    };
    let n = words(elem);
    // SAFETY: compiled code allocated `len * n` words at `addr` with `h_alloc` and filled them.
    let all = unsafe { read(addr, len as usize * n) };
    let mut items: Vec<Vec<u64>> = all.chunks(n.max(1)).map(|c| c.to_vec()).collect();
    for item in &mut items {
        canonical(elem, item);
    }
    items.sort_by(|a, b| w.cmp(elem, a, b));
    items.dedup_by(|a, b| w.cmp(elem, a, b) == Ordering::Equal);
    let flat: Vec<u64> = items.concat();
    if addr != 0 && !flat.is_empty() {
        // SAFETY: the block at `addr` holds at least `len * n >= flat.len()` words and
        // belongs to this request's arena; nothing else refers to it yet.
        unsafe { std::ptr::copy_nonoverlapping(flat.as_ptr(), addr as *mut u64, flat.len()) };
    }
    items.len() as u64
}

/// Language equality of two values of type id `tid`, given the addresses of their words.
pub(crate) extern "C" fn h_value_eq(ctx: *mut Ctx, tid: u64, a: u64, b: u64) -> u8 {
    // SAFETY: `ctx` is the caller's live context.
    let Some((w, st)) = (unsafe { walk(ctx) }) else {
        return 0;
    };
    let Some(ty) = type_of(st, tid) else { return 0 };
    let n = words(ty);
    // SAFETY: compiled code spilled both values (`n` words each) to its stack.
    let (x, y) = unsafe { (read(a, n), read(b, n)) };
    u8::from(w.eq(ty, x, y))
}

/// `needle in collection` for compound elements (type id `tid`); `set` selects the set rule
/// (the interpreter's binary search by its total order on the canonical needle) or the list
/// rule (language equality).
pub(crate) extern "C" fn h_contains(ctx: *mut Ctx, tid: u64, set: u8, addr: u64, len: u64, needle: u64) -> u8 {
    // SAFETY: `ctx` is the caller's live context.
    let Some((w, st)) = (unsafe { walk(ctx) }) else {
        return 0;
    };
    let Some(elem) = type_of(st, tid) else { return 0 };
    let n = words(elem);
    // SAFETY: the needle was spilled (`n` words); the collection's words carry its length.
    let (all, needle) = unsafe { (read(addr, len as usize * n), read(needle, n)) };
    let items = all.chunks(n.max(1));
    if set != 0 {
        if is_nan_element(elem, needle) {
            return 0;
        }
        let mut canon = needle.to_vec();
        canonical(elem, &mut canon);
        u8::from(items.into_iter().any(|x| w.cmp(elem, x, &canon) == Ordering::Equal))
    } else {
        u8::from(items.into_iter().any(|x| w.eq(elem, x, needle)))
    }
}

/// String order: -1, 0 or 1 (UTF-8 byte order, which is code point order).
pub(crate) extern "C" fn h_str_cmp(ctx: *mut Ctx, a: u64, b: u64) -> i64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    match st
        .strings
        .text(a as u32)
        .as_bytes()
        .cmp(st.strings.text(b as u32).as_bytes())
    {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// A string function of one string returning a string.
fn str_map(ctx: *mut Ctx, a: u64, op: fn(&str) -> String) -> u64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    let out = op(st.strings.text(a as u32));
    u64::from(st.strings.intern(&out))
}

pub(crate) extern "C" fn h_str_lower(ctx: *mut Ctx, a: u64) -> u64 {
    str_map(ctx, a, |s| s.to_lowercase())
}

pub(crate) extern "C" fn h_str_upper(ctx: *mut Ctx, a: u64) -> u64 {
    str_map(ctx, a, |s| s.to_uppercase())
}

pub(crate) extern "C" fn h_str_trim(ctx: *mut Ctx, a: u64) -> u64 {
    str_map(ctx, a, |s| s.trim().to_string())
}

pub(crate) extern "C" fn h_str_concat(ctx: *mut Ctx, a: u64, b: u64) -> u64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    let mut s = String::from(st.strings.text(a as u32));
    s.push_str(st.strings.text(b as u32));
    u64::from(st.strings.intern(&s))
}

/// A predicate on two strings: 0 starts_with, 1 ends_with, 2 contains.
pub(crate) extern "C" fn h_str_test(ctx: *mut Ctx, which: u64, a: u64, b: u64) -> u8 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    let (x, y) = (st.strings.text(a as u32), st.strings.text(b as u32));
    u8::from(match which {
        0 => x.starts_with(y),
        1 => x.ends_with(y),
        _ => x.contains(y),
    })
}

/// `len` of a string: its number of Unicode scalar values.
pub(crate) extern "C" fn h_str_len(ctx: *mut Ctx, a: u64) -> i64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    i64::try_from(st.strings.text(a as u32).chars().count()).unwrap_or(i64::MAX)
}

pub(crate) extern "C" fn h_bucket(ctx: *mut Ctx, salt: u64, key: u64) -> i64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    i64::from(builtins::bucket(
        st.strings.text(salt as u32),
        st.strings.text(key as u32),
    ))
}

/// The subject's assignment in experiment `id`: a variant index, `u32::MAX` for the holdout
/// ([`crate::ir::HOLDOUT_VARIANT`]) or [`crate::ir::NOT_ENROLLED_VARIANT`] outside its layer
/// slice (which no `is` test compares equal to). Memoized per request.
pub(crate) extern "C" fn h_experiment(ctx: *mut Ctx, id: u64) -> i64 {
    // SAFETY: `ctx` is the caller's live context.
    let st = unsafe { state(ctx) };
    if let Some(Some(v)) = st.assignments.get(id as usize) {
        return i64::from(*v);
    }
    let v = match experiment::assign(st.program, id as u32, &st.subject) {
        Ok(experiment::Assignment::Variant(i)) => i,
        Ok(experiment::Assignment::Holdout) => crate::ir::HOLDOUT_VARIANT,
        Ok(experiment::Assignment::NotEnrolled) => crate::ir::NOT_ENROLLED_VARIANT,
        Err(_) => {
            // SAFETY: as above.
            unsafe { fail(ctx) };
            u32::MAX
        }
    };
    if let Some(slot) = st.assignments.get_mut(id as usize) {
        *slot = Some(v);
    }
    i64::from(v)
}

pub(crate) extern "C" fn h_float_min(a: f64, b: f64) -> f64 {
    builtins::float_min(a, b)
}

pub(crate) extern "C" fn h_float_max(a: f64, b: f64) -> f64 {
    builtins::float_max(a, b)
}

pub(crate) extern "C" fn h_round(a: f64) -> i64 {
    builtins::round(a)
}

pub(crate) extern "C" fn h_ln(a: f64) -> f64 {
    a.ln()
}

pub(crate) extern "C" fn h_float_rem(a: f64, b: f64) -> f64 {
    ops::float_rem(a, b)
}

pub(crate) extern "C" fn h_hour_of_day(t: i64) -> i64 {
    time::hour_of_day(t)
}

pub(crate) extern "C" fn h_day_of_week(t: i64) -> i64 {
    time::day_of_week(t)
}
