//! Bot events: every status change and everything a bot reports.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::backend::db::schema::events;
use crate::model::bot::{event_description, BotEvent, BotStatus};

/// Records a status change, with its description.
pub async fn record_status(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    status: BotStatus,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    record(conn, bot_id, status.as_str(), at, Some(json!({ "description": event_description(status.as_str()) }))).await
}

/// Records one event.
pub async fn record(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    event_type: &str,
    at: DateTime<Utc>,
    data: Option<serde_json::Value>,
) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values((
            events::bot_id.eq(bot_id),
            events::event_type.eq(event_type),
            events::event_time.eq(at),
            events::data.eq(data),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

type EventRow = (i64, i64, String, DateTime<Utc>, Option<serde_json::Value>);

/// The events of a bot, newest first (the caller checks ownership).
pub async fn for_bot(conn: &mut AsyncPgConnection, bot_id: i64, limit: i64) -> QueryResult<Vec<BotEvent>> {
    let rows: Vec<EventRow> = events::table
        .filter(events::bot_id.eq(bot_id))
        .order((events::event_time.desc(), events::id.desc()))
        .limit(limit)
        .select((events::id, events::bot_id, events::event_type, events::event_time, events::data))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, bot_id, event_type, event_time, data)| BotEvent {
            id,
            bot_id,
            description: event_description(&event_type).to_owned(),
            event_type,
            event_time,
            data,
        })
        .collect())
}
