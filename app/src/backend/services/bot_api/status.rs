//! Status changes a bot reports, through the lifecycle's table (a bot moves itself forward,
//! or to FATAL), and what a heartbeat answers.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::db::schema::bots;
use crate::backend::error::TxError;
use crate::backend::lifecycle::{self, Actor, Change, Outcome};
use crate::backend::services::validate;
use crate::model::bot::BotStatus;
use crate::model::error::AppError;

/// What a heartbeat answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatReply {
    /// The bot should leave the call now (someone removed it).
    pub should_leave: bool,
    /// The log level the bot should use from now on.
    pub log_level: Option<String>,
}

/// A status change a bot reports.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusUpdate {
    /// JOINING_CALL, IN_WAITING_ROOM, IN_CALL, CALL_ENDED, DONE, FATAL, ...
    pub status: String,
    /// The object key of the recording (required for DONE when recording is enabled).
    #[serde(default)]
    pub recording: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub speaker_timeframes: Option<Value>,
}

/// The status after an update, and whether the platform resource is to be released.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusReply {
    pub id: i64,
    pub status: String,
    /// DONE or FATAL: the bot's deployment is over.
    pub finished: bool,
}

/// Applies a status change a bot reports, through the lifecycle table: a bot moves itself
/// forward through JOINING_CALL .. DONE, or to FATAL (anything else is 409 with the reason, and
/// changes nothing); DONE with recording enabled needs the recording key, which must lie under the
/// bot's own prefix (`bots/{id}/recordings/`). The same status again
/// is accepted and changes nothing.
pub async fn update_status(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    update: &StatusUpdate,
) -> Result<StatusReply, AppError> {
    let new = BotStatus::parse(&update.status).ok_or_else(|| {
        let all: Vec<&str> = BotStatus::ALL.iter().map(|s| s.as_str()).collect();
        AppError::invalid("status", format!("Unknown status \"{}\"; use one of {}.", update.status, all.join(", ")))
    })?;
    if let Some(r) = &update.recording {
        if r.is_empty() || r.len() > 1024 {
            return Err(AppError::invalid("recording", "The recording key must be 1 to 1024 characters."));
        }
        validate::text("recording", r)?;
        crate::backend::services::recordings::check_key(bot_id, r)?;
    }
    if let Some(t) = &update.speaker_timeframes {
        if !t.is_array() {
            return Err(AppError::invalid("speakerTimeframes", "Send speaker timeframes as a list."));
        }
        validate::json("speakerTimeframes", t)?;
    }
    let update = update.clone();
    conn.transaction::<_, TxError, _>(async |conn| {
        if new == BotStatus::Done {
            let recording_enabled: bool =
                bots::table.find(bot_id).select(bots::recording_enabled).first(conn).await.optional()?.unwrap_or(false);
            if recording_enabled && update.recording.is_none() {
                return Err(AppError::invalid(
                    "recording",
                    "Recording is enabled for this bot: DONE needs the recording's object key.",
                )
                .into());
            }
        }
        let outcome = lifecycle::transition(conn, bot_id, &Change::new(Actor::Bot, new)).await?;
        if outcome != Outcome::Unchanged && new == BotStatus::Done {
            diesel::update(bots::table.find(bot_id))
                .set((
                    bots::recording.eq(update.recording.clone()),
                    bots::recording_at.eq(update.recording.as_ref().map(|_| chrono::Utc::now())),
                    bots::speaker_timeframes.eq(update.speaker_timeframes.clone().unwrap_or_else(|| json!([]))),
                ))
                .execute(conn)
                .await?;
            if let Some(key) = &update.recording {
                crate::backend::webhooks::outbox::recording_ready(conn, bot_id, key, chrono::Utc::now()).await?;
            }
        }
        Ok(StatusReply { id: bot_id, status: new.as_str().to_owned(), finished: new.is_terminal() })
    })
    .await
    .map_err(|e| e.into_app("a bot status update failed"))
}
