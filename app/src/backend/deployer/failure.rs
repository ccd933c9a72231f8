//! A deploy that failed: what its kind means ([`react`]) for the platform (unhealthy, throttled,
//! full) and the bot (the next platform at once, or back to wait), and putting the bot back in
//! the queue only while the placement is still this replica's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::decide::{react, Reaction};
use super::place::{delete_row, record_attempt, Attempt};
use super::{health, Claimed, Deployer, Outcome, RETRY_AFTER};
use crate::backend::error::{db, internal};
use crate::backend::lifecycle::{self, Actor, Change};
use crate::backend::platforms::PlatformError;
use crate::model::bot::BotStatus;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// How long a platform that answered it is full is not tried again.
const QUOTA_HOLD: Duration = Duration::from_secs(5);

/// What follows a failed deploy.
pub(super) enum Next {
    /// The bot is back in this replica's hands for the next platform, now.
    Again,
    Done(Outcome),
}

/// How a queue row changes when its bot goes back to the queue.
pub(super) struct Requeue<'a> {
    /// Why, as the QUEUED event's description (for the bot's owner).
    pub event: String,
    /// PROCESSING (this replica goes on at once) or WAITING (a later pass takes it).
    pub status: &'static str,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: &'a str,
}

impl Deployer {
    /// A deploy failed: record it and act on its kind (see [`react`]).
    pub(super) async fn after_failure(
        &self,
        row: &mut Claimed,
        a: &Attempt<'_>,
        e: PlatformError,
        leftovers: &mut u32,
    ) -> Result<Next, AppError> {
        let platform = a.platform;
        let name = platform.as_str();
        let mut reaction = react(e.kind);
        if reaction == Reaction::Leftover && *leftovers >= 1 {
            // A leftover that is still there after it was stopped once: this platform cannot take
            // the bot now; the next one may.
            reaction = Reaction::Rejected;
        }
        // Operators read the platform's own words in the log; the bot's owner reads a reason
        // without internal names.
        tracing::warn!(bot_id = row.bot_id, platform = name, error = %e, ?reaction, "deploy failed");
        let (permit, mut conn) = self.conn().await?;
        let outcome = match react(e.kind) {
            Reaction::Failover => "failed",
            Reaction::Rejected => "rejected",
            Reaction::Throttled => "throttled",
            Reaction::Full => "capacity",
            Reaction::Leftover => "conflict",
        };
        record_attempt(&mut conn, row.bot_id, platform, a.started, a.took, outcome, Some(e.kind.as_str()))
            .await
            .map_err(db("recording a deploy attempt failed"))?;
        let reason = e.public_reason();
        let now = Utc::now();
        let n = self.platforms.slots().len();
        let past = |row: &Claimed| {
            if usize::try_from(row.platform_index).unwrap_or(0) < n {
                i32::try_from(a.slot + 1).unwrap_or(i32::MAX)
            } else {
                row.platform_index
            }
        };
        let later = |d: Duration| now + chrono::Duration::from_std(d).unwrap_or_default();
        let (requeue, next) = match reaction {
            Reaction::Failover => {
                let wait = health::mark_failed(
                    &mut conn,
                    platform,
                    reason,
                    self.config.platform_backoff,
                    self.config.platform_backoff_max,
                    false,
                )
                .await
                .map_err(db("recording platform health failed"))?;
                tracing::warn!(platform = name, skipped_for_ms = wait.as_millis() as u64, "platform marked unhealthy");
                row.platform_index = past(row);
                row.platform_since = now;
                let event = format!("Deployment on {name} failed: {reason}; trying the next platform.");
                (Requeue { event, status: "PROCESSING", next_attempt_at: now, last_error: reason }, Next::Again)
            }
            Reaction::Rejected => {
                row.rejected_by.push(name.to_owned());
                row.platform_index = past(row);
                row.platform_since = now;
                let event = format!("{name} refused this bot: {reason}; trying the next platform.");
                (Requeue { event, status: "PROCESSING", next_attempt_at: now, last_error: reason }, Next::Again)
            }
            Reaction::Throttled => {
                let until = health::throttle(&mut conn, platform).await.map_err(db("recording throttling failed"))?;
                let event = format!("{name} asked Meeboter to slow down; trying again shortly.");
                (
                    Requeue { event, status: "WAITING", next_attempt_at: until, last_error: reason },
                    Next::Done(Outcome::Waiting),
                )
            }
            Reaction::Full => {
                health::mark_full(&mut conn, platform, QUOTA_HOLD)
                    .await
                    .map_err(db("recording a full platform failed"))?;
                let event = format!("{name} has no capacity left (a quota); waiting for room.");
                (
                    Requeue { event, status: "WAITING", next_attempt_at: later(RETRY_AFTER), last_error: reason },
                    Next::Done(Outcome::Waiting),
                )
            }
            Reaction::Leftover => {
                let event =
                    format!("{name} still had a resource from an earlier attempt; stopping it and trying again.");
                (Requeue { event, status: "PROCESSING", next_attempt_at: now, last_error: reason }, Next::Again)
            }
        };
        let requeued = self.requeue(&mut conn, row, Some(a.hash), platform, requeue).await?;
        drop(conn);
        drop(permit);
        if !requeued {
            return Ok(Next::Done(Outcome::Skipped));
        }
        if reaction == Reaction::Leftover {
            *leftovers += 1;
            self.stop_leftover(platform, row.bot_id).await;
        }
        Ok(next)
    }

    /// Puts a DEPLOYING bot back in the queue (QUEUED, its token revoked, no platform) with an
    /// event saying why, and rewrites its row, if the placement on `platform` is still this
    /// replica's (`hash`: the token it issued, when known). Answers false when it is not, or the
    /// bot had meanwhile ended (cancelled; then its row is dropped).
    pub(super) async fn requeue(
        &self,
        conn: &mut AsyncPgConnection,
        row: &Claimed,
        hash: Option<&[u8]>,
        platform: DeploymentPlatform,
        r: Requeue<'_>,
    ) -> Result<bool, AppError> {
        let replica = self.replica.clone();
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query("SELECT id FROM bots WHERE id = $1 FOR UPDATE")
                .bind::<BigInt, _>(row.bot_id)
                .execute(conn)
                .await?;
            let ours = diesel::sql_query(
                "SELECT id FROM deployment_queue WHERE id = $1 AND claimed_by = $2 AND status = 'PLACING' \
                 AND placing_on = $3 FOR UPDATE",
            )
            .bind::<BigInt, _>(row.id)
            .bind::<Text, _>(&replica)
            .bind::<Text, _>(platform.as_str())
            .execute(conn)
            .await?;
            if ours == 0 {
                return Ok(false);
            }
            let placed = diesel::sql_query(
                "SELECT id FROM bots WHERE id = $1 AND status = 'DEPLOYING' AND deployment_platform = $2 \
                 AND ($3::bytea IS NULL OR token_hash = $3)",
            )
            .bind::<BigInt, _>(row.bot_id)
            .bind::<Text, _>(platform.as_str())
            .bind::<Nullable<Bytea>, _>(hash)
            .execute(conn)
            .await?;
            if placed == 0 {
                // Cancelled (or failed) meanwhile: nothing left to place.
                delete_row(conn, row.id).await?;
                return Ok(false);
            }
            let change = Change::new(Actor::Server, BotStatus::Queued).described(r.event.clone());
            lifecycle::apply(conn, &[row.bot_id], &change).await?;
            diesel::sql_query(
                "UPDATE bots SET token_hash = NULL, deployment_platform = NULL, platform_identifier = NULL, \
                 deploying_at = NULL WHERE id = $1",
            )
            .bind::<BigInt, _>(row.bot_id)
            .execute(conn)
            .await?;
            diesel::sql_query(
                "UPDATE deployment_queue SET status = $2, claimed_by = CASE WHEN $2 = 'PROCESSING' THEN $3 ELSE NULL END, \
                 claimed_at = now(), placing_on = NULL, platform_index = $4, platform_since = $5, \
                 platform_wait_until = NULL, rejected_by = $6, next_attempt_at = $7, last_error = $8 WHERE id = $1",
            )
            .bind::<BigInt, _>(row.id)
            .bind::<Text, _>(r.status)
            .bind::<Text, _>(&replica)
            .bind::<Integer, _>(row.platform_index)
            .bind::<Timestamptz, _>(row.platform_since)
            .bind::<Array<Text>, _>(&row.rejected_by)
            .bind::<Timestamptz, _>(r.next_attempt_at)
            .bind::<Text, _>(r.last_error)
            .execute(conn)
            .await?;
            Ok(true)
        })
        .await
        .map_err(|e| internal("putting a bot back in the queue failed", e))
    }

    /// Stops whatever `platform` still has for `bot_id`, running or exited (a finished Kubernetes
    /// Job keeps its name for minutes), best effort: the orphan sweep is the safety net.
    pub(super) async fn stop_leftover(&self, platform: DeploymentPlatform, bot_id: i64) {
        let Some(driver) = self.platforms.get(platform) else { return };
        match driver.list().await {
            Ok(list) => {
                for r in list.into_iter().filter(|r| r.bot_id == Some(bot_id)) {
                    if let Err(e) = driver.stop(&r.identifier).await {
                        tracing::warn!(bot_id, identifier = %r.identifier, error = %e, "stopping a leftover resource failed");
                    }
                }
                if let Err(e) = driver.release(bot_id).await {
                    tracing::warn!(bot_id, error = %e, "releasing a leftover resource failed");
                }
            }
            Err(e) => {
                tracing::warn!(bot_id, platform = platform.as_str(), error = %e, "looking for a leftover resource failed")
            }
        }
    }
}
