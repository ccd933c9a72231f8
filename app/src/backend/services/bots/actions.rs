//! Changing bots: update, delete, cancel deployment, remove from call, log level. Bulk forms
//! act on each bot on its own and report which succeeded and why others did not.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::not_found;
use super::query::owned_row;
use super::row::BotRow;
use super::validate::{display_name, parse_time, public_url, time_zone, UrlPolicy};
use crate::backend::config::Config;
use crate::backend::db::schema::{bots, deployment_queue};
use crate::backend::error::{internal, TxError};
use crate::backend::lifecycle::{self, Actor, Change};
use crate::model::bot::{AutomaticLeave, Bot, BotStatus, BulkFailure, BulkResult, LogLevel, UpdateBot};
use crate::model::error::AppError;

/// Most bots one bulk request may name.
pub const MAX_BULK: usize = 500;

/// The bulk actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Cancel,
    RemoveFromCall,
}

fn check_bulk(ids: &[i64]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "ids must name at least one bot"));
    }
    if ids.len() > MAX_BULK {
        return Err(AppError::invalid("ids", format!("ids can name at most {MAX_BULK} bots")));
    }
    Ok(())
}

/// Changes what may change; times only before deployment.
pub async fn update_bot(
    conn: &mut AsyncPgConnection,
    config: &Config,
    user_id: i64,
    id: i64,
    u: &UpdateBot,
) -> Result<Bot, AppError> {
    crate::backend::services::validate::input(u)?;
    let policy = UrlPolicy::for_webhooks(config);
    let current = owned_row(conn, user_id, id).await?;
    let status = current.status();
    if status.is_terminal() {
        return Err(AppError::Conflict { field: None, message: format!("Bot {id} has finished and cannot change.") });
    }
    let tz = time_zone(u.time_zone.as_deref())?;
    let start = u.start_time.as_deref().map(|s| parse_time("startTime", s, tz)).transpose()?;
    let end = u.end_time.as_deref().map(|s| parse_time("endTime", s, tz)).transpose()?;
    if (start.is_some() || end.is_some()) && !matches!(status, BotStatus::Scheduled | BotStatus::Queued) {
        return Err(AppError::Conflict {
            field: Some("startTime".into()),
            message: "Times can only change before the bot is deployed.".into(),
        });
    }
    let new_start = start.unwrap_or(current.start_time);
    let new_end = end.unwrap_or(current.end_time);
    if new_end <= new_start {
        return Err(AppError::invalid("endTime", "endTime must be after startTime"));
    }
    let name = match &u.display_name {
        Some(n) => display_name(Some(n))?,
        None => current.display_name.clone(),
    };
    let image_url = match &u.image_url {
        Some(v) => public_url("imageUrl", Some(v), UrlPolicy { allow_private: false, ..policy })?,
        None => current.image_url.clone(),
    };
    let callback_url = match &u.callback_url {
        Some(v) => public_url("callbackUrl", Some(v), policy)?,
        None => current.callback_url.clone(),
    };
    let automatic_leave = match u.automatic_leave {
        Some(a) => serde_json::to_value(AutomaticLeave::clamped(Some(a))).unwrap_or_default(),
        None => current.automatic_leave.clone(),
    };
    let row: BotRow = diesel::update(bots::table.find(id).filter(bots::user_id.eq(user_id)))
        .set((
            bots::display_name.eq(name),
            bots::image_url.eq(image_url),
            bots::callback_url.eq(callback_url),
            bots::automatic_leave.eq(automatic_leave),
            bots::recording_enabled.eq(u.recording_enabled.unwrap_or(current.recording_enabled)),
            bots::start_time.eq(new_start),
            bots::end_time.eq(new_end),
            bots::updated_at.eq(Utc::now()),
        ))
        .returning(BotRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| internal("updating a bot failed", e))?;
    if row.callback_url.is_some() {
        crate::backend::webhooks::outbox::ensure_callback_endpoint(conn, user_id)
            .await
            .map_err(|e| internal("updating a bot failed", e))?;
    }
    Ok(Bot::from(row))
}

/// Deletes the user's bots: their rows (events, logs and queue rows go with them), then their
/// objects in storage (recording, screenshots, archived logs). A running bot's resource is stopped by the
/// reconciler's orphan sweep.
pub async fn delete_bots(
    conn: &mut AsyncPgConnection,
    storage: &crate::backend::storage::Storage,
    user_id: i64,
    ids: &[i64],
) -> Result<BulkResult, AppError> {
    check_bulk(ids)?;
    let deleted: Vec<i64> = diesel::delete(bots::table.filter(bots::user_id.eq(user_id)).filter(bots::id.eq_any(ids)))
        .returning(bots::id)
        .get_results(conn)
        .await
        .map_err(|e| internal("deleting bots failed", e))?;
    let failed = ids
        .iter()
        .filter(|id| !deleted.contains(id))
        .map(|&id| BulkFailure { id, reason: format!("Bot {id} not found.") })
        .collect();
    for id in &deleted {
        // The rows are gone; an object left behind is garbage, not data, so a failure is logged.
        if let Err(e) = storage.delete_prefix(&format!("bots/{id}/")).await {
            tracing::warn!(bot_id = id, error = %e, "deleting a deleted bot's objects failed");
        }
    }
    Ok(BulkResult { succeeded: deleted, failed })
}

/// Applies one action to one bot in its own transaction, with the row locked.
async fn act(conn: &mut AsyncPgConnection, user_id: i64, id: i64, action: BulkAction) -> Result<(), AppError> {
    conn.transaction::<_, TxError, _>(async |conn| {
        let status: Option<String> = bots::table
            .filter(bots::id.eq(id))
            .filter(bots::user_id.eq(user_id))
            .select(bots::status)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let status = status.and_then(|s| BotStatus::parse(&s)).ok_or_else(|| not_found(id))?;
        let (change, why) = match action {
            BulkAction::Cancel => (
                Change::new(Actor::User, BotStatus::Done).caused_by("USER_CANCELLED_DEPLOYMENT"),
                "only a scheduled, queued, deploying or joining bot can be cancelled",
            ),
            BulkAction::RemoveFromCall => (
                Change::new(Actor::User, BotStatus::Leaving).caused_by("USER_REMOVED_FROM_CALL"),
                "only a bot in the waiting room or in a call can be removed",
            ),
        };
        if !lifecycle::allowed(Actor::User, status, change.to) {
            return Err(AppError::Conflict {
                field: None,
                message: format!("Bot {id} is {}: {why}.", status.label().to_lowercase()),
            }
            .into());
        }
        lifecycle::transition(conn, id, &change).await?;
        if action == BulkAction::Cancel {
            diesel::delete(deployment_queue::table.filter(deployment_queue::bot_id.eq(id))).execute(conn).await?;
        }
        Ok(())
    })
    .await
    .map_err(|e| e.into_app("changing a bot's status failed"))
}

async fn bulk(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ids: &[i64],
    action: BulkAction,
) -> Result<BulkResult, AppError> {
    check_bulk(ids)?;
    let mut out = BulkResult::default();
    for &id in ids {
        match act(conn, user_id, id, action).await {
            Ok(()) => out.succeeded.push(id),
            Err(AppError::Internal) => return Err(AppError::Internal),
            Err(e) => out.failed.push(BulkFailure { id, reason: e.to_string() }),
        }
    }
    Ok(out)
}

/// Cancels deployments (SCHEDULED, QUEUED, DEPLOYING, JOINING_CALL → DONE).
pub async fn cancel_deployment(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ids: &[i64],
) -> Result<BulkResult, AppError> {
    bulk(conn, user_id, ids, BulkAction::Cancel).await
}

/// Asks bots to leave (IN_WAITING_ROOM, IN_CALL → LEAVING).
pub async fn remove_from_call(conn: &mut AsyncPgConnection, user_id: i64, ids: &[i64]) -> Result<BulkResult, AppError> {
    bulk(conn, user_id, ids, BulkAction::RemoveFromCall).await
}

/// Changes the log level a bot picks up on its next heartbeat.
pub async fn set_log_level(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    id: i64,
    level: LogLevel,
) -> Result<(), AppError> {
    let n = diesel::update(bots::table.find(id).filter(bots::user_id.eq(user_id)))
        .set((bots::log_level.eq(level.as_str()), bots::updated_at.eq(Utc::now())))
        .execute(conn)
        .await
        .map_err(|e| internal("changing the log level failed", e))?;
    if n == 0 {
        Err(not_found(id))
    } else {
        Ok(())
    }
}
