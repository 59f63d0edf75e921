//! Expressions: each IR expression becomes Cranelift values, one per word of its type (see
//! `layout.rs`). Locals are Cranelift variables, so `if let` and quantifier bindings are SSA.
//! Control flow (`and`, `or`, `if`, `if let`, `??`, quantifiers) branches exactly where the
//! interpreter does, so an expression the interpreter does not evaluate is not evaluated here
//! either (which matters for the `profile`-without-a-profile error).

use super::{clif_types, FnKey, Local, ModuleCx, Ret};
use crate::ir::{self, BinaryOp, Callee, ExprKind, Literal, Quantifier, Type};
use crate::jit::abi::{CTX_CONTEXT, CTX_NOW, CTX_NO_PROFILE, CTX_PROFILE, CTX_SEGMENTS, CTX_SUBJECT, ERR_NO_PROFILE};
use crate::jit::layout::{flat, words, Word};
use crate::jit::runtime_helpers as h;
use crate::jit::JitError;
use cranelift_codegen::ir::{
    condcodes::IntCC, types, Block, BlockArg, FuncRef, InstBuilder, MemFlagsData, SigRef, Signature, StackSlotData,
    StackSlotKind, Value,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::Module;
use std::collections::HashMap;

pub(crate) type Vals = Vec<Value>;

use super::ops::is_scalar;
pub(crate) type R<T> = Result<T, JitError>;

/// The state of one function being compiled.
pub(crate) struct Fx<'m, 'p, 'f> {
    pub m: &'m mut ModuleCx<'p>,
    pub b: FunctionBuilder<'f>,
    pub ctx: Value,
    pub frame: Vec<Option<Local>>,
    sigs: HashMap<(Vec<types::Type>, Vec<types::Type>), SigRef>,
    funcrefs: HashMap<FnKey, FuncRef>,
    pub depth: u32,
}

pub(crate) fn mf() -> MemFlagsData {
    MemFlagsData::trusted()
}

pub(crate) fn unsupported(what: impl Into<String>) -> JitError {
    JitError::Unsupported(what.into())
}

pub(crate) fn internal(what: impl Into<String>) -> JitError {
    JitError::Internal(what.into())
}

impl<'m, 'p, 'f> Fx<'m, 'p, 'f> {
    pub fn new(m: &'m mut ModuleCx<'p>, b: FunctionBuilder<'f>, ctx: Value) -> Fx<'m, 'p, 'f> {
        Fx {
            m,
            b,
            ctx,
            frame: Vec::new(),
            sigs: HashMap::new(),
            funcrefs: HashMap::new(),
            depth: 0,
        }
    }

    pub fn finish(mut self) {
        self.b.seal_all_blocks();
        let config = self.m.module.target_config();
        self.b.finalize(config);
    }

    // ---- small builders ------------------------------------------------------------------

    pub fn i64c(&mut self, v: i64) -> Value {
        self.b.ins().iconst(types::I64, v)
    }

    pub fn boolc(&mut self, v: bool) -> Value {
        self.b.ins().iconst(types::I8, i64::from(v))
    }

    pub fn not(&mut self, v: Value) -> Value {
        self.b.ins().bxor_imm_s(v, 1)
    }

    /// A block with parameters of these types.
    pub fn block_with(&mut self, tys: &[types::Type]) -> Block {
        let blk = self.b.create_block();
        for &t in tys {
            self.b.append_block_param(blk, t);
        }
        blk
    }

    pub fn jump(&mut self, to: Block, args: &[Value]) {
        let args: Vec<BlockArg> = args.iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().jump(to, &args);
    }

    pub fn brif(&mut self, c: Value, then: Block, then_args: &[Value], other: Block, other_args: &[Value]) {
        let t: Vec<BlockArg> = then_args.iter().map(|&v| BlockArg::Value(v)).collect();
        let o: Vec<BlockArg> = other_args.iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().brif(c, then, &t, other, &o);
    }

    pub fn params(&self, blk: Block) -> Vals {
        self.b.block_params(blk).to_vec()
    }

    /// Loads a value of `ty` from `addr + 8 * word`.
    pub fn load(&mut self, ty: &Type, addr: Value, word: usize) -> Vals {
        flat(ty)
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                let off = ((word + i) * 8) as i32;
                match w {
                    Word::Bool => self.b.ins().load(types::I8, mf(), addr, off),
                    Word::Int => self.b.ins().load(types::I64, mf(), addr, off),
                    Word::Float => self.b.ins().load(types::F64, mf(), addr, off),
                }
            })
            .collect()
    }

    /// Stores a value's words at `addr + 8 * word` (bools as whole 0/1 words).
    pub fn store(&mut self, vals: &[Value], addr: Value, word: usize) {
        for (i, &v) in vals.iter().enumerate() {
            let off = ((word + i) * 8) as i32;
            let v = if self.b.func.dfg.value_type(v) == types::I8 {
                self.b.ins().uextend(types::I64, v)
            } else {
                v
            };
            self.b.ins().store(mf(), v, addr, off);
        }
    }

    /// A stack slot holding `vals`; returns its address.
    pub fn spill(&mut self, vals: &[Value]) -> Value {
        let size = (vals.len().max(1) * 8) as u32;
        let slot = self
            .b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
        let addr = self.b.ins().stack_addr(types::I64, slot, 0);
        self.store(vals, addr, 0);
        addr
    }

    /// A zeroed-on-demand stack area of `n` words; returns its address.
    pub fn stack_area(&mut self, n: usize) -> Value {
        let size = (n.max(1) * 8) as u32;
        let slot = self
            .b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
        self.b.ins().stack_addr(types::I64, slot, 0)
    }

    /// Calls a Rust helper at `addr`.
    pub fn helper(&mut self, addr: usize, params: &[types::Type], rets: &[types::Type], args: &[Value]) -> Vals {
        let key = (params.to_vec(), rets.to_vec());
        let sig = match self.sigs.get(&key) {
            Some(&s) => s,
            None => {
                let mut sig = Signature::new(self.m.module.isa().default_call_conv());
                sig.params
                    .extend(params.iter().map(|&t| cranelift_codegen::ir::AbiParam::new(t)));
                sig.returns
                    .extend(rets.iter().map(|&t| cranelift_codegen::ir::AbiParam::new(t)));
                let s = self.b.import_signature(sig);
                self.sigs.insert(key, s);
                s
            }
        };
        let callee = self.b.ins().iconst(types::I64, addr as i64);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(call).to_vec()
    }

    /// Calls a helper `fn(ctx, args...) -> ret`.
    pub fn helper_ctx(&mut self, addr: usize, params: &[types::Type], rets: &[types::Type], args: &[Value]) -> Vals {
        let mut p = vec![types::I64];
        p.extend_from_slice(params);
        let mut a = vec![self.ctx];
        a.extend_from_slice(args);
        self.helper(addr, &p, rets, &a)
    }

    pub fn helper1(&mut self, addr: usize, params: &[types::Type], ret: types::Type, args: &[Value]) -> R<Value> {
        self.helper_ctx(addr, params, &[ret], args)
            .first()
            .copied()
            .ok_or_else(|| internal("a helper returned nothing"))
    }

    /// Allocates `n` words in the request arena (`n` a value).
    pub fn alloc(&mut self, n: Value) -> R<Value> {
        self.helper1(h::h_alloc as *const () as usize, &[types::I64], types::I64, &[n])
    }

    /// Calls a compiled function of the module with flat arguments.
    pub fn call(&mut self, key: FnKey, args: &[Value]) -> R<Vals> {
        let fref = match self.funcrefs.get(&key) {
            Some(&f) => f,
            None => {
                let id = self.m.func_id(key)?;
                let f = self.m.module.declare_func_in_func(id, self.b.func);
                self.funcrefs.insert(key, f);
                f
            }
        };
        let (_, ret) = self.m.signature(key)?;
        let mut a = vec![self.ctx];
        a.extend_from_slice(args);
        match ret {
            Ret::Direct => {
                let call = self.b.ins().call(fref, &a);
                Ok(self.b.inst_results(call).to_vec())
            }
            Ret::Out(tys) => {
                let out = self.stack_area(tys.len());
                a.push(out);
                self.b.ins().call(fref, &a);
                Ok(tys
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| self.b.ins().load(t, mf(), out, (i * 8) as i32))
                    .collect())
            }
        }
    }

    // ---- locals ---------------------------------------------------------------------------

    pub fn def_local(&mut self, slot: u32, vals: &[Value]) {
        let slot = slot as usize;
        if self.frame.len() <= slot {
            self.frame.resize(slot + 1, None);
        }
        let tys: Vec<types::Type> = vals.iter().map(|&v| self.b.func.dfg.value_type(v)).collect();
        let reuse = match &self.frame[slot] {
            Some(vars) => vars.len() == tys.len() && vars.iter().zip(&tys).all(|((_, vt), t)| vt == t),
            None => false,
        };
        if !reuse {
            let vars: Local = tys.iter().map(|&t| (self.b.declare_var(t), t)).collect();
            self.frame[slot] = Some(vars);
        }
        if let Some(Some(vars)) = self.frame.get(slot) {
            for ((var, _), &v) in vars.clone().iter().zip(vals) {
                self.b.def_var(*var, v);
            }
        }
    }

    fn use_local(&mut self, slot: u32) -> R<Vals> {
        let vars = self
            .frame
            .get(slot as usize)
            .cloned()
            .flatten()
            .ok_or_else(|| internal(format!("local {slot} read before it is bound")))?;
        Ok(vars.iter().map(|(v, _)| self.b.use_var(*v)).collect())
    }

    /// Runs `f` with a fresh frame whose first slots hold `params` (split by `tys`).
    pub fn with_frame<T>(&mut self, tys: &[Type], args: &[Value], f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let saved = std::mem::take(&mut self.frame);
        let mut at = 0;
        for (i, ty) in tys.iter().enumerate() {
            let n = words(ty);
            let vals = args
                .get(at..at + n)
                .ok_or_else(|| internal("too few arguments for the parameters"))?
                .to_vec();
            self.def_local(i as u32, &vals);
            at += n;
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        self.frame = saved;
        r
    }

    // ---- expressions ----------------------------------------------------------------------

    pub fn literal(&mut self, lit: &Literal) -> Value {
        match lit {
            Literal::Bool(b) => self.boolc(*b),
            Literal::Int(i) | Literal::Duration(i) | Literal::Timestamp(i) => self.i64c(*i),
            Literal::Float(f) => self.b.ins().f64const(*f),
            Literal::String(s) => {
                let sym = self.m.interner.intern(s);
                self.i64c(i64::from(sym))
            }
            Literal::Enum { variant, .. } => self.i64c(i64::from(*variant)),
        }
    }

    /// A bool expression.
    pub fn cond(&mut self, e: &ir::Expr) -> R<Value> {
        self.expr(e)?
            .first()
            .copied()
            .ok_or_else(|| internal("a condition has no value"))
    }

    pub fn one(&mut self, e: &ir::Expr) -> R<Value> {
        self.cond(e)
    }

    pub fn expr(&mut self, e: &ir::Expr) -> R<Vals> {
        match &e.kind {
            ExprKind::Lit(lit) => Ok(vec![self.literal(lit)]),
            ExprKind::Local(slot) => self.use_local(*slot),
            ExprKind::Profile => {
                let missing = self.b.ins().load(types::I64, mf(), self.ctx, CTX_NO_PROFILE);
                let cold = self.b.create_block();
                let cont = self.b.create_block();
                self.brif(missing, cold, &[], cont, &[]);
                self.b.switch_to_block(cold);
                self.b.set_cold_block(cold);
                let code = self.i64c(ERR_NO_PROFILE as i64);
                self.b.ins().store(mf(), code, self.ctx, crate::jit::abi::CTX_ERROR);
                self.jump(cont, &[]);
                self.b.switch_to_block(cont);
                Ok(vec![self.b.ins().load(types::I64, mf(), self.ctx, CTX_PROFILE)])
            }
            ExprKind::Context => Ok(vec![self.b.ins().load(types::I64, mf(), self.ctx, CTX_CONTEXT)]),
            ExprKind::Now => Ok(vec![self.b.ins().load(types::I64, mf(), self.ctx, CTX_NOW)]),
            ExprKind::Field { base, index } => {
                let Type::Record(schema) = base.ty else {
                    return Err(internal("a field of a value that is not a record"));
                };
                let addr = self.one(base)?;
                let off = self
                    .m
                    .layout
                    .field_offset(schema, *index)
                    .ok_or_else(|| internal(format!("no field {index} in schema {schema}")))?;
                let fty = self
                    .m
                    .program
                    .schemas
                    .get(schema as usize)
                    .and_then(|s| s.fields.get(*index as usize))
                    .map(|f| f.ty.clone())
                    .ok_or_else(|| internal("no such field"))?;
                Ok(self.load(&fty, addr, off as usize))
            }
            ExprKind::Segment(id) => self.segment(*id).map(|v| vec![v]),
            ExprKind::Const(id) => self.constant(*id),
            ExprKind::Call { callee, args } => {
                let mut flat_args = Vec::new();
                for a in args {
                    flat_args.extend(self.expr(a)?);
                }
                match callee {
                    Callee::Function(id) => self.call_function(*id, &flat_args),
                    Callee::Table(id) => self.call_table(*id, &flat_args),
                    Callee::Eligibility(id) => self.call_eligibility(*id, &flat_args).map(|v| vec![v]),
                    Callee::Ranking(id) => self.call_ranking(*id, &flat_args).map(|v| vec![v]),
                }
            }
            ExprKind::Builtin { func, args } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.expr(a)?);
                }
                let tys: Vec<&Type> = args.iter().map(|a| &a.ty).collect();
                self.builtin(*func, &tys, &vals, &e.ty)
            }
            ExprKind::Unary { op, operand } => {
                let v = self.expr(operand)?;
                self.unary(*op, &operand.ty, &v).map(|v| vec![v])
            }
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinaryOp::And | BinaryOp::Or => {
                    let a = self.cond(lhs)?;
                    let rhs_blk = self.b.create_block();
                    let done = self.block_with(&[types::I8]);
                    if *op == BinaryOp::And {
                        self.brif(a, rhs_blk, &[], done, &[a]);
                    } else {
                        self.brif(a, done, &[a], rhs_blk, &[]);
                    }
                    self.b.switch_to_block(rhs_blk);
                    let c = self.cond(rhs)?;
                    self.jump(done, &[c]);
                    self.b.switch_to_block(done);
                    Ok(self.params(done))
                }
                // `x in [a, b, …]` with scalar elements: compare against each item instead of
                // building the collection. Every item is still evaluated, as the interpreter
                // does; for scalars, membership in the set or list is IEEE equality with some
                // item (see `Fx::contains`).
                BinaryOp::In if matches!(&rhs.kind, ExprKind::Collection(_)) && is_scalar(&lhs.ty) => {
                    let ExprKind::Collection(items) = &rhs.kind else {
                        return Err(internal("not a collection literal"));
                    };
                    let a = self.expr(lhs)?;
                    let mut vals = Vec::with_capacity(items.len());
                    for item in items {
                        vals.push(self.expr(item)?);
                    }
                    let mut any = self.boolc(false);
                    for v in &vals {
                        let e = self.eq(&lhs.ty, &a, v)?;
                        any = self.b.ins().bor(any, e);
                    }
                    Ok(vec![any])
                }
                op => {
                    let a = self.expr(lhs)?;
                    let b = self.expr(rhs)?;
                    self.binary(*op, &lhs.ty, &rhs.ty, &a, &b).map(|v| vec![v])
                }
            },
            ExprKind::If { cond, then, otherwise } => {
                let c = self.cond(cond)?;
                let t = self.b.create_block();
                let o = self.b.create_block();
                let done = self.block_with(&clif_types(&e.ty));
                self.brif(c, t, &[], o, &[]);
                self.b.switch_to_block(t);
                let tv = self.expr(then)?;
                self.jump(done, &tv);
                self.b.switch_to_block(o);
                let ov = self.expr(otherwise)?;
                self.jump(done, &ov);
                self.b.switch_to_block(done);
                Ok(self.params(done))
            }
            ExprKind::IfLet {
                local,
                value,
                then,
                otherwise,
            } => {
                let v = self.expr(value)?;
                let (present, inner) = v.split_first().ok_or_else(|| internal("`if let` of no value"))?;
                let inner = inner.to_vec();
                let t = self.b.create_block();
                let o = self.b.create_block();
                let done = self.block_with(&clif_types(&e.ty));
                self.brif(*present, t, &[], o, &[]);
                self.b.switch_to_block(t);
                self.def_local(*local, &inner);
                let tv = self.expr(then)?;
                self.jump(done, &tv);
                self.b.switch_to_block(o);
                let ov = self.expr(otherwise)?;
                self.jump(done, &ov);
                self.b.switch_to_block(done);
                Ok(self.params(done))
            }
            ExprKind::Coalesce { value, default } => {
                let v = self.expr(value)?;
                let (present, inner) = v.split_first().ok_or_else(|| internal("`??` of no value"))?;
                let inner = inner.to_vec();
                let o = self.b.create_block();
                let done = self.block_with(&clif_types(&e.ty));
                if inner.len() != clif_types(&e.ty).len() {
                    return Err(internal("`??` value and result shapes differ"));
                }
                self.brif(*present, done, &inner, o, &[]);
                self.b.switch_to_block(o);
                let dv = self.expr(default)?;
                self.jump(done, &dv);
                self.b.switch_to_block(done);
                Ok(self.params(done))
            }
            ExprKind::Quantified {
                quantifier,
                local,
                collection,
                body,
            } => {
                let elem = collection
                    .ty
                    .element()
                    .cloned()
                    .ok_or_else(|| internal("a quantifier over a value that is not a collection"))?;
                let c = self.expr(collection)?;
                let (ptr, len) = match c.as_slice() {
                    [p, l] => (*p, *l),
                    _ => return Err(internal("a collection is not two words")),
                };
                self.quantified(*quantifier, *local, &elem, ptr, len, body)
                    .map(|v| vec![v])
            }
            ExprKind::Collection(items) => {
                let elem =
                    e.ty.element()
                        .cloned()
                        .ok_or_else(|| internal("a collection literal without an element type"))?;
                let w = words(&elem);
                let total = self.i64c((w * items.len()) as i64);
                let addr = self.alloc(total)?;
                for (i, item) in items.iter().enumerate() {
                    let v = self.expr(item)?;
                    self.store(&v, addr, i * w);
                }
                let n = self.i64c(items.len() as i64);
                let len = match e.ty {
                    Type::Set(_) => {
                        let tid = self.m.type_id(&elem);
                        let tid = self.i64c(i64::from(tid));
                        self.helper1(
                            h::h_set_finish as *const () as usize,
                            &[types::I64, types::I64, types::I64],
                            types::I64,
                            &[tid, addr, n],
                        )?
                    }
                    _ => n,
                };
                Ok(vec![addr, len])
            }
            ExprKind::Record { schema, fields } => {
                let def = self
                    .m
                    .program
                    .schemas
                    .get(*schema as usize)
                    .ok_or_else(|| internal("record of an unknown schema"))?;
                let tys: Vec<Type> = def.fields.iter().map(|f| f.ty.clone()).collect();
                let size = self.m.layout.record_words(*schema).unwrap_or(0);
                let n = self.i64c(i64::from(size));
                let addr = self.alloc(n)?;
                for (i, (field, ty)) in fields.iter().zip(&tys).enumerate() {
                    let off = self.m.layout.field_offset(*schema, i as u32).unwrap_or(0) as usize;
                    match field {
                        Some(x) => {
                            let v = self.expr(x)?;
                            self.store(&v, addr, off);
                        }
                        // A missing optional: the arena is zeroed, so the presence word is 0.
                        None if matches!(ty, Type::Optional(_)) => {}
                        None => return Err(internal("a record literal misses a required field")),
                    }
                }
                Ok(vec![addr])
            }
            ExprKind::With { base, updates } => {
                let Type::Record(schema) = base.ty else {
                    return Err(internal("`with` on a value that is not a record"));
                };
                let src = self.one(base)?;
                let size = self.m.layout.record_words(schema).unwrap_or(0) as usize;
                let n = self.i64c(size as i64);
                let addr = self.alloc(n)?;
                for i in 0..size {
                    let w = self.b.ins().load(types::I64, mf(), src, (i * 8) as i32);
                    self.b.ins().store(mf(), w, addr, (i * 8) as i32);
                }
                for (index, update) in updates {
                    let off = self
                        .m
                        .layout
                        .field_offset(schema, *index)
                        .ok_or_else(|| internal("`with` updates an unknown field"))?;
                    let v = self.expr(update)?;
                    self.store(&v, addr, off as usize);
                }
                Ok(vec![addr])
            }
            ExprKind::IntToFloat(x) => {
                let v = self.one(x)?;
                Ok(vec![self.b.ins().fcvt_from_sint(types::F64, v)])
            }
            ExprKind::Some(x) => {
                let mut v = vec![self.boolc(true)];
                v.extend(self.expr(x)?);
                Ok(v)
            }
            ExprKind::ExperimentIs { experiment, variant } => {
                let id = self.i64c(i64::from(*experiment));
                let got = self.helper1(h::h_experiment as *const () as usize, &[types::I64], types::I64, &[id])?;
                Ok(vec![self.b.ins().icmp_imm_s(IntCC::Equal, got, i64::from(*variant))])
            }
            ExprKind::DecisionResult(_) | ExprKind::EligibilityResult(_) => Err(unsupported(
                "decision and eligibility results exist only in `test` blocks, which run on the interpreter",
            )),
            ExprKind::Error => Err(internal("the program has errors")),
        }
    }

    fn quantified(
        &mut self,
        q: Quantifier,
        local: u32,
        elem: &Type,
        ptr: Value,
        len: Value,
        body: &ir::Expr,
    ) -> R<Value> {
        let stride = (words(elem) * 8) as i64;
        let acc_ty = if q == Quantifier::Count { types::I64 } else { types::I8 };
        let header = self.block_with(&[types::I64, acc_ty]);
        let body_blk = self.b.create_block();
        let exit = self.block_with(&[acc_ty]);
        let zero = self.i64c(0);
        let init = match q {
            Quantifier::Any => self.boolc(false),
            Quantifier::All => self.boolc(true),
            Quantifier::Count => self.i64c(0),
        };
        self.jump(header, &[zero, init]);
        self.b.switch_to_block(header);
        let hp = self.params(header);
        let (i, acc) = (hp[0], hp[1]);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, len);
        self.brif(more, body_blk, &[], exit, &[acc]);
        self.b.switch_to_block(body_blk);
        let off = self.b.ins().imul_imm_s(i, stride);
        let at = self.b.ins().iadd(ptr, off);
        let x = self.load(elem, at, 0);
        self.def_local(local, &x);
        let c = self.cond(body)?;
        let next = self.b.ins().iadd_imm_s(i, 1);
        match q {
            Quantifier::Any => {
                let t = self.boolc(true);
                self.brif(c, exit, &[t], header, &[next, acc]);
            }
            Quantifier::All => {
                let f = self.boolc(false);
                self.brif(c, header, &[next, acc], exit, &[f]);
            }
            Quantifier::Count => {
                let inc = self.b.ins().uextend(types::I64, c);
                let n = self.b.ins().iadd(acc, inc);
                self.jump(header, &[next, n]);
            }
        }
        self.b.switch_to_block(exit);
        Ok(self.params(exit)[0])
    }

    /// A segment's value, through the request's memo byte.
    fn segment(&mut self, id: u32) -> R<Value> {
        let segs = self.b.ins().load(types::I64, mf(), self.ctx, CTX_SEGMENTS);
        let memo = self.b.ins().uload8(types::I32, mf(), segs, id as i32);
        let miss = self.b.create_block();
        let hit = self.b.create_block();
        let done = self.block_with(&[types::I8]);
        self.brif(memo, hit, &[], miss, &[]);
        self.b.switch_to_block(hit);
        let v = self.b.ins().icmp_imm_s(IntCC::Equal, memo, 2);
        self.jump(done, &[v]);
        self.b.switch_to_block(miss);
        self.b.set_cold_block(miss);
        // Segments are small and read once per request: inline the body in the (cold) miss
        // branch, unless inlining is already deep.
        let v = if self.depth < super::INLINE_DEPTH {
            let body = self
                .m
                .program
                .segments
                .get(id as usize)
                .map(|d| &d.body)
                .ok_or_else(|| internal("unknown segment"))?;
            self.with_frame(&[], &[], |fx| fx.cond(body))?
        } else {
            let r = self.call(FnKey::Segment(id), &[])?;
            r.first()
                .copied()
                .ok_or_else(|| internal("a segment returned nothing"))?
        };
        let stored = self.b.ins().iadd_imm_s(v, 1);
        self.b.ins().store(mf(), stored, segs, id as i32);
        self.jump(done, &[v]);
        self.b.switch_to_block(done);
        Ok(self.params(done)[0])
    }

    /// A constant's value, from the bundle's constant store.
    fn constant(&mut self, id: u32) -> R<Vals> {
        let ty = self
            .m
            .program
            .consts
            .get(id as usize)
            .map(|c| c.ty.clone())
            .ok_or_else(|| internal("unknown constant"))?;
        let offset = *self
            .m
            .consts
            .offsets
            .get(id as usize)
            .ok_or_else(|| internal("unknown constant"))?;
        let ready_addr = self.m.consts.ready.as_ptr() as i64 + i64::from(id);
        let words_addr = self.m.consts.words.as_ptr() as i64 + (offset * 8) as i64;
        let ready_at = self.i64c(ready_addr);
        let ready = self.b.ins().uload8(types::I32, mf(), ready_at, 0);
        let init = self.b.create_block();
        let done = self.b.create_block();
        self.brif(ready, done, &[], init, &[]);
        self.b.switch_to_block(init);
        self.b.set_cold_block(init);
        self.call(FnKey::Const(id), &[])?;
        self.jump(done, &[]);
        self.b.switch_to_block(done);
        let at = self.i64c(words_addr);
        Ok(self.load(&ty, at, 0))
    }

    /// The value of the constant store cell for `id`, for the constant's own function.
    pub fn const_cell(&mut self, id: u32) -> R<(Value, Value)> {
        let offset = *self
            .m
            .consts
            .offsets
            .get(id as usize)
            .ok_or_else(|| internal("unknown constant"))?;
        let ready_addr = self.m.consts.ready.as_ptr() as i64 + i64::from(id);
        let words_addr = self.m.consts.words.as_ptr() as i64 + (offset * 8) as i64;
        Ok((self.i64c(ready_addr), self.i64c(words_addr)))
    }

    pub fn load_subject(&mut self) -> Value {
        self.b.ins().load(types::I64, mf(), self.ctx, CTX_SUBJECT)
    }

    pub fn load_now(&mut self) -> Value {
        self.b.ins().load(types::I64, mf(), self.ctx, CTX_NOW)
    }
}
