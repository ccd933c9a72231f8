//! Screenshots a bot uploads: stored in object storage, listed in the bot's metadata.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::auth::tokens::random_token;
use crate::backend::db::schema::bots;
use crate::backend::error::internal;
use crate::backend::services::validate;
use crate::backend::storage::Storage;
use crate::model::error::AppError;

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
/// [`KEEP_SCREENSHOTS`], and deleting older ones from storage). Bad fields are 400 with the field
/// named; a non-PNG file is refused.
pub async fn add_screenshot(
    conn: &mut AsyncPgConnection,
    storage: &Storage,
    bot_id: i64,
    upload: ScreenshotUpload,
) -> Result<ScreenshotData, AppError> {
    let data = prepare_screenshot(storage, bot_id, upload).await?;
    let evicted = record_screenshot(conn, bot_id, &data).await?;
    forget_objects(storage, &evicted).await;
    Ok(data)
}

/// Validates a screenshot and stores its image; needs no database connection.
pub async fn prepare_screenshot(
    storage: &Storage,
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
    validate::text("state", &state)?;
    let trigger = upload.trigger.filter(|t| !t.is_empty());
    if trigger.as_ref().is_some_and(|t| t.len() > 200) {
        return Err(AppError::invalid("trigger", "At most 200 characters."));
    }
    if let Some(t) = &trigger {
        validate::text("trigger", t)?;
    }
    let now = Utc::now();
    let key = format!("bots/{bot_id}/screenshots/{}-{kind}-{}.png", &random_token()[..16], now.timestamp_millis());
    storage.put(&key, file).await?;
    Ok(ScreenshotData { key, captured_at: now, kind, state, trigger })
}

#[derive(QueryableByName)]
struct Evicted {
    #[diesel(sql_type = Text)]
    key: String,
}

/// Appends a stored screenshot to the bot's metadata, keeping the newest [`KEEP_SCREENSHOTS`];
/// answers the keys of the ones that dropped off (to delete from storage).
pub async fn record_screenshot(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    data: &ScreenshotData,
) -> Result<Vec<String>, AppError> {
    let value = serde_json::to_value(data).map_err(|e| internal("encoding a screenshot failed", e))?;
    let evicted: Vec<Evicted> = diesel::sql_query(
        "WITH cur AS (SELECT screenshots FROM bots WHERE id = $1 FOR UPDATE),               entries AS (SELECT e, ord FROM cur,                           jsonb_array_elements(cur.screenshots || jsonb_build_array($2::jsonb)) WITH ORDINALITY AS t(e, ord)),               total AS (SELECT count(*) AS n FROM entries),               upd AS (UPDATE bots SET screenshots = (                           SELECT COALESCE(jsonb_agg(e ORDER BY ord), '[]'::jsonb) FROM entries                           WHERE ord > (SELECT n FROM total) - $3)                       WHERE id = $1)          SELECT e->>'key' AS key FROM entries WHERE ord <= (SELECT n FROM total) - $3 AND e ? 'key'",
    )
    .bind::<BigInt, _>(bot_id)
    .bind::<diesel::sql_types::Jsonb, _>(value)
    .bind::<BigInt, _>(KEEP_SCREENSHOTS as i64)
    .load(conn)
    .await
    .map_err(|e| internal("recording a screenshot failed", e))?;
    Ok(evicted.into_iter().map(|e| e.key).collect())
}

/// Deletes objects no row refers to any more; a failure is logged (the object is orphaned, not
/// lost data) and does not fail the request.
pub async fn forget_objects(storage: &Storage, keys: &[String]) {
    for key in keys {
        if let Err(e) = storage.delete(key).await {
            tracing::warn!(%key, error = %e, "deleting an object failed");
        }
    }
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
