//! Recordings over HTTP (docs/RECORDINGS.md): API-key clients ask for a short-lived link
//! (`GET /api/v1/bots/{id}/recording`), bots without S3 upload through the bot API
//! (`POST /api/v1/bot/{id}/recording`), and links Meeboter signs itself are served from
//! `GET /recordings/{id}/{file}` (the local store), with byte ranges so players can seek.

use app::backend::services::bot_api as bot_svc;
use app::backend::services::recordings::{self as svc, LinkRefusal, MAX_RECORDING_BYTES, MAX_UPLOADS_PER_BOT};
use app::backend::state::AppState;
use app::backend::storage::{ByteRange, StreamError};
use app::model::recording::{extension_for, media_type, RecordingLink};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use super::extract::{conn, Id};

/// Short-lived links to a bot's recording: `recordingUrl` plays in a browser, `downloadUrl`
/// downloads; both stop working at `expiresAt`. 404 while the bot has none (the message says
/// why: recording off, not finished yet, ended without one, or deleted after retention).
#[utoipa::path(get, path = "/api/v1/bots/{id}/recording", tag = "bots", params(("id" = i64, Path)),
    responses((status = 200, body = RecordingLink), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "Not your bot, or no recording (yet)")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn link(
    State(state): State<AppState>,
    Extension(c): Extension<ApiCaller>,
    Id(id): Id,
) -> Result<Json<RecordingLink>, ApiError> {
    let mut conn = conn(&state).await?;
    let base = state.config.app_origin_url.as_str().trim_end_matches('/').to_owned();
    Ok(Json(svc::link(&mut conn, &state.storage, c.user.id, id, &base, chrono::Utc::now()).await?))
}

/// What an upload answers: the key to report with DONE.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingUpload {
    /// `bots/{id}/recordings/{random}.{ext}`: send it as `recording` with the DONE status.
    pub key: String,
    pub size: u64,
}

/// A bot uploads its recording (when Meeboter stores objects in its local directory; with S3 a
/// bot uploads to the bucket itself). The body is the file, its `Content-Type` one of the
/// recording formats (video/webm, video/mp4, audio/wav, audio/mpeg, audio/ogg, audio/mp4, ...),
/// at most 4 GiB; it is stored in parts, never whole in memory. A bot may upload at most 5 files
/// (429 beyond).
#[utoipa::path(post, path = "/api/v1/bot/{id}/recording", operation_id = "bot_recording_upload", tag = "bot",
    params(("id" = i64, Path)), request_body(content = Vec<u8>, content_type = "video/webm"),
    responses((status = 201, body = RecordingUpload), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "Recording is off for this bot"),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody, description = "The bot uploaded 5 files already")),
    security(("bot_token" = []), ("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id,
    body: Body,
) -> Result<(StatusCode, Json<RecordingUpload>), ApiError> {
    state.heartbeats.authorize(id, bot_svc::token_from_headers(&headers)).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ext = extension_for(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the recording with its Content-Type: video/webm, video/mp4, video/x-matroska, video/quicktime, \
             audio/webm, audio/mp4, audio/mpeg, audio/wav or audio/ogg.",
        )
    })?;
    {
        let mut conn = super::bot::bot_conn(&state).await?;
        if !svc::records(&mut conn, id).await? {
            return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "Recording is off for this bot."));
        }
    }
    if state.storage.list(&svc::prefix(id)).await?.len() >= MAX_UPLOADS_PER_BOT {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("A bot may upload at most {MAX_UPLOADS_PER_BOT} recordings: report one of them with DONE."),
        ));
    }
    let key = format!("{}{}.{ext}", svc::prefix(id), app::backend::auth::tokens::random_token());
    let size =
        state.storage.put_stream(&key, body.into_data_stream(), MAX_RECORDING_BYTES).await.map_err(|e| match e {
            StreamError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("A recording may be at most {} GiB.", MAX_RECORDING_BYTES >> 30),
            ),
            StreamError::Body(e) => ApiError::bad_request(format!("The upload broke off: {e}")),
            StreamError::Store(e) => e.into(),
        })?;
    tracing::info!(bot_id = id, key, size, "recording uploaded");
    Ok((StatusCode::CREATED, Json(RecordingUpload { key, size })))
}

/// The parts of a signed link.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    expires: Option<i64>,
    download: Option<u8>,
    signature: Option<String>,
}

/// `GET /recordings/{id}/{file}`: a recording through a link Meeboter signed (403 when the
/// link was altered or has expired), whole or by byte range.
pub async fn serve(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This recording link is not valid: open the recording from Meeboter again for a new one.",
        )
    };
    let (Ok(id), Some(expires), Some(signature)) = (id.parse::<i64>(), q.expires, q.signature) else {
        return Err(invalid());
    };
    let download = q.download == Some(1);
    let mut conn = conn(&state).await?;
    let key = match svc::open_link(&mut conn, id, &file, expires, download, &signature, chrono::Utc::now()).await? {
        Ok(key) => key,
        Err(LinkRefusal::Invalid) => return Err(invalid()),
        Err(LinkRefusal::Expired) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This recording link has expired: open the recording from Meeboter again for a new one.",
            ))
        }
    };
    drop(conn);
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(ByteRange::parse);
    let not_found =
        || ApiError::new(StatusCode::NOT_FOUND, "not_found", "The recording's file is missing from storage.");
    let read = state.storage.read(&key, range).await?.ok_or_else(not_found)?;
    let mut res = match (read.range, read.stream) {
        (_, None) => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            res.headers_mut().insert(header::CONTENT_RANGE, value(&format!("bytes */{}", read.size)));
            return Ok(res);
        }
        (Some(r), Some(stream)) => {
            let mut res = (StatusCode::PARTIAL_CONTENT, Body::from_stream(stream)).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_RANGE, value(&format!("bytes {}-{}/{}", r.start, r.end - 1, read.size)));
            h.insert(header::CONTENT_LENGTH, value(&(r.end - r.start).to_string()));
            res
        }
        (None, Some(stream)) => {
            let mut res = Body::from_stream(stream).into_response();
            res.headers_mut().insert(header::CONTENT_LENGTH, value(&read.size.to_string()));
            res
        }
    };
    let content_type = media_type(&file).unwrap_or("application/octet-stream");
    let disposition = if download { format!("attachment; filename=\"{file}\"") } else { "inline".to_owned() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_DISPOSITION, value(&disposition));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    // The bytes came from a bot: never taken for a page or a script.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    Ok(res)
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}
