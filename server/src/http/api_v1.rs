//! The JSON API for API-key clients under `/api/v1`: bots, events, usage, templates, chat,
//! subscription. Every route needs a key (`x-api-key` or `Authorization: Bearer`); every error
//! is `{"error": {"code", "message", "details"}}`; every request is logged against its key.

mod auth;
pub mod bot;
mod bots;
mod error;
pub mod extract;
mod misc;
pub mod openapi;

use app::backend::state::AppState;
use axum::routing::{get, patch, post};
use axum::Router;

pub use auth::RequestLogSink;
pub use error::ApiError;

/// The `/api/v1` routes: those of API-key clients (key authentication and request logging
/// included) and those of running bots (`/bot/...`, authorised by the bot's token).
pub fn router(state: AppState, logs: RequestLogSink) -> Router<AppState> {
    let keyed = Router::new()
        .route("/bots", get(bots::list).post(bots::create))
        .route("/bots/active-count", get(bots::active_count))
        .route("/bots/delete", post(bots::delete_many))
        .route("/bots/cancel", post(bots::cancel_many))
        .route("/bots/remove-from-call", post(bots::remove_many))
        .route("/bots/{id}", get(bots::get).patch(bots::update).delete(bots::delete_one))
        .route("/bots/{id}/events", get(bots::events))
        .route("/bots/{id}/cancel", post(bots::cancel_one))
        .route("/bots/{id}/remove-from-call", post(bots::remove_one))
        .route("/bots/{id}/log-level", patch(bots::log_level))
        .route("/usage", get(misc::usage))
        .route("/user/subscription", get(misc::subscription))
        .route("/user/daily-usage", get(misc::daily_usage))
        .route("/templates", get(misc::list_templates).post(misc::create_template))
        .route("/templates/{id}", patch(misc::update_template).delete(misc::delete_template))
        .route("/chat/send", post(misc::send_chat))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state((state, logs), auth::require_api_key));
    bot::router().merge(keyed)
}
