//! The Platform tab's local process view and its Stop action.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::platform_details::LocalProcess;

/// The bot's process on this server's local platform: pid, state, memory, CPU, uptime. 404
/// when this replica did not start it (another replica runs it, or it was forgotten).
#[server(prefix = "/fn", endpoint = "get_local_process", input = Json)]
pub async fn get_local_process(id: i64) -> Result<LocalProcess, AppError> {
    use crate::backend::platforms::local::LocalPlatform;
    use crate::backend::services::bots::platform as svc;
    use crate::model::platform::DeploymentPlatform;
    let (user, mut conn) = crate::api::ctx::user_and_conn().await?;
    let bot = svc::visible_bot(&mut conn, &user, id).await?;
    drop(conn);
    let identifier = svc::resource_on(&bot, DeploymentPlatform::Local)?;
    let local = crate::api::ctx::state()?
        .platforms
        .driver::<LocalPlatform>()
        .ok_or_else(|| AppError::Unavailable("The local platform is not configured on this server.".into()))?;
    local.process(&identifier).ok_or_else(|| {
        AppError::NotFound(
            "This server has no record of the process (another replica started it, or the server restarted).".into(),
        )
    })
}

/// Stops the bot's resource on its platform now (the owner or an administrator); an active
/// bot ends FATAL with `STOPPED_BY_USER`. Answers what was stopped.
#[server(prefix = "/fn", endpoint = "stop_bot_resource", input = Json)]
pub async fn stop_bot_resource(id: i64) -> Result<String, AppError> {
    let (user, mut conn) = crate::api::ctx::user_and_conn().await?;
    let state = crate::api::ctx::state()?;
    let stopped = crate::backend::services::bots::platform::stop_resource(&mut conn, &state.platforms, &user, id).await;
    // The bot's token stops opening anything on this replica at once.
    state.heartbeats.forget(id);
    stopped
}
