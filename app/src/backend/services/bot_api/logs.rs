//! Log lines a bot streams: stored in batches (one statement per batch), read live by `seq`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::db::schema::bot_logs;
use crate::backend::error::internal;
use crate::backend::services::validate;
use crate::model::bot::LogLevel;
use crate::model::error::AppError;

/// Most log lines one stream call may carry (bots send at most 100 at a time).
pub const MAX_LOG_ENTRIES: usize = 1000;
/// Longest log message kept; longer ones are cut (with a marker), never refused.
pub const MAX_LOG_MESSAGE: usize = 16 * 1024;

/// One log line a bot streams (the upstream `LogEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// The bot's own id for the line (a UUID).
    pub id: String,
    /// Ignored: the path names the bot.
    #[serde(default, skip_serializing)]
    pub bot_id: Option<Value>,
    pub timestamp: DateTime<Utc>,
    /// TRACE, DEBUG, INFO, WARN, ERROR or FATAL.
    pub level: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<String>,
}

/// Stores a batch of log lines with one multi-row insert. A bad level refuses the batch (422);
/// over-long messages are cut rather than refused. The caller has authorised the bot (which also
/// proved it exists).
pub async fn stream_logs(conn: &mut AsyncPgConnection, bot_id: i64, entries: &[LogEntry]) -> Result<usize, AppError> {
    if entries.is_empty() {
        return Ok(0);
    }
    if entries.len() > MAX_LOG_ENTRIES {
        return Err(AppError::TooLarge(format!(
            "Send at most {MAX_LOG_ENTRIES} log lines at a time (got {}).",
            entries.len()
        )));
    }
    for (i, e) in entries.iter().enumerate() {
        if LogLevel::parse(&e.level).is_none() {
            return Err(AppError::invalid(
                &format!("entries[{i}].level"),
                format!("Unknown level \"{}\"; use TRACE, DEBUG, INFO, WARN, ERROR or FATAL.", e.level),
            ));
        }
        if e.id.is_empty() || e.id.len() > 64 {
            return Err(AppError::invalid(&format!("entries[{i}].id"), "Each line needs an id of 1 to 64 characters."));
        }
        // PostgreSQL refuses NUL in text and jsonb: refuse the batch naming the line.
        validate::text(&format!("entries[{i}].id"), &e.id)?;
        validate::text(&format!("entries[{i}].message"), &e.message)?;
        for (name, v) in [("state", &e.state), ("location", &e.location), ("elapsed", &e.elapsed)] {
            if let Some(v) = v {
                validate::text(&format!("entries[{i}].{name}"), v)?;
            }
        }
        if let Some(c) = &e.context {
            validate::json(&format!("entries[{i}].context"), c)?;
        }
    }
    // One array per column and `unnest`: 9 binds for the whole batch instead of 9 per line.
    let n = entries.len();
    let (mut ids, mut times, mut levels, mut messages) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut states, mut locations, mut contexts, mut elapsed) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for e in entries {
        let message = if e.message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !e.message.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}… [cut]", &e.message[..cut])
        } else {
            e.message.clone()
        };
        ids.push(e.id.clone());
        times.push(e.timestamp);
        levels.push(e.level.clone());
        messages.push(message);
        states.push(e.state.clone());
        locations.push(e.location.clone());
        contexts.push(e.context.clone());
        elapsed.push(e.elapsed.clone());
    }
    use diesel::sql_types::{Array, Jsonb, Timestamptz};
    diesel::sql_query(
        "INSERT INTO bot_logs (bot_id, entry_id, logged_at, level, message, state, location, context, elapsed) \
         SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], \
                                  $8::jsonb[], $9::text[])",
    )
    .bind::<BigInt, _>(bot_id)
    .bind::<Array<Text>, _>(ids)
    .bind::<Array<Timestamptz>, _>(times)
    .bind::<Array<Text>, _>(levels)
    .bind::<Array<Text>, _>(messages)
    .bind::<Array<Nullable<Text>>, _>(states)
    .bind::<Array<Nullable<Text>>, _>(locations)
    .bind::<Array<Nullable<Jsonb>>, _>(contexts)
    .bind::<Array<Nullable<Text>>, _>(elapsed)
    .execute(conn)
    .await
    .map_err(|e| internal("storing log lines failed", e))
}

/// A stored log line, read live by "after id".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredLogLine {
    /// Increasing: pass the last one seen as `after` to get only newer lines.
    pub seq: i64,
    #[serde(flatten)]
    pub entry: LogEntry,
}

type LogRow =
    (i64, String, DateTime<Utc>, String, String, Option<String>, Option<String>, Option<Value>, Option<String>);

/// Log lines of a bot after `after` (a `seq`), oldest first, at most `limit`.
pub async fn logs_after(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredLogLine>, AppError> {
    let rows: Vec<LogRow> = bot_logs::table
        .filter(bot_logs::bot_id.eq(bot_id))
        .filter(bot_logs::id.gt(after))
        .order(bot_logs::id.asc())
        .limit(limit.clamp(1, 1000))
        .select((
            bot_logs::id,
            bot_logs::entry_id,
            bot_logs::logged_at,
            bot_logs::level,
            bot_logs::message,
            bot_logs::state,
            bot_logs::location,
            bot_logs::context,
            bot_logs::elapsed,
        ))
        .load(conn)
        .await
        .map_err(|e| internal("reading log lines failed", e))?;
    Ok(rows
        .into_iter()
        .map(|(seq, id, timestamp, level, message, state, location, context, elapsed)| StoredLogLine {
            seq,
            entry: LogEntry { id, bot_id: None, timestamp, level, message, state, location, context, elapsed },
        })
        .collect())
}
