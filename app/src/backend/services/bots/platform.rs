//! The Platform tab's side of a bot: which bots a caller may look at there (their own, or any
//! for an administrator), the resource a bot runs on, and stopping it.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::row::BotRow;
use crate::backend::db::schema::bots;
use crate::backend::error::{internal, TxError};
use crate::backend::lifecycle::{self, Change};
use crate::backend::platforms::{ErrorKind, PlatformError, PlatformRegistry, ResourceStatus};
use crate::model::bot::Bot;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;
use crate::model::user::CurrentUser;

/// A bot `user` may see on the Platform tab: their own, or any bot for an administrator.
pub async fn visible_bot(conn: &mut AsyncPgConnection, user: &CurrentUser, id: i64) -> Result<Bot, AppError> {
    visible_row(conn, user, id).await.map(Bot::from)
}

async fn visible_row(conn: &mut AsyncPgConnection, user: &CurrentUser, id: i64) -> Result<BotRow, AppError> {
    let mut query = bots::table.filter(bots::id.eq(id)).into_boxed();
    if !user.is_admin() {
        query = query.filter(bots::user_id.eq(user.id));
    }
    query
        .select(BotRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a bot failed", e))?
        .ok_or_else(|| super::not_found(id))
}

/// The identifier of the bot's resource on `platform`; 400 when it ran elsewhere or nowhere.
pub fn resource_on(bot: &Bot, platform: DeploymentPlatform) -> Result<String, AppError> {
    match (bot.deployment_platform, bot.platform_identifier.clone()) {
        (Some(p), Some(identifier)) if p == platform => Ok(identifier),
        (Some(p), _) if p != platform => Err(AppError::bad_request(
            "id",
            format!("Bot {} runs on {}, not on {}.", bot.id, p.label(), platform.label()),
        )),
        _ => Err(AppError::bad_request(
            "id",
            format!("Bot {} has not been deployed on {} (yet).", bot.id, platform.label()),
        )),
    }
}

/// A platform's failure, for the person looking at the tab: what kind of failure (never the
/// platform's own text, which names internal addresses). Missing resources are 404.
pub fn platform_failure(platform: DeploymentPlatform, e: &PlatformError) -> AppError {
    tracing::warn!(platform = platform.as_str(), error = %e, "platform call for the Platform tab failed");
    match e.kind {
        ErrorKind::NotFound => AppError::NotFound(format!(
            "{} no longer has this bot's resource (it ended and was cleaned up).",
            platform.label()
        )),
        _ => AppError::Unavailable(format!(
            "{} did not answer: {}. Try again in a moment.",
            platform.label(),
            e.public_reason()
        )),
    }
}

/// Stops the bot's resource now (the owner or an administrator, from the Platform tab): an
/// active bot ends FATAL (`STOPPED_BY_USER`) first, so it cannot report on, then the platform
/// stops the resource and releases what the bot held (a pool slot); if the platform fails, the
/// reconciler keeps trying.
pub async fn stop_resource(
    conn: &mut AsyncPgConnection,
    platforms: &PlatformRegistry,
    user: &CurrentUser,
    id: i64,
) -> Result<String, AppError> {
    let row = visible_row(conn, user, id).await?;
    let owner = row.user_id;
    let bot = Bot::from(row);
    let (Some(kind), Some(identifier)) = (bot.deployment_platform, bot.platform_identifier.clone()) else {
        return Err(AppError::bad_request("id", format!("Bot {id} has no platform resource to stop.")));
    };
    if !bot.status.is_terminal() {
        let who = if owner == user.id { "its owner" } else { "an administrator" };
        let change = Change::fatal(format!("Stopped on {} by {who}.", kind.label()), "STOPPED_BY_USER");
        conn.transaction::<_, TxError, _>(async |conn| Ok(lifecycle::transition(conn, id, &change).await?))
            .await
            .map_err(|e| e.into_app("stopping a bot failed"))?;
    }
    let platform = platforms
        .get(kind)
        .ok_or_else(|| AppError::Unavailable(format!("{} is not configured on this server.", kind.label())))?;
    match platform.stop(&identifier).await {
        Ok(()) => {
            // Recorded as stopped only once the platform says so (an ECS task is STOPPING for a
            // while, a deleted Job lingers until collected); until then the reconciler, which
            // sees a FATAL bot, stops it again and confirms.
            if !matches!(platform.status(&identifier).await, Ok(ResourceStatus::Gone | ResourceStatus::Exited { .. })) {
                tracing::info!(bot_id = id, platform = kind.as_str(), "resource asked to stop; not confirmed yet");
                return Ok(format!(
                    "Asked {} to stop {identifier}; Meeboter keeps stopping it until {} confirms.",
                    kind.label(),
                    kind.label()
                ));
            }
            // Give back what the bot held (a pool slot) now, so the next bot can use it at once;
            // if this fails the reconciler releases it later.
            if let Err(e) = platform.release(id).await {
                tracing::warn!(bot_id = id, error = %e, "releasing a stopped bot's resource failed");
            }
            diesel::update(bots::table.find(id))
                .set(bots::resource_stopped_at.eq(Some(chrono::Utc::now())))
                .execute(conn)
                .await
                .map_err(|e| internal("recording a stopped resource failed", e))?;
            tracing::info!(
                bot_id = id,
                user_id = user.id,
                platform = kind.as_str(),
                "resource stopped from the Platform tab"
            );
            Ok(format!("Stopped {identifier} on {}.", kind.label()))
        }
        Err(e) => Err(platform_failure(kind, &e)),
    }
}
