//! The health monitor: fails bots that stopped reporting. On one replica at a time per pass (a
//! transaction advisory lock).
//!
//! - A bot in any status it reports (JOINING_CALL .. CALL_ENDED, and DEPLOYING once it has
//!   heartbeated) without a heartbeat for `HEARTBEAT_TIMEOUT` is FATAL (`HEARTBEAT_TIMEOUT`):
//!   bot images for Teams and Zoom heartbeat while DEPLOYING and never report JOINING_CALL.
//! - A bot DEPLOYING for longer than `DEPLOYING_TIMEOUT` without a single heartbeat is FATAL
//!   (`DEPLOYING_TIMEOUT`).
//! - A bot asked to leave the call (LEAVING) that has not ended within
//!   `REMOVE_FROM_CALL_GRACE_MS` of being asked is FATAL (`LEAVE_TIMEOUT`): Meeboter stops it.
//!
//! Timeouts are measured from the later of the last heartbeat and the moment the bot entered its
//! status (the leave grace from the moment it was asked). Their resources are stopped by the
//! reconciler, which runs this same sweep at the start of each of its passes (every 10 s, on the
//! leader) so a failed bot is torn down in the same pass; this monitor is the backstop of every
//! replica.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::watch;

use crate::backend::config::Config;
use crate::backend::db::DbPool;
use crate::backend::error::internal;
use crate::backend::lifecycle::{self, Change};
use crate::model::error::AppError;

/// How often the monitor looks for silent bots.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(30);

/// Fails silent bots.
pub struct HealthMonitor {
    pub pool: DbPool,
    pub config: std::sync::Arc<Config>,
}

impl HealthMonitor {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::every(HEALTH_INTERVAL, stop, || async {
            let Ok(mut conn) = self.pool.get().await else { return };
            match sweep_health(&mut conn, &self.config, Utc::now()).await {
                Ok(n) if n > 0 => tracing::warn!(bots = n, "health: silent bots marked FATAL"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "health sweep failed"),
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

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// One pass; answers how many bots it failed.
pub async fn sweep_health(
    conn: &mut AsyncPgConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let silent_since = now - chrono::Duration::from_std(config.heartbeat_timeout).unwrap_or_default();
    let deploying_since = now - chrono::Duration::from_std(config.deploying_timeout).unwrap_or_default();
    let hb_secs = config.heartbeat_timeout.as_secs();
    let dep_secs = config.deploying_timeout.as_secs();
    let leave_before = now - chrono::Duration::from_std(config.remove_from_call_grace).unwrap_or_default();
    let leave_secs = config.remove_from_call_grace.as_secs();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let lock: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock(hashtext('meeboter:health')) AS locked")
            .get_result(conn)
            .await?;
        if !lock.locked {
            return Ok(0);
        }
        let leaving: Vec<Id> =
            diesel::sql_query("SELECT id FROM bots WHERE status = 'LEAVING' AND status_changed_at < $1")
                .bind::<Timestamptz, _>(leave_before)
                .load(conn)
                .await?;
        let silent: Vec<Id> = diesel::sql_query(
            "SELECT id FROM bots \
             WHERE (status IN ('JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING', 'CALL_ENDED') \
                    OR (status = 'DEPLOYING' AND last_heartbeat >= status_changed_at)) \
               AND GREATEST(last_heartbeat, status_changed_at) < $1",
        )
        .bind::<Timestamptz, _>(silent_since)
        .load(conn)
        .await?;
        let stuck: Vec<Id> = diesel::sql_query(
            "SELECT id FROM bots WHERE status = 'DEPLOYING' \
               AND (last_heartbeat IS NULL OR last_heartbeat < status_changed_at) AND status_changed_at < $1",
        )
        .bind::<Timestamptz, _>(deploying_since)
        .load(conn)
        .await?;
        let leaving: Vec<i64> = leaving.into_iter().map(|b| b.id).collect();
        let left = lifecycle::apply(
            conn,
            &leaving,
            &Change::fatal(
                format!("The bot did not leave the call within {leave_secs} s of being asked; Meeboter stopped it."),
                "LEAVE_TIMEOUT",
            ),
        )
        .await?;
        let silent: Vec<i64> = silent.into_iter().map(|b| b.id).collect();
        let stuck: Vec<i64> = stuck.into_iter().map(|b| b.id).collect();
        let a = lifecycle::apply(
            conn,
            &silent,
            &Change::fatal(format!("No heartbeat for {hb_secs} s: the bot is presumed dead."), "HEARTBEAT_TIMEOUT"),
        )
        .await?;
        let b = lifecycle::apply(
            conn,
            &stuck,
            &Change::fatal(format!("Still deploying after {dep_secs} s without a heartbeat."), "DEPLOYING_TIMEOUT"),
        )
        .await?;
        if !a.is_empty() {
            metrics::counter!("meeboter_bot_timeouts_total", "reason" => "HEARTBEAT_TIMEOUT").increment(a.len() as u64);
        }
        if !b.is_empty() {
            metrics::counter!("meeboter_bot_timeouts_total", "reason" => "DEPLOYING_TIMEOUT").increment(b.len() as u64);
        }
        if !left.is_empty() {
            metrics::counter!("meeboter_bot_timeouts_total", "reason" => "LEAVE_TIMEOUT").increment(left.len() as u64);
        }
        Ok(left.len() + a.len() + b.len())
    })
    .await
    .map_err(|e| internal("health sweep failed", e))
}
