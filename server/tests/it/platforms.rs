//! Platforms end to end through the real router and PostgreSQL: a bot on Kubernetes (a fake API
//! server serving the driver's validated fixtures), the Platform tab's server functions and who
//! may call them, the image pull lock across deploys, and platforms that fail loudly (start-up,
//! `meeboter config check`, `/readyz`).

use std::sync::Arc;
use std::time::Duration;

use app::backend::deployer::{Deployer, Outcome};
use app::backend::platforms::kubernetes::KubernetesPlatform;
use app::backend::platforms::{BotLaunch, Platform};
use app::model::bot::MeetingPlatform;
use app::model::platform::DeploymentPlatform;
use http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::fake_k8s::FakeK8s;
use crate::support::{bot_status, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

async fn k8s_app(fake: &FakeK8s, pull_lock: bool) -> TestApp {
    let kubeconfig = fake.start().await;
    TestApp::builder()
        .var("PLATFORM_PRIORITY", "k8s")
        .var("K8S_BOT_LIMIT", "3")
        .var("K8S_KUBECONFIG", &kubeconfig)
        .var("K8S_IMAGE_PULL_LOCK_ENABLED", if pull_lock { "true" } else { "false" })
        .build()
        .await
}

/// Signs up `name` and keeps the session; answers an API key of theirs.
async fn signed_in(app: &mut TestApp, name: &str) -> String {
    app.forget_cookie();
    app.sign_up(name, &format!("{}@example.com", name.to_lowercase())).await;
    let r = app.call_json("create_api_key", json!({ "name": "k" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_bot_runs_as_a_kubernetes_job_and_its_platform_tab_shows_job_pod_usage_and_events() {
    let fake = FakeK8s::default();
    let mut app = k8s_app(&fake, false).await;
    let key = signed_in(&mut app, "Ada").await;
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await;
    let id = r.json()["id"].as_i64().unwrap();
    let deployer = Deployer::new(app.state.pool.clone(), app.state.config.clone(), app.state.platforms.clone());
    let done = deployer.dispatch_once().await.unwrap();
    let job = format!("bot-{id}");
    assert_eq!(done[0].1, Outcome::Deployed { platform: DeploymentPlatform::K8s, identifier: job.clone() });
    assert_eq!(bot_status(&app, id).await, "DEPLOYING");

    // Secret first, then the Job, then the Job owns the Secret; the token is only in the Secret.
    let seen = fake.seen();
    assert!(seen[0].starts_with("POST /api/v1/namespaces/meeboter/secrets"), "{seen:#?}");
    assert!(seen[1].starts_with("POST /apis/batch/v1/namespaces/meeboter/jobs"), "{seen:#?}");
    assert!(seen[2].starts_with(&format!("PATCH /api/v1/namespaces/meeboter/secrets/{job}-env")), "{seen:#?}");
    {
        let s = fake.state();
        let token = s.secrets[&format!("{job}-env")]["stringData"]["MILO_AUTH_TOKEN"].as_str().unwrap().to_owned();
        assert!(token.starts_with("mbt_"));
        assert!(!s.jobs[&job].to_string().contains(&token));
        assert_eq!(s.secrets[&format!("{job}-env")]["metadata"]["ownerReferences"][0]["uid"], format!("uid-{job}"));
    }

    let r = app.call_json("get_k8s_job", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = r.json();
    assert_eq!(
        (d["job"]["name"].as_str(), d["job"]["status"].as_str(), d["job"]["node"].as_str()),
        (Some(job.as_str()), Some("Running"), Some("k3s-0"))
    );
    assert_eq!(d["pod"]["name"], format!("{job}-x7k2p"));
    assert_eq!(d["pod"]["restarts"], 0);
    let m = app.call_json("get_k8s_metrics", json!({ "id": id })).await.json();
    assert_eq!(m["state"], "available", "{m}");
    assert_eq!(
        (m["cpu"]["usage"].as_str(), m["cpu"]["limit"].as_str(), m["cpu"]["percent"].as_u64()),
        (Some("180m"), Some("1000m"), Some(18))
    );
    assert_eq!(m["memory"]["percent"], 32);
    let events = app.call_json("get_k8s_events", json!({ "id": id })).await.json();
    let reasons: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"SuccessfulCreate") && reasons.contains(&"Scheduled"), "{reasons:?}");

    // A bot that ran on Kubernetes has no local process: a clear 400.
    let r = app.call_json("get_local_process", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("runs on K8s, not on Local"), "{}", r.body);

    // Another user sees nothing; an administrator sees it.
    signed_in(&mut app, "Bob").await;
    assert_eq!(app.call_json("get_k8s_job", json!({ "id": id })).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call_json("stop_bot_resource", json!({ "id": id })).await.status, StatusCode::NOT_FOUND);
    app.exec("UPDATE users SET role = 'admin' WHERE email = 'bob@example.com'").await;
    assert_eq!(app.call_json("get_k8s_job", json!({ "id": id })).await.status, StatusCode::OK);

    // Stop: the bot ends FATAL (STOPPED_BY_USER), the Job goes with background propagation.
    let r = app.call_json("stop_bot_resource", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(bot_status(&app, id).await, "FATAL");
    let delete =
        fake.state().requests.iter().find(|(m, p, _)| m == "DELETE" && p.contains(&format!("/jobs/{job}"))).cloned();
    assert_eq!(delete.expect("the Job was deleted").2["propagationPolicy"], "Background");
    assert!(fake.state().jobs.is_empty() && fake.state().secrets.is_empty());
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM bots WHERE id = {id} AND resource_stopped_at IS NOT NULL")).await,
        1
    );
    let r = app.call_json("get_k8s_job", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let sub = app
        .count(&format!(
            "SELECT count(*) AS n FROM events WHERE bot_id = {id} AND data->>'sub_code' = 'STOPPED_BY_USER'"
        ))
        .await;
    assert_eq!(sub, 1);
}

#[tokio::test]
async fn the_image_pull_lock_makes_other_bots_wait_for_the_first_pull() {
    let fake = FakeK8s::default();
    let app = k8s_app(&fake, true).await;
    let k8s: Arc<KubernetesPlatform> = app.state.platforms.driver().unwrap();
    let launch = |bot_id| BotLaunch {
        bot_id,
        meeting_platform: MeetingPlatform::Zoom,
        token: "mbt_x".into(),
        milo_url: "http://127.0.0.1:1".into(),
    };
    fake.state().pulling = true;
    k8s.deploy(&launch(1)).await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) AS n FROM image_pulls WHERE job_name = 'bot-1' AND pulled_at IS NULL").await,
        1
    );

    let second = tokio::spawn({
        let k8s = k8s.clone();
        async move { k8s.deploy(&launch(2)).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!fake.state().jobs.contains_key("bot-2"), "the second bot must wait for the first pull");
    fake.state().pulling = false;
    tokio::time::timeout(Duration::from_secs(10), second).await.unwrap().unwrap().unwrap();
    assert!(fake.state().jobs.contains_key("bot-2"));
    assert_eq!(app.count("SELECT count(*) AS n FROM image_pulls WHERE pulled_at IS NOT NULL").await, 1);

    // Once pulled, the next bot goes straight ahead; another image has its own lock.
    k8s.deploy(&launch(3)).await.unwrap();
    let meet = BotLaunch { meeting_platform: MeetingPlatform::GoogleMeet, ..launch(4) };
    k8s.deploy(&meet).await.unwrap();
    assert_eq!(app.count("SELECT count(*) AS n FROM image_pulls").await, 2);
}

#[tokio::test]
async fn readyz_reports_each_platforms_health_but_never_its_error_text() {
    let fake = FakeK8s::default();
    let mut app = k8s_app(&fake, false).await;
    fake.state().reject = true;
    app.state.platforms.probe_all().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "degraded");
    assert_eq!(r.json()["platforms"]["k8s"]["status"], "failing");
    assert_eq!(r.json()["platforms"]["k8s"]["error"], "unauthorised");
    assert!(!r.body.contains("127.0.0.1") && !r.body.contains("Unauthorized"), "{}", r.body);

    fake.state().reject = false;
    app.state.platforms.probe_all().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.json()["status"], "ready", "{}", r.body);
    assert_eq!(r.json()["platforms"]["k8s"]["status"], "ok");
}

#[tokio::test]
async fn a_platform_without_a_kubeconfig_stops_the_start() {
    use app::backend::config::{Config, Vars};
    let base = TestApp::new().await;
    let url = base.state.config.database_url.expose_secret().to_owned();
    let build = |extra: &[(&str, &str)]| {
        let mut vars = vec![("MEEBOTER_ENV", "development"), ("DATABASE_URL", url.as_str())];
        vars.extend_from_slice(extra);
        let config = Config::from_vars(&vars.into_iter().collect::<Vars>()).unwrap();
        server::commands::build_state(config, leptos::prelude::LeptosOptions::builder().output_name("meeboter").build())
    };
    let e =
        build(&[("PLATFORM_PRIORITY", "k8s"), ("K8S_BOT_LIMIT", "2"), ("K8S_KUBECONFIG", "/nonexistent/kubeconfig")])
            .await
            .err()
            .expect("no kubeconfig")
            .to_string();
    assert!(e.contains("platform k8s") && e.contains("K8S_KUBECONFIG=/nonexistent/kubeconfig"), "{e}");
}

/// `meeboter config check` tries each platform; `meeboter serve` refuses credentials that fail.
#[tokio::test]
async fn config_check_and_serve_try_each_platform_and_fail_loudly() {
    let fake = FakeK8s::default();
    let app = k8s_app(&fake, false).await;
    let path = app.state.config.k8s.kubeconfig.clone().unwrap();
    let run = |args: &'static [&'static str]| {
        let path = path.clone();
        let url = app.state.config.database_url.expose_secret().to_owned();
        async move {
            let out = tokio::time::timeout(
                Duration::from_secs(30),
                tokio::process::Command::new(env!("CARGO_BIN_EXE_meeboter"))
                    .args(args)
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap_or_default())
                    .env("MEEBOTER_ENV", "development")
                    .env("DATABASE_URL", url)
                    .env("PLATFORM_PRIORITY", "k8s")
                    .env("K8S_BOT_LIMIT", "3")
                    .env("K8S_KUBECONFIG", path)
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .expect("the command finished")
            .unwrap();
            (
                out.status.success(),
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
            )
        }
    };
    let (ok, out) = run(&["config", "check"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("platform k8s") && out.contains(" ok"), "{out}");

    fake.state().reject = true;
    let (ok, out) = run(&["config", "check"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED") && out.contains("unauthorised"), "{out}");
    let (ok, out) = run(&["serve", "--addr", "127.0.0.1:0"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("platform check failed") && out.contains("platform k8s"), "{out}");
}
