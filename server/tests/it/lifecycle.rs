//! The bot lifecycle as its one owner enforces it: what a bot may do to itself, what its token
//! opens and when it stops, how long a bot holds its resource, the health monitor, the
//! reconciler's leadership, and the database connections bot traffic may hold.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::backend::platforms::{
    BotLaunch, BoxFuture, Launched, Platform, PlatformError, PlatformRegistry, ResourceStatus, ResourceSummary,
};
use app::backend::workers::health::sweep_health;
use app::backend::workers::leader::Leadership;
use app::backend::workers::reconciler::Reconciler;
use app::model::platform::DeploymentPlatform;
use http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::screenshots::upload;
use crate::support::{bot_status, TestApp, TestResponse};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

async fn bot(app: &mut TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> TestResponse {
    app.raw(method, path, &[("x-milo-token", token)], body.map(|b| b.to_string())).await
}

async fn report(app: &mut TestApp, id: i64, token: &str, status: &str) -> TestResponse {
    bot(app, "POST", &format!("/api/v1/bot/{id}/status"), token, Some(json!({ "status": status }))).await
}

/// A bot deployed and moved by its own reports to `status`.
async fn bot_in(app: &mut TestApp, key: &str, statuses: &[&str]) -> (i64, String) {
    let (id, token) = app.bot_with_token(key, json!({ "meetingUrl": MEET })).await;
    for s in statuses {
        let r = report(app, id, &token, s).await;
        assert_eq!(r.status, StatusCode::OK, "{s}: {}", r.body);
    }
    (id, token)
}

fn message(r: &TestResponse) -> String {
    r.json()["error"]["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_finished_bots_token_opens_nothing_and_answers_like_a_wrong_token() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = bot_in(&mut app, &key, &["JOINING_CALL", "IN_CALL", "CALL_ENDED", "DONE"]).await;
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND token_hash IS NULL")).await, 1);
    let (_, other_token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;

    let calls: [(&str, String, Option<Value>); 7] = [
        ("GET", format!("/api/v1/bot/{id}/config"), None),
        ("POST", format!("/api/v1/bot/{id}/heartbeat"), None),
        ("POST", format!("/api/v1/bot/{id}/status"), Some(json!({ "status": "FATAL" }))),
        (
            "POST",
            format!("/api/v1/bot/{id}/events"),
            Some(json!({ "events": [
            { "eventType": "PARTICIPANT_JOIN", "eventTime": "2026-11-30T10:00:00Z", "data": { "participantId": "p" } }] })),
        ),
        (
            "POST",
            format!("/api/v1/bot/{id}/logs"),
            Some(json!({ "entries": [
            { "id": "l1", "timestamp": "2026-11-30T10:00:00Z", "level": "INFO", "message": "late" }] })),
        ),
        ("POST", format!("/api/v1/bot/{id}/logs/flush"), None),
        ("POST", format!("/api/v1/bot/{id}/chat/dequeue"), None),
    ];
    let unknown = bot(&mut app, "POST", "/api/v1/bot/999999/heartbeat", &token, None).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{}", unknown.body);
    for (method, path, body) in calls {
        let finished = bot(&mut app, method, &path, &token, body.clone()).await;
        assert_eq!(finished.status, StatusCode::UNAUTHORIZED, "{path}: {}", finished.body);
        let wrong = bot(&mut app, method, &path, &other_token, body).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}: {}", wrong.body);
        // No answer tells a finished bot, another bot's token and an unknown bot apart.
        assert_eq!(message(&finished), message(&wrong), "{path}");
        assert_eq!(message(&finished), message(&unknown), "{path}");
    }
    let png = server::bot_sim::fake_screenshot("DONE");
    let r = upload(
        &mut app,
        &format!("/api/bots/{id}/screenshots"),
        Some(&token),
        &png,
        &[("type", "manual"), ("state", "DONE")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id}")).await, 0);
    assert_eq!(bot_status(&app, id).await, "DONE");
}

#[tokio::test]
async fn a_bot_cannot_send_itself_back_to_the_queue_or_rewrite_its_history() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = bot_in(&mut app, &key, &["JOINING_CALL", "IN_CALL"]).await;
    for status in ["SCHEDULED", "QUEUED", "DEPLOYING", "JOINING_CALL"] {
        let r = report(&mut app, id, &token, status).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{status}: {}", r.body);
        assert!(message(&r).contains(status), "{}", r.body);
    }
    assert_eq!(bot_status(&app, id).await, "IN_CALL");
    assert_eq!(app.count("SELECT count(*) AS n FROM deployment_queue").await, 0);
    // The same status again is accepted and changes nothing; forward is fine.
    assert_eq!(report(&mut app, id, &token, "IN_CALL").await.status, StatusCode::OK);
    // tRPC says the same.
    let body = json!({ "0": { "json": { "id": id, "status": "QUEUED" } } }).to_string();
    let r = app.raw("POST", "/api/trpc/bots.updateStatus?batch=1", &[("x-milo-token", &token)], Some(body)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(bot_status(&app, id).await, "IN_CALL");
}

#[tokio::test]
async fn a_bot_asked_to_leave_reports_call_ended_then_done() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = bot_in(&mut app, &key, &["JOINING_CALL", "IN_CALL"]).await;
    let r = app.api("POST", &format!("/api/v1/bots/{id}/remove-from-call"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(report(&mut app, id, &token, "IN_CALL").await.status, StatusCode::CONFLICT);
    assert_eq!(report(&mut app, id, &token, "CALL_ENDED").await.status, StatusCode::OK);
    assert_eq!(report(&mut app, id, &token, "DONE").await.status, StatusCode::OK);
    let events = app.api("GET", &format!("/api/v1/bots/{id}/events"), &key, None).await.json();
    let types: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    for t in ["USER_REMOVED_FROM_CALL", "LEAVING", "CALL_ENDED", "DONE"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
}

/// A new bot whose heartbeat entry is cached: its id, token and heartbeat path.
async fn cached_bot(app: &mut TestApp) -> (i64, String, String) {
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let path = format!("/api/v1/bot/{id}/heartbeat");
    // The first heartbeat starts the cache's listener, which empties the cache once it listens.
    assert_eq!(bot(app, "POST", &path, &token, None).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bot(app, "POST", &path, &token, None).await.status, StatusCode::OK);
    assert!(app.state.heartbeats.is_cached(id));
    (id, token, path)
}

#[tokio::test]
async fn a_wrong_token_does_not_evict_the_real_bots_cache_entry() {
    let mut app = TestApp::new().await;
    let (id, _, path) = cached_bot(&mut app).await;
    assert_eq!(bot(&mut app, "POST", &path, "mbt_wrong", None).await.status, StatusCode::UNAUTHORIZED);
    assert!(app.state.heartbeats.is_cached(id), "a wrong token evicted the entry");
}

#[tokio::test]
async fn an_aged_cache_entry_answers_at_once_and_is_reloaded_in_the_background() {
    use app::backend::services::heartbeats::TTL;
    let mut app = TestApp::builder().var("DATABASE_BOT_POOL_SIZE", "1").build().await;
    let (id, token, path) = cached_bot(&mut app).await;
    app.state.heartbeats.backdate(id, TTL + Duration::from_secs(1));
    // The bots' only connection is busy (log writes, say): the aged entry answers anyway.
    let held = app.state.bot_pool.get().await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(2), bot(&mut app, "POST", &path, &token, None))
        .await
        .expect("a heartbeat with an aged entry waited for a connection");
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(app.state.heartbeats.entry_age(id).unwrap() >= TTL, "reloaded without a connection?");
    drop(held);
    // The background reload replaces it once a connection is free.
    let reloaded = async {
        while app.state.heartbeats.entry_age(id).is_none_or(|age| age >= TTL) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reloaded).await.expect("the aged entry was not reloaded");
}

/// A platform that runs whatever it is told and lists it as running until stopped.
#[derive(Default)]
struct Recorder {
    running: Mutex<Vec<(String, i64)>>,
    stopped: Mutex<Vec<String>>,
}

impl Platform for Recorder {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::Local
    }
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let identifier = format!("rec-{}", bot.bot_id);
            self.running.lock().unwrap().push((identifier.clone(), bot.bot_id));
            Ok(Launched { identifier })
        })
    }
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.running.lock().unwrap().retain(|(i, _)| i != identifier);
            self.stopped.lock().unwrap().push(identifier.to_owned());
            Ok(())
        })
    }
    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            let running = self.running.lock().unwrap().iter().any(|(i, _)| i == identifier);
            Ok(if running { ResourceStatus::Running } else { ResourceStatus::Gone })
        })
    }
    fn release(&self, _: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            Ok(self
                .running
                .lock()
                .unwrap()
                .iter()
                .map(|(i, b)| ResourceSummary {
                    identifier: i.clone(),
                    bot_id: Some(*b),
                    status: ResourceStatus::Running,
                })
                .collect())
        })
    }
}

#[tokio::test]
async fn a_bot_in_call_ended_keeps_its_resource_and_its_capacity_until_done() {
    let mut app = TestApp::builder().var("LOCAL_BOT_LIMIT", "1").build().await;
    let key = app.user_with_key("Ada").await;
    let recorder = Arc::new(Recorder::default());
    let platforms = Arc::new(PlatformRegistry::new(&app.state.config, vec![recorder.clone() as Arc<dyn Platform>]));
    let deployer =
        app::backend::deployer::Deployer::new(app.state.pool.clone(), app.state.config.clone(), platforms.clone());
    let reconciler = Reconciler::new(app.state.pool.clone(), platforms, app.state.config.clone());
    let first =
        app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await.json()["id"].as_i64().unwrap();
    let done = deployer.dispatch_once().await.unwrap();
    assert!(matches!(done[0].1, app::backend::deployer::Outcome::Deployed { .. }), "{done:?}");
    let token =
        app::backend::services::bot_api::issue_token(&mut app.state.pool.get().await.unwrap(), first).await.unwrap();
    for s in ["IN_CALL", "CALL_ENDED"] {
        assert_eq!(report(&mut app, first, &token, s).await.status, StatusCode::OK);
    }
    // Still uploading: the reconciler leaves it running, and it holds the only place.
    assert_eq!(reconciler.stop_finished().await.unwrap(), 0);
    assert_eq!(reconciler.stop_orphans().await.unwrap(), 0);
    assert!(recorder.stopped.lock().unwrap().is_empty());
    app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await;
    let done = deployer.dispatch_once().await.unwrap();
    assert!(done.is_empty(), "the limit counts CALL_ENDED: no room, nothing claimed: {done:?}");
    assert_eq!(app.count("SELECT count(*) AS n FROM bots WHERE status = 'QUEUED'").await, 1);
    // DONE: its resource is stopped and its place given to the next bot.
    assert_eq!(report(&mut app, first, &token, "DONE").await.status, StatusCode::OK);
    assert_eq!(reconciler.stop_finished().await.unwrap(), 1);
    assert_eq!(recorder.stopped.lock().unwrap().as_slice(), [format!("rec-{first}")]);
    tokio::time::sleep(app::backend::deployer::RETRY_AFTER).await;
    let done = deployer.dispatch_once().await.unwrap();
    assert!(matches!(done[0].1, app::backend::deployer::Outcome::Deployed { .. }), "{done:?}");
}

#[tokio::test]
async fn the_health_monitor_covers_every_status_a_bot_reports_and_spares_deploying_bots_that_heartbeat() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (ended, _) = bot_in(&mut app, &key, &["IN_CALL", "CALL_ENDED"]).await;
    let (beating, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (stuck, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    // Both DEPLOYING bots started long ago; one heartbeats (Teams and Zoom images never report
    // JOINING_CALL), the other never did.
    app.exec(&format!(
        "UPDATE bots SET status_changed_at = now() - interval '1 hour' WHERE id IN ({beating}, {stuck})"
    ))
    .await;
    assert_eq!(
        bot(&mut app, "POST", &format!("/api/v1/bot/{beating}/heartbeat"), &token, None).await.status,
        StatusCode::OK
    );
    app.state.heartbeats.flush().await.unwrap();
    let config = app.state.config.clone();
    let mut conn = app.state.pool.get().await.unwrap();
    assert_eq!(sweep_health(&mut conn, &config, chrono::Utc::now()).await.unwrap(), 1);
    drop(conn);
    assert_eq!(bot_status(&app, stuck).await, "FATAL");
    assert_eq!(bot_status(&app, beating).await, "DEPLOYING");
    assert_eq!(bot_status(&app, ended).await, "CALL_ENDED");
    // Silent past the heartbeat timeout: the CALL_ENDED bot and the heartbeating one end too.
    let later = chrono::Utc::now() + config.heartbeat_timeout + Duration::from_secs(1);
    let mut conn = app.state.pool.get().await.unwrap();
    assert_eq!(sweep_health(&mut conn, &config, later).await.unwrap(), 2);
    drop(conn);
    assert_eq!(bot_status(&app, ended).await, "FATAL");
    assert_eq!(bot_status(&app, beating).await, "FATAL");
    let events = app.api("GET", &format!("/api/v1/bots/{stuck}/events"), &key, None).await.json();
    assert!(events.as_array().unwrap().iter().any(|e| e["data"]["sub_code"] == "DEPLOYING_TIMEOUT"), "{events}");
}

#[tokio::test]
async fn one_replica_at_a_time_leads() {
    let app = TestApp::new().await;
    let url = app.state.config.database_url.expose_secret().to_owned();
    let mut a = Leadership::new(url.clone(), 42);
    let mut b = Leadership::new(url.clone(), 42);
    assert!(a.check().await);
    assert!(!b.check().await);
    assert!(a.check().await, "a leader keeps leading");
    drop(a);
    let mut took_over = false;
    for _ in 0..50 {
        if b.check().await {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(took_over, "the lock is released when the leader goes");
}

#[tokio::test]
async fn bot_calls_hold_at_most_one_connection() {
    // With a pool of one, a call that needed a second connection would wait for itself.
    let mut app = TestApp::builder().var("DATABASE_POOL_SIZE", "1").var("DATABASE_BOT_POOL_SIZE", "1").build().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    app.state.heartbeats.forget(id);
    let input = serde_json::to_string(&json!({ "0": { "json": { "botId": id } } })).unwrap();
    let path = format!("/api/trpc/bots.getConfig?batch=1&input={}", urlencode(&input));
    let r = tokio::time::timeout(Duration::from_secs(5), app.raw("GET", &path, &[("x-milo-token", &token)], None))
        .await
        .expect("a tRPC query waited for a second connection");
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.state.heartbeats.forget(id);
    let body = json!({ "0": { "json": { "id": id, "status": "IN_CALL" } } }).to_string();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        app.raw("POST", "/api/trpc/bots.updateStatus?batch=1", &[("x-milo-token", &token)], Some(body)),
    )
    .await
    .expect("a tRPC mutation waited for a second connection");
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn a_slow_screenshot_upload_holds_no_connection_while_its_body_arrives() {
    use tower::ServiceExt;
    let mut app = TestApp::builder().var("DATABASE_POOL_SIZE", "1").var("DATABASE_BOT_POOL_SIZE", "1").build().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (ct, body) = crate::screenshots::multipart(
        &server::bot_sim::fake_screenshot("IN_CALL"),
        &[("type", "manual"), ("state", "IN_CALL")],
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
    let stream = tokio_stream_from(rx);
    let req = http::Request::post(format!("/api/v1/bot/{id}/screenshots"))
        .header("content-type", ct)
        .header("x-milo-token", &token)
        .body(axum::body::Body::from_stream(stream))
        .unwrap();
    let router = app.router.clone();
    let pending = tokio::spawn(async move { router.oneshot(req).await.unwrap().status() });
    tx.send(Ok(body[..10].to_vec().into())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The upload is half-sent; the bot API's one connection is free for every other bot call.
    let path = format!("/api/v1/bot/{id}/config");
    let r = tokio::time::timeout(Duration::from_secs(5), app.raw("GET", &path, &[("x-milo-token", &token)], None))
        .await
        .expect("the upload held the bot API's only connection");
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    tx.send(Ok(body[10..].to_vec().into())).await.unwrap();
    drop(tx);
    assert_eq!(pending.await.unwrap(), StatusCode::CREATED);
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn bots_keep_their_own_connections_when_people_and_workers_hold_every_other_one() {
    // The main pool is exhausted (a flood of people's requests, a placement storm): a bot that
    // is not cached yet still heartbeats, reports its status and streams logs, on the bot
    // API's own pool. Before the bulkhead, such a bot went silent and was failed.
    let mut app = TestApp::builder().var("DATABASE_POOL_SIZE", "2").var("DATABASE_BOT_POOL_SIZE", "1").build().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    app.state.heartbeats.forget(id);
    let held = [app.state.pool.get().await.unwrap(), app.state.pool.get().await.unwrap()];
    let auth = [("x-milo-token", token.as_str())];
    let calls = [
        ("POST", format!("/api/v1/bot/{id}/heartbeat"), None),
        ("POST", format!("/api/v1/bot/{id}/status"), Some(json!({ "status": "JOINING_CALL" }).to_string())),
        (
            "POST",
            format!("/api/v1/bot/{id}/logs"),
            Some(json!({ "entries": [{ "id": "7d9f0c1e-2b1a-4c3d-9e8f-0a1b2c3d4e5f", "level": "INFO", "message": "joined", "timestamp": "2026-11-30T12:00:00Z" }] }).to_string()),
        ),
    ];
    for (method, path, body) in calls {
        let r = tokio::time::timeout(Duration::from_secs(5), app.raw(method, &path, &auth, body))
            .await
            .unwrap_or_else(|_| panic!("{method} {path} waited for the people's pool"));
        assert!(r.status.is_success(), "{method} {path}: {} {}", r.status, r.body);
    }
    // The buffered heartbeat is written on the bot pool too (here or by the flusher).
    tokio::time::timeout(Duration::from_secs(5), app.state.heartbeats.flush())
        .await
        .expect("writing heartbeats waited for the people's pool")
        .unwrap();
    drop(held);
    assert_eq!(bot_status(&app, id).await, "JOINING_CALL");
    let beat =
        app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND last_heartbeat IS NOT NULL")).await;
    assert_eq!(beat, 1, "the heartbeat was stored");
}
