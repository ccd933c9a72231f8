//! The OpenAPI 3.1 document, generated from the handlers' annotations and served at
//! `/api/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{bot, bots, error, misc};

#[derive(OpenApi)]
#[openapi(
    info(title = "Meeboter API", version = "1.0.0", description = "Create, watch and stop meeting bots. Authenticate with an API key from the API Keys page."),
    paths(
        bots::list, bots::create, bots::get, bots::update, bots::delete_one, bots::delete_many,
        bots::cancel_one, bots::remove_one, bots::cancel_many, bots::remove_many, bots::log_level,
        bots::events, bots::active_count,
        misc::usage, misc::subscription, misc::daily_usage,
        misc::list_templates, misc::create_template, misc::update_template, misc::delete_template, misc::send_chat,
        bot::config, bot::slot_config, bot::heartbeat, bot::status, bot::events, bot::logs, bot::flush, bot::dequeue, bot::screenshot,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, app::model::usage::UsageRange)),
    modifiers(&Security),
    tags((name = "bots", description = "Bots and their events"), (name = "usage", description = "Plan, limits and usage"), (name = "chat", description = "Message templates and chat"),
        (name = "bot", description = "Called by running bots, with the bot's own token (MILO_AUTH_TOKEN)"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
        components
            .add_security_scheme("bot_token", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Milo-Token"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
