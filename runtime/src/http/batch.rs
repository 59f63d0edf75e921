//! Batch plans over HTTP: `POST /personalization/batch-plan` starts one and answers 202 at
//! once; `GET /personalization/batch-plan/{id}` reports its progress and output;
//! `DELETE /personalization/batch-plan/{id}` cancels it. Behind the admin token, like
//! `/admin/*`: a plan reads every profile of a tenant.

use super::errors::{ApiError, JsonBody};
use super::AppState;
use crate::batch::{BatchError, PlanSpec};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> ApiError {
        let message = e.to_string();
        match e {
            BatchError::UnknownTenant(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", message),
            BatchError::Invalid { .. } => ApiError::invalid(message),
            BatchError::UnknownPlan(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_plan", message),
            BatchError::Finished { .. } => ApiError::new(StatusCode::CONFLICT, "plan_finished", message),
            BatchError::TooManyRunning { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_plans", message)
            }
            BatchError::Store(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message),
            BatchError::Io { .. } | BatchError::Cancelled | BatchError::Internal(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BatchError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ApiError::from)
}

pub async fn submit(State(engine): State<AppState>, JsonBody(spec): JsonBody<PlanSpec>) -> Result<Response, ApiError> {
    let body = blocking(move || engine.submit_plan(spec)).await?;
    let location = body["status_url"].as_str().unwrap_or_default().to_string();
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(body)).into_response())
}

pub async fn status(State(engine): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || engine.plan_status(&id)).await?))
}

pub async fn cancel(State(engine): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let body = blocking(move || engine.cancel_plan(&id)).await?;
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
