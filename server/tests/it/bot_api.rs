//! The API running bots call: REST under `/api/v1/bot` and the upstream tRPC format under
//! `/api/trpc`, both authorised by per-bot tokens.

use http::StatusCode;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{TestApp, TestResponse};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

async fn rest(app: &mut TestApp, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
    let headers: Vec<(&str, &str)> = token.map(|t| vec![("x-milo-token", t)]).unwrap_or_default();
    app.raw(method, path, &headers, body.map(|b| b.to_string())).await
}

/// Heartbeats `path` until `done` holds for the answer (up to 2 s), like a bot does.
async fn eventually(app: &mut TestApp, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let r = rest(app, "POST", path, Some(token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if done(&r.json()) {
            return r.json();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{path} never answered as expected");
}

#[tokio::test]
async fn a_bot_runs_its_whole_life_through_the_rest_api() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET, "displayName": "Notes" })).await;
    assert!(token.starts_with("mbt_"));
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND token_hash IS NOT NULL")).await,
        1
    );

    let r = rest(&mut app, "GET", &format!("/api/v1/bot/{id}/config"), Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = r.json();
    assert_eq!(c["id"], id);
    assert_eq!(c["displayName"], "Notes");
    assert_eq!(c["meeting"]["meetingUrl"], MEET);
    assert_eq!(c["automaticLeave"]["waitingRoomTimeout"], 600_000);

    let r = rest(&mut app, "POST", &format!("/api/v1/bot/{id}/heartbeat"), Some(&token), None).await;
    assert_eq!(r.json(), json!({ "shouldLeave": false, "logLevel": "TRACE" }));
    // Heartbeats are written in batches (at least every second); flush now instead of waiting.
    app.state.heartbeats.flush().await.unwrap();
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND last_heartbeat IS NOT NULL")).await,
        1
    );

    for status in ["JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL"] {
        let r = rest(
            &mut app,
            "POST",
            &format!("/api/v1/bot/{id}/status"),
            Some(&token),
            Some(json!({ "status": status })),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{status}: {}", r.body);
        assert_eq!(r.json()["status"], status);
    }
    let events = json!({ "events": [
        { "eventType": "PARTICIPANT_JOIN", "eventTime": "2026-11-23T10:00:00.000Z", "data": { "participantId": "p1" } },
        { "eventType": "PARTICIPANT_LEAVE", "eventTime": "2026-11-23T10:05:00Z", "data": null },
    ] });
    let r = rest(&mut app, "POST", &format!("/api/v1/bot/{id}/events"), Some(&token), Some(events)).await;
    assert_eq!(r.json(), json!({ "received": 2 }), "{}", r.body);

    let entries: Vec<Value> = (0..100)
        .map(|i| json!({ "id": format!("line-{i}"), "botId": id, "timestamp": "2026-11-23T10:00:00.000Z", "level": "INFO", "message": format!("line {i}") }))
        .collect();
    let r =
        rest(&mut app, "POST", &format!("/api/v1/bot/{id}/logs"), Some(&token), Some(json!({ "entries": entries })))
            .await;
    assert_eq!(r.json(), json!({ "received": 100 }), "{}", r.body);
    let mut conn = app.state.pool.get().await.unwrap();
    let lines = app::backend::services::bot_api::logs_after(&mut conn, id, 0, 10).await.unwrap();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0].entry.message, "line 0");
    let more = app::backend::services::bot_api::logs_after(&mut conn, id, lines[9].seq, 1000).await.unwrap();
    assert_eq!(more.len(), 90);
    drop(conn);

    // The owner changes the log level, then removes the bot from the call: heartbeats answered
    // from the cache learn both within moments (NOTIFY bot_state).
    let r = app.api("PATCH", &format!("/api/v1/bots/{id}/log-level"), &key, Some(json!({ "logLevel": "DEBUG" }))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let beat = eventually(&mut app, &format!("/api/v1/bot/{id}/heartbeat"), &token, |b| b["logLevel"] == "DEBUG").await;
    assert_eq!(beat["shouldLeave"], false);
    let r = app.api("POST", &format!("/api/v1/bots/{id}/remove-from-call"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    eventually(&mut app, &format!("/api/v1/bot/{id}/heartbeat"), &token, |b| b["shouldLeave"] == true).await;
    let r =
        rest(&mut app, "POST", &format!("/api/v1/bot/{id}/status"), Some(&token), Some(json!({ "status": "IN_CALL" })))
            .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("forward only"), "{}", r.body);
    let r =
        rest(&mut app, "POST", &format!("/api/v1/bot/{id}/status"), Some(&token), Some(json!({ "status": "DONE" })))
            .await;
    assert_eq!(r.json(), json!({ "id": id, "status": "DONE", "finished": true }));
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND end_time <= now()")).await, 1);

    // Finished: its token opens nothing any more.
    let r = rest(&mut app, "GET", &format!("/api/v1/bot/{id}/config"), Some(&token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    let r = app.api("GET", &format!("/api/v1/bots/{id}/events"), &key, None).await;
    let types: Vec<String> =
        r.json().as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap().to_owned()).collect();
    for t in ["IN_CALL", "PARTICIPANT_JOIN", "USER_REMOVED_FROM_CALL", "DONE"] {
        assert!(types.contains(&t.to_owned()), "{t} missing from {types:?}");
    }
}

#[tokio::test]
async fn a_token_opens_only_its_own_bot() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (a, token_a) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (b, _token_b) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    // Non-empty batches, so that the success path (a stored event, a stored line) runs for the
    // owner and is refused for everyone else.
    let participant_join = json!({ "eventType": "PARTICIPANT_JOIN", "eventTime": "2026-11-23T10:00:00Z", "data": { "participantId": "p1" } });
    let log_line =
        |m: &str| json!({ "id": "line-1", "timestamp": "2026-11-23T10:00:00.000Z", "level": "INFO", "message": m });
    for (method, path, body) in [
        ("GET", "config", None),
        ("POST", "heartbeat", None),
        ("POST", "status", Some(json!({ "status": "IN_CALL" }))),
        ("POST", "events", Some(json!({ "events": [participant_join.clone()] }))),
        ("POST", "logs", Some(json!({ "entries": [log_line("isolation")] }))),
        ("POST", "logs/flush", None),
        ("POST", "chat/dequeue", None),
    ] {
        let own = rest(&mut app, method, &format!("/api/v1/bot/{a}/{path}"), Some(&token_a), body.clone()).await;
        assert_eq!(own.status, StatusCode::OK, "{path}: {}", own.body);
        let other = rest(&mut app, method, &format!("/api/v1/bot/{b}/{path}"), Some(&token_a), body.clone()).await;
        assert_eq!(other.status, StatusCode::UNAUTHORIZED, "{path}: {}", other.body);
        let none = rest(&mut app, method, &format!("/api/v1/bot/{b}/{path}"), None, body.clone()).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{path}: {}", none.body);
        assert!(none.json()["error"]["message"].as_str().unwrap().contains("X-Milo-Token"));
        // An API key is not a bot token.
        let with_key = app
            .raw(
                method,
                &format!("/api/v1/bot/{b}/{path}"),
                &[("x-milo-token", key.as_str())],
                body.map(|b| b.to_string()),
            )
            .await;
        assert_eq!(with_key.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let bearer = app
        .raw("POST", &format!("/api/v1/bot/{a}/heartbeat"), &[("authorization", &format!("Bearer {token_a}"))], None)
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
    // The owner's event and line were stored once each; nothing reached bot b.
    let stored = |table: &str, bot: i64, what: &str| {
        format!("SELECT count(*) AS n FROM {table} WHERE bot_id = {bot} AND {what}")
    };
    assert_eq!(app.count(&stored("events", a, "event_type = 'PARTICIPANT_JOIN'")).await, 1);
    assert_eq!(app.count(&stored("bot_logs", a, "message = 'isolation'")).await, 1);
    assert_eq!(app.count(&stored("events", b, "event_type = 'PARTICIPANT_JOIN'")).await, 0);
    assert_eq!(app.count(&stored("bot_logs", b, "true")).await, 0);
    // An unknown bot answers exactly like another bot's: no oracle of which ids exist.
    let missing = rest(&mut app, "GET", "/api/v1/bot/999999/config", Some(&token_a), None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let foreign = rest(&mut app, "GET", &format!("/api/v1/bot/{b}/config"), Some(&token_a), None).await;
    assert_eq!(missing.body, foreign.body);
    let bad_id = rest(&mut app, "GET", "/api/v1/bot/abc/config", Some(&token_a), None).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    // A new deployment issues a new token; the old one stops working within moments (tokens are
    // checked against each process's cache, which NOTIFY bot_state keeps current).
    let mut conn = app.state.pool.get().await.unwrap();
    let fresh = app::backend::services::bot_api::issue_token(&mut conn, a).await.unwrap();
    drop(conn);
    let mut refused = false;
    for _ in 0..100 {
        let r = rest(&mut app, "POST", &format!("/api/v1/bot/{a}/heartbeat"), Some(&token_a), None).await;
        if r.status == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "the old token still opens the heartbeat");
    assert_eq!(
        rest(&mut app, "GET", &format!("/api/v1/bot/{a}/config"), Some(&token_a), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        rest(&mut app, "POST", &format!("/api/v1/bot/{a}/heartbeat"), Some(&fresh), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_shared_legacy_token_works_only_when_enabled() {
    let legacy = "l".repeat(40);
    let mut app =
        TestApp::builder().var("LEGACY_BOT_TOKEN_ENABLED", "true").var("MILO_AUTH_TOKEN", &legacy).build().await;
    let key = app.user_with_key("Ada").await;
    let (id, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let r = rest(&mut app, "POST", &format!("/api/v1/bot/{id}/heartbeat"), Some(&legacy), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let mut plain = TestApp::builder().var("MILO_AUTH_TOKEN", &legacy).build().await;
    let key = plain.user_with_key("Bob").await;
    let (id, _) = plain.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let r = rest(&mut plain, "POST", &format!("/api/v1/bot/{id}/heartbeat"), Some(&legacy), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_reports_are_refused_whole_with_a_reason() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET, "recordingEnabled": true })).await;
    let path = format!("/api/v1/bot/{id}/events");
    let events = json!({ "events": [
        { "eventType": "IN_CALL", "eventTime": "2026-11-23T10:00:00Z" },
        { "eventType": "DANCING", "eventTime": "2026-11-23T10:00:00Z" },
    ] });
    let r = rest(&mut app, "POST", &path, Some(&token), Some(events)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("events[1].eventType") && r.body.contains("DANCING"), "{}", r.body);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM events WHERE bot_id = {id} AND event_type = 'IN_CALL'")).await,
        0
    );

    let too_many: Vec<Value> =
        (0..501).map(|_| json!({ "eventType": "IN_CALL", "eventTime": "2026-11-23T10:00:00Z" })).collect();
    let r = rest(&mut app, "POST", &path, Some(&token), Some(json!({ "events": too_many }))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);

    let r = rest(
        &mut app,
        "POST",
        &path,
        Some(&token),
        Some(json!({ "events": [{ "eventType": "IN_CALL", "eventTime": "yesterday" }] })),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.raw("POST", &path, &[("x-milo-token", &token)], Some("{not json".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    let status = format!("/api/v1/bot/{id}/status");
    let r = rest(&mut app, "POST", &status, Some(&token), Some(json!({ "status": "PARTYING" }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("IN_CALL"), "the message lists the statuses: {}", r.body);
    let r = rest(&mut app, "POST", &status, Some(&token), Some(json!({ "status": "DONE" }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "recording is enabled: {}", r.body);
    assert!(r.body.contains("recording"));
    // Another bot's prefix, or a path out of its own, is refused.
    for other in [format!("bots/{}/recordings/rec.mp4", id + 1), format!("bots/{id}/recordings/../x/rec.mp4")] {
        let r =
            rest(&mut app, "POST", &status, Some(&token), Some(json!({ "status": "DONE", "recording": other }))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{other}: {}", r.body);
        assert!(r.body.contains(&format!("bots/{id}/recordings/")), "the message names the prefix: {}", r.body);
    }
    let own = format!("bots/{id}/recordings/rec.mp4");
    let r = rest(&mut app, "POST", &status, Some(&token), Some(json!({ "status": "DONE", "recording": own }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Finished: the token opens nothing, so nothing more is written.
    let r = rest(&mut app, "POST", &status, Some(&token), Some(json!({ "status": "IN_CALL" }))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;

    let logs = format!("/api/v1/bot/{id}/logs");
    let r = rest(
        &mut app,
        "POST",
        &logs,
        Some(&token),
        Some(
            json!({ "entries": [{ "id": "1", "timestamp": "2026-11-23T10:00:00Z", "level": "LOUD", "message": "x" }] }),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("entries[0].level"), "{}", r.body);
}

#[tokio::test]
async fn a_chat_message_is_delivered_once() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    app.exec(&format!(
        "INSERT INTO bot_chat_messages (bot_id, user_id, message_text, status, sent_at) \
         SELECT {id}, user_id, 'first', 'queued', now() - interval '1 minute' FROM bots WHERE id = {id}"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO bot_chat_messages (bot_id, user_id, message_text, status) \
         SELECT {id}, user_id, 'second', 'queued' FROM bots WHERE id = {id}"
    ))
    .await;
    let path = format!("/api/v1/bot/{id}/chat/dequeue");
    let mut got = Vec::new();
    for _ in 0..3 {
        let r = rest(&mut app, "POST", &path, Some(&token), None).await;
        got.push(r.json()["message"]["messageText"].clone());
    }
    assert_eq!(got, vec![json!("first"), json!("second"), Value::Null]);
}

#[tokio::test]
async fn a_message_queued_after_the_bot_found_none_reaches_its_next_poll() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let path = format!("/api/v1/bot/{id}/chat/dequeue");
    // Nothing waits: the answer comes from the cache from now on.
    for _ in 0..2 {
        assert_eq!(rest(&mut app, "POST", &path, Some(&token), None).await.json()["message"], Value::Null);
    }
    assert!(app.state.heartbeats.is_cached(id));
    let sent =
        app.api("POST", "/api/v1/chat/send", &key, Some(json!({ "botIds": [id], "messageText": "hello" }))).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    // The trigger's notification reaches the cache within moments.
    let mut got = Value::Null;
    for _ in 0..100 {
        got = rest(&mut app, "POST", &path, Some(&token), None).await.json()["message"]["messageText"].clone();
        if got != Value::Null {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got, json!("hello"));
    assert_eq!(
        rest(&mut app, "POST", &path, Some(&token), None).await.json()["message"],
        Value::Null,
        "delivered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_batches_sent_at_once_by_many_bots_are_each_stored_whole() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    app.exec("UPDATE users SET custom_daily_bot_limit = 1000").await;
    app.exec("INSERT INTO subscriptions (user_id, plan) SELECT id, 'CUSTOM' FROM users").await;
    let mut bots = Vec::new();
    for _ in 0..8 {
        bots.push(app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await);
    }
    let mut sends = Vec::new();
    for (b, (id, token)) in bots.iter().enumerate() {
        for batch in 0..5 {
            let entries: Vec<Value> = (0..20)
                .map(|i| json!({ "id": format!("{b}-{batch}-{i}"), "timestamp": "2026-12-01T00:00:00Z", "level": "INFO", "message": format!("line {i}") }))
                .collect();
            let req = http::Request::post(format!("/api/v1/bot/{id}/logs"))
                .header("x-milo-token", token.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(json!({ "entries": entries }).to_string()))
                .unwrap();
            let router = app.router.clone();
            sends.push(tokio::spawn(async move { TestResponse::read(router.oneshot(req).await.unwrap()).await }));
        }
    }
    for s in sends {
        let r = s.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["received"], 20);
    }
    for (id, _) in &bots {
        assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id}")).await, 100);
    }
    // A bad batch is refused whole, naming the line, and costs the others nothing.
    let (id, token) = &bots[0];
    let bad =
        json!({ "entries": [{ "id": "x", "timestamp": "2026-12-01T00:00:00Z", "level": "LOUD", "message": "m" }] });
    let r = rest(&mut app, "POST", &format!("/api/v1/bot/{id}/logs"), Some(token), Some(bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("entries[0].level"), "{}", r.body);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id}")).await, 100);
}

// ---- the upstream tRPC wire format ----

#[tokio::test]
async fn the_owner_reads_a_bots_log_live_and_nobody_else_can() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let r = app.call_json("create_api_key", json!({ "name": "k" })).await;
    let key = r.json()["secret"].as_str().unwrap().to_owned();
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let entries: Vec<Value> = (0..3)
        .map(|i| json!({ "id": format!("l{i}"), "timestamp": "2026-11-23T10:00:00Z", "level": "WARN", "message": format!("m{i}") }))
        .collect();
    rest(&mut app, "POST", &format!("/api/v1/bot/{id}/logs"), Some(&token), Some(json!({ "entries": entries }))).await;

    let r = app.call_json("get_bot_logs", json!({ "id": id, "after": 0 })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let lines = r.json();
    assert_eq!(lines.as_array().unwrap().len(), 3);
    assert_eq!(lines[2]["message"], "m2");
    let last = lines[1]["seq"].as_i64().unwrap();
    let r = app.call_json("get_bot_logs", json!({ "id": id, "after": last })).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    app.forget_cookie();
    app.sign_up("Bob", "bob@example.com").await;
    let r = app.call_json("get_bot_logs", json!({ "id": id, "after": 0 })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test]
async fn a_finished_bots_log_moves_to_object_storage_and_reads_back_the_same() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let key =
        app.call_json("create_api_key", json!({ "name": "k" })).await.json()["secret"].as_str().unwrap().to_owned();
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let entries: Vec<Value> = (0..250)
        .map(|i| json!({ "id": format!("l{i}"), "timestamp": "2026-11-23T10:00:00Z", "level": "INFO", "message": format!("line {i}") }))
        .collect();
    let r =
        rest(&mut app, "POST", &format!("/api/v1/bot/{id}/logs"), Some(&token), Some(json!({ "entries": entries })))
            .await;
    assert_eq!(r.json()["received"], 250);
    let live = app.call_json("get_bot_logs", json!({ "id": id, "after": 0 })).await.json();

    // Not before the bot has ended, nor right after.
    let mut conn = app.state.pool.get().await.unwrap();
    let later = chrono::Utc::now() + chrono::Duration::minutes(2);
    use app::backend::services::log_archive::archive_finished;
    assert_eq!(archive_finished(&mut conn, &app.state.storage, later).await.unwrap(), 0);
    drop(conn);
    rest(&mut app, "POST", &format!("/api/v1/bot/{id}/status"), Some(&token), Some(json!({ "status": "DONE" }))).await;
    let mut conn = app.state.pool.get().await.unwrap();
    assert_eq!(archive_finished(&mut conn, &app.state.storage, chrono::Utc::now()).await.unwrap(), 0);
    assert_eq!(archive_finished(&mut conn, &app.state.storage, later).await.unwrap(), 250);
    drop(conn);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id}")).await, 0);
    let objects = app.state.storage.list(&format!("bots/{id}/logs/")).await.unwrap();
    assert_eq!(objects.len(), 1);
    assert!(objects[0].ends_with(".jsonl.gz"), "{objects:?}");

    // The history reads the same lines back, and paging by seq still works.
    let archived = app.call_json("get_bot_logs", json!({ "id": id, "after": 0 })).await;
    assert_eq!(archived.status, StatusCode::OK, "{}", archived.body);
    assert_eq!(archived.json(), live);
    let after = live[99]["seq"].as_i64().unwrap();
    let rest_of = app.call_json("get_bot_logs", json!({ "id": id, "after": after })).await.json();
    assert_eq!(rest_of.as_array().unwrap().len(), 150);
    assert_eq!(rest_of[0]["message"], "line 100");
}

#[tokio::test]
async fn a_pool_slot_token_opens_only_the_bot_its_slot_runs() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (other, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    app.exec(&format!(
        "INSERT INTO bot_pool_slots (meeting_platform, application_uuid, slot_name, status, assigned_bot_id) \
         VALUES ('google-meet', 'slot-uuid-1', 'pool-google-meet-001', 'HEALTHY', {id})"
    ))
    .await;
    let mut conn = app.state.pool.get().await.unwrap();
    let slot_token = app::backend::services::bot_api::issue_slot_token(&mut conn, "slot-uuid-1").await.unwrap();
    drop(conn);

    let r = rest(&mut app, "GET", "/api/v1/bot/slots/slot-uuid-1/config", Some(&slot_token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["id"], id);
    let q = crate::trpc::input(json!({ "0": { "json": { "poolSlotUuid": "slot-uuid-1" } } }));
    let r = app
        .raw(
            "GET",
            &format!("/api/trpc/infrastructure.coolify.pool.getSlot?batch=1&input={q}"),
            &[("x-milo-token", &slot_token)],
            None,
        )
        .await;
    assert_eq!(r.json()[0]["result"]["data"]["json"]["id"], id, "{}", r.body);
    // The slot's token opens its current bot's procedures, and no other bot.
    let r = rest(&mut app, "POST", &format!("/api/v1/bot/{id}/heartbeat"), Some(&slot_token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = rest(&mut app, "POST", &format!("/api/v1/bot/{other}/heartbeat"), Some(&slot_token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = rest(&mut app, "GET", "/api/v1/bot/slots/no-such-slot/config", Some(&slot_token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
