//! Browser-facing protections at the edge: cross-origin state changes are refused (CSRF, beside
//! the session cookie's SameSite=Lax), every response carries framing, referrer and sniffing
//! headers, and no request runs longer than `REQUEST_TIMEOUT_SECS`.
//!
//! # Which requests must prove they come from our pages
//!
//! Every request with an unsafe method (POST, PUT, PATCH, DELETE, ...) outside `/api/` (server
//! functions under `/fn/` and plain form posts). `/api/` authenticates with API keys and bot
//! tokens in headers, never with the cookie, so a forged cross-site request carries no
//! authority there. Such a request is allowed when:
//!
//! 1. its `Origin` is `APP_ORIGIN_URL`'s origin, or names the very host the request was sent to
//!    (`Host`; a browser cannot forge either for a cross-site request); otherwise, with an
//!    `Origin` (including `null`), it is refused;
//! 2. without `Origin`, `Sec-Fetch-Site` is `same-origin` or `none`; another value is refused;
//! 3. with neither header (not a current browser: curl, scripts), it carries no session cookie.
//!    A cookie-authenticated state change must come from a browser that says where it comes
//!    from; requests without a cookie (sign-in from a script, API clients) keep working.

use std::time::Duration;

use app::backend::auth::sessions;
use std::sync::Arc;

use app::backend::config::Config;
use app::model::error::AppError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Why a request was refused as cross-origin.
const CROSS_ORIGIN: &str =
    "This request came from another site and was refused. Open Meeboter itself and try again there.";
const NO_ORIGIN: &str = "A signed-in request that changes something must come from Meeboter's own pages: \
     the browser sent no Origin or Sec-Fetch-Site header. Use an API key for scripts.";

/// Decides whether a state-changing request may proceed (`Err` holds the message). `authority`
/// is the request's own `host[:port]` when its URI carries one (HTTP/2 sends no `Host`).
pub fn check_origin(headers: &HeaderMap, authority: Option<&str>, app_origin: &str) -> Result<(), &'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let same_as_app = origin.eq_ignore_ascii_case(app_origin);
        let same_as_host = text(header::HOST.as_str()).or(authority).is_some_and(|host| {
            origin.split_once("://").is_some_and(|(scheme, authority)| {
                (scheme == "http" || scheme == "https") && authority.eq_ignore_ascii_case(host)
            })
        });
        return if same_as_app || same_as_host { Ok(()) } else { Err(CROSS_ORIGIN) };
    }
    if let Some(site) = text("sec-fetch-site") {
        return if site == "same-origin" || site == "none" { Ok(()) } else { Err(CROSS_ORIGIN) };
    }
    if sessions::token_from_headers(headers).is_some() {
        return Err(NO_ORIGIN);
    }
    Ok(())
}

/// Whether a request with this method and path must pass [`check_origin`].
fn needs_origin_check(method: &Method, path: &str) -> bool {
    !(method.is_safe() || path.starts_with("/api/"))
}

/// Refuses cross-origin state changes with 403 (server functions get an `AppError` body).
pub async fn same_origin(State(config): State<Arc<Config>>, req: Request, next: Next) -> Response {
    if !needs_origin_check(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    // `scheme://host[:port]`, as browsers write it in `Origin`.
    let app_origin = config.app_origin_url.origin().ascii_serialization();
    let authority = req.uri().authority().map(|a| a.as_str().to_owned());
    match check_origin(req.headers(), authority.as_deref(), &app_origin) {
        Ok(()) => next.run(req).await,
        Err(message) => {
            tracing::warn!(
                path = req.uri().path(),
                origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("-"),
                "cross-origin request refused"
            );
            refusal(req.uri().path(), StatusCode::FORBIDDEN, message)
        }
    }
}

/// An error answer: an `AppError` body for server functions (the page shows its message),
/// plain text elsewhere.
fn refusal(path: &str, status: StatusCode, message: &str) -> Response {
    if path.starts_with("/fn/") {
        let body = serde_json::to_string(&AppError::Precondition(message.to_owned())).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.to_owned()).into_response()
    }
}

/// Adds `X-Frame-Options: DENY`, `Referrer-Policy` and `X-Content-Type-Options: nosniff` to
/// every response (pages set their own Content-Security-Policy while rendering; any other
/// response gets a strict one that allows nothing to run or frame it), and
/// `Cache-Control: no-cache, private` to HTML that says nothing else.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        );
    }
    // A page names the hashed assets of the running build and may show who is signed in: a
    // browser asks again each time, and no shared cache keeps it.
    let html = h.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    }
    res
}

/// Answers 503 with a message when a request takes longer than `REQUEST_TIMEOUT_SECS` (its
/// work is dropped, which gives back any pooled connection it held). Recording uploads are
/// exempt.
pub async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    // A recording upload takes as long as its bytes take to arrive.
    if crate::http::routes::is_streamed_upload(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    // The URI is reference-counted: keeping it costs no copy of the path unless the request
    // times out.
    let uri = req.uri().clone();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            let path = uri.path();
            tracing::warn!(path, timeout_secs = limit.as_secs(), "request timed out");
            let mut res = refusal(
                path,
                StatusCode::SERVICE_UNAVAILABLE,
                "The server took too long to answer this request. Try again in a moment.",
            );
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderName;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    const APP: &str = "https://meeboter.example.com";
    const COOKIE: (&str, &str) = ("cookie", "meeboter_session=abc");

    #[test]
    fn our_own_origin_passes_and_any_other_is_refused() {
        assert!(check_origin(&headers(&[("origin", APP), COOKIE]), None, APP).is_ok());
        let host = [("origin", "http://127.0.0.1:4000"), ("host", "127.0.0.1:4000"), COOKIE];
        assert!(check_origin(&headers(&host), None, APP).is_ok());
        let http2 = [("origin", "https://other.example:8443"), COOKIE];
        assert!(check_origin(&headers(&http2), Some("other.example:8443"), APP).is_ok(), "HTTP/2 :authority");
        for evil in ["https://evil.example", "null", "https://meeboter.example.com.evil.example"] {
            assert!(check_origin(&headers(&[("origin", evil), ("host", "meeboter.example.com"), COOKIE]), None, APP)
                .is_err());
            assert!(check_origin(&headers(&[("origin", evil)]), None, APP).is_err(), "{evil} without a cookie");
        }
    }

    #[test]
    fn without_origin_fetch_metadata_decides_then_the_cookie() {
        assert!(check_origin(&headers(&[("sec-fetch-site", "same-origin"), COOKIE]), None, APP).is_ok());
        assert!(check_origin(&headers(&[("sec-fetch-site", "cross-site"), COOKIE]), None, APP).is_err());
        assert!(check_origin(&headers(&[("sec-fetch-site", "same-site")]), None, APP).is_err());
        assert_eq!(check_origin(&headers(&[COOKIE]), None, APP), Err(NO_ORIGIN));
        assert!(
            check_origin(&headers(&[]), None, APP).is_ok(),
            "a script without a cookie proves nothing and needs nothing"
        );
    }

    #[test]
    fn only_state_changes_outside_the_key_authenticated_api_are_checked() {
        assert!(needs_origin_check(&Method::POST, "/fn/sign_in"));
        assert!(needs_origin_check(&Method::DELETE, "/fn/x"));
        assert!(needs_origin_check(&Method::POST, "/auth/sign-in"));
        assert!(!needs_origin_check(&Method::GET, "/fn/get_current_user"));
        assert!(!needs_origin_check(&Method::POST, "/api/v1/bots"));
        assert!(!needs_origin_check(&Method::HEAD, "/"));
    }
}
