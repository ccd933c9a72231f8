//! The deployer: takes bots from the durable `deployment_queue` and starts them on a platform,
//! keeps capacity limits across replicas, stops what finished bots leave behind, moves scheduled
//! bots into the queue, and fails bots that stopped reporting.
//!
//! - Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any number of dispatchers (threads or
//!   replicas) share the queue without deploying a bot twice.
//! - Capacity is checked and reserved under a per-platform transaction advisory lock: the count of
//!   the platform's active bots (DEPLOYING through LEAVING) and the bot's move to DEPLOYING happen
//!   in one transaction that holds it, so replicas together never exceed `*_BOT_LIMIT`.
//! - At most `DEPLOYMENT_QUEUE_MAX_CONCURRENT` platform calls run at once per process.
//! - A dispatcher wakes on `NOTIFY deployment_queue` (sent when a bot is queued) and every second.
//!
//! Platforms are tried in `PLATFORM_PRIORITY` order; a bot no platform can take waits in the queue
//! until its queue timeout, then becomes FATAL. (Waiting on one full platform for its own timeout
//! and failover after platform errors come with the hybrid deployer.)

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Integer, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use tokio::sync::{watch, Notify, Semaphore};

use super::auth::tokens::{hash_token, random_token};
use super::config::{Config, PlatformSlot};
use super::db::DbPool;
use super::platforms::{BotLaunch, Platform, ResourceStatus};
use super::services::accounts::internal;
use super::services::bot_api::TOKEN_PREFIX;
use super::services::events;
use crate::model::bot::{BotStatus, MeetingPlatform};
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// Most queue rows one dispatch pass claims.
pub const CLAIM_BATCH: i64 = 64;
/// A claimed row whose dispatcher vanished (crash) is given back after this long.
pub const STALE_CLAIM: Duration = Duration::from_secs(300);
/// How long a bot that found no capacity waits before the next try.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often the health worker looks for silent bots.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(60);

/// The statuses that hold a platform resource.
pub const ACTIVE: [&str; 5] = ["DEPLOYING", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "LEAVING"];

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

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = Text)]
    meeting_platform: String,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The deployer of one process.
pub struct Deployer {
    pool: DbPool,
    config: Arc<Config>,
    platforms: Vec<(PlatformSlot, Arc<dyn Platform>)>,
    permits: Arc<Semaphore>,
    replica: String,
    wake: Notify,
}

fn db(what: &'static str) -> impl FnOnce(diesel::result::Error) -> AppError {
    move |e| internal(what, e)
}

impl Deployer {
    /// A deployer for the configured platforms that have an implementation here; the others are
    /// logged and skipped.
    pub fn new(pool: DbPool, config: Arc<Config>, available: Vec<Arc<dyn Platform>>) -> Self {
        let mut platforms = Vec::new();
        for slot in &config.platforms {
            match available.iter().find(|p| p.kind() == slot.platform) {
                Some(p) => platforms.push((slot.clone(), p.clone())),
                None => tracing::warn!(
                    platform = slot.platform.as_str(),
                    "platform configured but not available here: skipped"
                ),
            }
        }
        let permits = Arc::new(Semaphore::new(config.deployment_queue_max_concurrent.max(1)));
        let replica = format!("{}-{}", std::process::id(), &random_token()[..8]);
        Deployer { pool, config, platforms, permits, replica, wake: Notify::new() }
    }

    /// The platform that runs bots of `kind` here.
    pub fn platform(&self, kind: DeploymentPlatform) -> Option<Arc<dyn Platform>> {
        self.platforms.iter().find(|(s, _)| s.platform == kind).map(|(_, p)| p.clone())
    }

    async fn conn(&self) -> Result<super::db::DbConn, AppError> {
        self.pool.get().await.map_err(|e| internal("database unavailable", e))
    }

    /// Claims up to [`CLAIM_BATCH`] ready rows and places each bot; answers what happened to each.
    pub async fn dispatch_once(&self) -> Result<Vec<(i64, Outcome)>, AppError> {
        let mut conn = self.conn().await?;
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
        let mut tasks = Vec::with_capacity(claimed.len());
        for row in claimed {
            tasks.push(async move {
                let outcome = self.place(&row).await;
                (row.bot_id, outcome)
            });
        }
        let results = futures_util::future::join_all(tasks).await;
        let mut out = Vec::with_capacity(results.len());
        for (bot, r) in results {
            match r {
                Ok(o) => out.push((bot, o)),
                Err(e) => {
                    tracing::warn!(bot_id = bot, error = %e, "placing a bot failed; it will be retried");
                }
            }
        }
        Ok(out)
    }

    /// Reserves capacity for one claimed bot and starts it.
    async fn place(&self, row: &Claimed) -> Result<Outcome, AppError> {
        let mut conn = self.conn().await?;
        let token = format!("{TOKEN_PREFIX}{}", random_token());
        let hash = hash_token(&token);
        let platforms: Vec<(PlatformSlot, Arc<dyn Platform>)> = self.platforms.clone();
        let bot_id = row.bot_id;
        let queue_id = row.id;
        let reserved = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                for (slot, _) in &platforms {
                    let name = slot.platform.as_str();
                    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('meeboter:platform:' || $1))")
                        .bind::<Text, _>(name)
                        .execute(conn)
                        .await?;
                    let active: Count = diesel::sql_query(
                        "SELECT count(*) AS n FROM bots WHERE deployment_platform = $1 AND status = ANY($2)",
                    )
                    .bind::<Text, _>(name)
                    .bind::<diesel::sql_types::Array<Text>, _>(&ACTIVE[..])
                    .get_result(conn)
                    .await?;
                    if active.n >= i64::from(slot.limit) {
                        continue;
                    }
                    let bot: Option<Reserved> = diesel::sql_query(
                        "UPDATE bots SET status = 'DEPLOYING', deployment_platform = $2, platform_identifier = NULL, \
                         token_hash = $3, updated_at = now() WHERE id = $1 AND status = 'QUEUED' RETURNING meeting_platform",
                    )
                    .bind::<BigInt, _>(bot_id)
                    .bind::<Text, _>(name)
                    .bind::<Bytea, _>(&hash)
                    .get_result(conn)
                    .await
                    .optional()?;
                    diesel::sql_query("DELETE FROM deployment_queue WHERE id = $1")
                        .bind::<BigInt, _>(queue_id)
                        .execute(conn)
                        .await?;
                    let Some(bot) = bot else { return Ok(None) };
                    events::record(
                        conn,
                        bot_id,
                        "DEPLOYING",
                        Utc::now(),
                        Some(json!({ "description": format!("Deploying on {name}.") })),
                    )
                    .await?;
                    return Ok(Some((slot.platform, bot.meeting_platform)));
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
        let launch = BotLaunch {
            bot_id,
            meeting_platform: MeetingPlatform::parse(&meeting).unwrap_or(MeetingPlatform::GoogleMeet),
            token,
            milo_url: self.config.milo_url.as_str().trim_end_matches('/').to_owned(),
        };
        let Some(driver) = self.platform(platform) else {
            return Err(internal("platform vanished", platform.as_str()));
        };
        // No connection is held while waiting for a permit or the platform.
        drop(conn);
        let result = {
            let _permit = self.permits.acquire().await.map_err(|e| internal("deploy permits closed", e))?;
            driver.deploy(&launch).await
        };
        let mut conn = self.conn().await?;
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
                let reason = format!("Deployment on {} failed: {e}", platform.as_str());
                tracing::warn!(bot_id, %reason, "deploy failed");
                fail(&mut conn, bot_id, &["DEPLOYING"], &reason, "DEPLOY_FAILED").await?;
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
            fail(
                conn,
                row.bot_id,
                &["QUEUED"],
                "No platform had room for this bot within its queue timeout.",
                "QUEUE_TIMEOUT",
            )
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

    /// Stops the resources of bots that finished (DONE, FATAL) or no longer exist, and releases
    /// what they held. Answers how many were stopped.
    pub async fn reconcile(&self) -> Result<usize, AppError> {
        let mut stopped = 0;
        for (_, platform) in &self.platforms {
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
            let mut conn = self.conn().await?;
            let live: Vec<Id> = diesel::sql_query("SELECT id FROM bots WHERE id = ANY($1) AND status = ANY($2)")
                .bind::<diesel::sql_types::Array<BigInt>, _>(&ids)
                .bind::<diesel::sql_types::Array<Text>, _>(&ACTIVE[..])
                .load(&mut conn)
                .await
                .map_err(db("reading bot statuses failed"))?;
            drop(conn);
            for r in running {
                if r.bot_id.is_some_and(|b| live.iter().any(|l| l.id == b)) {
                    continue;
                }
                match platform.stop(&r.identifier).await {
                    Ok(()) => stopped += 1,
                    Err(e) => tracing::warn!(identifier = %r.identifier, error = %e, "stopping a finished bot failed"),
                }
                if let Some(bot) = r.bot_id {
                    let _ = platform.release(bot).await;
                }
            }
        }
        Ok(stopped)
    }

    /// Wakes the dispatcher now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Dispatches, reconciles, schedules and (on one replica at a time) checks health until
    /// `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let listener = tokio::spawn(listen(self.clone()));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_health = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.wake.notified() => {}
                _ = stop.changed() => break,
            }
            if let Ok(mut conn) = self.conn().await {
                if let Err(e) = schedule_due(&mut conn, &self.config, Utc::now()).await {
                    tracing::warn!(error = %e, "scheduler pass failed");
                }
            }
            loop {
                match self.dispatch_once().await {
                    Ok(done) if done.len() as i64 >= CLAIM_BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "dispatch failed");
                        break;
                    }
                }
            }
            if last_health.elapsed() >= HEALTH_INTERVAL {
                last_health = tokio::time::Instant::now();
                if let Ok(mut conn) = self.conn().await {
                    match sweep_health(&mut conn, &self.config, Utc::now()).await {
                        Ok(n) if n > 0 => tracing::warn!(bots = n, "health: silent bots marked FATAL"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "health sweep failed"),
                    }
                }
            }
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "reconcile failed");
            }
        }
        listener.abort();
    }
}

/// Keeps a connection that LISTENs on `deployment_queue` and wakes the dispatcher on each
/// notification; reconnects after errors.
async fn listen(deployer: Arc<Deployer>) {
    use futures_util::StreamExt;
    use secrecy::ExposeSecret;
    loop {
        match AsyncPgConnection::establish(deployer.config.database_url.expose_secret()).await {
            Ok(mut conn) => {
                if diesel::sql_query("LISTEN deployment_queue").execute(&mut conn).await.is_ok() {
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(Ok(_)) = stream.next().await {
                        deployer.wake();
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "queue listener: cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Ends a bot with FATAL (only from one of `from`), with the reason as the event's description.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    from: &[&str],
    reason: &str,
    sub_code: &str,
) -> Result<bool, AppError> {
    let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let reason = reason.to_owned();
    let sub_code = sub_code.to_owned();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let n = diesel::sql_query(
            "UPDATE bots SET status = 'FATAL', end_time = GREATEST(start_time, now()), updated_at = now() WHERE id = $1 AND status = ANY($2)",
        )
        .bind::<BigInt, _>(bot_id)
        .bind::<diesel::sql_types::Array<Text>, _>(&from)
        .execute(conn)
        .await?;
        if n > 0 {
            events::record(
                conn,
                bot_id,
                BotStatus::Fatal.as_str(),
                Utc::now(),
                Some(json!({ "description": reason, "sub_code": sub_code })),
            )
            .await?;
        }
        Ok(n > 0)
    })
    .await
    .map_err(|e| internal("failing a bot failed", e))
}

/// Moves SCHEDULED bots whose start is within the lead time into the queue. Answers how many.
pub async fn schedule_due(
    conn: &mut AsyncPgConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let lead = chrono::Duration::from_std(config.deploy_lead_time).unwrap_or_default();
    let default_timeout_ms = i32::try_from(config.global_queue_timeout.as_millis()).unwrap_or(i32::MAX);
    let due: Vec<Id> = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let due: Vec<Id> = diesel::sql_query(
                "WITH due AS (UPDATE bots SET status = 'QUEUED', updated_at = now() \
                              WHERE status = 'SCHEDULED' AND start_time <= $1 RETURNING id, queue_timeout_ms) \
                 INSERT INTO deployment_queue (bot_id, timeout_at) \
                 SELECT id, now() + make_interval(secs => COALESCE(queue_timeout_ms, $2) / 1000.0) FROM due \
                 ON CONFLICT (bot_id) DO NOTHING RETURNING bot_id AS id",
            )
            .bind::<Timestamptz, _>(now + lead)
            .bind::<Integer, _>(default_timeout_ms)
            .load(conn)
            .await?;
            for d in &due {
                events::record_status(conn, d.id, BotStatus::Queued, now).await?;
            }
            if !due.is_empty() {
                diesel::sql_query("SELECT pg_notify('deployment_queue', 'scheduled')").execute(conn).await?;
            }
            Ok(due)
        })
        .await
        .map_err(|e| internal("scheduling bots failed", e))?;
    Ok(due.len())
}

/// The health worker's pass, on one replica at a time (a transaction advisory lock): bots in
/// JOINING_CALL..LEAVING without a heartbeat for `HEARTBEAT_TIMEOUT`, and bots DEPLOYING for longer
/// than `DEPLOYING_TIMEOUT`, become FATAL with the reason as an event. Their resources are stopped
/// by the next reconcile. Answers how many bots it failed.
pub async fn sweep_health(
    conn: &mut AsyncPgConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let silent_since = now - chrono::Duration::from_std(config.heartbeat_timeout).unwrap_or_default();
    let deploying_since = now - chrono::Duration::from_std(config.deploying_timeout).unwrap_or_default();
    let hb_secs = config.heartbeat_timeout.as_secs();
    let dep_secs = config.deploying_timeout.as_secs();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let lock: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock(hashtext('meeboter:health')) AS locked")
            .get_result(conn)
            .await?;
        if !lock.locked {
            return Ok(0);
        }
        let silent: Vec<Id> = diesel::sql_query(
            "UPDATE bots SET status = 'FATAL', end_time = GREATEST(start_time, now()), updated_at = now() \
             WHERE status IN ('JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING') \
               AND COALESCE(last_heartbeat, updated_at) < $1 RETURNING id",
        )
        .bind::<Timestamptz, _>(silent_since)
        .load(conn)
        .await?;
        let stuck: Vec<Id> = diesel::sql_query(
            "UPDATE bots SET status = 'FATAL', end_time = GREATEST(start_time, now()), updated_at = now() \
             WHERE status = 'DEPLOYING' AND updated_at < $1 RETURNING id",
        )
        .bind::<Timestamptz, _>(deploying_since)
        .load(conn)
        .await?;
        for b in &silent {
            let data = json!({ "description": format!("No heartbeat for {hb_secs} s: the bot is presumed dead."), "sub_code": "HEARTBEAT_TIMEOUT" });
            events::record(conn, b.id, "FATAL", now, Some(data)).await?;
        }
        for b in &stuck {
            let data = json!({ "description": format!("Still deploying after {dep_secs} s."), "sub_code": "DEPLOYING_TIMEOUT" });
            events::record(conn, b.id, "FATAL", now, Some(data)).await?;
        }
        Ok(silent.len() + stuck.len())
    })
    .await
    .map_err(|e| internal("health sweep failed", e))
}
