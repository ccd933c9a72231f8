//! The scheduler: moves SCHEDULED bots whose start is within the lead time into the queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::watch;

use crate::backend::config::Config;
use crate::backend::db::DbPool;
use crate::backend::error::internal;
use crate::backend::lifecycle::{self, Actor, Change};
use crate::model::bot::BotStatus;
use crate::model::error::AppError;

/// How often the scheduler looks for due bots.
pub const SCHEDULE_INTERVAL: Duration = Duration::from_secs(1);
/// Most bots one pass moves (the next pass takes the rest).
pub const SCHEDULE_BATCH: i64 = 500;

/// Enqueues scheduled bots at their lead time.
pub struct Scheduler {
    pub pool: DbPool,
    pub config: std::sync::Arc<Config>,
}

impl Scheduler {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::every(SCHEDULE_INTERVAL, stop, || async {
            let Ok(mut conn) = self.pool.get().await else { return };
            // A full batch means more may be due (a thousand meetings at the top of the hour):
            // the next batch goes at once, not a second later.
            loop {
                match schedule_due(&mut conn, &self.config, Utc::now()).await {
                    Ok(n) if n as i64 >= SCHEDULE_BATCH => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "scheduler pass failed");
                        break;
                    }
                }
            }
        })
        .await;
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Moves SCHEDULED bots whose start is within the lead time into the queue. Answers how many.
pub async fn schedule_due(
    conn: &mut AsyncPgConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let lead = chrono::Duration::from_std(config.deploy_lead_time).unwrap_or_default();
    let default_timeout_ms = i32::try_from(config.global_queue_timeout.as_millis()).unwrap_or(i32::MAX);
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let due: Vec<Id> = diesel::sql_query(
            "SELECT id FROM bots WHERE status = 'SCHEDULED' AND start_time <= $1 \
             ORDER BY start_time, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind::<Timestamptz, _>(now + lead)
        .bind::<BigInt, _>(SCHEDULE_BATCH)
        .load(conn)
        .await?;
        let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
        let moved = lifecycle::apply(conn, &ids, &Change::new(Actor::Server, BotStatus::Queued)).await?;
        if moved.is_empty() {
            return Ok(0);
        }
        let moved: Vec<i64> = moved.iter().map(|m| m.id).collect();
        diesel::sql_query(
            "INSERT INTO deployment_queue (bot_id, timeout_at) \
             SELECT id, now() + make_interval(secs => COALESCE(queue_timeout_ms, $2) / 1000.0) \
             FROM bots WHERE id = ANY($1) ON CONFLICT (bot_id) DO NOTHING",
        )
        .bind::<Array<BigInt>, _>(&moved)
        .bind::<Integer, _>(default_timeout_ms)
        .execute(conn)
        .await?;
        diesel::sql_query("SELECT pg_notify('deployment_queue', 'scheduled')").execute(conn).await?;
        Ok(moved.len())
    })
    .await
    .map_err(|e| internal("scheduling bots failed", e))
}
