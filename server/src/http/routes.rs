//! The route table: every HTTP route the server answers besides the web app's pages, its server
//! functions and static files, each with who may call it. The router is built from this table
//! (nothing else under `server/src/http` calls `Router::route`), and the authorisation matrix
//! (`server/tests/it/authz.rs`) requires a row for every entry, so a route cannot be added
//! without saying who may call it and proving that nobody else can.

use app::backend::state::AppState;
use axum::handler::Handler;
use axum::routing::{any, delete, get, patch, post, MethodRouter};
use axum::Router;

use super::api_v1::{self, bot, RequestLogSink};
use super::{health, live, metrics, screenshots, trpc};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health checks and the OpenAPI document.
    Public,
    /// Anyone holding a link Meeboter signed (the signature is the credential; it expires).
    SignedLink,
    /// The holder of a live API key (`x-api-key` or `Authorization: Bearer`), on their own data.
    ApiKey,
    /// A running bot, with its own token (or its pool slot's) for the bot in the path.
    BotToken,
    /// A signed-in user (session cookie), on their own data.
    Session,
    /// A scraper holding `METRICS_TOKEN` (`/metrics` is off without it).
    MetricsToken,
}

/// The HTTP method a route answers (`Any`: the handler answers every method itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Get,
    Post,
    Patch,
    Delete,
    Any,
}

impl On {
    /// The method's name, as the OpenAPI document spells it (`*` for `Any`).
    pub fn as_str(self) -> &'static str {
        match self {
            On::Get => "GET",
            On::Post => "POST",
            On::Patch => "PATCH",
            On::Delete => "DELETE",
            On::Any => "*",
        }
    }
}

/// One entry of the table.
pub struct Route {
    pub on: On,
    /// The full path, in axum's syntax (`/api/v1/bots/{id}`).
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn new<H: Handler<T, AppState>, T: 'static>(on: On, path: &'static str, access: Access, h: H) -> Route {
        let handler = match on {
            On::Get => get(h),
            On::Post => post(h),
            On::Patch => patch(h),
            On::Delete => delete(h),
            On::Any => any(h),
        };
        Route { on, path, access, handler }
    }

    /// Screenshot uploads carry up to 8 MiB.
    fn upload_sized(mut self) -> Route {
        let max = app::backend::services::bot_api::MAX_SCREENSHOT_BYTES + 64 * 1024;
        self.handler = self.handler.layer(axum::extract::DefaultBodyLimit::max(max));
        self
    }
}

/// Whether a request's body is streamed by its handler, which bounds it itself: the request
/// body limit and the request timeout leave it alone.
pub fn is_streamed_upload(method: &http::Method, path: &str) -> bool {
    method == http::Method::POST && path.starts_with("/api/v1/bot/") && path.ends_with("/recording")
}

/// Every route, in the order of the API's documentation.
pub fn table() -> Vec<Route> {
    use api_v1::{bots, misc, recordings};
    use Access::{ApiKey, BotToken, MetricsToken, Public, Session, SignedLink};
    use On::{Any, Delete, Get, Patch, Post};
    vec![
        Route::new(Get, "/healthz", Public, health::healthz),
        Route::new(Get, "/readyz", Public, health::readyz),
        Route::new(Get, "/metrics", MetricsToken, metrics::serve),
        Route::new(Get, "/api/openapi.json", Public, api_v1::openapi::serve),
        // API-key clients.
        Route::new(Get, "/api/v1/bots", ApiKey, bots::list),
        Route::new(Post, "/api/v1/bots", ApiKey, bots::create),
        Route::new(Get, "/api/v1/bots/active-count", ApiKey, bots::active_count),
        Route::new(Post, "/api/v1/bots/delete", ApiKey, bots::delete_many),
        Route::new(Post, "/api/v1/bots/cancel", ApiKey, bots::cancel_many),
        Route::new(Post, "/api/v1/bots/remove-from-call", ApiKey, bots::remove_many),
        Route::new(Get, "/api/v1/bots/{id}", ApiKey, bots::get),
        Route::new(Patch, "/api/v1/bots/{id}", ApiKey, bots::update),
        Route::new(Delete, "/api/v1/bots/{id}", ApiKey, bots::delete_one),
        Route::new(Get, "/api/v1/bots/{id}/events", ApiKey, bots::events),
        Route::new(Get, "/api/v1/bots/{id}/recording", ApiKey, recordings::link),
        Route::new(Get, "/api/v1/bots/{id}/chat", ApiKey, bots::chat_messages),
        Route::new(Post, "/api/v1/bots/{id}/cancel", ApiKey, bots::cancel_one),
        Route::new(Post, "/api/v1/bots/{id}/remove-from-call", ApiKey, bots::remove_one),
        Route::new(Patch, "/api/v1/bots/{id}/log-level", ApiKey, bots::log_level),
        Route::new(Get, "/api/v1/usage", ApiKey, misc::usage),
        Route::new(Get, "/api/v1/user/subscription", ApiKey, misc::subscription),
        Route::new(Get, "/api/v1/user/daily-usage", ApiKey, misc::daily_usage),
        Route::new(Get, "/api/v1/templates", ApiKey, misc::list_templates),
        Route::new(Post, "/api/v1/templates", ApiKey, misc::create_template),
        Route::new(Patch, "/api/v1/templates/{id}", ApiKey, misc::update_template),
        Route::new(Delete, "/api/v1/templates/{id}", ApiKey, misc::delete_template),
        Route::new(Post, "/api/v1/chat/send", ApiKey, misc::send_chat),
        // Running bots.
        Route::new(Get, "/api/v1/bot/{id}/config", BotToken, bot::config),
        Route::new(Get, "/api/v1/bot/slots/{uuid}/config", BotToken, bot::slot_config),
        Route::new(Post, "/api/v1/bot/{id}/heartbeat", BotToken, bot::heartbeat),
        Route::new(Post, "/api/v1/bot/{id}/status", BotToken, bot::status),
        Route::new(Patch, "/api/v1/bot/{id}/status", BotToken, bot::status_patch),
        Route::new(Post, "/api/v1/bot/{id}/events", BotToken, bot::events),
        Route::new(Post, "/api/v1/bot/{id}/logs", BotToken, bot::logs),
        Route::new(Post, "/api/v1/bot/{id}/logs/flush", BotToken, bot::flush),
        Route::new(Post, "/api/v1/bot/{id}/chat/dequeue", BotToken, bot::dequeue),
        Route::new(Post, "/api/v1/bot/{id}/screenshots", BotToken, bot::screenshot).upload_sized(),
        Route::new(Post, "/api/bots/{id}/screenshots", BotToken, screenshots::upload).upload_sized(),
        Route::new(Post, "/api/v1/bot/{id}/recording", BotToken, recordings::upload),
        Route::new(Any, "/api/trpc", BotToken, trpc::handle_root),
        Route::new(Any, "/api/trpc/", BotToken, trpc::handle_root),
        Route::new(Any, "/api/trpc/{*paths}", BotToken, trpc::handle),
        // The owner's browser.
        Route::new(Get, "/api/bots/{id}/screenshots/{file}", Session, screenshots::view),
        Route::new(Get, "/api/live", Session, live::stream),
        // Whoever holds a signed link (the local store's recordings).
        Route::new(Get, "/recordings/{id}/{file}", SignedLink, recordings::serve),
    ]
}

/// The router of the table: API-key routes behind key authentication and the request log
/// (with a JSON 404 for unknown paths under `/api/v1`), the others as they are.
pub fn router(state: &AppState, logs: RequestLogSink) -> Router<AppState> {
    let (mut keyed, mut open) = (Router::new(), Router::new());
    for r in table() {
        if r.access == Access::ApiKey {
            keyed = keyed.route(r.path, r.handler);
        } else {
            open = open.route(r.path, r.handler);
        }
    }
    let keyed = keyed
        .route("/api/v1", any(api_v1::not_found))
        .route("/api/v1/{*rest}", any(api_v1::not_found))
        .layer(axum::middleware::from_fn_with_state((state.clone(), logs), api_v1::require_api_key));
    open.merge(keyed)
}
