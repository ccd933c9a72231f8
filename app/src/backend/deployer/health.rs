//! Each platform's health as every replica's deploys found it (`platform_health`), shared through
//! PostgreSQL so all replicas skip a failing platform together:
//!
//! - a deploy that fails on the platform's side marks it unhealthy for a back-off
//!   (`PLATFORM_BACKOFF_MS`, doubling with each further failure up to `PLATFORM_BACKOFF_MAX_MS`);
//! - when the back-off ends one replica takes the probe ([`take_due_probes`]); a successful probe
//!   (or deploy) makes the platform healthy again, a failed one doubles the back-off;
//! - a platform that throttles is not called before `throttled_until`; it stays healthy.

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
}

impl HealthRow {
    /// The deployer's view of this row at `now`.
    pub fn health(&self, now: DateTime<Utc>) -> Health {
        if self.unhealthy_since.is_some() {
            return Health::Unhealthy { retry_at: self.retry_at.unwrap_or(now) };
        }
        match self.throttled_until {
            Some(until) if until > now => Health::Throttled { until },
            _ => Health::Healthy,
        }
    }
}

/// Every platform's row, by platform name (a platform without a row is healthy).
pub async fn load(conn: &mut AsyncPgConnection) -> QueryResult<HashMap<String, HealthRow>> {
    let rows: Vec<HealthRow> = diesel::sql_query(
        "SELECT platform, failures, unhealthy_since, retry_at, reason, throttled_until FROM platform_health",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.platform.clone(), r)).collect())
}

/// Records a failure of `platform`'s own making: unhealthy until a back-off that grows with each
/// failure in a row. Answers the back-off.
pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    platform: DeploymentPlatform,
    reason: &str,
    base: Duration,
    max: Duration,
) -> QueryResult<Duration> {
    #[derive(QueryableByName)]
    struct Failures {
        #[diesel(sql_type = Integer)]
        failures: i32,
    }
    let n: Failures = diesel::sql_query(
        "INSERT INTO platform_health (platform, failures, unhealthy_since, reason, updated_at) \
         VALUES ($1, 1, now(), $2, now()) \
         ON CONFLICT (platform) DO UPDATE SET failures = platform_health.failures + 1, \
             unhealthy_since = COALESCE(platform_health.unhealthy_since, now()), reason = $2, updated_at = now() \
         RETURNING failures",
    )
    .bind::<Text, _>(platform.as_str())
    .bind::<Text, _>(reason)
    .get_result(conn)
    .await?;
    let failures = u32::try_from(n.failures).unwrap_or(1);
    let wait = jitter(backoff(base, max, failures), u64::from(failures) ^ platform as u64);
    diesel::sql_query("UPDATE platform_health SET retry_at = now() + make_interval(secs => $2) WHERE platform = $1")
        .bind::<Text, _>(platform.as_str())
        .bind::<Double, _>(wait.as_secs_f64())
        .execute(conn)
        .await?;
    Ok(wait)
}

/// Records that `platform` answered well (a deploy or a probe): healthy, no throttling. Cheap
/// when it already was (the common case: one indexed no-op update).
pub async fn mark_ok(conn: &mut AsyncPgConnection, platform: DeploymentPlatform) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE platform_health SET failures = 0, unhealthy_since = NULL, retry_at = NULL, reason = NULL, \
             throttles = 0, throttled_until = NULL, updated_at = now() \
         WHERE platform = $1 AND (failures > 0 OR unhealthy_since IS NOT NULL OR throttles > 0)",
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
         WHERE unhealthy_since IS NOT NULL AND retry_at <= now() RETURNING platform",
    )
    .bind::<Double, _>(PROBE_LEASE.as_secs_f64())
    .load(conn)
    .await?;
    Ok(due.into_iter().map(|d| d.platform).collect())
}
