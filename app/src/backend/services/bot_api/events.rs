//! Events a bot reports (participants, chat, its own statuses), stored a batch at a time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::backend::error::internal;
use crate::backend::services::validate;
use crate::model::bot::{event_description, EVENT_TYPES};
use crate::model::error::AppError;

/// Most events one report may carry.
pub const MAX_EVENTS: usize = 500;

/// One event a bot reports.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportedEvent {
    /// One of the event types (PARTICIPANT_JOIN, IN_CALL, ...).
    pub event_type: String,
    pub event_time: DateTime<Utc>,
    /// `{participantId}`, `{message}` or `{sub_code?, description?}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// Stores a batch of events in one statement; an unknown type refuses the whole batch (422,
/// naming the entry), so nothing is half-written. The caller has authorised the bot (which also
/// proved it exists).
pub async fn report_events(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    batch: &[ReportedEvent],
) -> Result<usize, AppError> {
    if batch.is_empty() {
        return Ok(0);
    }
    if batch.len() > MAX_EVENTS {
        return Err(AppError::TooLarge(format!("Send at most {MAX_EVENTS} events at a time (got {}).", batch.len())));
    }
    for (i, e) in batch.iter().enumerate() {
        if !EVENT_TYPES.iter().any(|(t, _)| *t == e.event_type) {
            return Err(AppError::invalid(
                &format!("events[{i}].eventType"),
                format!("Unknown event type \"{}\".", e.event_type),
            ));
        }
        if e.data.as_ref().is_some_and(|d| !(d.is_object() || d.is_null())) {
            return Err(AppError::invalid(&format!("events[{i}].data"), "Event data must be an object or null."));
        }
        if let Some(d) = &e.data {
            validate::json(&format!("events[{i}].data"), d)?;
        }
    }
    use crate::backend::db::schema::events as ev;
    let rows: Vec<_> = batch
        .iter()
        .map(|e| {
            let data = match &e.data {
                Some(Value::Object(m))
                    if !m.contains_key("description") && !event_description(&e.event_type).is_empty() =>
                {
                    let mut m = m.clone();
                    m.insert("description".into(), json!(event_description(&e.event_type)));
                    Some(Value::Object(m))
                }
                Some(Value::Null) | None => Some(json!({ "description": event_description(&e.event_type) })),
                other => other.clone(),
            };
            (
                ev::bot_id.eq(bot_id),
                ev::event_type.eq(e.event_type.clone()),
                ev::event_time.eq(e.event_time),
                ev::data.eq(data),
            )
        })
        .collect();
    diesel::insert_into(ev::table).values(rows).execute(conn).await.map_err(|e| internal("storing events failed", e))
}
