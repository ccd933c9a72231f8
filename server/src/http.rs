//! The router: web app (SSR + server functions), health endpoints, static files (compressed and
//! cached, `http/static_files.rs`), and the edge middleware (client address, sign-in guard,
//! same-origin check, request tracing, body limit, request timeout, security headers).

pub mod api_v1;
pub mod guard;
pub mod health;
pub mod live;
pub mod metrics;
pub mod routes;
pub mod screenshots;
pub mod security;
pub mod static_files;
pub mod trpc;

use app::backend::state::AppState;
use app::{shell, App};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest request body accepted anywhere (forms, JSON); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the whole HTTP surface; tests drive it with `oneshot`.
pub fn router(state: AppState) -> Router {
    let logs = api_v1::RequestLogSink::start(&state);
    router_with(state, logs)
}

/// [`router`] with the API request log sink given (the server awaits its writer on shutdown).
pub fn router_with(state: AppState, logs: api_v1::RequestLogSink) -> Router {
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();
    let context_state = state.clone();
    let files = static_files::StaticFiles::new(&state.leptos_options);
    metrics::handle();
    Router::new()
        .merge(routes::router(&state, logs))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(leptos_options.clone()),
        )
        // Counts and times every routed request by its route pattern (static files, the
        // fallback, are not counted).
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(move |axum::extract::State(state): axum::extract::State<AppState>, req| {
            files.clone().serve(state, req)
        })
        .layer(axum::middleware::from_fn(guard::server_fn_error_status))
        // Each middleware gets only what it reads: `from_fn_with_state` clones its state for
        // every request, and a whole `AppState` is a dozen reference counts (the fleet benchmark).
        .layer(axum::middleware::from_fn_with_state(state.config.clone(), security::same_origin))
        .layer(axum::middleware::from_fn_with_state(state.pool.clone(), guard::session_for_pages))
        .layer(axum::middleware::from_fn_with_state(state.config.clone(), guard::client_ip))
        .layer(axum::middleware::from_fn(guard::body_limit))
        .layer(axum::middleware::from_fn_with_state(state.config.request_timeout, security::request_timeout))
        .layer(axum::middleware::from_fn(security::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        // Every request gets an id (or keeps the one a proxy sent in `x-request-id`): it is in
        // the span above, so on every log line of the request, and echoed in the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of one request, at INFO so that the lines logged while serving it carry its
/// method, path and id (docs/MONITORING.md "JSON logs"); TraceLayer's own per-request lines
/// stay at DEBUG.
fn request_span<B>(req: &http::Request<B>) -> tracing::Span {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}
