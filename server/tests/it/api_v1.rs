//! The JSON API: bots, limits, keys, errors, authorisation, templates, usage, OpenAPI.

use http::StatusCode;
use serde_json::{json, Value};

use crate::support::TestApp;

const MEET: &str = "https://meet.google.com/abc-defg-hij";

async fn create(app: &mut TestApp, key: &str, body: Value) -> Value {
    let r = app.api("POST", "/api/v1/bots", key, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn a_bot_starting_now_is_queued_with_its_queue_row_and_event() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let bot = create(&mut app, &key, json!({ "meetingUrl": MEET, "displayName": "Notes" })).await;
    assert_eq!(bot["status"], "QUEUED");
    assert_eq!(bot["meetingPlatform"], "google-meet");
    assert_eq!(bot["displayName"], "Notes");
    assert_eq!(bot["automaticLeave"]["waitingRoomTimeout"], 600_000);
    let id = bot["id"].as_i64().unwrap();
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM deployment_queue WHERE bot_id = {id}")).await, 1);
    let events = app.api("GET", &format!("/api/v1/bots/{id}/events"), &key, None).await.json();
    assert_eq!(events[0]["eventType"], "QUEUED");
    assert_eq!(events[0]["description"], "The bot waits in the deployment queue.");
    insta::assert_json_snapshot!("created_bot", bot, {
        ".id" => "[id]", ".startTime" => "[time]", ".endTime" => "[time]", ".createdAt" => "[time]", ".updatedAt" => "[time]"
    });
}

#[tokio::test]
async fn a_later_bot_is_scheduled_and_not_queued() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let start = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let bot = create(&mut app, &key, json!({ "meetingUrl": "https://zoom.us/j/1", "startTime": start })).await;
    assert_eq!(bot["status"], "SCHEDULED");
    assert_eq!(bot["meetingPlatform"], "zoom");
    assert_eq!(app.count("SELECT count(*) AS n FROM deployment_queue").await, 0);
}

#[tokio::test]
async fn platforms_are_detected_an_explicit_one_wins_and_unknown_links_are_refused() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let teams = create(&mut app, &key, json!({ "meetingUrl": "https://teams.live.com/meet/9" })).await;
    assert_eq!(teams["meetingPlatform"], "microsoft-teams");
    let explicit =
        create(&mut app, &key, json!({ "meetingUrl": "https://acme.zoom.us/j/1", "platform": "zoom" })).await;
    assert_eq!(explicit["meetingPlatform"], "zoom");
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": "https://example.com/x" }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["code"], "validation_error");
    assert_eq!(r.json()["error"]["details"]["field"], "meetingUrl");
    insta::assert_json_snapshot!("validation_error", r.json());
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_bot() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let req = || {
        http::Request::post("/api/v1/bots")
            .header("x-api-key", key.clone())
            .header("content-type", "application/json")
            .header("idempotency-key", "retry-1")
            .body(axum::body::Body::from(json!({ "meetingUrl": MEET }).to_string()))
            .unwrap()
    };
    let first = app.send(req()).await;
    let second = app.send(req()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.json()["id"], second.json()["id"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 1);
}

#[tokio::test]
async fn the_free_plan_stops_at_five_a_day_with_the_reset_time() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for _ in 0..5 {
        create(&mut app, &key, json!({ "meetingUrl": MEET })).await;
    }
    let r =
        app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET, "timeZone": "Europe/Lisbon" }))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "daily_limit_reached");
    assert_eq!(e["details"]["remaining"], 0);
    assert_eq!(e["details"]["limit"], 5);
    assert!(e["details"]["resetsAt"].is_string());
    insta::assert_json_snapshot!("daily_limit_error", r.json(), { ".error.message" => "[message]", ".error.details.resetsAt" => "[time]" });
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 5, "nothing half-written");
    let usage = app.api("GET", "/api/v1/user/daily-usage?timeZone=Europe/Lisbon", &key, None).await.json();
    assert_eq!((usage["usage"].as_i64(), usage["remaining"].as_i64()), (Some(5), Some(0)));

    // An administrator's override lifts it.
    let uid = app.count("SELECT id AS n FROM users LIMIT 1").await;
    let mut conn = app.state.pool.get().await.unwrap();
    app::backend::services::plans::set_plan(&mut conn, uid, app::model::usage::Plan::Pro, None).await.unwrap();
    drop(conn);
    create(&mut app, &key, json!({ "meetingUrl": MEET })).await;
    let sub = app.api("GET", "/api/v1/user/subscription", &key, None).await.json();
    assert_eq!((sub["currentPlan"].as_str(), sub["effectiveDailyLimit"].as_i64()), (Some("PRO"), Some(200)));
}

#[tokio::test]
async fn listing_is_paginated_filtered_and_newest_first() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let mut ids = Vec::new();
    for url in [MEET, "https://zoom.us/j/1", MEET] {
        ids.push(create(&mut app, &key, json!({ "meetingUrl": url })).await["id"].as_i64().unwrap());
    }
    let page = app.api("GET", "/api/v1/bots?page=1&pageSize=2", &key, None).await.json();
    assert_eq!(page["total"], 3);
    assert_eq!(page["pageCount"], 2);
    assert_eq!(page["hasNextPage"], true);
    assert_eq!(page["data"][0]["id"].as_i64(), Some(ids[2]));
    let zoom = app.api("GET", "/api/v1/bots?meetingPlatform=zoom", &key, None).await.json();
    assert_eq!(zoom["total"], 1);
    let none = app.api("GET", "/api/v1/bots?status=IN_CALL,DONE", &key, None).await.json();
    assert_eq!(none["total"], 0);
    let bad = app.api("GET", "/api/v1/bots?status=SLEEPING", &key, None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app.api("GET", "/api/v1/bots?pageSize=1000", &key, None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = app.api("GET", "/api/v1/bots?page=abc", &key, None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cancel_and_remove_follow_the_status_rules_with_events() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let a = create(&mut app, &key, json!({ "meetingUrl": MEET })).await["id"].as_i64().unwrap();
    let b = create(&mut app, &key, json!({ "meetingUrl": MEET })).await["id"].as_i64().unwrap();

    let r = app.api("POST", &format!("/api/v1/bots/{a}/remove-from-call"), &key, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a queued bot is not in a call: {}", r.body);

    let r = app.api("POST", &format!("/api/v1/bots/{a}/cancel"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "DONE");
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM deployment_queue WHERE bot_id = {a}")).await, 0);
    let events = app.api("GET", &format!("/api/v1/bots/{a}/events"), &key, None).await.json();
    let types: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert!(types.contains(&"USER_CANCELLED_DEPLOYMENT") && types.contains(&"DONE"), "{types:?}");
    assert_eq!(app.api("POST", &format!("/api/v1/bots/{a}/cancel"), &key, None).await.status, StatusCode::CONFLICT);

    app.exec(&format!("UPDATE bots SET status = 'IN_CALL' WHERE id = {b}")).await;
    let r = app.api("POST", "/api/v1/bots/remove-from-call", &key, Some(json!({ "ids": [b, a, 999999] }))).await;
    let result = r.json();
    assert_eq!(result["succeeded"], json!([b]));
    assert_eq!(result["failed"].as_array().unwrap().len(), 2);
    let bot = app.api("GET", &format!("/api/v1/bots/{b}"), &key, None).await.json();
    assert_eq!(bot["status"], "LEAVING");
}

#[tokio::test]
async fn deleting_a_bot_deletes_its_events() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let id = create(&mut app, &key, json!({ "meetingUrl": MEET })).await["id"].as_i64().unwrap();
    assert_eq!(app.api("DELETE", &format!("/api/v1/bots/{id}"), &key, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.count("SELECT count(*) AS n FROM events").await, 0);
    assert_eq!(app.api("GET", &format!("/api/v1/bots/{id}"), &key, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_users_bot_is_not_found_for_every_operation() {
    let mut app = TestApp::new().await;
    let a_key = app.user_with_key("Alice").await;
    let b_key = app.user_with_key("Bob").await;
    let id = create(&mut app, &a_key, json!({ "meetingUrl": MEET })).await["id"].as_i64().unwrap();
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v1/bots/{id}"), None),
        ("PATCH", format!("/api/v1/bots/{id}"), Some(json!({ "displayName": "mine now" }))),
        ("DELETE", format!("/api/v1/bots/{id}"), None),
        ("POST", format!("/api/v1/bots/{id}/cancel"), None),
        ("POST", format!("/api/v1/bots/{id}/remove-from-call"), None),
        ("GET", format!("/api/v1/bots/{id}/events"), None),
        ("PATCH", format!("/api/v1/bots/{id}/log-level"), Some(json!({ "logLevel": "DEBUG" }))),
    ];
    for (method, path, body) in cases {
        let r = app.api(method, &path, &b_key, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.body);
    }
    for path in ["/api/v1/bots/cancel", "/api/v1/bots/remove-from-call", "/api/v1/bots/delete"] {
        let r = app.api("POST", path, &b_key, Some(json!({ "ids": [id] }))).await.json();
        assert_eq!(r["succeeded"], json!([]), "{path}");
    }
    let r =
        app.api("POST", "/api/v1/chat/send", &b_key, Some(json!({ "botIds": [id], "messageText": "hi" }))).await.json();
    assert_eq!(r["succeeded"], json!([]));
    assert_eq!(app.api("GET", "/api/v1/bots", &b_key, None).await.json()["total"], 0);
    assert_eq!(app.api("GET", "/api/v1/user/daily-usage", &b_key, None).await.json()["usage"], 0);
    let bot = app.api("GET", &format!("/api/v1/bots/{id}"), &a_key, None).await.json();
    assert_eq!((bot["status"].as_str(), bot["displayName"].as_str()), (Some("QUEUED"), Some("Meeboter")));
    assert_eq!(app.count("SELECT count(*) AS n FROM bot_chat_messages").await, 0);
}

#[tokio::test]
async fn missing_revoked_and_expired_keys_get_401_with_a_reason() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let no_key = app.send(http::Request::get("/api/v1/bots").body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    assert!(no_key.json()["error"]["message"].as_str().unwrap().contains("x-api-key"));
    assert_eq!(app.api("GET", "/api/v1/bots", "mbk_0000", None).await.status, StatusCode::UNAUTHORIZED);
    let bearer = app
        .send(
            http::Request::get("/api/v1/bots")
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);

    app.exec("UPDATE api_keys SET expires_at = now() - interval '1 minute'").await;
    let r = app.api("GET", "/api/v1/bots", &key, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("expired"), "{}", r.body);
    app.exec("UPDATE api_keys SET expires_at = now() + interval '1 day', revoked_at = now()").await;
    let r = app.api("GET", "/api/v1/bots", &key, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("revoked"), "{}", r.body);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_never_500() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET, "colour": "red" }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("unknown field `colour`"), "{}", r.body);
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": 42 }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let broken = http::Request::post("/api/v1/bots")
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"meetingUrl\":"))
        .unwrap();
    assert_eq!(app.send(broken).await.status, StatusCode::BAD_REQUEST);
    let untyped =
        http::Request::post("/api/v1/bots").header("x-api-key", &key).body(axum::body::Body::from("{}")).unwrap();
    assert_eq!(app.send(untyped).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({ "meetingUrl": MEET, "displayName": "x".repeat(2 * 1024 * 1024) });
    assert_eq!(app.api("POST", "/api/v1/bots", &key, Some(huge)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.api("GET", "/api/v1/bots/abc", &key, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.api("GET", "/api/v1/bots/-4", &key, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.api("GET", "/api/v1/nothing-here", &key, None).await.status, StatusCode::NOT_FOUND);
    let r = app.api("PATCH", "/api/v1/bots/1/log-level", &key, Some(json!({ "logLevel": "LOUD" }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 0);
}

#[tokio::test]
async fn requests_are_logged_against_the_key() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    app.api("GET", "/api/v1/bots", &key, None).await;
    app.api("GET", "/api/v1/bots/999", &key, None).await;
    for _ in 0..50 {
        if app.count("SELECT count(*) AS n FROM api_request_logs").await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM api_request_logs WHERE status_code = 404 AND path = '/api/v1/bots/999'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM api_keys WHERE last_used_at IS NOT NULL").await, 1);
}

#[tokio::test]
async fn templates_and_chat_queue_one_variation_per_bot() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let t = app
        .api("POST", "/api/v1/templates", &key, Some(json!({ "templateName": "Hello", "messages": ["Hi!", "Hello!"] })))
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let tid = t.json()["id"].as_i64().unwrap();
    let empty =
        app.api("POST", "/api/v1/templates", &key, Some(json!({ "templateName": "X", "messages": [" "] }))).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = create(&mut app, &key, json!({ "meetingUrl": MEET })).await["id"].as_i64().unwrap();
    let b = create(&mut app, &key, json!({ "meetingUrl": MEET })).await["id"].as_i64().unwrap();
    let r =
        app.api("POST", "/api/v1/chat/send", &key, Some(json!({ "botIds": [a, b], "templateId": tid }))).await.json();
    assert_eq!(r["succeeded"], json!([a, b]));
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM bot_chat_messages WHERE message_text IN ('Hi!', 'Hello!') AND status = 'queued'"
        )
        .await,
        2
    );
    let both = app
        .api("POST", "/api/v1/chat/send", &key, Some(json!({ "botIds": [a], "templateId": tid, "messageText": "x" })))
        .await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    let upd = app
        .api(
            "PATCH",
            &format!("/api/v1/templates/{tid}"),
            &key,
            Some(json!({ "templateName": "Bye", "messages": ["Bye"] })),
        )
        .await;
    assert_eq!(upd.json()["templateName"], "Bye");
    assert_eq!(app.api("DELETE", &format!("/api/v1/templates/{tid}"), &key, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.api("GET", "/api/v1/templates", &key, None).await.json()["total"], 0);
}

#[tokio::test]
async fn usage_buckets_count_todays_bots() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    create(&mut app, &key, json!({ "meetingUrl": MEET })).await;
    let today = app.api("GET", "/api/v1/usage?range=today&timeZone=UTC", &key, None).await.json();
    assert_eq!(today.as_array().unwrap().len(), 24);
    assert_eq!(today.as_array().unwrap().iter().map(|b| b["botsUsed"].as_i64().unwrap()).sum::<i64>(), 1);
    let month = app.api("GET", "/api/v1/usage?range=month", &key, None).await.json();
    assert!(month.as_array().unwrap().len() >= 28);
    assert_eq!(app.api("GET", "/api/v1/usage?range=year", &key, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.api("GET", "/api/v1/usage?timeZone=Nowhere/Land", &key, None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let mut app = TestApp::new().await;
    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Meeboter API");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/bots",
        "/api/v1/bots/{id}",
        "/api/v1/bots/{id}/events",
        "/api/v1/bots/{id}/cancel",
        "/api/v1/bots/{id}/remove-from-call",
        "/api/v1/bots/cancel",
        "/api/v1/bots/remove-from-call",
        "/api/v1/bots/delete",
        "/api/v1/bots/{id}/log-level",
        "/api/v1/bots/active-count",
        "/api/v1/usage",
        "/api/v1/user/subscription",
        "/api/v1/user/daily-usage",
        "/api/v1/templates",
        "/api/v1/templates/{id}",
        "/api/v1/chat/send",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    // Every referenced schema exists.
    let text = r.body.clone();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for cap in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = cap.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
}

#[tokio::test]
async fn bulk_ids_are_json_integers_with_or_without_a_zero_fraction() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let id = create(&mut app, &key, json!({ "meetingUrl": "https://zoom.us/j/1" })).await["id"].as_i64().unwrap();
    // JSON Schema's `integer` (what the document says) includes 7.0.
    let body = format!(r#"{{"ids":[{id}.0]}}"#);
    let r = app.raw("POST", "/api/v1/bots/cancel", &[("x-api-key", &key)], Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["succeeded"], json!([id]));
    let r = app.raw("POST", "/api/v1/bots/cancel", &[("x-api-key", &key)], Some(r#"{"ids":[1.5]}"#.into())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("whole number"), "{}", r.body);
}
