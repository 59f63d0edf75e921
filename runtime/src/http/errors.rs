//! HTTP errors: every failure is a JSON `{code, message}` body (plus `details` where there is
//! more to say, such as a bad deploy's diagnostics), 4xx for a client's mistake and 5xx only for
//! a real server fault.
//!
//! Also the body extractor every JSON endpoint uses, [`JsonBody`], so that a malformed body, a
//! wrong type, a missing field and an oversize body all get this shape instead of axum's plain
//! text rejections.

use crate::engine::EngineError;
use crate::registry::DeployError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value as Json};

/// An error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Json>,
    /// A replay report that goes with the error (a refused what-if), as `report`.
    pub report: Option<Json>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            report: None,
        }
    }

    pub fn with_report(mut self, report: Json) -> ApiError {
        self.report = Some(report);
        self
    }

    pub fn with_details(mut self, details: Json) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn body(&self) -> Json {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.details {
            body["details"] = d.clone();
        }
        if let Some(r) = &self.report {
            body["report"] = r.clone();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "server error");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "client error");
        }
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// The error code of a response, for the metrics middleware.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let message = e.to_string();
        match e {
            EngineError::UnknownTenant(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", message),
            EngineError::UnknownPlacement { .. } => ApiError::new(StatusCode::NOT_FOUND, "unknown_placement", message),
            EngineError::Invalid { .. } => ApiError::invalid(message),
            EngineError::ConsentBypassForbidden => {
                ApiError::new(StatusCode::FORBIDDEN, "consent_bypass_forbidden", message)
            }
            EngineError::UnknownDecision(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_decision", message),
            EngineError::FaultsDisabled => ApiError::new(StatusCode::NOT_FOUND, "faults_disabled", message),
            EngineError::Deploy(d) => d.into(),
            EngineError::Store(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message),
            EngineError::Internal(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message),
        }
    }
}

impl From<DeployError> for ApiError {
    fn from(e: DeployError) -> ApiError {
        let message = e.to_string();
        match e {
            DeployError::BadTenant(_) | DeployError::NoSources => ApiError::invalid(message),
            DeployError::UnknownTenant(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", message),
            DeployError::UnknownVersion { .. } => ApiError::new(StatusCode::NOT_FOUND, "unknown_version", message),
            DeployError::Invalid {
                diagnostics, rendered, ..
            } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_bundle", message)
                .with_details(json!({ "diagnostics": diagnostics, "rendered": rendered })),
            DeployError::TestsFailed { report, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "tests_failed", message).with_details(report)
            }
            DeployError::Catalog(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_catalog", message),
            DeployError::Backend(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "backend_unsupported", message),
            DeployError::WhatIfRejected { report, .. } => {
                ApiError::new(StatusCode::CONFLICT, "what_if_rejected", message).with_report(report)
            }
            DeployError::Store(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message),
        }
    }
}

/// Parses a JSON body into `T`, classifying failures: not JSON at all is 400
/// `malformed_json`; JSON of the wrong shape (a missing field, a wrong type, an unknown field)
/// is 422 `invalid_request`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the request body is empty",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::invalid(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the request body is not valid JSON: {e}"),
            ),
        }
    })
}

/// The body as bytes, with the configured size limit turned into 413 `body_too_large`.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than this endpoint accepts",
            )
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    })
}

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A raw body (JSON lines for bulk ingestion).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        body_bytes(req, state).await.map(RawBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
    }

    #[test]
    fn bodies_are_classified() {
        assert_eq!(parse_json::<T>(b"").unwrap_err().code, "malformed_json");
        assert_eq!(parse_json::<T>(b"{").unwrap_err().code, "malformed_json");
        assert_eq!(parse_json::<T>(b"not json").unwrap_err().code, "malformed_json");
        let e = parse_json::<T>(b"{}").unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
        );
        assert!(e.message.contains("missing field `a`"));
        assert_eq!(parse_json::<T>(b"{\"a\": \"x\"}").unwrap_err().code, "invalid_request");
        assert_eq!(
            parse_json::<T>(b"{\"a\": 1, \"b\": 2}").unwrap_err().code,
            "invalid_request"
        );
        assert!(parse_json::<T>(b"{\"a\": 1}").is_ok());
    }
}
