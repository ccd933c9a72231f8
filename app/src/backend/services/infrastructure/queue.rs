//! The deployment queue: its size, its oldest bot and the average wait so far, and the queued
//! bots in queue order with their position and estimated start (the same estimates the bots
//! table shows, [`crate::backend::deployer::estimate`]).

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Scope;
use crate::backend::config::PlatformSlot;
use crate::backend::deployer::estimate::Estimator;
use crate::model::bot::MeetingPlatform;
use crate::model::infrastructure::{QueueStats, QueuedBot};
use crate::model::paging::PageRequest;

/// The bots waiting for a platform: QUEUED, with their queue row.
const WAITING: &str = "FROM deployment_queue q JOIN bots b ON b.id = q.bot_id \
                       WHERE b.status = 'QUEUED' AND ($1::int8 IS NULL OR b.user_id = $1)";

#[derive(QueryableByName)]
struct Stats {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    oldest: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    average_ms: Option<f64>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    bot_id: i64,
    #[diesel(sql_type = Text)]
    bot_name: String,
    #[diesel(sql_type = Text)]
    meeting_platform: String,
    #[diesel(sql_type = Timestamptz)]
    queued_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    timeout_at: DateTime<Utc>,
}

/// How many bots wait, since when, and for how long on average so far.
pub async fn queue_stats(conn: &mut AsyncPgConnection, scope: Scope) -> diesel::QueryResult<QueueStats> {
    let s: Stats = diesel::sql_query(format!(
        "SELECT count(*) AS total, min(q.queued_at) AS oldest, \
                avg(extract(epoch FROM now() - q.queued_at) * 1000)::float8 AS average_ms {WAITING}"
    ))
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .get_result(conn)
    .await?;
    Ok(QueueStats {
        total: s.total,
        oldest_queued_at: s.oldest,
        average_wait_ms: s.average_ms.map(|ms| ms.max(0.0).round() as u64),
    })
}

/// One page of the queued bots in queue order, each with what it waits on.
pub async fn queued_bots(
    conn: &mut AsyncPgConnection,
    estimator: &Estimator,
    slots: &[PlatformSlot],
    scope: Scope,
    page: PageRequest,
) -> diesel::QueryResult<(Vec<QueuedBot>, i64)> {
    let total = queue_stats(conn, scope).await?.total;
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT b.id AS bot_id, b.display_name AS bot_name, b.meeting_platform, q.queued_at, q.timeout_at {WAITING} \
         ORDER BY q.priority DESC, q.queued_at, q.id OFFSET $2 LIMIT $3"
    ))
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .bind::<BigInt, _>(page.offset())
    .bind::<BigInt, _>(page.page_size)
    .load(conn)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.bot_id).collect();
    let mut info = match estimator.queue_info(conn, slots, &ids).await {
        Ok(info) => info,
        Err(e) => {
            // The queue itself is still worth showing.
            tracing::warn!(error = %e, "estimating the queue failed; answering without positions");
            Default::default()
        }
    };
    let bots = rows
        .into_iter()
        .map(|r| {
            let q = info.remove(&r.bot_id);
            QueuedBot {
                bot_id: r.bot_id,
                bot_name: r.bot_name,
                meeting_platform: MeetingPlatform::parse(&r.meeting_platform).unwrap_or(MeetingPlatform::GoogleMeet),
                queued_at: r.queued_at,
                timeout_at: r.timeout_at,
                position: q.as_ref().map(|q| q.position),
                estimated_start_at: q.as_ref().and_then(|q| q.estimated_start_at),
                waiting_on: q.and_then(|q| q.waiting_on),
            }
        })
        .collect();
    Ok((bots, total))
}
