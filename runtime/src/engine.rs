//! The decide flow and everything else that touches a subject's data: the [`Engine`] ties the
//! store, the identity graph, profiles, consent, caps, the registry and the audit log together.
//!
//! One decision, in order: resolve the tenant's live bundle (one `Arc` load: the request
//! finishes on it whatever is deployed meanwhile) and the placement's decision → resolve the
//! subject's identity and load its profile, features, consent and recent impressions, within
//! the request's deadline → build the policies' environment → evaluate (segments, eligibility,
//! ranking, experiment, caps, channel policy and consent are all the policy's, evaluated by the
//! configured backend) → late-bind content into templates → append the audit record → answer.
//!
//! Degrade, don't fail: when loading the subject's data fails or is late, when the catalog is
//! unavailable, when the store has never seen the subject and the policy needs a profile, or
//! when evaluation itself fails, the placement's declared fallback is served and the response
//! says why (`fallback.reason`). Client mistakes (unknown tenant or placement, bad fields) are
//! [`EngineError`]s, answered as 4xx by the HTTP layer.

use crate::audit::{AuditLog, AuditRecord, BundleRef, CompactTrace};
use crate::caps::{self, StoredEvent, StoredImpression};
use crate::catalog::{CatalogDoc, TemplateInput};
use crate::config::Config;
use crate::consent::{self, ConsentRecord};
use crate::identity::{self, Hasher, Identifier, Identity, IdentityError, Resolved};
use crate::metrics::Metrics;
use crate::profiles::{self, Object};
use crate::registry::{wall_ms, DeployError, Live, Registry};
use crate::store::{Faults, FaultyStore, SharedStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tailor_compiler::interp::{
    value_from_json, CandidateOutcome, DataError, Env, EvalError, Impression, TraceLevel, Verdicts,
};
use tailor_compiler::ir::Type;

/// A decide request (`POST /personalization/decide`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub subject: SubjectRef,
    pub context: ContextIn,
    #[serde(default)]
    pub constraints: Constraints,
    /// Free-form hints (`intent`, `scenario`, `locale`, …), recorded in the audit log;
    /// `locale` and `scenario` fill the context's fields when it leaves them out.
    #[serde(default)]
    pub hints: Option<serde_json::Map<String, Json>>,
}

/// Who the decision is for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    /// The tenant's subject id (customer key).
    pub id: Option<String>,
    pub tenant_id: String,
    /// Identifiers to resolve when `id` is absent (e-mail, device id, …).
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
}

/// Where the decision is shown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextIn {
    /// A `std.Channel` variant: `Web`, `App`, `Email`, `Sms`, `Push`.
    pub channel: String,
    pub placement: String,
    pub scenario: Option<String>,
    pub locale: Option<String>,
}

fn yes() -> bool {
    true
}

/// Limits the caller sets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// Lowers the decision's `max` (never raises it).
    pub max_variants: Option<u32>,
    /// Whether consent is enforced (default true).
    #[serde(default = "yes")]
    pub require_consent: bool,
}

impl Default for Constraints {
    fn default() -> Constraints {
        Constraints {
            max_variants: None,
            require_consent: true,
        }
    }
}

/// A client mistake or a server fault, for the HTTP layer to answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    #[error("tenant `{tenant}` has no decision for placement `{placement}`")]
    UnknownPlacement { tenant: String, placement: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("`constraints.require_consent: false` is not allowed on this server")]
    ConsentBypassForbidden,
    #[error("unknown decision `{0}`")]
    UnknownDecision(String),
    #[error("fault injection is disabled (set `[faults] enabled = true`)")]
    FaultsDisabled,
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<IdentityError> for EngineError {
    fn from(e: IdentityError) -> EngineError {
        match e {
            IdentityError::Store(s) => EngineError::Store(s),
            other => EngineError::Invalid {
                field: "subject".into(),
                message: other.to_string(),
            },
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn data_error(field: &str, e: DataError) -> EngineError {
    invalid(&format!("{field}{}", e.path), e.message)
}

/// A subject's data, loaded for one decision.
struct Inputs {
    resolved: Resolved,
    profile: Option<Object>,
    features: Object,
    counters: Object,
    consents: Vec<ConsentRecord>,
    impressions: Vec<StoredImpression>,
}

/// Why the fallback was served without evaluating.
type Degraded = &'static str;

/// The runtime: shared by every request.
pub struct Engine {
    pub config: Config,
    pub store: SharedStore,
    pub hasher: Hasher,
    pub registry: Registry,
    pub audit: AuditLog,
    pub metrics: Metrics,
    pub faults: Arc<Faults>,
    /// Batch plans running in this process (`batch.rs`).
    pub plans: crate::batch::Plans,
    fixed_now: Option<i64>,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store in `{dir}`: {source}")]
    Store { dir: String, source: StoreError },
}

impl Engine {
    /// Opens the sled store in the configured directory and loads every tenant.
    pub fn open(config: Config) -> Result<Arc<Engine>, StartError> {
        let dir = config.data_dir.clone();
        let sled = crate::store::sled::SledStore::open(&dir, Some(1000)).map_err(|source| StartError::Store {
            dir: dir.display().to_string(),
            source,
        })?;
        Engine::with_store(config, Arc::new(sled))
    }

    /// An engine over any store (tests use the in-memory one).
    pub fn with_store(config: Config, inner: SharedStore) -> Result<Arc<Engine>, StartError> {
        let faults = Arc::new(Faults::default());
        let store: SharedStore = if config.faults.enabled {
            Arc::new(FaultyStore::new(inner, faults.clone()))
        } else {
            inner
        };
        let key =
            identity::load_or_create_key(store.as_ref(), config.identity.hash_key.as_deref()).map_err(|source| {
                StartError::Store {
                    dir: config.data_dir.display().to_string(),
                    source,
                }
            })?;
        // A plan recorded as running belongs to a process that is gone.
        let plans_dir = config
            .batch
            .dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("plans"));
        if let Err(e) = crate::batch::recover(store.as_ref(), &plans_dir) {
            tracing::error!(error = %e, "cannot mark interrupted batch plans");
        }
        let registry = Registry::new(store.clone(), config.backend);
        if let Err(e) = registry.load_all() {
            tracing::error!(error = %e, "cannot list the tenants");
        }
        let audit = AuditLog::start(
            store.clone(),
            config.audit.durability,
            config.audit.batch_max,
            Duration::from_millis(config.audit.ack_timeout_ms),
        );
        Ok(Arc::new(Engine {
            fixed_now: config.fixed_now_ms(),
            hasher: Hasher::new(&key),
            store,
            registry,
            audit,
            metrics: Metrics::new(),
            faults,
            plans: crate::batch::Plans::default(),
            config,
        }))
    }

    /// The request time: the wall clock, or the configured fixed time.
    pub fn now_ms(&self) -> i64 {
        self.fixed_now.unwrap_or_else(wall_ms)
    }

    fn identity(&self) -> Identity<'_> {
        Identity {
            store: self.store.as_ref(),
            hasher: &self.hasher,
        }
    }

    fn live(&self, tenant: &str) -> Result<Arc<Live>, EngineError> {
        self.registry
            .tenant(tenant)
            .map(|t| t.live.load_full())
            .ok_or_else(|| EngineError::UnknownTenant(tenant.to_string()))
    }

    fn new_decision_id(&self) -> String {
        let seq = match self.store.next_id() {
            Ok(n) => n,
            Err(_) => identity::random_bytes(8)
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        };
        format!("{:012x}{:012x}", wall_ms(), seq & 0xffff_ffff_ffff)
    }

    /// Answers one decide request. `Err` only for client mistakes; every dependency failure is a
    /// fallback in the answer.
    pub async fn decide(self: &Arc<Self>, req: DecideRequest, explain: bool) -> Result<Json, EngineError> {
        let started = Instant::now();
        let tenant = req.subject.tenant_id.clone();
        let live = self.live(&tenant)?;
        let program = live.bundle.program();
        let placement = req.context.placement.clone();
        let Some(decision) = program.decision_for_placement(&placement) else {
            return Err(EngineError::UnknownPlacement { tenant, placement });
        };
        let def = program
            .decisions
            .get(decision as usize)
            .ok_or_else(|| EngineError::Internal("decision index out of range".into()))?;
        let channel = req.context.channel.clone();
        if !live.channels.contains(&channel) {
            return Err(invalid(
                "context.channel",
                format!(
                    "unknown channel `{channel}` (expected one of: {})",
                    live.channels.join(", ")
                ),
            ));
        }
        if req.constraints.max_variants == Some(0) {
            return Err(invalid("constraints.max_variants", "must be at least 1"));
        }
        if !req.constraints.require_consent && !self.config.decide.allow_consent_bypass {
            return Err(EngineError::ConsentBypassForbidden);
        }
        if req.subject.id.as_deref().is_some_and(|id| id.is_empty()) {
            return Err(invalid("subject.id", "must not be empty"));
        }
        if req.subject.id.is_none() && req.subject.identifiers.is_empty() {
            return Err(invalid("subject", "give `subject.id` or at least one identifier"));
        }
        for ident in &req.subject.identifiers {
            ident.validate().map_err(EngineError::from)?;
        }
        let hint = |name: &str| {
            req.hints
                .as_ref()
                .and_then(|h| h.get(name))
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        let mut context_json = json!({ "channel": channel, "placement": placement });
        if let Some(s) = req.context.scenario.clone().or_else(|| hint("scenario")) {
            context_json["scenario"] = Json::String(s);
        }
        if let Some(l) = req.context.locale.clone().or_else(|| hint("locale")) {
            context_json["locale"] = Json::String(l);
        }
        let context = value_from_json(program, &Type::Record(program.builtins.context), &context_json)
            .map_err(|e| data_error("context", e))?;
        let now_ms = self.now_ms();

        // Load the subject's data within the deadline, off the async workers.
        let since = now_ms.saturating_sub(live.max_cap_window_ms);
        let loaded: Result<Inputs, Degraded> = {
            let engine = self.clone();
            let (t, id, idents) = (tenant.clone(), req.subject.id.clone(), req.subject.identifiers.clone());
            let task = tokio::task::spawn_blocking(move || engine.load_inputs(&t, id.as_deref(), &idents, since));
            match tokio::time::timeout(Duration::from_millis(self.config.decide.deadline_ms), task).await {
                Ok(Ok(Ok(inputs))) => Ok(inputs),
                Ok(Ok(Err(e))) => {
                    tracing::warn!(error = %e, "subject data unavailable; serving the fallback");
                    Err("store_unavailable")
                }
                Ok(Err(_)) => Err("store_unavailable"),
                Err(_) => Err("deadline_exceeded"),
            }
        };
        let fallback_hash = || {
            let id = req.subject.id.clone().unwrap_or_else(|| "anon".to_string());
            self.hasher.subject(&tenant, &id)
        };

        // Evaluate.
        let mut degraded: Option<Degraded> = None;
        let mut outcome = None;
        let mut profile_json = None;
        let mut consents_granted = Vec::new();
        let mut impressions_json = Vec::new();
        let subject_hash;
        match loaded {
            Err(reason) => {
                degraded = Some(reason);
                subject_hash = fallback_hash();
            }
            Ok(inputs) => {
                subject_hash = inputs.resolved.subject_hash.clone();
                consents_granted = consent::granted_purposes(&inputs.consents, &channel);
                if !req.constraints.require_consent {
                    if let Some(purpose) = &def.consent {
                        if !consents_granted.contains(purpose) {
                            consents_granted.push(purpose.clone());
                        }
                    }
                }
                let impressions: Vec<Impression> = inputs
                    .impressions
                    .iter()
                    .filter_map(|i| i.for_policies(&live.channels))
                    .collect();
                impressions_json = inputs
                    .impressions
                    .iter()
                    .map(|i| json!({"offer_id": i.offer_id, "placement": i.placement, "channel": i.channel, "at_ms": i.at_ms}))
                    .collect();
                match profiles::profile_value(program, inputs.profile, &inputs.features, &inputs.counters) {
                    Err(e) => {
                        tracing::warn!(error = %e, "stored profile does not fit the bundle's Profile schema");
                        degraded = Some("profile_invalid");
                    }
                    Ok(profile) => {
                        let (profile_value, pj) = match profile {
                            Some((v, j)) => (Some(v), Some(j)),
                            None => (None, None),
                        };
                        profile_json = pj;
                        let env = Env {
                            profile: profile_value,
                            context,
                            now_ms,
                            subject: Arc::from(inputs.resolved.subject.as_str()),
                            consents: consents_granted.clone(),
                            impressions,
                        };
                        if self.faults.catalog_down.load(Ordering::Relaxed) {
                            degraded = Some("catalog_unavailable");
                        } else {
                            // The named trace only for an explanation; the audit record is
                            // written from the verdicts.
                            let trace = if explain {
                                TraceLevel::Full
                            } else {
                                TraceLevel::Verdicts
                            };
                            match live.bundle.decide_traced(
                                self.config.backend,
                                &env,
                                decision,
                                &live.catalog.prepared,
                                req.constraints.max_variants,
                                trace,
                            ) {
                                Ok(o) => outcome = Some(o),
                                Err(EvalError::NoProfile) => degraded = Some("unknown_subject"),
                                Err(e) => {
                                    tracing::error!(error = %e, "evaluation failed; serving the fallback");
                                    self.metrics.error("evaluation_error");
                                    degraded = Some("evaluation_error");
                                }
                            }
                        }
                    }
                }
            }
        }

        // The answer.
        let ttl = def.ttl_ms / 1000;
        let experiment_name = outcome.as_ref().and_then(|o| o.experiment.clone());
        let variant = outcome.as_ref().and_then(|o| o.variant.clone());
        let fallback: Option<(Option<String>, String)> = match (&outcome, degraded) {
            (_, Some(reason)) => Some((def.fallback.clone(), reason.to_string())),
            (Some(o), None) => o.fallback.as_ref().map(|f| {
                let reason = serde_json::to_value(f.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                (f.content_id.clone(), reason)
            }),
            (None, None) => None,
        };
        let template_input = |id: &str| TemplateInput {
            offer: live.catalog.item(id),
            profile: profile_json.as_ref(),
            context: &context_json,
            variant: variant.as_deref(),
            experiment: experiment_name.as_deref(),
        };
        let mut items = Vec::new();
        let mut push_item = |kind: &str, id: &str, priority: usize, score: Option<f64>| {
            let mut item = json!({
                kind: id,
                "variant": variant,
                "priority": priority,
                "experiment": experiment_name,
                "ttl": ttl,
            });
            if let Some(s) = score {
                item["score"] = json!(s);
            }
            match live.catalog.render(id, &template_input(id)) {
                Some(Ok(text)) => item["content"] = Json::String(text),
                Some(Err(e)) => {
                    tracing::warn!(id, error = %e, "template failed to render");
                    self.metrics.error("template_error");
                }
                None => {}
            }
            items.push(item);
        };
        match (&fallback, &outcome) {
            (Some((content, _)), _) => {
                if let Some(c) = content {
                    push_item("content_id", c, 1, None);
                }
            }
            (None, Some(o)) => {
                for (i, chosen) in o.offers.iter().enumerate() {
                    push_item("offer_id", &chosen.id, i + 1, Some(chosen.score));
                }
            }
            (None, None) => {}
        }
        let decision_id = self.new_decision_id();
        let mut response = json!({
            "decision_id": decision_id,
            "tenant_id": tenant,
            "placement": placement,
            "decision": def.name,
            "bundle": { "version": live.meta.version, "hash": live.meta.hash },
            "decisions": items,
            "fallback": fallback.as_ref().map(|(c, r)| json!({"content_id": c, "reason": r})),
            "experiment": experiment_name.as_ref().map(|e| json!({"name": e, "variant": variant})),
            "ttl": ttl,
        });
        let record = AuditRecord {
            decision_id: decision_id.clone(),
            at_ms: now_ms,
            tenant_id: tenant.clone(),
            subject_hash,
            placement: placement.clone(),
            decision: Some(def.name.clone()),
            bundle: BundleRef {
                version: live.meta.version,
                hash: live.meta.hash.clone(),
            },
            catalog_hash: live.catalog.hash.clone(),
            backend: self.config.backend.to_string(),
            inputs: json!({
                "profile": profile_json,
                "context": context_json,
                "now_ms": now_ms,
                "consents": consents_granted,
                "impressions": impressions_json,
                "constraints": {
                    "max_variants": req.constraints.max_variants,
                    "require_consent": req.constraints.require_consent,
                },
                "hints": req.hints,
                "degraded": degraded,
            }),
            rule_outcomes: outcome.as_ref().and_then(|o| {
                Verdicts::new(program, decision, live.catalog.prepared.offers(), &o.verdicts)
                    .inspect_err(|e| tracing::error!(error = %e, "the decision's verdicts do not fit its program"))
                    .ok()
                    .map(CompactTrace)
            }),
            experiment: experiment_name.as_ref().map(|e| json!({"name": e, "variant": variant})),
            response: response.clone(),
        };
        let logged = match self.audit.append(&record).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(decision_id = %decision_id, error = %e, "decision not logged");
                self.metrics.audit_failure();
                false
            }
        };
        response["logged"] = Json::Bool(logged);
        if explain {
            response["explain"] = explain_json(outcome.as_ref(), degraded, &consents_granted, impressions_json.len());
        }
        self.metrics.decision(
            &tenant,
            &placement,
            started.elapsed().as_secs_f64(),
            fallback.as_ref().map(|(_, r)| r.as_str()),
        );
        tracing::debug!(decision_id = %decision_id, placement = %placement, "decided");
        Ok(response)
    }

    fn load_inputs(
        &self,
        tenant: &str,
        id: Option<&str>,
        identifiers: &[Identifier],
        since_ms: i64,
    ) -> Result<Inputs, EngineError> {
        let resolved = self.identity().resolve(tenant, id, identifiers)?;
        let store = self.store.as_ref();
        let h = &resolved.subject_hash;
        Ok(Inputs {
            profile: profiles::get_profile(store, tenant, h)?,
            features: profiles::get_features(store, tenant, h)?,
            counters: profiles::get_counters(store, tenant, h)?,
            consents: consent::get(store, tenant, h)?,
            impressions: caps::impressions_since(store, tenant, h, since_ms)?,
            resolved,
        })
    }

    // ---- events -------------------------------------------------------------------------------

    /// Records engagement events. Every event is checked before any is applied.
    pub fn events(&self, events: Vec<EventIn>) -> Result<Json, EngineError> {
        let mut planned = Vec::new();
        for (i, e) in events.into_iter().enumerate() {
            let field = |f: &str| format!("events[{i}].{f}");
            let record = self
                .audit
                .get(&e.decision_id)
                .map_err(|err| EngineError::Internal(err.to_string()))?
                .ok_or_else(|| EngineError::UnknownDecision(e.decision_id.clone()))?;
            if e.tenant_id.as_deref().is_some_and(|t| t != record.tenant_id) {
                return Err(EngineError::UnknownDecision(e.decision_id.clone()));
            }
            let shown: Vec<String> = record.response["decisions"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|d| d.get("offer_id").or_else(|| d.get("content_id")))
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let offer = match e.offer_id {
                Some(o) if shown.contains(&o) => o,
                Some(o) => {
                    return Err(invalid(
                        &field("offer_id"),
                        format!("`{o}` was not part of decision `{}`", e.decision_id),
                    ))
                }
                None if shown.len() == 1 => shown[0].clone(),
                None => {
                    return Err(invalid(
                        &field("offer_id"),
                        "required: the decision showed several offers",
                    ))
                }
            };
            let at_ms = match &e.at {
                Some(t) => tailor_compiler::interp::time::parse_rfc3339(t).map_err(|m| invalid(&field("at"), m))?,
                None => self.now_ms(),
            };
            let channel = record.inputs["context"]["channel"]
                .as_str()
                .unwrap_or("Web")
                .to_string();
            planned.push((record, e.event_type, offer, at_ms, channel));
        }
        let store = self.store.as_ref();
        let n = planned.len();
        for (record, kind, offer, at_ms, channel) in planned {
            let (tenant, h) = (&record.tenant_id, &record.subject_hash);
            if kind == EventType::View {
                caps::record_impression(
                    store,
                    tenant,
                    h,
                    &StoredImpression {
                        offer_id: offer.clone(),
                        placement: record.placement.clone(),
                        channel: channel.clone(),
                        at_ms,
                        decision_id: record.decision_id.clone(),
                    },
                )?;
            }
            caps::record_event(
                store,
                tenant,
                h,
                &StoredEvent {
                    event_type: kind.name().to_string(),
                    offer_id: Some(offer),
                    placement: record.placement.clone(),
                    channel,
                    at_ms,
                    decision_id: record.decision_id.clone(),
                },
            )?;
            profiles::bump_counter(store, tenant, h, kind.name())?;
        }
        Ok(json!({ "accepted": n }))
    }

    // ---- ingestion ----------------------------------------------------------------------------

    fn canonical(&self, tenant: &str, subject: &str) -> Result<Resolved, EngineError> {
        if subject.is_empty() {
            return Err(invalid("subject_id", "must not be empty"));
        }
        Ok(self.identity().canonical(tenant, subject)?)
    }

    /// Stores a profile (validated against the tenant's `Profile` schema) and links its
    /// identifiers.
    pub fn ingest_profile(&self, tenant: &str, row: ProfileRow) -> Result<(), EngineError> {
        let live = self.live(tenant)?;
        let Json::Object(profile) = &row.profile else {
            return Err(invalid("profile", "expected an object"));
        };
        profiles::validate_profile(live.bundle.program(), &row.profile).map_err(|e| data_error("profile", e))?;
        let resolved = self.canonical(tenant, &row.id)?;
        for ident in &row.identifiers {
            ident.validate()?;
        }
        profiles::put_profile(self.store.as_ref(), tenant, &resolved.subject_hash, profile)?;
        self.identity().remember_subject(tenant, &resolved)?;
        if !row.identifiers.is_empty() {
            self.identity().link(tenant, &resolved.subject, &row.identifiers)?;
        }
        Ok(())
    }

    /// Links identifiers to a subject.
    pub fn ingest_identity(&self, tenant: &str, row: IdentityRow) -> Result<(), EngineError> {
        self.live(tenant)?;
        let resolved = self.canonical(tenant, &row.subject_id)?;
        if row.identifiers.is_empty() {
            return Err(invalid("identifiers", "give at least one identifier"));
        }
        Ok(self.identity().link(tenant, &resolved.subject, &row.identifiers)?)
    }

    /// Records a consent decision.
    pub fn ingest_consent(&self, tenant: &str, row: ConsentRow) -> Result<(), EngineError> {
        let live = self.live(tenant)?;
        if row.purpose.is_empty() {
            return Err(invalid("purpose", "must not be empty"));
        }
        if let Some(c) = &row.channel {
            if !live.channels.contains(c) {
                return Err(invalid(
                    "channel",
                    format!("unknown channel `{c}` (expected one of: {})", live.channels.join(", ")),
                ));
            }
        }
        let at_ms = match &row.at {
            Some(t) => tailor_compiler::interp::time::parse_rfc3339(t).map_err(|m| invalid("at", m))?,
            None => self.now_ms(),
        };
        let resolved = self.canonical(tenant, &row.subject_id)?;
        consent::record(
            self.store.as_ref(),
            tenant,
            &resolved.subject_hash,
            vec![ConsentRecord {
                purpose: row.purpose,
                channel: row.channel,
                granted: row.granted,
                at_ms,
                source: row.source,
            }],
        )?;
        Ok(())
    }

    /// Merges online features into a subject's (validated against the `Profile` schema).
    pub fn ingest_features(&self, tenant: &str, row: FeaturesRow) -> Result<(), EngineError> {
        let live = self.live(tenant)?;
        profiles::validate_features(live.bundle.program(), &row.features).map_err(|e| data_error("features", e))?;
        let resolved = self.canonical(tenant, &row.subject_id)?;
        profiles::put_features(self.store.as_ref(), tenant, &resolved.subject_hash, &row.features)?;
        Ok(())
    }

    /// Merges subject `from` into `into`: identifiers and the old id resolve to `into`; `into`
    /// keeps its own profile (taking `from`'s only if it has none) and its features (taking
    /// `from`'s for names it lacks); consent records combine, the newest per purpose and channel
    /// winning; impressions and events move over, so caps count both histories.
    pub fn merge(&self, tenant: &str, from: &str, into: &str) -> Result<Json, EngineError> {
        self.live(tenant)?;
        let from = self.canonical(tenant, from)?;
        let into = self.canonical(tenant, into)?;
        if from.subject_hash == into.subject_hash {
            return Err(invalid("from", "the two ids are already the same subject"));
        }
        let store = self.store.as_ref();
        let (fh, ih) = (&from.subject_hash, &into.subject_hash);
        if profiles::get_profile(store, tenant, ih)?.is_none() {
            if let Some(p) = profiles::get_profile(store, tenant, fh)? {
                profiles::put_profile(store, tenant, ih, &p)?;
                self.identity().remember_subject(tenant, &into)?;
            }
        }
        let into_features = profiles::get_features(store, tenant, ih)?;
        let mut moved = Object::new();
        for (k, v) in profiles::get_features(store, tenant, fh)? {
            if !into_features.contains_key(&k) {
                moved.insert(k, v);
            }
        }
        if !moved.is_empty() {
            profiles::put_features(store, tenant, ih, &moved)?;
        }
        let counters = profiles::get_counters(store, tenant, fh)?;
        for (event, n) in counters {
            for _ in 0..n.as_i64().unwrap_or(0).clamp(0, 1_000_000) {
                profiles::bump_counter(store, tenant, ih, &event)?;
            }
        }
        consent::record(store, tenant, ih, consent::get(store, tenant, fh)?)?;
        caps::move_subject(store, tenant, fh, Some(ih))?;
        profiles::remove_subject(store, tenant, fh)?;
        consent::remove(store, tenant, fh)?;
        self.identity().merge_links(tenant, &from, &into)?;
        Ok(json!({ "merged": true, "into_subject_hash": into.subject_hash }))
    }

    /// A subject's data as the store holds it (identifiers only as hashes), for support and
    /// compliance.
    pub fn subject(&self, tenant: &str, subject: &str) -> Result<Json, EngineError> {
        self.live(tenant)?;
        let r = self.canonical(tenant, subject)?;
        let store = self.store.as_ref();
        let h = &r.subject_hash;
        Ok(json!({
            "tenant_id": tenant,
            "subject_hash": h,
            "canonical": r.subject != subject,
            "profile": profiles::get_profile(store, tenant, h)?,
            "features": profiles::get_features(store, tenant, h)?,
            "counters": profiles::get_counters(store, tenant, h)?,
            "consent": consent::get(store, tenant, h)?,
            "impressions": caps::impressions_since(store, tenant, h, i64::MIN)?.len(),
        }))
    }

    /// Erases a subject: profile, features, counters, consent, impressions, events, identity
    /// links and aliases, and every audit record. Blocking; a full scan of the audit log.
    pub fn erase(&self, tenant: &str, subject: &str) -> Result<Json, EngineError> {
        self.live(tenant)?;
        let r = self.canonical(tenant, subject)?;
        let store = self.store.as_ref();
        let h = &r.subject_hash;
        profiles::remove_subject(store, tenant, h)?;
        consent::remove(store, tenant, h)?;
        caps::move_subject(store, tenant, h, None)?;
        let identifiers = self.identity().erase(tenant, &r)?;
        let audit_records = self
            .audit
            .erase_subject(tenant, h)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        store.flush()?;
        tracing::info!(tenant, subject_hash = %h, identifiers, audit_records, "subject erased");
        Ok(json!({ "erased": true, "subject_hash": h, "identifiers": identifiers, "audit_records": audit_records }))
    }

    // ---- admin --------------------------------------------------------------------------------

    /// Replaces a tenant's catalog.
    pub fn put_catalog(&self, tenant: &str, doc: CatalogDoc, author: &str) -> Result<Json, EngineError> {
        let (offers, hash) = self.registry.put_catalog(tenant, doc, author)?;
        Ok(json!({ "tenant_id": tenant, "offers": offers, "hash": hash }))
    }

    /// Sets the injected faults.
    pub fn set_faults(&self, f: FaultsIn) -> Result<Json, EngineError> {
        if !self.config.faults.enabled {
            return Err(EngineError::FaultsDisabled);
        }
        self.faults.store_down.store(f.store_down, Ordering::Relaxed);
        self.faults.store_delay_ms.store(f.store_delay_ms, Ordering::Relaxed);
        self.faults.catalog_down.store(f.catalog_down, Ordering::Relaxed);
        self.faults.audit_down.store(f.audit_down, Ordering::Relaxed);
        Ok(json!({
            "store_down": f.store_down,
            "store_delay_ms": f.store_delay_ms,
            "catalog_down": f.catalog_down,
            "audit_down": f.audit_down,
        }))
    }

    /// Whether the store answers.
    pub fn ready(&self) -> Result<(), StoreError> {
        self.store
            .get(crate::store::Tree::Meta, b"identity/hash_key")
            .map(|_| ())
    }
}

/// The `explain` part of a response: which rule kept or removed each candidate.
fn explain_json(
    outcome: Option<&tailor_compiler::interp::DecisionOutcome>,
    degraded: Option<Degraded>,
    consents: &[String],
    impressions: usize,
) -> Json {
    let Some(o) = outcome else {
        return json!({ "degraded": degraded, "candidates": [], "consents": consents, "impressions": impressions });
    };
    let removed = o
        .trace
        .iter()
        .filter(|t| matches!(t.outcome, CandidateOutcome::Removed { .. }))
        .count();
    json!({
        "degraded": degraded,
        "consents": consents,
        "impressions": impressions,
        "summary": { "candidates": o.trace.len(), "removed": removed, "chosen": o.offers.len() },
        "candidates": o.trace,
        "text": tailor_compiler::interp::explain_decision(o),
    })
}

/// Kinds of engagement event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    View,
    Click,
    Conversion,
    Dismissal,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::View => "view",
            EventType::Click => "click",
            EventType::Conversion => "conversion",
            EventType::Dismissal => "dismissal",
        }
    }
}

/// One engagement event (`POST /personalization/events`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    pub decision_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The offer or content the event is about; may be left out when the decision showed one.
    pub offer_id: Option<String>,
    /// When it happened (RFC 3339); default: now.
    pub at: Option<String>,
    /// If given, must be the decision's tenant.
    pub tenant_id: Option<String>,
}

/// A profile row: single ingestion (with `tenant_id`) or a line of a bulk file (the tenant in
/// the query string), as in `examples/profiles.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRow {
    pub tenant_id: Option<String>,
    pub id: String,
    pub profile: Json,
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
}

/// An identity-link row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRow {
    pub tenant_id: Option<String>,
    pub subject_id: String,
    pub identifiers: Vec<Identifier>,
}

/// A consent row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRow {
    pub tenant_id: Option<String>,
    pub subject_id: String,
    pub purpose: String,
    pub channel: Option<String>,
    pub granted: bool,
    /// RFC 3339; default: now.
    pub at: Option<String>,
    pub source: String,
}

/// A features row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesRow {
    pub tenant_id: Option<String>,
    pub subject_id: String,
    pub features: Object,
}

/// A merge request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    pub tenant_id: String,
    pub from: String,
    pub into: String,
}

/// Faults to inject (`POST /admin/faults`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsIn {
    pub store_down: bool,
    pub store_delay_ms: u64,
    pub catalog_down: bool,
    pub audit_down: bool,
}
