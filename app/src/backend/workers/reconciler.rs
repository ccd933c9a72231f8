//! The reconciler keeps platforms and the database in agreement, on the leader replica only:
//!
//! - every [`RECONCILE_INTERVAL`], it stops each finished bot's own resource (by its stored
//!   platform and identifier) and releases what it held, until the platform confirms; then it
//!   records `resource_stopped_at` (teardown is confirmed, and retried until it is);
//! - every [`ORPHAN_INTERVAL`], it lists each platform once and stops resources no running bot
//!   owns (crashed replicas, deleted bots).
//!
//! Bots hold their resource until DONE or FATAL: a bot in CALL_ENDED is still uploading.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::sync::watch;

use super::leader::Leadership;
use crate::backend::db::DbPool;
use crate::backend::error::{db, internal};
use crate::backend::platforms::{PlatformRegistry, ResourceStatus};
use crate::model::bot::BotStatus;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// How often finished bots' resources are stopped.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(10);
/// How often every platform is listed for orphans.
pub const ORPHAN_INTERVAL: Duration = Duration::from_secs(60);
/// Most finished bots one pass stops.
pub const STOP_BATCH: i64 = 100;
/// The advisory lock key of the reconciler's leadership.
const LEADER_KEY: i64 = 7_300_010;

/// Stops what finished bots leave behind.
pub struct Reconciler {
    pub pool: DbPool,
    pub platforms: Arc<PlatformRegistry>,
    pub database_url: String,
}

impl Reconciler {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut leadership = Leadership::new(self.database_url.clone(), LEADER_KEY);
        let mut last_orphans: Option<Instant> = None;
        let mut tick = tokio::time::interval(RECONCILE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if !leadership.check().await {
                continue;
            }
            match self.stop_finished().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(resources = n, "finished bots' resources stopped"),
                Err(e) => tracing::warn!(error = %e, "stopping finished bots failed"),
            }
            if last_orphans.is_none_or(|t| t.elapsed() >= ORPHAN_INTERVAL) {
                last_orphans = Some(Instant::now());
                match self.stop_orphans().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(resources = n, "orphaned resources stopped"),
                    Err(e) => tracing::warn!(error = %e, "orphan sweep failed"),
                }
            }
        }
    }

    /// Stops the resource of each finished bot not yet confirmed stopped; answers how many it
    /// confirmed. A platform that fails is retried on the next pass.
    pub async fn stop_finished(&self) -> Result<usize, AppError> {
        let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        let rows: Vec<Finished> = diesel::sql_query(
            "SELECT id, deployment_platform, platform_identifier FROM bots \
             WHERE status IN ('DONE', 'FATAL') AND platform_identifier IS NOT NULL AND resource_stopped_at IS NULL \
             ORDER BY status_changed_at LIMIT $1",
        )
        .bind::<BigInt, _>(STOP_BATCH)
        .load(&mut conn)
        .await
        .map_err(db("reading finished bots failed"))?;
        drop(conn);
        let mut stopped = Vec::new();
        for r in rows {
            let Some(platform) = r
                .deployment_platform
                .as_deref()
                .and_then(DeploymentPlatform::parse)
                .and_then(|k| self.platforms.get(k))
            else {
                continue;
            };
            let identifier = r.platform_identifier.unwrap_or_default();
            match platform.stop(&identifier).await {
                Ok(()) => {
                    if let Err(e) = platform.release(r.id).await {
                        tracing::warn!(bot_id = r.id, error = %e, "releasing a finished bot failed; will retry");
                        continue;
                    }
                    stopped.push(r.id);
                }
                Err(e) => {
                    tracing::warn!(bot_id = r.id, %identifier, error = %e, "stopping a finished bot failed; will retry")
                }
            }
        }
        if stopped.is_empty() {
            return Ok(0);
        }
        let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        mark_stopped(&mut conn, &stopped).await
    }

    /// Lists every platform once and stops running resources that no running bot owns.
    pub async fn stop_orphans(&self) -> Result<usize, AppError> {
        let mut stopped = 0;
        let active = BotStatus::active_names();
        for (_, platform) in self.platforms.slots() {
            let running: Vec<_> = match platform.list().await {
                Ok(list) => list.into_iter().filter(|r| r.status == ResourceStatus::Running).collect(),
                Err(e) => {
                    tracing::warn!(platform = platform.kind().as_str(), error = %e, "listing resources failed");
                    continue;
                }
            };
            if running.is_empty() {
                continue;
            }
            let ids: Vec<i64> = running.iter().filter_map(|r| r.bot_id).collect();
            let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
            let live: Vec<i64> = diesel::sql_query("SELECT id FROM bots WHERE id = ANY($1) AND status = ANY($2)")
                .bind::<Array<BigInt>, _>(&ids)
                .bind::<Array<Text>, _>(&active)
                .load::<Id>(&mut conn)
                .await
                .map_err(db("reading bot statuses failed"))?
                .into_iter()
                .map(|i| i.id)
                .collect();
            drop(conn);
            for r in running {
                if r.bot_id.is_some_and(|b| live.contains(&b)) {
                    continue;
                }
                match platform.stop(&r.identifier).await {
                    Ok(()) => stopped += 1,
                    Err(e) => tracing::warn!(identifier = %r.identifier, error = %e, "stopping an orphan failed"),
                }
                if let Some(bot) = r.bot_id {
                    let _ = platform.release(bot).await;
                }
            }
        }
        Ok(stopped)
    }
}

#[derive(QueryableByName)]
struct Finished {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    deployment_platform: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    platform_identifier: Option<String>,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

async fn mark_stopped(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<usize, AppError> {
    use crate::backend::db::schema::bots;
    diesel::update(bots::table.filter(bots::id.eq_any(ids)))
        .set(bots::resource_stopped_at.eq(Some(chrono::Utc::now())))
        .execute(conn)
        .await
        .map_err(db("recording stopped resources failed"))
}
