//! The Cranelift JIT: the typed IR compiled to native code that agrees with the interpreter.
//!
//! - [`layout`]: the word layout of values (fixed record slots, collections with their
//!   lengths, optionals with a presence word) and the loader from interpreter values.
//! - [`intern`]: string interning, so string equality is an integer compare.
//! - [`abi`]: the `Ctx` compiled code reads and the entry-point signatures.
//! - `codegen/`: IR to Cranelift IR.
//! - `runtime_helpers.rs`: the `extern "C"` helpers compiled code calls.
//!
//! A [`JitProgram`] is compiled once per bundle; a [`JitCatalog`] is laid out once per
//! catalog (per bundle); a [`JitRequest`] is one subject at one moment and evaluates whole
//! candidate sets in one native call each: [`JitRequest::eligibility`] (first failing rule
//! per candidate) and [`JitRequest::rank`] (score and applied boosts per survivor). The
//! decision's orchestration (channel, consent, experiment, caps, sort, `max`, fallback,
//! traces) is the interpreter's own code, run over these results (see
//! [`crate::interp::decide::CandidateEvaluator`]), so both backends build their outcomes the
//! same way.
//!
//! See `docs/jit.md` for the layout, the ABI and the safety argument.

pub mod abi;
mod codegen;
pub mod intern;
pub mod layout;
mod runtime_helpers;
#[cfg(test)]
mod tests;

use crate::interp::decide::CandidateEvaluator;
use crate::interp::{Assignment, Env, EvalError, RankScore, Value};
use crate::ir::{EligibilityId, ExperimentId, Program, RankingId, SchemaId, Type};
use abi::{Ctx, RequestState};
use intern::{Interner, Overlay};
use layout::{Arena, Layout, LayoutError, Loader};
use std::sync::{Arc, Mutex};

/// Why the JIT cannot compile a bundle.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JitError {
    /// A construct the JIT does not compile.
    #[error("not compiled by the JIT: {0}")]
    Unsupported(String),
    /// A broken invariant (a program the checker should have rejected) or a Cranelift error.
    #[error("internal JIT error: {0}")]
    Internal(String),
}

/// Owns the JIT module's executable memory and frees it on drop.
struct CodeMemory(Mutex<Option<cranelift_jit::JITModule>>);

impl Drop for CodeMemory {
    fn drop(&mut self) {
        let module = match self.0.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: the module's code is only reachable through the function addresses held
            // by the `JitProgram` that owns this `CodeMemory`, which is being dropped; no
            // `JitRequest` outlives its `JitProgram` (it borrows it), so no code can run
            // after this point.
            unsafe { module.free_memory() };
        }
    }
}

/// Figures about a compiled program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitStats {
    /// Native functions compiled (entries plus non-inlined declarations).
    pub functions: usize,
}

/// A program compiled to native code.
pub struct JitProgram {
    program: Arc<Program>,
    layout: Layout,
    types: Vec<Type>,
    interner: Interner,
    elig_batch: Vec<usize>,
    rank_batch: Vec<usize>,
    /// Constant values; compiled code reads them at fixed addresses.
    _const_store: codegen::ConstStore,
    /// Blocks built by constants.
    _const_arena: Arena,
    stats: JitStats,
    /// Declared last so the code is freed after everything that refers to it.
    _code: CodeMemory,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Sizes of the zero records that stand in for a missing profile.
fn max_record_words(layout: &Layout, program: &Program) -> usize {
    (0..program.schemas.len() as u32)
        .filter_map(|s| layout.record_words(s))
        .max()
        .unwrap_or(0) as usize
}

type EligFn = extern "C" fn(*mut Ctx, u64, u64, u64);
type RankFn = extern "C" fn(*mut Ctx, u64, u64, u64, u64, u64);
type ConstFn = extern "C" fn(*mut Ctx);

impl JitProgram {
    /// Compiles `program` (checked, error-free) and evaluates its constants.
    pub fn compile(program: Arc<Program>) -> Result<JitProgram, JitError> {
        let _span = tracing::info_span!("jit_compile").entered();
        let layout = Layout::new(&program);
        let generated = {
            let _s = tracing::debug_span!("jit_codegen").entered();
            codegen::ModuleCx::new(&program, &layout)?.generate()?
        };
        let codegen::Generated {
            module,
            elig_batch,
            rank_batch,
            consts,
            types,
            mut interner,
            const_store,
            functions,
        } = generated;
        let code = CodeMemory(Mutex::new(Some(module)));

        // Constants: evaluated once, now, by their compiled code.
        let zero_words = max_record_words(&layout, &program).max(1);
        let (extra, const_arena, error) = {
            let mut state = Box::new(RequestState {
                program: &program,
                layout: &layout,
                types: &types,
                strings: Overlay::new(&interner),
                arena: Arena::new(),
                assignments: vec![None; program.experiments.len()],
                subject: Arc::from(""),
            });
            let zero = state.arena.alloc(zero_words).1;
            let (profile, context) = {
                let st = &mut *state;
                let mut strings = |s: &str| st.strings.intern(s);
                let mut loader = Loader {
                    program: &program,
                    layout: &layout,
                    strings: &mut strings,
                    arena: &mut st.arena,
                };
                let profile = program.profile.map(|p| loader.placeholder(p)).unwrap_or(zero);
                (profile, loader.placeholder(program.builtins.context))
            };
            let mut segments = vec![0u8; program.segments.len().max(1)];
            let mut ctx = Box::new(Ctx {
                profile,
                context,
                now: 0,
                subject: 0,
                no_profile: 1,
                error: 0,
                segments: segments.as_mut_ptr() as u64,
                state: &mut *state as *mut RequestState<'_> as u64,
            });
            for &f in &consts {
                // SAFETY: `f` is a finalized constant function of this module with the
                // `ConstFn` signature (see `codegen::ModuleCx::signature`), and `ctx` and the
                // state it points to are live and exclusively ours for the call.
                let f: ConstFn = unsafe { std::mem::transmute::<usize, ConstFn>(f) };
                f(&mut *ctx);
            }
            let error = ctx.error;
            let RequestState { strings, arena, .. } = *state;
            (strings.into_extra(), arena, error)
        };
        if error != 0 {
            return Err(JitError::Unsupported(
                "a constant that reads request data (through a function)".into(),
            ));
        }
        interner.absorb(extra);
        Ok(JitProgram {
            program,
            layout,
            types,
            interner,
            elig_batch,
            rank_batch,
            _const_store: const_store,
            _const_arena: const_arena,
            stats: JitStats { functions },
            _code: code,
        })
    }

    pub fn stats(&self) -> JitStats {
        self.stats
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Lays out `offers` (records of `schema`) for compiled code.
    pub fn prepare_catalog(&self, schema: SchemaId, offers: &[Value]) -> Result<JitCatalog, LayoutError> {
        let _span = tracing::debug_span!("jit_catalog", offers = offers.len()).entered();
        let mut interner = self.interner.clone();
        let mut arena = Arena::new();
        let size = self.layout.record_words(schema).unwrap_or(0) as usize;
        let mut block = vec![0u64; size * offers.len()];
        {
            let mut strings = |s: &str| interner.intern(s);
            let mut loader = Loader {
                program: &self.program,
                layout: &self.layout,
                strings: &mut strings,
                arena: &mut arena,
            };
            for (offer, dst) in offers.iter().zip(block.chunks_mut(size.max(1))) {
                match offer {
                    Value::Record(fields) => loader.record_into(schema, fields, dst)?,
                    v => {
                        return Err(LayoutError {
                            shape: format!("{v:?}").chars().take(40).collect(),
                            ty: self.program.type_name(&Type::Record(schema)),
                        })
                    }
                }
            }
        }
        let (dst, base) = arena.alloc(block.len());
        dst.copy_from_slice(&block);
        Ok(JitCatalog {
            interner,
            _arena: arena,
            base,
            len: offers.len(),
            schema,
        })
    }

    /// Per-request state for `env` over `catalog`: loads the profile and context.
    pub fn request<'a>(&'a self, catalog: &'a JitCatalog, env: &Env) -> Result<JitRequest<'a>, EvalError> {
        let mut state = Box::new(RequestState {
            program: &self.program,
            layout: &self.layout,
            types: &self.types,
            strings: Overlay::new(&catalog.interner),
            arena: Arena::new(),
            assignments: vec![None; self.program.experiments.len()],
            subject: env.subject.clone(),
        });
        let layout_error = |e: LayoutError| EvalError::Internal(format!("loading the request: {e}"));
        let st = &mut *state;
        let zero = st.arena.alloc(max_record_words(&self.layout, &self.program).max(1)).1;
        let (profile, no_profile) = match (&env.profile, self.program.profile) {
            (Some(Value::Record(fields)), Some(schema)) => {
                let mut strings = |s: &str| st.strings.intern(s);
                let mut loader = Loader {
                    program: &self.program,
                    layout: &self.layout,
                    strings: &mut strings,
                    arena: &mut st.arena,
                };
                (loader.record(schema, fields).map_err(layout_error)?, 0)
            }
            (Some(_), Some(_)) => return Err(EvalError::Internal("the profile is not a record".into())),
            (_, Some(schema)) => {
                let mut strings = |s: &str| st.strings.intern(s);
                let mut loader = Loader {
                    program: &self.program,
                    layout: &self.layout,
                    strings: &mut strings,
                    arena: &mut st.arena,
                };
                (loader.placeholder(schema), 1)
            }
            (_, None) => (zero, 1),
        };
        let context = match &env.context {
            Value::Record(fields) => {
                let mut strings = |s: &str| st.strings.intern(s);
                let mut loader = Loader {
                    program: &self.program,
                    layout: &self.layout,
                    strings: &mut strings,
                    arena: &mut st.arena,
                };
                loader
                    .record(self.program.builtins.context, fields)
                    .map_err(layout_error)?
            }
            _ => return Err(EvalError::Internal("the context is not a record".into())),
        };
        let subject = u64::from(st.strings.intern(&env.subject));
        let mut segments = vec![0u8; self.program.segments.len().max(1)].into_boxed_slice();
        let ctx = Box::new(Ctx {
            profile,
            context,
            now: env.now_ms,
            subject,
            no_profile,
            error: 0,
            segments: segments.as_mut_ptr() as u64,
            state: st as *mut RequestState<'a> as u64,
        });
        Ok(JitRequest {
            jit: self,
            catalog,
            ctx,
            _state: state,
            _segments: segments,
        })
    }
}

/// A catalog laid out for one [`JitProgram`].
#[derive(Debug)]
pub struct JitCatalog {
    interner: Interner,
    _arena: Arena,
    base: u64,
    len: usize,
    schema: SchemaId,
}

impl JitCatalog {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn schema(&self) -> SchemaId {
        self.schema
    }
}

/// One request's evaluation state on the JIT.
pub struct JitRequest<'a> {
    jit: &'a JitProgram,
    catalog: &'a JitCatalog,
    ctx: Box<Ctx>,
    /// Reached by compiled code and helpers through `ctx.state`; boxed so it does not move.
    _state: Box<RequestState<'a>>,
    /// The segment memo bytes `ctx.segments` points to.
    _segments: Box<[u8]>,
}

/// The verdicts of a ranking on survivors.
#[derive(Debug, Clone, PartialEq)]
pub struct RankBatch {
    pub scores: Vec<f64>,
    /// `words_per` words of applied-boost bits per candidate.
    pub boosts: Vec<u64>,
    pub words_per: usize,
}

impl JitRequest<'_> {
    /// The context for one native call, with the addresses of the request's state and segment
    /// memo taken afresh from their owners (so no pointer outlives a move of this struct).
    fn ctx_for_call(&mut self) -> *mut Ctx {
        self.ctx.state = &mut *self._state as *mut RequestState<'_> as u64;
        self.ctx.segments = self._segments.as_mut_ptr() as u64;
        &mut *self.ctx
    }

    fn check(&mut self) -> Result<(), EvalError> {
        match self.ctx.error {
            0 => Ok(()),
            code => {
                self.ctx.error = 0;
                Err(abi::error_of(code))
            }
        }
    }

    /// The first failing rule of eligibility `id` for every catalog candidate (-1: eligible),
    /// written to `out` (which must be as long as the catalog).
    pub fn eligibility_into(&mut self, id: EligibilityId, out: &mut [i32]) -> Result<(), EvalError> {
        let def = self
            .jit
            .program
            .eligibilities
            .get(id as usize)
            .ok_or_else(|| EvalError::Internal(format!("no eligibility {id}")))?;
        if def.schema != self.catalog.schema {
            return Err(EvalError::Internal(format!(
                "eligibility {} is for another schema than the catalog's",
                def.name
            )));
        }
        if out.len() != self.catalog.len {
            return Err(EvalError::Internal("output buffer of the wrong length".into()));
        }
        let f = *self
            .jit
            .elig_batch
            .get(id as usize)
            .ok_or_else(|| EvalError::Internal(format!("eligibility {id} was not compiled")))?;
        // SAFETY: `f` is the finalized eligibility batch function of this program with the
        // `EligFn` signature; it reads the catalog's `len` records from `base` (laid out for
        // this schema by `prepare_catalog`) and writes exactly `len` i32s to `out`, whose
        // length was checked above; `ctx` and its state are live and exclusively ours.
        let f: EligFn = unsafe { std::mem::transmute::<usize, EligFn>(f) };
        let ctx = self.ctx_for_call();
        f(ctx, self.catalog.base, self.catalog.len as u64, out.as_mut_ptr() as u64);
        self.check()
    }

    /// [`JitRequest::eligibility_into`] into a new vector.
    pub fn eligibility(&mut self, id: EligibilityId) -> Result<Vec<i32>, EvalError> {
        let mut out = vec![0i32; self.catalog.len];
        self.eligibility_into(id, &mut out)?;
        Ok(out)
    }

    /// Ranking `id` on the catalog candidates at `positions`.
    pub fn rank(&mut self, id: RankingId, positions: &[u32]) -> Result<RankBatch, EvalError> {
        let def = self
            .jit
            .program
            .rankings
            .get(id as usize)
            .ok_or_else(|| EvalError::Internal(format!("no ranking {id}")))?;
        if def.schema != self.catalog.schema {
            return Err(EvalError::Internal(format!(
                "ranking {} is for another schema than the catalog's",
                def.name
            )));
        }
        if positions.iter().any(|&p| p as usize >= self.catalog.len) {
            return Err(EvalError::Internal("a candidate position beyond the catalog".into()));
        }
        let words_per = codegen::boost_words(def.boosts.len());
        let mut scores = vec![0f64; positions.len()];
        let mut boosts = vec![0u64; positions.len() * words_per];
        let f = *self
            .jit
            .rank_batch
            .get(id as usize)
            .ok_or_else(|| EvalError::Internal(format!("ranking {id} was not compiled")))?;
        // SAFETY: `f` is the finalized ranking batch function with the `RankFn` signature;
        // every position is below the catalog length (checked above), `scores` holds one f64
        // and `boosts` `words_per` words per position, as the function writes; `ctx` is live.
        let f: RankFn = unsafe { std::mem::transmute::<usize, RankFn>(f) };
        let ctx = self.ctx_for_call();
        f(
            ctx,
            self.catalog.base,
            positions.as_ptr() as u64,
            positions.len() as u64,
            scores.as_mut_ptr() as u64,
            boosts.as_mut_ptr() as u64,
        );
        self.check()?;
        Ok(RankBatch {
            scores,
            boosts,
            words_per,
        })
    }

    /// The subject's assignment in an experiment (the interpreter's function).
    pub fn assignment(&self, id: ExperimentId) -> Result<Assignment, EvalError> {
        crate::interp::assign(&self.jit.program, id, &self.ctx_subject())
    }

    fn ctx_subject(&self) -> Arc<str> {
        self._state.subject.clone()
    }
}

impl CandidateEvaluator for JitRequest<'_> {
    fn first_failing_rules(&mut self, id: EligibilityId, catalog: &[Value]) -> Result<Vec<Option<usize>>, EvalError> {
        if catalog.len() != self.catalog.len {
            return Err(EvalError::Internal("the catalog does not match its layout".into()));
        }
        Ok(self
            .eligibility(id)?
            .into_iter()
            .map(|r| usize::try_from(r).ok())
            .collect())
    }

    fn rank_scores(
        &mut self,
        id: RankingId,
        _catalog: &[Value],
        positions: &[usize],
    ) -> Result<Vec<RankScore>, EvalError> {
        let pos: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        let batch = self.rank(id, &pos)?;
        let n = self
            .jit
            .program
            .rankings
            .get(id as usize)
            .map(|r| r.boosts.len())
            .unwrap_or(0);
        Ok(batch
            .scores
            .iter()
            .enumerate()
            .map(|(j, &score)| {
                let words = batch
                    .boosts
                    .get(j * batch.words_per..(j + 1) * batch.words_per)
                    .unwrap_or(&[]);
                let boosts = (0..n)
                    .filter(|b| words.get(b / 64).is_some_and(|w| w >> (b % 64) & 1 == 1))
                    .collect();
                RankScore { score, boosts }
            })
            .collect())
    }

    fn assignment(&mut self, id: ExperimentId) -> Result<Assignment, EvalError> {
        JitRequest::assignment(self, id)
    }
}
