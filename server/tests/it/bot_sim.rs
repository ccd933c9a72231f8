//! Real `meeboter bot-sim` processes against the real HTTP stack and PostgreSQL, in both wire
//! formats: the contract end to end.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::support::{bind, bot_status as status, serve_on, wait_for_status as wait_for, TestApp};

/// Serves the app on 127.0.0.1 (a free port) until the test ends.
async fn listen(app: &TestApp) -> String {
    let (listener, url) = bind().await;
    serve_on(listener, app.router.clone());
    url
}

fn sim(url: &str, id: i64, token: &str, protocol: &str, extra: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_meeboter"))
        .arg("bot-sim")
        .args(["--protocol", protocol, "--heartbeat-secs", "0.2", "--join-secs", "0.2"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BOT_ID", id.to_string())
        .env("MILO_URL", url)
        .env("MILO_AUTH_TOKEN", token)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("start meeboter bot-sim")
}

async fn joins_and_leaves_when_removed(protocol: &str) {
    let mut app = TestApp::new().await;
    let url = listen(&app).await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij" })).await;
    app.exec(&format!(
        "INSERT INTO bot_chat_messages (bot_id, user_id, message_text, status) SELECT {id}, user_id, 'hello', 'queued' FROM bots WHERE id = {id}"
    ))
    .await;
    let mut child = sim(&url, id, &token, protocol, &[]);
    wait_for(&app, id, "IN_CALL").await;
    // Heartbeats, the chat message and log lines arrive while it is in the call.
    for _ in 0..100 {
        let delivered = app
            .count(&format!("SELECT count(*) AS n FROM bot_chat_messages WHERE bot_id = {id} AND status = 'sent'"))
            .await;
        let beat =
            app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND last_heartbeat IS NOT NULL")).await;
        let chat_logged = app
            .count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id} AND message LIKE '%hello%'"))
            .await;
        if delivered == 1 && beat == 1 && chat_logged == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id} AND message LIKE '%hello%'")).await,
        1
    );

    let r = app.api("POST", &format!("/api/v1/bots/{id}/remove-from-call"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("the bot leaves").unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(status(&app, id).await, "DONE");
    let r = app.api("GET", &format!("/api/v1/bots/{id}/events"), &key, None).await;
    let types: Vec<String> =
        r.json().as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap().to_owned()).collect();
    for t in ["JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "PARTICIPANT_JOIN", "USER_REMOVED_FROM_CALL", "DONE"] {
        assert!(types.contains(&t.to_owned()), "{t} missing from {types:?}");
    }
    // A status the bot reports as an event and then as a change is recorded once.
    for t in ["JOINING_CALL", "IN_CALL", "DONE"] {
        assert_eq!(types.iter().filter(|x| *x == t).count(), 1, "{t} twice in {types:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_bot_speaking_rest_joins_and_leaves_when_removed() {
    joins_and_leaves_when_removed("rest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_bot_speaking_trpc_joins_and_leaves_when_removed() {
    joins_and_leaves_when_removed("trpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_by_itself_ends_done_and_failures_end_as_they_should() {
    let mut app = TestApp::new().await;
    let url = listen(&app).await;
    let key = app.user_with_key("Ada").await;
    let meet = json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij", "recordingEnabled": true });

    let (id, token) = app.bot_with_token(&key, meet.clone()).await;
    let exit = sim(&url, id, &token, "trpc", &["--call-secs", "0.5"]).wait().await.unwrap();
    assert!(exit.success());
    assert_eq!(status(&app, id).await, "DONE");
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND recording IS NOT NULL")).await,
        1
    );

    let (id, token) = app.bot_with_token(&key, meet.clone()).await;
    let exit = sim(&url, id, &token, "rest", &["--fail", "fatal"]).wait().await.unwrap();
    assert_eq!(exit.code(), Some(1));
    assert_eq!(status(&app, id).await, "FATAL");

    // A crash leaves the bot IN_CALL with no more heartbeats (the health worker's case).
    let (id, token) = app.bot_with_token(&key, meet.clone()).await;
    let exit = sim(&url, id, &token, "rest", &["--fail", "crash"]).wait().await.unwrap();
    assert_eq!(exit.code(), Some(1));
    assert_eq!(status(&app, id).await, "IN_CALL");

    // A wrong token: the bot cannot even fetch its config.
    let (id, _) = app.bot_with_token(&key, meet).await;
    let exit = sim(&url, id, "mbt_wrong", "rest", &[]).wait().await.unwrap();
    assert!(!exit.success());
    assert_eq!(status(&app, id).await, "DEPLOYING");
}
