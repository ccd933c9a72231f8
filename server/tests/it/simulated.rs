//! Simulated platforms: the `bot-sim` fleet host in-process, `SimulatedPlatform` drivers
//! against it, and the deployer placing a real bot's whole life on it.

use std::time::Duration;

use app::backend::deployer::{Deployer, Outcome};
use app::backend::platforms::simulated::SimulatedPlatform;
use app::backend::platforms::{BotLaunch, ErrorKind, Platform, ResourceStatus};
use app::model::bot::MeetingPlatform;
use app::model::platform::DeploymentPlatform;
use http::StatusCode;
use serde_json::{json, Value};
use server::bot_sim::fleet::{FleetOptions, FleetStats};
use server::bot_sim::{Behaviour, Protocol};

use crate::support::{bind, serve_on, wait_for_status, TestApp};

/// Bots that join in 0.2 s, heartbeat every 0.2 s and leave after 1 s in the call.
fn quick() -> Behaviour {
    Behaviour {
        protocol: Protocol::Rest,
        heartbeat_secs: 0.2,
        join_secs: 0.2,
        call_secs: Some(1.0),
        fail: None,
        log_rate: Some(5.0),
    }
}

/// Starts a fleet host on a free port; answers its URL.
async fn fleet(capacity: usize) -> String {
    let (listener, url) = bind().await;
    tokio::spawn(server::bot_sim::fleet::serve(listener, FleetOptions { capacity, behaviour: quick() }));
    url
}

/// A server that accepts connections and never answers: bots launched against it stay
/// running (fetching their config) for the whole test.
async fn silent_server() -> (tokio::net::TcpListener, String) {
    bind().await
}

fn launch(bot_id: i64, milo_url: &str) -> BotLaunch {
    BotLaunch {
        bot_id,
        meeting_platform: MeetingPlatform::GoogleMeet,
        token: "mbt_simulated".into(),
        milo_url: milo_url.into(),
    }
}

async fn send(method: reqwest::Method, url: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn set_faults(fleet: &str, kind: &str, plan: Value) {
    let (status, body) = send(reqwest::Method::PUT, &format!("{fleet}/platforms/{kind}/faults"), Some(plan)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn stats(fleet: &str) -> FleetStats {
    let (status, body) = send(reqwest::Method::GET, &format!("{fleet}/stats"), None).await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_value(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_bot_lives_its_whole_life_on_a_simulated_platform() {
    let fleet = fleet(10).await;
    let (listener, url) = bind().await;
    let mut app = TestApp::builder()
        .var("MILO_URL", &url)
        .var("PLATFORM_PRIORITY", "k8s")
        .var("K8S_BOT_LIMIT", "5")
        .var("SIMULATED_PLATFORM_URL", &fleet)
        .build()
        .await;
    serve_on(listener, app.router.clone());
    let key = app.user_with_key("Ada").await;
    let r = app
        .api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij" })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();

    let deployer = Deployer::new(app.state.pool.clone(), app.state.config.clone(), app.state.platforms.clone());
    let done = deployer.dispatch_once().await.unwrap();
    let Outcome::Deployed { platform, identifier } = &done[0].1 else { panic!("{done:?}") };
    assert_eq!(*platform, DeploymentPlatform::K8s);
    assert!(identifier.starts_with(&format!("sim-k8s-{id}-")), "{identifier}");

    wait_for_status(&app, id, "IN_CALL").await;
    wait_for_status(&app, id, "DONE").await;
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND last_heartbeat IS NOT NULL")).await,
        1
    );

    let k8s = app.state.platforms.get(DeploymentPlatform::K8s).unwrap();
    let mut status = k8s.status(identifier).await.unwrap();
    for _ in 0..100 {
        if status != ResourceStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = k8s.status(identifier).await.unwrap();
    }
    assert_eq!(status, ResourceStatus::Exited { code: Some(0) }, "a finished bot's resource stays, exited");
    let listed = k8s.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].identifier.as_str(), listed[0].bot_id), (identifier.as_str(), Some(id)));

    let s = stats(&fleet).await;
    assert_eq!(s.launches["k8s"], 1);
    assert_eq!(s.running["k8s"], 0);
    assert_eq!(s.max_running["k8s"], 1);
    assert!(s.meter.heartbeats >= 2, "{s:?}");
    assert!(s.meter.heartbeat_p99_ms.is_some_and(|p| p > 0.0), "{s:?}");
    assert!(s.meter.log_lines_sent >= 5, "{s:?}");
    assert_eq!(s.meter.failed_requests, 0, "{s:?}");
    let stored = app.count(&format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {id}")).await;
    assert_eq!(stored as u64, s.meter.log_lines_sent, "every line the bot sent is stored");

    k8s.stop(identifier).await.unwrap();
    k8s.stop(identifier).await.unwrap();
    assert_eq!(k8s.status(identifier).await.unwrap(), ResourceStatus::Gone);

    // Operators are told, loudly, where the bots really run.
    app.state.platforms.probe_all().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.json()["platforms"]["k8s"]["simulated"], format!("{fleet}/"), "{}", r.body);
    let report = server::commands::check_platforms_report(&app.state.config).await.unwrap();
    assert!(report.contains("SIMULATED by the bot-sim fleet host"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_of_the_fleet_host_maps_to_its_error_kind() {
    let fleet = fleet(10).await;
    let (_hold, milo) = silent_server().await;
    let p = SimulatedPlatform::with_timeout(DeploymentPlatform::Aws, &fleet, Duration::from_millis(500)).unwrap();
    p.probe().await.unwrap();
    let real = p.deploy(&launch(1, &milo)).await.unwrap().identifier;

    for (plan, kind) in [
        (json!({ "fault": "http500" }), ErrorKind::Unavailable),
        (json!({ "fault": "throttle" }), ErrorKind::Throttled),
        (json!({ "fault": "quota" }), ErrorKind::Capacity),
        (json!({ "fault": "timeout", "timeoutMs": 3000 }), ErrorKind::Unavailable),
    ] {
        set_faults(&fleet, "aws", plan.clone()).await;
        let e = p.deploy(&launch(2, &milo)).await.unwrap_err();
        assert_eq!(e.kind, kind, "{plan}: {e}");
        assert_eq!(p.probe().await.unwrap_err().kind, kind, "{plan}");
        assert_eq!(p.list().await.unwrap_err().kind, kind, "{plan}");
    }
    let e = p.status(&real).await.unwrap_err();
    assert!(e.message.contains("timed out"), "{e}");

    set_faults(&fleet, "aws", json!({ "fault": "wrongAnswer" })).await;
    let phantom = p.deploy(&launch(3, &milo)).await.unwrap().identifier;
    assert!(phantom.starts_with("phantom-aws-3-"), "{phantom}");
    assert_eq!(p.status(&phantom).await.unwrap(), ResourceStatus::Running, "a gone resource, said running");
    assert_eq!(p.status(&real).await.unwrap(), ResourceStatus::Gone, "a running resource, said gone");
    assert!(p.list().await.unwrap().is_empty(), "list drops every resource");

    // A fault hits only the calls it names, and only its share of them.
    set_faults(&fleet, "aws", json!({ "fault": "http500", "calls": ["deploy"] })).await;
    assert_eq!(p.deploy(&launch(4, &milo)).await.unwrap_err().kind, ErrorKind::Unavailable);
    assert_eq!(p.status(&real).await.unwrap(), ResourceStatus::Running);
    set_faults(&fleet, "aws", json!({ "fault": "http500", "rate": 0 })).await;
    p.deploy(&launch(5, &milo)).await.unwrap();

    let (status, _) = send(reqwest::Method::DELETE, &format!("{fleet}/platforms/aws/faults"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(p.status(&phantom).await.unwrap(), ResourceStatus::Gone, "the phantom never existed");
    assert_eq!(p.list().await.unwrap().len(), 2);
    let s = stats(&fleet).await;
    assert_eq!(s.phantoms, 1);
    assert_eq!(s.launches["aws"], 2);
    assert!(s.faults["aws"].injected >= 13, "{s:?}");

    // Other kinds are untouched; plans that cannot be followed are refused by name.
    let k8s = SimulatedPlatform::new(DeploymentPlatform::K8s, &fleet).unwrap();
    k8s.probe().await.unwrap();
    let (status, body) =
        send(reqwest::Method::PUT, &format!("{fleet}/platforms/aws/faults"), Some(json!({ "rate": 2 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("rate"), "{body}");
    let (status, body) = send(reqwest::Method::PUT, &format!("{fleet}/platforms/gcp/faults"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Nobody listening: unavailable.
    let nowhere = format!("http://127.0.0.1:{}", crate::support::free_port());
    let gone = SimulatedPlatform::new(DeploymentPlatform::Coolify, &nowhere).unwrap();
    assert_eq!(gone.probe().await.unwrap_err().kind, ErrorKind::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_bot_kinds_conflict_and_stats_count_duplicates_quota_and_the_most_running() {
    let fleet = fleet(4).await;
    let (_hold, milo) = silent_server().await;
    let k8s = SimulatedPlatform::new(DeploymentPlatform::K8s, &fleet).unwrap();
    let aws = SimulatedPlatform::new(DeploymentPlatform::Aws, &fleet).unwrap();
    let coolify = SimulatedPlatform::new(DeploymentPlatform::Coolify, &fleet).unwrap();

    let job = k8s.deploy(&launch(1, &milo)).await.unwrap().identifier;
    assert_eq!(k8s.deploy(&launch(1, &milo)).await.unwrap_err().kind, ErrorKind::Conflict, "one Job per bot");
    coolify.deploy(&launch(2, &milo)).await.unwrap();
    assert_eq!(coolify.deploy(&launch(2, &milo)).await.unwrap_err().kind, ErrorKind::Conflict, "one slot per bot");
    let task = aws.deploy(&launch(3, &milo)).await.unwrap().identifier;
    aws.deploy(&launch(3, &milo)).await.expect("RunTask starts another task");
    assert_eq!(aws.deploy(&launch(4, &milo)).await.unwrap_err().kind, ErrorKind::Capacity, "4 run: quota exceeded");

    let s = stats(&fleet).await;
    assert_eq!((s.launches["k8s"], s.launches["aws"], s.launches["coolify"]), (1, 2, 1));
    assert_eq!((s.max_running["k8s"], s.max_running["aws"], s.max_running["coolify"]), (1, 2, 1));
    assert_eq!((s.running_total, s.max_running_total), (4, 4));
    assert_eq!((s.duplicates, s.duplicate_bots.clone()), (1, vec![3]));
    assert_eq!((s.conflicts, s.quota_refusals), (2, 1));
    assert_eq!((s.relaunched, s.relaunched_bots.clone()), (1, vec![3]), "refused launches do not count");

    aws.stop(&task).await.unwrap();
    aws.stop(&task).await.unwrap();
    aws.stop("sim-aws-404-404").await.expect("stopping an unknown resource succeeds");
    let listed = aws.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].bot_id, &listed[0].status), (Some(3), &ResourceStatus::Running));
    let s = stats(&fleet).await;
    assert_eq!((s.running["aws"], s.max_running["aws"]), (1, 2));
    aws.deploy(&launch(4, &milo)).await.expect("room again after a stop");

    // Kill switches: a vanished Job is gone; a silenced bot keeps running.
    let vanish = format!("{fleet}/platforms/k8s/resources/{job}/vanish");
    assert_eq!(send(reqwest::Method::POST, &vanish, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(k8s.status(&job).await.unwrap(), ResourceStatus::Gone);
    assert_eq!(send(reqwest::Method::POST, &vanish, None).await.0, StatusCode::NOT_FOUND);
    k8s.deploy(&launch(1, &milo)).await.expect("the bot's Job is gone, so a new one may start");
    let (status, body) = send(reqwest::Method::POST, &format!("{fleet}/bots/2/silence"), None).await;
    assert_eq!((status, body["silenced"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(send(reqwest::Method::POST, &format!("{fleet}/bots/99/silence"), None).await.0, StatusCode::NOT_FOUND);
    let s = stats(&fleet).await;
    assert_eq!((s.vanished, s.running_total), (1, 4));
    assert_eq!(s.relaunched_bots, vec![1, 3], "bot 1 again after its Job vanished: not at once, but twice");
    assert_eq!(s.duplicates, 1);
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{fleet}/platforms/k8s/resources"),
        Some(json!({ "botId": 7, "token": "", "miloUrl": "file:///etc" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_host_runs_from_the_command_line_and_says_where() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_meeboter"))
        .args(["bot-sim", "--fleet", "3", "--listen", "127.0.0.1:0", "--heartbeat-secs", "0.2", "--log-rate", "2"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start meeboter bot-sim --fleet");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await.unwrap().unwrap().unwrap();
    let url = first
        .strip_prefix("fleet host listening on ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{first}"));
    let p = SimulatedPlatform::new(DeploymentPlatform::Coolify, url).unwrap();
    p.probe().await.unwrap();
    assert_eq!(stats(url).await.capacity, 3);

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_meeboter"))
        .args(["bot-sim", "--fleet", "3", "--listen", "127.0.0.1:0", "--heartbeat-secs", "0"])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--heartbeat-secs"), "{bad:?}");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_bot_stops_heartbeating_and_keeps_running() {
    let (listener, fleet) = bind().await;
    let behaviour = Behaviour { call_secs: None, ..quick() };
    tokio::spawn(server::bot_sim::fleet::serve(listener, FleetOptions { capacity: 2, behaviour }));
    let mut app = TestApp::new().await;
    let (listener, url) = bind().await;
    serve_on(listener, app.router.clone());
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij" })).await;
    let k8s = SimulatedPlatform::new(DeploymentPlatform::K8s, &fleet).unwrap();
    let bot = BotLaunch { bot_id: id, meeting_platform: MeetingPlatform::GoogleMeet, token, milo_url: url };
    let identifier = k8s.deploy(&bot).await.unwrap().identifier;
    wait_for_status(&app, id, "IN_CALL").await;
    for _ in 0..100 {
        if stats(&fleet).await.meter.heartbeats >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stats(&fleet).await.meter.heartbeats >= 2);

    let (status, _) = send(reqwest::Method::POST, &format!("{fleet}/bots/{id}/silence"), None).await;
    assert_eq!(status, StatusCode::OK);
    // A heartbeat already under way may still land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = stats(&fleet).await.meter.heartbeats;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stats(&fleet).await.meter.heartbeats, before, "five heartbeat periods without one");
    assert_eq!(k8s.status(&identifier).await.unwrap(), ResourceStatus::Running);
    assert_eq!(crate::support::bot_status(&app, id).await, "IN_CALL");
}

/// A bot API that accepts everything at once (no database), for load on the fleet host alone;
/// its first `failures` config requests are answered `status` instead.
fn accepting_bot_api(failures: usize, status: StatusCode) -> axum::Router {
    use axum::extract::Path;
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let ok = || async { axum::Json(json!({})) };
    let left = Arc::new(AtomicUsize::new(failures));
    axum::Router::new()
        .route(
            "/api/v1/bot/{id}/config",
            get(move |Path(id): Path<i64>| async move {
                if left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                    return (status, "failing on purpose").into_response();
                }
                axum::Json(json!({ "id": id, "recordingEnabled": false, "meeting": { "meetingUrl": "https://meet" } }))
                    .into_response()
            }),
        )
        .route("/api/v1/bot/{id}/status", post(ok))
        .route("/api/v1/bot/{id}/events", post(ok))
        .route("/api/v1/bot/{id}/logs", post(ok))
        .route("/api/v1/bot/{id}/logs/flush", post(ok))
        .route("/api/v1/bot/{id}/heartbeat", post(|| async { axum::Json(json!({ "shouldLeave": false })) }))
        .route("/api/v1/bot/{id}/chat/dequeue", post(|| async { axum::Json(json!({ "message": null })) }))
        .route("/api/bots/{id}/screenshots", post(|_: axum::body::Bytes| async { StatusCode::CREATED }))
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// Stress (by hand: `cargo test -p server --test it -- --ignored fleet_host_holds`): 500 bots
/// on one fleet host for 10 s against a bot API that does no work.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a 15 s stress run of the fleet host alone"]
async fn fleet_host_holds_five_hundred_bots() {
    const BOTS: i64 = 500;
    let (listener, milo) = bind().await;
    tokio::spawn(async move { axum::serve(listener, accepting_bot_api(0, StatusCode::OK)).await.unwrap() });
    let (listener, fleet) = bind().await;
    let behaviour = Behaviour { heartbeat_secs: 2.0, call_secs: None, log_rate: Some(1.0), ..quick() };
    tokio::spawn(server::bot_sim::fleet::serve(listener, FleetOptions { capacity: BOTS as usize, behaviour }));
    let aws = SimulatedPlatform::new(DeploymentPlatform::Aws, &fleet).unwrap();
    let before = rss_mib();
    let started = std::time::Instant::now();
    for id in 1..=BOTS {
        aws.deploy(&launch(id, &milo)).await.unwrap();
    }
    let launched = started.elapsed();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let s = stats(&fleet).await;
    println!(
        "{BOTS} bots launched in {launched:?}; rss {before} -> {} MiB; heartbeats {} p50 {:?} p99 {:?} max {:?}; log lines {} dropped {}; failed {}",
        rss_mib(),
        s.meter.heartbeats,
        s.meter.heartbeat_p50_ms,
        s.meter.heartbeat_p99_ms,
        s.meter.heartbeat_max_ms,
        s.meter.log_lines_sent,
        s.meter.log_lines_dropped,
        s.meter.failed_requests
    );
    assert_eq!(s.running["aws"], BOTS as u64);
    assert_eq!(s.meter.failed_requests, 0, "{s:?}");
    assert!(s.meter.heartbeats >= BOTS as u64 * 3, "{s:?}");
}

/// Waits (up to 10 s) until a resource is no longer running; answers what it became.
async fn ended(p: &SimulatedPlatform, identifier: &str) -> ResourceStatus {
    for _ in 0..200 {
        let s = p.status(identifier).await.unwrap();
        if s != ResourceStatus::Running {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{identifier} still runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_bots_retry_a_server_that_is_briefly_away_but_not_one_that_refuses_them() {
    for (status, failures, code, failed) in [
        (StatusCode::SERVICE_UNAVAILABLE, 2, Some(0), 2),
        (StatusCode::BAD_GATEWAY, 3, Some(1), 3),
        (StatusCode::UNAUTHORIZED, 1, Some(1), 1),
    ] {
        let (listener, milo) = bind().await;
        tokio::spawn(async move { axum::serve(listener, accepting_bot_api(failures, status)).await.unwrap() });
        let fleet = fleet(1).await;
        let k8s = SimulatedPlatform::new(DeploymentPlatform::K8s, &fleet).unwrap();
        let identifier = k8s.deploy(&launch(1, &milo)).await.unwrap().identifier;
        assert_eq!(ended(&k8s, &identifier).await, ResourceStatus::Exited { code }, "{status} x{failures}");
        assert_eq!(stats(&fleet).await.meter.failed_requests, failed, "{status} x{failures}");
    }
}
