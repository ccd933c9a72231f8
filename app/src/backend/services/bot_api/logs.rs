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

/// Checks a batch of log lines and turns it into columns: a bad level refuses the batch (422);
/// over-long messages are cut rather than refused.
pub fn prepare_logs(bot_id: i64, entries: &[LogEntry]) -> Result<LogColumns, AppError> {
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
    let mut columns = LogColumns::default();
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
        columns.bots.push(bot_id);
        columns.ids.push(e.id.clone());
        columns.times.push(e.timestamp);
        columns.levels.push(e.level.clone());
        columns.messages.push(message);
        columns.states.push(e.state.clone());
        columns.locations.push(e.location.clone());
        columns.contexts.push(e.context.clone());
        columns.elapsed.push(e.elapsed.clone());
    }
    Ok(columns)
}

/// Log lines as one array per column, for one `INSERT ... SELECT FROM unnest(...)`: ten binds
/// for any number of lines of any number of bots.
#[derive(Debug, Default)]
pub struct LogColumns {
    bots: Vec<i64>,
    ids: Vec<String>,
    times: Vec<DateTime<Utc>>,
    levels: Vec<String>,
    messages: Vec<String>,
    states: Vec<Option<String>>,
    locations: Vec<Option<String>>,
    contexts: Vec<Option<Value>>,
    elapsed: Vec<Option<String>>,
}

impl LogColumns {
    /// How many lines.
    pub fn len(&self) -> usize {
        self.bots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bots.is_empty()
    }

    /// Moves the lines of `other` after these.
    pub fn append(&mut self, mut other: LogColumns) {
        self.bots.append(&mut other.bots);
        self.ids.append(&mut other.ids);
        self.times.append(&mut other.times);
        self.levels.append(&mut other.levels);
        self.messages.append(&mut other.messages);
        self.states.append(&mut other.states);
        self.locations.append(&mut other.locations);
        self.contexts.append(&mut other.contexts);
        self.elapsed.append(&mut other.elapsed);
    }

    /// Takes the first `n` lines off the front.
    pub fn split_off_front(&mut self, n: usize) -> LogColumns {
        fn front<T>(v: &mut Vec<T>, n: usize) -> Vec<T> {
            let rest = v.split_off(n.min(v.len()));
            std::mem::replace(v, rest)
        }
        LogColumns {
            bots: front(&mut self.bots, n),
            ids: front(&mut self.ids, n),
            times: front(&mut self.times, n),
            levels: front(&mut self.levels, n),
            messages: front(&mut self.messages, n),
            states: front(&mut self.states, n),
            locations: front(&mut self.locations, n),
            contexts: front(&mut self.contexts, n),
            elapsed: front(&mut self.elapsed, n),
        }
    }

    /// Stores the lines with one statement.
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> Result<usize, AppError> {
        if self.is_empty() {
            return Ok(0);
        }
        use diesel::sql_types::{Array, Jsonb, Timestamptz};
        diesel::sql_query(
            "INSERT INTO bot_logs (bot_id, entry_id, logged_at, level, message, state, location, context, elapsed) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], \
                                  $7::text[], $8::jsonb[], $9::text[])",
        )
        .bind::<Array<BigInt>, _>(&self.bots)
        .bind::<Array<Text>, _>(&self.ids)
        .bind::<Array<Timestamptz>, _>(&self.times)
        .bind::<Array<Text>, _>(&self.levels)
        .bind::<Array<Text>, _>(&self.messages)
        .bind::<Array<Nullable<Text>>, _>(&self.states)
        .bind::<Array<Nullable<Text>>, _>(&self.locations)
        .bind::<Array<Nullable<Jsonb>>, _>(&self.contexts)
        .bind::<Array<Nullable<Text>>, _>(&self.elapsed)
        .execute(conn)
        .await
        .map_err(|e| internal("storing log lines failed", e))
    }
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
