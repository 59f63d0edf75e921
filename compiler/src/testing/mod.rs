//! Running `test` blocks: `tailor test` and `tailor explain --test`.
//!
//! Each test builds an [`Env`] from its clauses (with the documented defaults), evaluates each
//! catalog, and evaluates every `expect` in one [`Request`], so segments are evaluated once per
//! test. A decision's or eligibility block's name inside an `expect` is answered by running it
//! over the test's catalog of the block's schema; outcomes are cached per test, and a failing
//! expectation that mentions one carries its explanation (which rule removed or kept each
//! candidate).
//!
//! A test fails, rather than erroring, when it reads `profile` without setting one: that is a
//! mistake in the test the author can fix. Errors are reserved for broken invariants (a program
//! the checker should have rejected).

use crate::interp::decide::{context_channel, decide_in, eligibility_report, DecisionOutcome, EligibilityReport};
use crate::interp::eval::{internal, Env, EvalError, Evaluator, Impression, Request, TestResults};
use crate::interp::explain::{explain_decision, explain_eligibility};
use crate::interp::value::Value;
use crate::ir::{
    BinaryOp, DecisionId, EligibilityId, Expr, ExprKind, Program, SchemaDef, SchemaId, TestDef, Type, UnaryOp,
};
use crate::source::Span;
use serde::{Serialize, Serializer};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

#[cfg(test)]
mod end_to_end;
#[cfg(test)]
mod tests;

/// `now` when a test does not set it: 2026-01-01T00:00:00Z.
pub const DEFAULT_NOW_MS: i64 = 1_767_225_600_000;
/// The subject id when a test does not set one.
pub const DEFAULT_SUBJECT: &str = "test-subject";
/// The failure message of a test that reads `profile` without setting one.
pub const NO_PROFILE_MESSAGE: &str = "this test reads `profile` but sets none: add `profile { … }`";
/// At most this many impressions are recorded per `seen` clause, so that a typo like
/// `seen "x" 4000000000 times` cannot exhaust memory. Caps above it are not testable.
pub const MAX_SEEN_TIMES: u32 = 1_000_000;

/// The results of running a program's tests.
#[derive(Debug, Clone, PartialEq)]
pub struct TestReport {
    /// One result per test that ran, in declaration order.
    pub results: Vec<TestResult>,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// The whole `test` block.
    pub span: Span,
    pub outcome: TestOutcome,
}

/// Whether a test passed.
#[derive(Debug, Clone, PartialEq)]
pub enum TestOutcome {
    Passed,
    /// One or more expectations did not hold.
    Failed {
        failures: Vec<Failure>,
    },
    /// The test could not run: an internal error (a bug in the checker or interpreter).
    Error(String),
}

/// One failed expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The `expect` clause (or the whole test, for a failure while setting it up).
    pub span: Span,
    /// What was expected and what was found, e.g. `expected "a" == "b"`.
    pub message: String,
    /// For expectations about decisions or eligibility blocks: which rule removed or kept each
    /// candidate.
    pub explanation: Option<String>,
}

impl TestReport {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Passed))
    }

    /// Tests with failed expectations.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Failed { .. }))
    }

    /// Tests that could not run.
    pub fn errors(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Error(_)))
    }

    /// Did every test pass.
    pub fn all_passed(&self) -> bool {
        self.passed() == self.results.len()
    }

    fn count(&self, pred: impl Fn(&TestOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| pred(&r.outcome)).count()
    }

    /// The report as JSON: `{ "total", "passed", "failed", "errors", "results": [{ "name",
    /// "span", "status": "passed" | "failed" | "error", "failures"?, "error"? }] }`.
    pub fn to_json(&self) -> serde_json::Value {
        let results: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                let mut v = json!({ "name": r.name, "span": r.span });
                match &r.outcome {
                    TestOutcome::Passed => v["status"] = json!("passed"),
                    TestOutcome::Failed { failures } => {
                        v["status"] = json!("failed");
                        v["failures"] = json!(failures);
                    }
                    TestOutcome::Error(message) => {
                        v["status"] = json!("error");
                        v["error"] = json!(message);
                    }
                }
                v
            })
            .collect();
        json!({
            "total": self.results.len(),
            "passed": self.passed(),
            "failed": self.failed(),
            "errors": self.errors(),
            "results": results,
        })
    }
}

impl Serialize for TestReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// Runs every test whose name contains `filter` (all of them without one).
pub fn run_tests(program: &Program, filter: Option<&str>) -> TestReport {
    let evaluator = Evaluator::new(program);
    let results = program
        .tests
        .iter()
        .filter(|t| filter.is_none_or(|f| t.name.contains(f)))
        .map(|t| TestResult {
            name: t.name.clone(),
            span: t.span,
            outcome: run_test(&evaluator, t),
        })
        .collect();
    TestReport { results }
}

/// Why [`explain_test`] produced no explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error("no test is named {0:?}")]
    NoSuchTest(String),
    #[error("{query:?} matches several tests: {}", names.join(", "))]
    Ambiguous { query: String, names: Vec<String> },
    #[error("test {name:?} cannot run: {message}")]
    Eval { name: String, message: String },
}

/// The explanation of every decision and eligibility block that test `test_name`'s
/// expectations mention, run as in the test. `test_name` is the exact name, or a part of
/// exactly one test's name.
pub fn explain_test(program: &Program, test_name: &str) -> Result<String, ExplainError> {
    let test = match program.tests.iter().find(|t| t.name == test_name) {
        Some(t) => t,
        None => {
            let matching: Vec<&TestDef> = program.tests.iter().filter(|t| t.name.contains(test_name)).collect();
            match matching.as_slice() {
                [t] => *t,
                [] => return Err(ExplainError::NoSuchTest(test_name.into())),
                many => {
                    return Err(ExplainError::Ambiguous {
                        query: test_name.into(),
                        names: many.iter().map(|t| format!("{:?}", t.name)).collect(),
                    })
                }
            }
        }
    };
    let fail = |e: EvalError| ExplainError::Eval {
        name: test.name.clone(),
        message: match e {
            EvalError::NoProfile => NO_PROFILE_MESSAGE.into(),
            e => e.to_string(),
        },
    };
    let evaluator = Evaluator::new(program);
    let setup = setup(&evaluator, test).map_err(fail)?;
    let harness = Harness::new(&setup.catalogs);
    let request = evaluator.test_request(&setup.env, &harness);
    let mut refs = Refs::default();
    for expect in &test.expects {
        refs.collect(&expect.expr);
    }
    let mut out = format!("test {:?}\n", test.name);
    if refs.is_empty() {
        out.push_str("  its expectations mention no decision or eligibility block\n");
    }
    out.push_str(&harness.explain(&request, &refs).map_err(fail)?);
    Ok(out)
}

/// A test's environment and catalogs, grouped by schema.
struct Setup {
    env: Env,
    catalogs: BTreeMap<SchemaId, Vec<Value>>,
}

fn set_field(schema: &SchemaDef, fields: &mut [Value], name: &str, value: Value) -> Result<(), EvalError> {
    let slot = schema
        .field_index(name)
        .and_then(|i| fields.get_mut(i as usize))
        .ok_or_else(|| internal(format!("{} has no field `{name}`", schema.name)))?;
    *slot = value;
    Ok(())
}

fn builtin_schema(program: &Program, id: SchemaId) -> Result<&SchemaDef, EvalError> {
    program
        .schemas
        .get(id as usize)
        .ok_or_else(|| internal(format!("no built-in schema {id}")))
}

/// The default test context: `{ channel: Web, placement: "" }`.
fn default_context(program: &Program) -> Result<Value, EvalError> {
    let schema = builtin_schema(program, program.builtins.context)?;
    let web = program
        .enums
        .get(program.builtins.channel as usize)
        .and_then(|e| e.variants.iter().position(|v| v == "Web"))
        .ok_or_else(|| internal("std.Channel has no variant Web"))?;
    let mut fields = vec![Value::Missing; schema.fields.len()];
    set_field(schema, &mut fields, "channel", Value::Enum(web as u32))?;
    set_field(schema, &mut fields, "placement", Value::str(""))?;
    Ok(Value::Record(Arc::from(fields)))
}

fn context_placement(program: &Program, context: &Value) -> Result<String, EvalError> {
    let schema = builtin_schema(program, program.builtins.context)?;
    let index = schema
        .field_index("placement")
        .ok_or_else(|| internal("std.Context has no `placement` field"))?;
    match context {
        Value::Record(fields) => match fields.get(index as usize) {
            Some(Value::Str(s)) => Ok(s.to_string()),
            _ => Err(internal("the context's placement is not a String")),
        },
        _ => Err(internal("the context is not a record")),
    }
}

/// Builds the test's environment. Clauses are evaluated in the order `now`, `context`,
/// `profile`, catalogs, each seeing the ones before it (so a profile may use `now()`).
fn setup(evaluator: &Evaluator<'_>, test: &TestDef) -> Result<Setup, EvalError> {
    let program = evaluator.program();
    let mut env = Env {
        profile: None,
        context: default_context(program)?,
        now_ms: DEFAULT_NOW_MS,
        subject: Arc::from(test.subject.as_deref().unwrap_or(DEFAULT_SUBJECT)),
        consents: test.consent.clone(),
        impressions: Vec::new(),
    };
    if let Some(e) = &test.now {
        env.now_ms = match evaluator.request(&env).eval_expr(e, test.frame)? {
            Value::Timestamp(t) => t,
            _ => return Err(internal("the test's `now` is not a Timestamp")),
        };
    }
    if let Some(e) = &test.context {
        let context = evaluator.request(&env).eval_expr(e, test.frame)?;
        env.context = context;
    }
    if let Some(e) = &test.profile {
        let profile = evaluator.request(&env).eval_expr(e, test.frame)?;
        env.profile = Some(profile);
    }
    let mut catalogs: BTreeMap<SchemaId, Vec<Value>> = BTreeMap::new();
    {
        let request = evaluator.request(&env);
        for e in &test.catalogs {
            let schema = match &e.ty {
                Type::List(t) => match t.as_ref() {
                    Type::Record(s) => *s,
                    _ => return Err(internal("a catalog is not a list of records")),
                },
                _ => return Err(internal("a catalog is not a list")),
            };
            let value = request.eval_expr(e, test.frame)?;
            let items = value.elements().ok_or_else(|| internal("a catalog is not a list"))?;
            catalogs.entry(schema).or_default().extend_from_slice(items);
        }
    }
    let placement = context_placement(program, &env.context)?;
    let channel = context_channel(program, &env.context)?;
    for seen in &test.seen {
        let at_ms = env.now_ms.saturating_sub(seen.ago_ms);
        for _ in 0..seen.times.min(MAX_SEEN_TIMES) {
            env.impressions.push(Impression {
                offer_id: seen.offer.clone(),
                placement: placement.clone(),
                channel,
                at_ms,
            });
        }
    }
    Ok(Setup { env, catalogs })
}

/// Answers a test's decision and eligibility expressions over its catalogs, caching outcomes.
struct Harness<'a> {
    catalogs: &'a BTreeMap<SchemaId, Vec<Value>>,
    decisions: RefCell<BTreeMap<DecisionId, DecisionOutcome>>,
    eligibilities: RefCell<BTreeMap<EligibilityId, EligibilityReport>>,
}

/// The decisions and eligibility blocks an expression mentions, in order of first mention.
#[derive(Default)]
struct Refs {
    decisions: Vec<DecisionId>,
    eligibilities: Vec<EligibilityId>,
}

impl Refs {
    fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.eligibilities.is_empty()
    }

    fn collect(&mut self, e: &Expr) {
        visit(e, &mut |e| match e.kind {
            ExprKind::DecisionResult(d) if !self.decisions.contains(&d) => self.decisions.push(d),
            ExprKind::EligibilityResult(x) if !self.eligibilities.contains(&x) => self.eligibilities.push(x),
            _ => {}
        });
    }
}

/// Calls `f` on `e` and every expression inside it.
fn visit(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Lit(_)
        | ExprKind::Local(_)
        | ExprKind::Profile
        | ExprKind::Context
        | ExprKind::Now
        | ExprKind::Segment(_)
        | ExprKind::Const(_)
        | ExprKind::ExperimentIs { .. }
        | ExprKind::DecisionResult(_)
        | ExprKind::EligibilityResult(_)
        | ExprKind::Error => {}
        ExprKind::Field { base: x, .. }
        | ExprKind::Unary { operand: x, .. }
        | ExprKind::IntToFloat(x)
        | ExprKind::Some(x) => visit(x, f),
        ExprKind::Call { args, .. } | ExprKind::Builtin { args, .. } | ExprKind::Collection(args) => {
            args.iter().for_each(|a| visit(a, f))
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            visit(lhs, f);
            visit(rhs, f);
        }
        ExprKind::If { cond, then, otherwise } => {
            visit(cond, f);
            visit(then, f);
            visit(otherwise, f);
        }
        ExprKind::IfLet {
            value, then, otherwise, ..
        } => {
            visit(value, f);
            visit(then, f);
            visit(otherwise, f);
        }
        ExprKind::Coalesce { value, default } => {
            visit(value, f);
            visit(default, f);
        }
        ExprKind::Quantified { collection, body, .. } => {
            visit(collection, f);
            visit(body, f);
        }
        ExprKind::Record { fields, .. } => fields.iter().flatten().for_each(|x| visit(x, f)),
        ExprKind::With { base, updates } => {
            visit(base, f);
            updates.iter().for_each(|(_, x)| visit(x, f));
        }
    }
}

impl<'a> Harness<'a> {
    fn new(catalogs: &'a BTreeMap<SchemaId, Vec<Value>>) -> Harness<'a> {
        Harness {
            catalogs,
            decisions: RefCell::new(BTreeMap::new()),
            eligibilities: RefCell::new(BTreeMap::new()),
        }
    }

    fn catalog(&self, schema: SchemaId) -> &[Value] {
        self.catalogs.get(&schema).map(Vec::as_slice).unwrap_or(&[])
    }

    fn decision(&self, request: &Request<'_>, id: DecisionId) -> Result<DecisionOutcome, EvalError> {
        if let Some(o) = self.decisions.borrow().get(&id) {
            return Ok(o.clone());
        }
        let program = request.program();
        let def = program
            .decisions
            .get(id as usize)
            .ok_or_else(|| internal(format!("no decision {id}")))?;
        let schema = program
            .eligibilities
            .get(def.candidates as usize)
            .ok_or_else(|| internal(format!("no eligibility {}", def.candidates)))?
            .schema;
        let outcome = decide_in(request, id, self.catalog(schema), None)?;
        self.decisions.borrow_mut().insert(id, outcome.clone());
        Ok(outcome)
    }

    fn eligibility(&self, request: &Request<'_>, id: EligibilityId) -> Result<EligibilityReport, EvalError> {
        if let Some(r) = self.eligibilities.borrow().get(&id) {
            return Ok(r.clone());
        }
        let schema = request
            .program()
            .eligibilities
            .get(id as usize)
            .ok_or_else(|| internal(format!("no eligibility {id}")))?
            .schema;
        let report = eligibility_report(request, id, self.catalog(schema))?;
        self.eligibilities.borrow_mut().insert(id, report.clone());
        Ok(report)
    }

    /// The explanations of everything `refs` names, decisions first.
    fn explain(&self, request: &Request<'_>, refs: &Refs) -> Result<String, EvalError> {
        let mut parts = Vec::new();
        for &d in &refs.decisions {
            parts.push(explain_decision(&self.decision(request, d)?));
        }
        for &e in &refs.eligibilities {
            parts.push(explain_eligibility(&self.eligibility(request, e)?));
        }
        Ok(parts.concat())
    }
}

fn strings(ids: impl Iterator<Item = Arc<str>>) -> Value {
    Value::list(ids.map(Value::Str).collect())
}

impl TestResults for Harness<'_> {
    fn decision_result(&self, request: &Request<'_>, decision: DecisionId) -> Result<Value, EvalError> {
        let outcome = self.decision(request, decision)?;
        let program = request.program();
        let schema = builtin_schema(program, program.builtins.decision_result)?;
        let mut fields = vec![Value::Missing; schema.fields.len()];
        let offers: Vec<Arc<str>> = match &outcome.fallback {
            Some(f) => f.content_id.iter().map(|c| Arc::from(c.as_str())).collect(),
            None => outcome.offers.iter().map(|o| o.id.clone()).collect(),
        };
        let first = offers.first().map_or(Value::Missing, |s| Value::str(s));
        set_field(schema, &mut fields, "first", first)?;
        set_field(schema, &mut fields, "offers", strings(offers.into_iter()))?;
        let variant = outcome.variant.as_deref().map_or(Value::Missing, Value::str);
        set_field(schema, &mut fields, "variant", variant)?;
        let fallback = Value::Bool(outcome.fallback.is_some());
        set_field(schema, &mut fields, "fallback", fallback)?;
        Ok(Value::Record(Arc::from(fields)))
    }

    fn eligibility_result(&self, request: &Request<'_>, eligibility: EligibilityId) -> Result<Value, EvalError> {
        let report = self.eligibility(request, eligibility)?;
        let program = request.program();
        let schema = builtin_schema(program, program.builtins.eligibility_result)?;
        let mut fields = vec![Value::Missing; schema.fields.len()];
        let (eligible, removed): (Vec<_>, Vec<_>) = report.candidates.into_iter().partition(|c| c.removed_by.is_none());
        set_field(
            schema,
            &mut fields,
            "eligible",
            strings(eligible.into_iter().map(|c| c.id)),
        )?;
        set_field(
            schema,
            &mut fields,
            "removed",
            strings(removed.into_iter().map(|c| c.id)),
        )?;
        Ok(Value::Record(Arc::from(fields)))
    }
}

fn run_test(evaluator: &Evaluator<'_>, test: &TestDef) -> TestOutcome {
    let setup = match setup(evaluator, test) {
        Ok(s) => s,
        Err(EvalError::NoProfile) => {
            return TestOutcome::Failed {
                failures: vec![Failure {
                    span: test.span,
                    message: NO_PROFILE_MESSAGE.into(),
                    explanation: None,
                }],
            }
        }
        Err(e) => return TestOutcome::Error(e.to_string()),
    };
    let harness = Harness::new(&setup.catalogs);
    let request = evaluator.test_request(&setup.env, &harness);
    let mut failures: Vec<Failure> = Vec::new();
    for expect in &test.expects {
        match request.eval_expr(&expect.expr, test.frame) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                let mut refs = Refs::default();
                refs.collect(&expect.expr);
                let explanation = if refs.is_empty() {
                    None
                } else {
                    match harness.explain(&request, &refs) {
                        Ok(text) => Some(text),
                        Err(e) => return TestOutcome::Error(e.to_string()),
                    }
                };
                failures.push(Failure {
                    span: expect.span,
                    message: failure_message(&request, &expect.expr, test.frame),
                    explanation,
                });
            }
            Ok(_) => return TestOutcome::Error("internal error: an expectation is not a Bool".to_string()),
            Err(EvalError::NoProfile) => {
                // Reported once per test: every later read would say the same.
                if !failures.iter().any(|f| f.message == NO_PROFILE_MESSAGE) {
                    failures.push(Failure {
                        span: expect.span,
                        message: NO_PROFILE_MESSAGE.into(),
                        explanation: None,
                    });
                }
            }
            Err(e) => return TestOutcome::Error(e.to_string()),
        }
    }
    if failures.is_empty() {
        TestOutcome::Passed
    } else {
        TestOutcome::Failed { failures }
    }
}

fn op_symbol(op: BinaryOp) -> Option<&'static str> {
    Some(match op {
        BinaryOp::Eq => "==",
        BinaryOp::Ne => "!=",
        BinaryOp::Lt => "<",
        BinaryOp::Le => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::Ge => ">=",
        BinaryOp::In => "in",
        BinaryOp::StrContains => "contains",
        _ => return None,
    })
}

/// `expected <lhs> <op> <rhs>` with both sides' values for a comparison (or its negation),
/// otherwise `expected true, got false`.
fn failure_message(request: &Request<'_>, expr: &Expr, frame: u32) -> String {
    let (negated, inner) = match &expr.kind {
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => (true, operand.as_ref()),
        _ => (false, expr),
    };
    if let ExprKind::Binary { op, lhs, rhs } = &inner.kind {
        if let Some(symbol) = op_symbol(*op) {
            let program = request.program();
            if let (Ok(l), Ok(r)) = (request.eval_expr(lhs, frame), request.eval_expr(rhs, frame)) {
                let text = format!(
                    "{} {symbol} {}",
                    l.display(&lhs.ty, program),
                    r.display(&rhs.ty, program)
                );
                return if negated {
                    format!("expected not ({text})")
                } else {
                    format!("expected {text}")
                };
            }
        }
    }
    "expected true, got false".into()
}
