//! Screenshots: bots upload them (`POST /api/bots/{id}/screenshots`, the upstream route, and its
//! REST twin `POST /api/v1/bot/{id}/screenshots`) with their token; the owner views them
//! (`GET /api/bots/{id}/screenshots/{file}`) with their session.

use app::backend::auth::sessions;
use app::backend::services::bot_api::{self as svc, ScreenshotData, ScreenshotUpload, MAX_SCREENSHOT_BYTES};
use app::backend::state::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::api_v1::ApiError;

fn id_from(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request("The id in the path must be a positive whole number."))
}

/// Whether reading the form failed on the body limit (the limit error arrives wrapped).
fn too_large(e: &axum::extract::multipart::MultipartError) -> bool {
    e.status() == StatusCode::PAYLOAD_TOO_LARGE || e.body_text().contains("length limit exceeded")
}

/// Reads the multipart form: `file` (PNG), `type`, `state`, `trigger`.
pub async fn read_upload(multipart: Result<Multipart, MultipartRejection>) -> Result<ScreenshotUpload, ApiError> {
    let mut form = multipart.map_err(|e| ApiError::bad_request(format!("Send a multipart form: {}", e.body_text())))?;
    let mut upload = ScreenshotUpload::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if too_large(&e) => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("A screenshot may be at most {} MiB.", MAX_SCREENSHOT_BYTES / (1024 * 1024)),
                ))
            }
            Err(e) => return Err(ApiError::bad_request(format!("The multipart form is broken: {}", e.body_text()))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| {
            if too_large(&e) {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The screenshot is too large.")
            } else {
                ApiError::bad_request(format!("The multipart form is broken: {}", e.body_text()))
            }
        })?;
        let text = || String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "file" => upload.file = Some(bytes.to_vec()),
            "type" => upload.kind = Some(text()),
            "state" => upload.state = Some(text()),
            "trigger" => upload.trigger = Some(text()),
            _ => {}
        }
    }
    if upload.file.as_ref().is_some_and(|f| f.len() > MAX_SCREENSHOT_BYTES) {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The screenshot is too large."));
    }
    Ok(upload)
}

/// Authorises the bot, reads the form and stores the screenshot: 201 with its metadata. Both
/// upload routes answer with this.
pub async fn store(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<ScreenshotData>), ApiError> {
    // The token first (from the cache, no connection held), then the body, then one connection
    // only for the metadata: a slow 8 MiB upload never holds a pooled connection.
    state.heartbeats.authorize(id, svc::token_from_headers(headers)).await?;
    state.bot_limits.take(id, svc::limits::Kind::Screenshots, 1)?;
    let form = read_upload(multipart).await?;
    let data = svc::prepare_screenshot(&state.storage, id, form).await?;
    let mut conn = super::api_v1::bot::bot_conn(state).await?;
    let evicted = svc::record_screenshot(&mut conn, id, &data).await?;
    drop(conn);
    svc::screenshots::forget_objects(&state.storage, &evicted).await;
    Ok((StatusCode::CREATED, Json(data)))
}

/// `POST /api/bots/{id}/screenshots` (the upstream route).
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<ScreenshotData>), ApiError> {
    store(&state, &headers, id_from(&id)?, multipart).await
}

/// `GET /api/bots/{id}/screenshots/{file}`: the image, for the bot's owner (404 for anyone else).
pub async fn view(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = id_from(&id)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such screenshot.");
    if file.contains('/') || file.contains("..") || !file.ends_with(".png") {
        return Err(not_found());
    }
    let token = sessions::token_from_headers(&headers)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Sign in to see screenshots."))?;
    let mut conn = super::api_v1::extract::conn(&state).await?;
    let user = sessions::find_user(&mut conn, &token)
        .await
        .map_err(|e| ApiError::from(app::backend::error::internal("session lookup failed", e)))?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Sign in to see screenshots."))?;
    app::backend::services::bots::get_bot(&mut conn, user.id, id).await?;
    let key = format!("bots/{id}/screenshots/{file}");
    let shots = svc::screenshots(&mut conn, id).await?;
    if !shots.iter().any(|s| s.key == key) {
        return Err(not_found());
    }
    let bytes = state.storage.get(&key).await?.ok_or_else(not_found)?;
    // nosniff: the bytes came from a bot; a browser must never take them for HTML or script.
    let headers = [
        (header::CONTENT_TYPE, "image/png"),
        (header::CACHE_CONTROL, "private, max-age=86400"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
    ];
    Ok((headers, bytes).into_response())
}
