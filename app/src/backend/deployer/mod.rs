//! The hybrid deployer: takes bots from the durable `deployment_queue` and places each on a
//! platform of `PLATFORM_PRIORITY`, keeping capacity limits across replicas, waiting on full
//! platforms, failing over from failing ones, and surviving the crash of any replica. The loops
//! that drive it are the workers in `backend::workers` (dispatcher, scheduler, health monitor,
//! reconciler); where a bot goes next is the pure [`decide`] module.
//!
//! A queue row's states (docs/ARCHITECTURE.md draws them):
//!
//! ```text
//!  WAITING ──claim──▶ PROCESSING ──reserve──▶ PLACING ──deployed──▶ (row deleted, bot has its identifier)
//!     ▲                   │  │                   │
//!     │    wait (full)    │  │ expire/refuse     │ failover, rejected: back to PROCESSING, next platform at once
//!     └───────────────────┘  ▼                   │ throttled, quota: back to WAITING
//!                       (row deleted,            │ replica crashed: lease runs out, another replica
//!                        bot FATAL)              ▼   adopts the resource or moves the bot on
//! ```
//!
//! - Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any number of dispatchers share the
//!   queue without placing a bot twice. A pass claims no more rows than the platforms have room
//!   for (plus rows whose queue timeout passed), so thousands of waiting bots cost nothing while
//!   every platform is full.
//! - Capacity is checked and reserved under per-platform transaction advisory locks: the count
//!   of a platform's active bots (DEPLOYING through CALL_ENDED) and the bot's move to DEPLOYING
//!   happen in one transaction that holds them, so replicas together never exceed `*_BOT_LIMIT`.
//!   A pass reserves its whole claimed batch in that one transaction (each bot decided against
//!   counts that grow as bots are assigned, written with one statement per table), so the locks
//!   are taken once per pass, not once per bot. A pass claims no more bots than platform calls
//!   are free (`DEPLOYMENT_QUEUE_MAX_CONCURRENT`): a reserved bot's call starts at once.
//! - A claimed row carries a lease (`claimed_at`) that its replica renews every
//!   [`LEASE_RENEWAL`]; a row whose lease is older than [`STALE_CLAIM`] belonged to a replica that
//!   died. A PLACING row found so is resolved: the platform is asked for the bot's resource
//!   ([`crate::backend::platforms::Platform::find`]); a running one is adopted, otherwise the bot
//!   goes back to the queue for the next platform.
//! - Platform health is shared in `platform_health` ([`health`]): a platform whose deploy failed
//!   is skipped by every replica until its back-off ends and a probe succeeds.
//! - Placements share a budget of database connections ([`Deployer::db_budget`]): a pass never
//!   takes more than a quarter of the pool, so sign-ins, heartbeats and pages keep theirs.
//! - At most `DEPLOYMENT_QUEUE_MAX_CONCURRENT` platform calls run at once per process, holding no
//!   connection while they wait.

pub mod decide;
pub mod estimate;
mod failure;
pub mod health;
mod place;
mod recover;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::{Notify, Semaphore};

use super::auth::tokens::random_token;
use super::config::Config;
use super::db::DbPool;
use super::error::{db, internal};
use super::lifecycle::{self, Change};
use super::platforms::PlatformRegistry;
use crate::model::bot::BotStatus;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// Most queue rows one dispatch pass claims.
pub const CLAIM_BATCH: i64 = 64;
/// A claimed row whose lease is older than this belonged to a replica that stopped.
pub const STALE_CLAIM: Duration = Duration::from_secs(30);
/// How often a replica renews the leases of the rows it works on.
pub const LEASE_RENEWAL: Duration = Duration::from_secs(5);
/// How soon a bot that found no room looks again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What happened to one claimed bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Started on a platform, with the resource's identifier.
    Deployed { platform: DeploymentPlatform, identifier: String },
    /// The bot can never be placed: it is FATAL with the reason as an event.
    Failed(String),
    /// No platform can take it now: back in the queue.
    Waiting,
    /// The queue timeout passed: the bot is FATAL.
    TimedOut,
    /// The bot was cancelled or deleted meanwhile.
    Skipped,
}

/// What one dispatch pass did.
#[derive(Debug)]
pub struct Pass {
    /// What happened to each bot it touched.
    pub outcomes: Vec<(i64, Outcome)>,
    /// It claimed as many rows as it could: more may be ready at once.
    pub full: bool,
}

/// A claimed queue row.
#[derive(QueryableByName, Debug, Clone)]
pub(crate) struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub bot_id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub timeout_at: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    pub platform_index: i32,
    #[diesel(sql_type = Timestamptz)]
    pub platform_since: DateTime<Utc>,
    #[diesel(sql_type = Array<Text>)]
    pub rejected_by: Vec<String>,
    #[diesel(sql_type = Bool)]
    pub own_timeout: bool,
}

#[derive(QueryableByName)]
struct PlatformCount {
    #[diesel(sql_type = Nullable<Text>)]
    platform: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many active bots each of `platforms` runs now: what counts against its limit.
struct ActiveCounts(Vec<PlatformCount>);

impl ActiveCounts {
    async fn read(conn: &mut AsyncPgConnection, platforms: &[&str]) -> diesel::QueryResult<Self> {
        diesel::sql_query(
            "SELECT deployment_platform AS platform, count(*) AS n FROM bots \
             WHERE deployment_platform = ANY($1) AND status = ANY($2) GROUP BY deployment_platform",
        )
        .bind::<Array<Text>, _>(platforms)
        .bind::<Array<Text>, _>(BotStatus::active_names())
        .load(conn)
        .await
        .map(ActiveCounts)
    }

    fn of(&self, platform: &str) -> i64 {
        self.0.iter().find(|c| c.platform.as_deref() == Some(platform)).map_or(0, |c| c.n)
    }
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
    /// The queue rows a task of this process works on now: only their leases are renewed, so a
    /// row whose task failed runs out its lease and another pass takes it over.
    inflight: std::sync::Mutex<std::collections::HashSet<i64>>,
}

/// Keeps a row in [`Deployer::inflight`] while its task runs.
pub(crate) struct InFlight<'a> {
    deployer: &'a Deployer,
    id: i64,
}

impl<'a> InFlight<'a> {
    pub(crate) fn new(deployer: &'a Deployer, id: i64) -> Self {
        deployer.inflight.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        InFlight { deployer, id }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.deployer.inflight.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Deployer {
    /// A deployer over the platforms of `platforms`.
    pub fn new(pool: DbPool, config: Arc<Config>, platforms: Arc<PlatformRegistry>) -> Self {
        let permits = Arc::new(Semaphore::new(config.deployment_queue_max_concurrent.max(1)));
        let db_budget = Arc::new(Semaphore::new(Self::db_budget(pool.status().max_size)));
        let replica = format!("{}-{}", std::process::id(), &random_token()[..8]);
        Deployer {
            pool,
            config,
            platforms,
            permits,
            db_budget,
            replica,
            wake: Notify::new(),
            inflight: std::sync::Mutex::default(),
        }
    }

    /// How many pooled connections placements may hold at once: a quarter of the pool, at
    /// least one.
    pub fn db_budget(pool_size: usize) -> usize {
        (pool_size / 4).max(1)
    }

    /// This replica's name in `deployment_queue.claimed_by`.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// A connection, within the placements' budget (the permit is held as long as the connection).
    async fn conn(&self) -> Result<(tokio::sync::OwnedSemaphorePermit, super::db::DbConn), AppError> {
        let permit = self.db_budget.clone().acquire_owned().await.map_err(|e| internal("deploy budget closed", e))?;
        let conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        Ok((permit, conn))
    }

    /// Dispatch passes ([`Self::dispatch_pass`]) until one claims less than it could: every bot
    /// that can be placed now is; answers what happened to each bot.
    pub async fn dispatch_once(&self) -> Result<Vec<(i64, Outcome)>, AppError> {
        let mut out = Vec::new();
        loop {
            let pass = self.dispatch_pass().await?;
            out.extend(pass.outcomes);
            if !pass.full {
                return Ok(out);
            }
        }
    }

    /// Resolves rows of stopped replicas, then claims ready rows (no more than the platforms have
    /// room for and free platform calls allow, plus those whose queue timeout passed), reserves
    /// them in one transaction and places each bot.
    pub async fn dispatch_pass(&self) -> Result<Pass, AppError> {
        let mut out = self.recover_stale().await?;
        let (permit, mut conn) = self.conn().await?;
        let room = self.room(&mut conn).await?;
        let free = i64::try_from(self.permits.available_permits()).unwrap_or(i64::MAX);
        let limit = room.min(CLAIM_BATCH).min(free);
        let mut claimed: Vec<Claimed> = diesel::sql_query(
            "WITH c AS ( \
               UPDATE deployment_queue q SET status = 'PROCESSING', claimed_by = $1, claimed_at = now(), attempts = attempts + 1 \
               WHERE q.id IN (SELECT id FROM deployment_queue WHERE status = 'WAITING' AND next_attempt_at <= now() \
                              ORDER BY priority DESC, queued_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                  OR q.id IN (SELECT id FROM deployment_queue WHERE status = 'WAITING' AND timeout_at <= now() \
                              ORDER BY timeout_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
               RETURNING q.id, q.bot_id, q.timeout_at, q.platform_index, q.platform_since, q.rejected_by, q.priority, q.queued_at, \
                         COALESCE((SELECT b.queue_timeout_ms IS NOT NULL FROM bots b WHERE b.id = q.bot_id), false) AS own_timeout) \
             SELECT id, bot_id, timeout_at, platform_index, platform_since, rejected_by, own_timeout FROM c \
             ORDER BY priority DESC, queued_at, id",
        )
        .bind::<Text, _>(&self.replica)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(CLAIM_BATCH)
        .load(&mut conn)
        .await
        .map_err(db("claiming queued bots failed"))?;
        drop(conn);
        drop(permit);
        let full = limit > 0 && claimed.len() as i64 >= limit;
        let leases: Vec<InFlight<'_>> = claimed.iter().map(|row| InFlight::new(self, row.id)).collect();
        let steps = self.reserve(&mut claimed).await?;
        let tasks = claimed
            .into_iter()
            .zip(steps)
            .map(|(row, step)| async move { (row.bot_id, self.place(row, Some(step)).await) });
        let results = futures_util::future::join_all(tasks).await;
        drop(leases);
        out.reserve(results.len());
        for (bot, r) in results {
            match r {
                Ok(o) => out.push((bot, o)),
                Err(e) => tracing::warn!(bot_id = bot, error = %e, "placing a bot failed; it will be retried"),
            }
        }
        Ok(Pass { outcomes: out, full })
    }

    /// How many bots the usable platforms (healthy, not throttling) can take now, with a little
    /// slack so a bot waiting on one full platform does not starve the others.
    async fn room(&self, conn: &mut AsyncPgConnection) -> Result<i64, AppError> {
        let names: Vec<&str> = self.platforms.slots().iter().map(|(slot, _)| slot.platform.as_str()).collect();
        let counts = ActiveCounts::read(conn, &names).await.map_err(db("counting active bots failed"))?;
        let health = health::load(conn).await.map_err(db("reading platform health failed"))?;
        let now = Utc::now();
        let mut room = 0i64;
        for (slot, _) in self.platforms.slots() {
            let name = slot.platform.as_str();
            if health.get(name).is_some_and(|h| h.health(now) != decide::Health::Healthy) {
                continue;
            }
            let used = counts.of(name);
            room += (i64::from(slot.limit) - used).max(0);
        }
        Ok(if room > 0 { room + 8 } else { 0 })
    }

    /// Renews the leases of the rows this replica's tasks work on now (the dispatcher calls it
    /// every [`LEASE_RENEWAL`]).
    pub async fn renew_leases(&self) -> Result<usize, AppError> {
        let ids: Vec<i64> = self.inflight.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        diesel::sql_query(
            "UPDATE deployment_queue SET claimed_at = now() \
             WHERE id = ANY($2) AND claimed_by = $1 AND status IN ('PROCESSING', 'PLACING')",
        )
        .bind::<Text, _>(&self.replica)
        .bind::<Array<BigInt>, _>(&ids)
        .execute(&mut conn)
        .await
        .map_err(db("renewing queue leases failed"))
    }

    /// Probes the unhealthy platforms whose back-off ended (each taken by one replica); a
    /// platform that answers is healthy again, one that does not waits a longer back-off.
    pub async fn probe_due(&self) -> Result<(), AppError> {
        let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        let due = health::take_due_probes(&mut conn).await.map_err(db("taking platform probes failed"))?;
        drop(conn);
        for name in due {
            let Some(platform) = DeploymentPlatform::parse(&name).and_then(|k| self.platforms.get(k)) else {
                continue;
            };
            let kind = platform.kind();
            let result = tokio::time::timeout(super::platforms::registry::PROBE_TIMEOUT, platform.probe())
                .await
                .unwrap_or_else(|_| Err(super::platforms::PlatformError::unavailable("the probe timed out")));
            let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
            match result {
                Ok(()) => {
                    health::mark_ok(&mut conn, kind).await.map_err(db("recording platform health failed"))?;
                    tracing::info!(platform = name, "platform answers its probe again: healthy");
                }
                Err(e) => {
                    let wait = health::mark_failed(
                        &mut conn,
                        kind,
                        e.public_reason(),
                        self.config.platform_backoff,
                        self.config.platform_backoff_max,
                        true,
                    )
                    .await
                    .map_err(db("recording platform health failed"))?;
                    tracing::warn!(platform = name, error = %e, retry_in_ms = wait.as_millis() as u64, "platform still failing its probe");
                }
            }
        }
        Ok(())
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
