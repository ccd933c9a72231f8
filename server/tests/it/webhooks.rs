//! Webhooks end to end: a receiver started here verifies every request with the Standard
//! Webhooks specification's own library (`standardwebhooks` from PyPI, in target/py-venv), never
//! with Meeboter's code. Events arrive once per success, in order per bot, after 500s and
//! timeouts; a replica killed mid-delivery loses nothing; outbound requests are guarded.

use std::process::Stdio;
use std::time::{Duration, Instant};

use app::backend::services::bots::validate::UrlPolicy;
use app::backend::services::webhooks as svc;
use app::backend::webhooks::delivery::deliver_due;
use app::backend::webhooks::sender::Sender;
use http::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{free_port, TestApp};

/// The receiver: a Python process on 127.0.0.1, killed when dropped.
struct Receiver {
    _child: Child,
    base: String,
    http: reqwest::Client,
}

impl Receiver {
    async fn start() -> Receiver {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let python = format!("{root}/target/py-venv/bin/python");
        assert!(
            std::path::Path::new(&python).exists(),
            "{python} is missing: run .config/py-venv.sh (./dev test does) for the standardwebhooks receiver"
        );
        let mut child = Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/webhooks/receiver.py"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).await.unwrap();
        let port = line.trim().strip_prefix("PORT ").expect("the receiver prints its port").to_owned();
        Receiver { _child: child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn config(&self, path: &str, secret: &str, script: &[&str]) {
        let body = json!({ "path": path, "secret": secret, "script": script });
        self.http.post(self.url("/_config")).json(&body).send().await.unwrap().error_for_status().unwrap();
    }

    async fn script(&self, path: &str, script: &[&str]) {
        let body = json!({ "path": path, "script": script });
        self.http.post(self.url("/_config")).json(&body).send().await.unwrap().error_for_status().unwrap();
    }

    /// Every request received on `path`.
    async fn log(&self, path: &str) -> Vec<Value> {
        let all: Vec<Value> = self.http.get(self.url("/_log")).send().await.unwrap().json().await.unwrap();
        all.into_iter().filter(|e| e["path"] == path).collect()
    }
}

/// The statuses (or event types) of the verified events received on `path`, in arrival order,
/// once per successful answer.
async fn received(r: &Receiver, path: &str) -> Vec<String> {
    r.log(path)
        .await
        .into_iter()
        .filter(|e| e["verified"] == true && e["action"] == "ok")
        .map(|e| {
            let ev = &e["event"];
            ev["data"]["status"].as_str().map(str::to_owned).unwrap_or_else(|| ev["type"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    app.count(&format!("SELECT id AS n FROM users WHERE email = '{}@example.com'", name.to_lowercase())).await
}

/// Runs the sender passes until nothing is pending or `limit` passes.
async fn drain(app: &TestApp, sender: &Sender, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        deliver_due(&app.state.pool, sender, &app.state.config.webhooks).await.unwrap();
        if app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'").await == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "deliveries still pending after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn report(app: &mut TestApp, id: i64, token: &str, body: Value) {
    let r =
        app.raw("POST", &format!("/api/v1/bot/{id}/status"), &[("x-milo-token", token)], Some(body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn bot(callback: &str, recording: bool) -> Value {
    json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij", "callbackUrl": callback, "recordingEnabled": recording })
}

#[tokio::test]
async fn every_event_reaches_the_endpoint_and_the_callback_signed_in_order_once() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let uid = user_id(&app, "Ada").await;
    let mut conn = app.state.pool.get().await.unwrap();
    let policy = UrlPolicy::for_webhooks(&app.state.config);
    let endpoint = svc::create(&mut conn, policy, uid, &receiver.url("/account"), "all events").await.unwrap();
    assert!(endpoint.secret.starts_with("whsec_"));
    receiver.config("/account", &endpoint.secret, &[]).await;
    drop(conn);

    let (id, token) = app.bot_with_token(&key, bot(&receiver.url("/callback"), true)).await;
    // The callback row was made with the bot; showing its secret means making a new one.
    let mut conn = app.state.pool.get().await.unwrap();
    let endpoints = svc::list(&mut conn, uid).await.unwrap();
    let callback = endpoints.iter().find(|e| e.is_callback()).unwrap();
    let callback_secret = svc::rotate_secret(&mut conn, uid, callback.id).await.unwrap().secret;
    receiver.config("/callback", &callback_secret, &[]).await;
    drop(conn);

    report(&mut app, id, &token, json!({ "status": "JOINING_CALL" })).await;
    report(&mut app, id, &token, json!({ "status": "IN_CALL" })).await;
    let key_of_recording = format!("bots/{id}/recordings/meeting.wav");
    report(&mut app, id, &token, json!({ "status": "DONE", "recording": key_of_recording })).await;

    let sender = Sender::new(&app.state.config);
    drain(&app, &sender, Duration::from_secs(20)).await;
    let want = ["QUEUED", "DEPLOYING", "JOINING_CALL", "IN_CALL", "DONE", "bot.recording_ready"];
    // bot_with_token queues the bot itself only when it was scheduled: it starts QUEUED here.
    let want: Vec<&str> = want.into_iter().filter(|s| *s != "QUEUED").collect();
    assert_eq!(received(&receiver, "/account").await, want);
    assert_eq!(received(&receiver, "/callback").await, want);
    for path in ["/account", "/callback"] {
        let log = receiver.log(path).await;
        assert!(log.iter().all(|e| e["verified"] == true), "{log:?}");
        let mut ids: Vec<&str> = log.iter().map(|e| e["id"].as_str().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), log.len(), "each event once: {log:?}");
        let done = log.iter().find(|e| e["event"]["data"]["status"] == "DONE").unwrap();
        assert_eq!(done["event"]["type"], "bot.status_changed");
        assert_eq!(done["event"]["data"]["botId"], id);
        assert_eq!(done["event"]["data"]["previousStatus"], "IN_CALL");
        let rec = log.iter().find(|e| e["event"]["type"] == "bot.recording_ready").unwrap();
        assert_eq!(rec["event"]["data"]["recordingKey"], key_of_recording);
    }
    // The same event has the same id at every destination.
    let a: Vec<Value> = receiver.log("/account").await.into_iter().map(|e| e["id"].clone()).collect();
    let c: Vec<Value> = receiver.log("/callback").await.into_iter().map(|e| e["id"].clone()).collect();
    assert_eq!(a, c);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'DELIVERED' AND attempts = 1").await,
        10
    );
}

#[tokio::test]
async fn failures_are_retried_with_back_off_and_later_events_wait_their_turn() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::builder().var("WEBHOOK_TIMEOUT_SECS", "1").var("WEBHOOK_RETRY_BASE_SECS", "1").build().await;
    let key = app.user_with_key("Bo").await;
    let uid = user_id(&app, "Bo").await;
    let mut conn = app.state.pool.get().await.unwrap();
    let policy = UrlPolicy::for_webhooks(&app.state.config);
    let endpoint = svc::create(&mut conn, policy, uid, &receiver.url("/a"), "").await.unwrap();
    drop(conn);
    // A 500, then no answer within the timeout, then success.
    receiver.config("/a", &endpoint.secret, &["500", "hang:3", "ok"]).await;
    let (id, token) = app.bot_with_token(&key, bot("", false)).await;
    report(&mut app, id, &token, json!({ "status": "JOINING_CALL" })).await;

    let sender = Sender::new(&app.state.config);
    drain(&app, &sender, Duration::from_secs(30)).await;
    let log = receiver.log("/a").await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["500", "hang:3", "ok", "ok"], "{log:?}");
    // The first event was tried three times with one id; the second came only after it.
    assert_eq!(log[0]["id"], log[1]["id"]);
    assert_eq!(log[1]["id"], log[2]["id"]);
    assert_ne!(log[2]["id"], log[3]["id"]);
    assert_eq!(received(&receiver, "/a").await, ["DEPLOYING", "JOINING_CALL"]);
    let mut conn = app.state.pool.get().await.unwrap();
    let page = svc::deliveries(&mut conn, uid, endpoint.endpoint.id, 1, 25).await.unwrap();
    let first = page.data.last().unwrap();
    assert_eq!((first.status.as_str(), first.attempts, first.last_status_code), ("DELIVERED", 3, Some(204)));
    assert!(first.last_error.is_none());
    let endpoint_now = svc::list(&mut conn, uid).await.unwrap().into_iter().find(|e| !e.is_callback()).unwrap();
    assert_eq!(endpoint_now.consecutive_failures, 0, "a success ends the failure run");

    // Resend: the same event id and body, once more.
    let again = svc::resend(&mut conn, uid, first.id).await.unwrap();
    assert_eq!((again.event_id.as_str(), again.status.as_str()), (first.event_id.as_str(), "PENDING"));
    drop(conn);
    drain(&app, &sender, Duration::from_secs(10)).await;
    let log = receiver.log("/a").await;
    assert_eq!(log.last().unwrap()["id"], log[0]["id"]);
}

#[tokio::test]
async fn an_endpoint_failing_long_enough_is_disabled_and_resumes_in_order_when_enabled() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::builder()
        .var("WEBHOOK_RETRY_BASE_SECS", "1")
        .var("WEBHOOK_DISABLE_AFTER_HOURS", "0")
        .var("WEBHOOK_DISABLE_AFTER_FAILURES", "3")
        .build()
        .await;
    let key = app.user_with_key("Cy").await;
    let uid = user_id(&app, "Cy").await;
    let mut conn = app.state.pool.get().await.unwrap();
    let policy = UrlPolicy::for_webhooks(&app.state.config);
    let endpoint = svc::create(&mut conn, policy, uid, &receiver.url("/a"), "").await.unwrap();
    drop(conn);
    receiver.config("/a", &endpoint.secret, &["500", "500", "500"]).await;
    let (id, token) = app.bot_with_token(&key, bot("", false)).await;
    report(&mut app, id, &token, json!({ "status": "JOINING_CALL" })).await;
    let sender = Sender::new(&app.state.config);
    let deadline = Instant::now() + Duration::from_secs(20);
    let disabled = loop {
        deliver_due(&app.state.pool, &sender, &app.state.config.webhooks).await.unwrap();
        let mut conn = app.state.pool.get().await.unwrap();
        let e = svc::list(&mut conn, uid).await.unwrap().into_iter().find(|e| !e.is_callback()).unwrap();
        if !e.enabled {
            break e;
        }
        assert!(Instant::now() < deadline, "never disabled: {e:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reason = disabled.disabled_reason.unwrap();
    assert!(reason.contains("3 failed attempts") && reason.contains("answered 500"), "{reason}");
    // Its events wait, untouched.
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'").await, 2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    deliver_due(&app.state.pool, &sender, &app.state.config.webhooks).await.unwrap();
    assert_eq!(receiver.log("/a").await.len(), 3, "nothing is sent to a disabled endpoint");

    let mut conn = app.state.pool.get().await.unwrap();
    let enabled = svc::set_enabled(&mut conn, uid, endpoint.endpoint.id, true).await.unwrap();
    assert!(enabled.enabled && enabled.disabled_reason.is_none() && enabled.consecutive_failures == 0);
    drop(conn);
    drain(&app, &sender, Duration::from_secs(10)).await;
    assert_eq!(received(&receiver, "/a").await, ["DEPLOYING", "JOINING_CALL"]);
}

#[tokio::test]
async fn outbound_requests_refuse_private_addresses_other_hosts_and_huge_answers() {
    let receiver = Receiver::start().await;
    let app = TestApp::builder().var("WEBHOOK_TIMEOUT_SECS", "2").build().await;
    let secret = app::backend::webhooks::signing::new_secret();
    receiver
        .config("/a", &secret, &[&format!("redirect:{}", receiver.url("/b").replace("127.0.0.1", "localhost"))])
        .await;
    receiver.config("/b", &secret, &[]).await;
    // Development allows loopback; a redirect to another host name is still refused.
    let sender = Sender::new(&app.state.config);
    let a = sender.send(&receiver.url("/a"), "msg_1", &secret, "{}").await;
    assert_eq!(a.error.as_deref(), Some("refused a redirect to another host (localhost)"), "{a:?}");
    assert!(receiver.log("/b").await.is_empty());
    // An answer is read only up to the cap and kept only in part.
    receiver.script("/a", &["big"]).await;
    let a = sender.send(&receiver.url("/a"), "msg_2", &secret, "{}").await;
    assert!(a.delivered(), "{a:?}");
    assert_eq!(a.response.map(|r| r.len()), Some(app::backend::webhooks::sender::KEPT_RESPONSE_CHARS));
    // Production policy: the receiver on 127.0.0.1 (and `localhost`) is refused, never contacted.
    let strict = Sender::with(UrlPolicy::default(), Duration::from_secs(2));
    let before = receiver.log("/a").await.len();
    for url in [receiver.url("/a"), receiver.url("/a").replace("127.0.0.1", "localhost")] {
        let a = strict.send(&url, "msg_3", &secret, "{}").await;
        assert!(a.error.as_deref().is_some_and(|e| e.contains("WEBHOOK_ALLOW_PRIVATE_NETWORKS")), "{url}: {a:?}");
    }
    assert_eq!(receiver.log("/a").await.len(), before);
    // ... unless the operator allows private networks.
    let open = Sender::with(UrlPolicy { allow_loopback: false, allow_private: true }, Duration::from_secs(2));
    assert!(open.send(&receiver.url("/a"), "msg_4", &secret, "{}").await.delivered());
}

#[tokio::test]
async fn endpoints_and_deliveries_are_their_owners_alone_and_bad_urls_get_a_clear_422() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::new().await;
    app.sign_up("Dee", "dee@example.com").await;
    let r = app.call_json("create_webhook_endpoint", json!({ "url": "http://10.0.0.5/hook", "description": "" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("public host"), "{}", r.body);
    let r = app.call_json("create_webhook_endpoint", json!({ "url": "not a url", "description": "" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.call_json("create_webhook_endpoint", json!({ "url": receiver.url("/a"), "description": "mine" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.json()["endpoint"]["id"].as_i64().unwrap();
    let r = app.call_json("list_webhook_endpoints", json!({})).await;
    for e in r.json().as_array().unwrap() {
        assert!(e["secretHint"].as_str().unwrap().ends_with('…'), "only a hint is listed: {e}");
        assert!(e.get("secret").is_none());
    }
    let mut other = app.sibling();
    other.sign_up("Eve", "eve@example.com").await;
    for (endpoint, body) in [
        ("list_webhook_deliveries", json!({ "endpoint_id": id, "page": 1 })),
        ("rotate_webhook_secret", json!({ "id": id })),
        ("set_webhook_enabled", json!({ "id": id, "enabled": false })),
        ("delete_webhook_endpoint", json!({ "id": id })),
    ] {
        let r = other.call_json(endpoint, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{endpoint}: {}", r.body);
    }
    app.forget_cookie();
    let r = app.call_json("list_webhook_endpoints", json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A real replica is killed (SIGKILL) while its attempt waits for the receiver; another replica
/// delivers the event once the claim lapses, and the events after it in order.
#[tokio::test]
async fn a_replica_killed_mid_delivery_loses_nothing() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Fay").await;
    let uid = user_id(&app, "Fay").await;
    let mut conn = app.state.pool.get().await.unwrap();
    let policy = UrlPolicy::for_webhooks(&app.state.config);
    let endpoint = svc::create(&mut conn, policy, uid, &receiver.url("/a"), "").await.unwrap();
    drop(conn);
    receiver.config("/a", &endpoint.secret, &["hang:30"]).await;
    let (id, token) = app.bot_with_token(&key, bot("", false)).await;
    report(&mut app, id, &token, json!({ "status": "JOINING_CALL" })).await;
    // Finished, so the replicas' workers have nothing else to do with the bot.
    report(&mut app, id, &token, json!({ "status": "DONE" })).await;

    let database_url = app.state.config.database_url.clone();
    let spawn = || {
        use secrecy::ExposeSecret;
        let storage = format!("{}/storage/webhook-replica", env!("CARGO_TARGET_TMPDIR"));
        Command::new(env!("CARGO_BIN_EXE_meeboter"))
            .args(["serve", "--addr", &format!("127.0.0.1:{}", free_port())])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MEEBOTER_ENV", "development")
            .env("DATABASE_URL", database_url.expose_secret())
            .env("DATABASE_POOL_SIZE", "4")
            .env("STORAGE_DIR", storage)
            .env("LEPTOS_OUTPUT_NAME", "meeboter")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("RUST_LOG", "warn")
            .env("WEBHOOK_TIMEOUT_SECS", "2")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start meeboter serve")
    };
    let mut first = spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.log("/a").await.is_empty() {
        assert!(Instant::now() < deadline, "the first replica never attempted the delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'").await, 3);

    let _second = spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'").await > 0 {
        assert!(Instant::now() < deadline, "the second replica never delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = receiver.log("/a").await;
    assert_eq!(log[0]["action"], "hang:30");
    assert_eq!(log[0]["id"], log[1]["id"], "the interrupted event is delivered again: {log:?}");
    assert_eq!(received(&receiver, "/a").await, ["DEPLOYING", "JOINING_CALL", "DONE"]);
    assert_eq!(
        app.count("SELECT attempts::bigint AS n FROM webhook_deliveries ORDER BY id LIMIT 1").await,
        2,
        "the killed attempt counts"
    );
}
