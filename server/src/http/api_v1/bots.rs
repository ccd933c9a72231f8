//! `/api/v1/bots`: the bots service for API-key clients.

use app::backend::services::bots as svc;
use app::backend::state::AppState;
use app::model::bot::{Bot, BotEvent, BotFilter, BulkResult, CreateBot, LogLevel, UpdateBot};
use app::model::paging::BotPage;
use app::model::recording::ChatMessage;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use super::extract::{conn, ApiJson, ApiQuery, Id};

type ApiResult<T> = Result<T, ApiError>;

/// Bot ids for a bulk action.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ids {
    /// 1 to 500 bot ids.
    #[schema(min_items = 1, max_items = 500)]
    #[serde(deserialize_with = "whole_numbers")]
    pub ids: Vec<i64>,
}

/// Ids as JSON numbers with no fraction: `7` and `7.0` are the same number in JSON (and in
/// JSON Schema's `integer`), so both are accepted; `7.5` is refused.
fn whole_numbers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    use serde::de::Error;
    let raw: Vec<serde_json::Number> = Vec::deserialize(d)?;
    raw.iter()
        .map(|n| {
            n.as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64))
                .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number")))
        })
        .collect()
}

/// A count.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: i64,
}

/// The new log level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogLevelBody {
    pub log_level: LogLevel,
}

/// List your bots, newest first. Page by `page` (1 to 1000) or, at any depth and as fast as the
/// first page, by `cursor`: pass the answer's `nextCursor` (or `previousCursor`) unchanged.
/// `total` is exact up to 1,000 matching bots and an estimate above (`totalIsEstimate`).
#[utoipa::path(get, path = "/api/v1/bots", tag = "bots", params(BotFilter),
    responses((status = 200, body = BotPage), (status = 400, body = ErrorBody, description = "page, pageSize or cursor out of bounds or malformed, or page and cursor together"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody, description = "An unknown status in the status filter")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiQuery(filter): ApiQuery<BotFilter>,
) -> ApiResult<Json<BotPage>> {
    let mut conn = conn(&state).await?;
    let mut page = svc::list_bots(&mut conn, c.user.id, &filter).await?;
    svc::with_queue(&mut conn, &state.estimator, &state.config.platforms, &mut page.data).await;
    Ok(Json(page))
}

/// Create a bot. It is queued for deployment when it starts within the lead time (5 minutes),
/// otherwise scheduled. An `Idempotency-Key` header makes a retry return the same bot (200).
#[utoipa::path(post, path = "/api/v1/bots", tag = "bots", request_body = CreateBot,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the same bot")),
    responses((status = 201, body = Bot, description = "Created"), (status = 200, body = Bot, description = "An earlier create with the same idempotency key"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "Daily limit reached")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateBot>,
) -> ApiResult<(StatusCode, Json<Bot>)> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let mut conn = conn(&state).await?;
    let mut created = svc::create_bot(&mut conn, &state.config, c.user.id, std::slice::from_ref(&body), key).await?;
    let (mut bot, fresh) = created.pop().ok_or(ApiError::from(app::model::error::AppError::Internal))?;
    svc::with_queue(&mut conn, &state.estimator, &state.config.platforms, std::slice::from_mut(&mut bot)).await;
    bot.deployment = Some(svc::deploy_result(&bot));
    Ok((if fresh { StatusCode::CREATED } else { StatusCode::OK }, Json(bot)))
}

/// One of your bots.
#[utoipa::path(get, path = "/api/v1/bots/{id}", tag = "bots", params(("id" = i64, Path)),
    responses((status = 200, body = Bot), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<Json<Bot>> {
    let mut conn = conn(&state).await?;
    let mut bot = svc::get_bot(&mut conn, c.user.id, id).await?;
    svc::with_queue(&mut conn, &state.estimator, &state.config.platforms, std::slice::from_mut(&mut bot)).await;
    Ok(Json(bot))
}

/// Change a bot (times only before it is deployed).
#[utoipa::path(patch, path = "/api/v1/bots/{id}", tag = "bots", params(("id" = i64, Path)), request_body = UpdateBot,
    responses((status = 200, body = Bot), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
    ApiJson(body): ApiJson<UpdateBot>,
) -> ApiResult<Json<Bot>> {
    Ok(Json(svc::update_bot(&mut *conn(&state).await?, &state.config, c.user.id, id, &body).await?))
}

/// Delete a bot with its events and logs.
#[utoipa::path(delete, path = "/api/v1/bots/{id}", tag = "bots", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn delete_one(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let r = svc::delete_bots(&mut *conn(&state).await?, &state.storage, c.user.id, &[id]).await?;
    if r.succeeded.is_empty() {
        return Err(svc::not_found(id).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Delete several bots.
#[utoipa::path(post, path = "/api/v1/bots/delete", tag = "bots", request_body = Ids,
    responses((status = 200, body = BulkResult), (status = 422, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn delete_many(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiJson(body): ApiJson<Ids>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(svc::delete_bots(&mut *conn(&state).await?, &state.storage, c.user.id, &body.ids).await?))
}

async fn single(state: &AppState, user_id: i64, id: i64, action: svc::BulkAction) -> ApiResult<Json<Bot>> {
    let mut conn = conn(state).await?;
    let r = match action {
        svc::BulkAction::Cancel => svc::cancel_deployment(&mut conn, user_id, &[id]).await?,
        svc::BulkAction::RemoveFromCall => svc::remove_from_call(&mut conn, user_id, &[id]).await?,
    };
    if let Some(f) = r.failed.first() {
        svc::get_bot(&mut conn, user_id, id).await?;
        return Err(app::model::error::AppError::Conflict { field: None, message: f.reason.clone() }.into());
    }
    Ok(Json(svc::get_bot(&mut conn, user_id, id).await?))
}

/// Cancel a bot's deployment (SCHEDULED, QUEUED, DEPLOYING or JOINING_CALL → DONE).
#[utoipa::path(post, path = "/api/v1/bots/{id}/cancel", tag = "bots", params(("id" = i64, Path)),
    responses((status = 200, body = Bot), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn cancel_one(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<Json<Bot>> {
    single(&state, c.user.id, id, svc::BulkAction::Cancel).await
}

/// Ask a bot to leave its call (IN_WAITING_ROOM or IN_CALL → LEAVING).
#[utoipa::path(post, path = "/api/v1/bots/{id}/remove-from-call", tag = "bots", params(("id" = i64, Path)),
    responses((status = 200, body = Bot), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn remove_one(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<Json<Bot>> {
    single(&state, c.user.id, id, svc::BulkAction::RemoveFromCall).await
}

/// Cancel several deployments.
#[utoipa::path(post, path = "/api/v1/bots/cancel", tag = "bots", request_body = Ids,
    responses((status = 200, body = BulkResult)), security(("api_key" = []), ("bearer" = [])))]
pub async fn cancel_many(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiJson(body): ApiJson<Ids>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(svc::cancel_deployment(&mut *conn(&state).await?, c.user.id, &body.ids).await?))
}

/// Remove several bots from their calls.
#[utoipa::path(post, path = "/api/v1/bots/remove-from-call", tag = "bots", request_body = Ids,
    responses((status = 200, body = BulkResult)), security(("api_key" = []), ("bearer" = [])))]
pub async fn remove_many(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiJson(body): ApiJson<Ids>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(svc::remove_from_call(&mut *conn(&state).await?, c.user.id, &body.ids).await?))
}

/// Set the log level the bot uses from its next heartbeat.
#[utoipa::path(patch, path = "/api/v1/bots/{id}/log-level", tag = "bots", params(("id" = i64, Path)), request_body = LogLevelBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn log_level(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
    ApiJson(body): ApiJson<LogLevelBody>,
) -> ApiResult<StatusCode> {
    svc::set_log_level(&mut *conn(&state).await?, c.user.id, id, body.log_level).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A bot's events, newest first.
#[utoipa::path(get, path = "/api/v1/bots/{id}/events", tag = "bots", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<BotEvent>), (status = 404, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<Json<Vec<BotEvent>>> {
    Ok(Json(svc::list_events(&mut *conn(&state).await?, c.user.id, id).await?))
}

/// How many of your bots are not finished.
#[utoipa::path(get, path = "/api/v1/bots/active-count", tag = "bots",
    responses((status = 200, body = Count)), security(("api_key" = []), ("bearer" = [])))]
pub async fn active_count(State(state): State<AppState>, Extension(c): Extension<ApiCaller>) -> ApiResult<Json<Count>> {
    Ok(Json(Count { count: svc::active_bot_count(&mut *conn(&state).await?, c.user.id).await? }))
}

/// The chat messages sent to a bot (`POST /api/v1/chat/send`), oldest first, at most the last
/// 200, each with its delivery state: queued, sent (posted in the meeting) or failed.
#[utoipa::path(get, path = "/api/v1/bots/{id}/chat", tag = "chat", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ChatMessage>), (status = 404, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn chat_messages(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<Json<Vec<ChatMessage>>> {
    Ok(Json(svc::list_chat_messages(&mut *conn(&state).await?, c.user.id, id).await?))
}
