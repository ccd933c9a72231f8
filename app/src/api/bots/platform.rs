//! The Platform tab's local process view and its Stop action.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::platform_details::LocalProcess;

/// For a Platform tab function: the bot `id` the caller may see (owner or administrator), its
/// resource's identifier on `kind` (400 when it ran elsewhere), and that platform's driver.
#[cfg(feature = "ssr")]
pub(crate) async fn resource_of<T: crate::backend::platforms::Platform>(
    id: i64,
    kind: crate::model::platform::DeploymentPlatform,
) -> Result<(std::sync::Arc<T>, String), AppError> {
    use crate::backend::services::bots::platform as svc;
    let (user, mut conn) = crate::api::ctx::user_and_conn().await?;
    let bot = svc::visible_bot(&mut conn, &user, id).await?;
    drop(conn);
    let identifier = svc::resource_on(&bot, kind)?;
    let driver = crate::api::ctx::state()?
        .platforms
        .driver::<T>()
        .ok_or_else(|| AppError::Unavailable(format!("{} is not configured on this server.", kind.label())))?;
    Ok((driver, identifier))
}

/// The bot's process on this server's local platform: pid, state, memory, CPU, uptime. 404
/// when this replica did not start it (another replica runs it, or it was forgotten).
#[server(prefix = "/fn", endpoint = "get_local_process", input = Json)]
pub async fn get_local_process(id: i64) -> Result<LocalProcess, AppError> {
    use crate::backend::platforms::local::LocalPlatform;
    let (local, identifier) =
        resource_of::<LocalPlatform>(id, crate::model::platform::DeploymentPlatform::Local).await?;
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
