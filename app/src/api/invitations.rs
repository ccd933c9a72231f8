//! Invitations to sign up, for the administrator (`SIGNUP_MODE=invite`).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::invitation::{CreatedInvitation, Invitation};

/// Creates an invitation; its link is shown once.
#[server(prefix = "/fn", endpoint = "create_invitation", input = Json)]
pub async fn create_invitation() -> Result<CreatedInvitation, AppError> {
    use crate::backend::services::invitations;
    let (admin, mut conn) = super::admin::admin().await?;
    let state = super::ctx::state()?;
    let (invitation, code) = invitations::create(&mut conn, admin.id).await?;
    let mut link = state
        .config
        .app_origin_url
        .join("/auth/sign-up")
        .map_err(|e| crate::backend::error::internal("building an invitation link failed", e))?;
    link.query_pairs_mut().append_pair("invite", &code);
    tracing::info!(admin_id = admin.id, invitation_id = invitation.id, "invitation created");
    Ok(CreatedInvitation { invitation, link: link.to_string() })
}

/// The newest invitations (without their codes).
#[server(prefix = "/fn", endpoint = "list_invitations", input = Json)]
pub async fn list_invitations() -> Result<Vec<Invitation>, AppError> {
    let (_, mut conn) = super::admin::admin().await?;
    crate::backend::services::invitations::list(&mut conn).await
}

/// Revokes an unused invitation.
#[server(prefix = "/fn", endpoint = "revoke_invitation", input = Json)]
pub async fn revoke_invitation(id: i64) -> Result<(), AppError> {
    let (admin, mut conn) = super::admin::admin().await?;
    crate::backend::services::invitations::revoke(&mut conn, id).await?;
    tracing::info!(admin_id = admin.id, invitation_id = id, "invitation revoked");
    Ok(())
}
