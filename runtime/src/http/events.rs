//! `POST /personalization/events`: views, clicks, conversions and dismissals, joined to the
//! decision that caused them. Views count towards frequency caps. The body is one event or an
//! array of up to 1,000; all are checked before any is recorded.

use super::errors::{ApiError, JsonBody};
use super::AppState;
use crate::engine::EventIn;
use axum::extract::State;
use axum::Json;
use serde_json::Value;

/// The most events one request may carry.
pub const MAX_EVENTS: usize = 1_000;

pub async fn events(State(engine): State<AppState>, JsonBody(body): JsonBody<Value>) -> Result<Json<Value>, ApiError> {
    let events: Vec<EventIn> = match body {
        Value::Array(items) => {
            if items.len() > MAX_EVENTS {
                return Err(ApiError::invalid(format!("at most {MAX_EVENTS} events per request")));
            }
            serde_json::from_value(Value::Array(items)).map_err(|e| ApiError::invalid(e.to_string()))?
        }
        obj @ Value::Object(_) => vec![serde_json::from_value(obj).map_err(|e| ApiError::invalid(e.to_string()))?],
        _ => return Err(ApiError::invalid("expected an event object or an array of events")),
    };
    let result = tokio::task::spawn_blocking(move || {
        let out = engine.events(events)?;
        engine.store.flush()?;
        Ok::<_, crate::engine::EngineError>(out)
    })
    .await
    .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    Ok(Json(result))
}
