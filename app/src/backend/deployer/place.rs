//! Placing one claimed bot: reserve capacity where [`decide`] says, call the platform, and act on
//! its answer: store the resource, or hand the failure to `failure.rs` (`decide::react`: fail over at
//! once, or put the bot back to wait).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bytea, Double, Integer, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
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

/// What the reservation transaction decided for one bot.
pub(super) enum Step {
    Reserved { platform: DeploymentPlatform, slot: usize, launch: BotLaunch, hash: Vec<u8> },
    Waiting,
    Expired,
    Refused(String),
    Skipped,
}

#[derive(QueryableByName)]
struct MeetingRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    meeting_platform: String,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A bot of the batch that gets a platform.
struct Pick {
    /// Its position in the batch.
    index: usize,
    platform_index: usize,
    platform_since: DateTime<Utc>,
    meeting: MeetingPlatform,
}

/// The reservations of one batch, written with one statement per table.
#[derive(Default)]
struct Placed {
    bots: Vec<i64>,
    rows: Vec<i64>,
    platforms: Vec<&'static str>,
    hashes: Vec<Vec<u8>>,
    indexes: Vec<i32>,
    since: Vec<DateTime<Utc>>,
}

impl Placed {
    fn push(&mut self, row: &Claimed, platform: &'static str, hash: &[u8], index: i32, since: DateTime<Utc>) {
        self.bots.push(row.bot_id);
        self.rows.push(row.id);
        self.platforms.push(platform);
        self.hashes.push(hash.to_vec());
        self.indexes.push(index);
        self.since.push(since);
    }

    async fn write(&self, conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
        if self.bots.is_empty() {
            return Ok(());
        }
        diesel::sql_query(
            "UPDATE bots b SET deployment_platform = u.p, platform_identifier = NULL, token_hash = u.h, \
             resource_stopped_at = NULL, deploying_at = now() \
             FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS u(id, p, h) WHERE b.id = u.id",
        )
        .bind::<Array<BigInt>, _>(&self.bots)
        .bind::<Array<Text>, _>(&self.platforms)
        .bind::<Array<Bytea>, _>(&self.hashes)
        .execute(conn)
        .await?;
        diesel::sql_query(
            "UPDATE deployment_queue q SET status = 'PLACING', placing_on = u.p, platform_index = u.i, \
             platform_since = u.s, platform_wait_until = NULL, claimed_at = now() \
             FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[]) AS u(id, p, i, s) WHERE q.id = u.id",
        )
        .bind::<Array<BigInt>, _>(&self.rows)
        .bind::<Array<Text>, _>(&self.platforms)
        .bind::<Array<Integer>, _>(&self.indexes)
        .bind::<Array<Timestamptz>, _>(&self.since)
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl Deployer {
    /// Places one claimed bot, failing over from platform to platform within this call. `first`
    /// is what the pass's batch reservation ([`Self::reserve`]) decided for it; later rounds (after
    /// a failed deploy) reserve the bot alone.
    pub(super) async fn place(&self, mut row: Claimed, mut first: Option<Step>) -> Result<Outcome, AppError> {
        let mut leftovers = 0u32;
        // Each round either ends or moves the bot past a platform for good (it is marked
        // unhealthy, or refused the bot, or kept a leftover twice), so the number of platforms
        // bounds the rounds.
        for _ in 0..=self.platforms.slots().len() + 1 {
            let (permit, step) = match first.take() {
                Some(step) => (None, step),
                None => {
                    // The platform call's permit first: a bot is reserved (DEPLOYING, counted
                    // against the limit) only when its call can start now, and with the health
                    // as it is now.
                    let permit = self.permits.acquire().await.map_err(|e| internal("deploy permits closed", e))?;
                    let step = self.reserve(std::slice::from_mut(&mut row)).await?.pop().unwrap_or(Step::Skipped);
                    (Some(permit), step)
                }
            };
            let (platform, slot, launch, hash) = match step {
                Step::Reserved { platform, slot, launch, hash } => (platform, slot, launch, hash),
                Step::Waiting => return Ok(Outcome::Waiting),
                Step::Expired => return Ok(Outcome::TimedOut),
                Step::Refused(reason) => return Ok(Outcome::Failed(reason)),
                Step::Skipped => return Ok(Outcome::Skipped),
            };
            let permit = match permit {
                Some(p) => p,
                None => self.permits.acquire().await.map_err(|e| internal("deploy permits closed", e))?,
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

    /// In one transaction for a batch of claimed rows (in queue order): reads the platforms'
    /// health and capacity (under their locks), decides for each bot in turn against counts that
    /// grow with each reservation, and writes the reservations (bot DEPLOYING, row PLACING), the
    /// waits, the expiries and the refusals. One transaction for the batch means the platforms'
    /// locks are taken once per pass, not once per bot: reservations of one platform serialise
    /// across replicas by design, so their number of round trips is what bounds dispatch.
    ///
    /// Locks are taken in one order everywhere (the bots by id, then their queue rows, then the
    /// platforms in priority order), as cancelling does (the bot, then the row), so nothing
    /// deadlocks. A row that is no longer this replica's (its lease ran out and another took it)
    /// is left alone.
    pub(super) async fn reserve(&self, rows: &mut [Claimed]) -> Result<Vec<Step>, AppError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let (_permit, mut conn) = self.conn().await?;
        let tokens: Vec<(String, Vec<u8>)> = rows.iter().map(|_| bot_tokens::new_token()).collect();
        let platforms = self.platforms.clone();
        let milo_url = self.config.milo_url.as_str().trim_end_matches('/').to_owned();
        let replica = self.replica.clone();
        let bot_ids: Vec<i64> = rows.iter().map(|r| r.bot_id).collect();
        let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut moved_to: Vec<Option<(i32, DateTime<Utc>)>> = vec![None; rows.len()];
        let claimed: &[Claimed] = rows;
        let steps = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let meetings: Vec<MeetingRow> = diesel::sql_query(
                    "SELECT id, meeting_platform FROM bots WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                )
                .bind::<Array<BigInt>, _>(&bot_ids)
                .load(conn)
                .await?;
                let ours: Vec<IdRow> = diesel::sql_query(
                    "SELECT id FROM deployment_queue WHERE id = ANY($1) AND claimed_by = $2 AND status = 'PROCESSING' \
                     ORDER BY id FOR UPDATE",
                )
                .bind::<Array<BigInt>, _>(&row_ids)
                .bind::<Text, _>(&replica)
                .load(conn)
                .await?;
                let health = health::load(conn).await?;
                let now = Utc::now();
                let slots = platforms.slots();
                let healths: Vec<Health> = slots
                    .iter()
                    .map(|(slot, _)| health.get(slot.platform.as_str()).map_or(Health::Healthy, |r| r.health(now)))
                    .collect();
                let usable: Vec<&str> = slots
                    .iter()
                    .zip(&healths)
                    .filter(|(_, h)| **h == Health::Healthy)
                    .map(|((slot, _), _)| slot.platform.as_str())
                    .collect();
                // The usable platforms' locks in priority order (unnest emits the array in order;
                // the order everywhere, so nothing deadlocks), then their counts. The counts need
                // a statement of their own: one statement's snapshot predates its own locks and
                // would miss the commit of the placement it waited on.
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
                let mut used: Vec<u32> = slots
                    .iter()
                    .map(|(slot, _)| u32::try_from(counts.of(slot.platform.as_str())).unwrap_or(u32::MAX))
                    .collect();
                let mut steps: Vec<Step> = Vec::with_capacity(claimed.len());
                let mut reserved: Vec<Vec<Pick>> = (0..slots.len()).map(|_| Vec::new()).collect();
                for (i, row) in claimed.iter().enumerate() {
                    steps.push(Step::Skipped);
                    if !ours.iter().any(|o| o.id == row.id) {
                        continue;
                    }
                    let state = QueueState {
                        platform_index: usize::try_from(row.platform_index).unwrap_or(0),
                        platform_since: row.platform_since,
                        timeout_at: row.timeout_at,
                        own_timeout: row.own_timeout,
                        rejected_by: row.rejected_by.iter().filter_map(|p| DeploymentPlatform::parse(p)).collect(),
                    };
                    let views: Vec<SlotView> = slots
                        .iter()
                        .zip(&healths)
                        .zip(&used)
                        .map(|(((slot, _), h), used)| SlotView {
                            platform: slot.platform,
                            limit: slot.limit,
                            used: *used,
                            queue_timeout: slot.queue_timeout,
                            health: *h,
                        })
                        .collect();
                    steps[i] = match decide(&state, &views, now, RETRY_AFTER) {
                        Decision::Reserve { slot, platform_index, platform_since } => {
                            let meeting = meetings
                                .iter()
                                .find(|m| m.id == row.bot_id)
                                .and_then(|m| MeetingPlatform::parse(&m.meeting_platform));
                            if let Some(meeting) = meeting {
                                used[slot] = used[slot].saturating_add(1);
                                reserved[slot].push(Pick { index: i, platform_index, platform_since, meeting });
                                continue;
                            }
                            let reason = "The bot's meeting platform is unknown; it cannot be deployed.";
                            lifecycle::apply(conn, &[row.bot_id], &Change::fatal(reason, "UNKNOWN_MEETING_PLATFORM"))
                                .await?;
                            delete_row(conn, row.id).await?;
                            Step::Refused(reason.into())
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
                            Step::Waiting
                        }
                        Decision::Expire { sub_code, reason } => {
                            lifecycle::apply(conn, &[row.bot_id], &Change::fatal(&reason, sub_code)).await?;
                            delete_row(conn, row.id).await?;
                            Step::Expired
                        }
                        Decision::Refused { reason } => {
                            lifecycle::apply(conn, &[row.bot_id], &Change::fatal(&reason, "NO_PLATFORM_ACCEPTED"))
                                .await?;
                            delete_row(conn, row.id).await?;
                            Step::Refused(reason)
                        }
                    };
                }
                // The reservations: per platform one status change for all its bots, then one
                // statement each for the bots' platform and token and the rows' placement.
                let mut placed = Placed::default();
                for (slot_index, ((slot, _), picks)) in slots.iter().zip(&reserved).enumerate() {
                    if picks.is_empty() {
                        continue;
                    }
                    let name = slot.platform.as_str();
                    let ids: Vec<i64> = picks.iter().map(|p| claimed[p.index].bot_id).collect();
                    let change =
                        Change::new(Actor::Server, BotStatus::Deploying).described(format!("Deploying on {name}."));
                    let moved = lifecycle::apply(conn, &ids, &change).await?;
                    for pick in picks {
                        let (i, row) = (pick.index, &claimed[pick.index]);
                        if !moved.iter().any(|m| m.id == row.bot_id) {
                            // Cancelled or deleted since it was claimed.
                            delete_row(conn, row.id).await?;
                            continue;
                        }
                        let index = i32::try_from(pick.platform_index).unwrap_or(i32::MAX);
                        let (token, hash) = &tokens[i];
                        placed.push(row, name, hash, index, pick.platform_since);
                        moved_to[i] = Some((index, pick.platform_since));
                        steps[i] = Step::Reserved {
                            platform: slot.platform,
                            slot: slot_index,
                            launch: BotLaunch {
                                bot_id: row.bot_id,
                                meeting_platform: pick.meeting,
                                token: token.clone(),
                                milo_url: milo_url.clone(),
                            },
                            hash: hash.clone(),
                        };
                    }
                }
                placed.write(conn).await?;
                Ok(steps)
            })
            .await
            .map_err(|e| internal("reserving capacity failed", e))?;
        for (row, moved) in rows.iter_mut().zip(moved_to) {
            if let Some((index, since)) = moved {
                row.platform_index = index;
                row.platform_since = since;
            }
        }
        Ok(steps)
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
    let labels = [("platform", platform.as_str().to_owned()), ("outcome", outcome.to_owned())];
    metrics::counter!("meeboter_deploy_attempts_total", &labels).increment(1);
    metrics::histogram!("meeboter_deploy_duration_seconds", &labels).record(took.as_secs_f64());
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
