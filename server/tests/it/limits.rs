//! Daily plan limits count bots created in the UTC day and cannot be bypassed: not by
//! scheduling for another day, switching time zones, moving a start time, deleting bots, or
//! racing parallel creates. The usage the API shows is what is enforced.

use chrono::{Duration, Utc};
use http::StatusCode;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::TestApp;

const MEET: &str = "https://meet.google.com/abc-defg-hij";
/// The FREE plan's daily limit.
const FREE: i64 = 5;

async fn create(app: &mut TestApp, key: &str, body: Value) -> StatusCode {
    app.api("POST", "/api/v1/bots", key, Some(body)).await.status
}

async fn usage(app: &mut TestApp, key: &str) -> (i64, i64) {
    let u = app.api("GET", "/api/v1/user/daily-usage?timeZone=Pacific/Kiritimati", key, None).await.json();
    assert_eq!(u["timeZone"], "UTC", "the limit's day is the UTC day");
    (u["usage"].as_i64().unwrap(), u["remaining"].as_i64().unwrap())
}

#[tokio::test]
async fn scheduling_for_another_day_still_counts_today() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for d in 1..=FREE {
        let start = (Utc::now() + Duration::days(d)).to_rfc3339();
        assert_eq!(
            create(&mut app, &key, json!({ "meetingUrl": MEET, "startTime": start })).await,
            StatusCode::CREATED
        );
    }
    let start = (Utc::now() + Duration::days(9)).to_rfc3339();
    let r = create(&mut app, &key, json!({ "meetingUrl": MEET, "startTime": start })).await;
    assert_eq!(r, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(create(&mut app, &key, json!({ "meetingUrl": MEET })).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(usage(&mut app, &key).await, (FREE, 0));
}

#[tokio::test]
async fn switching_time_zones_between_requests_gives_no_room() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    // The two zones furthest apart: their "today" never fully overlaps.
    let zones = ["Pacific/Kiritimati", "Pacific/Pago_Pago"];
    for i in 0..FREE {
        let body = json!({ "meetingUrl": MEET, "timeZone": zones[i as usize % 2] });
        assert_eq!(create(&mut app, &key, body).await, StatusCode::CREATED);
    }
    for tz in zones.into_iter().chain(["UTC", "Asia/Tokyo"]) {
        let body = json!({ "meetingUrl": MEET, "timeZone": tz });
        assert_eq!(create(&mut app, &key, body).await, StatusCode::TOO_MANY_REQUESTS, "{tz}");
    }
}

#[tokio::test]
async fn moving_a_start_time_to_another_day_gives_no_room() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let soon = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let later = (Utc::now() + Duration::days(3)).to_rfc3339();
    for _ in 0..FREE {
        let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET, "startTime": soon }))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.json()["id"].as_i64().unwrap();
        let patch = json!({ "startTime": later, "endTime": (Utc::now() + Duration::days(3) + Duration::hours(1)).to_rfc3339() });
        let r = app.api("PATCH", &format!("/api/v1/bots/{id}"), &key, Some(patch)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert_eq!(create(&mut app, &key, json!({ "meetingUrl": MEET })).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn deleting_finished_bots_gives_no_room() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let mut ids = Vec::new();
    for _ in 0..FREE {
        let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await;
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    let r = app.api("POST", "/api/v1/bots/cancel", &key, Some(json!({ "ids": ids }))).await;
    assert_eq!(r.json()["succeeded"].as_array().unwrap().len(), FREE as usize, "{}", r.body);
    let r = app.api("POST", "/api/v1/bots/delete", &key, Some(json!({ "ids": ids }))).await;
    assert_eq!(r.json()["succeeded"].as_array().unwrap().len(), FREE as usize, "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 0);
    assert_eq!(usage(&mut app, &key).await, (FREE, 0), "usage shows what is enforced");
    assert_eq!(create(&mut app, &key, json!({ "meetingUrl": MEET })).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn parallel_creates_at_the_limit_do_not_overshoot() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let requests = (0..4 * FREE).map(|_| {
        let req = http::Request::post("/api/v1/bots")
            .header("x-api-key", key.clone())
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json!({ "meetingUrl": MEET }).to_string()))
            .unwrap();
        let router = app.router.clone();
        tokio::spawn(async move { router.oneshot(req).await.unwrap().status() })
    });
    let mut statuses = Vec::new();
    for handle in requests.collect::<Vec<_>>() {
        statuses.push(handle.await.unwrap());
    }
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count() as i64;
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count() as i64;
    assert_eq!((created, limited), (FREE, 3 * FREE), "{statuses:?}");
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, FREE);
    assert_eq!(app.count("SELECT sum(created)::bigint AS n FROM daily_bot_counts").await, FREE);
}

#[tokio::test]
async fn an_idempotent_retry_and_a_refused_batch_use_no_room() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for _ in 0..3 {
        let body = json!({ "meetingUrl": MEET, "idempotencyKey": "same" });
        assert!(create(&mut app, &key, body).await.is_success());
    }
    assert_eq!(usage(&mut app, &key).await, (1, FREE - 1));
    // A batch that does not fit is refused whole and counts nothing.
    app.sign_up("Bea", "bea@example.com").await;
    let r = app.call_json("deploy_bots", json!({ "request": { "meetingUrl": MEET }, "count": FREE + 1 })).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = app.call_json("deploy_bots", json!({ "request": { "meetingUrl": MEET }, "count": FREE })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
