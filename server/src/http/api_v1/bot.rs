//! `/api/v1/bot/...`: the API a running bot calls, authorised by the bot's own token
//! (`X-Milo-Token` or `Authorization: Bearer`). The same service answers the upstream tRPC
//! format (`crate::http::trpc`).

use app::backend::db::DbConn;
use app::backend::services::bot_api::{
    self as svc, BotConfig, ChatMessage, HeartbeatReply, LogEntry, ReportedEvent, StatusReply, StatusUpdate,
};
use app::backend::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, BotToken, Id};

type ApiResult<T> = Result<T, ApiError>;

/// A screenshot: multipart `file` (PNG, up to 8 MiB), `type` (error, fatal, manual, state_change),
/// `state`, `trigger`. Stored in object storage; the bot keeps the last 50 in its metadata.
#[utoipa::path(post, path = "/api/v1/bot/{id}/screenshots", operation_id = "bot_screenshot", tag = "bot", params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", content = Object),
    responses((status = 201, body = svc::ScreenshotData), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn screenshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<svc::ScreenshotData>)> {
    crate::http::screenshots::store(&state, &headers, id, multipart).await
}

/// A connection of the bot API's own pool, once the request's token is known to open bot `id`.
pub async fn open(state: &AppState, headers: &HeaderMap, id: i64) -> ApiResult<DbConn> {
    state.heartbeats.authorize(id, svc::token_from_headers(headers)).await?;
    bot_conn(state).await
}

/// A connection of the bot API's own pool (`DATABASE_BOT_POOL_SIZE`).
pub async fn bot_conn(state: &AppState) -> ApiResult<DbConn> {
    state.bot_pool.get().await.map_err(|e| app::backend::error::internal("database unavailable", e).into())
}

/// Events a bot reports.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventsBody {
    /// 1 to 500 events.
    pub events: Vec<ReportedEvent>,
}

/// Log lines a bot streams.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsBody {
    /// Up to 1,000 lines (bots send 100 at a time).
    pub entries: Vec<LogEntry>,
}

/// How many items were stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Received {
    pub received: usize,
}

/// Success.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Success {
    pub success: bool,
}

/// The next chat message, or `null` when none is queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dequeued {
    pub message: Option<ChatMessage>,
}

/// The bot's configuration. 412 once the bot is DONE, FATAL or LEAVING: a bot must not start again.
#[utoipa::path(get, path = "/api/v1/bot/{id}/config", operation_id = "bot_config", tag = "bot", params(("id" = i64, Path)),
    responses((status = 200, body = Object, description = "BotConfig"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn config(State(state): State<AppState>, headers: HeaderMap, Id(id): Id) -> ApiResult<Json<BotConfig>> {
    let mut c = open(&state, &headers, id).await?;
    Ok(Json(svc::get_config(&mut c, id).await?))
}

/// The configuration of the bot a Coolify pool slot runs; the slot's token opens it.
#[utoipa::path(get, path = "/api/v1/bot/slots/{uuid}/config", operation_id = "bot_slot_config", tag = "bot", params(("uuid" = String, Path)),
    responses((status = 200, body = Object, description = "BotConfig"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn slot_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> ApiResult<Json<BotConfig>> {
    let mut c = bot_conn(&state).await?;
    let id = svc::slot_bot(&mut c, &uuid).await?;
    svc::authorize(&mut c, &state.config, id, svc::token_from_headers(&headers)).await?;
    Ok(Json(svc::get_config(&mut c, id).await?))
}

/// A heartbeat (bots send one every 10 s): answers whether to leave and at which level to log.
#[utoipa::path(post, path = "/api/v1/bot/{id}/heartbeat", operation_id = "bot_heartbeat", tag = "bot", params(("id" = i64, Path)),
    responses((status = 200, body = HeartbeatReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn heartbeat(
    State(state): State<AppState>,
    BotToken(token): BotToken,
    Id(id): Id,
) -> ApiResult<Json<HeartbeatReply>> {
    // The hot path: answered from the heartbeat cache, no connection taken.
    Ok(Json(state.heartbeats.beat(id, token.as_deref()).await?))
}

/// A status change. From LEAVING only DONE or FATAL (409 otherwise); DONE with recording
/// enabled needs `recording`; DONE and FATAL end the bot.
#[utoipa::path(post, path = "/api/v1/bot/{id}/status", operation_id = "bot_status", tag = "bot", params(("id" = i64, Path)), request_body = StatusUpdate,
    responses((status = 200, body = StatusReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id,
    ApiJson(body): ApiJson<StatusUpdate>,
) -> ApiResult<Json<StatusReply>> {
    let mut c = open(&state, &headers, id).await?;
    let reply = svc::update_status(&mut c, id, &body).await?;
    // This replica's token cache learns the new status now, not when the NOTIFY arrives.
    state.heartbeats.forget(id);
    Ok(Json(reply))
}

/// The same status change as `POST`, for clients that PATCH.
#[utoipa::path(patch, path = "/api/v1/bot/{id}/status", operation_id = "bot_status_patch", tag = "bot", params(("id" = i64, Path)), request_body = StatusUpdate,
    responses((status = 200, body = StatusReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn status_patch(
    state: State<AppState>,
    headers: HeaderMap,
    id: Id,
    body: ApiJson<StatusUpdate>,
) -> ApiResult<Json<StatusReply>> {
    status(state, headers, id, body).await
}

/// A batch of events (all stored or none).
#[utoipa::path(post, path = "/api/v1/bot/{id}/events", operation_id = "bot_events", tag = "bot", params(("id" = i64, Path)), request_body = EventsBody,
    responses((status = 200, body = Received), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id,
    ApiJson(body): ApiJson<EventsBody>,
) -> ApiResult<Json<Received>> {
    let mut c = open(&state, &headers, id).await?;
    Ok(Json(Received { received: svc::report_events(&mut c, id, &body.events).await? }))
}

/// A batch of log lines (all stored or none).
#[utoipa::path(post, path = "/api/v1/bot/{id}/logs", operation_id = "bot_logs", tag = "bot", params(("id" = i64, Path)), request_body = LogsBody,
    responses((status = 200, body = Received), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id,
    ApiJson(body): ApiJson<LogsBody>,
) -> ApiResult<Json<Received>> {
    state.heartbeats.authorize(id, svc::token_from_headers(&headers)).await?;
    state.bot_limits.take(id, svc::limits::Kind::LogLines, body.entries.len())?;
    // Stored with other bots' lines in one statement, answered once committed.
    Ok(Json(Received { received: state.log_writer.write(id, &body.entries).await? }))
}

/// Called by a bot as it shuts down. Lines are durable once `logs` answers, so this only
/// confirms the bot may exit.
#[utoipa::path(post, path = "/api/v1/bot/{id}/logs/flush", operation_id = "bot_flush", tag = "bot", params(("id" = i64, Path)),
    responses((status = 200, body = Success), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn flush(State(state): State<AppState>, headers: HeaderMap, Id(id): Id) -> ApiResult<Json<Success>> {
    let _authorised = open(&state, &headers, id).await?;
    Ok(Json(Success { success: true }))
}

/// Takes the oldest queued chat message (each message is delivered once).
#[utoipa::path(post, path = "/api/v1/bot/{id}/chat/dequeue", operation_id = "bot_dequeue", tag = "bot", params(("id" = i64, Path)),
    responses((status = 200, body = Dequeued), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn dequeue(State(state): State<AppState>, headers: HeaderMap, Id(id): Id) -> ApiResult<Json<Dequeued>> {
    Ok(Json(Dequeued { message: state.heartbeats.dequeue_chat(id, svc::token_from_headers(&headers)).await? }))
}
