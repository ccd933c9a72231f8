//! `GET /metrics`: Prometheus text format (the `metrics` facade and its Prometheus exporter),
//! behind `METRICS_TOKEN` (`Authorization: Bearer`); without the setting the route answers 404.
//!
//! Counters and histograms are recorded where things happen (HTTP requests by route, status and
//! latency in [`track`]; heartbeats, log lines, deploy attempts in their code paths); what the
//! database knows (bots by status and platform, the queue, platform health and capacity) and the
//! pools' usage are read when Prometheus scrapes, so every replica reports the same fleet
//! figures and nothing is kept in memory twice. docs/OPERATIONS.md lists every metric.

use std::sync::OnceLock;
use std::time::Instant;

use app::backend::deployer::decide::Health;
use app::backend::deployer::health;
use app::backend::state::AppState;
use app::model::bot::BotStatus;
use app::model::error::AppError;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use http::{header, HeaderMap, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;

use super::api_v1::ApiError;

/// Histogram buckets (seconds) of every `*_seconds` metric: from half a millisecond (a
/// heartbeat) to a minute (a slow platform call).
const BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The process's recorder, installed once (the first router built installs it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a test harness): ours then only renders.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        // Histograms keep their samples until they are folded into the buckets: fold them every
        // few seconds whether or not anyone scrapes, so memory stays flat between scrapes.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            upkeep.run_upkeep();
        });
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("meeboter_http_requests_total", "HTTP requests answered, by method, route and status.");
    describe_histogram!(
        "meeboter_http_request_duration_seconds",
        Unit::Seconds,
        "Time from the request reaching the router to its response, by method and route."
    );
    describe_counter!("meeboter_bot_heartbeats_total", "Heartbeats accepted from bots.");
    describe_counter!("meeboter_bot_log_lines_total", "Log lines from bots stored.");
    describe_counter!("meeboter_deploy_attempts_total", "Platform deploy calls, by platform and outcome.");
    describe_histogram!(
        "meeboter_deploy_duration_seconds",
        Unit::Seconds,
        "Duration of platform deploy calls, by platform and outcome."
    );
    describe_gauge!("meeboter_bots", "Bots not yet finished, by status and deployment platform.");
    describe_gauge!("meeboter_queue_depth", "Bots waiting in the deployment queue.");
    describe_gauge!("meeboter_queue_oldest_wait_seconds", "How long the oldest queued bot has waited.");
    describe_gauge!("meeboter_queue_overdue", "Queued bots past their queue timeout (the dispatcher is behind).");
    describe_gauge!("meeboter_platform_healthy", "1 when the platform takes bots, 0 while it is failing.");
    describe_gauge!("meeboter_platform_active_bots", "Bots holding the platform's capacity.");
    describe_gauge!("meeboter_platform_bot_limit", "The platform's configured bot limit.");
    describe_gauge!("meeboter_db_pool_connections", "Database connections by pool and state.");
    describe_counter!(
        "meeboter_bot_timeouts_total",
        "Bots the health worker failed because their heartbeats stopped, by reason."
    );
    describe_counter!(
        "meeboter_webhook_deliveries_total",
        "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), failed (given up)."
    );
    describe_histogram!(
        "meeboter_webhook_delivery_duration_seconds",
        Unit::Seconds,
        "Duration of one webhook delivery attempt."
    );
    describe_gauge!("meeboter_webhook_backlog", "Webhook deliveries not yet delivered or given up.");
    describe_gauge!(
        "meeboter_webhook_oldest_pending_seconds",
        "How long the longest-waiting webhook delivery a sender could attempt now has been due (0: none)."
    );
    describe_gauge!(
        "meeboter_webhook_endpoints_disabled",
        "Account webhook endpoints disabled after a long run of failures."
    );
    // Counters appear at their first increment; start the known series at 0 so that
    // `increase()` sees the first event after a restart too.
    for outcome in ["delivered", "retry", "failed"] {
        metrics::counter!("meeboter_webhook_deliveries_total", "outcome" => outcome).absolute(0);
    }
    for reason in ["HEARTBEAT_TIMEOUT", "DEPLOYING_TIMEOUT", "LEAVE_TIMEOUT"] {
        metrics::counter!("meeboter_bot_timeouts_total", "reason" => reason).absolute(0);
    }
}

/// Records every routed request's count and latency (installed with `route_layer`, so the route
/// is the pattern, `/api/v1/bot/{id}/heartbeat`, never a path with ids in it).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    if let Some(route) = route {
        let status = response.status().as_u16().to_string();
        metrics::histogram!("meeboter_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("meeboter_http_requests_total", "method" => method, "route" => route, "status" => status)
            .increment(1);
    }
    response
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(expected) = &state.config.metrics_token else {
        return Err(AppError::NotFound("Metrics are off: set METRICS_TOKEN to serve them.".into()).into());
    };
    use app::backend::auth::bot_tokens::{bearer_token, constant_time_eq};
    let given = bearer_token(&headers).unwrap_or("");
    if !constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes()) {
        return Err(AppError::Unauthorized("Send METRICS_TOKEN as Authorization: Bearer <token>.".into()).into());
    }
    // One scrape at a time: the gauges are the process's, set and rendered together.
    static SCRAPING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = SCRAPING.lock().await;
    scrape(&state).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        handle().render(),
    )
        .into_response())
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    platform: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct QueueRow {
    #[diesel(sql_type = BigInt)]
    depth: i64,
    #[diesel(sql_type = BigInt)]
    overdue: i64,
    #[diesel(sql_type = Nullable<Double>)]
    oldest: Option<f64>,
}

#[derive(QueryableByName)]
struct WebhookRow {
    #[diesel(sql_type = BigInt)]
    backlog: i64,
    #[diesel(sql_type = Nullable<Double>)]
    oldest: Option<f64>,
    #[diesel(sql_type = BigInt)]
    disabled: i64,
}

/// Sets the gauges read from the database and the pools.
async fn scrape(state: &AppState) -> Result<(), AppError> {
    let mut conn = state.pool.get().await.map_err(|e| app::backend::error::internal("database unavailable", e))?;
    let db = |what: &'static str| move |e| app::backend::error::internal(what, e);
    let live: Vec<&str> = BotStatus::ALL.iter().filter(|s| !s.is_terminal()).map(|s| s.as_str()).collect();
    let counts: Vec<StatusCount> = diesel::sql_query(
        "SELECT status, deployment_platform AS platform, count(*) AS n FROM bots WHERE status = ANY($1) \
         GROUP BY status, deployment_platform",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(&live)
    .load(&mut conn)
    .await
    .map_err(db("counting bots for metrics failed"))?;
    let queue: QueueRow = diesel::sql_query(
        "SELECT count(*) AS depth, count(*) FILTER (WHERE timeout_at < now()) AS overdue, \
                EXTRACT(EPOCH FROM now() - min(queued_at))::float8 AS oldest FROM deployment_queue",
    )
    .get_result(&mut conn)
    .await
    .map_err(db("reading the queue for metrics failed"))?;
    let healths = health::load(&mut conn).await.map_err(db("reading platform health failed"))?;
    let webhooks: WebhookRow = diesel::sql_query(
        "SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING') AS backlog, \
                (SELECT EXTRACT(EPOCH FROM now() - min(d.next_attempt_at))::float8 FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled \
                 WHERE d.status = 'PENDING' AND d.next_attempt_at <= now() \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'PENDING' \
                                   AND p.endpoint_id = d.endpoint_id AND p.bot_id = d.bot_id AND p.id < d.id)) AS oldest, \
                (SELECT count(*) FROM webhook_endpoints WHERE NOT enabled AND disabled_reason IS NOT NULL) AS disabled",
    )
    .get_result(&mut conn)
    .await
    .map_err(db("reading the webhook outbox for metrics failed"))?;
    drop(conn);
    metrics::gauge!("meeboter_webhook_backlog").set(webhooks.backlog as f64);
    metrics::gauge!("meeboter_webhook_oldest_pending_seconds").set(webhooks.oldest.unwrap_or(0.0).max(0.0));
    metrics::gauge!("meeboter_webhook_endpoints_disabled").set(webhooks.disabled as f64);

    // Every combination is set, to 0 when absent, so a status that emptied does not keep its
    // last count.
    let mut platforms: Vec<String> = vec!["none".into()];
    platforms.extend(state.platforms.slots().iter().map(|(s, _)| s.platform.as_str().to_owned()));
    for c in &counts {
        let p = c.platform.clone().unwrap_or_else(|| "none".into());
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    for status in &live {
        for platform in &platforms {
            let n = counts
                .iter()
                .filter(|c| c.status == *status && c.platform.as_deref().unwrap_or("none") == platform)
                .map(|c| c.n)
                .sum::<i64>();
            metrics::gauge!("meeboter_bots", "status" => *status, "platform" => platform.clone()).set(n as f64);
        }
    }
    metrics::gauge!("meeboter_queue_depth").set(queue.depth as f64);
    metrics::gauge!("meeboter_queue_overdue").set(queue.overdue as f64);
    metrics::gauge!("meeboter_queue_oldest_wait_seconds").set(queue.oldest.unwrap_or(0.0).max(0.0));
    let now = Utc::now();
    for (slot, _) in state.platforms.slots() {
        let name = slot.platform.as_str();
        let healthy = healths.get(name).is_none_or(|h| !matches!(h.health(now), Health::Unhealthy { .. }));
        let active = counts
            .iter()
            .filter(|c| {
                c.platform.as_deref() == Some(name) && BotStatus::parse(&c.status).is_some_and(BotStatus::is_active)
            })
            .map(|c| c.n)
            .sum::<i64>();
        metrics::gauge!("meeboter_platform_healthy", "platform" => name).set(if healthy { 1.0 } else { 0.0 });
        metrics::gauge!("meeboter_platform_active_bots", "platform" => name).set(active as f64);
        metrics::gauge!("meeboter_platform_bot_limit", "platform" => name).set(f64::from(slot.limit));
    }
    for (pool, p) in [("main", &state.pool), ("bots", &state.bot_pool)] {
        let s = p.status();
        let idle = s.available;
        let in_use = s.size.saturating_sub(s.available);
        metrics::gauge!("meeboter_db_pool_connections", "pool" => pool, "state" => "in_use").set(in_use as f64);
        metrics::gauge!("meeboter_db_pool_connections", "pool" => pool, "state" => "idle").set(idle as f64);
        metrics::gauge!("meeboter_db_pool_connections", "pool" => pool, "state" => "max").set(s.max_size as f64);
        metrics::gauge!("meeboter_db_pool_connections", "pool" => pool, "state" => "waiting").set(s.waiting as f64);
    }
    Ok(())
}
