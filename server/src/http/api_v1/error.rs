//! The API's one error shape: `{"error": {"code", "message", "details"}}` with the right status.

use app::model::error::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

/// An error answered by the JSON API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

/// The body of every error (documented in the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: validation_error, not_found, daily_limit_reached, ...
    pub code: String,
    /// For a person: what is wrong and what to do.
    pub message: String,
    /// What the code needs besides the message (the field of a validation error, the limit of
    /// `daily_limit_reached`), or null.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: Value::Null }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = e.to_string();
        let (code, details) = match &e {
            AppError::Validation { field, .. } => ("validation_error", json!({ "field": field })),
            AppError::BadRequest { field, .. } => ("bad_request", json!({ "field": field })),
            AppError::Unauthorized(_) => ("unauthorized", Value::Null),
            AppError::Forbidden => ("forbidden", Value::Null),
            AppError::NotFound(_) => ("not_found", Value::Null),
            AppError::Conflict { field, .. } => ("conflict", json!({ "field": field })),
            AppError::TooManyRequests(_) => ("rate_limited", Value::Null),
            AppError::Precondition(_) => ("precondition_failed", Value::Null),
            AppError::TooLarge(_) => ("payload_too_large", Value::Null),
            AppError::DailyLimit { limit, used, remaining, resets_at, .. } => (
                "daily_limit_reached",
                json!({ "limit": limit, "used": used, "remaining": remaining, "resetsAt": resets_at }),
            ),
            AppError::Unavailable(_) => ("service_unavailable", Value::Null),
            AppError::Internal | AppError::Transport(_) => ("internal_error", Value::Null),
        };
        ApiError { status, code, message, details }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        (self.status, Json(body)).into_response()
    }
}

/// Unknown paths under `/api/v1`.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint. See /api/openapi.json.")
}
