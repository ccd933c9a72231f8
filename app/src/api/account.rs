//! The signed-in user's own account: password change and signing out everywhere.

use leptos::prelude::*;

use crate::model::error::AppError;

/// Changes the password (the current one is required) and ends every other session.
#[server(prefix = "/fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use super::ctx;
    use crate::backend::services::accounts::{self, PasswordChange};
    let user = ctx::current_user().await?.ok_or_else(|| AppError::Unauthorized("Sign in to continue.".into()))?;
    let state = ctx::state()?;
    let change = PasswordChange { current: &current_password, new: &new_password, confirm: &confirm_password };
    let token = ctx::session_token();
    let ended = accounts::change_password(&state.pool, &user, change, token.as_deref(), &ctx::client_info()).await?;
    tracing::info!(user_id = user.id, other_sessions_ended = ended, "password changed");
    Ok(())
}

/// Ends every session of the signed-in user, this one included, and goes to the sign-in page.
#[server(prefix = "/fn", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use super::ctx;
    use crate::backend::{auth::sessions, services::accounts};
    let (user, mut conn) = ctx::user_and_conn().await?;
    let state = ctx::state()?;
    let ended = accounts::sign_out_everywhere(&mut conn, user.id).await?;
    tracing::info!(user_id = user.id, sessions_ended = ended, "signed out everywhere");
    ctx::set_cookie(&sessions::clear_cookie(state.config.secure_cookies()));
    leptos_axum::redirect("/auth/sign-in");
    Ok(())
}
