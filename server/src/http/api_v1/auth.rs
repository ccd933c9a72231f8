//! API-key authentication and the per-key request log, written in batches off the request path.

use std::time::{Duration, Instant};

use app::backend::services::api_keys::{self, RequestLogEntry};
use app::backend::state::AppState;
use app::model::user::CurrentUser;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::error::ApiError;

/// Who is calling: the key's owner and the key.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_id: i64,
    pub user: CurrentUser,
}

/// Where request log entries go; a background task writes them in batches.
#[derive(Clone)]
pub struct RequestLogSink(mpsc::Sender<RequestLogEntry>);

/// Entries waiting beyond this are dropped (and counted in the log) rather than slow requests.
const QUEUE: usize = 10_000;
const BATCH: usize = 500;
const FLUSH_EVERY: Duration = Duration::from_millis(250);

impl RequestLogSink {
    /// Starts the writer task; it ends when every sink is dropped, after a last flush.
    pub fn start(state: &AppState) -> RequestLogSink {
        Self::start_joinable(state).0
    }

    /// [`Self::start`], with the writer task to await on shutdown (it finishes after its last
    /// flush once every sink is dropped).
    pub fn start_joinable(state: &AppState) -> (RequestLogSink, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<RequestLogEntry>(QUEUE);
        let pool = state.pool.clone();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let closed = tokio::select! {
                    n = rx.recv_many(&mut batch, BATCH) => n == 0,
                    () = tokio::time::sleep(FLUSH_EVERY) => false,
                };
                if !batch.is_empty() {
                    match pool.get().await {
                        Ok(mut conn) => {
                            if let Err(e) = api_keys::write_request_logs(&mut conn, &batch).await {
                                tracing::warn!(error = %e, dropped = batch.len(), "writing API request logs failed");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, dropped = batch.len(), "no connection for API request logs")
                        }
                    }
                    batch.clear();
                }
                if closed {
                    return;
                }
            }
        });
        (RequestLogSink(tx), writer)
    }

    fn record(&self, entry: RequestLogEntry) {
        if self.0.try_send(entry).is_err() {
            tracing::warn!("API request log queue full: entry dropped");
        }
    }
}

/// The key in `x-api-key`, or `Authorization: Bearer <key>`.
fn presented_key(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_owned());
    }
    let auth = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// Authenticates the key, runs the handler, logs the request against the key.
pub async fn require_api_key(
    State((state, logs)): State<(AppState, RequestLogSink)>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let Some(key) = presented_key(&req) else {
        return ApiError::from(app::model::error::AppError::Unauthorized(
            "Send an API key in the x-api-key header or as Authorization: Bearer <key>.".into(),
        ))
        .into_response();
    };
    let caller = match state.pool.get().await {
        Ok(mut conn) => api_keys::authenticate(&mut conn, &key).await,
        Err(e) => Err(app::backend::error::internal("database unavailable", e)),
    };
    let caller = match caller {
        Ok((key_id, user)) => ApiCaller { key_id, user },
        Err(e) => return ApiError::from(e).into_response(),
    };
    let method = req.method().to_string();
    // Nested routers see the path without `/api/v1`; log the one the client sent.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.0.path().to_owned());
    req.extensions_mut().insert(caller.clone());
    let res = next.run(req).await;
    let status = res.status();
    logs.record(RequestLogEntry {
        api_key_id: caller.key_id,
        user_id: caller.user.id,
        method,
        path: path.chars().take(255).collect(),
        status_code: i32::from(status.as_u16()),
        duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
        error: (status.is_client_error() || status.is_server_error())
            .then(|| status.canonical_reason().unwrap_or("error").to_owned()),
        created_at: chrono::Utc::now(),
    });
    res
}
