//! Code generation: the typed IR to Cranelift IR, one JIT module per bundle.
//!
//! - `mod.rs` (this file): the module-level driver. It declares one Cranelift function per
//!   *entry* (an eligibility block's whole-catalog loop, a ranking's loop over survivors, each
//!   constant) and per declaration that is called rather than inlined, compiles them from a
//!   worklist, and finalizes the module.
//! - `expr.rs`: expressions, locals and control flow.
//! - `ops.rs`: operators and built-in functions with the interpreter's exact semantics.
//! - `decls.rs`: the bodies of declarations (rules, boosts, tables, segments, constants) and
//!   calls to them.
//!
//! Small functions, tables, eligibility and ranking blocks are inlined at their call sites
//! (the language has no recursion, so this terminates); larger ones are called. Segments are
//! called through a per-request memo byte, so each is evaluated at most once per request, like
//! the interpreter's memo. Every construct of the IR except the test-only result expressions
//! compiles; those, and anything unexpected, give a [`JitError`] instead of code.

mod decls;
pub(crate) use decls::boost_words;
mod expr;
mod ops;

use crate::ir::{self, Program, Type};
use crate::jit::intern::Interner;
use crate::jit::layout::{flat, words, Layout, Word};
use crate::jit::JitError;
use cranelift_codegen::ir::{types, AbiParam, Function, Signature, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Module};
use std::collections::HashMap;

/// A function of the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FnKey {
    Function(u32),
    Table(u32),
    Segment(u32),
    Const(u32),
    Eligibility(u32),
    Ranking(u32),
    EligBatch(u32),
    RankBatch(u32),
}

/// Where constants live: words at fixed addresses, filled once when the bundle is compiled.
#[derive(Debug)]
pub(crate) struct ConstStore {
    pub words: Box<[u64]>,
    pub ready: Box<[u8]>,
    pub offsets: Vec<usize>,
}

/// The output of code generation.
pub(crate) struct Generated {
    pub module: JITModule,
    pub elig_batch: Vec<usize>,
    pub rank_batch: Vec<usize>,
    pub consts: Vec<usize>,
    pub types: Vec<Type>,
    pub interner: Interner,
    pub const_store: ConstStore,
    pub functions: usize,
}

/// Module-wide codegen state.
pub(crate) struct ModuleCx<'p> {
    pub program: &'p Program,
    pub layout: &'p Layout,
    pub module: JITModule,
    pub interner: Interner,
    pub types: Vec<Type>,
    type_ids: HashMap<Type, u32>,
    funcs: HashMap<FnKey, FuncId>,
    queue: Vec<FnKey>,
    pub consts: ConstStore,
    /// Expression sizes of declarations, for the inlining decision.
    sizes: HashMap<FnKey, usize>,
}

/// Declarations with bodies at most this many IR nodes are inlined at call sites.
const INLINE_NODES: usize = 120;
/// Inlining stops this many calls deep (the rest are calls).
pub(crate) const INLINE_DEPTH: u32 = 6;

fn host_module() -> Result<JITModule, JitError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags
            .set(k, v)
            .map_err(|e| JitError::Internal(format!("cranelift flag {k}: {e}")))
    };
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "opt_level", "none")?;
    set(&mut flags, "unwind_info", "false")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) { "true" } else { "false" },
    )?;
    let isa_builder = cranelift_native::builder().map_err(|m| JitError::Unsupported(format!("this host: {m}")))?;
    let isa = isa_builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| JitError::Internal(format!("cranelift target: {e}")))?;
    if isa.pointer_type() != types::I64 {
        return Err(JitError::Unsupported("hosts whose pointers are not 64-bit".into()));
    }
    Ok(JITModule::new(JITBuilder::with_isa(
        isa,
        cranelift_module::default_libcall_names(),
    )))
}

/// The Cranelift type of a word.
pub(crate) fn clif(w: Word) -> types::Type {
    match w {
        Word::Bool => types::I8,
        Word::Int => types::I64,
        Word::Float => types::F64,
    }
}

/// The Cranelift types of a value of `ty`.
pub(crate) fn clif_types(ty: &Type) -> Vec<types::Type> {
    flat(ty).into_iter().map(clif).collect()
}

/// Counts IR nodes (for inlining).
fn size(e: &ir::Expr) -> usize {
    use ir::ExprKind as K;
    1 + match &e.kind {
        K::Field { base, .. } => size(base),
        K::Call { args, .. } | K::Builtin { args, .. } | K::Collection(args) => args.iter().map(size).sum(),
        K::Unary { operand, .. } => size(operand),
        K::Binary { lhs, rhs, .. } => size(lhs) + size(rhs),
        K::If { cond, then, otherwise } => size(cond) + size(then) + size(otherwise),
        K::IfLet {
            value, then, otherwise, ..
        } => size(value) + size(then) + size(otherwise),
        K::Coalesce { value, default } => size(value) + size(default),
        K::Quantified { collection, body, .. } => size(collection) + size(body),
        K::Record { fields, .. } => fields.iter().flatten().map(size).sum(),
        K::With { base, updates } => size(base) + updates.iter().map(|(_, e)| size(e)).sum::<usize>(),
        K::IntToFloat(x) | K::Some(x) => size(x),
        _ => 0,
    }
}

/// How a function returns its value.
#[derive(Debug, Clone)]
pub(crate) enum Ret {
    /// In registers (one word, or nothing).
    Direct,
    /// Through a pointer passed as the last parameter, this many words.
    Out(Vec<types::Type>),
}

impl<'p> ModuleCx<'p> {
    pub fn new(program: &'p Program, layout: &'p Layout) -> Result<ModuleCx<'p>, JitError> {
        let mut offsets = Vec::with_capacity(program.consts.len());
        let mut total = 0usize;
        for c in &program.consts {
            offsets.push(total);
            total += words(&c.ty);
        }
        Ok(ModuleCx {
            program,
            layout,
            module: host_module()?,
            interner: Interner::new(),
            types: Vec::new(),
            type_ids: HashMap::new(),
            funcs: HashMap::new(),
            queue: Vec::new(),
            consts: ConstStore {
                words: vec![0u64; total.max(1)].into_boxed_slice(),
                ready: vec![0u8; program.consts.len().max(1)].into_boxed_slice(),
                offsets,
            },
            sizes: HashMap::new(),
        })
    }

    /// The id helpers know `ty` by.
    pub fn type_id(&mut self, ty: &Type) -> u32 {
        if let Some(&id) = self.type_ids.get(ty) {
            return id;
        }
        let id = self.types.len() as u32;
        self.types.push(ty.clone());
        self.type_ids.insert(ty.clone(), id);
        id
    }

    /// The IR size of a declaration's body.
    pub fn body_size(&mut self, key: FnKey) -> usize {
        if let Some(&s) = self.sizes.get(&key) {
            return s;
        }
        let p = self.program;
        let s = match key {
            FnKey::Function(id) => p.functions.get(id as usize).map(|d| size(&d.body)),
            FnKey::Table(id) => p.tables.get(id as usize).map(|d| {
                d.columns.iter().map(size).sum::<usize>()
                    + d.rows.iter().map(|r| size(&r.output) + r.cells.len()).sum::<usize>()
                    + d.default.as_ref().map(size).unwrap_or(0)
            }),
            FnKey::Eligibility(id) => p
                .eligibilities
                .get(id as usize)
                .map(|d| d.rules.iter().map(|r| size(&r.cond)).sum()),
            FnKey::Ranking(id) => p
                .rankings
                .get(id as usize)
                .map(|d| size(&d.score) + d.boosts.iter().map(|b| size(&b.cond) + size(&b.factor)).sum::<usize>()),
            _ => None,
        }
        .unwrap_or(usize::MAX);
        self.sizes.insert(key, s);
        s
    }

    pub fn should_inline(&mut self, key: FnKey, depth: u32) -> bool {
        depth < INLINE_DEPTH && self.body_size(key) <= INLINE_NODES
    }

    /// Value parameter types and the return type of a callable declaration.
    pub fn callable_types(&self, key: FnKey) -> Result<(Vec<Type>, Type), JitError> {
        let p = self.program;
        let missing = || JitError::Internal(format!("{key:?} is not in the program"));
        Ok(match key {
            FnKey::Function(id) => {
                let d = p.functions.get(id as usize).ok_or_else(missing)?;
                (d.params.clone(), d.ret.clone())
            }
            FnKey::Table(id) => {
                let d = p.tables.get(id as usize).ok_or_else(missing)?;
                let out = match d.hit {
                    ir::HitPolicy::Collect => Type::List(Box::new(d.output.clone())),
                    _ => d.output.clone(),
                };
                (d.params.clone(), out)
            }
            FnKey::Eligibility(id) => {
                let d = p.eligibilities.get(id as usize).ok_or_else(missing)?;
                (vec![Type::Record(d.schema)], Type::Int)
            }
            FnKey::Ranking(id) => {
                let d = p.rankings.get(id as usize).ok_or_else(missing)?;
                (vec![Type::Record(d.schema)], Type::Float)
            }
            _ => return Err(JitError::Internal(format!("{key:?} is not callable"))),
        })
    }

    /// The Cranelift signature of a function and how it returns.
    pub fn signature(&self, key: FnKey) -> Result<(Signature, Ret), JitError> {
        let mut sig = self.module.make_signature();
        let ptr = types::I64;
        sig.params.push(AbiParam::new(ptr));
        let ret = match key {
            FnKey::Segment(_) => {
                sig.returns.push(AbiParam::new(types::I8));
                Ret::Direct
            }
            FnKey::Const(_) => Ret::Direct,
            FnKey::EligBatch(_) => {
                for _ in 0..3 {
                    sig.params.push(AbiParam::new(ptr));
                }
                Ret::Direct
            }
            FnKey::RankBatch(_) => {
                for _ in 0..5 {
                    sig.params.push(AbiParam::new(ptr));
                }
                Ret::Direct
            }
            FnKey::Ranking(_) => {
                // (ctx, candidate, boosts_out) -> score
                sig.params.push(AbiParam::new(ptr));
                sig.params.push(AbiParam::new(ptr));
                sig.returns.push(AbiParam::new(types::F64));
                Ret::Direct
            }
            FnKey::Eligibility(_) => {
                sig.params.push(AbiParam::new(ptr));
                sig.returns.push(AbiParam::new(types::I64));
                Ret::Direct
            }
            FnKey::Function(_) | FnKey::Table(_) => {
                let (params, ret) = self.callable_types(key)?;
                for p in &params {
                    for t in clif_types(p) {
                        sig.params.push(AbiParam::new(t));
                    }
                }
                let rt = clif_types(&ret);
                if rt.len() == 1 {
                    sig.returns.push(AbiParam::new(rt[0]));
                    Ret::Direct
                } else {
                    sig.params.push(AbiParam::new(ptr));
                    Ret::Out(rt)
                }
            }
        };
        Ok((sig, ret))
    }

    /// The id of a function, declaring it (and queueing its definition) on first use.
    pub fn func_id(&mut self, key: FnKey) -> Result<FuncId, JitError> {
        if let Some(&id) = self.funcs.get(&key) {
            return Ok(id);
        }
        let (sig, _) = self.signature(key)?;
        let id = self
            .module
            .declare_anonymous_function(&sig)
            .map_err(|e| JitError::Internal(format!("declaring {key:?}: {e}")))?;
        self.funcs.insert(key, id);
        self.queue.push(key);
        Ok(id)
    }

    fn define(&mut self, key: FnKey, fctx: &mut FunctionBuilderContext) -> Result<(), JitError> {
        let id = self.func_id(key)?;
        let (sig, ret) = self.signature(key)?;
        let mut func = Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
        {
            let mut b = FunctionBuilder::new(&mut func, fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let ctx = params
                .first()
                .copied()
                .ok_or_else(|| JitError::Internal("no ctx".into()))?;
            let mut fx = expr::Fx::new(self, b, ctx);
            fx.body(key, &params, &ret)?;
            fx.finish();
        }
        let mut cctx = self.module.make_context();
        cctx.func = func;
        self.module
            .define_function(id, &mut cctx)
            .map_err(|e| JitError::Internal(format!("compiling {key:?}: {e:?}")))?;
        Ok(())
    }

    /// Compiles every entry point and what they call.
    pub fn generate(mut self) -> Result<Generated, JitError> {
        let p = self.program;
        for id in 0..p.eligibilities.len() as u32 {
            self.func_id(FnKey::EligBatch(id))?;
        }
        for id in 0..p.rankings.len() as u32 {
            self.func_id(FnKey::RankBatch(id))?;
        }
        for id in 0..p.consts.len() as u32 {
            self.func_id(FnKey::Const(id))?;
        }
        let mut fctx = FunctionBuilderContext::new();
        let mut functions = 0;
        while let Some(key) = self.queue.pop() {
            self.define(key, &mut fctx)?;
            functions += 1;
        }
        self.module
            .finalize_definitions()
            .map_err(|e| JitError::Internal(format!("linking: {e}")))?;
        let addr = |m: &ModuleCx<'_>, key: FnKey| -> Result<usize, JitError> {
            let id = m
                .funcs
                .get(&key)
                .ok_or_else(|| JitError::Internal(format!("{key:?} was not compiled")))?;
            Ok(m.module.get_finalized_function(*id) as usize)
        };
        let elig_batch = (0..p.eligibilities.len() as u32)
            .map(|i| addr(&self, FnKey::EligBatch(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let rank_batch = (0..p.rankings.len() as u32)
            .map(|i| addr(&self, FnKey::RankBatch(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let consts = (0..p.consts.len() as u32)
            .map(|i| addr(&self, FnKey::Const(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Generated {
            module: self.module,
            elig_batch,
            rank_batch,
            consts,
            types: self.types,
            interner: self.interner,
            const_store: self.consts,
            functions,
        })
    }
}

/// A local's variables (one per word).
pub(crate) type Local = Vec<(Variable, types::Type)>;
