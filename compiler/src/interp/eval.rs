//! The evaluator: the meaning of every IR expression and declaration.
//!
//! Two lifetimes of state:
//!
//! - An [`Evaluator`] belongs to one [`Program`]. It caches constants, which cannot depend on a
//!   request, so each is evaluated at most once per evaluator (lazily, on first use). It is
//!   `Sync`: one evaluator can serve many threads.
//! - A [`Request`] belongs to one [`Env`] (one subject, one moment). It caches segments and
//!   experiment assignments, so each is evaluated at most once per request.
//!
//! Each body (function, segment, rule, table, test, …) runs in a fresh frame of `frame` slots:
//! parameters first, then the `if let` and quantifier variables the checker numbered.
//!
//! Evaluation is total for well-typed programs. [`EvalError`] is for broken invariants only:
//! a program the checker should have rejected, or a request missing data the program reads
//! (no profile). Nothing here panics on any input.

use crate::interp::builtins;
use crate::interp::experiment::{self, Assignment};
use crate::interp::ops;
use crate::interp::value::Value;
use crate::ir::{
    BinaryOp, Callee, ConstId, DecisionId, EligibilityId, Expr, ExprKind, FunctionId, HitPolicy, Program, Quantifier,
    RankingId, RuleKind, SegmentId, TableId, Type,
};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, OnceLock};

/// How deeply calls (functions, tables, segments, constants) may nest. A checked program is not
/// recursive, so this only turns a checker bug into an error instead of a stack overflow.
pub const MAX_CALL_DEPTH: u32 = 200;

/// A past impression of an offer, for frequency caps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impression {
    /// The offer's `id`.
    pub offer_id: String,
    /// The placement it was shown at.
    pub placement: String,
    /// A variant index of `std.Channel`.
    pub channel: u32,
    /// When it was shown, milliseconds since the epoch.
    pub at_ms: i64,
}

/// Everything a policy can see about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    /// The subject's `Profile` record, if the request has one.
    pub profile: Option<Value>,
    /// A `std.Context` record.
    pub context: Value,
    /// The request time, milliseconds since the epoch (what `now()` returns).
    pub now_ms: i64,
    /// The subject id (what `subject_id()` returns; experiments bucket on it).
    pub subject: Arc<str>,
    /// Purposes the subject consented to.
    pub consents: Vec<String>,
    /// Past impressions, for caps.
    pub impressions: Vec<Impression>,
}

/// A broken invariant met during evaluation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The program reads `profile` but the request has none.
    #[error("the policy reads `profile` but the request has none")]
    NoProfile,
    /// Request data (`profile`, `context`, `now()`, the subject) was read where there is no
    /// request, e.g. by a constant.
    #[error("`{0}` was read outside a request (constants cannot read it)")]
    NoRequest(&'static str),
    /// A decision or eligibility result was read outside a test.
    #[error("`{0}` results exist only in tests")]
    TestOnly(&'static str),
    /// Calls nested more deeply than [`MAX_CALL_DEPTH`]: the program is recursive.
    #[error("calls nest more than {MAX_CALL_DEPTH} deep: the program is recursive")]
    RecursionLimit,
    /// The program is not well typed, or an index in it is out of range.
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) fn internal(message: impl Into<String>) -> EvalError {
    EvalError::Internal(message.into())
}

/// Supplies the test-only expressions `decision_name` and `eligibility_name` (the
/// [`ExprKind::DecisionResult`] and [`ExprKind::EligibilityResult`] nodes). The test runner
/// implements it over the test's catalogs.
pub trait TestResults {
    /// A `std.DecisionResult` record for `decision`, evaluated in `request`.
    fn decision_result(&self, request: &Request<'_>, decision: DecisionId) -> Result<Value, EvalError>;
    /// A `std.EligibilityResult` record for `eligibility`, evaluated in `request`.
    fn eligibility_result(&self, request: &Request<'_>, eligibility: EligibilityId) -> Result<Value, EvalError>;
}

/// Evaluates one [`Program`]; caches its constants.
#[derive(Debug)]
pub struct Evaluator<'p> {
    program: &'p Program,
    consts: Vec<OnceLock<Value>>,
}

impl<'p> Evaluator<'p> {
    /// An evaluator for `program`. Cheap: constants are evaluated on first use.
    pub fn new(program: &'p Program) -> Evaluator<'p> {
        Evaluator {
            program,
            consts: program.consts.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The program being evaluated.
    pub fn program(&self) -> &'p Program {
        self.program
    }

    /// Per-request evaluation state for `env`.
    pub fn request<'a>(&'a self, env: &'a Env) -> Request<'a> {
        Request::new(self, Some(env), None, 0)
    }

    /// Per-request evaluation state for a test: like [`Evaluator::request`], and the test-only
    /// result expressions are answered by `results`.
    pub fn test_request<'a>(&'a self, env: &'a Env, results: &'a dyn TestResults) -> Request<'a> {
        Request::new(self, Some(env), Some(results), 0)
    }

    /// The value of a constant.
    pub fn const_value(&self, id: ConstId) -> Result<Value, EvalError> {
        Request::new(self, None, None, 0).const_value(id)
    }
}

/// Evaluation state for one request: the [`Env`] plus memoized segments and experiment
/// assignments.
pub struct Request<'a> {
    evaluator: &'a Evaluator<'a>,
    program: &'a Program,
    /// `None` while evaluating constants.
    env: Option<&'a Env>,
    results: Option<&'a dyn TestResults>,
    segments: RefCell<Vec<Option<bool>>>,
    assignments: RefCell<Vec<Option<Assignment>>>,
    depth: Cell<u32>,
}

/// Decrements the call depth when a call returns.
struct DepthGuard<'a>(&'a Cell<u32>);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// A ranking's verdict on one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct RankScore {
    /// The final score: the base score times every applied boost's factor, in boost order.
    pub score: f64,
    /// Indices (into the ranking's boosts) of the boosts whose condition held.
    pub boosts: Vec<usize>,
}

fn get<'x, T>(items: &'x [T], id: u32, what: &str) -> Result<&'x T, EvalError> {
    items
        .get(id as usize)
        .ok_or_else(|| internal(format!("no {what} with index {id}")))
}

/// A frame of `size` slots, the first ones holding `args`.
fn frame(size: u32, args: Vec<Value>) -> Vec<Value> {
    let mut f = args;
    let size = (size as usize).max(f.len());
    f.resize(size, Value::Missing);
    f
}

fn set_slot(frame: &mut [Value], slot: u32, v: Value) -> Result<(), EvalError> {
    let len = frame.len();
    let s = frame
        .get_mut(slot as usize)
        .ok_or_else(|| internal(format!("local {slot} outside a frame of {len}")))?;
    *s = v;
    Ok(())
}

fn expect_bool(v: Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        v => Err(internal(format!("expected a Bool, got {}", ops::shape(&v)))),
    }
}

impl<'a> Request<'a> {
    fn new(
        evaluator: &'a Evaluator<'a>,
        env: Option<&'a Env>,
        results: Option<&'a dyn TestResults>,
        depth: u32,
    ) -> Request<'a> {
        let program = evaluator.program;
        Request {
            evaluator,
            program,
            env,
            results,
            segments: RefCell::new(vec![None; program.segments.len()]),
            assignments: RefCell::new(vec![None; program.experiments.len()]),
            depth: Cell::new(depth),
        }
    }

    /// The program being evaluated.
    pub fn program(&self) -> &'a Program {
        self.program
    }

    /// The request's environment (an error while evaluating constants).
    pub fn env(&self) -> Result<&'a Env, EvalError> {
        self.env.ok_or(EvalError::NoRequest("the request"))
    }

    /// The request time, milliseconds since the epoch.
    pub fn now_ms(&self) -> Result<i64, EvalError> {
        Ok(self.env.ok_or(EvalError::NoRequest("now()"))?.now_ms)
    }

    /// The subject id.
    pub fn subject(&self) -> Result<&'a str, EvalError> {
        Ok(&self.env.ok_or(EvalError::NoRequest("subject_id()"))?.subject)
    }

    fn enter(&self) -> Result<DepthGuard<'_>, EvalError> {
        let d = self.depth.get();
        if d >= MAX_CALL_DEPTH {
            return Err(EvalError::RecursionLimit);
        }
        self.depth.set(d + 1);
        Ok(DepthGuard(&self.depth))
    }

    /// Evaluates `expr` in a fresh frame of `frame_size` slots (a test's or a declaration's).
    pub fn eval_expr(&self, expr: &Expr, frame_size: u32) -> Result<Value, EvalError> {
        let mut f = frame(frame_size, Vec::new());
        self.eval(expr, &mut f)
    }

    /// The value of a constant (cached in the [`Evaluator`]).
    pub fn const_value(&self, id: ConstId) -> Result<Value, EvalError> {
        let cell = get(&self.evaluator.consts, id, "constant")?;
        if let Some(v) = cell.get() {
            return Ok(v.clone());
        }
        let def = get(&self.program.consts, id, "constant")?;
        let _guard = self.enter()?;
        // Constants see no request: evaluate in a scope without one, continuing this depth
        // count so that a (checker-bug) cycle through constants still ends.
        let scope = Request::new(self.evaluator, None, None, self.depth.get());
        let v = scope.eval_expr(&def.value, def.frame)?;
        // Another thread may have stored the same value first; either copy is the value.
        let _ = cell.set(v.clone());
        Ok(v)
    }

    /// The value of a segment (memoized for this request).
    pub fn segment(&self, id: SegmentId) -> Result<bool, EvalError> {
        let cached = self.segments.borrow().get(id as usize).copied().flatten();
        if let Some(b) = cached {
            return Ok(b);
        }
        let def = get(&self.program.segments, id, "segment")?;
        let _guard = self.enter()?;
        let b = expect_bool(self.eval_expr(&def.body, def.frame)?)?;
        if let Some(slot) = self.segments.borrow_mut().get_mut(id as usize) {
            *slot = Some(b);
        }
        Ok(b)
    }

    /// The subject's assignment in an experiment (memoized for this request).
    pub fn assignment(&self, id: crate::ir::ExperimentId) -> Result<Assignment, EvalError> {
        let cached = self.assignments.borrow().get(id as usize).copied().flatten();
        if let Some(a) = cached {
            return Ok(a);
        }
        let a = experiment::assign(self.program, id, self.subject()?)?;
        if let Some(slot) = self.assignments.borrow_mut().get_mut(id as usize) {
            *slot = Some(a);
        }
        Ok(a)
    }

    /// Calls a function with evaluated arguments.
    pub fn call_function(&self, id: FunctionId, args: Vec<Value>) -> Result<Value, EvalError> {
        let def = get(&self.program.functions, id, "function")?;
        let _guard = self.enter()?;
        let mut f = frame(def.frame, args);
        self.eval(&def.body, &mut f)
    }

    /// The index of the first rule of an eligibility block that removes `candidate` (a
    /// `require` whose condition is false, or a `deny` whose condition is true); `None` when
    /// the candidate is eligible. Rules after the first failing one are not evaluated.
    pub fn first_failing_rule(&self, id: EligibilityId, candidate: &Value) -> Result<Option<usize>, EvalError> {
        let def = get(&self.program.eligibilities, id, "eligibility")?;
        let _guard = self.enter()?;
        let mut f = frame(def.frame, vec![candidate.clone()]);
        for (i, rule) in def.rules.iter().enumerate() {
            let holds = expect_bool(self.eval(&rule.cond, &mut f)?)?;
            let fails = match rule.kind {
                RuleKind::Require => !holds,
                RuleKind::Deny => holds,
            };
            if fails {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// A ranking's score for `candidate`: the base score, multiplied by the factor of each boost
    /// whose condition holds, left to right in boost order. A boost's factor is evaluated only
    /// when its condition holds.
    pub fn rank_score(&self, id: RankingId, candidate: &Value) -> Result<RankScore, EvalError> {
        let def = get(&self.program.rankings, id, "ranking")?;
        let _guard = self.enter()?;
        let mut f = frame(def.frame, vec![candidate.clone()]);
        let mut score = self.eval_float(&def.score, &mut f)?;
        let mut boosts = Vec::new();
        for (i, boost) in def.boosts.iter().enumerate() {
            if expect_bool(self.eval(&boost.cond, &mut f)?)? {
                score *= self.eval_float(&boost.factor, &mut f)?;
                boosts.push(i);
            }
        }
        Ok(RankScore { score, boosts })
    }

    fn eval_float(&self, e: &Expr, f: &mut [Value]) -> Result<f64, EvalError> {
        match self.eval(e, f)? {
            Value::Float(x) => Ok(x),
            v => Err(internal(format!("expected a Float, got {}", ops::shape(&v)))),
        }
    }

    /// Evaluates a table with evaluated arguments. Every column is evaluated once, then rows are
    /// matched in order according to the hit policy.
    pub fn call_table(&self, id: TableId, args: Vec<Value>) -> Result<Value, EvalError> {
        let def = get(&self.program.tables, id, "table")?;
        let _guard = self.enter()?;
        let mut f = frame(def.frame, args);
        let mut columns = Vec::with_capacity(def.columns.len());
        for c in &def.columns {
            columns.push(self.eval(c, &mut f)?);
        }
        let matches = |cells: &[crate::ir::CellTest]| -> Result<bool, EvalError> {
            if cells.len() != columns.len() {
                return Err(internal(format!(
                    "table {} has a row of {} cells for {} columns",
                    def.name,
                    cells.len(),
                    columns.len()
                )));
            }
            for (cell, value) in cells.iter().zip(&columns) {
                if !ops::cell_matches(value, cell)? {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let default = |f: &mut Vec<Value>| match &def.default {
            Some(d) => self.eval(d, f),
            None => Err(internal(format!("table {} has no default", def.name))),
        };
        match def.hit {
            HitPolicy::First => {
                for row in &def.rows {
                    if matches(&row.cells)? {
                        return self.eval(&row.output, &mut f);
                    }
                }
                default(&mut f)
            }
            HitPolicy::Unique => {
                // The checker proves at most one row can match. Debug builds check every row so
                // a hole in that proof shows up in tests; release builds stop at the first.
                let mut hit = None;
                for (i, row) in def.rows.iter().enumerate() {
                    if matches(&row.cells)? {
                        debug_assert!(hit.is_none(), "unique table {} matched rows {hit:?} and {i}", def.name);
                        hit.get_or_insert(i);
                        if !cfg!(debug_assertions) {
                            break;
                        }
                    }
                }
                match hit.and_then(|i| def.rows.get(i)) {
                    Some(row) => self.eval(&row.output, &mut f),
                    None => default(&mut f),
                }
            }
            HitPolicy::Collect => {
                let mut out = Vec::new();
                for row in &def.rows {
                    if matches(&row.cells)? {
                        out.push(self.eval(&row.output, &mut f)?);
                    }
                }
                Ok(Value::list(out))
            }
        }
    }

    fn call(&self, callee: Callee, args: Vec<Value>) -> Result<Value, EvalError> {
        match callee {
            Callee::Function(id) => self.call_function(id, args),
            Callee::Table(id) => self.call_table(id, args),
            Callee::Eligibility(id) => {
                let candidate = args
                    .first()
                    .ok_or_else(|| internal("eligibility called without a candidate"))?;
                Ok(Value::Bool(self.first_failing_rule(id, candidate)?.is_none()))
            }
            Callee::Ranking(id) => {
                let candidate = args
                    .first()
                    .ok_or_else(|| internal("ranking called without a candidate"))?;
                Ok(Value::Float(self.rank_score(id, candidate)?.score))
            }
        }
    }

    fn eval_all(&self, exprs: &[Expr], f: &mut [Value]) -> Result<Vec<Value>, EvalError> {
        exprs.iter().map(|e| self.eval(e, f)).collect()
    }

    /// Evaluates `e` in frame `f`.
    pub fn eval(&self, e: &Expr, f: &mut [Value]) -> Result<Value, EvalError> {
        match &e.kind {
            ExprKind::Lit(lit) => Ok(ops::literal(lit)),
            ExprKind::Local(slot) => f
                .get(*slot as usize)
                .cloned()
                .ok_or_else(|| internal(format!("local {slot} outside a frame of {}", f.len()))),
            ExprKind::Profile => {
                let env = self.env.ok_or(EvalError::NoRequest("profile"))?;
                env.profile.clone().ok_or(EvalError::NoProfile)
            }
            ExprKind::Context => Ok(self.env.ok_or(EvalError::NoRequest("context"))?.context.clone()),
            ExprKind::Now => Ok(Value::Timestamp(self.now_ms()?)),
            ExprKind::Field { base, index } => match self.eval(base, f)? {
                Value::Record(fields) => fields
                    .get(*index as usize)
                    .cloned()
                    .ok_or_else(|| internal(format!("no field {index} in a record"))),
                v => Err(internal(format!("field {index} of {}, not a record", ops::shape(&v)))),
            },
            ExprKind::Segment(id) => Ok(Value::Bool(self.segment(*id)?)),
            ExprKind::Const(id) => self.const_value(*id),
            ExprKind::Call { callee, args } => {
                let args = self.eval_all(args, f)?;
                self.call(*callee, args)
            }
            ExprKind::Builtin { func, args } => {
                let args = self.eval_all(args, f)?;
                builtins::apply(*func, &args, self)
            }
            ExprKind::Unary { op, operand } => ops::unary(*op, self.eval(operand, f)?),
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinaryOp::And => Ok(Value::Bool(
                    expect_bool(self.eval(lhs, f)?)? && expect_bool(self.eval(rhs, f)?)?,
                )),
                BinaryOp::Or => Ok(Value::Bool(
                    expect_bool(self.eval(lhs, f)?)? || expect_bool(self.eval(rhs, f)?)?,
                )),
                op => {
                    let a = self.eval(lhs, f)?;
                    let b = self.eval(rhs, f)?;
                    ops::binary(*op, a, b)
                }
            },
            ExprKind::If { cond, then, otherwise } => {
                if expect_bool(self.eval(cond, f)?)? {
                    self.eval(then, f)
                } else {
                    self.eval(otherwise, f)
                }
            }
            ExprKind::IfLet {
                local,
                value,
                then,
                otherwise,
            } => match self.eval(value, f)? {
                Value::Missing => self.eval(otherwise, f),
                v => {
                    set_slot(f, *local, v)?;
                    self.eval(then, f)
                }
            },
            ExprKind::Coalesce { value, default } => match self.eval(value, f)? {
                Value::Missing => self.eval(default, f),
                v => Ok(v),
            },
            ExprKind::Quantified {
                quantifier,
                local,
                collection,
                body,
            } => {
                let c = self.eval(collection, f)?;
                let xs = c
                    .elements()
                    .ok_or_else(|| internal(format!("quantifier over {}", ops::shape(&c))))?;
                let mut count: i64 = 0;
                for x in xs {
                    set_slot(f, *local, x.clone())?;
                    let holds = expect_bool(self.eval(body, f)?)?;
                    match quantifier {
                        Quantifier::Any if holds => return Ok(Value::Bool(true)),
                        Quantifier::All if !holds => return Ok(Value::Bool(false)),
                        Quantifier::Count if holds => count = count.saturating_add(1),
                        _ => {}
                    }
                }
                Ok(match quantifier {
                    Quantifier::Any => Value::Bool(false),
                    Quantifier::All => Value::Bool(true),
                    Quantifier::Count => Value::Int(count),
                })
            }
            ExprKind::Collection(items) => {
                let values = self.eval_all(items, f)?;
                Ok(match e.ty {
                    Type::Set(_) => Value::set(values),
                    _ => Value::list(values),
                })
            }
            ExprKind::Record { fields, .. } => {
                let mut values = Vec::with_capacity(fields.len());
                for field in fields {
                    values.push(match field {
                        Some(x) => self.eval(x, f)?,
                        None => Value::Missing,
                    });
                }
                Ok(Value::Record(Arc::from(values)))
            }
            ExprKind::With { base, updates } => {
                let Value::Record(fields) = self.eval(base, f)? else {
                    return Err(internal("`with` on a value that is not a record"));
                };
                let mut fields = fields.to_vec();
                for (index, update) in updates {
                    let v = self.eval(update, f)?;
                    *fields
                        .get_mut(*index as usize)
                        .ok_or_else(|| internal(format!("`with` updates field {index}")))? = v;
                }
                Ok(Value::Record(Arc::from(fields)))
            }
            ExprKind::IntToFloat(x) => match self.eval(x, f)? {
                Value::Int(i) => Ok(Value::Float(i as f64)),
                v => Err(internal(format!("IntToFloat of {}", ops::shape(&v)))),
            },
            ExprKind::Some(x) => self.eval(x, f),
            ExprKind::ExperimentIs { experiment, variant } => {
                let assigned = self.assignment(*experiment)?;
                Ok(Value::Bool(if *variant == crate::ir::HOLDOUT_VARIANT {
                    assigned == Assignment::Holdout
                } else {
                    assigned == Assignment::Variant(*variant)
                }))
            }
            ExprKind::DecisionResult(d) => self
                .results
                .ok_or(EvalError::TestOnly("decision"))?
                .decision_result(self, *d),
            ExprKind::EligibilityResult(id) => self
                .results
                .ok_or(EvalError::TestOnly("eligibility"))?
                .eligibility_result(self, *id),
            ExprKind::Error => Err(internal("the program has errors")),
        }
    }
}
