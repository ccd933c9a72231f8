//! The background work of every replica, one noun per file. Each worker runs until its `stop`
//! channel turns true; all are safe to run on several replicas at once (claims with
//! `SKIP LOCKED`, advisory locks, or a leader).
//!
//! | worker | what it does | period |
//! |---|---|---|
//! | [`dispatcher::QueueDispatcher`] | places queued bots on platforms | on `NOTIFY deployment_queue`, and every second |
//! | [`scheduler::Scheduler`] | moves SCHEDULED bots into the queue at their lead time | 1 s |
//! | [`health::HealthMonitor`] | fails bots that stopped heartbeating, never started or did not leave the call (a backstop: the reconciler runs the same sweep) | [`health::HEALTH_INTERVAL`] |
//! | [`reconciler::Reconciler`] | fails bots whose resource vanished, stops finished bots' resources until confirmed, then orphans (leader only) | [`reconciler::RECONCILE_INTERVAL`] |
//! | [`log_archiver::LogArchiver`] | moves finished bots' log lines to object storage | [`log_archiver::ARCHIVE_INTERVAL`] |
//! | [`maintenance::Maintenance`] | deletes expired sessions, old sign-in attempts and deploy attempts | [`maintenance::MAINTENANCE_INTERVAL`] |
//! | [`recordings::RecordingRetention`] | deletes recordings past `RECORDING_RETENTION_DAYS` (only when it is set) | [`recordings::RETENTION_INTERVAL`] |
//! | [`webhooks::WebhookSender`] | attempts due webhook deliveries from the outbox (in order per bot, retried with back-off) | [`webhooks::WEBHOOK_INTERVAL`], again at once while passes are full |
//! | [`coolify_pool::CoolifyPoolWorker`] | follows, recovers and syncs the Coolify pool (leader only; with Coolify) | [`coolify_pool::UPKEEP_INTERVAL`], sync [`coolify_pool::SYNC_INTERVAL`] |

pub mod coolify_pool;
pub mod dispatcher;
pub mod health;
pub mod leader;
pub mod log_archiver;
pub mod maintenance;
pub mod reconciler;
pub mod recordings;
pub mod scheduler;
pub mod webhooks;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Runs `pass` every `period` (the first right away) until `stop` turns true.
pub async fn every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        pass().await;
    }
}
