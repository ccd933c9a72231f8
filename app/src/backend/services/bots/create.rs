//! Creating bots: validate, count them against the daily limit under a per-user lock, insert the bot and its
//! first event, and hand it to the deployer by inserting its `deployment_queue` row in the same
//! transaction (status QUEUED) when it starts within the lead time; later ones are SCHEDULED.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::row::BotRow;
use super::validate::{validate_create, UrlPolicy, ValidBot};
use crate::backend::config::Config;
use crate::backend::db::schema::{bots, deployment_queue};
use crate::backend::error::TxError;
use crate::backend::lifecycle;
use crate::backend::services::plans;
use crate::model::bot::{Bot, BotStatus, CreateBot};
use crate::model::error::AppError;

/// Advisory lock namespace for per-user creation (limit check and insert are atomic).
const USER_CREATE_LOCK: i32 = 7_300_002;

/// Creates bots for `user_id`; returns each bot and whether it was new (false when an
/// idempotency key matched an earlier create). All or nothing: the limit covers the batch.
pub async fn create_bot(
    conn: &mut AsyncPgConnection,
    config: &Config,
    user_id: i64,
    inputs: &[CreateBot],
    idempotency_header: Option<&str>,
) -> Result<Vec<(Bot, bool)>, AppError> {
    let now = Utc::now();
    let policy = UrlPolicy::for_webhooks(config);
    let valid: Vec<ValidBot> =
        inputs.iter().map(|i| validate_create(i, idempotency_header, now, policy)).collect::<Result<_, _>>()?;
    let lead = Duration::from_std(config.deploy_lead_time).unwrap_or_else(|_| Duration::minutes(5));
    let global_timeout = Duration::from_std(config.global_queue_timeout).unwrap_or_else(|_| Duration::minutes(10));
    let result = conn
        .transaction::<_, TxError, _>(async |conn| {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind::<diesel::sql_types::Integer, _>(USER_CREATE_LOCK)
                .bind::<diesel::sql_types::Integer, _>((user_id % i64::from(i32::MAX)) as i32)
                .execute(conn)
                .await?;
            let mut out = Vec::with_capacity(valid.len());
            let mut fresh = Vec::new();
            for v in &valid {
                match existing(conn, user_id, v.idempotency_key.as_deref()).await? {
                    Some(bot) => out.push((bot, false)),
                    None => fresh.push(v),
                }
            }
            if !fresh.is_empty() {
                // Counted by creation day (UTC) and kept after deletion: see plans::claim.
                plans::claim(conn, user_id, fresh.len() as i64, now).await?;
            }
            let callbacks = fresh.iter().any(|v| v.callback_url.is_some());
            for v in fresh {
                out.push((insert(conn, user_id, v, now, lead, global_timeout).await?, true));
            }
            if callbacks {
                crate::backend::webhooks::outbox::ensure_callback_endpoint(conn, user_id).await?;
            }
            Ok(out)
        })
        .await;
    result.map_err(|e| e.into_app("creating a bot failed"))
}

async fn existing(conn: &mut AsyncPgConnection, user_id: i64, key: Option<&str>) -> QueryResult<Option<Bot>> {
    let Some(key) = key else { return Ok(None) };
    let row: Option<BotRow> = bots::table
        .filter(bots::user_id.eq(user_id))
        .filter(bots::idempotency_key.eq(key))
        .select(BotRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(Bot::from))
}

async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    v: &ValidBot,
    now: DateTime<Utc>,
    lead: Duration,
    global_timeout: Duration,
) -> QueryResult<Bot> {
    let status = if v.start_time - now <= lead { BotStatus::Queued } else { BotStatus::Scheduled };
    let row: BotRow = diesel::insert_into(bots::table)
        .values((
            bots::user_id.eq(user_id),
            bots::display_name.eq(&v.display_name),
            bots::image_url.eq(&v.image_url),
            bots::meeting.eq(serde_json::to_value(&v.meeting).unwrap_or_default()),
            bots::meeting_platform.eq(v.meeting_platform.as_str()),
            bots::automatic_leave.eq(serde_json::to_value(v.automatic_leave).unwrap_or_default()),
            bots::start_time.eq(v.start_time),
            bots::end_time.eq(v.end_time),
            bots::recording_enabled.eq(v.recording_enabled),
            bots::status.eq(status.as_str()),
            bots::callback_url.eq(&v.callback_url),
            bots::queue_timeout_ms.eq(v.queue_timeout_ms),
            bots::idempotency_key.eq(&v.idempotency_key),
        ))
        .returning(BotRow::as_returning())
        .get_result(conn)
        .await?;
    lifecycle::created(conn, row.id, status, now).await?;
    if status == BotStatus::Queued {
        // The bot's own queueTimeoutMs, when given, replaces GLOBAL_QUEUE_TIMEOUT_MS (as the
        // scheduler does for bots it enqueues later).
        let timeout = v.queue_timeout_ms.map_or(global_timeout, |ms| Duration::milliseconds(i64::from(ms)));
        enqueue(conn, row.id, now, timeout).await?;
    }
    Ok(Bot::from(row))
}

/// Puts a bot in the deployment queue and wakes the dispatchers (`NOTIFY deployment_queue`).
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    now: DateTime<Utc>,
    timeout: Duration,
) -> QueryResult<()> {
    diesel::insert_into(deployment_queue::table)
        .values((
            deployment_queue::bot_id.eq(bot_id),
            deployment_queue::queued_at.eq(now),
            deployment_queue::timeout_at.eq(now + timeout),
        ))
        .on_conflict(deployment_queue::bot_id)
        .do_nothing()
        .execute(conn)
        .await?;
    diesel::sql_query("SELECT pg_notify('deployment_queue', $1)")
        .bind::<diesel::sql_types::Text, _>(bot_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
