//! Each platform's bots by stage: deploying and active now, finished and failed since the start
//! of today (in the caller's time zone).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Scope;
use crate::model::bot::BotStatus;
use crate::model::infrastructure::PlatformStats;
use crate::model::platform::DeploymentPlatform;

/// The statuses counted as "active" (past deploying, still holding the resource).
pub const ACTIVE: [BotStatus; 5] =
    [BotStatus::JoiningCall, BotStatus::InWaitingRoom, BotStatus::InCall, BotStatus::Leaving, BotStatus::CallEnded];

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    platform: String,
    #[diesel(sql_type = BigInt)]
    deploying: i64,
    #[diesel(sql_type = BigInt)]
    active: i64,
    #[diesel(sql_type = BigInt)]
    finished: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
}

/// The four counts of each of `platforms` (in that order; a platform without bots has zeros).
pub async fn platform_stats(
    conn: &mut AsyncPgConnection,
    platforms: &[DeploymentPlatform],
    scope: Scope,
    today: DateTime<Utc>,
) -> diesel::QueryResult<Vec<PlatformStats>> {
    let names: Vec<&str> = platforms.iter().map(|p| p.as_str()).collect();
    let active: Vec<&str> = ACTIVE.iter().map(|s| s.as_str()).collect();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT deployment_platform AS platform, \
                count(*) FILTER (WHERE status = 'DEPLOYING') AS deploying, \
                count(*) FILTER (WHERE status = ANY($2)) AS active, \
                count(*) FILTER (WHERE status = 'DONE' AND status_changed_at >= $3) AS finished, \
                count(*) FILTER (WHERE status = 'FATAL' AND status_changed_at >= $3) AS failed \
         FROM bots \
         WHERE deployment_platform = ANY($1) AND ($4::int8 IS NULL OR user_id = $4) \
           AND (status IN ('DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING', 'CALL_ENDED') \
                OR (status IN ('DONE', 'FATAL') AND status_changed_at >= $3)) \
         GROUP BY deployment_platform",
    )
    .bind::<Array<Text>, _>(names)
    .bind::<Array<Text>, _>(active)
    .bind::<Timestamptz, _>(today)
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .load(conn)
    .await?;
    Ok(platforms
        .iter()
        .map(|p| {
            let r = rows.iter().find(|r| r.platform == p.as_str());
            PlatformStats {
                platform: *p,
                deploying: r.map_or(0, |r| r.deploying),
                active: r.map_or(0, |r| r.active),
                finished_today: r.map_or(0, |r| r.finished),
                failed_today: r.map_or(0, |r| r.failed),
            }
        })
        .collect())
}
