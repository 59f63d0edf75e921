//! Decisions: from a catalog to the offers a subject is shown, with a trace of why.
//!
//! The order is fixed by the language reference: channel policy → consent → experiment
//! assignment (the holdout gets the fallback) → every catalog candidate through the eligibility
//! rules → caps → score and sort → keep `max` → the fallback if nothing is left. Every
//! candidate that reaches the rules gets a [`CandidateTrace`] saying which rule removed it,
//! which cap stopped it, or what score it had and whether it was chosen; the outcome is
//! serializable because the runtime returns it as JSON and the audit log records it.

use crate::interp::eval::{internal, EvalError, Evaluator, RankScore, Request};
use crate::interp::experiment::Assignment;
use crate::interp::value::Value;
use crate::ir::{CapScope, DecisionId, EligibilityId, ExperimentId, Program, RankingId, SchemaId};
use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::sync::Arc;

/// The result of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionOutcome {
    /// The decision's name.
    pub decision: String,
    /// The placement it serves.
    pub placement: String,
    /// The chosen offers, best first; empty when the fallback was served.
    pub offers: Vec<Chosen>,
    /// The experiment's name, if the decision has one.
    pub experiment: Option<String>,
    /// The assigned variant's name, or `"holdout"`; `None` without an experiment, for a subject
    /// outside the experiment's layer slice, or when the decision stopped before assignment.
    pub variant: Option<String>,
    /// Set when the decision fell back instead of choosing offers.
    pub fallback: Option<Fallback>,
    /// How long a channel may cache the answer.
    pub ttl_ms: i64,
    /// One entry per catalog candidate that reached the eligibility rules, in catalog order
    /// (with [`TraceLevel::Full`] only).
    pub trace: Vec<CandidateTrace>,
    /// The same story as `trace`, by index into the program and the catalog (with
    /// [`TraceLevel::Verdicts`] and [`TraceLevel::Full`]): what the audit log records, cheap to
    /// build because it shares no strings. Read it with [`Verdicts`].
    #[serde(skip)]
    pub verdicts: Vec<Verdict>,
}

/// How much of a decision's per-candidate story to keep. The answer (offers, scores, variant,
/// fallback) is the same at every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceLevel {
    /// No story: for callers that only use the answer (batch plans, what-if candidates).
    None,
    /// [`DecisionOutcome::verdicts`] only: what the audit log and replay need.
    Verdicts,
    /// The verdicts and the named [`DecisionOutcome::trace`] (explanations).
    Full,
}

/// What happened to one candidate, as indices: the compact form of [`CandidateOutcome`], read
/// with the names it refers to through [`Verdicts`].
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Eligible and under its caps, so it was scored.
    Kept {
        score: f64,
        /// Its position among the chosen offers, starting at 1; `None` when `max` cut it.
        rank: Option<u32>,
        /// Indices into the ranking's boosts of those that applied.
        boosts: Vec<usize>,
    },
    /// Rule `rule` (an index into the eligibility block's rules) removed it.
    Removed { rule: usize },
    /// Cap `cap` (an index into the decision's caps) stopped it after `seen` impressions.
    Capped { cap: usize, seen: u64 },
}

/// A decision's [`Verdict`]s with what they refer to: the rules, caps and boosts of the
/// decision and the candidates of the catalog it ran on.
#[derive(Clone, Copy)]
pub struct Verdicts<'a> {
    verdicts: &'a [Verdict],
    catalog: &'a [Value],
    decision: &'a crate::ir::DecisionDef,
    rules: &'a [crate::ir::RuleDef],
    boosts: &'a [crate::ir::BoostDef],
    id_index: Option<usize>,
}

impl<'a> Verdicts<'a> {
    /// The verdicts of decision `decision` of `program` run over `catalog`.
    pub fn new(
        program: &'a Program,
        decision: DecisionId,
        catalog: &'a [Value],
        verdicts: &'a [Verdict],
    ) -> Result<Verdicts<'a>, EvalError> {
        let def = program
            .decisions
            .get(decision as usize)
            .ok_or_else(|| internal(format!("no decision {decision}")))?;
        let elig = program
            .eligibilities
            .get(def.candidates as usize)
            .ok_or_else(|| internal(format!("no eligibility {}", def.candidates)))?;
        let boosts = match def.rank {
            Some(r) => {
                &program
                    .rankings
                    .get(r as usize)
                    .ok_or_else(|| internal(format!("no ranking {r}")))?
                    .boosts
            }
            None => &[][..],
        };
        Ok(Verdicts {
            verdicts,
            catalog,
            decision: def,
            rules: &elig.rules,
            boosts,
            id_index: id_field(program, elig.schema),
        })
    }

    /// The verdicts, in catalog order (the index is the candidate's catalog position).
    pub fn all(&self) -> &'a [Verdict] {
        self.verdicts
    }

    /// The id of the candidate at catalog position `position` (`#n` without an `id` field).
    pub fn id(&self, position: usize) -> std::borrow::Cow<'a, str> {
        Verdicts::id_of(self.catalog, self.id_index, position)
    }

    fn id_of(catalog: &[Value], id_index: Option<usize>, position: usize) -> std::borrow::Cow<'_, str> {
        match id_str(catalog.get(position), id_index) {
            Some(s) => std::borrow::Cow::Borrowed(&**s),
            None => std::borrow::Cow::Owned(position_id(position)),
        }
    }

    /// Rule `index` of the decision's eligibility block.
    pub fn rule(&self, index: usize) -> Option<&'a crate::ir::RuleDef> {
        self.rules.get(index)
    }

    /// The number of rules of the decision's eligibility block.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Cap `index` of the decision.
    pub fn cap(&self, index: usize) -> Option<&'a crate::ir::CapDef> {
        self.decision.caps.get(index)
    }

    /// The id of boost `index` of the decision's ranking.
    pub fn boost(&self, index: usize) -> Option<&'a Arc<str>> {
        self.boosts.get(index).map(|b| &b.id)
    }

    /// The named trace: one [`CandidateTrace`] per verdict.
    pub fn traces(&self) -> Result<Vec<CandidateTrace>, EvalError> {
        self.verdicts
            .iter()
            .enumerate()
            .map(|(position, verdict)| {
                let outcome = match verdict {
                    Verdict::Kept { score, rank, boosts } => CandidateOutcome::Kept {
                        score: *score,
                        rank: *rank,
                        boosts: boosts.iter().filter_map(|&b| self.boost(b).cloned()).collect(),
                    },
                    Verdict::Removed { rule } => {
                        let rule = self.rule(*rule).ok_or_else(|| internal("rule index out of range"))?;
                        CandidateOutcome::Removed {
                            rule: rule.id.clone(),
                            reason: rule.reason.clone(),
                        }
                    }
                    Verdict::Capped { cap, seen } => {
                        let cap = self.cap(*cap).ok_or_else(|| internal("cap index out of range"))?;
                        CandidateOutcome::Capped {
                            scope: cap.scope,
                            limit: cap.limit,
                            window_ms: cap.window_ms,
                            seen: *seen,
                        }
                    }
                };
                Ok(CandidateTrace {
                    id: candidate_id(self.catalog.get(position), self.id_index, position),
                    outcome,
                })
            })
            .collect()
    }
}

/// A chosen offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chosen {
    /// The candidate's `id` field.
    pub id: Arc<str>,
    /// Its final ranking score (0 without a ranking).
    pub score: f64,
}

/// Why and what a decision fell back to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fallback {
    /// The decision's `fallback` content, if it declares one.
    pub content_id: Option<String>,
    pub reason: FallbackReason,
}

/// Why a decision fell back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// The request's channel is not among the decision's `channels`.
    ChannelNotAllowed,
    /// The subject has not consented to the decision's `consent` purpose.
    ConsentMissing,
    /// The subject is in the experiment's holdout.
    Holdout,
    /// No candidate survived the rules and caps.
    NothingEligible,
}

/// What happened to one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateTrace {
    /// The candidate's `id` field.
    pub id: Arc<str>,
    #[serde(flatten)]
    pub outcome: CandidateOutcome,
}

/// The fate of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CandidateOutcome {
    /// Eligible and under its caps, so it was scored.
    Kept {
        score: f64,
        /// Its position among the chosen offers, starting at 1; `None` when `max` cut it.
        rank: Option<u32>,
        /// Ids of the boosts that applied.
        boosts: Vec<Arc<str>>,
    },
    /// An eligibility rule removed it.
    Removed {
        /// The rule's identity, `package.block.label`.
        rule: Arc<str>,
        /// The rule's `because` text.
        reason: Option<Arc<str>>,
    },
    /// A frequency cap stopped it.
    Capped {
        #[serde(serialize_with = "serialize_cap_scope")]
        scope: CapScope,
        limit: u32,
        window_ms: i64,
        /// Impressions counted in the window.
        seen: u64,
    },
}

fn serialize_cap_scope<S: Serializer>(scope: &CapScope, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(scope.keyword())
}

/// An eligibility block applied to a catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EligibilityReport {
    /// The block's name.
    pub eligibility: String,
    /// Every candidate, in catalog order.
    pub candidates: Vec<EligibilityTrace>,
}

/// One candidate's eligibility.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EligibilityTrace {
    /// The candidate's `id` field, or `#n` (its 1-based catalog position) when its schema has
    /// no `id: String` field.
    pub id: Arc<str>,
    /// The rule that removed it; `None` when eligible.
    pub removed_by: Option<RemovedBy>,
}

/// The rule that removed a candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovedBy {
    /// The rule's identity, `package.block.label`.
    pub rule: Arc<str>,
    /// The rule's `because` text.
    pub reason: Option<Arc<str>>,
}

/// The index of the `id: String` field of a schema, if it has one.
pub fn id_field(program: &Program, schema: SchemaId) -> Option<usize> {
    let def = program.schemas.get(schema as usize)?;
    let i = def.field_index("id")? as usize;
    (def.fields.get(i)?.ty == crate::ir::Type::String).then_some(i)
}

/// The id of a candidate record, given the index of its `id` field.
fn candidate_id(candidate: Option<&Value>, id_index: Option<usize>, position: usize) -> Arc<str> {
    id_str(candidate, id_index)
        .cloned()
        .unwrap_or_else(|| Arc::from(position_id(position)))
}

/// The `id` string of a candidate record, given the index of its `id` field.
fn id_str(candidate: Option<&Value>, id_index: Option<usize>) -> Option<&Arc<str>> {
    match (candidate, id_index) {
        (Some(Value::Record(fields)), Some(i)) => match fields.get(i) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// The id of a candidate without one: `#n`, its 1-based catalog position.
fn position_id(position: usize) -> String {
    format!("#{}", position + 1)
}

/// The per-candidate work of a decision: what a backend computes, while the orchestration
/// around it ([`decide_with`], [`eligibility_report_with`]) is shared, so the interpreter and the
/// JIT build their outcomes and traces with the same code.
pub trait CandidateEvaluator {
    /// The first failing rule of eligibility block `id` for each candidate of `catalog`, in
    /// catalog order (`None`: eligible).
    fn first_failing_rules(&mut self, id: EligibilityId, catalog: &[Value]) -> Result<Vec<Option<usize>>, EvalError>;
    /// Ranking `id` of the candidates at `positions` (indices into `catalog`), in that order.
    fn rank_scores(
        &mut self,
        id: RankingId,
        catalog: &[Value],
        positions: &[usize],
    ) -> Result<Vec<RankScore>, EvalError>;
    /// The subject's assignment in experiment `id`.
    fn assignment(&mut self, id: ExperimentId) -> Result<Assignment, EvalError>;
}

/// The interpreter as a [`CandidateEvaluator`].
impl CandidateEvaluator for &Request<'_> {
    fn first_failing_rules(&mut self, id: EligibilityId, catalog: &[Value]) -> Result<Vec<Option<usize>>, EvalError> {
        catalog.iter().map(|c| self.first_failing_rule(id, c)).collect()
    }

    fn rank_scores(
        &mut self,
        id: RankingId,
        catalog: &[Value],
        positions: &[usize],
    ) -> Result<Vec<RankScore>, EvalError> {
        positions
            .iter()
            .map(|&p| {
                let c = catalog
                    .get(p)
                    .ok_or_else(|| internal("candidate position out of range"))?;
                self.rank_score(id, c)
            })
            .collect()
    }

    fn assignment(&mut self, id: ExperimentId) -> Result<Assignment, EvalError> {
        Request::assignment(self, id)
    }
}

/// The channel (a variant index of `std.Channel`) of a `std.Context` record.
pub fn context_channel(program: &Program, context: &Value) -> Result<u32, EvalError> {
    let schema = program
        .schemas
        .get(program.builtins.context as usize)
        .ok_or_else(|| internal("the program has no std.Context schema"))?;
    let index = schema
        .field_index("channel")
        .ok_or_else(|| internal("std.Context has no `channel` field"))?;
    match context {
        Value::Record(fields) => match fields.get(index as usize) {
            Some(Value::Enum(c)) => Ok(*c),
            _ => Err(internal("the context's `channel` is not a Channel")),
        },
        _ => Err(internal("the context is not a record")),
    }
}

/// Applies an eligibility block to every candidate of `catalog`.
pub fn eligibility_report(
    request: &Request<'_>,
    eligibility: EligibilityId,
    catalog: &[Value],
) -> Result<EligibilityReport, EvalError> {
    let mut engine = request;
    eligibility_report_with(request.program(), &mut engine, eligibility, catalog)
}

/// [`eligibility_report`] with the rules evaluated by `engine`.
pub fn eligibility_report_with(
    program: &Program,
    engine: &mut impl CandidateEvaluator,
    eligibility: EligibilityId,
    catalog: &[Value],
) -> Result<EligibilityReport, EvalError> {
    let def = program
        .eligibilities
        .get(eligibility as usize)
        .ok_or_else(|| internal(format!("no eligibility {eligibility}")))?;
    let id_index = id_field(program, def.schema);
    let failing = engine.first_failing_rules(eligibility, catalog)?;
    if failing.len() != catalog.len() {
        return Err(internal(
            "a backend returned verdicts for a different number of candidates",
        ));
    }
    let mut candidates = Vec::with_capacity(catalog.len());
    for (position, (candidate, failed)) in catalog.iter().zip(failing).enumerate() {
        let removed_by = failed.and_then(|i| def.rules.get(i)).map(|rule| RemovedBy {
            rule: rule.id.clone(),
            reason: rule.reason.clone(),
        });
        candidates.push(EligibilityTrace {
            id: candidate_id(Some(candidate), id_index, position),
            removed_by,
        });
    }
    Ok(EligibilityReport {
        eligibility: def.name.clone(),
        candidates,
    })
}

/// Runs decision `decision` for `env` over `catalog` (records of the schema of the decision's
/// eligibility block). `max_override` lowers the decision's `max` (a request's
/// `max_variants`); it never raises it.
pub fn decide(
    program: &Program,
    decision: DecisionId,
    env: &crate::interp::eval::Env,
    catalog: &[Value],
    max_override: Option<u32>,
) -> Result<DecisionOutcome, EvalError> {
    let evaluator = Evaluator::new(program);
    let request = evaluator.request(env);
    decide_in(&request, decision, catalog, max_override)
}

/// [`decide`] within an existing request, sharing its memoized segments and assignments (and
/// its evaluator's constants).
pub fn decide_in(
    request: &Request<'_>,
    decision: DecisionId,
    catalog: &[Value],
    max_override: Option<u32>,
) -> Result<DecisionOutcome, EvalError> {
    let mut engine = request;
    decide_with(
        request.program(),
        request.env()?,
        &mut engine,
        decision,
        catalog,
        max_override,
    )
}

/// The decision procedure with the per-candidate work (rules, ranking, assignment) done by
/// `engine`: the one orchestration both backends share.
pub fn decide_with(
    program: &Program,
    env: &crate::interp::eval::Env,
    engine: &mut impl CandidateEvaluator,
    decision: DecisionId,
    catalog: &[Value],
    max_override: Option<u32>,
) -> Result<DecisionOutcome, EvalError> {
    decide_traced(program, env, engine, decision, catalog, max_override, TraceLevel::Full)
}

/// [`decide_with`] keeping `trace` of the per-candidate story: the chosen offers, scores,
/// variant and fallback are the same at every level. Below [`TraceLevel::Full`] the outcome's
/// `trace` is empty, which saves an entry of shared strings per candidate; the verdicts (kept at
/// [`TraceLevel::Verdicts`]) say the same by index.
pub fn decide_traced(
    program: &Program,
    env: &crate::interp::eval::Env,
    engine: &mut impl CandidateEvaluator,
    decision: DecisionId,
    catalog: &[Value],
    max_override: Option<u32>,
    trace: TraceLevel,
) -> Result<DecisionOutcome, EvalError> {
    let def = program
        .decisions
        .get(decision as usize)
        .ok_or_else(|| internal(format!("no decision {decision}")))?;
    let keep = trace != TraceLevel::None;
    let mut out = DecisionOutcome {
        decision: def.name.clone(),
        placement: def.placement.clone(),
        offers: Vec::new(),
        experiment: None,
        variant: None,
        fallback: None,
        ttl_ms: def.ttl_ms,
        trace: Vec::new(),
        verdicts: Vec::new(),
    };
    let fall_back = |mut out: DecisionOutcome, reason: FallbackReason| -> Result<DecisionOutcome, EvalError> {
        out.fallback = Some(Fallback {
            content_id: def.fallback.clone(),
            reason,
        });
        Ok(out)
    };

    // Channel policy, then consent, then the experiment's holdout.
    if let Some(channels) = &def.channels {
        let channel = context_channel(program, &env.context)?;
        if !channels.contains(&channel) {
            return fall_back(out, FallbackReason::ChannelNotAllowed);
        }
    }
    if let Some(purpose) = &def.consent {
        if !env.consents.iter().any(|c| c == purpose) {
            return fall_back(out, FallbackReason::ConsentMissing);
        }
    }
    if let Some(experiment) = def.experiment {
        let edef = program
            .experiments
            .get(experiment as usize)
            .ok_or_else(|| internal(format!("no experiment {experiment}")))?;
        let assignment = engine.assignment(experiment)?;
        out.experiment = Some(edef.name.clone());
        // Not enrolled (outside the experiment's layer slice): no variant, decided as without.
        out.variant = assignment.variant_name(edef).map(str::to_string);
        if assignment == Assignment::Holdout {
            return fall_back(out, FallbackReason::Holdout);
        }
    }

    // Eligibility: the first failing rule removes a candidate.
    let elig = program
        .eligibilities
        .get(def.candidates as usize)
        .ok_or_else(|| internal(format!("no eligibility {}", def.candidates)))?;
    let id_index = id_field(program, elig.schema);
    let failing = engine.first_failing_rules(def.candidates, catalog)?;
    if failing.len() != catalog.len() {
        return Err(internal(
            "a backend returned verdicts for a different number of candidates",
        ));
    }
    // Survivors by catalog position; each candidate's verdict (when kept) is at its position.
    let mut survivors: Vec<usize> = Vec::new();
    if keep {
        out.verdicts.reserve_exact(catalog.len());
    }
    for (position, failed) in failing.into_iter().enumerate() {
        match failed {
            Some(rule) => {
                if rule >= elig.rules.len() {
                    return Err(internal("rule index out of range"));
                }
                if keep {
                    out.verdicts.push(Verdict::Removed { rule });
                }
            }
            None => {
                survivors.push(position);
                if keep {
                    // Replaced below by the candidate's cap or score.
                    out.verdicts.push(Verdict::Kept {
                        score: 0.0,
                        rank: None,
                        boosts: Vec::new(),
                    });
                }
            }
        }
    }
    let id_at = |position: usize| Verdicts::id_of(catalog, id_index, position);

    // Caps: impressions within the window (now - window, now], at this placement (of the
    // offer, or of anything), or on the request's channel at any placement.
    if !def.caps.is_empty() {
        let now = env.now_ms;
        let channel = if def.caps.iter().any(|c| c.scope == CapScope::Channel) {
            Some(context_channel(program, &env.context)?)
        } else {
            None
        };
        let seen = |scope: CapScope, window_ms: i64, offer: &str| -> u64 {
            let start = now.saturating_sub(window_ms);
            env.impressions
                .iter()
                .filter(|i| {
                    i.at_ms > start
                        && i.at_ms <= now
                        && match scope {
                            CapScope::Offer => i.placement == def.placement && i.offer_id == offer,
                            CapScope::Placement => i.placement == def.placement,
                            CapScope::Channel => Some(i.channel) == channel,
                        }
                })
                .count() as u64
        };
        let verdicts = &mut out.verdicts;
        survivors.retain(|&position| {
            let id = id_at(position);
            for (cap, c) in def.caps.iter().enumerate() {
                let n = seen(c.scope, c.window_ms, &id);
                if n >= u64::from(c.limit) {
                    if let Some(v) = verdicts.get_mut(position) {
                        *v = Verdict::Capped { cap, seen: n };
                    }
                    return false;
                }
            }
            true
        });
    }

    // Score and sort: descending, stable (ties keep catalog order), NaN last.
    let mut scored: Vec<(usize, f64, Vec<usize>)> = match def.rank {
        Some(r) => {
            let scores = engine.rank_scores(r, catalog, &survivors)?;
            if scores.len() != survivors.len() {
                return Err(internal(
                    "a backend returned scores for a different number of candidates",
                ));
            }
            survivors
                .into_iter()
                .zip(scores)
                .map(|(p, s)| (p, s.score, if keep { s.boosts } else { Vec::new() }))
                .collect()
        }
        None => survivors.into_iter().map(|p| (p, 0.0, Vec::new())).collect(),
    };
    scored.sort_by(|a, b| score_order(a.1, b.1));

    let max = def.max.min(max_override.unwrap_or(u32::MAX)) as usize;
    for (index, (position, score, boosts)) in scored.into_iter().enumerate() {
        let chosen = index < max;
        if chosen {
            out.offers.push(Chosen {
                id: candidate_id(catalog.get(position), id_index, position),
                score,
            });
        }
        if let Some(v) = out.verdicts.get_mut(position) {
            *v = Verdict::Kept {
                score,
                rank: chosen.then(|| (index + 1) as u32),
                boosts,
            };
        }
    }
    if trace == TraceLevel::Full {
        out.trace = Verdicts::new(program, decision, catalog, &out.verdicts)?.traces()?;
    }

    if out.offers.is_empty() && def.fallback.is_some() {
        return fall_back(out, FallbackReason::NothingEligible);
    }
    Ok(out)
}

/// The ranking order: higher scores first, every NaN after every number, equal scores (and
/// `0.0` against `-0.0`) equal so a stable sort keeps catalog order.
pub fn score_order(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}
