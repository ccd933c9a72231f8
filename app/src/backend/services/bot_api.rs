//! What a running bot asks of the server: its configuration, heartbeats, status changes, events,
//! log lines, chat messages. One implementation behind both wire formats (REST under
//! `/api/v1/bot` and the upstream tRPC batch format under `/api/trpc`).
//!
//! Every call is authorised by the bot's own token (see [`authorize`]); the caller passes the
//! bot id it was started with, and a token opens only that bot.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::auth::tokens::{hash_token, random_token};
use crate::backend::config::Config;
use crate::backend::db::schema::{bot_logs, bot_pool_slots, bots};
use crate::backend::services::accounts::internal;
use crate::model::bot::{event_description, BotStatus, LogLevel, EVENT_TYPES};
use crate::model::error::AppError;

/// Most events one report may carry.
pub const MAX_EVENTS: usize = 500;
/// Most log lines one stream call may carry (bots send at most 100 at a time).
pub const MAX_LOG_ENTRIES: usize = 1000;
/// Longest log message kept; longer ones are cut (with a marker), never refused.
pub const MAX_LOG_MESSAGE: usize = 16 * 1024;

/// Prefix of bot tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "mbt_";

/// Creates a new token for a bot (at each deployment) and stores its hash; the plaintext goes to
/// the container as `MILO_AUTH_TOKEN` and is never stored.
pub async fn issue_token(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<String, AppError> {
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let n = diesel::update(bots::table.find(bot_id))
        .set(bots::token_hash.eq(Some(hash_token(&token))))
        .execute(conn)
        .await
        .map_err(|e| internal("storing a bot token failed", e))?;
    if n == 0 {
        return Err(not_found(bot_id));
    }
    Ok(token)
}

/// Creates a new token for a Coolify pool slot; it opens whichever bot the slot currently runs.
pub async fn issue_slot_token(conn: &mut AsyncPgConnection, slot_uuid: &str) -> Result<String, AppError> {
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let n = diesel::update(bot_pool_slots::table.filter(bot_pool_slots::application_uuid.eq(slot_uuid)))
        .set(bot_pool_slots::token_hash.eq(Some(hash_token(&token))))
        .execute(conn)
        .await
        .map_err(|e| internal("storing a slot token failed", e))?;
    if n == 0 {
        return Err(AppError::NotFound(format!("Pool slot {slot_uuid} was not found.")));
    }
    Ok(token)
}

fn not_found(bot_id: i64) -> AppError {
    AppError::NotFound(format!("Bot {bot_id} was not found."))
}

/// The token a request carries: `X-Milo-Token`, or `Authorization: Bearer <token>`.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-milo-token").and_then(|v| v.to_str().ok()) {
        return Some(v.trim()).filter(|v| !v.is_empty());
    }
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The answer to a request without a bot token (401).
pub fn missing_token() -> AppError {
    AppError::Unauthorized(
        "Send the bot's token (MILO_AUTH_TOKEN) in the X-Milo-Token header or as Authorization: Bearer <token>.".into(),
    )
}

/// Whether `token` is the one whose hash is `stored`, or the enabled shared legacy token.
pub fn token_matches(config: &Config, stored: Option<&[u8]>, token: &str) -> bool {
    if let Some(legacy) = config.legacy_bot_token.as_ref() {
        use secrecy::ExposeSecret;
        if constant_time_eq(legacy.expose_secret().as_bytes(), token.as_bytes()) {
            return true;
        }
    }
    stored.is_some_and(|s| constant_time_eq(s, &hash_token(token)))
}

/// Checks that `token` opens bot `bot_id`: the bot's own token, the token of the pool slot that
/// currently runs it, or (only when `LEGACY_BOT_TOKEN_ENABLED=true`) the shared legacy token.
/// No token: 401. A token of another bot, or none we know: 403. No such bot: 404.
pub async fn authorize(
    conn: &mut AsyncPgConnection,
    config: &Config,
    bot_id: i64,
    token: Option<&str>,
) -> Result<(), AppError> {
    let Some(token) = token else {
        return Err(missing_token());
    };
    let hash = hash_token(token);
    let stored: Option<Option<Vec<u8>>> = bots::table
        .find(bot_id)
        .select(bots::token_hash)
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a bot token failed", e))?;
    let Some(stored) = stored else {
        return Err(not_found(bot_id));
    };
    if token_matches(config, stored.as_deref(), token) {
        return Ok(());
    }
    let slot: i64 = bot_pool_slots::table
        .filter(bot_pool_slots::assigned_bot_id.eq(bot_id))
        .filter(bot_pool_slots::token_hash.eq(&hash))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("reading a slot token failed", e))?;
    if slot > 0 {
        return Ok(());
    }
    Err(AppError::Forbidden)
}

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
        return Err(not_found(bot_id));
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

/// Applies a status change with the upstream rules: from LEAVING only DONE or FATAL (anything
/// else is refused with 409 and the reason); DONE with recording enabled needs the recording
/// key; DONE and FATAL set the end time. Every change is an event; the same status again is
/// accepted and changes nothing.
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
    }
    if let Some(t) = &update.speaker_timeframes {
        if !t.is_array() {
            return Err(AppError::invalid("speakerTimeframes", "Send speaker timeframes as a list."));
        }
    }
    let update = update.clone();
    conn.transaction::<_, Tx, _>(async |conn| {
        let row: Option<(String, bool)> = bots::table
            .find(bot_id)
            .select((bots::status, bots::recording_enabled))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let (current, recording_enabled) = row.ok_or_else(|| not_found(bot_id))?;
        let current = BotStatus::parse(&current).unwrap_or(BotStatus::Fatal);
        if current == new {
            return Ok(StatusReply { id: bot_id, status: new.as_str().to_owned(), finished: new.is_terminal() });
        }
        if current.is_terminal() {
            return Err(AppError::Conflict {
                field: Some("status".into()),
                message: format!("Bot {bot_id} is already {}; its status can no longer change.", current.as_str()),
            }
            .into());
        }
        if current == BotStatus::Leaving && !matches!(new, BotStatus::Done | BotStatus::Fatal) {
            return Err(AppError::Conflict {
                field: Some("status".into()),
                message: format!("Bot {bot_id} is LEAVING; it can only become DONE or FATAL."),
            }
            .into());
        }
        if new == BotStatus::Done && recording_enabled && update.recording.is_none() {
            return Err(AppError::invalid(
                "recording",
                "Recording is enabled for this bot: DONE needs the recording's object key.",
            )
            .into());
        }
        let now = Utc::now();
        let finished = matches!(new, BotStatus::Done | BotStatus::Fatal);
        diesel::update(bots::table.find(bot_id))
            .set((bots::status.eq(new.as_str()), bots::updated_at.eq(now)))
            .execute(conn)
            .await?;
        if finished {
            diesel::update(bots::table.find(bot_id)).set(bots::end_time.eq(ended_at())).execute(conn).await?;
        }
        if new == BotStatus::Done {
            diesel::update(bots::table.find(bot_id))
                .set((
                    bots::recording.eq(update.recording.clone()),
                    bots::speaker_timeframes.eq(update.speaker_timeframes.clone().unwrap_or_else(|| json!([]))),
                ))
                .execute(conn)
                .await?;
        }
        // Bots report each status as an event and then as a status change (the upstream
        // contract); the change is recorded only when the bot has not just reported it.
        diesel::sql_query(
            "INSERT INTO events (bot_id, event_type, event_time, data) \
             SELECT $1, $2, $3, jsonb_build_object('description', $4::text) \
             WHERE NOT EXISTS (SELECT 1 FROM events WHERE bot_id = $1 AND event_type = $2 \
                               AND created_at > now() - interval '1 minute')",
        )
        .bind::<BigInt, _>(bot_id)
        .bind::<Text, _>(new.as_str())
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<Text, _>(event_description(new.as_str()))
        .execute(conn)
        .await?;
        Ok(StatusReply { id: bot_id, status: new.as_str().to_owned(), finished })
    })
    .await
    .map_err(|Tx(e)| e)
}

/// The end time of a bot that ends now: never before its start (a bot can end before its start
/// time when it was queued within the lead time), which the table's check requires.
pub fn ended_at() -> diesel::expression::SqlLiteral<diesel::sql_types::Timestamptz> {
    diesel::dsl::sql::<diesel::sql_types::Timestamptz>("GREATEST(start_time, now())")
}

/// An error inside a transaction: ours, or the database's (which also rolls back).
struct Tx(AppError);

impl From<AppError> for Tx {
    fn from(e: AppError) -> Self {
        Tx(e)
    }
}

impl From<diesel::result::Error> for Tx {
    fn from(e: diesel::result::Error) -> Self {
        Tx(internal("a bot update failed", e))
    }
}

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

/// A chat message for the bot to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub message_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<i64>,
    pub user_id: i64,
}

#[derive(QueryableByName)]
struct Dequeued {
    #[diesel(sql_type = Text)]
    message_text: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    template_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
}

/// Takes the oldest queued chat message of a bot, marking it sent in the same statement: two
/// bots (or two retries) asking at once never get the same message. The caller has authorised
/// the bot (which also proved it exists).
pub async fn dequeue_chat(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<Option<ChatMessage>, AppError> {
    let row: Option<Dequeued> = diesel::sql_query(
        "UPDATE bot_chat_messages SET status = 'sent', delivered_at = now() \
         WHERE id = (SELECT id FROM bot_chat_messages WHERE bot_id = $1 AND status = 'queued' \
                     ORDER BY sent_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING message_text, template_id, user_id",
    )
    .bind::<BigInt, _>(bot_id)
    .get_result(conn)
    .await
    .optional()
    .map_err(|e| internal("dequeuing a chat message failed", e))?;
    Ok(row.map(|r| ChatMessage { message_text: r.message_text, template_id: r.template_id, user_id: r.user_id }))
}

/// Largest screenshot accepted (413 beyond).
pub const MAX_SCREENSHOT_BYTES: usize = 8 * 1024 * 1024;
/// How many screenshots a bot keeps in its metadata (older ones drop off the list).
pub const KEEP_SCREENSHOTS: usize = 50;
/// The screenshot kinds bots send.
pub const SCREENSHOT_TYPES: [&str; 4] = ["error", "fatal", "manual", "state_change"];

/// A screenshot as stored in the bot's metadata (the upstream `ScreenshotData`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotData {
    /// Object key: `bots/{id}/screenshots/{random}-{type}-{millis}.png`.
    pub key: String,
    pub captured_at: DateTime<Utc>,
    /// error, fatal, manual or state_change.
    #[serde(rename = "type")]
    pub kind: String,
    /// The bot's state when it was taken.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// A screenshot upload, already read from its multipart form.
#[derive(Debug, Default)]
pub struct ScreenshotUpload {
    pub file: Option<Vec<u8>>,
    pub kind: Option<String>,
    pub state: Option<String>,
    pub trigger: Option<String>,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Validates and stores a screenshot, and appends it to the bot's metadata (keeping the last
/// [`KEEP_SCREENSHOTS`]). Bad fields are 400 with the field named; a non-PNG file is refused.
pub async fn add_screenshot(
    conn: &mut AsyncPgConnection,
    storage: &crate::backend::storage::Storage,
    bot_id: i64,
    upload: ScreenshotUpload,
) -> Result<ScreenshotData, AppError> {
    let file = upload.file.ok_or_else(|| AppError::invalid("file", "Attach the screenshot as the `file` field."))?;
    if !file.starts_with(PNG_MAGIC) {
        return Err(AppError::invalid("file", "The screenshot must be a PNG image."));
    }
    let kind = upload.kind.unwrap_or_default();
    if !SCREENSHOT_TYPES.contains(&kind.as_str()) {
        return Err(AppError::invalid("type", format!("Use one of {}.", SCREENSHOT_TYPES.join(", "))));
    }
    let state = upload.state.unwrap_or_default();
    if state.trim().is_empty() || state.len() > 100 {
        return Err(AppError::invalid("state", "Send the bot's state (1 to 100 characters)."));
    }
    let trigger = upload.trigger.filter(|t| !t.is_empty());
    if trigger.as_ref().is_some_and(|t| t.len() > 200) {
        return Err(AppError::invalid("trigger", "At most 200 characters."));
    }
    let now = Utc::now();
    let key = format!("bots/{bot_id}/screenshots/{}-{kind}-{}.png", &random_token()[..16], now.timestamp_millis());
    storage.put(&key, file).await?;
    let data = ScreenshotData { key, captured_at: now, kind, state, trigger };
    let value = serde_json::to_value(&data).map_err(|e| internal("encoding a screenshot failed", e))?;
    diesel::sql_query(
        "UPDATE bots SET screenshots = ( \
            SELECT COALESCE(jsonb_agg(e ORDER BY ord), '[]'::jsonb) FROM ( \
                SELECT e, ord FROM jsonb_array_elements(bots.screenshots || jsonb_build_array($2::jsonb)) \
                WITH ORDINALITY AS t(e, ord) ORDER BY ord DESC LIMIT $3) newest) \
         WHERE id = $1",
    )
    .bind::<BigInt, _>(bot_id)
    .bind::<diesel::sql_types::Jsonb, _>(value)
    .bind::<BigInt, _>(KEEP_SCREENSHOTS as i64)
    .execute(conn)
    .await
    .map_err(|e| internal("recording a screenshot failed", e))?;
    Ok(data)
}

/// The screenshots of a bot, oldest first (the caller checks ownership).
pub async fn screenshots(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<Vec<ScreenshotData>, AppError> {
    let v: Value = bots::table
        .find(bot_id)
        .select(bots::screenshots)
        .first(conn)
        .await
        .map_err(|e| internal("reading screenshots failed", e))?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}
