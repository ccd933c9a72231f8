//! The deployer: takes bots from the durable `deployment_queue` and starts them on a platform,
//! keeping capacity limits across replicas. The loops that drive it are the workers in
//! `backend::workers` (dispatcher, scheduler, health monitor, reconciler).
//!
//! - Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any number of dispatchers (threads or
//!   replicas) share the queue without deploying a bot twice.
//! - Capacity is checked and reserved under a per-platform transaction advisory lock: the count of
//!   the platform's active bots (DEPLOYING through CALL_ENDED) and the bot's move to DEPLOYING
//!   happen in one transaction that holds it, so replicas together never exceed `*_BOT_LIMIT`.
//! - Placements share a budget of database connections ([`Deployer::db_budget`]): a pass never
//!   takes more than a quarter of the pool, so sign-ins, heartbeats and pages keep theirs.
//! - At most `DEPLOYMENT_QUEUE_MAX_CONCURRENT` platform calls run at once per process, holding no
//!   connection while they wait.
//!
//! Platforms are tried in `PLATFORM_PRIORITY` order; a bot no platform can take waits in the queue
//! until its queue timeout, then becomes FATAL. (Waiting on one full platform for its own timeout
//! and failover after platform errors come with the hybrid deployer.)

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bytea, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::{Notify, Semaphore};

use super::auth::bot_tokens;
use super::auth::tokens::random_token;
use super::config::Config;
use super::db::DbPool;
use super::error::{db, internal};
use super::lifecycle::{self, Actor, Change};
use super::platforms::{BotLaunch, PlatformRegistry};
use crate::model::bot::{BotStatus, MeetingPlatform};
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// Most queue rows one dispatch pass claims.
pub const CLAIM_BATCH: i64 = 64;
/// A claimed row whose dispatcher vanished (crash) is given back after this long.
pub const STALE_CLAIM: Duration = Duration::from_secs(300);
/// How long a bot that found no capacity waits before the next try.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What happened to one claimed bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Started on a platform, with the resource's identifier.
    Deployed { platform: DeploymentPlatform, identifier: String },
    /// The platform refused: the bot is FATAL with the reason as an event.
    Failed(String),
    /// Every platform is full: back in the queue.
    Waiting,
    /// The queue timeout passed: the bot is FATAL.
    TimedOut,
    /// The bot was cancelled or deleted meanwhile.
    Skipped,
}

#[derive(QueryableByName, Debug)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    bot_id: i64,
    #[diesel(sql_type = Timestamptz)]
    timeout_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The deployer of one process.
pub struct Deployer {
    pool: DbPool,
    config: Arc<Config>,
    platforms: Arc<PlatformRegistry>,
    permits: Arc<Semaphore>,
    db_budget: Arc<Semaphore>,
    replica: String,
    wake: Notify,
}

impl Deployer {
    /// A deployer over the platforms of `platforms`.
    pub fn new(pool: DbPool, config: Arc<Config>, platforms: Arc<PlatformRegistry>) -> Self {
        let permits = Arc::new(Semaphore::new(config.deployment_queue_max_concurrent.max(1)));
        let db_budget = Arc::new(Semaphore::new(Self::db_budget(pool.status().max_size)));
        let replica = format!("{}-{}", std::process::id(), &random_token()[..8]);
        Deployer { pool, config, platforms, permits, db_budget, replica, wake: Notify::new() }
    }

    /// How many pooled connections placements may hold at once: a quarter of the pool, at
    /// least one.
    pub fn db_budget(pool_size: usize) -> usize {
        (pool_size / 4).max(1)
    }

    /// A connection, within the placements' budget (the permit is held as long as the connection).
    async fn conn(&self) -> Result<(tokio::sync::OwnedSemaphorePermit, super::db::DbConn), AppError> {
        let permit = self.db_budget.clone().acquire_owned().await.map_err(|e| internal("deploy budget closed", e))?;
        let conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        Ok((permit, conn))
    }

    /// Claims up to [`CLAIM_BATCH`] ready rows and places each bot; answers what happened to each.
    pub async fn dispatch_once(&self) -> Result<Vec<(i64, Outcome)>, AppError> {
        let (permit, mut conn) = self.conn().await?;
        diesel::sql_query(
            "UPDATE deployment_queue SET status = 'WAITING', claimed_by = NULL \
             WHERE status = 'PROCESSING' AND claimed_at < now() - make_interval(secs => $1)",
        )
        .bind::<diesel::sql_types::Double, _>(STALE_CLAIM.as_secs_f64())
        .execute(&mut conn)
        .await
        .map_err(db("releasing stale claims failed"))?;
        let claimed: Vec<Claimed> = diesel::sql_query(
            "UPDATE deployment_queue q SET status = 'PROCESSING', claimed_by = $1, claimed_at = now(), attempts = attempts + 1 \
             WHERE q.id IN (SELECT id FROM deployment_queue WHERE status = 'WAITING' AND next_attempt_at <= now() \
                            ORDER BY priority DESC, queued_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING q.id, q.bot_id, q.timeout_at",
        )
        .bind::<Text, _>(&self.replica)
        .bind::<BigInt, _>(CLAIM_BATCH)
        .load(&mut conn)
        .await
        .map_err(db("claiming queued bots failed"))?;
        drop(conn);
        drop(permit);
        let tasks = claimed.iter().map(|row| async move { (row.bot_id, self.place(row).await) });
        let results = futures_util::future::join_all(tasks).await;
        let mut out = Vec::with_capacity(results.len());
        for (bot, r) in results {
            match r {
                Ok(o) => out.push((bot, o)),
                Err(e) => tracing::warn!(bot_id = bot, error = %e, "placing a bot failed; it will be retried"),
            }
        }
        Ok(out)
    }

    /// Reserves capacity for one claimed bot and starts it.
    async fn place(&self, row: &Claimed) -> Result<Outcome, AppError> {
        let (permit, mut conn) = self.conn().await?;
        let (token, hash) = bot_tokens::new_token();
        let (bot_id, queue_id) = (row.bot_id, row.id);
        let platforms = self.platforms.clone();
        let active = BotStatus::active_names();
        let reserved = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                for (slot, _) in platforms.slots() {
                    let name = slot.platform.as_str();
                    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('meeboter:platform:' || $1))")
                        .bind::<Text, _>(name)
                        .execute(conn)
                        .await?;
                    let used: Count = diesel::sql_query(
                        "SELECT count(*) AS n FROM bots WHERE deployment_platform = $1 AND status = ANY($2)",
                    )
                    .bind::<Text, _>(name)
                    .bind::<Array<Text>, _>(&active)
                    .get_result(conn)
                    .await?;
                    if used.n >= i64::from(slot.limit) {
                        continue;
                    }
                    diesel::sql_query("DELETE FROM deployment_queue WHERE id = $1")
                        .bind::<BigInt, _>(queue_id)
                        .execute(conn)
                        .await?;
                    let change =
                        Change::new(Actor::Server, BotStatus::Deploying).described(format!("Deploying on {name}."));
                    if lifecycle::apply(conn, &[bot_id], &change).await?.is_empty() {
                        return Ok(None);
                    }
                    let meeting: String = diesel::sql_query(
                        "UPDATE bots SET deployment_platform = $2, platform_identifier = NULL, token_hash = $3, \
                         resource_stopped_at = NULL WHERE id = $1 RETURNING meeting_platform",
                    )
                    .bind::<BigInt, _>(bot_id)
                    .bind::<Text, _>(name)
                    .bind::<Bytea, _>(&hash)
                    .get_result::<MeetingRow>(conn)
                    .await?
                    .meeting_platform;
                    return Ok(Some((slot.platform, meeting)));
                }
                // Every platform is full: nothing to keep.
                Err(diesel::result::Error::RollbackTransaction)
            })
            .await;
        let (platform, meeting) = match reserved {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(Outcome::Skipped),
            Err(diesel::result::Error::RollbackTransaction) => return self.wait_or_expire(&mut conn, row).await,
            Err(e) => return Err(internal("reserving capacity failed", e)),
        };
        let Some(meeting_platform) = MeetingPlatform::parse(&meeting) else {
            let reason = format!("The bot's meeting platform \"{meeting}\" is unknown; it cannot be deployed.");
            fail(&mut conn, bot_id, &reason, "UNKNOWN_MEETING_PLATFORM").await?;
            return Ok(Outcome::Failed(reason));
        };
        let launch = BotLaunch {
            bot_id,
            meeting_platform,
            token,
            milo_url: self.config.milo_url.as_str().trim_end_matches('/').to_owned(),
        };
        let driver = self.platforms.get(platform).ok_or_else(|| internal("platform vanished", platform.as_str()))?;
        // No connection is held while waiting for a permit or the platform.
        drop(conn);
        drop(permit);
        let result = {
            let _permit = self.permits.acquire().await.map_err(|e| internal("deploy permits closed", e))?;
            driver.deploy(&launch).await
        };
        let (_permit, mut conn) = self.conn().await?;
        match result {
            Ok(launched) => {
                diesel::update(super::db::schema::bots::table.find(bot_id))
                    .set(super::db::schema::bots::platform_identifier.eq(&launched.identifier))
                    .execute(&mut conn)
                    .await
                    .map_err(db("storing a platform identifier failed"))?;
                tracing::info!(bot_id, platform = platform.as_str(), identifier = %launched.identifier, "bot deployed");
                Ok(Outcome::Deployed { platform, identifier: launched.identifier })
            }
            Err(e) => {
                // Operators read the platform's own words in the log; the bot's owner reads a
                // reason without internal names.
                tracing::warn!(bot_id, platform = platform.as_str(), error = %e, "deploy failed");
                let reason = format!("Deployment on {} failed: {}.", platform.as_str(), e.public_reason());
                fail(&mut conn, bot_id, &reason, "DEPLOY_FAILED").await?;
                Ok(Outcome::Failed(reason))
            }
        }
    }

    /// Every platform was full: back to the queue, or FATAL once the queue timeout passed.
    async fn wait_or_expire(&self, conn: &mut AsyncPgConnection, row: &Claimed) -> Result<Outcome, AppError> {
        if Utc::now() >= row.timeout_at {
            diesel::sql_query("DELETE FROM deployment_queue WHERE id = $1")
                .bind::<BigInt, _>(row.id)
                .execute(conn)
                .await
                .map_err(db("expiring a queued bot failed"))?;
            fail(conn, row.bot_id, "No platform had room for this bot within its queue timeout.", "QUEUE_TIMEOUT")
                .await?;
            return Ok(Outcome::TimedOut);
        }
        diesel::sql_query(
            "UPDATE deployment_queue SET status = 'WAITING', claimed_by = NULL, \
             next_attempt_at = now() + make_interval(secs => $2), last_error = 'every platform is at its limit' WHERE id = $1",
        )
        .bind::<BigInt, _>(row.id)
        .bind::<diesel::sql_types::Double, _>(RETRY_AFTER.as_secs_f64())
        .execute(conn)
        .await
        .map_err(db("requeueing a bot failed"))?;
        Ok(Outcome::Waiting)
    }

    /// Wakes the dispatcher now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when someone calls [`Self::wake`].
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[derive(QueryableByName)]
struct MeetingRow {
    #[diesel(sql_type = Text)]
    meeting_platform: String,
}

/// Ends a bot with FATAL (by the server), with the reason as the event's description. Answers
/// whether it changed (a bot already finished stays as it is).
pub async fn fail(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    reason: &str,
    sub_code: &'static str,
) -> Result<bool, AppError> {
    let change = Change::fatal(reason, sub_code);
    conn.transaction::<_, diesel::result::Error, _>(async |conn| lifecycle::apply(conn, &[bot_id], &change).await)
        .await
        .map(|moved| !moved.is_empty())
        .map_err(|e| internal("failing a bot failed", e))
}
