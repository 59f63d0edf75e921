//! The data layout compiled code reads: every value is a short, fixed sequence of 8-byte
//! *words*, derived from its type alone.
//!
//! | type | words |
//! | --- | --- |
//! | `Bool` | 1: 0 or 1 (code reads the low byte) |
//! | `Int`, `Duration`, `Timestamp` | 1: the `i64` |
//! | `Float` | 1: the `f64` bits |
//! | enums | 1: the variant index |
//! | `String` | 1: the interned [`Symbol`](crate::jit::intern::Symbol) |
//! | records | 1: the address of the record's block, its fields' words in schema order |
//! | `List<T>`, `Set<T>` | 2: the address of the elements (each `words(T)` long) and their count |
//! | `T?` | 1 + `words(T)`: a presence word (0 or 1), then `T`'s words (zeros when absent) |
//!
//! So a record's field is at a fixed offset, a collection carries its length beside its
//! address, and an optional carries its presence bit: compiled code never computes an address
//! from data except `base + i * stride` with `i < len` of that same collection. Sets keep the
//! interpreter's order (sorted by its total order, deduplicated), so equality and membership
//! agree with it element by element.
//!
//! Loading (an interpreter [`Value`] into words) happens once per catalog for offers and once
//! per request for the profile and context, into an [`Arena`] that owns every block.

use crate::interp::Value;
use crate::ir::{Program, SchemaId, Type};

/// How compiled code holds one word in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Word {
    /// A `Bool` or a presence bit: an `i8` in registers, a 0/1 word in memory.
    Bool,
    /// An `i64`, a symbol, an enum index or an address.
    Int,
    /// An `f64`.
    Float,
}

/// The words of a type, in order.
pub fn flat(ty: &Type) -> Vec<Word> {
    let mut out = Vec::new();
    flat_into(ty, &mut out);
    out
}

fn flat_into(ty: &Type, out: &mut Vec<Word>) {
    match ty {
        Type::Bool => out.push(Word::Bool),
        Type::Float => out.push(Word::Float),
        Type::Int | Type::Duration | Type::Timestamp | Type::Enum(_) | Type::String | Type::Record(_) => {
            out.push(Word::Int)
        }
        Type::Set(_) | Type::List(_) => {
            out.push(Word::Int);
            out.push(Word::Int);
        }
        Type::Optional(inner) => {
            out.push(Word::Bool);
            flat_into(inner, out);
        }
        // A checked program has no error types; callers reject them before asking.
        Type::Error => out.push(Word::Int),
    }
}

/// The number of words of a type.
pub fn words(ty: &Type) -> usize {
    match ty {
        Type::Set(_) | Type::List(_) => 2,
        Type::Optional(inner) => 1 + words(inner),
        _ => 1,
    }
}

/// Field offsets (in words) of every schema of a program.
#[derive(Debug, Clone)]
pub struct Layout {
    offsets: Vec<Vec<u32>>,
    sizes: Vec<u32>,
}

impl Layout {
    pub fn new(program: &Program) -> Layout {
        let mut offsets = Vec::with_capacity(program.schemas.len());
        let mut sizes = Vec::with_capacity(program.schemas.len());
        for schema in &program.schemas {
            let mut at = 0u32;
            let mut o = Vec::with_capacity(schema.fields.len());
            for f in &schema.fields {
                o.push(at);
                at += words(&f.ty) as u32;
            }
            offsets.push(o);
            sizes.push(at);
        }
        Layout { offsets, sizes }
    }

    /// The word offset of field `index` of `schema`.
    pub fn field_offset(&self, schema: SchemaId, index: u32) -> Option<u32> {
        self.offsets.get(schema as usize)?.get(index as usize).copied()
    }

    /// The number of words of a record of `schema`.
    pub fn record_words(&self, schema: SchemaId) -> Option<u32> {
        self.sizes.get(schema as usize).copied()
    }
}

/// The address compiled code gets for a block of zero words; never read.
pub const EMPTY_ADDRESS: u64 = 8;

/// Owner of the blocks values are loaded into or built in. Blocks never move once allocated
/// (each is its own boxed slice), so addresses handed to compiled code stay valid for the
/// arena's lifetime.
#[derive(Debug, Default)]
pub struct Arena {
    blocks: Vec<Box<[u64]>>,
    /// The current bump chunk: index into `blocks` and the next free word.
    bump: Option<(usize, usize)>,
}

const CHUNK_WORDS: usize = 1024;

impl Arena {
    pub fn new() -> Arena {
        Arena::default()
    }

    /// A zeroed block of `n` words, as a mutable slice and its address.
    pub fn alloc(&mut self, n: usize) -> (&mut [u64], u64) {
        if n == 0 {
            return (&mut [], EMPTY_ADDRESS);
        }
        if n > CHUNK_WORDS / 4 {
            self.blocks.push(vec![0u64; n].into_boxed_slice());
            let Some(block) = self.blocks.last_mut() else {
                return (&mut [], EMPTY_ADDRESS);
            };
            let addr = block.as_ptr() as u64;
            return (&mut block[..], addr);
        }
        let (index, next) = match self.bump {
            Some((index, next)) if next + n <= CHUNK_WORDS => (index, next),
            _ => {
                self.blocks.push(vec![0u64; CHUNK_WORDS].into_boxed_slice());
                (self.blocks.len() - 1, 0)
            }
        };
        self.bump = Some((index, next + n));
        let Some(block) = self.blocks.get_mut(index) else {
            return (&mut [], EMPTY_ADDRESS);
        };
        let slice = &mut block[next..next + n];
        let addr = slice.as_ptr() as u64;
        (slice, addr)
    }

    /// Bytes held, for memory accounting.
    pub fn bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.len() * 8).sum()
    }
}

/// A value that does not have the shape of its type (the loader's callers validate data
/// first, so this is a broken invariant).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot lay out a {shape} value as {ty}")]
pub struct LayoutError {
    pub shape: String,
    pub ty: String,
}

/// Converts interpreter values to words.
pub struct Loader<'a> {
    pub program: &'a Program,
    pub layout: &'a Layout,
    /// Interns a string (through the catalog's table or the request's overlay).
    pub strings: &'a mut dyn FnMut(&str) -> u32,
    pub arena: &'a mut Arena,
}

impl Loader<'_> {
    fn mismatch(&self, ty: &Type, v: &Value) -> LayoutError {
        LayoutError {
            shape: format!("{v:?}").chars().take(40).collect(),
            ty: self.program.type_name(ty),
        }
    }

    /// Writes `v` (of type `ty`) into `dst`, which is `words(ty)` long.
    pub fn store(&mut self, ty: &Type, v: &Value, dst: &mut [u64]) -> Result<(), LayoutError> {
        if dst.len() < words(ty) {
            return Err(self.mismatch(ty, v));
        }
        match (ty, v) {
            (Type::Optional(_), Value::Missing) => dst.iter_mut().for_each(|w| *w = 0),
            (Type::Optional(inner), v) => {
                dst[0] = 1;
                self.store(inner, v, &mut dst[1..])?;
            }
            (Type::Bool, Value::Bool(b)) => dst[0] = u64::from(*b),
            (Type::Int, Value::Int(i))
            | (Type::Duration, Value::Duration(i))
            | (Type::Timestamp, Value::Timestamp(i)) => dst[0] = *i as u64,
            (Type::Float, Value::Float(f)) => dst[0] = f.to_bits(),
            (Type::Enum(_), Value::Enum(e)) => dst[0] = u64::from(*e),
            (Type::String, Value::Str(s)) => dst[0] = u64::from((self.strings)(s)),
            (Type::Record(schema), Value::Record(fields)) => {
                dst[0] = self.record(*schema, fields).map_err(|_| self.mismatch(ty, v))?;
            }
            (Type::List(elem) | Type::Set(elem), Value::List(xs) | Value::Set(xs)) => {
                let w = words(elem);
                let mut buf = vec![0u64; w * xs.len()];
                for (x, chunk) in xs.iter().zip(buf.chunks_mut(w.max(1))) {
                    self.store(elem, x, chunk)?;
                }
                let (block, addr) = self.arena.alloc(buf.len());
                block.copy_from_slice(&buf);
                dst[0] = addr;
                dst[1] = xs.len() as u64;
            }
            _ => return Err(self.mismatch(ty, v)),
        }
        Ok(())
    }

    /// A well-formed placeholder record of `schema`: zero numbers, empty strings' symbol 0,
    /// empty collections, absent optionals and placeholder records for record fields. It
    /// stands in for a missing profile, so compiled code that reads one (and has recorded the
    /// error) still only reads well-formed data.
    pub fn placeholder(&mut self, schema: SchemaId) -> u64 {
        self.placeholder_at(schema, 0)
    }

    fn placeholder_at(&mut self, schema: SchemaId, depth: u32) -> u64 {
        let size = self.layout.record_words(schema).unwrap_or(0) as usize;
        let mut buf = vec![0u64; size];
        if let Some(def) = self.program.schemas.get(schema as usize) {
            for (i, f) in def.fields.iter().enumerate() {
                let off = self.layout.field_offset(schema, i as u32).unwrap_or(0) as usize;
                match &f.ty {
                    // Schemas cannot contain themselves except through optionals and
                    // collections, which need no placeholder; the depth bound is a backstop.
                    Type::Record(inner) if depth < 32 => {
                        if let Some(w) = buf.get_mut(off) {
                            *w = self.placeholder_at(*inner, depth + 1);
                        }
                    }
                    Type::List(_) | Type::Set(_) => {
                        if let Some(w) = buf.get_mut(off) {
                            *w = EMPTY_ADDRESS;
                        }
                    }
                    _ => {}
                }
            }
        }
        let (block, addr) = self.arena.alloc(size);
        block.copy_from_slice(&buf);
        addr
    }

    /// Lays out a record of `schema` and returns its address.
    pub fn record(&mut self, schema: SchemaId, fields: &[Value]) -> Result<u64, LayoutError> {
        let def = self.program.schemas.get(schema as usize).ok_or_else(|| LayoutError {
            shape: "record".into(),
            ty: format!("schema {schema}"),
        })?;
        let size = self.layout.record_words(schema).unwrap_or(0) as usize;
        let mut buf = vec![0u64; size];
        self.record_into(schema, fields, &mut buf)?;
        if def.fields.len() != fields.len() {
            return Err(LayoutError {
                shape: format!("record of {} fields", fields.len()),
                ty: def.name.clone(),
            });
        }
        let (block, addr) = self.arena.alloc(size);
        block.copy_from_slice(&buf);
        Ok(addr)
    }

    /// Writes a record's fields into `dst` (`record_words(schema)` long).
    pub fn record_into(&mut self, schema: SchemaId, fields: &[Value], dst: &mut [u64]) -> Result<(), LayoutError> {
        let program = self.program;
        let def = program.schemas.get(schema as usize).ok_or_else(|| LayoutError {
            shape: "record".into(),
            ty: format!("schema {schema}"),
        })?;
        if def.fields.len() != fields.len() {
            return Err(LayoutError {
                shape: format!("record of {} fields", fields.len()),
                ty: def.name.clone(),
            });
        }
        for (i, (f, v)) in def.fields.iter().zip(fields).enumerate() {
            let off = self.layout.field_offset(schema, i as u32).unwrap_or(0) as usize;
            let w = words(&f.ty);
            let Some(slot) = dst.get_mut(off..off + w) else {
                return Err(self.mismatch(&f.ty, v));
            };
            self.store(&f.ty, v, slot)?;
        }
        Ok(())
    }
}
