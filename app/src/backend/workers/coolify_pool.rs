//! The Coolify pool worker, on one leader replica at a time: every [`UPKEEP_INTERVAL`] it
//! follows DEPLOYING slots to HEALTHY or ERROR and recovers the slots that need it; every
//! [`SYNC_INTERVAL`] it reconciles the pool table with Coolify's `pool-…` applications both
//! ways (`platforms::coolify::upkeep`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::leader::Leadership;
use crate::backend::platforms::coolify::CoolifyPlatform;

/// How often slots are followed and recovered.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(15);
/// How often the table and Coolify are reconciled.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// The advisory lock key of the pool worker's leadership.
const LEADER_KEY: i64 = 7_300_020;

/// Keeps the Coolify pool sound.
pub struct CoolifyPoolWorker {
    pub platform: Arc<CoolifyPlatform>,
    pub database_url: String,
}

impl CoolifyPoolWorker {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut leadership = Leadership::new(self.database_url.clone(), LEADER_KEY);
        let mut last_sync: Option<Instant> = None;
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() || !leadership.check().await {
                continue;
            }
            let sync = last_sync.is_none_or(|t| t.elapsed() >= SYNC_INTERVAL);
            self.pass(sync).await;
            if sync {
                last_sync = Some(Instant::now());
            }
        }
    }

    /// One pass: follow deployments, recover, and (when `sync`) reconcile with Coolify.
    pub async fn pass(&self, sync: bool) {
        match self.platform.follow_deployments().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(slots = n, "pool slot deployments ended"),
            Err(e) => tracing::warn!(error = %e, "following pool slot deployments failed"),
        }
        match self.platform.recover().await {
            Ok(r) if r == Default::default() => {}
            Ok(r) => tracing::info!(
                released = r.released,
                reset = r.reset,
                recreated = r.recreated,
                deleted = r.deleted,
                failed_bots = r.failed_bots,
                "pool slots recovered"
            ),
            Err(e) => tracing::warn!(error = %e, "recovering pool slots failed"),
        }
        if sync {
            match self.platform.sync().await {
                Ok(s) if s == Default::default() => {}
                Ok(s) => tracing::warn!(
                    coolify_orphans_deleted = s.coolify_orphans_deleted,
                    database_orphans_deleted = s.database_orphans_deleted,
                    "pool reconciled with Coolify"
                ),
                Err(e) => tracing::warn!(error = %e, "reconciling the pool with Coolify failed"),
            }
        }
    }
}
