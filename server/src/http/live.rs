//! `GET /api/live`: the signed-in user's live stream (server-sent events) of changes to the bots
//! they may see, from this process's live hub (`app::backend::live`). Events: `ready` first,
//! then `change`, `queue` and `resync` (`app::model::live::LiveEvent`); a comment every
//! [`KEEP_ALIVE`] keeps proxies from closing a quiet stream. The session cookie is the only
//! credential (no API key, no bot token), checked again every `LIVE_SESSION_RECHECK_SECS`: the
//! stream of a session that ended ends too.

use std::convert::Infallible;
use std::time::Duration;

use app::backend::auth::sessions;
use app::backend::live::{Subscription, Viewer};
use app::backend::state::AppState;
use app::model::live::LiveEvent;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::api_v1::ApiError;

/// How often a quiet stream sends a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting a dropped stream (the SSE `retry` field).
pub const RETRY: Duration = Duration::from_secs(2);

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Sign in to follow live updates.")
}

/// Whether `token` still opens a session (`Err` when the database cannot tell).
async fn session_alive(state: &AppState, token: &str) -> Result<bool, ApiError> {
    let mut conn = super::api_v1::extract::conn(state).await?;
    let user = sessions::find_user(&mut conn, token)
        .await
        .map_err(|e| ApiError::from(app::backend::error::internal("session lookup failed", e)))?;
    Ok(user.is_some())
}

fn sse_event(e: &LiveEvent) -> Event {
    Event::default().event(e.name()).data(e.data())
}

/// What drives one stream: its subscription, and the session to check again.
struct Feed {
    sub: Subscription,
    state: AppState,
    token: String,
    recheck: tokio::time::Interval,
    first: bool,
}

impl Feed {
    /// The next SSE event, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        if self.first {
            self.first = false;
            return Some(sse_event(&LiveEvent::Ready).retry(RETRY));
        }
        loop {
            tokio::select! {
                event = self.sub.next() => return event.map(|e| sse_event(&e)),
                _ = self.recheck.tick() => {
                    match session_alive(&self.state, &self.token).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::debug!(user_id = self.sub.viewer().user_id, "a live stream's session ended");
                            return None;
                        }
                        // The database is unreachable: the browser reconnects and is checked then.
                        Err(_) => return None,
                    }
                }
            }
        }
    }
}

/// `GET /api/live`.
pub async fn stream(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = sessions::token_from_headers(&headers).ok_or_else(unauthorized)?;
    let user = {
        let mut conn = super::api_v1::extract::conn(&state).await?;
        sessions::find_user(&mut conn, &token)
            .await
            .map_err(|e| ApiError::from(app::backend::error::internal("session lookup failed", e)))?
            .ok_or_else(unauthorized)?
    };
    let sub = state.live.subscribe(Viewer { user_id: user.id, admin: user.is_admin() })?;
    let period = state.config.live.session_recheck;
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed { sub, state, token, recheck, first: true };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok::<_, Infallible>(event), feed))
    });
    let mut res = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    // nginx and friends buffer responses unless told otherwise.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}
