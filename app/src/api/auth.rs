//! Sign up, sign in, sign out and "who am I".

use leptos::prelude::*;

use crate::model::error::AppError;
use crate::model::user::CurrentUser;

/// The signed-in user, or `None`.
#[server(prefix = "/fn", endpoint = "get_current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    super::ctx::current_user().await
}

/// Creates an account, signs it in and goes to `next` (or the dashboard). `invite` is the code
/// of an invitation link (needed when `SIGNUP_MODE=invite`).
#[server(prefix = "/fn", endpoint = "sign_up")]
pub async fn sign_up(
    name: String,
    email: String,
    password: String,
    confirm_password: String,
    next: Option<String>,
    invite: Option<String>,
) -> Result<(), AppError> {
    use super::ctx;
    use crate::backend::{auth::sessions, services::accounts};
    let state = ctx::state()?;
    let client = ctx::client_info();
    let form = accounts::SignUpForm {
        name: &name,
        email: &email,
        password: &password,
        confirm: &confirm_password,
        invite: invite.as_deref(),
    };
    let (user, token) = accounts::sign_up(&state.pool, &state.config, form, &client).await?;
    tracing::info!(user_id = user.id, role = user.role.as_str(), "account created");
    ctx::set_cookie(&sessions::set_cookie(&token, state.config.secure_cookies(), state.config.session_max_lifetime));
    leptos_axum::redirect(&crate::model::account::safe_next(next.as_deref()));
    Ok(())
}

/// Signs in with email and password and goes to `next` (or the dashboard).
#[server(prefix = "/fn", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use super::ctx;
    use crate::backend::{auth::sessions, services::accounts};
    let state = ctx::state()?;
    let client = ctx::client_info();
    match accounts::sign_in(&state.pool, &state.config, &email, &password, &client).await {
        Ok((user, token)) => {
            tracing::info!(user_id = user.id, "signed in");
            let max_lifetime = state.config.session_max_lifetime;
            ctx::set_cookie(&sessions::set_cookie(&token, state.config.secure_cookies(), max_lifetime));
            leptos_axum::redirect(&crate::model::account::safe_next(next.as_deref()));
            Ok(())
        }
        Err(e) => {
            tracing::info!(ip = %client.ip, reason = %e, "sign-in refused");
            Err(e)
        }
    }
}

/// Ends the current session and goes to the landing page.
#[server(prefix = "/fn", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::ctx;
    use crate::backend::auth::sessions;
    let state = ctx::state()?;
    if let Some(token) = ctx::session_token() {
        let mut conn = ctx::conn(&state).await?;
        sessions::delete(&mut conn, &token).await.map_err(|e| crate::backend::error::internal("sign-out failed", e))?;
    }
    ctx::set_cookie(&sessions::clear_cookie(state.config.secure_cookies()));
    leptos_axum::redirect("/");
    Ok(())
}
