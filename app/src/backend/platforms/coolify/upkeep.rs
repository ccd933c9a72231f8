//! What the pool worker (`workers::coolify_pool`, on one leader) does to keep the pool sound:
//!
//! - [`CoolifyPlatform::follow_deployments`]: a DEPLOYING slot whose deployment finished is
//!   HEALTHY; one whose deployment failed is ERROR.
//! - [`CoolifyPlatform::recover`]: a slot whose bot finished is released; a slot in ERROR, or
//!   DEPLOYING for longer than [`STUCK_AFTER`], is stopped and reset to IDLE with its recovery
//!   count raised (its application re-created when Coolify lost it), and after
//!   [`MAX_RECOVERIES`] it is deleted. A bot still active in a recovered slot ends FATAL.
//! - [`CoolifyPlatform::sync`]: a `pool-…` application the table does not know is deleted
//!   from Coolify; a slot whose application Coolify no longer has is deleted, and its active
//!   bot ends FATAL.

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::build::{self, Progress, SlotStatus};
use super::pool::{self, SlotWithBot};
use super::{db, CoolifyPlatform};
use crate::backend::lifecycle::{self, reported_by_bot, Change};
use crate::backend::platforms::PlatformError;
use crate::model::bot::BotStatus;

/// A slot DEPLOYING for longer than this is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(15 * 60);
/// A slot recovered this many times without a successful use since is deleted.
pub const MAX_RECOVERIES: i32 = 3;
/// A slot younger than this is not judged by the sync (its application may be being created).
pub const SYNC_GRACE: Duration = Duration::from_secs(120);

/// What a recovery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Slots of finished bots given back.
    pub released: usize,
    /// Slots stopped and reset to IDLE.
    pub reset: usize,
    /// Slots whose lost application was created again.
    pub recreated: usize,
    /// Slots deleted after too many recoveries (or placeholders never completed).
    pub deleted: usize,
    /// Active bots ended FATAL because their slot was recovered.
    pub failed_bots: usize,
}

/// What a sync pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sync {
    /// `pool-…` applications the table did not know, deleted from Coolify.
    pub coolify_orphans_deleted: usize,
    /// Slots whose application Coolify no longer had, deleted from the table.
    pub database_orphans_deleted: usize,
}

fn active(bot_status: Option<&str>) -> Option<BotStatus> {
    bot_status.and_then(BotStatus::parse).filter(|s| !s.is_terminal())
}

impl CoolifyPlatform {
    /// Ends an active bot FATAL (through the lifecycle) because of its slot.
    async fn fail_bot(&self, bot_id: i64, reason: String, sub_code: &'static str) -> Result<bool, PlatformError> {
        let change = Change::fatal(reason, sub_code);
        let mut conn = self.conn().await?;
        let moved = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| lifecycle::apply(conn, &[bot_id], &change).await)
            .await
            .map_err(db)?;
        Ok(!moved.is_empty())
    }

    /// Moves DEPLOYING slots whose deployment ended to HEALTHY or ERROR; answers how many moved.
    pub async fn follow_deployments(&self) -> Result<usize, PlatformError> {
        let slots = pool::all(&mut *self.conn().await?).await.map_err(db)?;
        let mut moved = 0;
        for SlotWithBot { slot, .. } in slots {
            if slot.status != SlotStatus::Deploying.as_str() || slot.pending() || slot.assigned_bot_id.is_none() {
                continue;
            }
            let deployment = match &slot.deployment_uuid {
                Some(d) => match self.api.deployment(d).await {
                    Ok(Some(d)) => Some(d),
                    Ok(None) => self.api.latest_deployment(&slot.application_uuid).await.ok().flatten(),
                    Err(e) => {
                        tracing::warn!(slot = slot.slot_name, error = %e, "reading a slot's deployment failed");
                        continue;
                    }
                },
                // The start answered no deployment (one was already queued or running): follow
                // the application's latest, if it was queued for this use.
                None => match self.api.latest_deployment(&slot.application_uuid).await {
                    Ok(Some(d)) if build::deployment_of_this_use(d.created_at.as_deref(), slot.status_changed_at) => {
                        Some(d)
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(slot = slot.slot_name, error = %e, "reading a slot's latest deployment failed");
                        continue;
                    }
                },
            };
            let Some(deployment) = deployment else { continue };
            let (to, message) = match build::progress(&deployment.status) {
                Progress::InProgress => continue,
                Progress::Finished => (SlotStatus::Healthy, None),
                Progress::Failed => (
                    SlotStatus::Error,
                    Some(format!("deployment {} ended {}", deployment.deployment_uuid, deployment.status)),
                ),
            };
            let mut conn = self.conn().await?;
            if pool::set_status(
                &mut conn,
                slot.id,
                slot.assigned_bot_id,
                &[SlotStatus::Deploying],
                to,
                message.as_deref(),
            )
            .await
            .map_err(db)?
                == 0
            {
                continue;
            }
            moved += 1;
            let now = Utc::now();
            let description = match (&message, slot.assigned_bot_id) {
                (Some(m), _) => build::error_description(m, now),
                (None, Some(bot)) => build::busy_description(bot, now),
                (None, None) => build::idle_description(now),
            };
            if let Err(e) =
                self.api.update_application(&slot.application_uuid, &build::update_body(&self.cfg, &description)).await
            {
                tracing::warn!(slot = slot.slot_name, error = %e, "could not update a slot's description");
            }
            tracing::info!(slot = slot.slot_name, status = to.as_str(), "pool slot deployment ended");
        }
        Ok(moved)
    }

    /// Recovers the slots that need it (see the module documentation).
    pub async fn recover(&self) -> Result<Recovery, PlatformError> {
        let slots = pool::needing_recovery(&mut *self.conn().await?, STUCK_AFTER.as_secs_f64()).await.map_err(db)?;
        let mut done = Recovery::default();
        for SlotWithBot { slot, bot_status } in slots {
            let bot_active = active(bot_status.as_deref());
            if slot.pending() {
                // A creation that never completed (its replica crashed): the name is freed; a
                // `pool-…` application it may have made is deleted by the sync.
                if let Some(bot) = slot.assigned_bot_id.filter(|_| bot_active.is_some()) {
                    let reason = "Its Coolify slot was never created; the deployment was abandoned.".to_owned();
                    done.failed_bots += usize::from(self.fail_bot(bot, reason, "POOL_SLOT_RECOVERED").await?);
                }
                done.deleted +=
                    pool::delete(&mut *self.conn().await?, slot.id, &slot.application_uuid).await.map_err(db)?;
                continue;
            }
            if slot.status != SlotStatus::Error.as_str() {
                match bot_active {
                    // The bot finished (or was deleted): an ordinary release.
                    None => {
                        match self.release_slot(&slot).await {
                            Ok(()) => done.released += 1,
                            Err(e) => {
                                tracing::warn!(slot = slot.slot_name, error = %e, "releasing a finished bot's slot failed")
                            }
                        }
                        continue;
                    }
                    // Stuck DEPLOYING, but the bot reports from it: it runs.
                    Some(s) if reported_by_bot(s) => {
                        let mut conn = self.conn().await?;
                        let from = [SlotStatus::Deploying];
                        pool::set_status(&mut conn, slot.id, slot.assigned_bot_id, &from, SlotStatus::Healthy, None)
                            .await
                            .map_err(db)?;
                        continue;
                    }
                    Some(_) => {}
                }
            }
            if let (Some(bot), Some(_)) = (slot.assigned_bot_id, bot_active) {
                let why = slot.error_message.clone().unwrap_or_else(|| "its deployment did not finish".to_owned());
                let reason = format!("Its Coolify slot {} failed and was reset: {why}.", slot.slot_name);
                done.failed_bots += usize::from(self.fail_bot(bot, reason, "POOL_SLOT_RECOVERED").await?);
            }
            if slot.recovery_attempts >= MAX_RECOVERIES {
                match self.api.delete(&slot.application_uuid).await {
                    Ok(()) => {
                        done.deleted += pool::delete(&mut *self.conn().await?, slot.id, &slot.application_uuid)
                            .await
                            .map_err(db)?;
                        tracing::warn!(
                            slot = slot.slot_name,
                            attempts = slot.recovery_attempts,
                            "pool slot deleted after repeated failures"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(slot = slot.slot_name, error = %e, "deleting a failed slot's application failed")
                    }
                }
                continue;
            }
            match self.api.application(&slot.application_uuid).await {
                Ok(None) => match self.create_application(&slot, &build::idle_description(Utc::now())).await {
                    Ok(uuid) => {
                        pool::reset_idle(&mut *self.conn().await?, slot.id, slot.assigned_bot_id, true)
                            .await
                            .map_err(db)?;
                        tracing::warn!(slot = slot.slot_name, application = uuid, "pool slot application re-created");
                        done.recreated += 1;
                    }
                    Err(e) => {
                        tracing::warn!(slot = slot.slot_name, error = %e, "re-creating a slot application failed")
                    }
                },
                Ok(Some(_)) => match self.api.stop(&slot.application_uuid).await {
                    Ok(()) => {
                        pool::reset_idle(&mut *self.conn().await?, slot.id, slot.assigned_bot_id, true)
                            .await
                            .map_err(db)?;
                        let body = build::update_body(&self.cfg, &build::idle_description(Utc::now()));
                        if let Err(e) = self.api.update_application(&slot.application_uuid, &body).await {
                            tracing::warn!(slot = slot.slot_name, error = %e, "could not set a recovered slot's description");
                        }
                        tracing::info!(
                            slot = slot.slot_name,
                            attempts = slot.recovery_attempts + 1,
                            "pool slot recovered"
                        );
                        done.reset += 1;
                    }
                    Err(e) => {
                        tracing::warn!(slot = slot.slot_name, error = %e, "stopping a failed slot failed; will retry")
                    }
                },
                Err(e) => {
                    tracing::warn!(slot = slot.slot_name, error = %e, "reading a failed slot's application failed")
                }
            }
        }
        Ok(done)
    }

    /// Reconciles the table with Coolify's `pool-…` applications, both ways.
    pub async fn sync(&self) -> Result<Sync, PlatformError> {
        // The table first, then Coolify: an application made after this read is either named
        // by a placeholder already, or checked again below before it is deleted.
        let slots = pool::all(&mut *self.conn().await?).await.map_err(db)?;
        let apps = self.api.list_pool().await?;
        let mut done = Sync::default();
        for app in &apps {
            // A placeholder's application has no UUID in the table yet: its name stands for it.
            let known = slots
                .iter()
                .any(|s| s.slot.application_uuid == app.uuid || (s.slot.pending() && s.slot.slot_name == app.name));
            if known || pool::knows(&mut *self.conn().await?, &app.uuid, &app.name).await.map_err(db)? {
                continue;
            }
            match self.api.delete(&app.uuid).await {
                Ok(()) => {
                    tracing::warn!(
                        application = app.uuid,
                        name = app.name,
                        "pool application unknown to the table deleted"
                    );
                    done.coolify_orphans_deleted += 1;
                }
                Err(e) => {
                    tracing::warn!(application = app.uuid, error = %e, "deleting an orphaned pool application failed")
                }
            }
        }
        let grace = chrono::Duration::from_std(SYNC_GRACE).unwrap_or_default();
        for SlotWithBot { slot, bot_status } in slots {
            if slot.pending()
                || Utc::now() - slot.created_at < grace
                || apps.iter().any(|a| a.uuid == slot.application_uuid)
            {
                continue;
            }
            let n = pool::delete(&mut *self.conn().await?, slot.id, &slot.application_uuid).await.map_err(db)?;
            if n == 0 {
                continue;
            }
            done.database_orphans_deleted += 1;
            tracing::warn!(
                slot = slot.slot_name,
                application = slot.application_uuid,
                "pool slot whose application Coolify lost deleted"
            );
            if let (Some(bot), Some(_)) = (slot.assigned_bot_id, active(bot_status.as_deref())) {
                let reason = format!("Its Coolify slot {} no longer exists on Coolify.", slot.slot_name);
                self.fail_bot(bot, reason, "POOL_SLOT_LOST").await?;
            }
        }
        Ok(done)
    }
}
