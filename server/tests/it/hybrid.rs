//! The hybrid deployer over several platforms against real PostgreSQL: failover and platform
//! health, the bot's own faults, per-platform waits, throttling and quotas, the queue
//! timeouts' sub-codes, the recovery of placements a crashed replica left, and queue positions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::backend::deployer::{Deployer, Outcome};
use app::backend::platforms::{
    BotLaunch, BoxFuture, ErrorKind, Launched, Platform, PlatformError, PlatformRegistry, ResourceStatus,
    ResourceSummary,
};
use app::model::platform::DeploymentPlatform::{self, K8s, Local};
use http::StatusCode;
use serde_json::json;

use crate::support::{bot_status, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

/// A platform whose answers the test sets: success, or an error of a kind.
struct Scripted {
    kind: DeploymentPlatform,
    fail_with: Mutex<Option<ErrorKind>>,
    deployed: Mutex<Vec<i64>>,
    calls: AtomicUsize,
    probes: AtomicUsize,
    /// What `list` (and so `find`) answers.
    running: Mutex<Vec<ResourceSummary>>,
    stopped: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(kind: DeploymentPlatform) -> Arc<Self> {
        Arc::new(Scripted {
            kind,
            fail_with: Mutex::new(None),
            deployed: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            probes: AtomicUsize::new(0),
            running: Mutex::new(Vec::new()),
            stopped: Mutex::new(Vec::new()),
        })
    }
    fn failing(kind: DeploymentPlatform, e: ErrorKind) -> Arc<Self> {
        let s = Self::new(kind);
        s.set(Some(e));
        s
    }
    fn set(&self, e: Option<ErrorKind>) {
        *self.fail_with.lock().unwrap() = e;
    }
    fn deployed(&self) -> Vec<i64> {
        self.deployed.lock().unwrap().clone()
    }
}

impl Platform for Scripted {
    fn kind(&self) -> DeploymentPlatform {
        self.kind
    }
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(kind) = *self.fail_with.lock().unwrap() {
                return Err(PlatformError::new(kind, "scripted failure"));
            }
            self.deployed.lock().unwrap().push(bot.bot_id);
            let identifier = format!("{}-{}", self.kind.as_str(), bot.bot_id);
            self.running.lock().unwrap().push(ResourceSummary {
                identifier: identifier.clone(),
                bot_id: Some(bot.bot_id),
                status: ResourceStatus::Running,
            });
            Ok(Launched { identifier })
        })
    }
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.stopped.lock().unwrap().push(identifier.to_owned());
            self.running.lock().unwrap().retain(|r| r.identifier != identifier);
            Ok(())
        })
    }
    fn status<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async { Ok(ResourceStatus::Running) })
    }
    fn release(&self, _: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            self.probes.fetch_add(1, Ordering::SeqCst);
            match *self.fail_with.lock().unwrap() {
                Some(kind) => Err(PlatformError::new(kind, "scripted probe failure")),
                None => Ok(()),
            }
        })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move { Ok(self.running.lock().unwrap().clone()) })
    }
}

/// An app with k8s then local, each with a limit of 5, and quick back-offs. (The app's own k8s
/// driver talks to the fake Kubernetes API; the deployers under test get scripted platforms.)
async fn two_platforms(extra: &[(&str, &str)]) -> (TestApp, String) {
    let kubeconfig = crate::fake_k8s::FakeK8s::default().start().await;
    let mut b = TestApp::builder()
        .var("K8S_KUBECONFIG", &kubeconfig)
        .var("PLATFORM_PRIORITY", "k8s,local")
        .var("K8S_BOT_LIMIT", "5")
        .var("LOCAL_BOT_LIMIT", "5")
        .var("PLATFORM_BACKOFF_MS", "200")
        .var("PLATFORM_BACKOFF_MAX_MS", "1000");
    for (k, v) in extra {
        b = b.var(k, v);
    }
    let mut app = b.build().await;
    let key = app.user_with_key("Ada").await;
    app.exec("UPDATE users SET custom_daily_bot_limit = 1000").await;
    (app, key)
}

fn deployer(app: &TestApp, platforms: Vec<Arc<dyn Platform>>) -> Deployer {
    let registry = Arc::new(PlatformRegistry::new(&app.state.config, platforms));
    Deployer::new(app.state.pool.clone(), app.state.config.clone(), registry)
}

async fn queue(app: &mut TestApp, key: &str, n: usize, body: serde_json::Value) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let r = app.api("POST", "/api/v1/bots", key, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    ids
}

async fn events(app: &mut TestApp, key: &str, id: i64) -> Vec<serde_json::Value> {
    app.api("GET", &format!("/api/v1/bots/{id}/events"), key, None).await.json().as_array().unwrap().clone()
}

async fn platform_of(app: &mut TestApp, key: &str, id: i64) -> String {
    let r = app.api("GET", &format!("/api/v1/bots/{id}"), key, None).await;
    r.json()["deploymentPlatform"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_platform_is_failed_over_at_once_marked_unhealthy_and_recovers_after_a_probe() {
    let (mut app, key) = two_platforms(&[]).await;
    let ids = queue(&mut app, &key, 3, json!({ "meetingUrl": MEET })).await;
    let k8s = Scripted::failing(K8s, ErrorKind::Unavailable);
    let local = Scripted::new(Local);
    let d = deployer(&app, vec![k8s.clone(), local.clone()]);
    let started = std::time::Instant::now();
    let done = d.dispatch_once().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "failover is immediate: {:?}", started.elapsed());
    assert_eq!(
        done.iter().filter(|(_, o)| matches!(o, Outcome::Deployed { platform: Local, .. })).count(),
        3,
        "{done:?}"
    );
    let mut on_local = local.deployed();
    on_local.sort_unstable();
    assert_eq!(on_local, ids);
    for &id in &ids {
        assert_eq!(platform_of(&mut app, &key, id).await, "local");
    }
    let said = events(&mut app, &key, ids[0]).await;
    let first_k8s_try = k8s.calls.load(Ordering::SeqCst);
    assert!(first_k8s_try >= 1);
    let moved = app
        .count(&format!(
            "SELECT count(*) AS n FROM events WHERE bot_id IN ({}, {}, {}) AND event_type = 'QUEUED' \
             AND data->>'description' = 'Deployment on k8s failed: the platform could not be reached or failed; trying the next platform.'",
            ids[0], ids[1], ids[2]
        ))
        .await;
    assert_eq!(moved, i64::try_from(first_k8s_try).unwrap(), "each bot that met the failure says so");
    assert!(!format!("{said:?}").contains("scripted failure"), "{said:?}");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM platform_health WHERE platform = 'k8s' AND unhealthy_since IS NOT NULL")
            .await,
        1
    );

    // While unhealthy, k8s is not called: the next bot goes straight to local.
    let next = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    d.dispatch_once().await.unwrap();
    assert_eq!(k8s.calls.load(Ordering::SeqCst), first_k8s_try);
    assert_eq!(platform_of(&mut app, &key, next).await, "local");

    // k8s answers again: after its back-off a probe makes it healthy, and it takes bots again.
    k8s.set(None);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    d.probe_due().await.unwrap();
    assert!(k8s.probes.load(Ordering::SeqCst) >= 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM platform_health WHERE unhealthy_since IS NOT NULL").await, 0);
    let back = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    d.dispatch_once().await.unwrap();
    assert_eq!(platform_of(&mut app, &key, back).await, "k8s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_probe_doubles_the_back_off() {
    let (mut app, key) = two_platforms(&[]).await;
    queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await;
    let k8s = Scripted::failing(K8s, ErrorKind::Unauthorised);
    let d = deployer(&app, vec![k8s.clone(), Scripted::new(Local)]);
    d.dispatch_once().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.probe_due().await.unwrap();
    assert_eq!(k8s.probes.load(Ordering::SeqCst), 1);
    assert_eq!(app.count("SELECT failures::bigint AS n FROM platform_health WHERE platform = 'k8s'").await, 2);
    // The second back-off is about 400 ms: no probe is due right away.
    d.probe_due().await.unwrap();
    assert_eq!(k8s.probes.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_rejected_for_its_own_reasons_moves_on_without_marking_the_platform() {
    let (mut app, key) = two_platforms(&[]).await;
    let id = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    let k8s = Scripted::failing(K8s, ErrorKind::Rejected);
    let local = Scripted::new(Local);
    let d = deployer(&app, vec![k8s.clone(), local.clone()]);
    d.dispatch_once().await.unwrap();
    assert_eq!(local.deployed(), vec![id]);
    assert_eq!(app.count("SELECT count(*) AS n FROM platform_health WHERE unhealthy_since IS NOT NULL").await, 0);
    let said = events(&mut app, &key, id).await;
    assert!(format!("{said:?}").contains("k8s refused this bot"), "{said:?}");

    // Refused everywhere: FATAL at once, not after the queue timeout.
    let id = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    let d = deployer(&app, vec![k8s, Scripted::failing(Local, ErrorKind::Rejected)]);
    let done = d.dispatch_once().await.unwrap();
    assert!(matches!(&done[..], [(b, Outcome::Failed(_))] if *b == id), "{done:?}");
    let said = events(&mut app, &key, id).await;
    assert!(said.iter().any(|e| e["data"]["sub_code"] == "NO_PLATFORM_ACCEPTED"), "{said:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_platform_is_waited_on_for_its_queue_timeout_then_the_next_takes_the_bot() {
    let (mut app, key) = two_platforms(&[("K8S_BOT_LIMIT", "1"), ("K8S_QUEUE_TIMEOUT_MS", "1500")]).await;
    let ids = queue(&mut app, &key, 2, json!({ "meetingUrl": MEET })).await;
    let (k8s, local) = (Scripted::new(K8s), Scripted::new(Local));
    let d = deployer(&app, vec![k8s.clone(), local.clone()]);
    let done = d.dispatch_once().await.unwrap();
    assert_eq!(k8s.deployed(), vec![ids[0]]);
    assert!(done.contains(&(ids[1], Outcome::Waiting)), "{done:?}");
    // The waiting bot says where it stands.
    let r = app.api("GET", &format!("/api/v1/bots/{}", ids[1]), &key, None).await;
    assert_eq!(r.json()["status"], "QUEUED");
    assert_eq!(r.json()["queue"]["position"], 1, "{}", r.body);
    assert_eq!(r.json()["queue"]["waitingOn"], "k8s is at its limit", "{}", r.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    d.dispatch_once().await.unwrap();
    assert!(local.deployed().is_empty(), "still within k8s's 1.5 s");
    tokio::time::sleep(Duration::from_millis(600)).await;
    d.dispatch_once().await.unwrap();
    assert_eq!(local.deployed(), vec![ids[1]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_timeouts_end_bots_with_the_limit_that_ended_them() {
    let (mut app, key) = two_platforms(&[("K8S_BOT_LIMIT", "1"), ("LOCAL_BOT_LIMIT", "1")]).await;
    queue(&mut app, &key, 2, json!({ "meetingUrl": MEET })).await;
    let own = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET, "queueTimeoutMs": 300 })).await[0];
    let global = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    let d = deployer(&app, vec![Scripted::new(K8s), Scripted::new(Local)]);
    d.dispatch_once().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let done = d.dispatch_once().await.unwrap();
    assert!(done.contains(&(own, Outcome::TimedOut)), "{done:?}");
    let said = events(&mut app, &key, own).await;
    assert!(said.iter().any(|e| e["data"]["sub_code"] == "BOT_QUEUE_TIMEOUT"), "{said:?}");
    assert_eq!(bot_status(&app, global).await, "QUEUED");
    app.exec(&format!("UPDATE deployment_queue SET timeout_at = now() WHERE bot_id = {global}")).await;
    d.dispatch_once().await.unwrap();
    let said = events(&mut app, &key, global).await;
    assert!(said.iter().any(|e| e["data"]["sub_code"] == "GLOBAL_QUEUE_TIMEOUT"), "{said:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_quotas_make_the_bot_wait_for_the_platform_without_marking_it() {
    let (mut app, key) = two_platforms(&[("K8S_QUEUE_TIMEOUT_MS", "60000")]).await;
    let id = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    let (k8s, local) = (Scripted::failing(K8s, ErrorKind::Throttled), Scripted::new(Local));
    let d = deployer(&app, vec![k8s.clone(), local.clone()]);
    assert_eq!(d.dispatch_once().await.unwrap(), vec![(id, Outcome::Waiting)]);
    assert_eq!(bot_status(&app, id).await, "QUEUED");
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM platform_health WHERE throttled_until > now() AND unhealthy_since IS NULL"
        )
        .await,
        1
    );
    // Not called again before the throttle ends; then it takes the bot.
    app.exec("UPDATE deployment_queue SET next_attempt_at = now()").await;
    d.dispatch_once().await.unwrap();
    assert_eq!(k8s.calls.load(Ordering::SeqCst), 1);
    k8s.set(None);
    app.exec("UPDATE platform_health SET throttled_until = now()").await;
    app.exec("UPDATE deployment_queue SET next_attempt_at = now()").await;
    d.dispatch_once().await.unwrap();
    assert_eq!(k8s.deployed(), vec![id]);
    assert!(local.deployed().is_empty());
    assert_eq!(app.count("SELECT throttles::bigint AS n FROM platform_health WHERE platform = 'k8s'").await, 0);

    // A quota: the bot waits for k8s as for a full platform.
    let id = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    k8s.set(Some(ErrorKind::Capacity));
    assert_eq!(d.dispatch_once().await.unwrap(), vec![(id, Outcome::Waiting)]);
    assert_eq!(app.count("SELECT count(*) AS n FROM platform_health WHERE unhealthy_since IS NOT NULL").await, 0);
    assert!(local.deployed().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_a_crashed_replica_left_is_adopted_or_moved_on() {
    let (mut app, key) = two_platforms(&[]).await;
    let ids = queue(&mut app, &key, 2, json!({ "meetingUrl": MEET })).await;
    let (k8s, local) = (Scripted::new(K8s), Scripted::new(Local));
    // A replica reserved k8s for both bots and died: one resource started, the other not.
    app.exec(&format!(
        "UPDATE bots SET status = 'DEPLOYING', deployment_platform = 'k8s', deploying_at = now() WHERE id IN ({}, {})",
        ids[0], ids[1]
    ))
    .await;
    app.exec(
        "UPDATE deployment_queue SET status = 'PLACING', placing_on = 'k8s', claimed_by = 'dead', \
         claimed_at = now() - interval '1 minute'",
    )
    .await;
    k8s.running.lock().unwrap().push(ResourceSummary {
        identifier: format!("k8s-{}", ids[0]),
        bot_id: Some(ids[0]),
        status: ResourceStatus::Running,
    });
    let d = deployer(&app, vec![k8s.clone(), local.clone()]);
    let done = d.dispatch_once().await.unwrap();
    assert!(
        done.contains(&(ids[0], Outcome::Deployed { platform: K8s, identifier: format!("k8s-{}", ids[0]) })),
        "{done:?}"
    );
    assert_eq!(bot_status(&app, ids[0]).await, "DEPLOYING");
    let r = app.api("GET", &format!("/api/v1/bots/{}", ids[0]), &key, None).await;
    assert_eq!(r.json()["platformIdentifier"], format!("k8s-{}", ids[0]));
    // The other goes to the next platform, saying why.
    let d2 = deployer(&app, vec![k8s.clone(), local.clone()]);
    d2.dispatch_once().await.unwrap();
    assert_eq!(local.deployed(), vec![ids[1]]);
    let said = events(&mut app, &key, ids[1]).await;
    assert!(format!("{said:?}").contains("Placement on k8s was interrupted"), "{said:?}");
    assert_eq!(app.count("SELECT count(*) AS n FROM deployment_queue").await, 0);
    assert!(k8s.deployed().is_empty(), "nothing deployed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_rows_a_task_still_works_on_keep_their_lease() {
    let (mut app, key) = two_platforms(&[]).await;
    let id = queue(&mut app, &key, 1, json!({ "meetingUrl": MEET })).await[0];
    let d = deployer(&app, vec![Scripted::new(K8s), Scripted::new(Local)]);
    // A row this replica claimed but no task works on any more (its task failed): not renewed,
    // so it runs out its lease and another replica takes it over.
    app.exec(&format!(
        "UPDATE deployment_queue SET status = 'PROCESSING', claimed_by = '{}', claimed_at = now() - interval '1 minute'",
        d.replica()
    ))
    .await;
    assert_eq!(d.renew_leases().await.unwrap(), 0);
    let other = deployer(&app, vec![Scripted::new(K8s), Scripted::new(Local)]);
    let done = other.dispatch_once().await.unwrap();
    assert!(matches!(&done[..], [(b, Outcome::Deployed { .. })] if *b == id), "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_bots_get_an_estimated_start_from_measured_durations() {
    let (mut app, key) =
        two_platforms(&[("K8S_BOT_LIMIT", "1"), ("LOCAL_BOT_LIMIT", "1"), ("K8S_QUEUE_TIMEOUT_MS", "0")]).await;
    let ids = queue(&mut app, &key, 4, json!({ "meetingUrl": MEET })).await;
    let d = deployer(&app, vec![Scripted::new(K8s), Scripted::new(Local)]);
    d.dispatch_once().await.unwrap();
    // Without a finished bot there is no run time to estimate from: no estimate, not a guess.
    let r = app.api("GET", &format!("/api/v1/bots/{}", ids[2]), &key, None).await;
    assert_eq!(r.json()["queue"]["position"], 1, "{}", r.body);
    assert!(r.json()["queue"]["estimatedWaitMs"].is_null(), "{}", r.body);
    assert_eq!(r.json()["queue"]["waitingOn"], "local is at its limit", "{}", r.body);

    // History: bots ran 60 s; the two running bots started 20 s and 50 s ago; deploys took 2 s.
    app.exec(&format!("UPDATE bots SET deploying_at = now() - interval '20 seconds' WHERE id = {}", ids[0])).await;
    app.exec(&format!("UPDATE bots SET deploying_at = now() - interval '50 seconds' WHERE id = {}", ids[1])).await;
    app.exec(&format!(
        "INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, status, deploying_at, status_changed_at, start_time, end_time) \
         SELECT user_id, meeting, meeting_platform, automatic_leave, 'DONE', now() - interval '70 seconds', now() - interval '10 seconds', now(), now() \
         FROM bots WHERE id = {}",
        ids[0]
    ))
    .await;
    app.exec("UPDATE deploy_attempts SET duration_ms = 2000").await;
    tokio::time::sleep(app::backend::deployer::estimate::SNAPSHOT_TTL).await;
    let first = app.api("GET", &format!("/api/v1/bots/{}", ids[2]), &key, None).await.json();
    let second = app.api("GET", &format!("/api/v1/bots/{}", ids[3]), &key, None).await.json();
    // Position 1 waits for the bot 50 s into its 60 s run (10 s, less the seconds since), position 2
    // for the other (40 s), each plus a 2 s deploy.
    let ms = |b: &serde_json::Value| b["queue"]["estimatedWaitMs"].as_i64().unwrap();
    assert!((9_000..=12_500).contains(&ms(&first)), "{first}");
    assert!((39_000..=42_500).contains(&ms(&second)), "{second}");
    assert!(first["queue"]["estimatedStartAt"].is_string(), "{first}");
}
