//! Request context for server functions: state, connection, caller, cookies.

use http::header::{SET_COOKIE, USER_AGENT};
use http::request::Parts;
use http::HeaderValue;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::backend::auth::{sessions, ClientIp};
use crate::backend::db::DbConn;
use crate::backend::error::internal;
use crate::backend::services::accounts::ClientInfo;
use crate::backend::state::AppState;
use crate::model::error::AppError;
use crate::model::user::CurrentUser;

/// The shared state, provided by the server for every request.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| internal("AppState missing from context", "not provided"))
}

/// A pooled database connection.
pub async fn conn(state: &AppState) -> Result<DbConn, AppError> {
    state.pool.get().await.map_err(|e| internal("database unavailable", e))
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The session token from the request's cookie.
pub fn session_token() -> Option<String> {
    let parts = parts()?;
    sessions::token_from_headers(&parts.headers)
}

/// The signed-in user, if any.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    let Some(token) = session_token() else {
        return Ok(None);
    };
    let state = state()?;
    let mut conn = conn(&state).await?;
    sessions::find_user(&mut conn, &token).await.map_err(|e| internal("session lookup failed", e))
}

/// The signed-in user (or 401) and a connection.
pub async fn user_and_conn() -> Result<(CurrentUser, DbConn), AppError> {
    let user = current_user().await?.ok_or_else(|| AppError::Unauthorized("Sign in to continue.".into()))?;
    let state = state()?;
    Ok((user, conn(&state).await?))
}

/// The caller's address and user agent.
pub fn client_info() -> ClientInfo {
    let parts = parts();
    let ip = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<ClientIp>().cloned())
        .map(|c| c.0)
        .unwrap_or_else(|| "unknown".to_owned());
    let user_agent =
        parts.as_ref().and_then(|p| p.headers.get(USER_AGENT)).and_then(|v| v.to_str().ok()).map(str::to_owned);
    ClientInfo { ip, user_agent }
}

/// Adds a `Set-Cookie` header to the response.
pub fn set_cookie(value: &str) {
    if let (Some(res), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
        res.append_header(SET_COOKIE, v);
    }
}
