//! Hostile input: meeting links that are not what they seem, internal callback targets, and text
//! PostgreSQL refuses (NUL). Each is a 422 naming the field, never a 500 and never stored.

use http::StatusCode;
use serde_json::{json, Value};

use crate::support::TestApp;

const MEET: &str = "https://meet.google.com/abc-defg-hij";

async fn refused(app: &mut TestApp, key: &str, method: &str, path: &str, body: Value, field: &str) {
    let r = app.api(method, path, key, Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {body}: {}", r.body);
    assert_eq!(r.json()["error"]["details"]["field"], field, "{body}: {}", r.body);
}

#[tokio::test]
async fn a_link_that_only_looks_like_a_meeting_platform_is_refused() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for url in [
        "https://evil.com\\@meet.google.com/",
        "https://evil.com@meet.google.com/abc",
        "https://user:pw@meet.google.com/abc",
        "https://meet.google.com:8443/abc",
        "http://meet.google.com/abc",
        "https://meet.google.com.evil.com/abc",
        "https://127.0.0.1/j/1",
        "https://[::1]/j/1",
        "https://169.254.169.254/latest/meta-data/",
    ] {
        refused(&mut app, &key, "POST", "/api/v1/bots", json!({ "meetingUrl": url }), "meetingUrl").await;
        // Naming the platform does not make another host acceptable.
        refused(
            &mut app,
            &key,
            "POST",
            "/api/v1/bots",
            json!({ "meetingUrl": url, "platform": "google-meet" }),
            "meetingUrl",
        )
        .await;
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 0);
}

#[tokio::test]
async fn an_explicit_platform_must_match_the_links_host() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    refused(&mut app, &key, "POST", "/api/v1/bots", json!({ "meetingUrl": MEET, "platform": "zoom" }), "platform")
        .await;
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": "https://acme.zoom.us/j/1" }))).await;
    assert_eq!((r.status, r.json()["meetingPlatform"].as_str()), (StatusCode::CREATED, Some("zoom")));
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": "https://teams.live.com/meet/1" }))).await;
    assert_eq!((r.status, r.json()["meetingPlatform"].as_str()), (StatusCode::CREATED, Some("microsoft-teams")));
}

#[tokio::test]
async fn callbacks_and_images_cannot_point_at_internal_addresses() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://[fd00::1]/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://postgres:5432/",
        "http://user:pw@hooks.example.com/",
    ] {
        for field in ["callbackUrl", "imageUrl"] {
            refused(&mut app, &key, "POST", "/api/v1/bots", json!({ "meetingUrl": MEET, field: target }), field).await;
        }
    }
    let r = app
        .api(
            "POST",
            "/api/v1/bots",
            &key,
            Some(json!({ "meetingUrl": MEET, "callbackUrl": "https://hooks.example.com/x" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let path = format!("/api/v1/bots/{id}");
    refused(&mut app, &key, "PATCH", &path, json!({ "callbackUrl": "http://169.254.169.254/" }), "callbackUrl").await;
    refused(&mut app, &key, "PATCH", &path, json!({ "imageUrl": "http://10.1.2.3/x.png" }), "imageUrl").await;
    // Development mode (the test configuration) allows a local receiver for callbacks.
    let r = app.api("PATCH", &path, &key, Some(json!({ "callbackUrl": "http://127.0.0.1:9000/hook" }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_nul_in_any_bot_field_is_a_422_not_a_500() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for (field, value) in [
        ("displayName", "Notes\u{0}"),
        ("meetingId", "123\u{0}"),
        ("meetingPassword", "pw\u{0}"),
        ("idempotencyKey", "k\u{0}"),
        ("meetingUrl", "https://meet.google.com/abc\u{0}"),
        ("callbackUrl", "https://hooks.example.com/\u{0}"),
        ("imageUrl", "https://img.example.com/\u{0}.png"),
        ("timeZone", "Europe/Lisbon\u{0}"),
        ("startTime", "2030-01-01T00:00:00Z\u{0}"),
    ] {
        let mut body = json!({ "meetingUrl": MEET, "platform": "google-meet" });
        body[field] = json!(value);
        refused(&mut app, &key, "POST", "/api/v1/bots", body, field).await;
    }
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await;
    let path = format!("/api/v1/bots/{}", r.json()["id"]);
    for field in ["displayName", "callbackUrl", "imageUrl", "startTime", "timeZone"] {
        refused(&mut app, &key, "PATCH", &path, json!({ field: "x\u{0}" }), field).await;
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 1);
}

#[tokio::test]
async fn a_nul_in_a_template_or_a_chat_message_is_a_422_not_a_500() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let t = "/api/v1/templates";
    refused(&mut app, &key, "POST", t, json!({ "templateName": "Hi", "messages": ["ok", "a\u{0}b"] }), "messages")
        .await;
    refused(&mut app, &key, "POST", t, json!({ "templateName": "H\u{0}", "messages": ["ok"] }), "templateName").await;
    let r = app.api("POST", t, &key, Some(json!({ "templateName": "Hi", "messages": ["ok"] }))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = format!("{t}/{}", r.json()["id"]);
    refused(&mut app, &key, "PATCH", &path, json!({ "templateName": "Hi", "messages": ["\u{0}"] }), "messages").await;
    let bot = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await.json();
    refused(
        &mut app,
        &key,
        "POST",
        "/api/v1/chat/send",
        json!({ "botIds": [bot["id"]], "messageText": "hi\u{0}" }),
        "messageText",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) AS n FROM bot_chat_messages").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM message_templates").await, 1);
}

#[tokio::test]
async fn a_nul_in_account_or_key_fields_is_a_422_not_a_500() {
    let mut app = TestApp::new().await;
    let r = app
        .call(
            "sign_up",
            &[
                ("name", "Ada\u{0}"),
                ("email", "ada@example.com"),
                ("password", "correct horse"),
                ("confirm_password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .call(
            "sign_up",
            &[
                ("name", "Ada"),
                ("email", "ada\u{0}@example.com"),
                ("password", "correct horse"),
                ("confirm_password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.call("sign_in", &[("email", "ada\u{0}@example.com"), ("password", "correct horse")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    app.sign_up("Ada", "ada@example.com").await;
    let r = app.call_json("create_api_key", json!({ "name": "ci\u{0}" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .call_json("save_template", json!({ "id": null, "input": { "templateName": "x", "messages": ["\u{0}"] } }))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM api_keys").await, 0);
}
