//! The OpenAPI 3.1 document, generated from the handlers' annotations and served at
//! `/api/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{bot, bots, error, misc, recordings};

#[derive(OpenApi)]
#[openapi(
    info(title = "Meeboter API", version = "1.0.0", description = "Create, watch and stop meeting bots. Authenticate with an API key from the API Keys page."),
    paths(
        bots::list, bots::create, bots::get, bots::update, bots::delete_one, bots::delete_many,
        bots::cancel_one, bots::remove_one, bots::cancel_many, bots::remove_many, bots::log_level,
        bots::events, bots::active_count, recordings::link, bots::chat_messages,
        misc::usage, misc::subscription, misc::daily_usage,
        misc::list_templates, misc::create_template, misc::update_template, misc::delete_template, misc::send_chat,
        bot::config, bot::slot_config, bot::heartbeat, bot::status, bot::status_patch, bot::events, bot::logs, bot::flush, bot::dequeue, bot::screenshot, recordings::upload,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, app::model::usage::UsageRange)),
    modifiers(&Security, &CommonErrors, &ItemBounds),
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

/// The error answers every operation can give besides those its handler documents, added here
/// so that the document lists every status the server really answers: 401 (no, a revoked or an
/// expired key or token), 400 (a malformed path id, query or JSON body), and for operations with
/// a body 413 (larger than the limit), 415 (not JSON) and 422 (JSON of the wrong shape). Path
/// ids get their bound (`minimum: 1`).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete, &mut item.put].into_iter().flatten()
            {
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let json_body =
                    op.request_body.as_ref().is_some_and(|b| b.content.keys().any(|k| k == "application/json"));
                let multipart = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("multipart/form-data"));
                // Ids in paths are positive (0 and negative ids are refused with 400).
                for p in op.parameters.iter_mut().flatten() {
                    if p.name == "id" && p.parameter_in == utoipa::openapi::path::ParameterIn::Path {
                        if let Some(RefOr::T(utoipa::openapi::Schema::Object(o))) = p.schema.as_mut() {
                            o.minimum = Some(1.into());
                        }
                    }
                }
                let mut add = |status: &str, description: &str| {
                    op.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
                };
                if op.security.is_some() {
                    add("401", "No credentials, or credentials that are revoked, expired or unknown");
                }
                if has_params || json_body || multipart {
                    add("400", "A malformed path, query or body");
                }
                if json_body {
                    add("413", "The body is larger than 1 MiB");
                    add("415", "The body is not sent as application/json");
                    add("422", "The body is JSON of the wrong shape, or a value is not accepted");
                }
                if multipart {
                    add("413", "The upload is larger than the limit");
                }
            }
        }
    }
}

/// Bounds the derive cannot state: time zones are the IANA names the server knows, and each
/// template variation is 1 to 1000 characters, not only spaces (blank variations are dropped,
/// and a template needs one).
struct ItemBounds;

impl Modify for ItemBounds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ArrayItems, Schema};
        use utoipa::openapi::RefOr;
        // Time zones: the IANA names the server knows (an empty string means UTC).
        let zones = || -> Vec<serde_json::Value> {
            std::iter::once(String::new())
                .chain(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name().to_owned()))
                .map(serde_json::Value::String)
                .collect()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten() {
                for p in op.parameters.iter_mut().flatten().filter(|p| p.name == "timeZone") {
                    if let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() {
                        o.enum_values = Some(zones());
                    }
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else { return };
        for name in ["CreateBot", "UpdateBot"] {
            if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(name) {
                if let Some(RefOr::T(Schema::Object(tz))) = body.properties.get_mut("timeZone") {
                    tz.enum_values = Some(zones().into_iter().chain([serde_json::Value::Null]).collect());
                }
            }
        }
        let Some(RefOr::T(Schema::Object(input))) = components.schemas.get_mut("TemplateInput") else { return };
        let Some(RefOr::T(Schema::Array(messages))) = input.properties.get_mut("messages") else { return };
        if let ArrayItems::RefOrSchema(item) = &mut messages.items {
            if let RefOr::T(Schema::Object(o)) = item.as_mut() {
                o.min_length = Some(1);
                o.max_length = Some(app::backend::services::templates::MAX_MESSAGE);
                o.pattern = Some(SOME_TEXT.to_owned());
            }
        }
    }
}

/// The document as built from the annotations.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served: [`document`] with the rules the derive cannot state ([`refine`]).
pub fn document_json() -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    refine(&mut doc);
    doc
}

/// `GET /api/openapi.json` (built once at start-up, kept in the state).
pub async fn serve(
    axum::extract::State(state): axum::extract::State<app::backend::state::AppState>,
) -> Json<serde_json::Value> {
    Json((*state.api_doc).clone())
}

/// A string without NUL (PostgreSQL refuses it; every input is checked, 422 otherwise).
const NO_NUL: &str = r"^[^\u0000]*$";
/// Text that is not only spaces, without NUL.
const SOME_TEXT: &str = r"^[^\u0000]*[^\s\u0000][^\u0000]*$";

/// Rules of the server that the annotations cannot carry, stated in the JSON document:
///
/// - every free-text string refuses NUL (`services::validate`);
/// - the `status` filter is a comma-separated list of statuses;
/// - a bot needs `meetingUrl`, or `meetingId` with `platform`;
/// - a chat send names a template or a text, exactly one of them.
pub fn refine(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    fn no_nul(v: &mut Value) {
        match v {
            Value::Object(m) => {
                let is_string = match m.get("type") {
                    Some(Value::String(t)) => t == "string",
                    Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                    _ => false,
                };
                if m.get("pattern").and_then(Value::as_str) == Some(r"\S") {
                    m.insert("pattern".into(), Value::String(SOME_TEXT.into()));
                }
                if is_string && !m.contains_key("pattern") && !m.contains_key("enum") && !m.contains_key("format") {
                    m.insert("pattern".into(), Value::String(NO_NUL.into()));
                }
                for (_, child) in m.iter_mut() {
                    no_nul(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(no_nul),
            _ => {}
        }
    }
    let statuses = app::model::bot::BotStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("|");
    if let Some(params) = doc.pointer_mut("/paths/~1api~1v1~1bots/get/parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut().filter(|p| p["name"] == "status") {
            p["schema"]["pattern"] = Value::String(format!("^(({statuses})(,({statuses}))*)?$"));
        }
    }
    if let Some(create) = doc.pointer_mut("/components/schemas/CreateBot").and_then(Value::as_object_mut) {
        create.insert(
            "anyOf".into(),
            json!([
                { "required": ["meetingUrl"], "properties": { "meetingUrl": { "type": "string", "pattern": SOME_TEXT } } },
                { "required": ["meetingId", "platform"],
                  "properties": { "meetingId": { "type": "string", "pattern": SOME_TEXT },
                                  "platform": { "$ref": "#/components/schemas/MeetingPlatform" } } }
            ]),
        );
    }
    if let Some(send) = doc.pointer_mut("/components/schemas/SendChat").and_then(Value::as_object_mut) {
        send.insert(
            "oneOf".into(),
            json!([
                { "required": ["templateId"], "properties": { "templateId": { "type": "integer" },
                                                              "messageText": { "type": "null" } } },
                { "required": ["messageText"], "properties": { "messageText": { "type": "string", "pattern": SOME_TEXT },
                                                               "templateId": { "type": "null" } } }
            ]),
        );
    }
    no_nul(doc);
}
