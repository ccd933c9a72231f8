//! The outbox: every event is written to `webhook_deliveries` in the transaction that makes it
//! happen (a status change, a recording reported), one row per destination, so an event is
//! delivered if and only if what it reports was committed. The senders
//! ([`super::delivery`]) take it from there.

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::signing::new_secret;

/// Event types.
pub const STATUS_CHANGED: &str = "bot.status_changed";
pub const RECORDING_READY: &str = "bot.recording_ready";

/// The destinations of a bot's event, and a fresh event id per bot shared by all of them:
/// the user's enabled endpoints, and the callback row when the bot has a `callback_url`.
/// Expects `ev(bot_id, user_id, callback_url, event_id, ...)` in scope.
const DESTINATIONS: &str = "FROM ev JOIN webhook_endpoints e ON e.user_id = ev.user_id AND e.enabled \
     WHERE e.kind = 'endpoint' OR (e.kind = 'callback' AND ev.callback_url IS NOT NULL)";

/// Makes sure `user_id` has the row that signs its bots' callbacks (created with a bot that
/// has a `callback_url`, in that bot's transaction). Only a read once it exists.
pub async fn ensure_callback_endpoint(conn: &mut AsyncPgConnection, user_id: i64) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO webhook_endpoints (user_id, kind, secret) \
         SELECT $1, 'callback', $2 \
         WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE user_id = $1 AND kind = 'callback') \
         ON CONFLICT (user_id) WHERE kind = 'callback' DO NOTHING",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<Text, _>(new_secret())
    .execute(conn)
    .await
    .map(|_| ())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Records `bot.status_changed` for bots that moved to `to` (their previous statuses in
/// `from`, in the same order), in the caller's transaction.
pub async fn status_changed(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    from: &[&str],
    to: &str,
    description: &str,
    sub_code: Option<&str>,
    at: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(format!(
        "WITH ev AS MATERIALIZED ( \
             SELECT b.id AS bot_id, b.user_id, b.callback_url, m.from_status, \
                    'msg_' || replace(gen_random_uuid()::text, '-', '') AS event_id \
             FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS m(id, from_status, n) \
             JOIN bots b ON b.id = m.id \
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.user_id = b.user_id AND w.enabled) \
             ORDER BY m.n) \
         INSERT INTO webhook_deliveries (endpoint_id, bot_id, event_id, event_type, url, body) \
         SELECT e.id, ev.bot_id, ev.event_id, '{STATUS_CHANGED}', COALESCE(e.url, ev.callback_url), \
                jsonb_build_object('type', '{STATUS_CHANGED}', 'timestamp', $6::text, 'data', \
                    jsonb_build_object('botId', ev.bot_id, 'status', $3::text, 'previousStatus', ev.from_status, \
                                       'description', $4::text, 'subCode', $5::text))::text \
         {DESTINATIONS} ORDER BY ev.bot_id, e.id"
    ))
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Text>, _>(from)
    .bind::<Text, _>(to)
    .bind::<Text, _>(description)
    .bind::<Nullable<Text>, _>(sub_code)
    .bind::<Text, _>(timestamp(at))
    .execute(conn)
    .await
}

/// Records `bot.recording_ready` for a bot whose recording was just reported, in the caller's
/// transaction (after its DONE, so receivers see DONE first).
pub async fn recording_ready(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    key: &str,
    at: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(format!(
        "WITH ev AS MATERIALIZED ( \
             SELECT b.id AS bot_id, b.user_id, b.callback_url, \
                    'msg_' || replace(gen_random_uuid()::text, '-', '') AS event_id \
             FROM bots b WHERE b.id = $1) \
         INSERT INTO webhook_deliveries (endpoint_id, bot_id, event_id, event_type, url, body) \
         SELECT e.id, ev.bot_id, ev.event_id, '{RECORDING_READY}', COALESCE(e.url, ev.callback_url), \
                jsonb_build_object('type', '{RECORDING_READY}', 'timestamp', $3::text, 'data', \
                    jsonb_build_object('botId', ev.bot_id, 'recordingKey', $2::text, \
                                       'recordingPath', '/api/v1/bots/' || ev.bot_id || '/recording'))::text \
         {DESTINATIONS} ORDER BY e.id"
    ))
    .bind::<BigInt, _>(bot_id)
    .bind::<Text, _>(key)
    .bind::<Text, _>(timestamp(at))
    .execute(conn)
    .await
}
