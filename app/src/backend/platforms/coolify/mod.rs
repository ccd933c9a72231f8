//! The Coolify platform: a pool of pre-created docker-image applications per meeting platform
//! (`pool-{platform}-NNN`, at most `COOLIFY_BOT_LIMIT`), one row each in `bot_pool_slots`. A
//! bot claims an idle slot of its meeting platform or a new one is created; the slot gets a new
//! token and the bot's environment, waits for the image pull lock, and is started. [`build`]
//! makes the bodies (pure), [`client`] does the I/O, [`errors`] maps API errors to platform
//! error kinds, [`pool`] is the table, [`upkeep`] is what the pool worker does
//! (`workers::coolify_pool`).

pub mod build;
pub mod client;
pub mod errors;
pub mod pool;
pub mod upkeep;

use std::sync::RwLock;

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use diesel_async::RunQueryDsl;

use self::build::{Progress, SlotStatus};
use self::client::CoolifyApi;
use self::pool::{Reserved, Slot};
use super::env::slot_environment;
use super::pull_lock::{self, Puller};
use super::{BotLaunch, BoxFuture, ErrorKind, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::backend::auth::bot_tokens::issue_slot_token_for;
use crate::backend::config::{CoolifyConfig, S3Config};
use crate::backend::db::{DbConn, DbPool};
use crate::model::bot::{BotStatus, MeetingPlatform};
use crate::model::platform::DeploymentPlatform;
use crate::model::platform_details::CoolifySlot;

/// Runs bots in a pool of Coolify applications.
pub struct CoolifyPlatform {
    api: CoolifyApi,
    cfg: CoolifyConfig,
    s3: Option<S3Config>,
    pool: DbPool,
    limit: u32,
    /// The UUID of `COOLIFY_ENVIRONMENT_NAME`, found by `probe`.
    environment_uuid: RwLock<Option<String>>,
}

/// A database failure, as a platform error (the pool table is part of this platform).
fn db(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::unavailable(format!("Coolify pool table: {e}"))
}

impl CoolifyPlatform {
    /// Builds the client from the configuration (no request is made: see `probe`). Misconfigured
    /// when `COOLIFY_API_URL`, `COOLIFY_API_TOKEN`, `COOLIFY_PROJECT_UUID` or
    /// `COOLIFY_SERVER_UUID` is missing.
    pub fn connect(cfg: &CoolifyConfig, s3: Option<S3Config>, pool: DbPool) -> Result<Self, PlatformError> {
        let missing = |name: &str| PlatformError::new(ErrorKind::Misconfigured, format!("{name} is not set"));
        let url = cfg.api_url.as_ref().ok_or_else(|| missing("COOLIFY_API_URL"))?;
        let token = cfg.api_token.clone().ok_or_else(|| missing("COOLIFY_API_TOKEN"))?;
        if cfg.project_uuid.is_none() {
            return Err(missing("COOLIFY_PROJECT_UUID"));
        }
        if cfg.server_uuid.is_none() {
            return Err(missing("COOLIFY_SERVER_UUID"));
        }
        Ok(CoolifyPlatform {
            api: CoolifyApi::new(url, token)?,
            cfg: cfg.clone(),
            s3,
            pool,
            limit: cfg.bot_limit.unwrap_or(1),
            environment_uuid: RwLock::new(None),
        })
    }

    /// The API client (the pool worker and tests use it).
    pub fn api(&self) -> &CoolifyApi {
        &self.api
    }

    async fn conn(&self) -> Result<DbConn, PlatformError> {
        self.pool.get().await.map_err(db)
    }

    /// The environment UUID for new applications, read once.
    async fn environment(&self) -> Result<String, PlatformError> {
        if let Some(u) = self.environment_uuid.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(u);
        }
        let project = self.cfg.project_uuid.clone().unwrap_or_default();
        let uuid = self.api.environment_uuid(&project, &self.cfg.environment_name).await?.ok_or_else(|| {
            PlatformError::unavailable(format!(
                "environment {} of project {project}: Coolify answered no uuid",
                self.cfg.environment_name
            ))
        })?;
        *self.environment_uuid.write().unwrap_or_else(|p| p.into_inner()) = Some(uuid.clone());
        Ok(uuid)
    }

    /// Creates the application of a slot (a new one, or one whose application vanished) and
    /// records its UUID.
    async fn create_application(&self, slot: &Slot, description: &str) -> Result<String, PlatformError> {
        let platform = MeetingPlatform::parse(&slot.meeting_platform)
            .ok_or_else(|| PlatformError::rejected(format!("slot {} has no meeting platform", slot.slot_name)))?;
        let body = build::create_body(&self.cfg, &self.environment().await?, platform, &slot.slot_name, description);
        let uuid = self.api.create_application(&slot.slot_name, &body).await?;
        if pool::set_application(&mut *self.conn().await?, slot.id, &uuid).await.map_err(db)? == 0 {
            // The row went meanwhile (the sync or a recovery deleted it): nothing holds the
            // application, so it must not outlive this call.
            if let Err(e) = self.api.delete(&uuid).await {
                tracing::warn!(slot = slot.slot_name, error = %e, "could not delete an application whose slot is gone");
            }
            return Err(PlatformError::new(
                ErrorKind::Conflict,
                format!("slot {} was removed meanwhile", slot.slot_name),
            ));
        }
        Ok(uuid)
    }

    /// The slot for `bot`: the one it holds already (a retried deploy), an idle one of its
    /// meeting platform, or a new one while the pool is below its limit.
    async fn slot_for(&self, bot: &BotLaunch) -> Result<Slot, PlatformError> {
        let mut conn = self.conn().await?;
        let slot = match pool::held_by(&mut conn, bot.bot_id).await.map_err(db)? {
            // A retry after a crash or a failed start: the slot deploys again.
            Some(s) => {
                let from = [SlotStatus::Error, SlotStatus::Healthy, SlotStatus::Deploying];
                pool::set_status(&mut conn, s.id, Some(bot.bot_id), &from, SlotStatus::Deploying, None)
                    .await
                    .map_err(db)?;
                s
            }
            None => match pool::claim_idle(&mut conn, bot.bot_id, bot.meeting_platform).await.map_err(db)? {
                Some(s) => s,
                None => match pool::reserve_new(&mut conn, bot.bot_id, bot.meeting_platform, self.limit)
                    .await
                    .map_err(db)?
                {
                    Reserved::Slot(s) => s,
                    Reserved::Repurposed { slot, old_application } => {
                        // The old application goes; if deleting fails, the sync deletes it later
                        // (no row names it any more).
                        if let Err(e) = self.api.delete(&old_application).await {
                            tracing::warn!(application = old_application, error = %e, "could not delete a repurposed slot's application");
                        }
                        tracing::info!(slot = slot.slot_name, bot_id = bot.bot_id, "an idle slot of another meeting platform was repurposed");
                        slot
                    }
                    Reserved::Full { total } => {
                        return Err(PlatformError::new(
                            ErrorKind::Capacity,
                            format!(
                                "the Coolify pool is full: all {total} slots (COOLIFY_BOT_LIMIT={}) exist and none for {} is idle",
                                self.limit,
                                bot.meeting_platform.as_str()
                            ),
                        ))
                    }
                },
            },
        };
        drop(conn);
        if !slot.pending() {
            return Ok(slot);
        }
        match self.create_application(&slot, &build::deploying_description(bot.bot_id)).await {
            Ok(uuid) => Ok(Slot { application_uuid: uuid, ..slot }),
            Err(e) => {
                // Nothing was created: the name is free again.
                if let Err(d) = pool::delete(&mut *self.conn().await?, slot.id, &slot.application_uuid).await {
                    tracing::warn!(slot = slot.slot_name, error = %d, "could not delete the placeholder of a slot not created");
                }
                Err(e)
            }
        }
    }

    /// Gives the slot a new token and the bot's environment, waits for the image, starts it.
    async fn configure_and_start(&self, mut slot: Slot, bot: &BotLaunch) -> Result<String, PlatformError> {
        let token = issue_slot_token_for(&mut *self.conn().await?, slot.id, bot.bot_id)
            .await
            .map_err(|e| db(format!("issuing the slot token: {e}")))?
            .ok_or_else(|| {
                PlatformError::new(
                    ErrorKind::Conflict,
                    format!("slot {} no longer holds bot {}", slot.slot_name, bot.bot_id),
                )
            })?;
        let env = slot_environment(bot, &slot.application_uuid, &token, self.s3.as_ref());
        match self.api.update_envs(&slot.application_uuid, &build::envs_body(&env)).await {
            Err(e) if e.kind == ErrorKind::NotFound => {
                // The application vanished (deleted in Coolify): the slot gets a new one.
                tracing::warn!(
                    slot = slot.slot_name,
                    uuid = slot.application_uuid,
                    "slot application missing; re-creating it"
                );
                slot.application_uuid =
                    self.create_application(&slot, &build::deploying_description(bot.bot_id)).await?;
                let env = slot_environment(bot, &slot.application_uuid, &token, self.s3.as_ref());
                self.api.update_envs(&slot.application_uuid, &build::envs_body(&env)).await?;
            }
            r => r?,
        }
        let description = build::deploying_description(bot.bot_id);
        self.api.update_application(&slot.application_uuid, &build::update_body(&self.cfg, &description)).await?;
        let image = build::image_ref(&self.cfg, bot.meeting_platform);
        let turn = pull_lock::take_turn(
            &self.pool,
            &format!("coolify:{image}"),
            &slot.application_uuid,
            self.cfg.image_tag == "latest",
            |puller, started| self.puller_state(puller, started),
        )
        .await?;
        tracing::debug!(bot_id = bot.bot_id, image, ?turn, "image pull lock");
        // The wait may have been long: start only a slot that still holds this bot (a Stop or a
        // recovery may have given it to another bot meanwhile).
        if !pool::holds(&mut *self.conn().await?, slot.id, bot.bot_id).await.map_err(db)? {
            return Err(PlatformError::new(
                ErrorKind::Conflict,
                format!("slot {} was taken back while bot {} waited for its image", slot.slot_name, bot.bot_id),
            ));
        }
        let deployment = self.api.start(&slot.application_uuid).await?;
        pool::set_deployment(&mut *self.conn().await?, slot.id, bot.bot_id, deployment.as_deref()).await.map_err(db)?;
        Ok(slot.application_uuid)
    }

    /// How the pull of the slot application `puller` goes: its latest deployment says.
    async fn puller_state(&self, puller: String, started: chrono::DateTime<Utc>) -> Result<Puller, PlatformError> {
        let slot = pool::by_application(&mut *self.conn().await?, &puller).await.map_err(db)?;
        let Some(slot) = slot else { return Ok(Puller::Failed) };
        let Some(deployment) = slot.deployment_uuid else {
            return Ok(if pull_lock::young(started) { Puller::Pulling } else { Puller::Failed });
        };
        Ok(match self.api.deployment(&deployment).await? {
            None => Puller::Failed,
            Some(d) => match build::progress(&d.status) {
                Progress::Finished => Puller::HasImage,
                Progress::InProgress => Puller::Pulling,
                Progress::Failed => Puller::Failed,
            },
        })
    }

    /// Stops the slot's application and gives the slot back: IDLE, no bot, no token, recovery
    /// count 0. If the stop fails the slot goes ERROR with the reason (the pool worker recovers
    /// it) and the error is answered.
    async fn release_slot(&self, slot: &Slot) -> Result<(), PlatformError> {
        if slot.pending() {
            // A placeholder whose application was never created: the name is simply free again.
            pool::delete(&mut *self.conn().await?, slot.id, &slot.application_uuid).await.map_err(db)?;
            return Ok(());
        }
        if let Err(e) = self.api.stop(&slot.application_uuid).await {
            let mut conn = self.conn().await?;
            let all = [SlotStatus::Idle, SlotStatus::Deploying, SlotStatus::Healthy, SlotStatus::Error];
            pool::set_status(&mut conn, slot.id, slot.assigned_bot_id, &all, SlotStatus::Error, Some(&e.message))
                .await
                .map_err(db)?;
            return Err(e);
        }
        if pool::reset_idle(&mut *self.conn().await?, slot.id, slot.assigned_bot_id, false).await.map_err(db)? == 0 {
            // Another release or a recovery gave the slot back (and perhaps to another bot).
            return Ok(());
        }
        let body = build::update_body(&self.cfg, &build::idle_description(Utc::now()));
        if let Err(e) = self.api.update_application(&slot.application_uuid, &body).await {
            tracing::warn!(slot = slot.slot_name, error = %e, "could not set an idle slot's description");
        }
        tracing::info!(slot = slot.slot_name, bot_id = ?slot.assigned_bot_id, "pool slot released");
        Ok(())
    }

    /// The Platform tab's slot card: the slot holding `bot_id` (or the last that did) and its
    /// application as Coolify reports it now. A Coolify failure fills `live_error`.
    pub async fn slot_details(&self, bot_id: i64) -> Result<Option<CoolifySlot>, PlatformError> {
        let Some(slot) = pool::of_bot(&mut *self.conn().await?, bot_id).await.map_err(db)? else {
            return Ok(None);
        };
        let assigned = slot.assigned_bot_id == Some(bot_id);
        let mut card = CoolifySlot {
            slot_name: slot.slot_name.clone(),
            status: slot.status.clone(),
            application_uuid: slot.application_uuid.clone(),
            assigned,
            image: None,
            app_status: None,
            live_error: None,
            limits_cpus: None,
            limits_memory: None,
            last_used_at: slot.last_used_at,
            recovery_attempts: slot.recovery_attempts,
            // The slot's own error text is Coolify's and the operator's (the log has it).
            error_message: (assigned && slot.error_message.is_some())
                .then(|| "the slot's last start failed; the pool resets it (details in the server's log)".to_owned()),
        };
        if !assigned {
            // The slot may run another user's bot now: nothing live about it is this bot's.
            card.live_error = Some("the slot was released; it may run another bot now".to_owned());
            return Ok(Some(card));
        }
        if slot.pending() {
            card.live_error = Some("the slot's application is still being created".to_owned());
            return Ok(Some(card));
        }
        match self.api.application(&slot.application_uuid).await {
            Ok(Some(app)) => {
                card.image = app.docker_registry_image_name.map(|name| match app.docker_registry_image_tag {
                    Some(tag) if !tag.is_empty() => format!("{name}:{tag}"),
                    _ => name,
                });
                card.app_status = app.status;
                card.limits_cpus = app.limits_cpus;
                card.limits_memory = app.limits_memory;
            }
            Ok(None) => card.live_error = Some("Coolify no longer has this application".to_owned()),
            Err(e) => {
                tracing::warn!(bot_id, error = %e, "reading a slot application failed");
                card.live_error = Some(format!("Coolify could not be asked: {}", e.public_reason()));
            }
        }
        Ok(Some(card))
    }
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
}

impl Platform for CoolifyPlatform {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::Coolify
    }

    /// `GET /version` (the token works) and the configured environment (the project and
    /// environment exist; its UUID is kept for creating slots).
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            self.api.version().await?;
            *self.environment_uuid.write().unwrap_or_else(|p| p.into_inner()) = None;
            self.environment().await.map(|_| ())
        })
    }

    /// Claims or creates a slot, then configures and starts it. The slot stays DEPLOYING until
    /// the pool worker sees its deployment finish; a failure here puts it in ERROR.
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let slot = self.slot_for(bot).await?;
            let id = slot.id;
            match self.configure_and_start(slot, bot).await {
                Ok(uuid) => {
                    tracing::info!(bot_id = bot.bot_id, application = uuid, "bot deployed on a Coolify slot");
                    Ok(Launched { identifier: uuid })
                }
                Err(e) => {
                    // Only while the slot still holds this bot: one taken back meanwhile is not
                    // this deploy's to mark.
                    let mut conn = self.conn().await?;
                    let from = [SlotStatus::Deploying];
                    pool::set_status(&mut conn, id, Some(bot.bot_id), &from, SlotStatus::Error, Some(&e.message))
                        .await
                        .map_err(db)?;
                    Err(e)
                }
            }
        })
    }

    /// Stops the application, unless its slot now runs another bot that is still active (the
    /// slot was released and claimed again: stopping it would end someone else's bot).
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let holder: Option<Holder> = diesel::sql_query(
                "SELECT b.status FROM bot_pool_slots s JOIN bots b ON b.id = s.assigned_bot_id WHERE s.application_uuid = $1",
            )
            .bind::<Text, _>(identifier)
            .get_result(&mut *self.conn().await?)
            .await
            .optional()
            .map_err(db)?;
            let active =
                holder.and_then(|h| h.status).and_then(|s| BotStatus::parse(&s)).is_some_and(|s| !s.is_terminal());
            if active {
                tracing::info!(application = identifier, "not stopping a slot that runs another active bot");
                return Ok(());
            }
            self.api.stop(identifier).await
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            Ok(match self.api.application(identifier).await? {
                None => ResourceStatus::Gone,
                Some(app) => build::resource_status(app.status.as_deref().unwrap_or_default()),
            })
        })
    }

    /// Stops the bot's slot and returns it to the pool. Idempotent: a bot without a slot has
    /// nothing to release.
    fn release(&self, bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            match pool::held_by(&mut *self.conn().await?, bot_id).await.map_err(db)? {
                Some(slot) => self.release_slot(&slot).await,
                None => Ok(()),
            }
        })
    }

    /// Every `pool-…` application, with the bot its slot holds.
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            let slots = pool::all(&mut *self.conn().await?).await.map_err(db)?;
            let apps = self.api.list_pool().await?;
            Ok(apps
                .into_iter()
                .map(|app| {
                    let bot_id =
                        slots.iter().find(|s| s.slot.application_uuid == app.uuid).and_then(|s| s.slot.assigned_bot_id);
                    ResourceSummary {
                        status: build::resource_status(app.status.as_deref().unwrap_or_default()),
                        identifier: app.uuid,
                        bot_id,
                    }
                })
                .collect())
        })
    }
}
