//! The senders: every replica claims due deliveries from the outbox and attempts them.
//!
//! - **Claims.** A pass takes up to [`BATCH`] due deliveries with `FOR UPDATE SKIP LOCKED` and
//!   moves their `next_attempt_at` a lease ahead ([`lease`]): a replica that dies mid-attempt
//!   leaves them due again once the lease lapses, so nothing is lost (at least once).
//! - **In order per bot.** Only the oldest pending delivery of a bot to an endpoint is ever
//!   claimed; the next waits until it is delivered or given up.
//! - **Retries** with exponential back-off and jitter ([`retry_delay`]) until
//!   `WEBHOOK_RETRY_HOURS` after the event; then the delivery is FAILED.
//! - **Disabling.** An account endpoint whose every attempt has failed for
//!   `WEBHOOK_DISABLE_AFTER_HOURS`, at least `WEBHOOK_DISABLE_AFTER_FAILURES` times, is disabled
//!   with a reason its owner sees on the Webhooks page; its deliveries wait until it is enabled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Int4, Integer, Nullable, Text, Timestamptz};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand::Rng;

use super::sender::{Attempt, Sender};
use crate::backend::config::WebhookConfig;
use crate::backend::db::DbPool;

/// Deliveries one pass claims (and attempts at once) per replica.
pub const BATCH: i64 = 32;
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// Finished deliveries are kept this long for the delivery log.
pub const KEPT_DAYS: i32 = 30;

/// How long a claim holds a delivery: past the attempt's own timeout, with room to record it.
pub fn lease(timeout: Duration) -> Duration {
    timeout * 2 + Duration::from_secs(5)
}

/// The wait after the `attempts`-th failed attempt: `base`, doubled each time, at most
/// [`MAX_RETRY_DELAY`], of which a random half (`jitter` in 0..1) is taken off so receivers
/// that failed together are not retried together.
pub fn retry_delay(base: Duration, attempts: u32, jitter: f64) -> Duration {
    let doubled = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    doubled.min(MAX_RETRY_DELAY).mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
}

/// A claimed delivery, with what signing it needs.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub secret: String,
}

/// Claims up to `limit` due deliveries (the head of each bot's line per endpoint).
pub async fn claim(conn: &mut AsyncPgConnection, limit: i64, lease: Duration) -> diesel::QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "WITH due AS ( \
             SELECT d.id FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled \
             WHERE d.status = 'PENDING' AND d.next_attempt_at <= now() \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'PENDING' \
                               AND p.endpoint_id = d.endpoint_id AND p.bot_id = d.bot_id AND p.id < d.id) \
             ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED) \
         UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = now(), \
             next_attempt_at = now() + make_interval(secs => $2) \
         FROM due, webhook_endpoints e WHERE d.id = due.id AND e.id = d.endpoint_id \
         RETURNING d.id, d.endpoint_id, d.event_id, d.url, d.body, d.attempts, d.created_at, e.secret",
    )
    .bind::<BigInt, _>(limit)
    .bind::<diesel::sql_types::Double, _>(lease.as_secs_f64())
    .load(conn)
    .await
}

/// What recording an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    /// Another attempt is due at this time.
    Retry(DateTime<Utc>),
    /// Given up: retried for `WEBHOOK_RETRY_HOURS`.
    Failed,
}

#[derive(QueryableByName)]
struct Disabled {
    #[diesel(sql_type = Bool)]
    disabled: bool,
}

/// Records an attempt's outcome on the delivery and its endpoint; answers what became of the
/// delivery and whether the endpoint was disabled by it.
pub async fn record(
    conn: &mut AsyncPgConnection,
    config: &WebhookConfig,
    claimed: &Claimed,
    attempt: &Attempt,
) -> diesel::QueryResult<(Recorded, bool)> {
    let now = Utc::now();
    let status = attempt.status.map(i32::from);
    if attempt.delivered() {
        diesel::sql_query(
            "UPDATE webhook_deliveries SET status = 'DELIVERED', delivered_at = now(), last_status_code = $2, \
                 last_error = NULL, last_response = $3 WHERE id = $1 AND status = 'PENDING'",
        )
        .bind::<BigInt, _>(claimed.id)
        .bind::<Nullable<Integer>, _>(status)
        .bind::<Nullable<Text>, _>(&attempt.response)
        .execute(conn)
        .await?;
        diesel::sql_query(
            "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL \
             WHERE id = $1 AND consecutive_failures > 0",
        )
        .bind::<BigInt, _>(claimed.endpoint_id)
        .execute(conn)
        .await?;
        return Ok((Recorded::Delivered, false));
    }
    let delay = retry_delay(config.retry_base, claimed.attempts.max(1) as u32, rand::thread_rng().gen());
    let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
    let give_up_at = claimed.created_at + chrono::Duration::from_std(config.retry_for).unwrap_or_default();
    let recorded = if next > give_up_at { Recorded::Failed } else { Recorded::Retry(next) };
    diesel::sql_query(
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3, last_status_code = $4, \
             last_error = $5, last_response = $6 WHERE id = $1 AND status = 'PENDING'",
    )
    .bind::<BigInt, _>(claimed.id)
    .bind::<Text, _>(if recorded == Recorded::Failed { "FAILED" } else { "PENDING" })
    .bind::<Timestamptz, _>(next)
    .bind::<Nullable<Integer>, _>(status)
    .bind::<Nullable<Text>, _>(&attempt.error)
    .bind::<Nullable<Text>, _>(&attempt.response)
    .execute(conn)
    .await?;
    let disabled: Option<Disabled> = diesel::sql_query(
        "WITH cur AS ( \
             SELECT id, consecutive_failures + 1 AS failures, COALESCE(failing_since, now()) AS since, \
                    (enabled AND kind = 'endpoint' AND consecutive_failures + 1 >= $2 \
                     AND COALESCE(failing_since, now()) <= now() - make_interval(secs => $3)) AS disable \
             FROM webhook_endpoints WHERE id = $1 FOR UPDATE) \
         UPDATE webhook_endpoints w SET consecutive_failures = cur.failures, failing_since = cur.since, \
             enabled = w.enabled AND NOT cur.disable, \
             disabled_at = CASE WHEN cur.disable THEN now() ELSE w.disabled_at END, \
             disabled_reason = CASE WHEN cur.disable \
                 THEN format('Disabled after %s failed attempts in a row since %s UTC. The last: %s.', cur.failures, \
                             to_char(cur.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), $4) \
                 ELSE w.disabled_reason END \
         FROM cur WHERE w.id = cur.id RETURNING cur.disable AS disabled",
    )
    .bind::<BigInt, _>(claimed.endpoint_id)
    .bind::<Integer, _>(config.disable_after_failures as i32)
    .bind::<diesel::sql_types::Double, _>(config.disable_after.as_secs_f64())
    .bind::<Text, _>(attempt.error.as_deref().unwrap_or("failed"))
    .get_result(conn)
    .await
    .optional()?;
    Ok((recorded, disabled.is_some_and(|d| d.disabled)))
}

/// One pass of a replica's sender: claims due deliveries, attempts them all at once, records
/// each outcome. Answers how many were claimed.
pub async fn deliver_due(pool: &DbPool, sender: &Sender, config: &WebhookConfig) -> Result<usize, String> {
    let claimed = {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        claim(&mut conn, BATCH, lease(config.timeout)).await.map_err(|e| e.to_string())?
    };
    let n = claimed.len();
    let attempts = claimed.into_iter().map(|c| async move {
        let attempt = sender.send(&c.url, &c.event_id, &c.secret, &c.body).await;
        metrics::histogram!("meeboter_webhook_delivery_duration_seconds").record(attempt.took.as_secs_f64());
        let mut conn = match pool.get().await {
            Ok(conn) => conn,
            Err(e) => {
                // The lease lapses and the delivery is attempted again: at least once.
                tracing::warn!(delivery = c.id, error = %e, "webhook: could not record an attempt");
                return;
            }
        };
        match record(&mut conn, config, &c, &attempt).await {
            Ok((recorded, disabled)) => {
                let outcome = match recorded {
                    Recorded::Delivered => "delivered",
                    Recorded::Retry(_) => "retry",
                    Recorded::Failed => "failed",
                };
                metrics::counter!("meeboter_webhook_deliveries_total", "outcome" => outcome).increment(1);
                if recorded != Recorded::Delivered {
                    tracing::info!(
                        delivery = c.id,
                        endpoint = c.endpoint_id,
                        attempts = c.attempts,
                        outcome,
                        error = attempt.error.as_deref().unwrap_or(""),
                        "webhook attempt failed"
                    );
                }
                if disabled {
                    tracing::warn!(endpoint = c.endpoint_id, "webhook endpoint disabled after a long run of failures");
                }
            }
            Err(e) => tracing::warn!(delivery = c.id, error = %e, "webhook: could not record an attempt"),
        }
    });
    futures_util::future::join_all(attempts).await;
    Ok(n)
}

/// Deletes delivered and failed deliveries older than [`KEPT_DAYS`].
pub async fn prune(conn: &mut AsyncPgConnection) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM webhook_deliveries WHERE status <> 'PENDING' AND created_at < now() - make_interval(days => $1)",
    )
    .bind::<Integer, _>(KEPT_DAYS)
    .execute(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_an_hour_with_jitter_taking_at_most_half() {
        let base = Duration::from_secs(5);
        assert_eq!(retry_delay(base, 1, 0.0), Duration::from_secs(5));
        assert_eq!(retry_delay(base, 2, 0.0), Duration::from_secs(10));
        assert_eq!(retry_delay(base, 5, 0.0), Duration::from_secs(80));
        assert_eq!(retry_delay(base, 12, 0.0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(base, 400, 0.0), MAX_RETRY_DELAY, "no overflow");
        assert_eq!(retry_delay(base, 3, 1.0), Duration::from_secs(10));
        let d = retry_delay(base, 3, 0.3);
        assert!(d > Duration::from_secs(10) && d < Duration::from_secs(20), "{d:?}");
    }

    #[test]
    fn a_day_of_retries_is_33_to_57_attempts_by_the_jitter() {
        let in_a_day = |jitter: f64| {
            let (mut t, mut n) = (Duration::ZERO, 0u32);
            while t < Duration::from_secs(86_400) {
                n += 1;
                t += retry_delay(Duration::from_secs(5), n, jitter);
            }
            n
        };
        assert_eq!(in_a_day(0.0), 33);
        assert_eq!(in_a_day(0.5), 41);
        assert_eq!(in_a_day(1.0), 57);
    }

    #[test]
    fn a_lease_outlasts_the_attempt() {
        assert!(lease(Duration::from_secs(10)) > Duration::from_secs(10));
    }
}
