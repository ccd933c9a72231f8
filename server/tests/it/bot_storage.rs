//! What bots store and how much: screenshots beyond the newest 50 leave storage, a deleted bot
//! leaves nothing behind, per-bot rate limits answer 429, and a shutdown writes what is buffered.

use http::StatusCode;
use serde_json::{json, Value};

use crate::screenshots::upload;
use crate::support::{bind, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

fn lines(n: usize, from: usize) -> Value {
    let entries: Vec<Value> = (from..from + n)
        .map(|i| json!({ "id": format!("l{i}"), "timestamp": "2026-11-30T10:00:00Z", "level": "INFO", "message": "x" }))
        .collect();
    json!({ "entries": entries })
}

#[tokio::test]
async fn screenshots_beyond_the_newest_fifty_are_deleted_from_storage() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let png = server::bot_sim::fake_screenshot("IN_CALL");
    let fields = [("type", "manual"), ("state", "IN_CALL")];
    let mut first = String::new();
    for i in 0..52 {
        let r = upload(&mut app, &format!("/api/bots/{id}/screenshots"), Some(&token), &png, &fields).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.body);
        if i == 0 {
            first = r.json()["key"].as_str().unwrap().to_owned();
        }
    }
    let stored = app.state.storage.list(&format!("bots/{id}/screenshots/")).await.unwrap();
    assert_eq!(stored.len(), 50);
    assert!(!stored.contains(&first), "the oldest screenshot is still stored");
}

#[tokio::test]
async fn deleting_a_bot_deletes_its_screenshots_and_archived_logs() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (kept, kept_token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let png = server::bot_sim::fake_screenshot("IN_CALL");
    let fields = [("type", "manual"), ("state", "IN_CALL")];
    for (bot, t) in [(id, &token), (kept, &kept_token)] {
        let r = upload(&mut app, &format!("/api/bots/{bot}/screenshots"), Some(t), &png, &fields).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    app.state.storage.put(&format!("bots/{id}/logs/1-10.jsonl.gz"), b"gz".to_vec()).await.unwrap();
    let r = app.api("DELETE", &format!("/api/v1/bots/{id}"), &key, None).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(app.state.storage.list(&format!("bots/{id}/")).await.unwrap().is_empty());
    assert_eq!(app.state.storage.list(&format!("bots/{kept}/")).await.unwrap().len(), 1, "another bot's objects stay");
}

#[tokio::test]
async fn a_bot_that_floods_logs_or_screenshots_gets_429_and_others_do_not() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (other, other_token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let path = format!("/api/v1/bot/{id}/logs");
    for batch in 0..5 {
        let r = app.raw("POST", &path, &[("x-milo-token", &token)], Some(lines(1000, batch * 1000).to_string())).await;
        assert_eq!(r.status, StatusCode::OK, "batch {batch}: {}", r.body);
    }
    let r = app.raw("POST", &path, &[("x-milo-token", &token)], Some(lines(1000, 9000).to_string())).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("retry in"), "{}", r.body);
    let r = app
        .raw(
            "POST",
            &format!("/api/v1/bot/{other}/logs"),
            &[("x-milo-token", &other_token)],
            Some(lines(100, 0).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "another bot is not limited: {}", r.body);
    // A request without the bot's token cannot spend its allowance.
    let r = app
        .raw(
            "POST",
            &format!("/api/v1/bot/{other}/logs"),
            &[("x-milo-token", "mbt_x")],
            Some(lines(100, 0).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let png = server::bot_sim::fake_screenshot("IN_CALL");
    let fields = [("type", "manual"), ("state", "IN_CALL")];
    let shots = format!("/api/v1/bot/{id}/screenshots");
    for i in 0..60 {
        let r = upload(&mut app, &shots, Some(&token), &png, &fields).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.body);
    }
    let r = upload(&mut app, &shots, Some(&token), &png, &fields).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_writes_the_heartbeats_still_buffered() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let ids: Vec<(i64, String)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await);
        }
        v
    };
    let (listener, url) = bind().await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::runner::serve_until(app.state.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    for (id, token) in &ids {
        let r =
            client.post(format!("{url}/api/v1/bot/{id}/heartbeat")).header("x-milo-token", token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    let n = app.count("SELECT count(*) AS n FROM bots WHERE last_heartbeat IS NOT NULL").await;
    assert_eq!(n, 3, "heartbeats buffered at shutdown were lost");
}

#[tokio::test]
async fn a_nul_in_what_a_bot_sends_is_a_422_not_a_500() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let h = [("x-milo-token", token.as_str())];
    let bad_log =
        json!({ "entries": [{ "id": "l1", "timestamp": "2026-11-30T10:00:00Z", "level": "INFO", "message": "a\0b" }] });
    let r = app.raw("POST", &format!("/api/v1/bot/{id}/logs"), &h, Some(bad_log.to_string())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("entries[0].message"), "{}", r.body);
    let bad_event = json!({ "events": [{ "eventType": "PARTICIPANT_JOIN", "eventTime": "2026-11-30T10:00:00Z",
                                         "data": { "participantId": "\0" } }] });
    let r = app.raw("POST", &format!("/api/v1/bot/{id}/events"), &h, Some(bad_event.to_string())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let bad_status = json!({ "status": "DONE", "recording": "rec\0.mp4" });
    let r = app.raw("POST", &format!("/api/v1/bot/{id}/status"), &h, Some(bad_status.to_string())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(crate::support::bot_status(&app, id).await, "DEPLOYING");
}

#[tokio::test]
async fn chat_messages_pile_up_to_a_bound_per_bot() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let limit = app::backend::services::templates::MAX_QUEUED_PER_BOT;
    for i in 0..limit {
        let r = app
            .api("POST", "/api/v1/chat/send", &key, Some(json!({ "botIds": [id], "messageText": format!("hi {i}") })))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{i}: {}", r.body);
    }
    let r =
        app.api("POST", "/api/v1/chat/send", &key, Some(json!({ "botIds": [id], "messageText": "one more" }))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("waiting to be sent"), "{}", r.body);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bot_chat_messages WHERE bot_id = {id}")).await, limit);
}
