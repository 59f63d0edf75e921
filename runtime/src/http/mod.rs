//! The HTTP server: axum on hyper, JSON in and out.
//!
//! [`router`] builds every route (listed in [`ROUTES`] and documented in `docs/openapi.json`,
//! which is served at `/openapi.json`; a test checks the two agree). Around every request one
//! middleware ([`around`]) gives it a request id (the caller's `x-request-id` or a new one, echoed
//! in the response) and a tracing span carrying it, enforces the request timeout, turns a
//! panicking handler into a JSON 500 instead of a dropped connection, and counts the response.
//! Body size limits are per group: small for decide, events and single-row ingestion, large for
//! deploys, catalogs and bulk files. `/admin/*`, `/ingest/*` and the batch plans
//! (`/personalization/batch-plan`) require a bearer token when one is configured.

pub mod admin;
pub mod batch;
pub mod decide;
pub mod errors;
pub mod events;
pub mod ingest;

use crate::engine::Engine;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use errors::ApiError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The OpenAPI 3.1 document of this server, as kept in the repository.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Every route, as (method, path) in the OpenAPI document's spelling.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/personalization/decide"),
    ("post", "/personalization/events"),
    ("post", "/ingest/profiles"),
    ("post", "/ingest/profiles/bulk"),
    ("post", "/ingest/identity"),
    ("post", "/ingest/identity/bulk"),
    ("post", "/ingest/identity/merge"),
    ("post", "/ingest/consent"),
    ("post", "/ingest/consent/bulk"),
    ("post", "/ingest/features"),
    ("post", "/ingest/features/bulk"),
    ("get", "/admin/tenants"),
    ("post", "/admin/bundles"),
    ("get", "/admin/bundles/{tenant}"),
    ("get", "/admin/bundles/{tenant}/diff"),
    ("post", "/admin/bundles/{tenant}/rollback"),
    ("get", "/admin/bundles/{tenant}/{version}"),
    ("get", "/admin/catalog/{tenant}"),
    ("put", "/admin/catalog/{tenant}"),
    ("get", "/admin/audit"),
    ("get", "/admin/audit/{decision_id}"),
    ("get", "/admin/audit/{decision_id}/explain"),
    ("post", "/admin/replay"),
    ("get", "/admin/subjects/{tenant}/{subject_id}"),
    ("delete", "/admin/subjects/{tenant}/{subject_id}"),
    ("post", "/admin/faults"),
    ("post", "/personalization/batch-plan"),
    ("get", "/personalization/batch-plan/{id}"),
    ("delete", "/personalization/batch-plan/{id}"),
];

/// The application state handlers see.
pub type AppState = Arc<Engine>;

/// Builds the router.
pub fn router(engine: Arc<Engine>) -> Router {
    let small = engine.config.http.max_body_bytes;
    let large = engine.config.http.max_admin_body_bytes;
    let public = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/personalization/decide", post(decide::decide))
        .route("/personalization/events", post(events::events))
        .layer(DefaultBodyLimit::max(small));
    let ingest_small = Router::new()
        .route("/ingest/profiles", post(ingest::profile))
        .route("/ingest/identity", post(ingest::identity))
        .route("/ingest/identity/merge", post(ingest::merge))
        .route("/ingest/consent", post(ingest::consent))
        .route("/ingest/features", post(ingest::features))
        .route("/personalization/batch-plan", post(batch::submit))
        .route(
            "/personalization/batch-plan/{id}",
            get(batch::status).delete(batch::cancel),
        )
        .layer(DefaultBodyLimit::max(small));
    let admin = Router::new()
        .route("/ingest/profiles/bulk", post(ingest::profiles_bulk))
        .route("/ingest/identity/bulk", post(ingest::identity_bulk))
        .route("/ingest/consent/bulk", post(ingest::consent_bulk))
        .route("/ingest/features/bulk", post(ingest::features_bulk))
        .route("/admin/tenants", get(admin::tenants))
        .route("/admin/bundles", post(admin::deploy))
        .route("/admin/bundles/{tenant}", get(admin::history))
        .route("/admin/bundles/{tenant}/diff", get(admin::diff))
        .route("/admin/bundles/{tenant}/rollback", post(admin::rollback))
        .route("/admin/bundles/{tenant}/{version}", get(admin::version))
        .route(
            "/admin/catalog/{tenant}",
            get(admin::get_catalog).put(admin::put_catalog),
        )
        .route("/admin/audit", get(admin::audit_latest))
        .route("/admin/audit/{decision_id}", get(admin::audit_record))
        .route("/admin/audit/{decision_id}/explain", get(admin::audit_explain))
        .route("/admin/replay", post(admin::replay))
        .route(
            "/admin/subjects/{tenant}/{subject_id}",
            get(admin::subject).delete(admin::erase),
        )
        .route("/admin/faults", post(admin::faults))
        .layer(DefaultBodyLimit::max(large));
    let protected = ingest_small
        .merge(admin)
        .route_layer(middleware::from_fn_with_state(engine.clone(), require_token));
    public
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(engine.clone(), around))
        .with_state(engine)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

async fn require_token(State(engine): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &engine.config.admin.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs `Authorization: Bearer <admin token>`",
            )
            .into_response();
        }
    }
    next.run(req).await
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

fn request_id(req: &Request) -> String {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match given {
        Some(id) => id.to_string(),
        None => format!(
            "r{:x}-{:x}",
            crate::registry::wall_ms(),
            REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
        ),
    }
}

/// Request id, span, timeout, panic isolation and metrics, around every request.
async fn around(State(engine): State<AppState>, req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let timeout = Duration::from_millis(engine.config.http.request_timeout_ms);
    // The handler runs in its own task so a panic in it becomes a 500, not a dropped
    // connection; the timeout answers 503 and lets the task finish on its own.
    let task = tokio::spawn(next.run(req).instrument(span.clone()));
    let mut response = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let _enter = span.enter();
            tracing::error!(error = %e, "handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server failed to handle this request",
            )
            .into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request did not finish within {} ms", timeout.as_millis()),
        )
        .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    if let Some(code) = response.extensions().get::<errors::ErrorCode>() {
        engine.metrics.error(code.0);
    }
    engine.metrics.http_response(response.status().as_u16());
    response
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(engine): State<AppState>) -> Response {
    match engine.ready() {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ready", "tenants": engine.registry.tenant_ids() }))
            .into_response(),
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e.to_string()).into_response(),
    }
}

async fn metrics(State(engine): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        engine.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Serves `engine` on `listener` until `shutdown` resolves, then finishes in-flight requests
/// and drains the audit log.
pub async fn serve(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine.clone()))
        .with_graceful_shutdown(shutdown)
        .await?;
    engine.audit.shutdown().await;
    engine.store.flush().map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}

/// Parses `a=1&b=2` (no percent-decoding needed for the flags and numbers used here).
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A boolean flag from the query string: `true`/`1`/empty are true, `false`/`0` false.
pub fn query_flag(query: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match query_param(query, name) {
        None => Ok(false),
        Some("" | "true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "query parameter `{name}`: `{other}` is not true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"].as_str().unwrap_or_default().get(..3), Some("3.1"));
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented in docs/openapi.json"
            );
        }
        // And nothing documented is missing from the server.
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                assert!(
                    ROUTES.contains(&(method.as_str(), path.as_str())),
                    "{method} {path} is documented but not served"
                );
            }
        }
    }

    #[test]
    fn query_flags_parse() {
        assert!(query_flag(Some("explain=true"), "explain").unwrap());
        assert!(query_flag(Some("a=1&explain"), "explain").unwrap());
        assert!(!query_flag(Some("explain=0"), "explain").unwrap());
        assert!(!query_flag(None, "explain").unwrap());
        assert!(query_flag(Some("explain=maybe"), "explain").is_err());
    }
}
