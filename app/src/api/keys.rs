//! API keys of the signed-in user.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::bot::Page;
use crate::model::error::AppError;
use crate::model::keys::{ApiKey, ApiRequestLog, CreatedApiKey};

/// Creates a key; the secret in the answer is never shown again.
/// `expires_at` is a date (YYYY-MM-DD, end of that day UTC) or empty for 180 days.
#[server(prefix = "/fn", endpoint = "create_api_key", input = Json)]
pub async fn create_api_key(name: String, expires_at: Option<String>) -> Result<CreatedApiKey, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let expires = match expires_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|t| t.and_utc())
                .ok_or_else(|| AppError::invalid("expiresAt", "Pick an expiry date (YYYY-MM-DD)."))?,
        ),
    };
    crate::backend::services::api_keys::create(&mut conn, user.id, &name, expires).await
}

/// The user's keys, without secrets.
#[server(prefix = "/fn", endpoint = "list_api_keys", input = Json)]
pub async fn list_api_keys(page: i64) -> Result<Page<ApiKey>, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::api_keys::list(&mut conn, user.id, page, 50).await
}

/// Revokes one of the user's keys.
#[server(prefix = "/fn", endpoint = "revoke_api_key", input = Json)]
pub async fn revoke_api_key(id: i64) -> Result<ApiKey, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::api_keys::revoke(&mut conn, user.id, id).await
}

/// The requests made with one of the user's keys.
#[server(prefix = "/fn", endpoint = "get_api_key_logs", input = Json)]
pub async fn get_api_key_logs(id: i64, page: i64) -> Result<Page<ApiRequestLog>, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::api_keys::request_logs(&mut conn, user.id, id, page, 50).await
}
