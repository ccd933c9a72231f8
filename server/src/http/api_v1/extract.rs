//! Extractors whose rejections are API errors a person can act on (never axum's plain text).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use app::backend::db::DbConn;
use app::backend::state::AppState;

/// A pooled connection, or the generic 500 (the cause is logged).
pub async fn conn(state: &AppState) -> Result<DbConn, ApiError> {
    state.pool.get().await.map_err(|e| app::backend::error::internal("database unavailable", e).into())
}

/// A JSON body: 400 for broken JSON, 422 for wrong or unknown fields, 413 when too large,
/// 415 without `Content-Type: application/json`.
pub struct ApiJson<T>(pub T);

/// Whole numbers written with a fraction (`7.0`) become integers: JSON Schema counts them as
/// integers, and so do we.
fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(m) => m.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(mut v)) => {
                whole_numbers(&mut v);
                serde_json::from_value::<T>(v)
                    .map(ApiJson)
                    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", e.to_string()))
            }
            Err(JsonRejection::JsonDataError(e)) => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", e.body_text());
                err.message = err.message.replace("Failed to deserialize the JSON body into the target type: ", "");
                Err(err)
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(ApiError::bad_request(format!("The body is not valid JSON: {}", e.body_text())))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            )),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is larger than 1 MiB."))
            }
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// A numeric id in the path: 400 when it is not a positive whole number.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<i64>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) if id > 0 => Ok(Id(id)),
            Ok(_) | Err(PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError::bad_request("The id in the path must be a positive whole number."))
            }
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// The bot token a request carries (`X-Milo-Token` or `Authorization: Bearer`), copied out of
/// the headers rather than cloning them all (the heartbeat's hot path); `None` without one.
pub struct BotToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for BotToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(BotToken(app::backend::services::bot_api::token_from_headers(&parts.headers).map(str::to_owned)))
    }
}

/// Query parameters: 400 with the parameter's problem.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                e.body_text().replace("Failed to deserialize query string: ", "Invalid query parameter: "),
            )),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}
