//! The configured platforms in priority order with how full each is (active bots against its
//! limit), its health as the deployers recorded it (`platform_health`) and the latency of its
//! deploy calls over the last hour (`deploy_attempts`, p50 and p95).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Scope;
use crate::backend::config::PlatformSlot;
use crate::backend::deployer::health::{self, HealthRow};
use crate::model::bot::BotStatus;
use crate::model::infrastructure::{HealthState, PlatformStatus};

#[derive(QueryableByName)]
struct Used {
    #[diesel(sql_type = Text)]
    platform: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Latency {
    #[diesel(sql_type = Text)]
    platform: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Double>)]
    p50: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p95: Option<f64>,
}

/// Each configured platform's status, in priority order.
pub async fn active_platforms(
    conn: &mut AsyncPgConnection,
    slots: &[PlatformSlot],
    scope: Scope,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<PlatformStatus>> {
    let used: Vec<Used> = diesel::sql_query(
        "SELECT deployment_platform AS platform, count(*) AS n FROM bots \
         WHERE status = ANY($1) AND deployment_platform IS NOT NULL AND ($2::int8 IS NULL OR user_id = $2) \
         GROUP BY deployment_platform",
    )
    .bind::<Array<Text>, _>(BotStatus::active_names())
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .load(conn)
    .await?;
    let latency: Vec<Latency> = diesel::sql_query(
        "SELECT a.platform, count(*) AS n, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50, \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95 \
         FROM deploy_attempts a \
         WHERE a.outcome = 'deployed' AND a.started_at >= now() - interval '1 hour' \
           AND ($1::int8 IS NULL OR EXISTS (SELECT 1 FROM bots b WHERE b.id = a.bot_id AND b.user_id = $1)) \
         GROUP BY a.platform",
    )
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .load(conn)
    .await?;
    let health = health::load(conn).await?;
    let used: HashMap<String, i64> = used.into_iter().map(|u| (u.platform, u.n)).collect();
    Ok(slots
        .iter()
        .map(|slot| {
            let name = slot.platform.as_str();
            let lat = latency.iter().find(|l| l.platform == name);
            PlatformStatus {
                platform: slot.platform,
                used: used.get(name).copied().unwrap_or(0),
                limit: slot.limit,
                queue_timeout_ms: u64::try_from(slot.queue_timeout.as_millis()).unwrap_or(u64::MAX),
                health: health.get(name).map_or(HealthState::Healthy, |row| health_state(row, now)),
                deploys_last_hour: lat.map_or(0, |l| l.n),
                deploy_p50_ms: lat.and_then(|l| l.p50).map(round_ms),
                deploy_p95_ms: lat.and_then(|l| l.p95).map(round_ms),
            }
        })
        .collect())
}

fn round_ms(ms: f64) -> u64 {
    ms.max(0.0).round() as u64
}

/// What a `platform_health` row means at `now`: unhealthy (skipped until a probe succeeds) wins
/// over throttled, which wins over full; a throttle or quota hold that has ended is healthy.
pub fn health_state(row: &HealthRow, now: DateTime<Utc>) -> HealthState {
    if let Some(since) = row.unhealthy_since {
        return HealthState::Unhealthy {
            reason: row.reason.clone().unwrap_or_else(|| "deploys failed on the platform's side".to_owned()),
            since,
            retry_at: row.retry_at,
        };
    }
    match (row.throttled_until, row.full_until) {
        (Some(until), _) if until > now => HealthState::Throttled { until },
        (_, Some(until)) if until > now => HealthState::Full { until },
        _ => HealthState::Healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row() -> HealthRow {
        HealthRow {
            platform: "k8s".into(),
            failures: 0,
            unhealthy_since: None,
            retry_at: None,
            reason: None,
            throttled_until: None,
            full_until: None,
        }
    }

    #[test]
    fn health_reads_unhealthy_then_throttled_then_full_and_expired_holds_are_healthy() {
        let now = Utc::now();
        assert_eq!(health_state(&row(), now), HealthState::Healthy);
        let full = HealthRow { full_until: Some(now + Duration::seconds(5)), ..row() };
        assert_eq!(health_state(&full, now), HealthState::Full { until: now + Duration::seconds(5) });
        let throttled = HealthRow { throttled_until: Some(now + Duration::seconds(2)), ..full.clone() };
        assert_eq!(health_state(&throttled, now), HealthState::Throttled { until: now + Duration::seconds(2) });
        let since = now - Duration::minutes(3);
        let unhealthy = HealthRow {
            unhealthy_since: Some(since),
            reason: Some("the platform could not be reached or failed".into()),
            ..throttled
        };
        assert_eq!(
            health_state(&unhealthy, now),
            HealthState::Unhealthy {
                reason: "the platform could not be reached or failed".into(),
                since,
                retry_at: None
            }
        );
        let expired = HealthRow {
            throttled_until: Some(now - Duration::seconds(1)),
            full_until: Some(now - Duration::seconds(1)),
            ..row()
        };
        assert_eq!(health_state(&expired, now), HealthState::Healthy);
    }
}
