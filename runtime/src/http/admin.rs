//! The admin API: deploy, history, diff and rollback of bundles; catalogs; the audit log;
//! a subject's stored data; and fault injection for degradation tests.

use super::errors::{parse_json, ApiError, JsonBody, RawBody};
use super::{query_param, AppState};
use crate::catalog::{parse_catalog, CatalogDoc, CatalogFormat, CatalogParseError};
use crate::compliance::{ReplayIn, WhatIfIn};
use crate::engine::{EngineError, FaultsIn};
use crate::registry::DeployRequest;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tailor_compiler::bundle::BundleSource;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ApiError::from)
}

fn version_number(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("{what} `{text}` is not a version number")))
}

pub async fn tenants(State(engine): State<AppState>) -> Json<Value> {
    let tenants: Vec<Value> = engine
        .registry
        .tenant_ids()
        .into_iter()
        .filter_map(|id| {
            let t = engine.registry.tenant(&id)?;
            let live = t.live.load();
            Some(json!({
                "tenant_id": id,
                "version": live.meta.version,
                "hash": live.meta.hash,
                "placements": live.bundle.program().decisions.iter().map(|d| d.placement.clone()).collect::<Vec<_>>(),
                "catalog": { "offers": live.catalog.prepared.len(), "hash": live.catalog.hash },
            }))
        })
        .collect();
    Json(json!({ "tenants": tenants }))
}

/// A deploy request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployIn {
    pub tenant_id: String,
    pub author: String,
    #[serde(default)]
    pub message: String,
    pub sources: Vec<BundleSource>,
    pub catalog: Option<CatalogDoc>,
    /// Replay the tenant's recent decisions on the candidate first (see `docs/replay.md`).
    pub what_if: Option<WhatIfIn>,
    /// Validate, compile, test (and run the what-if), but store and swap nothing.
    #[serde(default)]
    pub dry_run: bool,
}

pub async fn deploy(State(engine): State<AppState>, JsonBody(d): JsonBody<DeployIn>) -> Result<Json<Value>, ApiError> {
    if d.author.trim().is_empty() {
        return Err(ApiError::invalid("`author` must not be empty"));
    }
    let e = engine.clone();
    let dry_run = d.dry_run;
    let result = blocking(move || {
        e.deploy_gated(
            DeployRequest {
                tenant: d.tenant_id,
                sources: d.sources,
                author: d.author,
                message: d.message,
                catalog: d.catalog,
            },
            d.what_if,
            d.dry_run,
        )
    })
    .await;
    match &result {
        Ok(_) if dry_run => engine.metrics.deploy("dry_run"),
        Ok(_) => engine.metrics.deploy("ok"),
        Err(err) => engine.metrics.deploy(err.code),
    }
    Ok(Json(result?))
}

pub async fn history(State(engine): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Value>, ApiError> {
    let e = engine.clone();
    let t = tenant.clone();
    let (versions, events) = blocking(move || e.registry.history(&t).map_err(EngineError::from)).await?;
    let active = engine.registry.tenant(&tenant).map(|t| t.live.load().meta.version);
    Ok(Json(
        json!({ "tenant_id": tenant, "active": active, "versions": versions, "events": events }),
    ))
}

pub async fn version(
    State(engine): State<AppState>,
    Path((tenant, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let v = version_number(&version, "version")?;
    let stored = blocking(move || engine.registry.version(&tenant, v).map_err(EngineError::from)).await?;
    Ok(Json(json!({ "meta": stored.meta, "sources": stored.sources })))
}

pub async fn diff(
    State(engine): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let from =
        query_param(q.as_deref(), "from").ok_or_else(|| ApiError::bad_request("missing query parameter `from`"))?;
    let to = query_param(q.as_deref(), "to").ok_or_else(|| ApiError::bad_request("missing query parameter `to`"))?;
    let (from, to) = (version_number(from, "from")?, version_number(to, "to")?);
    Ok(Json(
        blocking(move || engine.registry.diff(&tenant, from, to).map_err(EngineError::from)).await?,
    ))
}

/// A rollback request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackIn {
    pub version: u64,
    pub author: String,
}

pub async fn rollback(
    State(engine): State<AppState>,
    Path(tenant): Path<String>,
    JsonBody(r): JsonBody<RollbackIn>,
) -> Result<Json<Value>, ApiError> {
    let meta = blocking(move || {
        engine
            .registry
            .rollback(&tenant, r.version, &r.author)
            .map_err(EngineError::from)
    })
    .await?;
    Ok(Json(
        json!({ "tenant_id": meta.tenant_id, "version": meta.version, "hash": meta.hash }),
    ))
}

pub async fn get_catalog(State(engine): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Value>, ApiError> {
    if engine.registry.tenant(&tenant).is_none() {
        return Err(EngineError::UnknownTenant(tenant).into());
    }
    let doc = blocking(move || engine.registry.catalog_doc(&tenant).map_err(EngineError::from)).await?;
    Ok(Json(serde_json::to_value(doc).unwrap_or(Value::Null)))
}

/// A catalog body: a `CatalogDoc` object, or a bare array of offers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CatalogIn {
    Doc(CatalogDoc),
    Offers(Vec<Value>),
}

/// Replaces a tenant's catalog. The body is JSON, or YAML when `Content-Type` says so
/// (`application/yaml`, `application/x-yaml`, `text/yaml`).
pub async fn put_catalog(
    State(engine): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawBody(bytes): RawBody,
) -> Result<Json<Value>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let doc = match CatalogFormat::from_content_type(content_type) {
        CatalogFormat::Json => match parse_json::<CatalogIn>(&bytes)? {
            CatalogIn::Doc(d) => d,
            CatalogIn::Offers(offers) => CatalogDoc {
                offers,
                templates: Default::default(),
            },
        },
        CatalogFormat::Yaml => {
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_yaml",
                    "the request body is not UTF-8",
                )
            })?;
            parse_catalog(text, CatalogFormat::Yaml).map_err(|e| match e {
                CatalogParseError::Shape(_) => ApiError::invalid(e.to_string()),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "malformed_yaml", e.to_string()),
            })?
        }
    };
    Ok(Json(
        blocking(move || engine.put_catalog(&tenant, doc, "admin-api")).await?,
    ))
}

pub async fn audit_record(
    State(engine): State<AppState>,
    Path(decision_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = decision_id.clone();
    let record = blocking(move || engine.audit.get(&id).map_err(|e| EngineError::Internal(e.to_string())))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_decision",
                format!("unknown decision `{decision_id}`"),
            )
        })?;
    Ok(Json(serde_json::to_value(record).unwrap_or(Value::Null)))
}

pub async fn audit_latest(State(engine): State<AppState>, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let tenant = query_param(q.as_deref(), "tenant_id")
        .ok_or_else(|| ApiError::bad_request("missing query parameter `tenant_id`"))?
        .to_string();
    let limit = match query_param(q.as_deref(), "limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("`limit` must be a number from 1 to 1000"))?,
        None => 50,
    };
    let records = blocking(move || {
        engine
            .audit
            .latest(&tenant, limit)
            .map_err(|e| EngineError::Internal(e.to_string()))
    })
    .await?;
    Ok(Json(json!({ "records": records })))
}

pub async fn subject(
    State(engine): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || engine.subject(&tenant, &subject)).await?))
}

pub async fn erase(
    State(engine): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || engine.erase(&tenant, &subject)).await?))
}

pub async fn faults(State(engine): State<AppState>, JsonBody(f): JsonBody<FaultsIn>) -> Result<Json<Value>, ApiError> {
    Ok(Json(engine.set_faults(f)?))
}

/// `GET /admin/audit/{decision_id}/explain[?subject_id=ID]`: the full story of one decision.
/// `subject_id` lets it be re-run when the store has no identity link for the subject (the log
/// keeps only the hash; experiments bucket on the id).
pub async fn audit_explain(
    State(engine): State<AppState>,
    Path(decision_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let ids: Vec<String> = q
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("subject_id="))
        .filter(|v| !v.is_empty())
        .map(percent_decode)
        .collect();
    Ok(Json(
        blocking(move || engine.explain_decision(&decision_id, ids)).await?,
    ))
}

/// `%XX` and `+` decoding for a query value (subject ids may hold any character).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /admin/replay`: a replay (or what-if) report over the server's own audit log.
pub async fn replay(State(engine): State<AppState>, JsonBody(r): JsonBody<ReplayIn>) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || engine.replay_request(r)).await?))
}
