//! The deployer against real PostgreSQL: the local platform with real `bot-sim` processes,
//! two dispatchers on one queue, capacity, platform errors, queue timeouts, the scheduler and
//! the health worker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::backend::deployer::{self, Deployer, Outcome};
use app::backend::platforms::local::LocalPlatform;
use app::backend::platforms::PlatformRegistry;
use app::backend::platforms::{
    BotLaunch, BoxFuture, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary,
};
use app::backend::workers::health::sweep_health;
use app::backend::workers::reconciler::Reconciler;
use app::backend::workers::scheduler::schedule_due;
use app::model::platform::DeploymentPlatform;
use http::StatusCode;
use serde_json::json;

use crate::support::{bind, bot_status, serve_on, wait_for_status, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

fn local() -> LocalPlatform {
    let args = ["--heartbeat-secs", "0.2", "--join-secs", "0.2"].map(String::from).to_vec();
    LocalPlatform::new(env!("CARGO_BIN_EXE_meeboter").into(), args)
}

/// A platform that starts nothing and answers at once (or after `delay`, or fails, when told to).
#[derive(Default)]
struct Stub {
    deployed: Mutex<Vec<i64>>,
    calls: AtomicUsize,
    fail: bool,
    delay: Option<Duration>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Platform for Stub {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::Local
    }
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail {
                return Err(PlatformError::unavailable("the stub refuses"));
            }
            assert!(bot.token.starts_with("mbt_"));
            self.deployed.lock().unwrap().push(bot.bot_id);
            Ok(Launched { identifier: format!("stub-{}", bot.bot_id) })
        })
    }
    fn stop<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn status<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async { Ok(ResourceStatus::Running) })
    }
    fn release(&self, _: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn registry(app: &TestApp, platform: Arc<dyn Platform>) -> Arc<PlatformRegistry> {
    Arc::new(PlatformRegistry::new(&app.state.config, vec![platform]))
}

fn deployer_with(app: &TestApp, platform: Arc<dyn Platform>) -> Deployer {
    Deployer::new(app.state.pool.clone(), app.state.config.clone(), registry(app, platform))
}

fn reconciler_with(app: &TestApp, platform: Arc<dyn Platform>) -> Reconciler {
    Reconciler::new(app.state.pool.clone(), registry(app, platform), app.state.config.clone())
}

async fn queued_bots(app: &mut TestApp, key: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let r = app.api("POST", "/api/v1/bots", key, Some(json!({ "meetingUrl": MEET }))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.json()["status"], "QUEUED");
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    ids
}

async fn events_of(app: &mut TestApp, key: &str, id: i64) -> Vec<serde_json::Value> {
    app.api("GET", &format!("/api/v1/bots/{id}/events"), key, None).await.json().as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_bot_runs_on_the_local_platform_until_removed() {
    let (listener, url) = bind().await;
    let mut app = TestApp::builder().var("MILO_URL", &url).build().await;
    serve_on(listener, app.router.clone());
    let key = app.user_with_key("Ada").await;
    let id = queued_bots(&mut app, &key, 1).await[0];
    let platform = local();
    let d = deployer_with(&app, Arc::new(platform.clone()));

    let done = d.dispatch_once().await.unwrap();
    let Outcome::Deployed { platform: kind, identifier } = &done[0].1 else { panic!("{done:?}") };
    assert_eq!(*kind, DeploymentPlatform::Local);
    let r = app.api("GET", &format!("/api/v1/bots/{id}"), &key, None).await;
    assert_eq!(r.json()["deploymentPlatform"], "local", "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM deployment_queue").await, 0);

    wait_for_status(&app, id, "IN_CALL").await;
    let process = platform.process(identifier).unwrap();
    assert!(process.pid > 0, "{process:?}");
    assert_eq!(process.state, "running");
    assert!(process.rss_bytes.unwrap() > 0, "{process:?}");

    let r = app.api("POST", &format!("/api/v1/bots/{id}/remove-from-call"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK);
    wait_for_status(&app, id, "DONE").await;
    for _ in 0..100 {
        if platform.status(identifier).await.unwrap() != ResourceStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(platform.status(identifier).await.unwrap(), ResourceStatus::Exited { code: Some(0) });
    let types: Vec<String> =
        events_of(&mut app, &key, id).await.iter().map(|e| e["eventType"].as_str().unwrap().to_owned()).collect();
    for t in ["QUEUED", "DEPLOYING", "JOINING_CALL", "IN_CALL", "USER_REMOVED_FROM_CALL", "DONE"] {
        assert!(types.contains(&t.to_owned()), "{t} missing from {types:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_bot_is_failed_by_the_health_worker_and_a_cancelled_one_is_stopped() {
    let (listener, url) = bind().await;
    let mut app = TestApp::builder().var("MILO_URL", &url).build().await;
    serve_on(listener, app.router.clone());
    let key = app.user_with_key("Ada").await;
    let ids = queued_bots(&mut app, &key, 2).await;
    let crashing = LocalPlatform::new(
        env!("CARGO_BIN_EXE_meeboter").into(),
        ["--heartbeat-secs", "0.2", "--join-secs", "0.2", "--fail", "crash"].map(String::from).to_vec(),
    );
    let d = deployer_with(&app, Arc::new(crashing));
    d.dispatch_once().await.unwrap();
    wait_for_status(&app, ids[0], "IN_CALL").await;
    wait_for_status(&app, ids[1], "IN_CALL").await;

    // Nothing happens before the timeout; after it the silent bots are FATAL.
    let mut conn = app.state.pool.get().await.unwrap();
    let config = app.state.config.clone();
    assert_eq!(sweep_health(&mut conn, &config, chrono::Utc::now()).await.unwrap(), 0);
    let later = chrono::Utc::now() + chrono::Duration::seconds(301);
    assert_eq!(sweep_health(&mut conn, &config, later).await.unwrap(), 2);
    drop(conn);
    assert_eq!(bot_status(&app, ids[0]).await, "FATAL");
    let events = events_of(&mut app, &key, ids[0]).await;
    assert!(
        events.iter().any(|e| e["eventType"] == "FATAL" && e["data"]["sub_code"] == "HEARTBEAT_TIMEOUT"),
        "{events:?}"
    );

    // A bot that is cancelled while running is stopped by the reconciler.
    let ids = queued_bots(&mut app, &key, 1).await;
    let platform = local();
    let d = deployer_with(&app, Arc::new(platform.clone()));
    let r = reconciler_with(&app, Arc::new(platform.clone()));
    let done = d.dispatch_once().await.unwrap();
    let Outcome::Deployed { identifier, .. } = &done[0].1 else { panic!("{done:?}") };
    wait_for_status(&app, ids[0], "IN_CALL").await;
    // The two crashed bots are FATAL: their processes are stopped; the running bot keeps its own.
    assert_eq!(r.stop_finished().await.unwrap(), 2);
    assert_eq!(platform.status(identifier).await.unwrap(), ResourceStatus::Running);
    let cancel = app.api("POST", &format!("/api/v1/bots/{}/remove-from-call", ids[0]), &key, None).await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
    app.exec(&format!("UPDATE bots SET status = 'FATAL' WHERE id = {}", ids[0])).await;
    assert_eq!(r.stop_finished().await.unwrap(), 1);
    assert!(matches!(platform.status(identifier).await.unwrap(), ResourceStatus::Exited { .. }));
    assert_eq!(r.stop_finished().await.unwrap(), 0, "teardown is recorded once confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_share_the_queue_without_double_deploys_or_exceeding_the_limit() {
    // Enough platform calls for one pass to claim every bot it has room for (plus the slack).
    let mut app =
        TestApp::builder().var("LOCAL_BOT_LIMIT", "7").var("DEPLOYMENT_QUEUE_MAX_CONCURRENT", "64").build().await;
    let key = app.user_with_key("Ada").await;
    app.exec("INSERT INTO subscriptions (user_id, plan) SELECT id, 'CUSTOM' FROM users").await;
    queued_bots(&mut app, &key, 20).await;
    let stub = Arc::new(Stub::default());
    let a = deployer_with(&app, stub.clone());
    let b = deployer_with(&app, stub.clone());
    let (ra, rb) = tokio::join!(a.dispatch_once(), b.dispatch_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let deployed = stub.deployed.lock().unwrap().clone();
    assert_eq!(deployed.len(), 7, "the limit holds: {deployed:?}");
    let mut unique = deployed.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 7, "no bot deployed twice");
    assert_eq!(ra.len() + rb.len(), 20, "every bot claimed exactly once");
    assert_eq!(ra.iter().chain(&rb).filter(|(_, o)| *o == Outcome::Waiting).count(), 13);
    assert_eq!(app.count("SELECT count(*) AS n FROM bots WHERE status = 'DEPLOYING'").await, 7);
    assert_eq!(app.count("SELECT count(*) AS n FROM deployment_queue WHERE status = 'WAITING'").await, 13);
    assert_eq!(app.count("SELECT count(*) AS n FROM bots WHERE token_hash IS NOT NULL").await, 7);

    // Two bots end: two more go out on the next pass (after the retry delay).
    app.exec(&format!("UPDATE bots SET status = 'DONE' WHERE id IN ({}, {})", deployed[0], deployed[1])).await;
    tokio::time::sleep(deployer::RETRY_AFTER).await;
    let again = a.dispatch_once().await.unwrap();
    assert_eq!(again.iter().filter(|(_, o)| matches!(o, Outcome::Deployed { .. })).count(), 2);
    assert_eq!(stub.deployed.lock().unwrap().len(), 9);
}

#[tokio::test]
async fn a_failing_only_platform_leaves_the_bot_waiting_then_fatal_with_the_reason() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let id = queued_bots(&mut app, &key, 1).await[0];
    let failing = Arc::new(Stub { fail: true, ..Stub::default() });
    let d = deployer_with(&app, failing.clone());
    let done = d.dispatch_once().await.unwrap();
    assert_eq!(done, vec![(id, Outcome::Waiting)], "no other platform: the bot waits");
    assert_eq!(bot_status(&app, id).await, "QUEUED");
    assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
    let events = events_of(&mut app, &key, id).await;
    assert!(
        events.iter().any(|e| e["eventType"] == "QUEUED"
            && e["data"]["description"].as_str().unwrap().contains("Deployment on local failed")),
        "{events:?}"
    );
    // The platform's own words are for operators' logs, never the owner's events.
    assert!(!format!("{events:?}").contains("the stub refuses"), "{events:?}");
    // The failing platform is skipped (not called again) while it is unhealthy.
    app.exec("UPDATE deployment_queue SET next_attempt_at = now()").await;
    assert_eq!(d.dispatch_once().await.unwrap(), vec![], "nothing has room: nothing is claimed");
    assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
    // The queue timeout ends it, saying which limit and why.
    app.exec("UPDATE deployment_queue SET timeout_at = now() - interval '1 second', next_attempt_at = now()").await;
    assert_eq!(d.dispatch_once().await.unwrap(), vec![(id, Outcome::TimedOut)]);
    assert_eq!(bot_status(&app, id).await, "FATAL");
    let events = events_of(&mut app, &key, id).await;
    let fatal = events.iter().find(|e| e["eventType"] == "FATAL").unwrap();
    assert_eq!(fatal["data"]["sub_code"], "GLOBAL_QUEUE_TIMEOUT");
    assert!(fatal["data"]["description"].as_str().unwrap().contains("local is failing"), "{fatal}");

    // No room anywhere and the queue timeout passed.
    let mut app = TestApp::builder().var("LOCAL_BOT_LIMIT", "1").build().await;
    let key = app.user_with_key("Bob").await;
    let ids = queued_bots(&mut app, &key, 2).await;
    let stub = Arc::new(Stub::default());
    let d = deployer_with(&app, stub.clone());
    d.dispatch_once().await.unwrap();
    app.exec("UPDATE deployment_queue SET timeout_at = now() - interval '1 second', next_attempt_at = now()").await;
    let done = d.dispatch_once().await.unwrap();
    let deployed = stub.deployed.lock().unwrap()[0];
    let waiting = if deployed == ids[0] { ids[1] } else { ids[0] };
    assert_eq!(done, vec![(waiting, Outcome::TimedOut)]);
    assert_eq!(bot_status(&app, waiting).await, "FATAL");
    assert_eq!(app.count("SELECT count(*) AS n FROM deployment_queue").await, 0);
}

#[tokio::test]
async fn scheduled_bots_enter_the_queue_at_their_lead_time_and_cancelled_ones_are_skipped() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let start = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET, "startTime": start }))).await;
    assert_eq!(r.json()["status"], "SCHEDULED");
    let id = r.json()["id"].as_i64().unwrap();
    let mut conn = app.state.pool.get().await.unwrap();
    let config = app.state.config.clone();
    assert_eq!(schedule_due(&mut conn, &config, chrono::Utc::now()).await.unwrap(), 0);
    let soon = chrono::Utc::now() + chrono::Duration::minutes(116);
    assert_eq!(schedule_due(&mut conn, &config, soon).await.unwrap(), 1);
    drop(conn);
    assert_eq!(bot_status(&app, id).await, "QUEUED");

    let r = app.api("POST", &format!("/api/v1/bots/{id}/cancel"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let stub = Arc::new(Stub::default());
    let done = deployer_with(&app, stub.clone()).dispatch_once().await.unwrap();
    assert!(done.iter().all(|(_, o)| *o == Outcome::Skipped), "{done:?}");
    assert_eq!(stub.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_the_configured_number_of_platform_calls_run_at_once() {
    let mut app = TestApp::builder().var("DEPLOYMENT_QUEUE_MAX_CONCURRENT", "2").build().await;
    let key = app.user_with_key("Ada").await;
    queued_bots(&mut app, &key, 5).await;
    let stub = Arc::new(Stub { delay: Some(Duration::from_millis(100)), ..Stub::default() });
    let done = deployer_with(&app, stub.clone()).dispatch_once().await.unwrap();
    assert_eq!(done.iter().filter(|(_, o)| matches!(o, Outcome::Deployed { .. })).count(), 5);
    assert_eq!(stub.most_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_pass_holds_at_most_a_quarter_of_the_pool() {
    let mut app = TestApp::builder().var("DATABASE_POOL_SIZE", "8").var("LOCAL_BOT_LIMIT", "100").build().await;
    let key = app.user_with_key("Ada").await;
    app.exec("UPDATE users SET custom_daily_bot_limit = 1000").await;
    queued_bots(&mut app, &key, 40).await;
    let stub = Arc::new(Stub { delay: Some(Duration::from_millis(20)), ..Stub::default() });
    let d = deployer_with(&app, stub.clone());
    let pool = app.state.pool.clone();
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let watching = watching.clone();
        tokio::spawn(async move {
            let mut most = 0;
            while watching.load(Ordering::SeqCst) {
                let s = pool.status();
                most = most.max(s.size.saturating_sub(s.available));
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            most
        })
    };
    let done = d.dispatch_once().await.unwrap();
    watching.store(false, Ordering::SeqCst);
    let most = sampler.await.unwrap();
    assert_eq!(done.iter().filter(|(_, o)| matches!(o, Outcome::Deployed { .. })).count(), 40);
    assert!(most <= Deployer::db_budget(8), "a pass held {most} of 8 connections");
}
