//! `/api/v1` usage, subscription, templates and chat.

use app::backend::services::bots::validate::time_zone;
use app::backend::services::{plans, templates, usage};
use app::backend::state::AppState;
use app::model::bot::{BulkResult, Page};
use app::model::template::{MessageTemplate, SendChat, TemplateInput};
use app::model::usage::{DailyUsage, Subscription, UsageBucket, UsageRange};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use super::extract::{conn, ApiJson, ApiQuery, Id};

type ApiResult<T> = Result<T, ApiError>;

fn internal(e: diesel::result::Error) -> ApiError {
    app::backend::error::internal("query failed", e).into()
}

/// Which chart and in which time zone.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct UsageQuery {
    /// today (hourly), week (daily from Sunday) or month (daily). Default today.
    pub range: Option<UsageRange>,
    /// IANA time zone, default UTC.
    pub time_zone: Option<String>,
}

/// The time zone of a request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct TzQuery {
    /// IANA time zone, default UTC.
    pub time_zone: Option<String>,
}

/// A page of a listing; outside the bounds the answer is 400.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    /// Page number, 1 to 1000 (default 1).
    #[param(minimum = 1, maximum = 1000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// Bots used and bot-time per bucket.
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, body = Vec<UsageBucket>), (status = 422, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn usage(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Json<Vec<UsageBucket>>> {
    let tz = time_zone(q.time_zone.as_deref())?;
    Ok(Json(usage::chart(&mut *conn(&state).await?, c.user.id, q.range.unwrap_or(UsageRange::Today), tz).await?))
}

/// Your plan and daily limit.
#[utoipa::path(get, path = "/api/v1/user/subscription", tag = "usage",
    responses((status = 200, body = Subscription)), security(("api_key" = []), ("bearer" = [])))]
pub async fn subscription(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(plans::subscription(&mut *conn(&state).await?, c.user.id).await.map_err(internal)?))
}

/// Bots created in the current UTC day against your daily limit. Deleted bots still count, and
/// a bot counts on the day it was created whatever its start time. `timeZone` is accepted (and
/// checked) for compatibility but does not move the day: the answer's `timeZone` is always UTC.
#[utoipa::path(get, path = "/api/v1/user/daily-usage", tag = "usage", params(TzQuery),
    responses((status = 200, body = DailyUsage), (status = 422, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn daily_usage(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiQuery(q): ApiQuery<TzQuery>,
) -> ApiResult<Json<DailyUsage>> {
    time_zone(q.time_zone.as_deref())?;
    Ok(Json(plans::daily_usage(&mut *conn(&state).await?, c.user.id, chrono::Utc::now()).await.map_err(internal)?))
}

/// Your message templates.
#[utoipa::path(get, path = "/api/v1/templates", tag = "chat", params(PageQuery),
    responses((status = 200, body = Page<MessageTemplate>), (status = 400, body = ErrorBody, description = "page or pageSize out of bounds, or not a whole number")), security(("api_key" = []), ("bearer" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<MessageTemplate>>> {
    let page =
        templates::list(&mut *conn(&state).await?, c.user.id, q.page.unwrap_or(1), q.page_size.unwrap_or(20)).await?;
    Ok(Json(page))
}

/// Create a message template.
#[utoipa::path(post, path = "/api/v1/templates", tag = "chat", request_body = TemplateInput,
    responses((status = 201, body = MessageTemplate), (status = 422, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiJson(body): ApiJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<MessageTemplate>)> {
    Ok((StatusCode::CREATED, Json(templates::create(&mut *conn(&state).await?, c.user.id, &body).await?)))
}

/// Replace a message template's name and variations.
#[utoipa::path(patch, path = "/api/v1/templates/{id}", tag = "chat", params(("id" = i64, Path)), request_body = TemplateInput,
    responses((status = 200, body = MessageTemplate), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update_template(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
    ApiJson(body): ApiJson<TemplateInput>,
) -> ApiResult<Json<MessageTemplate>> {
    Ok(Json(templates::update(&mut *conn(&state).await?, c.user.id, id, &body).await?))
}

/// Delete a message template.
#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "chat", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("api_key" = []), ("bearer" = [])))]
pub async fn delete_template(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    templates::delete(&mut *conn(&state).await?, c.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queue a chat message for bots: a template (one random variation per bot) or a text.
#[utoipa::path(post, path = "/api/v1/chat/send", tag = "chat", request_body = SendChat,
    responses((status = 200, body = BulkResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn send_chat(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    ApiJson(body): ApiJson<SendChat>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(templates::send(&mut *conn(&state).await?, c.user.id, &body).await?))
}
