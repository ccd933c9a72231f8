//! `GET /metrics`: off without `METRICS_TOKEN`, behind the token with it, and what a scrape
//! shows: requests by route pattern with latency histograms, bot-side counters, the fleet read
//! from the database.

use http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

const TOKEN: &str = "metrics-token-0123456789abcdef0123456789";
const MEET: &str = "https://meet.google.com/abc-defg-hij";

#[tokio::test]
async fn metrics_are_off_without_a_token_and_need_it_with_one() {
    let mut off = TestApp::new().await;
    let r = off.raw("GET", "/metrics", &[("authorization", &format!("Bearer {TOKEN}"))], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.body.contains("METRICS_TOKEN"), "{}", r.body);

    let mut app = TestApp::builder().var("METRICS_TOKEN", TOKEN).build().await;
    for auth in ["", "Bearer wrong-token-0123456789abcdef0123456789", TOKEN] {
        let r = app.raw("GET", "/metrics", &[("authorization", auth)], None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}: {}", r.body);
        assert!(!r.body.contains(TOKEN));
    }
    let r = app.raw("GET", "/metrics", &[("authorization", &format!("Bearer {TOKEN}"))], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains(TOKEN));
}

#[tokio::test]
async fn a_scrape_shows_routes_by_pattern_bot_traffic_and_the_fleet() {
    let mut app = TestApp::builder().var("METRICS_TOKEN", TOKEN).build().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let queued = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await;
    assert_eq!(queued.status, StatusCode::CREATED, "{}", queued.body);
    let beat = app.raw("POST", &format!("/api/v1/bot/{id}/heartbeat"), &[("x-milo-token", &token)], None).await;
    assert_eq!(beat.status, StatusCode::OK, "{}", beat.body);
    let lines = json!({ "entries": [{ "id": "l1", "timestamp": "2026-12-01T00:00:00Z", "level": "INFO", "message": "hello" }] });
    let logs =
        app.raw("POST", &format!("/api/v1/bot/{id}/logs"), &[("x-milo-token", &token)], Some(lines.to_string())).await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);

    let r = app.raw("GET", "/metrics", &[("authorization", &format!("Bearer {TOKEN}"))], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let text = r.body;
    // Routes by their pattern, never by a path with an id in it.
    assert!(
        text.contains(r#"meeboter_http_request_duration_seconds_bucket{method="POST",route="/api/v1/bot/{id}/heartbeat",le="0.01"}"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/v1/bots",status="201"}"#), "{text}");
    assert!(!text.contains(&format!("/api/v1/bot/{id}/")), "{text}");
    for name in ["meeboter_bot_heartbeats_total", "meeboter_bot_log_lines_total"] {
        assert!(text.lines().any(|l| l.starts_with(name) && !l.ends_with(" 0")), "{name} in {text}");
    }
    // The fleet, read from the database (this app's own).
    assert!(text.contains(r#"meeboter_bots{status="DEPLOYING",platform="local"} 1"#), "{text}");
    assert!(text.contains(r#"meeboter_bots{status="QUEUED",platform="none"} 1"#), "{text}");
    assert!(text.contains("meeboter_queue_depth 1"), "{text}");
    assert!(text.contains(r#"meeboter_platform_healthy{platform="local"} 1"#), "{text}");
    assert!(text.contains(r#"meeboter_platform_active_bots{platform="local"} 1"#), "{text}");
    assert!(text.contains(r#"meeboter_db_pool_connections{pool="bots",state="max"}"#), "{text}");
    assert!(text.contains("# TYPE meeboter_http_request_duration_seconds histogram"), "{text}");
}
