//! Edge middleware: the client's address for rate limits, and the redirect of signed-out
//! visitors away from signed-in pages (before any rendering, so the answer is a real 303).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::app::RequestUser;
use app::backend::auth::{sessions, ClientIp};
use app::backend::config::Config;
use app::backend::db::DbPool;
use app::model::error::AppError;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// Pages that need a session; everything under them does too.
pub const PROTECTED_PREFIXES: [&str; 7] =
    ["/bots", "/templates", "/api-keys", "/webhooks", "/usage", "/infrastructure", "/account"];

/// Whether a path is a signed-in page.
pub fn is_protected(path: &str) -> bool {
    PROTECTED_PREFIXES.iter().any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

/// Records the client address as a `ClientIp` request extension.
pub async fn client_ip(State(config): State<Arc<Config>>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = client_address(config.trust_proxy_headers.then_some(forwarded).flatten(), peer, config.trusted_proxy_hops);
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// The client's address: with a trusted `X-Forwarded-For` (`TRUST_PROXY_HEADERS=true`), the
/// entry `hops` from the right (each of our `hops` proxies appends the address it received the
/// request from, so entries further left were written by the client and prove nothing);
/// otherwise, or when that entry is missing or not an address, the socket peer.
pub fn client_address(forwarded: Option<&str>, peer: Option<IpAddr>, hops: usize) -> String {
    let from_proxy = forwarded.and_then(|xff| {
        let entries: Vec<&str> = xff.split(',').map(str::trim).collect();
        let index = entries.len().checked_sub(hops.max(1))?;
        entries[index].parse::<IpAddr>().ok()
    });
    from_proxy.or(peer).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Whether a GET of `path` renders a page (rather than an API, a server function or a file).
fn is_page(path: &str) -> bool {
    const NOT_PAGES: [&str; 4] = ["/api/", "/fn/", "/pkg/", "/healthz"];
    !NOT_PAGES.iter().any(|p| path.starts_with(p))
        && path != "/readyz"
        && path != "/metrics"
        && !path.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

/// Resolves the session of every page request once, before rendering: the page gets the user as
/// a [`RequestUser`] extension, and a signed-out GET of a signed-in page is redirected to
/// `/auth/sign-in?next=<page>`.
pub async fn session_for_pages(State(pool): State<DbPool>, mut req: Request, next: Next) -> Response {
    if req.method() != Method::GET || !is_page(req.uri().path()) {
        return next.run(req).await;
    }
    let token = sessions::token_from_headers(req.headers());
    let user = match token {
        None => Ok(None),
        Some(token) => match pool.get().await {
            Ok(mut conn) => sessions::find_user(&mut conn, &token).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
    };
    let user = match user {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "session lookup for a page failed");
            let body = "Meeboter cannot reach its database right now. Try again in a moment.";
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], body).into_response();
        }
    };
    if user.is_some() || !is_protected(req.uri().path()) {
        req.extensions_mut().insert(RequestUser(user));
        return next.run(req).await;
    }
    let target = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let next_param: String = url_encode(target);
    Redirect::to(&format!("/auth/sign-in?next={next_param}")).into_response()
}

/// Caps every request body: 1 MiB ([`crate::http::MAX_BODY_BYTES`]), or 8 MiB for screenshot
/// uploads (recording uploads are bounded by their handler). Larger bodies get 413, before reading them when they announce their length.
pub async fn body_limit(req: Request, next: Next) -> Response {
    // Recording uploads stream to storage; their handler bounds them.
    if crate::http::routes::is_streamed_upload(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    // Screenshot routes carry their own `DefaultBodyLimit`, which multipart reading maps to 413.
    let screenshots = req.uri().path().ends_with("/screenshots");
    let max = if screenshots {
        app::backend::services::bot_api::MAX_SCREENSHOT_BYTES + 64 * 1024
    } else {
        crate::http::MAX_BODY_BYTES
    };
    let announced =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > max) {
        if req.uri().path().starts_with("/api/trpc") {
            return crate::http::trpc::too_large(max);
        }
        return crate::http::api_v1::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The body is larger than {} KiB.", max / 1024),
        )
        .into_response();
    }
    if screenshots {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    next.run(Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, max)))).await
}

/// Server functions answer every error with 500; this gives a user-facing `AppError` its own
/// status (401, 409, 422, 429, ...), including errors raised before the function runs
/// (missing or malformed arguments). Only 500 answers of `/fn/` are inspected.
pub async fn server_fn_error_status(req: Request, next: Next) -> Response {
    let is_fn = req.uri().path().starts_with("/fn/");
    let res = next.run(req).await;
    if !is_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signed_in_sections_are_protected() {
        assert!(is_protected("/bots"));
        assert!(is_protected("/bots/12"));
        assert!(is_protected("/api-keys"));
        assert!(is_protected("/webhooks"));
        assert!(!is_protected("/botsy"));
        assert!(!is_protected("/"));
        assert!(!is_protected("/auth/sign-in"));
        assert!(!is_protected("/docs"));
    }

    #[test]
    fn pages_are_told_apart_from_apis_and_files() {
        assert!(is_page("/"));
        assert!(is_page("/bots"));
        assert!(is_page("/auth/sign-in"));
        assert!(!is_page("/api/v1/bots"));
        assert!(!is_page("/fn/list_bots"));
        assert!(!is_page("/pkg/meeboter.wasm"));
        assert!(!is_page("/favicon.svg"));
        assert!(!is_page("/readyz"));
    }

    #[test]
    fn the_client_is_the_rightmost_hop_our_proxies_did_not_write() {
        let peer: Option<IpAddr> = Some("10.0.0.9".parse().unwrap());
        // One proxy: it appended the client's address last; what the client sent is ignored.
        assert_eq!(client_address(Some("6.6.6.6, 203.0.113.7"), peer, 1), "203.0.113.7");
        assert_eq!(client_address(Some("203.0.113.7"), peer, 1), "203.0.113.7");
        // Two proxies: the last entry is the first proxy's address.
        assert_eq!(client_address(Some("6.6.6.6, 203.0.113.7, 10.0.0.2"), peer, 2), "203.0.113.7");
        // Too few entries or garbage: the socket peer, never a client-chosen value.
        assert_eq!(client_address(Some("203.0.113.7"), peer, 2), "10.0.0.9");
        assert_eq!(client_address(Some("6.6.6.6, not-an-ip"), peer, 1), "10.0.0.9");
        assert_eq!(client_address(None, peer, 1), "10.0.0.9");
        assert_eq!(client_address(Some("2001:db8::1"), None, 1), "2001:db8::1");
        assert_eq!(client_address(None, None, 1), "unknown");
    }

    #[test]
    fn next_is_encoded() {
        assert_eq!(url_encode("/bots?page=2&x=y"), "/bots%3Fpage%3D2%26x%3Dy");
    }
}
