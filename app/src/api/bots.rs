//! Bots for the signed-in user: list, read, deploy, cancel, remove from call, delete, events,
//! recording links, chat messages, log level, dashboard figures.

pub mod aws;
pub mod coolify;
pub mod k8s;
pub mod platform;

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::model::bot::{Bot, BotEvent, BotFilter, BotLogLine, BulkResult, CreateBot, LogLevel, Screenshot};
use crate::model::error::AppError;
use crate::model::paging::BotPage;
use crate::model::recording::{ChatMessage, RecordingLink};
use crate::model::usage::DailyUsage;

/// The dashboard's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardStats {
    pub active_bots: i64,
    pub api_keys: i64,
    pub today: DailyUsage,
    pub plan: String,
}

/// A page of the user's bots: by `page` (1 to 1000) or by `cursor`; 400 outside the bounds.
#[server(prefix = "/fn", endpoint = "list_bots", input = Json)]
pub async fn list_bots(filter: BotFilter) -> Result<BotPage, AppError> {
    use crate::backend::services::bots as svc;
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let state = super::ctx::state()?;
    let mut page = svc::list_bots(&mut conn, user.id, &filter).await?;
    svc::with_queue(&mut conn, &state.estimator, &state.config.platforms, &mut page.data).await;
    Ok(page)
}

/// One of the user's bots with its events.
#[server(prefix = "/fn", endpoint = "get_bot", input = Json)]
pub async fn get_bot(id: i64) -> Result<(Bot, Vec<BotEvent>), AppError> {
    use crate::backend::services::bots as svc;
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let state = super::ctx::state()?;
    let mut bot = svc::get_bot(&mut conn, user.id, id).await?;
    svc::with_queue(&mut conn, &state.estimator, &state.config.platforms, std::slice::from_mut(&mut bot)).await;
    let events = svc::list_events(&mut conn, user.id, id).await?;
    Ok((bot, events))
}

/// The screenshots of one of the user's bots, newest first.
#[server(prefix = "/fn", endpoint = "get_bot_screenshots", input = Json)]
pub async fn get_bot_screenshots(id: i64) -> Result<Vec<Screenshot>, AppError> {
    use crate::backend::services::{bot_api, bots as svc};
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    svc::get_bot(&mut conn, user.id, id).await?;
    let mut shots: Vec<Screenshot> = bot_api::screenshots(&mut conn, id)
        .await?
        .into_iter()
        .map(|s| Screenshot {
            url: format!("/api/bots/{id}/screenshots/{}", s.key.rsplit('/').next().unwrap_or_default()),
            captured_at: s.captured_at,
            kind: s.kind,
            state: s.state,
            trigger: s.trigger,
        })
        .collect();
    shots.reverse();
    Ok(shots)
}

/// Short-lived links to the recording of one of the user's bots (404 with the reason while
/// there is none).
#[server(prefix = "/fn", endpoint = "get_recording_link", input = Json)]
pub async fn get_recording_link(id: i64) -> Result<RecordingLink, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let state = super::ctx::state()?;
    crate::backend::services::recordings::link(&mut conn, &state.storage, user.id, id, "", chrono::Utc::now()).await
}

/// The chat messages sent to one of the user's bots, oldest first, with their delivery state.
#[server(prefix = "/fn", endpoint = "get_bot_chat", input = Json)]
pub async fn get_bot_chat(id: i64) -> Result<Vec<ChatMessage>, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::bots::list_chat_messages(&mut conn, user.id, id).await
}

/// Log lines of one of the user's bots after `after` (a `seq`), oldest first, at most 500.
#[server(prefix = "/fn", endpoint = "get_bot_logs", input = Json)]
pub async fn get_bot_logs(id: i64, after: i64) -> Result<Vec<BotLogLine>, AppError> {
    use crate::backend::services::{bots as svc, log_archive};
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let bot = svc::get_bot(&mut conn, user.id, id).await?;
    let state = super::ctx::state()?;
    let finished = bot.status.is_terminal();
    let lines = log_archive::history(&mut conn, &state.storage, id, finished, after.max(0), 500).await?;
    Ok(lines
        .into_iter()
        .map(|l| BotLogLine {
            seq: l.seq,
            timestamp: l.entry.timestamp,
            level: l.entry.level,
            message: l.entry.message,
            state: l.entry.state,
            location: l.entry.location,
        })
        .collect())
}

/// Creates `count` bots for one meeting (quick deploy and the multi-bot dialog).
#[server(prefix = "/fn", endpoint = "deploy_bots", input = Json)]
pub async fn deploy_bots(request: CreateBot, count: u32) -> Result<Vec<Bot>, AppError> {
    if !(1..=256).contains(&count) {
        return Err(AppError::invalid("count", "Choose from 1 to 256 bots."));
    }
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let state = super::ctx::state()?;
    let requests: Vec<CreateBot> = (0..count)
        .map(|i| {
            let mut r = request.clone();
            r.idempotency_key = None;
            if count > 1 && r.display_name.as_deref().unwrap_or("").trim().is_empty() {
                r.display_name = Some(format!("Meeboter {}", i + 1));
            }
            r
        })
        .collect();
    let created =
        crate::backend::services::bots::create_bot(&mut conn, &state.config, user.id, &requests, None).await?;
    Ok(created.into_iter().map(|(b, _)| b).collect())
}

/// Cancels the deployments of the user's bots.
#[server(prefix = "/fn", endpoint = "cancel_deployments", input = Json)]
pub async fn cancel_deployments(ids: Vec<i64>) -> Result<BulkResult, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::bots::cancel_deployment(&mut conn, user.id, &ids).await
}

/// Asks the user's bots to leave their calls.
#[server(prefix = "/fn", endpoint = "remove_bots_from_call", input = Json)]
pub async fn remove_bots_from_call(ids: Vec<i64>) -> Result<BulkResult, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::bots::remove_from_call(&mut conn, user.id, &ids).await
}

/// Deletes the user's bots.
#[server(prefix = "/fn", endpoint = "delete_bots", input = Json)]
pub async fn delete_bots(ids: Vec<i64>) -> Result<BulkResult, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let state = super::ctx::state()?;
    crate::backend::services::bots::delete_bots(&mut conn, &state.storage, user.id, &ids).await
}

/// Sets a bot's log level.
#[server(prefix = "/fn", endpoint = "set_bot_log_level", input = Json)]
pub async fn set_bot_log_level(id: i64, level: LogLevel) -> Result<(), AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::bots::set_log_level(&mut conn, user.id, id, level).await
}

/// Active bots, API keys and today's usage. The limit's day is the UTC day whatever
/// `time_zone` says (it is still checked, for the callers that send it).
#[server(prefix = "/fn", endpoint = "get_dashboard_stats", input = Json)]
pub async fn get_dashboard_stats(time_zone: Option<String>) -> Result<DashboardStats, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::{api_keys, bots, plans};
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    bots::validate::time_zone(time_zone.as_deref())?;
    let sub = plans::subscription(&mut conn, user.id).await.map_err(|e| internal("reading the plan failed", e))?;
    Ok(DashboardStats {
        active_bots: bots::active_bot_count(&mut conn, user.id).await?,
        api_keys: api_keys::active_count(&mut conn, user.id).await?,
        today: plans::daily_usage(&mut conn, user.id, chrono::Utc::now())
            .await
            .map_err(|e| internal("reading usage failed", e))?,
        plan: sub.current_plan.label().to_owned(),
    })
}
