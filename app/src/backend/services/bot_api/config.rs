//! What a bot asks for first: its configuration (the upstream `BotConfig`), by bot id or by
//! the Coolify pool slot that runs it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::db::schema::{bot_pool_slots, bots};
use crate::backend::error::internal;
use crate::model::error::AppError;

/// What a bot needs to join its meeting (the upstream `BotConfig` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotConfig {
    pub id: i64,
    pub user_id: i64,
    pub meeting: Value,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub recording_enabled: bool,
    pub automatic_leave: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

type ConfigRow =
    (i64, i64, Value, DateTime<Utc>, DateTime<Utc>, String, Option<String>, bool, Value, Option<String>, String);

/// The configuration of a bot; 412 once it is DONE, FATAL or LEAVING (a bot asking then is
/// a restart that must not happen).
pub async fn get_config(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<BotConfig, AppError> {
    let row: Option<ConfigRow> = bots::table
        .find(bot_id)
        .select((
            bots::id,
            bots::user_id,
            bots::meeting,
            bots::start_time,
            bots::end_time,
            bots::display_name,
            bots::image_url,
            bots::recording_enabled,
            bots::automatic_leave,
            bots::callback_url,
            bots::status,
        ))
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a bot's config failed", e))?;
    let Some((id, user_id, meeting, start_time, end_time, display_name, image_url, recording_enabled, leave, cb, st)) =
        row
    else {
        return Err(AppError::NotFound(format!("Bot {bot_id} was not found.")));
    };
    if matches!(st.as_str(), "DONE" | "FATAL" | "LEAVING") {
        return Err(AppError::Precondition(format!(
            "PRECONDITION_FAILED: bot {bot_id} is {st}; it must not start again."
        )));
    }
    Ok(BotConfig {
        id,
        user_id,
        meeting,
        start_time,
        end_time,
        display_name,
        image_url,
        recording_enabled,
        automatic_leave: leave,
        callback_url: cb,
    })
}

/// The bot running in a Coolify pool slot, by the slot's application UUID.
pub async fn slot_bot(conn: &mut AsyncPgConnection, slot_uuid: &str) -> Result<i64, AppError> {
    let bot: Option<Option<i64>> = bot_pool_slots::table
        .filter(bot_pool_slots::application_uuid.eq(slot_uuid))
        .select(bot_pool_slots::assigned_bot_id)
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a pool slot failed", e))?;
    match bot {
        None => Err(AppError::NotFound(format!("Pool slot {slot_uuid} was not found."))),
        Some(None) => Err(AppError::NotFound(format!("Pool slot {slot_uuid} has no bot assigned."))),
        Some(Some(id)) => Ok(id),
    }
}
