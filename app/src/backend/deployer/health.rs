//! Each platform's health as every replica's deploys found it (`platform_health`), shared through
//! PostgreSQL so all replicas skip a failing platform together:
//!
//! - a deploy that fails on the platform's side marks it unhealthy for a back-off
//!   (`PLATFORM_BACKOFF_MS`, doubling with each further failure up to `PLATFORM_BACKOFF_MAX_MS`);
//! - when the back-off ends one replica takes the probe ([`take_due_probes`]); a successful probe
//!   (or deploy) makes the platform healthy again, a failed one doubles the back-off;
//! - a platform that throttles is not called before `throttled_until`, one that answered it is
//!   full (a quota) not before `full_until`; both stay healthy.
//!
//! Concurrent failures of one outage count once: `failures` grows only when the platform was
//! healthy or its back-off had ended (or a probe failed), so a burst of in-flight calls failing
//! together does not jump to the longest back-off.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Double, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::decide::{backoff, jitter, Health};
use crate::model::platform::DeploymentPlatform;

/// How long a replica that took a probe has before another may take it.
pub const PROBE_LEASE: Duration = Duration::from_secs(30);
/// The first throttling back-off; it doubles up to [`THROTTLE_MAX`].
pub const THROTTLE_BASE: Duration = Duration::from_secs(1);
pub const THROTTLE_MAX: Duration = Duration::from_secs(60);

/// One platform's row.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct HealthRow {
    #[diesel(sql_type = Text)]
    pub platform: String,
    #[diesel(sql_type = Integer)]
    pub failures: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub unhealthy_since: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub retry_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub throttled_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub full_until: Option<DateTime<Utc>>,
}

impl HealthRow {
    /// The deployer's view of this row at `now`.
    pub fn health(&self, now: DateTime<Utc>) -> Health {
        if self.unhealthy_since.is_some() {
            return Health::Unhealthy { retry_at: self.retry_at.unwrap_or(now) };
        }
        match (self.throttled_until, self.full_until) {
            (Some(until), _) if until > now => Health::Throttled { until },
            (_, Some(until)) if until > now => Health::Quota { until },
            _ => Health::Healthy,
        }
    }
}

/// Every platform's row, by platform name (a platform without a row is healthy).
pub async fn load(conn: &mut AsyncPgConnection) -> QueryResult<HashMap<String, HealthRow>> {
    let rows: Vec<HealthRow> = diesel::sql_query(
        "SELECT platform, failures, unhealthy_since, retry_at, reason, throttled_until, full_until FROM platform_health",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.platform.clone(), r)).collect())
}

/// Records a failure of `platform`'s own making: unhealthy until a back-off that grows with each
/// failure in a row (in one statement, so a crash cannot leave it unhealthy with no probe due).
/// `probe` says the failure is a probe's, which always counts. Answers the back-off.
pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    platform: DeploymentPlatform,
    reason: &str,
    base: Duration,
    max: Duration,
    probe: bool,
) -> QueryResult<Duration> {
    #[derive(QueryableByName)]
    struct Wait {
        #[diesel(sql_type = Double)]
        secs: f64,
    }
    let w: Wait = diesel::sql_query(
        "WITH upsert AS ( \
           INSERT INTO platform_health AS h (platform, failures, unhealthy_since, reason, retry_at, updated_at) \
           VALUES ($1, 1, now(), $2, now() + make_interval(secs => $3 * (0.8 + random() * 0.4)), now()) \
           ON CONFLICT (platform) DO UPDATE SET \
             failures = CASE WHEN $5 OR h.unhealthy_since IS NULL OR h.retry_at IS NULL OR h.retry_at <= now() \
                             THEN h.failures + 1 ELSE h.failures END, \
             retry_at = CASE WHEN $5 OR h.unhealthy_since IS NULL OR h.retry_at IS NULL OR h.retry_at <= now() \
                             THEN now() + make_interval(secs => LEAST($3 * power(2, LEAST(h.failures, 30)), $4) \
                                                              * (0.8 + random() * 0.4)) \
                             ELSE h.retry_at END, \
             unhealthy_since = COALESCE(h.unhealthy_since, now()), reason = $2, updated_at = now() \
           RETURNING retry_at) \
         SELECT GREATEST(extract(epoch FROM retry_at - now()), 0)::float8 AS secs FROM upsert",
    )
    .bind::<Text, _>(platform.as_str())
    .bind::<Text, _>(reason)
    .bind::<Double, _>(base.as_secs_f64())
    .bind::<Double, _>(max.as_secs_f64())
    .bind::<diesel::sql_types::Bool, _>(probe)
    .get_result(conn)
    .await?;
    Ok(Duration::from_secs_f64(w.secs.max(0.0)))
}

/// Records that `platform` answered well (a deploy or a probe): healthy, no throttling. Cheap
/// when it already was (the common case: one indexed no-op update).
pub async fn mark_ok(conn: &mut AsyncPgConnection, platform: DeploymentPlatform) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE platform_health SET failures = 0, unhealthy_since = NULL, retry_at = NULL, reason = NULL, \
             throttles = 0, throttled_until = NULL, full_until = NULL, updated_at = now() \
         WHERE platform = $1 AND (failures > 0 OR unhealthy_since IS NOT NULL OR throttles > 0 OR full_until IS NOT NULL)",
    )
    .bind::<Text, _>(platform.as_str())
    .execute(conn)
    .await?;
    Ok(n > 0)
}

/// Records that `platform` asked us to slow down: not called before a back-off that doubles with
/// each throttling in a row. Answers when it may be called again.
pub async fn throttle(conn: &mut AsyncPgConnection, platform: DeploymentPlatform) -> QueryResult<DateTime<Utc>> {
    #[derive(QueryableByName)]
    struct Throttles {
        #[diesel(sql_type = Integer)]
        throttles: i32,
    }
    let n: Throttles = diesel::sql_query(
        "INSERT INTO platform_health (platform, throttles, updated_at) VALUES ($1, 1, now()) \
         ON CONFLICT (platform) DO UPDATE SET throttles = platform_health.throttles + 1, updated_at = now() \
         RETURNING throttles",
    )
    .bind::<Text, _>(platform.as_str())
    .get_result(conn)
    .await?;
    let throttles = u32::try_from(n.throttles).unwrap_or(1);
    let wait = jitter(backoff(THROTTLE_BASE, THROTTLE_MAX, throttles), u64::from(throttles) << 8 ^ platform as u64);
    let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(1));
    diesel::sql_query(
        "UPDATE platform_health SET throttled_until = GREATEST(COALESCE(throttled_until, $2), $2) WHERE platform = $1",
    )
    .bind::<Text, _>(platform.as_str())
    .bind::<Timestamptz, _>(until)
    .execute(conn)
    .await?;
    Ok(until)
}

/// The unhealthy platforms whose back-off has ended and that no other replica is probing: this
/// replica takes their probes (each for [`PROBE_LEASE`]).
pub async fn take_due_probes(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = Text)]
        platform: String,
    }
    let due: Vec<Due> = diesel::sql_query(
        "UPDATE platform_health SET retry_at = now() + make_interval(secs => $1) \
         WHERE unhealthy_since IS NOT NULL AND (retry_at IS NULL OR retry_at <= now()) RETURNING platform",
    )
    .bind::<Double, _>(PROBE_LEASE.as_secs_f64())
    .load(conn)
    .await?;
    Ok(due.into_iter().map(|d| d.platform).collect())
}

/// Records that `platform` answered it is full (a quota, a full server): bots do not try it
/// again for `hold`, and those walking the platforms wait for it as for one at its limit.
pub async fn mark_full(conn: &mut AsyncPgConnection, platform: DeploymentPlatform, hold: Duration) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO platform_health AS h (platform, full_until, updated_at) \
         VALUES ($1, now() + make_interval(secs => $2), now()) \
         ON CONFLICT (platform) DO UPDATE SET \
           full_until = GREATEST(COALESCE(h.full_until, now()), now() + make_interval(secs => $2)), updated_at = now()",
    )
    .bind::<Text, _>(platform.as_str())
    .bind::<Double, _>(hold.as_secs_f64())
    .execute(conn)
    .await
    .map(|_| ())
}
