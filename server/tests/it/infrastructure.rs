//! The infrastructure server functions through the real router: an administrator sees the whole
//! fleet, a user only their own bots' share (never another user's bot, name or count); the
//! platform filter, pagination, Stop (administrators only), cost arithmetic, activity buckets,
//! health and deploy latency. Platforms are [`FakePlatform`]s at the driver seam.

use std::sync::Arc;
use std::time::Duration;

use app::backend::config::PlatformSlot;
use app::backend::platforms::{Platform, PlatformRegistry};
use app::backend::services::infrastructure::cost::Windows;
use app::model::platform::DeploymentPlatform;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::{json, Value};

use crate::fake_platform::FakePlatform;
use crate::support::{bot_status, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

/// A signed-up person: their session, an API key and their id.
struct Person {
    cookie: String,
    key: String,
}

struct Rig {
    app: TestApp,
    admin: Person,
    alice: Person,
    bob: Person,
    k8s: FakePlatform,
    aws: FakePlatform,
}

async fn person(app: &mut TestApp, name: &str) -> Person {
    app.forget_cookie();
    app.sign_up(name, &format!("{}@example.com", name.to_lowercase())).await;
    let cookie = app.session_cookie().unwrap().to_owned();
    let r = app.call_json("create_api_key", json!({ "name": "test key" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key = r.json()["secret"].as_str().unwrap().to_owned();
    Person { cookie, key }
}

/// Administrator (the first account), Alice and Bob; k8s (limit 5) then aws (limit 3), both fakes.
async fn rig_with(vars: &[(&str, &str)]) -> Rig {
    let mut builder = TestApp::builder();
    for (k, v) in vars {
        builder = builder.var(k, v);
    }
    let mut app = builder.build().await;
    let admin = person(&mut app, "Root").await;
    let alice = person(&mut app, "Alice").await;
    let bob = person(&mut app, "Bob").await;
    app.exec("UPDATE users SET custom_daily_bot_limit = 100000").await;
    let (k8s, aws) = (FakePlatform::new(DeploymentPlatform::K8s), FakePlatform::new(DeploymentPlatform::Aws));
    let mut config = (*app.state.config).clone();
    config.platforms = vec![
        PlatformSlot { platform: DeploymentPlatform::K8s, limit: 5, queue_timeout: Duration::from_secs(60) },
        PlatformSlot { platform: DeploymentPlatform::Aws, limit: 3, queue_timeout: Duration::from_secs(30) },
    ];
    let config = Arc::new(config);
    let drivers: Vec<Arc<dyn Platform>> = vec![Arc::new(k8s.clone()), Arc::new(aws.clone())];
    app.state.platforms = Arc::new(PlatformRegistry::new(&config, drivers));
    app.state.config = config;
    app.router = server::http::router(app.state.clone());
    Rig { app, admin, alice, bob, k8s, aws }
}

async fn rig() -> Rig {
    rig_with(&[]).await
}

impl Rig {
    /// A bot of `who` named `name`, running as a fresh resource on `fake` with `status`.
    async fn bot_on(&mut self, who: &str, name: &str, fake: &FakePlatform, status: &str) -> (i64, String) {
        let key = self.key(who).to_owned();
        let (id, _) = self.app.bot_with_token(&key, json!({ "meetingUrl": MEET, "displayName": name })).await;
        let identifier = fake.launch(id);
        self.app
            .exec(&format!(
                "UPDATE bots SET deployment_platform = '{}', platform_identifier = '{identifier}', status = '{status}', \
                 deploying_at = now() - interval '10 minutes' WHERE id = {id}",
                fake.kind().as_str()
            ))
            .await;
        (id, identifier)
    }

    fn key(&self, who: &str) -> &str {
        match who {
            "admin" => &self.admin.key,
            "alice" => &self.alice.key,
            _ => &self.bob.key,
        }
    }

    /// Calls a server function as `who`; answers status and JSON (or the raw body as a string).
    async fn call(&mut self, who: &str, endpoint: &str, body: Value) -> (StatusCode, Value) {
        let cookie = match who {
            "admin" => self.admin.cookie.clone(),
            "alice" => self.alice.cookie.clone(),
            _ => self.bob.cookie.clone(),
        };
        self.app.set_cookie(&cookie);
        let r = self.app.call_json(endpoint, body).await;
        let v = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone()));
        (r.status, v)
    }

    async fn ok(&mut self, who: &str, endpoint: &str, body: Value) -> Value {
        let (status, v) = self.call(who, endpoint, body).await;
        assert_eq!(status, StatusCode::OK, "{endpoint} as {who}: {v}");
        v
    }

    async fn platforms(&mut self, who: &str) -> Vec<(String, i64)> {
        let v = self.ok(who, "get_active_platforms", json!({})).await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| (p["platform"].as_str().unwrap().to_owned(), p["used"].as_i64().unwrap()))
            .collect()
    }

    async fn resources(&mut self, who: &str, platform: &str, page: i64) -> Value {
        self.ok(who, "list_platform_resources", json!({ "platform": platform, "page": page })).await
    }
}

fn pairs(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
}

#[tokio::test]
async fn a_user_sees_their_own_share_and_an_administrator_the_whole_fleet() {
    let mut rig = rig().await;
    let (k8s, aws) = (rig.k8s.clone(), rig.aws.clone());
    rig.bot_on("alice", "alice-secret-one", &k8s, "IN_CALL").await;
    rig.bot_on("alice", "alice-secret-two", &k8s, "DEPLOYING").await;
    rig.bot_on("bob", "bob-secret-one", &k8s, "IN_CALL").await;
    rig.bot_on("bob", "bob-secret-two", &aws, "JOINING_CALL").await;
    k8s.insert("k8s-stray", None);

    assert_eq!(rig.platforms("admin").await, pairs(&[("k8s", 3), ("aws", 1)]));
    assert_eq!(rig.platforms("alice").await, pairs(&[("k8s", 2), ("aws", 0)]));
    assert_eq!(rig.platforms("bob").await, pairs(&[("k8s", 1), ("aws", 1)]));

    let stats = rig.ok("alice", "get_platform_stats", json!({ "platform": null, "time_zone": null })).await;
    assert_eq!(stats[0]["platform"], "k8s");
    assert_eq!((stats[0]["deploying"].as_i64(), stats[0]["active"].as_i64()), (Some(1), Some(1)));
    assert_eq!((stats[1]["deploying"].as_i64(), stats[1]["active"].as_i64()), (Some(0), Some(0)));
    let stats = rig.ok("admin", "get_platform_stats", json!({ "platform": null, "time_zone": null })).await;
    assert_eq!((stats[0]["deploying"].as_i64(), stats[0]["active"].as_i64()), (Some(1), Some(2)));

    let all = rig.resources("admin", "k8s", 1).await;
    assert_eq!(all["total"], 4, "{all}");
    assert!(all["rows"].as_array().unwrap().iter().any(|r| r["identifier"] == "k8s-stray" && r["botId"].is_null()));
    let mine = rig.resources("alice", "k8s", 1).await;
    assert_eq!(mine["total"], 2, "{mine}");
    let text = mine.to_string();
    assert!(text.contains("alice-secret-one") && !text.contains("bob-secret") && !text.contains("k8s-stray"), "{text}");
    let theirs = rig.resources("bob", "aws", 1).await;
    assert_eq!(theirs["rows"][0]["botName"], "bob-secret-two");
    assert_eq!(rig.resources("alice", "aws", 1).await["total"], 0);
    // Nothing of Alice's reaches Bob through any of the views.
    for (endpoint, body) in [
        ("get_active_platforms", json!({})),
        ("get_platform_stats", json!({ "platform": null, "time_zone": null })),
        ("list_platform_resources", json!({ "platform": "k8s", "page": 1 })),
        ("list_queued_bots", json!({ "page": 1 })),
        ("get_infrastructure_cost", json!({ "time_zone": null })),
        ("get_infrastructure_activity", json!({ "range": "month" })),
    ] {
        let v = rig.ok("bob", endpoint, body).await;
        assert!(!v.to_string().contains("alice"), "{endpoint}: {v}");
    }
}

#[tokio::test]
async fn the_platform_filter_answers_one_platform_and_refuses_one_not_configured() {
    let mut rig = rig().await;
    let aws = rig.aws.clone();
    rig.bot_on("alice", "a", &aws, "IN_CALL").await;
    let v = rig.ok("alice", "get_platform_stats", json!({ "platform": "aws", "time_zone": "Europe/Lisbon" })).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!((v[0]["platform"].as_str(), v[0]["active"].as_i64()), (Some("aws"), Some(1)));
    let (status, v) =
        rig.call("alice", "get_platform_stats", json!({ "platform": "coolify", "time_zone": null })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert!(v.to_string().contains("Coolify is not configured"), "{v}");
    let (status, _) = rig.call("alice", "list_platform_resources", json!({ "platform": "local", "page": 1 })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) =
        rig.call("alice", "get_platform_stats", json!({ "platform": null, "time_zone": "Mars/Base" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, _) = rig.call("alice", "get_platform_stats", json!({ "platform": "gcp", "time_zone": null })).await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn resources_are_paginated_and_out_of_range_pages_are_refused() {
    let mut rig = rig().await;
    for i in 0..25 {
        rig.k8s.insert(&format!("job-{i:02}"), None);
    }
    let p1 = rig.resources("admin", "k8s", 1).await;
    assert_eq!((p1["total"].as_i64(), p1["rows"].as_array().unwrap().len()), (Some(25), 20));
    let p2 = rig.resources("admin", "k8s", 2).await;
    assert_eq!(p2["rows"].as_array().unwrap().len(), 5);
    assert_eq!(p2["rows"][0]["identifier"], "job-20");
    assert_eq!(rig.resources("admin", "k8s", 3).await["rows"].as_array().unwrap().len(), 0);
    for page in [0, -1, 1_000_000] {
        let (status, v) =
            rig.call("admin", "list_platform_resources", json!({ "platform": "k8s", "page": page })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "page {page}: {v}");
    }
}

#[tokio::test]
async fn an_administrator_stops_a_bots_resource_or_an_orphan_and_a_user_may_not() {
    let mut rig = rig().await;
    let k8s = rig.k8s.clone();
    let (id, identifier) = rig.bot_on("alice", "a", &k8s, "IN_CALL").await;
    k8s.insert("k8s-stray", None);

    let (status, _) =
        rig.call("alice", "stop_platform_resource", json!({ "platform": "k8s", "identifier": identifier })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(k8s.stop_calls().is_empty());
    assert_eq!(bot_status(&rig.app, id).await, "IN_CALL");

    let v = rig.ok("admin", "stop_platform_resource", json!({ "platform": "k8s", "identifier": identifier })).await;
    assert!(v.as_str().unwrap().contains(&identifier), "{v}");
    assert_eq!(bot_status(&rig.app, id).await, "FATAL");
    assert_eq!(k8s.stops_of(&identifier), 1);

    rig.ok("admin", "stop_platform_resource", json!({ "platform": "k8s", "identifier": "k8s-stray" })).await;
    assert_eq!(k8s.stops_of("k8s-stray"), 1);

    let (status, v) =
        rig.call("admin", "stop_platform_resource", json!({ "platform": "k8s", "identifier": "not-there" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(k8s.stops_of("not-there"), 0);
    let (status, _) =
        rig.call("admin", "stop_platform_resource", json!({ "platform": "k8s", "identifier": " " })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let long = "x".repeat(600);
    let (status, _) =
        rig.call("admin", "stop_platform_resource", json!({ "platform": "k8s", "identifier": long })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_queue_lists_bots_in_order_with_their_position_and_each_user_sees_only_theirs() {
    let mut rig = rig().await;
    let mut ids = Vec::new();
    for (who, name) in [("alice", "alice-q1"), ("bob", "bob-q1"), ("alice", "alice-q2")] {
        let key = rig.key(who).to_owned();
        let r =
            rig.app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET, "displayName": name }))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.json()["id"].as_i64().unwrap());
        // Distinct queue times, so the order is the creation order.
        rig.app.exec("SELECT pg_sleep(0.01)").await;
    }
    let all = rig.ok("admin", "list_queued_bots", json!({ "page": 1 })).await;
    assert_eq!(all["total"], 3);
    let order: Vec<i64> = all["bots"].as_array().unwrap().iter().map(|b| b["botId"].as_i64().unwrap()).collect();
    assert_eq!(order, ids);
    let positions: Vec<i64> = all["bots"].as_array().unwrap().iter().map(|b| b["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [1, 2, 3]);
    assert!(all["bots"][0]["timeoutAt"].is_string() && all["bots"][0]["queuedAt"].is_string());

    // What each bot waits on (the dispatcher's words, which name no counts) is its owner's to
    // read as well.
    rig.app.exec("UPDATE deployment_queue SET last_error = 'k8s is at its limit'").await;
    let mine = rig.ok("alice", "list_queued_bots", json!({ "page": 1 })).await;
    assert_eq!(mine["total"], 2);
    assert!(!mine.to_string().contains("bob-q1"), "{mine}");
    assert!(mine["bots"].as_array().unwrap().iter().all(|b| b["waitingOn"] == "k8s is at its limit"), "{mine}");
    assert_eq!(mine["bots"][1]["position"], 3, "the same position the bots table shows");

    let stats = rig.ok("bob", "get_queue_stats", json!({})).await;
    assert_eq!(stats["total"], 1);
    let stats = rig.ok("admin", "get_queue_stats", json!({})).await;
    assert_eq!(stats["total"], 3);
    assert!(stats["oldestQueuedAt"].is_string() && stats["averageWaitMs"].is_number(), "{stats}");
    let (status, _) = rig.call("admin", "list_queued_bots", json!({ "page": 0 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Seconds of `[start, end]` inside `[from, now]`.
fn overlap(start: DateTime<Utc>, end: DateTime<Utc>, from: DateTime<Utc>) -> f64 {
    ((end - start.max(from)).num_milliseconds().max(0)) as f64 / 1000.0
}

#[tokio::test]
async fn cost_is_each_bots_run_time_in_the_window_times_its_platforms_price() {
    let mut rig = rig_with(&[("COST_K8S_USD_PER_BOT_HOUR", "1.5"), ("COST_AWS_USD_PER_BOT_HOUR", "2")]).await;
    let (k8s, aws) = (rig.k8s.clone(), rig.aws.clone());
    let (running, _) = rig.bot_on("alice", "a1", &k8s, "IN_CALL").await;
    let (done, _) = rig.bot_on("alice", "a2", &aws, "IN_CALL").await;
    let (bobs, _) = rig.bot_on("bob", "b1", &k8s, "IN_CALL").await;
    let (queued, _) = rig.bot_on("alice", "a3", &k8s, "QUEUED").await;
    // Alice's k8s bot has run 40 days (it counts from each window's start); her aws bot ran 90
    // minutes and ended 30 minutes ago; Bob's ran 3 hours; a queued bot costs nothing.
    rig.app.exec(&format!("UPDATE bots SET deploying_at = now() - interval '40 days' WHERE id = {running}")).await;
    rig.app
        .exec(&format!(
            "UPDATE bots SET deploying_at = now() - interval '120 minutes', status = 'DONE', \
             status_changed_at = now() - interval '30 minutes' WHERE id = {done}"
        ))
        .await;
    rig.app.exec(&format!("UPDATE bots SET deploying_at = now() - interval '3 hours' WHERE id = {bobs}")).await;
    rig.app.exec(&format!("UPDATE bots SET deploying_at = now() - interval '1 hour' WHERE id = {queued}")).await;
    let before = Utc::now();
    let v = rig.ok("alice", "get_infrastructure_cost", json!({ "time_zone": null })).await;
    let after = Utc::now();
    let w = Windows::at(before, chrono_tz::Tz::UTC);
    let (k8s_row, aws_row) = (&v["platforms"][0], &v["platforms"][1]);
    assert_eq!((k8s_row["platform"].as_str(), k8s_row["hourlyUsd"].as_f64()), (Some("k8s"), Some(1.5)));
    assert_eq!(aws_row["hourlyUsd"].as_f64(), Some(2.0));
    // The running bot: from the window's start to now (within the call's own duration).
    let slack = (after - before).num_milliseconds() as f64 / 1000.0 + 1.0;
    for (field, from) in [("todayUsd", w.today), ("weekUsd", w.week), ("monthUsd", w.month)] {
        let expected = overlap(before - chrono::Duration::days(40), before, from) / 3600.0 * 1.5;
        let got = k8s_row[field].as_f64().unwrap();
        assert!((got - expected).abs() <= slack / 3600.0 * 1.5, "k8s {field}: {got} vs {expected}");
    }
    // The finished aws bot: 90 minutes, cut at each window's start.
    let ended = before - chrono::Duration::minutes(30);
    let started = before - chrono::Duration::minutes(120);
    for (field, from) in [("todayUsd", w.today), ("monthUsd", w.month)] {
        let expected = overlap(started, ended, from) / 3600.0 * 2.0;
        let got = aws_row[field].as_f64().unwrap();
        assert!((got - expected).abs() < 0.01, "aws {field}: {got} vs {expected}");
    }
    let total = v["monthUsd"].as_f64().unwrap();
    assert!((total - k8s_row["monthUsd"].as_f64().unwrap() - aws_row["monthUsd"].as_f64().unwrap()).abs() < 1e-9);
    // Bob pays for his bot only: 3 hours at most, at 1.5.
    let b = rig.ok("bob", "get_infrastructure_cost", json!({ "time_zone": "Asia/Tokyo" })).await;
    let month = b["platforms"][0]["monthHours"].as_f64().unwrap();
    assert!(month <= 3.0 + 1e-3 && b["platforms"][1]["monthUsd"].as_f64() == Some(0.0), "{b}");
    let (status, _) = rig.call("bob", "get_infrastructure_cost", json!({ "time_zone": "Nowhere/Land" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn activity_counts_deployments_failures_and_failovers_in_their_buckets() {
    let mut rig = rig().await;
    let k8s = rig.k8s.clone();
    let (alices, _) = rig.bot_on("alice", "a", &k8s, "IN_CALL").await;
    let (bobs, _) = rig.bot_on("bob", "b", &k8s, "FATAL").await;
    let attempt = |bot: i64, ago: &str, outcome: &str| {
        format!(
            "INSERT INTO deploy_attempts (bot_id, platform, started_at, duration_ms, outcome) \
             VALUES ({bot}, 'k8s', date_trunc('hour', now()) - interval '{ago}', 100, '{outcome}')"
        )
    };
    for sql in [
        attempt(alices, "2 hours", "deployed"),
        attempt(alices, "2 hours", "deployed"),
        attempt(alices, "2 hours", "failed"),
        attempt(alices, "2 hours", "rejected"),
        attempt(alices, "2 hours", "throttled"),
        attempt(alices, "5 days", "deployed"),
        attempt(bobs, "2 hours", "deployed"),
    ] {
        rig.app.exec(&sql).await;
    }
    rig.app
        .exec(&format!(
            "UPDATE bots SET status_changed_at = date_trunc('hour', now()) - interval '2 hours' WHERE id = {bobs}"
        ))
        .await;

    let day = rig.ok("admin", "get_infrastructure_activity", json!({ "range": "day" })).await;
    let day = day.as_array().unwrap();
    assert_eq!(day.len(), 24);
    let b = &day[21];
    assert_eq!(
        (b["deployments"].as_i64(), b["failovers"].as_i64(), b["failures"].as_i64()),
        (Some(3), Some(2), Some(1)),
        "{b}"
    );
    let sum = |v: &[Value], k: &str| v.iter().map(|b| b[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum(day, "deployments"), 3);

    let month = rig.ok("admin", "get_infrastructure_activity", json!({ "range": "month" })).await;
    let month = month.as_array().unwrap();
    assert_eq!(month.len(), 30);
    assert_eq!(sum(month, "deployments"), 4);

    let alice = rig.ok("alice", "get_infrastructure_activity", json!({ "range": "day" })).await;
    let alice = alice.as_array().unwrap();
    assert_eq!((sum(alice, "deployments"), sum(alice, "failovers"), sum(alice, "failures")), (2, 2, 0));
    let (status, _) = rig.call("alice", "get_infrastructure_activity", json!({ "range": "year" })).await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn platforms_show_their_health_and_deploy_latency_percentiles() {
    let mut rig = rig().await;
    let k8s = rig.k8s.clone();
    let (alices, _) = rig.bot_on("alice", "a", &k8s, "IN_CALL").await;
    let (bobs, _) = rig.bot_on("bob", "b", &k8s, "IN_CALL").await;
    for (bot, ms) in [(alices, 100), (alices, 200), (alices, 300), (alices, 400), (alices, 1000), (bobs, 5000)] {
        rig.app
            .exec(&format!(
                "INSERT INTO deploy_attempts (bot_id, platform, started_at, duration_ms, outcome) \
                 VALUES ({bot}, 'k8s', now() - interval '5 minutes', {ms}, 'deployed')"
            ))
            .await;
    }
    // An attempt of two hours ago is outside the hour.
    rig.app
        .exec(&format!(
            "INSERT INTO deploy_attempts (bot_id, platform, started_at, duration_ms, outcome) \
             VALUES ({alices}, 'k8s', now() - interval '2 hours', 99999, 'deployed')"
        ))
        .await;
    rig.app
        .exec(
            "INSERT INTO platform_health (platform, failures, unhealthy_since, retry_at, reason) \
             VALUES ('aws', 2, now() - interval '3 minutes', now() + interval '1 minute', 'the platform could not be reached or failed')",
        )
        .await;
    rig.app
        .exec("INSERT INTO platform_health (platform, throttled_until) VALUES ('k8s', now() + interval '30 seconds')")
        .await;

    let v = rig.ok("alice", "get_active_platforms", json!({})).await;
    let (k, a) = (&v[0], &v[1]);
    assert_eq!((k["limit"].as_i64(), k["queueTimeoutMs"].as_i64()), (Some(5), Some(60_000)));
    // percentile_cont over 100, 200, 300, 400, 1000: p50 300, p95 400 + 0.8 × 600.
    assert_eq!(
        (k["deploysLastHour"].as_i64(), k["deployP50Ms"].as_i64(), k["deployP95Ms"].as_i64()),
        (Some(5), Some(300), Some(880))
    );
    assert_eq!(k["health"]["state"], "throttled");
    assert_eq!(a["health"]["state"], "unhealthy", "{a}");
    assert_eq!(a["health"]["reason"], "the platform could not be reached or failed");
    assert!(a["health"]["since"].is_string() && a["health"]["retryAt"].is_string(), "{a}");
    assert_eq!((a["deploysLastHour"].as_i64(), a["deployP50Ms"].as_i64()), (Some(0), None));
    // The administrator's latency covers every user's deploys.
    let v = rig.ok("admin", "get_active_platforms", json!({})).await;
    assert_eq!(v[0]["deploysLastHour"], 6);
}
