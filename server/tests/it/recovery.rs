//! Recovery and confirmed teardown, one reconciler pass at a time over two in-memory platforms
//! (`FakePlatform` as k8s and aws): vanished and exited resources fail their bots with a reason
//! within one pass, misses are confirmed before anyone is failed, teardown and orphans are
//! stopped until the platform confirms, orphans are platform-aware, a bot that does not leave
//! the call is stopped, and a silent bot is torn down within the heartbeat threshold plus one
//! period.

use std::sync::Arc;
use std::time::Duration;

use app::backend::config::PlatformSlot;
use app::backend::platforms::{Platform, PlatformRegistry, ResourceStatus};
use app::backend::workers::reconciler::{Pass, Reconciler, DEPLOYING_GRACE, RECONCILE_INTERVAL};
use app::model::platform::DeploymentPlatform;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::{json, Value};

use crate::fake_platform::{Call, FakePlatform};
use crate::support::{bot_status, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

/// A test app, a user, two fake platforms and a reconciler over them.
struct Rig {
    app: TestApp,
    key: String,
    k8s: FakePlatform,
    aws: FakePlatform,
    reconciler: Reconciler,
}

async fn rig() -> Rig {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    app.exec("UPDATE users SET custom_daily_bot_limit = 100000").await;
    let (k8s, aws) = (FakePlatform::new(DeploymentPlatform::K8s), FakePlatform::new(DeploymentPlatform::Aws));
    let mut config = (*app.state.config).clone();
    config.platforms = [DeploymentPlatform::K8s, DeploymentPlatform::Aws]
        .map(|platform| PlatformSlot { platform, limit: 10_000, queue_timeout: Duration::from_secs(60) })
        .to_vec();
    let config = Arc::new(config);
    let drivers: Vec<Arc<dyn Platform>> = vec![Arc::new(k8s.clone()), Arc::new(aws.clone())];
    let registry = Arc::new(PlatformRegistry::new(&config, drivers));
    // The server's own functions (the Platform tab) drive the same fakes.
    app.state.platforms = registry.clone();
    app.router = server::http::router(app.state.clone());
    let reconciler = Reconciler::new(app.state.pool.clone(), registry, config);
    Rig { app, key, k8s, aws, reconciler }
}

impl Rig {
    /// A bot that reported `statuses` and runs as a fresh resource on `fake`; answers its id,
    /// token and identifier.
    async fn bot_on(&mut self, fake: &FakePlatform, statuses: &[&str]) -> (i64, String, String) {
        let (id, token) = self.app.bot_with_token(&self.key, json!({ "meetingUrl": MEET })).await;
        for s in statuses {
            let r = self.report(id, &token, s).await;
            assert_eq!(r.0, StatusCode::OK, "{s}: {}", r.1);
        }
        let identifier = fake.launch(id);
        self.place(id, fake.kind(), Some(&identifier)).await;
        (id, token, identifier)
    }

    /// Stores where the bot runs.
    async fn place(&self, id: i64, kind: DeploymentPlatform, identifier: Option<&str>) {
        let identifier = identifier.map_or("NULL".to_owned(), |i| format!("'{i}'"));
        self.app
            .exec(&format!(
                "UPDATE bots SET deployment_platform = '{}', platform_identifier = {identifier} WHERE id = {id}",
                kind.as_str()
            ))
            .await;
    }

    async fn report(&mut self, id: i64, token: &str, status: &str) -> (StatusCode, String) {
        let body = Some(json!({ "status": status }).to_string());
        let r = self.app.raw("POST", &format!("/api/v1/bot/{id}/status"), &[("x-milo-token", token)], body).await;
        (r.status, r.body)
    }

    /// `n` copies of bot `template` in IN_CALL on `kind`, inserted at once; answers their ids.
    async fn clone_bot(&self, template: i64, kind: DeploymentPlatform, n: usize) -> Vec<i64> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let rows: Vec<Id> = diesel::sql_query(format!(
            "INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, start_time, end_time, status, \
                               deployment_platform) \
             SELECT user_id, meeting, meeting_platform, automatic_leave, start_time, end_time, 'IN_CALL', '{}' \
             FROM bots, generate_series(1, {n}) WHERE id = {template} RETURNING id",
            kind.as_str()
        ))
        .load(&mut self.app.state.pool.get().await.unwrap())
        .await
        .unwrap();
        self.app.exec("UPDATE bots SET platform_identifier = 'fleet-' || id WHERE platform_identifier IS NULL").await;
        rows.into_iter().map(|r| r.id).collect()
    }

    async fn pass(&self, now: DateTime<Utc>) -> Pass {
        self.reconciler.pass(now).await.unwrap()
    }

    /// The data of the bot's FATAL event, if it has one.
    async fn fatal(&mut self, id: i64) -> Option<Value> {
        let events = self.app.api("GET", &format!("/api/v1/bots/{id}/events"), &self.key, None).await.json();
        events.as_array().unwrap().iter().find(|e| e["eventType"] == "FATAL").map(|e| e["data"].clone())
    }

    async fn teardown_confirmed(&self, id: i64) -> bool {
        self.app
            .count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND resource_stopped_at IS NOT NULL"))
            .await
            == 1
    }
}

fn later(d: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(d).unwrap()
}

#[tokio::test]
async fn a_bot_whose_resource_vanished_or_exited_is_fatal_within_one_pass_with_a_reason_its_owner_can_act_on() {
    let mut rig = rig().await;
    let (gone, _, gone_job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    let (exited, _, exited_task) = rig.bot_on(&rig.aws.clone(), &["IN_CALL", "CALL_ENDED"]).await;
    let (waiting, _, _) = rig.bot_on(&rig.aws.clone(), &["IN_WAITING_ROOM"]).await;
    let (healthy, _, healthy_job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    assert_eq!(rig.pass(Utc::now()).await, Pass::default(), "nothing is wrong yet");

    rig.k8s.vanish(&gone_job);
    rig.aws.exit(&exited_task, Some(137));
    let waiting_task = rig.aws.running().into_iter().find(|i| i.starts_with(&format!("aws-{waiting}-"))).unwrap();
    rig.aws.exit(&waiting_task, None);
    let pass = rig.pass(Utc::now()).await;
    assert_eq!(pass.vanished, 3, "{pass:?}");
    for id in [gone, exited, waiting] {
        assert_eq!(bot_status(&rig.app, id).await, "FATAL");
    }
    assert_eq!(bot_status(&rig.app, healthy).await, "IN_CALL");

    let data = rig.fatal(gone).await.unwrap();
    assert_eq!(data["sub_code"], "RESOURCE_GONE");
    let why = data["description"].as_str().unwrap();
    assert!(why.contains("The bot's Job on Kubernetes disappeared before the bot reported DONE"), "{why}");
    assert!(!why.contains(&gone_job), "no platform internals: {why}");
    let data = rig.fatal(exited).await.unwrap();
    assert_eq!(data["sub_code"], "RESOURCE_EXITED");
    let why = data["description"].as_str().unwrap();
    assert!(why.contains("The bot's container on AWS ECS exited with code 137"), "{why}");
    assert!(why.contains("without reporting DONE"), "{why}");
    assert!(!why.contains(&exited_task), "no platform internals: {why}");
    let data = rig.fatal(waiting).await.unwrap();
    assert_eq!(data["description"], "The bot's container on AWS ECS stopped without reporting DONE.");

    // The same pass tore them down: the exited ones were stopped, the gone one needs nothing.
    for id in [gone, exited, waiting] {
        assert!(rig.teardown_confirmed(id).await, "bot {id}");
    }
    assert_eq!(pass.stopped, 3, "{pass:?}");
    assert_eq!(rig.k8s.resource(&healthy_job).unwrap().status, ResourceStatus::Running);
    assert_eq!(rig.k8s.stops_of(&healthy_job), 0);
}

#[tokio::test]
async fn a_lagging_or_wrong_list_never_fails_a_running_bot() {
    let mut rig = rig().await;
    // The list lags: it was taken before this bot's Job existed.
    rig.k8s.freeze_list();
    let (late, _, _) = rig.bot_on(&rig.k8s.clone(), &["JOINING_CALL"]).await;
    assert_eq!(rig.pass(Utc::now()).await, Pass::default());
    assert_eq!(rig.k8s.status_calls(), 1, "the miss is confirmed with status()");
    rig.k8s.thaw_list();
    // The list is wrong: it leaves a running Job out.
    let (hidden, _, hidden_job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    rig.k8s.hide(&hidden_job);
    assert_eq!(rig.pass(Utc::now()).await, Pass::default());
    assert_eq!(rig.k8s.status_calls(), 2, "only the new miss is confirmed");
    for id in [late, hidden] {
        assert_ne!(bot_status(&rig.app, id).await, "FATAL");
    }
    assert!(rig.k8s.stop_calls().is_empty(), "a running bot's resource is never stopped");
    rig.k8s.unhide(&hidden_job);
    rig.pass(Utc::now()).await;
    assert_eq!(rig.k8s.status_calls(), 2, "listed running again: nothing to ask");
    rig.k8s.hide(&hidden_job);

    // A resource the list misses and whose status cannot be read is not judged this pass.
    rig.k8s.vanish(&hidden_job);
    rig.k8s.fail(Call::Status, true);
    assert_eq!(rig.pass(Utc::now()).await.vanished, 0);
    assert_eq!(bot_status(&rig.app, hidden).await, "IN_CALL");
    // Nor when the list itself fails.
    rig.k8s.fail(Call::Status, false);
    rig.k8s.fail(Call::List, true);
    assert_eq!(rig.pass(Utc::now()).await.vanished, 0);
    assert_eq!(bot_status(&rig.app, hidden).await, "IN_CALL");
    // Once the platform answers, it is.
    rig.k8s.fail(Call::List, false);
    assert_eq!(rig.pass(Utc::now()).await.vanished, 1);
    assert_eq!(bot_status(&rig.app, hidden).await, "FATAL");
}

#[tokio::test]
async fn each_pass_lists_each_platform_once_whatever_the_fleet_size() {
    let mut rig = rig().await;
    let (template, _, _) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    for (fake, n) in [(rig.k8s.clone(), 900), (rig.aws.clone(), 100)] {
        for id in rig.clone_bot(template, fake.kind(), n).await {
            fake.insert(&format!("fleet-{id}"), Some(id));
        }
    }
    let before = (rig.k8s.list_calls(), rig.aws.list_calls());
    assert_eq!(rig.pass(Utc::now()).await, Pass::default());
    assert_eq!((rig.k8s.list_calls(), rig.aws.list_calls()), (before.0 + 1, before.1 + 1), "one list per platform");
    assert_eq!(rig.k8s.status_calls() + rig.aws.status_calls(), 0, "nothing to confirm");
    assert!(rig.k8s.stop_calls().is_empty() && rig.aws.stop_calls().is_empty());

    // A list that drops everything costs a bounded number of confirmations per pass.
    rig.k8s.freeze_list();
    for id in rig.k8s.running() {
        rig.k8s.hide(&id);
    }
    rig.pass(Utc::now()).await;
    assert_eq!(rig.k8s.list_calls(), before.0 + 2);
    assert_eq!(rig.k8s.status_calls(), app::backend::workers::reconciler::CONFIRM_BATCH);
    assert_eq!(rig.app.count("SELECT count(*) AS n FROM bots WHERE status = 'FATAL'").await, 0);
}

#[tokio::test]
async fn a_bot_that_reports_done_while_its_resource_is_being_checked_is_never_failed() {
    let mut rig = rig().await;
    let (id, token, job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL", "CALL_ENDED"]).await;
    // The bot uploads, exits 0 and its DONE is on its way when the reconciler looks.
    rig.k8s.exit(&job, Some(0));
    let paused = rig.k8s.pause_status();
    let pass = {
        let reconciler = Reconciler::new(
            rig.app.state.pool.clone(),
            rig.reconciler.platforms.clone(),
            rig.reconciler.config.clone(),
        );
        tokio::spawn(async move { reconciler.pass(Utc::now()).await.unwrap() })
    };
    tokio::time::timeout(Duration::from_secs(10), paused.entered()).await.expect("the pass confirms the exit");
    assert_eq!(rig.report(id, &token, "DONE").await.0, StatusCode::OK);
    paused.resume();
    let pass = pass.await.unwrap();
    assert_eq!(pass.vanished, 0, "{pass:?}");
    assert_eq!(bot_status(&rig.app, id).await, "DONE");
    assert!(rig.fatal(id).await.is_none(), "no FATAL event for a bot that finished");
    // Its resource is torn down like any finished bot's.
    rig.pass(Utc::now()).await;
    assert!(rig.teardown_confirmed(id).await);
}

#[tokio::test]
async fn a_deploying_bot_is_judged_only_with_an_identifier_and_after_the_grace() {
    let mut rig = rig().await;
    let (fresh, _, job) = rig.bot_on(&rig.k8s.clone(), &[]).await;
    rig.k8s.vanish(&job);
    // A deploy in flight has no identifier yet.
    let (in_flight, _) = rig.app.bot_with_token(&rig.key, json!({ "meetingUrl": MEET })).await;
    rig.place(in_flight, DeploymentPlatform::K8s, None).await;
    assert_eq!(rig.pass(Utc::now()).await.vanished, 0);
    assert_eq!(rig.k8s.status_calls(), 0);
    assert_eq!(bot_status(&rig.app, fresh).await, "DEPLOYING");

    let after_grace = later(DEPLOYING_GRACE + Duration::from_secs(1));
    assert_eq!(rig.pass(after_grace).await.vanished, 1);
    assert_eq!(bot_status(&rig.app, fresh).await, "FATAL");
    assert_eq!(bot_status(&rig.app, in_flight).await, "DEPLOYING");
}

#[tokio::test]
async fn a_bot_placed_elsewhere_meanwhile_is_not_failed_for_its_old_resource() {
    let mut rig = rig().await;
    let (id, _, job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    rig.k8s.vanish(&job);
    // The miss is confirmed while the bot is being placed on aws.
    let paused = rig.k8s.pause_status();
    let pass = {
        let reconciler = Reconciler::new(
            rig.app.state.pool.clone(),
            rig.reconciler.platforms.clone(),
            rig.reconciler.config.clone(),
        );
        tokio::spawn(async move { reconciler.pass(Utc::now()).await.unwrap() })
    };
    tokio::time::timeout(Duration::from_secs(10), paused.entered()).await.expect("the pass confirms the miss");
    let task = rig.aws.launch(id);
    rig.place(id, DeploymentPlatform::Aws, Some(&task)).await;
    paused.resume();
    assert_eq!(pass.await.unwrap().vanished, 0);
    assert_eq!(bot_status(&rig.app, id).await, "IN_CALL");
}

#[tokio::test]
async fn teardown_is_recorded_only_once_the_platform_confirms_and_is_retried_until_then() {
    let mut rig = rig().await;
    let (id, token, task) = rig.bot_on(&rig.aws.clone(), &["IN_CALL", "CALL_ENDED"]).await;
    assert_eq!(rig.report(id, &token, "DONE").await.0, StatusCode::OK);
    // ECS: a stopped task is STOPPING for a while before it is STOPPED.
    rig.aws.slow_stops(true);
    let pass = rig.pass(Utc::now()).await;
    assert_eq!((pass.stopped, pass.stopping), (0, 1), "{pass:?}");
    assert!(!rig.teardown_confirmed(id).await);
    rig.pass(Utc::now()).await;
    assert_eq!(rig.aws.stops_of(&task), 2, "stopped again on the next pass");
    assert!(rig.aws.released().is_empty(), "nothing released before the stop is confirmed");
    rig.aws.settle();
    let pass = rig.pass(Utc::now()).await;
    assert_eq!((pass.stopped, pass.stopping), (1, 0), "{pass:?}");
    assert!(rig.teardown_confirmed(id).await);
    assert_eq!(rig.aws.released(), vec![id]);
    let stops = rig.aws.stops_of(&task);
    rig.pass(Utc::now()).await;
    assert_eq!(rig.aws.stops_of(&task), stops, "a confirmed teardown is not repeated");

    // A stop the platform refuses is retried, and never recorded as done.
    let (failed, token, job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    assert_eq!(rig.report(failed, &token, "FATAL").await.0, StatusCode::OK);
    rig.k8s.fail(Call::Stop, true);
    rig.pass(Utc::now()).await;
    assert!(!rig.teardown_confirmed(failed).await);
    rig.k8s.fail(Call::Stop, false);
    rig.pass(Utc::now()).await;
    assert!(rig.teardown_confirmed(failed).await);
    assert_eq!(rig.k8s.resource(&job).unwrap().status, ResourceStatus::Exited { code: Some(143) });
}

#[tokio::test]
async fn a_finished_bots_slot_given_to_another_bot_is_not_stopped() {
    let mut rig = rig().await;
    let (first, token, slot) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    assert_eq!(rig.report(first, &token, "DONE").await.0, StatusCode::OK);
    // A pool platform gave the slot to the next bot before the reconciler came by.
    let (next, _) = rig.app.bot_with_token(&rig.key, json!({ "meetingUrl": MEET })).await;
    rig.place(next, DeploymentPlatform::K8s, Some(&slot)).await;
    rig.k8s.reassign(&slot, Some(next));
    let pass = rig.pass(Utc::now()).await;
    assert_eq!(pass.stopped, 1, "{pass:?}");
    assert!(rig.teardown_confirmed(first).await);
    assert_eq!(rig.k8s.stops_of(&slot), 0);
    assert_eq!(rig.k8s.resource(&slot).unwrap().status, ResourceStatus::Running);
}

#[tokio::test]
async fn orphans_are_stopped_on_every_pass_until_the_platform_no_longer_lists_them_running() {
    let rig = rig().await;
    rig.k8s.insert("job-of-a-deleted-bot", Some(999_999));
    rig.k8s.insert("job-of-no-bot", None);
    rig.k8s.slow_stops(true);
    assert_eq!(rig.pass(Utc::now()).await.orphans, 2);
    assert_eq!(rig.pass(Utc::now()).await.orphans, 2, "still running: stopped again");
    assert_eq!(rig.k8s.stops_of("job-of-a-deleted-bot"), 2);
    rig.k8s.settle();
    assert_eq!(rig.pass(Utc::now()).await.orphans, 0);
    assert_eq!(rig.k8s.stops_of("job-of-a-deleted-bot"), 2);
    assert!(rig.k8s.running().is_empty());
    assert_eq!(rig.k8s.released(), vec![999_999, 999_999], "what the deleted bot held is given back");
}

#[tokio::test]
async fn a_resource_is_an_orphan_unless_its_bot_runs_on_that_platform_with_that_identifier() {
    let mut rig = rig().await;
    // The bot failed over from k8s to aws: its leftover Job on k8s is an orphan.
    let (moved, _, task) = rig.bot_on(&rig.aws.clone(), &["IN_CALL"]).await;
    rig.k8s.insert("leftover-job", Some(moved));
    // A second task on aws that names it, but is not the one it runs in.
    rig.aws.insert("stray-task", Some(moved));
    // A bot being placed on k8s (no identifier yet) keeps its new Job; its stray task on aws goes.
    let (placing, _) = rig.app.bot_with_token(&rig.key, json!({ "meetingUrl": MEET })).await;
    rig.place(placing, DeploymentPlatform::K8s, None).await;
    rig.k8s.insert("new-job", Some(placing));
    rig.aws.insert("placing-stray", Some(placing));

    let pass = rig.pass(Utc::now()).await;
    assert_eq!(pass.orphans, 3, "{pass:?}");
    assert_eq!(rig.k8s.running(), vec!["new-job".to_owned()]);
    assert_eq!(rig.aws.running(), vec![task]);
    for id in [moved, placing] {
        assert_ne!(bot_status(&rig.app, id).await, "FATAL");
    }
    // Only what a bot holds where it does not run is given back.
    assert_eq!(rig.k8s.released(), vec![moved]);
    assert_eq!(rig.aws.released(), vec![placing]);
}

#[tokio::test]
async fn a_bot_that_does_not_leave_within_the_grace_is_fatal_and_its_resource_stopped() {
    let mut rig = rig().await;
    let (id, _, job) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    let r = rig.app.api("POST", &format!("/api/v1/bots/{id}/remove-from-call"), &rig.key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(bot_status(&rig.app, id).await, "LEAVING");
    assert_eq!(rig.reconciler.config.remove_from_call_grace, Duration::from_secs(60));
    assert_eq!(rig.pass(later(Duration::from_secs(59))).await, Pass::default());
    assert_eq!(bot_status(&rig.app, id).await, "LEAVING");

    let pass = rig.pass(later(Duration::from_secs(61))).await;
    assert_eq!((pass.silent, pass.stopped), (1, 1), "{pass:?}");
    let data = rig.fatal(id).await.unwrap();
    assert_eq!(data["sub_code"], "LEAVE_TIMEOUT");
    assert_eq!(data["description"], "The bot did not leave the call within 60 s of being asked; Meeboter stopped it.");
    assert_eq!(rig.k8s.resource(&job).unwrap().status, ResourceStatus::Exited { code: Some(143) });
    assert!(rig.teardown_confirmed(id).await);
}

#[tokio::test]
async fn a_silent_bot_is_fatal_and_torn_down_within_the_heartbeat_threshold_plus_one_period() {
    let mut rig = rig().await;
    let (id, token, task) = rig.bot_on(&rig.aws.clone(), &["IN_CALL"]).await;
    let r = rig.app.raw("POST", &format!("/api/v1/bot/{id}/heartbeat"), &[("x-milo-token", &token)], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    rig.app.state.heartbeats.flush().await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Beat {
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        at: DateTime<Utc>,
    }
    use diesel_async::RunQueryDsl;
    let last: Beat = diesel::sql_query(format!(
        "SELECT GREATEST(last_heartbeat, status_changed_at) AS at FROM bots WHERE id = {id}"
    ))
    .get_result(&mut rig.app.state.pool.get().await.unwrap())
    .await
    .unwrap();
    let threshold = rig.reconciler.config.heartbeat_timeout;
    // The bot stops heartbeating (its container hangs). Just before the threshold, nothing.
    let at = |d: Duration| last.at + chrono::Duration::from_std(d).unwrap();
    assert_eq!(rig.pass(at(threshold - Duration::from_secs(1))).await, Pass::default());
    // The first pass after the threshold, at most one period later, fails it and stops its task,
    // and the platform confirms.
    assert!(RECONCILE_INTERVAL <= Duration::from_secs(10));
    let pass = rig.pass(at(threshold + RECONCILE_INTERVAL)).await;
    assert_eq!((pass.silent, pass.stopped), (1, 1), "{pass:?}");
    assert_eq!(rig.fatal(id).await.unwrap()["sub_code"], "HEARTBEAT_TIMEOUT");
    assert_eq!(rig.aws.resource(&task).unwrap().status, ResourceStatus::Exited { code: Some(143) });
    assert!(rig.teardown_confirmed(id).await);
    assert_eq!(rig.aws.released(), vec![id]);
}

#[tokio::test]
async fn a_stop_from_the_platform_tab_is_recorded_only_once_the_platform_confirms() {
    let mut rig = rig().await;
    let (id, _, task) = rig.bot_on(&rig.aws.clone(), &["IN_CALL"]).await;
    rig.app.sign_up("Bob", "bob@example.com").await;
    rig.app.exec("UPDATE users SET role = 'admin' WHERE email = 'bob@example.com'").await;
    rig.aws.slow_stops(true);
    let r = rig.app.call_json("stop_bot_resource", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("keeps stopping it until AWS confirms"), "{}", r.body);
    assert_eq!(bot_status(&rig.app, id).await, "FATAL");
    assert!(!rig.teardown_confirmed(id).await, "the task is still STOPPING");
    // The reconciler takes over: it stops again, and records the teardown once confirmed.
    assert_eq!(rig.pass(Utc::now()).await.stopping, 1);
    rig.aws.settle();
    assert_eq!(rig.pass(Utc::now()).await.stopped, 1);
    assert!(rig.teardown_confirmed(id).await);
    assert_eq!(rig.aws.stops_of(&task), 3);
}

#[tokio::test]
async fn a_platform_that_sees_only_its_own_processes_judges_only_what_it_lists() {
    let mut rig = rig().await;
    // Like the local platform under several replicas: another replica runs this bot's process.
    rig.k8s.own_resources_only(true);
    let (elsewhere, _, process) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    rig.k8s.vanish(&process);
    let (here, _, own) = rig.bot_on(&rig.k8s.clone(), &["IN_CALL"]).await;
    rig.k8s.exit(&own, Some(1));
    let pass = rig.pass(Utc::now()).await;
    assert_eq!(pass.vanished, 1, "{pass:?}");
    assert_eq!(bot_status(&rig.app, elsewhere).await, "IN_CALL");
    assert_eq!(bot_status(&rig.app, here).await, "FATAL");
    assert_eq!(rig.k8s.status_calls_of(&process), 0, "what it does not list is not asked about");
    assert!(rig.k8s.status_calls_of(&own) >= 1, "the listed exit is confirmed");
}
