//! Ingestion: profiles, identity links and merges, consent and online features, one at a time
//! (a JSON object carrying `tenant_id`) or in bulk (JSON lines, `?tenant_id=` in the query, one
//! row per line; a line may also name its tenant, which must then agree).
//!
//! Bulk loads apply every valid line and report the others by line number (the first 100), so a
//! nightly file with one bad row does not block the rest; the response counts both.

use super::errors::{parse_json, ApiError, JsonBody, RawBody};
use super::{query_param, AppState};
use crate::engine::{ConsentRow, Engine, EngineError, FeaturesRow, IdentityRow, MergeIn, ProfileRow};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;

/// Errors listed in a bulk response at most.
const MAX_REPORTED: usize = 100;

fn tenant_of(given: Option<&str>) -> Result<String, ApiError> {
    given
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid("missing field `tenant_id`"))
}

/// Runs `f` off the async workers, then flushes the store: an acknowledged write is durable.
async fn blocking<T: Send + 'static>(
    engine: &Arc<Engine>,
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    let e = engine.clone();
    tokio::task::spawn_blocking(move || {
        let out = f()?;
        e.store.flush()?;
        Ok::<T, EngineError>(out)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    .map_err(ApiError::from)
}

pub async fn profile(
    State(engine): State<AppState>,
    JsonBody(row): JsonBody<ProfileRow>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(row.tenant_id.as_deref())?;
    blocking(&engine.clone(), move || engine.ingest_profile(&tenant, row)).await?;
    Ok(Json(json!({ "accepted": 1 })))
}

pub async fn identity(
    State(engine): State<AppState>,
    JsonBody(row): JsonBody<IdentityRow>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(row.tenant_id.as_deref())?;
    blocking(&engine.clone(), move || engine.ingest_identity(&tenant, row)).await?;
    Ok(Json(json!({ "accepted": 1 })))
}

pub async fn merge(State(engine): State<AppState>, JsonBody(m): JsonBody<MergeIn>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        blocking(&engine.clone(), move || engine.merge(&m.tenant_id, &m.from, &m.into)).await?,
    ))
}

pub async fn consent(
    State(engine): State<AppState>,
    JsonBody(row): JsonBody<ConsentRow>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(row.tenant_id.as_deref())?;
    blocking(&engine.clone(), move || engine.ingest_consent(&tenant, row)).await?;
    Ok(Json(json!({ "accepted": 1 })))
}

pub async fn features(
    State(engine): State<AppState>,
    JsonBody(row): JsonBody<FeaturesRow>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(row.tenant_id.as_deref())?;
    blocking(&engine.clone(), move || engine.ingest_features(&tenant, row)).await?;
    Ok(Json(json!({ "accepted": 1 })))
}

/// Applies each line of a JSON-lines body.
async fn bulk<T: DeserializeOwned + Send + 'static>(
    engine: Arc<Engine>,
    query: Option<String>,
    body: axum::body::Bytes,
    line_tenant: fn(&T) -> Option<&str>,
    apply: fn(&Engine, &str, T) -> Result<(), EngineError>,
) -> Result<Json<Value>, ApiError> {
    let default_tenant = query_param(query.as_deref(), "tenant_id").map(str::to_string);
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    if text.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the request body is empty",
        ));
    }
    let text = text.to_string();
    if let Some(t) = &default_tenant {
        engine
            .registry
            .tenant(t)
            .ok_or_else(|| EngineError::UnknownTenant(t.clone()))?;
    }
    let result = tokio::task::spawn_blocking(move || {
        let (mut accepted, mut rejected) = (0usize, 0usize);
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let outcome = parse_json::<T>(line.as_bytes()).and_then(|row| {
                let tenant = match (line_tenant(&row), &default_tenant) {
                    (Some(t), Some(d)) if t != d => {
                        return Err(ApiError::invalid(format!(
                            "`tenant_id` `{t}` differs from the query's `{d}`"
                        )))
                    }
                    (Some(t), _) => t.to_string(),
                    (None, Some(d)) => d.clone(),
                    (None, None) => return Err(ApiError::invalid("no `tenant_id` in the line or the query")),
                };
                apply(&engine, &tenant, row).map_err(ApiError::from)
            });
            match outcome {
                Ok(()) => accepted += 1,
                Err(e) => {
                    rejected += 1;
                    if errors.len() < MAX_REPORTED {
                        errors.push(json!({ "line": i + 1, "code": e.code, "message": e.message }));
                    }
                }
            }
        }
        let flushed = engine.store.flush();
        (
            json!({ "accepted": accepted, "rejected": rejected, "errors": errors }),
            flushed,
        )
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let (result, flushed) = result;
    flushed.map_err(EngineError::from)?;
    Ok(Json(result))
}

pub async fn profiles_bulk(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    bulk::<ProfileRow>(
        engine,
        q,
        body,
        |r| r.tenant_id.as_deref(),
        |e, t, r| e.ingest_profile(t, r),
    )
    .await
}

pub async fn identity_bulk(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    bulk::<IdentityRow>(
        engine,
        q,
        body,
        |r| r.tenant_id.as_deref(),
        |e, t, r| e.ingest_identity(t, r),
    )
    .await
}

pub async fn consent_bulk(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    bulk::<ConsentRow>(
        engine,
        q,
        body,
        |r| r.tenant_id.as_deref(),
        |e, t, r| e.ingest_consent(t, r),
    )
    .await
}

pub async fn features_bulk(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    bulk::<FeaturesRow>(
        engine,
        q,
        body,
        |r| r.tenant_id.as_deref(),
        |e, t, r| e.ingest_features(t, r),
    )
    .await
}
