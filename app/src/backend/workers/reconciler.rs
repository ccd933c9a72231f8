//! The reconciler keeps platforms and the database in agreement, on the leader replica only
//! (`leader.rs`: a session advisory lock), with one [`Reconciler::pass`] every
//! [`RECONCILE_INTERVAL`] (10 s). A pass, in order:
//!
//! 1. fails bots that stopped reporting (the health monitor's sweep, `health::sweep_health`:
//!    silent bots, bots that never started, bots that did not leave the call within
//!    `REMOVE_FROM_CALL_GRACE_MS`), so their resources are stopped in this same pass: a silent
//!    bot is FATAL and torn down within `HEARTBEAT_TIMEOUT_MS` plus one period;
//! 2. lists each platform once ([`Listing`]); the one list serves steps 3 to 5, so a pass makes
//!    the same platform calls with 10 bots or 5,000 (plus a bounded number of confirmations);
//! 3. fails active bots whose resource vanished or exited (`vanished`): FATAL `RESOURCE_GONE` or
//!    `RESOURCE_EXITED` within one period, each miss first confirmed with `status()` because a
//!    list can lag or be wrong;
//! 4. stops each finished bot's own resource (by its stored platform and identifier) and records
//!    `resource_stopped_at` only once `status()` says Gone or Exited (an ECS task goes STOPPING
//!    before STOPPED); until then the next pass stops it again;
//! 5. stops orphans (`orphans`): running resources no active bot owns on that platform with that
//!    identifier, on every pass until the platform no longer lists them running.
//!
//! Bots hold their resource until DONE or FATAL: a bot in CALL_ENDED is still uploading. Every
//! status change goes through `lifecycle::apply`, which never moves a DONE or FATAL bot.

mod orphans;
mod vanished;

pub use orphans::{is_orphan, Owner};
pub use vanished::{vanished_reason, RESOURCE_EXITED, RESOURCE_GONE};

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::leader::Leadership;
use crate::backend::config::Config;
use crate::backend::db::{DbConn, DbPool};
use crate::backend::error::{db, internal};
use crate::backend::platforms::{Platform, PlatformError, PlatformRegistry, ResourceStatus, ResourceSummary};
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// How often the leader reconciles: a vanished resource fails its bot within this period.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(10);
/// A DEPLOYING bot's resource is judged only this long after the bot entered DEPLOYING: a
/// platform may not show a resource it has just created (ECS answers MISSING for a moment).
pub const DEPLOYING_GRACE: Duration = Duration::from_secs(30);
/// Most finished bots one pass stops.
pub const STOP_BATCH: i64 = 100;
/// Most missing resources one pass confirms per platform (a wrong list that drops everything
/// costs a bounded number of calls; the rest are confirmed on the next passes).
pub const CONFIRM_BATCH: usize = 100;
/// Platform calls one pass runs at once.
pub const CALLS_AT_ONCE: usize = 8;
/// A platform call that takes longer has failed (it is tried again on the next pass).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The advisory lock key of the reconciler's leadership.
const LEADER_KEY: i64 = 7_300_010;

/// Fails bots whose resource is gone and stops what finished bots and crashes leave behind.
pub struct Reconciler {
    pub pool: DbPool,
    pub platforms: Arc<PlatformRegistry>,
    pub config: Arc<Config>,
    pub database_url: String,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Bots failed for silence, a start that never came or a leave that never came.
    pub silent: usize,
    /// Active bots failed because their resource vanished or exited.
    pub vanished: usize,
    /// Finished bots whose teardown the platform confirmed.
    pub stopped: usize,
    /// Finished bots asked to stop whose resource still runs (stopped again next pass).
    pub stopping: usize,
    /// Orphaned resources asked to stop.
    pub orphans: usize,
}

/// One platform's resources as listed at the start of a pass, by identifier (`None`: the list
/// failed).
pub struct Listing {
    pub kind: DeploymentPlatform,
    pub platform: Arc<dyn Platform>,
    pub resources: Option<HashMap<String, ResourceSummary>>,
}

impl Listing {
    /// The listed resource with this identifier.
    fn find(&self, identifier: &str) -> Option<&ResourceSummary> {
        self.resources.as_ref()?.get(identifier)
    }
}

/// A platform call bounded by [`CALL_TIMEOUT`].
async fn call<T>(f: impl Future<Output = Result<T, PlatformError>>) -> Result<T, PlatformError> {
    tokio::time::timeout(CALL_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(PlatformError::unavailable(format!("no answer within {CALL_TIMEOUT:?}"))))
}

impl Reconciler {
    pub fn new(pool: DbPool, platforms: Arc<PlatformRegistry>, config: Arc<Config>) -> Self {
        use secrecy::ExposeSecret;
        let database_url = config.database_url.expose_secret().to_owned();
        Reconciler { pool, platforms, config, database_url }
    }

    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut leadership = Leadership::new(self.database_url.clone(), LEADER_KEY);
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
            match self.pass(Utc::now()).await {
                Ok(p) if p == Pass::default() => {}
                Ok(p) => tracing::info!(
                    silent = p.silent,
                    vanished = p.vanished,
                    stopped = p.stopped,
                    stopping = p.stopping,
                    orphans = p.orphans,
                    "reconciled"
                ),
                Err(e) => tracing::warn!(error = %e, "reconcile pass failed"),
            }
        }
    }

    /// One pass at `now` (see the module's documentation). A platform that fails is left for
    /// the next pass; the others are reconciled.
    pub async fn pass(&self, now: DateTime<Utc>) -> Result<Pass, AppError> {
        let mut pass = Pass::default();
        {
            let mut conn = self.conn().await?;
            pass.silent = super::health::sweep_health(&mut conn, &self.config, now).await?;
        }
        let listings = self.list_all().await;
        pass.vanished = vanished::fail_vanished(self, &listings, now).await?;
        let (stopped, stopping, handled) = self.teardown(&listings).await?;
        pass.stopped = stopped;
        pass.stopping = stopping;
        pass.orphans = orphans::stop_orphans(self, &listings, &handled).await?;
        Ok(pass)
    }

    /// Stops finished bots' resources without a list; answers how many teardowns the platforms
    /// confirmed.
    pub async fn stop_finished(&self) -> Result<usize, AppError> {
        let listings: Vec<Listing> = self
            .platforms
            .slots()
            .iter()
            .map(|(slot, p)| Listing { kind: slot.platform, platform: p.clone(), resources: None })
            .collect();
        Ok(self.teardown(&listings).await?.0)
    }

    /// Lists every platform once and stops its orphans; answers how many it asked to stop.
    pub async fn stop_orphans(&self) -> Result<usize, AppError> {
        let listings = self.list_all().await;
        orphans::stop_orphans(self, &listings, &HashSet::new()).await
    }

    async fn conn(&self) -> Result<DbConn, AppError> {
        self.pool.get().await.map_err(|e| internal("database unavailable", e))
    }

    /// Lists each platform once, all at the same time.
    pub async fn list_all(&self) -> Vec<Listing> {
        let lists = self.platforms.slots().iter().map(|(slot, p)| async move {
            let resources = match call(p.list()).await {
                Ok(list) => Some(list.into_iter().map(|r| (r.identifier.clone(), r)).collect()),
                Err(e) => {
                    tracing::warn!(platform = slot.platform.as_str(), error = %e, "listing resources failed; retried next pass");
                    None
                }
            };
            Listing { kind: slot.platform, platform: p.clone(), resources }
        });
        futures_util::future::join_all(lists).await
    }

    /// Stops each finished bot's resource and confirms it: answers (confirmed, still stopping,
    /// the identifiers it handled, so the orphan sweep does not stop them twice).
    async fn teardown(&self, listings: &[Listing]) -> Result<(usize, usize, HashSet<String>), AppError> {
        let rows: Vec<Finished> = diesel::sql_query(
            "SELECT id, deployment_platform, platform_identifier FROM bots \
             WHERE status IN ('DONE', 'FATAL') AND platform_identifier IS NOT NULL AND resource_stopped_at IS NULL \
               AND deployment_platform = ANY($2) \
             ORDER BY status_changed_at LIMIT $1",
        )
        .bind::<BigInt, _>(STOP_BATCH)
        // Only platforms this process drives: the others' bots must not fill the batch.
        .bind::<Array<Text>, _>(listings.iter().map(|l| l.kind.as_str()).collect::<Vec<_>>())
        .load(&mut self.conn().await?)
        .await
        .map_err(db("reading finished bots failed"))?;
        let mut handled = HashSet::new();
        let mut jobs = Vec::new();
        for r in rows {
            let Some(listing) = r
                .deployment_platform
                .as_deref()
                .and_then(DeploymentPlatform::parse)
                .and_then(|k| listings.iter().find(|l| l.kind == k))
            else {
                continue;
            };
            let identifier = r.platform_identifier.unwrap_or_default();
            handled.insert(identifier.clone());
            // A pool slot given to another bot since (the list names it) is no longer this
            // bot's to stop.
            let reused = listing
                .find(&identifier)
                .is_some_and(|s| s.status == ResourceStatus::Running && s.bot_id.is_some_and(|b| b != r.id));
            jobs.push(stop_one(listing.platform.clone(), r.id, identifier, reused));
        }
        let outcomes: Vec<(i64, Teardown)> =
            futures_util::stream::iter(jobs).buffer_unordered(CALLS_AT_ONCE).collect().await;
        let confirmed: Vec<i64> =
            outcomes.iter().filter(|(_, t)| *t == Teardown::Confirmed).map(|(id, _)| *id).collect();
        let stopping = outcomes.iter().filter(|(_, t)| *t == Teardown::Stopping).count();
        if confirmed.is_empty() {
            return Ok((0, stopping, handled));
        }
        let n = mark_stopped(&mut *self.conn().await?, &confirmed).await?;
        Ok((n, stopping, handled))
    }
}

/// Where one finished bot's teardown stands after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Teardown {
    /// The platform says the resource is gone or exited, and what the bot held is released.
    Confirmed,
    /// Asked to stop; still running.
    Stopping,
    /// A call failed; tried again next pass.
    Failed,
}

/// Stops one finished bot's resource and asks the platform whether it stopped.
async fn stop_one(platform: Arc<dyn Platform>, bot_id: i64, identifier: String, reused: bool) -> (i64, Teardown) {
    if !reused {
        if let Err(e) = call(platform.stop(&identifier)).await {
            tracing::warn!(bot_id, %identifier, error = %e, "stopping a finished bot failed; will retry");
            return (bot_id, Teardown::Failed);
        }
        match call(platform.status(&identifier)).await {
            Ok(ResourceStatus::Running) => {
                tracing::info!(bot_id, %identifier, "a finished bot's resource is still stopping; will stop again");
                return (bot_id, Teardown::Stopping);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(bot_id, %identifier, error = %e, "confirming a stop failed; will retry");
                return (bot_id, Teardown::Failed);
            }
        }
    }
    if let Err(e) = call(platform.release(bot_id)).await {
        tracing::warn!(bot_id, error = %e, "releasing a finished bot failed; will retry");
        return (bot_id, Teardown::Failed);
    }
    (bot_id, Teardown::Confirmed)
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

async fn mark_stopped(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<usize, AppError> {
    use crate::backend::db::schema::bots;
    diesel::update(bots::table.filter(bots::id.eq_any(ids)))
        .set(bots::resource_stopped_at.eq(Some(Utc::now())))
        .execute(conn)
        .await
        .map_err(db("recording stopped resources failed"))
}
