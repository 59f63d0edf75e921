//! `POST /personalization/decide`: the decision endpoint channels call on every page view and
//! message. `?explain=true` adds which rule kept or removed each candidate.

use super::errors::{ApiError, JsonBody};
use super::{query_flag, AppState};
use crate::engine::DecideRequest;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::Value;

pub async fn decide(
    State(engine): State<AppState>,
    RawQuery(query): RawQuery,
    JsonBody(req): JsonBody<DecideRequest>,
) -> Result<Json<Value>, ApiError> {
    let explain = query_flag(query.as_deref(), "explain")?;
    Ok(Json(engine.decide(req, explain).await?))
}
