//! The Platform tab of a bot in the Coolify pool (replaces `bots.coolify.getSlot`): for the
//! bot's owner or an administrator, and only for a bot that ran on Coolify (400 otherwise).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::platform_details::CoolifySlot;

/// The pool slot the bot runs in (or last ran in): name, state, application, image, limits,
/// last use, recoveries, and the application's live status from Coolify.
#[server(prefix = "/fn", endpoint = "get_coolify_slot", input = Json)]
pub async fn get_coolify_slot(id: i64) -> Result<CoolifySlot, AppError> {
    use crate::backend::platforms::coolify::CoolifyPlatform;
    use crate::backend::services::bots::platform::platform_failure;
    use crate::model::platform::DeploymentPlatform;
    let (coolify, _) = super::platform::resource_of::<CoolifyPlatform>(id, DeploymentPlatform::Coolify).await?;
    coolify
        .slot_details(id)
        .await
        .map_err(|e| platform_failure(DeploymentPlatform::Coolify, &e))?
        .ok_or_else(|| AppError::NotFound("The pool no longer has a slot for this bot.".into()))
}
