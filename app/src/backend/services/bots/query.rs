//! Reading bots: one, the status filter, the active count, events, chat messages (the list is
//! in `list.rs`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::not_found;
use super::row::BotRow;
use crate::backend::db::schema::bots;
use crate::backend::error::internal;
use crate::backend::services::events;
use crate::model::bot::{Bot, BotEvent, BotStatus};
use crate::model::error::AppError;
use crate::model::recording::ChatMessage;
use chrono::{DateTime, Utc};

/// One of the user's bots.
pub async fn get_bot(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<Bot, AppError> {
    owned_row(conn, user_id, id).await.map(Bot::from)
}

pub(super) async fn owned_row(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<BotRow, AppError> {
    bots::table
        .filter(bots::id.eq(id))
        .filter(bots::user_id.eq(user_id))
        .select(BotRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a bot failed", e))?
        .ok_or_else(|| not_found(id))
}

/// Parses the comma-separated status filter.
pub fn parse_statuses(raw: Option<&str>) -> Result<Vec<BotStatus>, AppError> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            BotStatus::parse(s).ok_or_else(|| {
                AppError::invalid("status", format!("'{s}' is not a status; use e.g. QUEUED, IN_CALL, DONE, FATAL"))
            })
        })
        .collect()
}

/// The user's bots that are not DONE or FATAL.
pub async fn active_bot_count(conn: &mut AsyncPgConnection, user_id: i64) -> Result<i64, AppError> {
    bots::table
        .filter(bots::user_id.eq(user_id))
        .filter(bots::status.ne_all(["DONE", "FATAL"]))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("counting active bots failed", e))
}

/// The events of one of the user's bots, newest first.
pub async fn list_events(conn: &mut AsyncPgConnection, user_id: i64, bot_id: i64) -> Result<Vec<BotEvent>, AppError> {
    owned_row(conn, user_id, bot_id).await?;
    events::for_bot(conn, bot_id, 500).await.map_err(|e| internal("reading events failed", e))
}

/// A row of `bot_chat_messages` as its owner sees it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = crate::backend::db::schema::bot_chat_messages, check_for_backend(diesel::pg::Pg))]
struct ChatRow {
    id: i64,
    message_text: String,
    sent_at: DateTime<Utc>,
    status: String,
    delivered_at: Option<DateTime<Utc>>,
    error: Option<String>,
    template_id: Option<i64>,
}

/// The chat messages sent to one of the user's bots, oldest first (at most the last 200), with
/// their delivery state.
pub async fn list_chat_messages(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    bot_id: i64,
) -> Result<Vec<ChatMessage>, AppError> {
    use crate::backend::db::schema::bot_chat_messages as m;
    owned_row(conn, user_id, bot_id).await?;
    let rows: Vec<ChatRow> = m::table
        .filter(m::bot_id.eq(bot_id))
        .order((m::sent_at.desc(), m::id.desc()))
        .limit(200)
        .select(ChatRow::as_select())
        .load(conn)
        .await
        .map_err(|e| internal("reading chat messages failed", e))?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|r| ChatMessage {
            id: r.id,
            message_text: r.message_text,
            sent_at: r.sent_at,
            status: r.status,
            delivered_at: r.delivered_at,
            error: r.error,
            template_id: r.template_id,
        })
        .collect())
}
