//! The state every request handler and server function shares.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use super::config::Config;
use super::db::DbPool;
use super::services::heartbeats::Heartbeats;

/// Shared, cheaply cloned handles: database pool, configuration, Leptos options.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// The bot API's own connections (`DATABASE_BOT_POOL_SIZE`): a bulkhead, so people's
    /// requests and the workers never starve bots' heartbeats and reports, nor bots them.
    pub bot_pool: DbPool,
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    /// The OpenAPI document of the JSON API (built once by the server).
    pub api_doc: Arc<serde_json::Value>,
    /// The heartbeat cache and write buffer of this process.
    pub heartbeats: Arc<Heartbeats>,
    /// The group-commit writers of the bots' log lines.
    pub log_writer: Arc<super::services::log_writer::LogWriter>,
    /// Object storage (screenshots, archived logs).
    pub storage: Arc<super::storage::Storage>,
    /// Per-bot rate limits on screenshots and log lines.
    pub bot_limits: Arc<super::services::bot_api::limits::BotLimits>,
    /// The platforms this process drives, in `PLATFORM_PRIORITY` order.
    pub platforms: Arc<super::platforms::PlatformRegistry>,
    /// The live hub: bot changes for the pages' live streams.
    pub live: Arc<super::live::LiveHub>,
    /// Queue positions and estimated starts (a measured snapshot, reused for a few seconds).
    pub estimator: Arc<super::deployer::estimate::Estimator>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for DbPool {
    fn from_ref(state: &AppState) -> Self {
        state.pool.clone()
    }
}
