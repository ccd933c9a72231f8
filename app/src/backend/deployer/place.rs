//! Placing one claimed bot: reserve capacity where [`decide`] says, call the platform, and act on
//! its answer: store the resource, or hand the failure to `failure.rs` (`decide::react`: fail over at
//! once, or put the bot back to wait).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bytea, Double, Integer, Nullable, Text, Timestamptz};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::decide::{decide, Decision, Health, QueueState, SlotView};
use super::failure::Next;
use super::{health, ActiveCounts, Claimed, Deployer, Outcome, RETRY_AFTER};
use crate::backend::auth::bot_tokens;
use crate::backend::error::{db, internal};
use crate::backend::lifecycle::{self, Actor, Change};
use crate::backend::platforms::{BotLaunch, Launched};
use crate::model::bot::{BotStatus, MeetingPlatform};
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// One platform call.
pub(super) struct Attempt<'a> {
    pub platform: DeploymentPlatform,
    /// Its position in `PLATFORM_PRIORITY`.
    pub slot: usize,
    /// The hash of the token this placement issued.
    pub hash: &'a [u8],
    pub started: DateTime<Utc>,
    pub took: Duration,
}

/// What the reservation transaction decided.
enum Step {
    Reserved { platform: DeploymentPlatform, slot: usize, launch: BotLaunch, hash: Vec<u8> },
    Waiting,
    Expired,
    Refused(String),
    Skipped,
}

#[derive(QueryableByName)]
struct MeetingRow {
    #[diesel(sql_type = Text)]
    meeting_platform: String,
}

impl Deployer {
    /// Places one claimed bot, failing over from platform to platform within this call.
    pub(super) async fn place(&self, mut row: Claimed) -> Result<Outcome, AppError> {
        let mut leftovers = 0u32;
        // Each round either ends or moves the bot past a platform for good (it is marked
        // unhealthy, or refused the bot, or kept a leftover twice), so the number of platforms
        // bounds the rounds.
        for _ in 0..=self.platforms.slots().len() + 1 {
            // The platform call's permit first: a bot is reserved (DEPLOYING, counted against
            // the limit) only when its call can start now, and with the health as it is now.
            let permit = self.permits.acquire().await.map_err(|e| internal("deploy permits closed", e))?;
            let (platform, slot, launch, hash) = match self.reserve(&mut row).await? {
                Step::Reserved { platform, slot, launch, hash } => (platform, slot, launch, hash),
                Step::Waiting => return Ok(Outcome::Waiting),
                Step::Expired => return Ok(Outcome::TimedOut),
                Step::Refused(reason) => return Ok(Outcome::Failed(reason)),
                Step::Skipped => return Ok(Outcome::Skipped),
            };
            let driver =
                self.platforms.get(platform).ok_or_else(|| internal("platform vanished", platform.as_str()))?;
            let started = Utc::now();
            let clock = Instant::now();
            let result = driver.deploy(&launch).await;
            drop(permit);
            let took = clock.elapsed();
            let attempt = Attempt { platform, slot, hash: &hash, started, took };
            match result {
                Ok(launched) => return self.deployed(&row, &attempt, launched).await,
                Err(e) => match self.after_failure(&mut row, &attempt, e, &mut leftovers).await? {
                    Next::Again => continue,
                    Next::Done(outcome) => return Ok(outcome),
                },
            }
        }
        // Still ours and still waiting for a platform: a later pass takes it.
        let (_permit, mut conn) = self.conn().await?;
        diesel::sql_query(
            "UPDATE deployment_queue SET status = 'WAITING', claimed_by = NULL, next_attempt_at = now() + interval '1 second' \
             WHERE id = $1 AND claimed_by = $2 AND status = 'PROCESSING'",
        )
        .bind::<BigInt, _>(row.id)
        .bind::<Text, _>(&self.replica)
        .execute(&mut conn)
        .await
        .map_err(db("requeueing a bot failed"))?;
        Ok(Outcome::Waiting)
    }

    /// In one transaction: reads the platforms' health and capacity (under their locks),
    /// decides, and either reserves a platform (bot DEPLOYING, row PLACING) or writes the wait,
    /// the expiry or the refusal.
    ///
    /// Locks are taken in one order everywhere (the bot, then its queue row, then the platforms
    /// in priority order), as cancelling does (the bot, then the row), so nothing deadlocks. A
    /// row that is no longer this replica's (its lease ran out and another took it) is left alone.
    async fn reserve(&self, row: &mut Claimed) -> Result<Step, AppError> {
        let (_permit, mut conn) = self.conn().await?;
        let (token, hash) = bot_tokens::new_token();
        let platforms = self.platforms.clone();
        let rejected: Vec<DeploymentPlatform> =
            row.rejected_by.iter().filter_map(|p| DeploymentPlatform::parse(p)).collect();
        let state = QueueState {
            platform_index: usize::try_from(row.platform_index).unwrap_or(0),
            platform_since: row.platform_since,
            timeout_at: row.timeout_at,
            own_timeout: row.own_timeout,
            rejected_by: rejected.clone(),
        };
        let milo_url = self.config.milo_url.as_str().trim_end_matches('/').to_owned();
        let replica = self.replica.clone();
        let (bot_id, row_id) = (row.bot_id, row.id);
        let mut moved_to: Option<(i32, DateTime<Utc>)> = None;
        let step = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let meeting: Option<MeetingRow> =
                    diesel::sql_query("SELECT meeting_platform FROM bots WHERE id = $1 FOR UPDATE")
                        .bind::<BigInt, _>(bot_id)
                        .get_result(conn)
                        .await
                        .optional()?;
                let ours = diesel::sql_query(
                    "SELECT id FROM deployment_queue WHERE id = $1 AND claimed_by = $2 AND status = 'PROCESSING' FOR UPDATE",
                )
                .bind::<BigInt, _>(row_id)
                .bind::<Text, _>(&replica)
                .execute(conn)
                .await?;
                if ours == 0 {
                    return Ok(Step::Skipped);
                }
                let health = health::load(conn).await?;
                let now = Utc::now();
                let healths: Vec<Health> = platforms
                    .slots()
                    .iter()
                    .map(|(slot, _)| health.get(slot.platform.as_str()).map_or(Health::Healthy, |r| r.health(now)))
                    .collect();
                let usable: Vec<&str> = platforms
                    .slots()
                    .iter()
                    .zip(&healths)
                    .filter(|((slot, _), h)| **h == Health::Healthy && !rejected.contains(&slot.platform))
                    .map(|((slot, _), _)| slot.platform.as_str())
                    .collect();
                // Every placement holds these locks from here to its commit, so they are taken
                // in two statements: the usable platforms' locks in priority order (unnest emits
                // the array in order; the order everywhere, so nothing deadlocks), then their
                // counts. The counts need a statement of their own: one statement's snapshot
                // predates its own locks and would miss the commit of the placement it waited on.
                let mut counts = ActiveCounts(Vec::new());
                if !usable.is_empty() {
                    diesel::sql_query(
                        "SELECT pg_advisory_xact_lock(hashtext('meeboter:platform:' || p)) FROM unnest($1::text[]) AS p",
                    )
                    .bind::<Array<Text>, _>(&usable)
                    .execute(conn)
                    .await?;
                    counts = ActiveCounts::read(conn, &usable).await?;
                }
                let views: Vec<SlotView> = platforms
                    .slots()
                    .iter()
                    .zip(healths)
                    .map(|((slot, _), h)| {
                        SlotView {
                            platform: slot.platform,
                            limit: slot.limit,
                            used: u32::try_from(counts.of(slot.platform.as_str())).unwrap_or(u32::MAX),
                            queue_timeout: slot.queue_timeout,
                            health: h,
                        }
                    })
                    .collect();
                match decide(&state, &views, now, RETRY_AFTER) {
                    Decision::Reserve { slot, platform_index, platform_since } => {
                        let platform = views[slot].platform;
                        let name = platform.as_str();
                        let Some(meeting_platform) = meeting.and_then(|m| MeetingPlatform::parse(&m.meeting_platform))
                        else {
                            let reason = "The bot's meeting platform is unknown; it cannot be deployed.";
                            lifecycle::apply(conn, &[row.bot_id], &Change::fatal(reason, "UNKNOWN_MEETING_PLATFORM"))
                                .await?;
                            delete_row(conn, row.id).await?;
                            return Ok(Step::Refused(reason.into()));
                        };
                        let change =
                            Change::new(Actor::Server, BotStatus::Deploying).described(format!("Deploying on {name}."));
                        if lifecycle::apply(conn, &[row.bot_id], &change).await?.is_empty() {
                            delete_row(conn, row.id).await?;
                            return Ok(Step::Skipped);
                        }
                        diesel::sql_query(
                            "UPDATE bots SET deployment_platform = $2, platform_identifier = NULL, token_hash = $3, \
                             resource_stopped_at = NULL, deploying_at = now() WHERE id = $1",
                        )
                        .bind::<BigInt, _>(row.bot_id)
                        .bind::<Text, _>(name)
                        .bind::<Bytea, _>(&hash)
                        .execute(conn)
                        .await?;
                        let index = i32::try_from(platform_index).unwrap_or(i32::MAX);
                        diesel::sql_query(
                            "UPDATE deployment_queue SET status = 'PLACING', placing_on = $2, platform_index = $3, \
                             platform_since = $4, platform_wait_until = NULL, claimed_at = now() WHERE id = $1",
                        )
                        .bind::<BigInt, _>(row.id)
                        .bind::<Text, _>(name)
                        .bind::<Integer, _>(index)
                        .bind::<Timestamptz, _>(platform_since)
                        .execute(conn)
                        .await?;
                        moved_to = Some((index, platform_since));
                        Ok(Step::Reserved {
                            platform,
                            slot,
                            launch: BotLaunch {
                                bot_id: row.bot_id,
                                meeting_platform,
                                token: token.clone(),
                                milo_url: milo_url.clone(),
                            },
                            hash: hash.clone(),
                        })
                    }
                    Decision::Wait { platform_index, platform_since, wait_until, retry_at, why } => {
                        diesel::sql_query(
                            "UPDATE deployment_queue SET status = 'WAITING', claimed_by = NULL, platform_index = $2, \
                             platform_since = $3, platform_wait_until = $4, next_attempt_at = $5, last_error = $6 \
                             WHERE id = $1",
                        )
                        .bind::<BigInt, _>(row.id)
                        .bind::<Integer, _>(i32::try_from(platform_index).unwrap_or(i32::MAX))
                        .bind::<Timestamptz, _>(platform_since)
                        .bind::<Nullable<Timestamptz>, _>(wait_until)
                        .bind::<Timestamptz, _>(retry_at)
                        .bind::<Text, _>(&why)
                        .execute(conn)
                        .await?;
                        Ok(Step::Waiting)
                    }
                    Decision::Expire { sub_code, reason } => {
                        lifecycle::apply(conn, &[row.bot_id], &Change::fatal(&reason, sub_code)).await?;
                        delete_row(conn, row.id).await?;
                        Ok(Step::Expired)
                    }
                    Decision::Refused { reason } => {
                        lifecycle::apply(conn, &[row.bot_id], &Change::fatal(&reason, "NO_PLATFORM_ACCEPTED")).await?;
                        delete_row(conn, row.id).await?;
                        Ok(Step::Refused(reason))
                    }
                }
            })
            .await
            .map_err(|e| internal("reserving capacity failed", e))?;
        if let Some((index, since)) = moved_to {
            row.platform_index = index;
            row.platform_since = since;
        }
        Ok(step)
    }

    /// The platform started the bot: store its identifier and drop the queue row, in one
    /// transaction, unless the placement is no longer the bot's (it was cancelled, or another
    /// replica moved it on after this one's lease ran out): then the resource is stopped at once.
    /// A placement another replica adopted meanwhile (the same identifier stored) is kept.
    async fn deployed(&self, row: &Claimed, a: &Attempt<'_>, launched: Launched) -> Result<Outcome, AppError> {
        let (permit, mut conn) = self.conn().await?;
        let identifier = launched.identifier;
        let replica = self.replica.clone();
        let platform = a.platform;
        let kept = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                record_attempt(conn, row.bot_id, platform, a.started, a.took, "deployed", None).await?;
                health::mark_ok(conn, platform).await?;
                // Still this placement: the token it issued, or the bot was cancelled (tokens end
                // then) while still on this platform with no resource stored.
                let n = diesel::sql_query(
                    "UPDATE bots SET platform_identifier = $2 WHERE id = $1 AND deployment_platform = $3 \
                     AND (platform_identifier = $2 \
                          OR (platform_identifier IS NULL AND (token_hash = $4 OR status IN ('DONE', 'FATAL'))))",
                )
                .bind::<BigInt, _>(row.bot_id)
                .bind::<Text, _>(&identifier)
                .bind::<Text, _>(platform.as_str())
                .bind::<Bytea, _>(a.hash)
                .execute(conn)
                .await?;
                if n == 1 {
                    diesel::sql_query(
                        "DELETE FROM deployment_queue WHERE id = $1 AND claimed_by = $2 AND status = 'PLACING' AND placing_on = $3",
                    )
                    .bind::<BigInt, _>(row.id)
                    .bind::<Text, _>(&replica)
                    .bind::<Text, _>(platform.as_str())
                    .execute(conn)
                    .await?;
                }
                Ok(n == 1)
            })
            .await
            .map_err(|e| internal("storing a platform identifier failed", e))?;
        drop(conn);
        drop(permit);
        if !kept {
            tracing::warn!(bot_id = row.bot_id, platform = platform.as_str(), %identifier, "placement no longer the bot's: stopping its resource");
            if let Some(driver) = self.platforms.get(platform) {
                if let Err(e) = driver.stop(&identifier).await {
                    tracing::warn!(bot_id = row.bot_id, %identifier, error = %e, "stopping a superseded resource failed; the orphan sweep will");
                }
            }
            return Ok(Outcome::Skipped);
        }
        tracing::info!(bot_id = row.bot_id, platform = platform.as_str(), %identifier, took_ms = a.took.as_millis() as u64, "bot deployed");
        Ok(Outcome::Deployed { platform, identifier })
    }
}

pub(super) async fn delete_row(conn: &mut AsyncPgConnection, id: i64) -> diesel::QueryResult<usize> {
    diesel::sql_query("DELETE FROM deployment_queue WHERE id = $1").bind::<BigInt, _>(id).execute(conn).await
}

/// One platform call, for the estimates and the infrastructure page.
pub(super) async fn record_attempt(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    platform: DeploymentPlatform,
    started: DateTime<Utc>,
    took: Duration,
    outcome: &str,
    error_kind: Option<&str>,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO deploy_attempts (bot_id, platform, started_at, duration_ms, outcome, error_kind) \
         VALUES ($1, $2, $3, LEAST($4, 2147483647)::int, $5, $6)",
    )
    .bind::<BigInt, _>(bot_id)
    .bind::<Text, _>(platform.as_str())
    .bind::<Timestamptz, _>(started)
    .bind::<Double, _>(took.as_secs_f64() * 1000.0)
    .bind::<Text, _>(outcome)
    .bind::<Nullable<Text>, _>(error_kind)
    .execute(conn)
    .await
}
