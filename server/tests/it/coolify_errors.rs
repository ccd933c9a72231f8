//! How the Coolify driver meets errors and old servers: each error kind, the GET fallback of
//! servers before 4.2, Prism refusing what breaks the document, missing settings. Helpers in
//! `coolify.rs`.

use std::time::Duration;

use app::backend::config::CoolifyConfig;
use app::backend::platforms::coolify::CoolifyPlatform;
use app::backend::platforms::{ErrorKind, Platform, ResourceStatus};
use secrecy::SecretString;
use serde_json::json;

use crate::coolify::{config, Pool};
use crate::fake_coolify::TOKEN;
use crate::support::TestApp;

#[tokio::test]
async fn errors_map_to_the_platform_error_kinds() {
    let p = Pool::new(3, false).await;
    let api = p.driver.api();
    for (status, kind) in [
        // Redirects are not followed: the answer itself is refused.
        (302, ErrorKind::Rejected),
        (400, ErrorKind::Rejected),
        (401, ErrorKind::Unauthorised),
        (403, ErrorKind::Unauthorised),
        (404, ErrorKind::NotFound),
        (409, ErrorKind::Conflict),
        (422, ErrorKind::Rejected),
        (429, ErrorKind::Throttled),
        (500, ErrorKind::Unavailable),
        (503, ErrorKind::Unavailable),
    ] {
        p.fake.fail_next("PATCH", "/applications/app9", status, json!({ "message": format!("said {status}") }));
        let e = api.update_application("app9", &json!({ "description": "x" })).await.unwrap_err();
        assert_eq!(e.kind, kind, "{status}: {e}");
        assert!(e.message.contains(&format!("said {status}")) && e.message.contains(&format!("HTTP {status}")), "{e}");
    }
    // A wrong token: 401 from Coolify itself.
    let mut cfg = config(&p.url, 3);
    cfg.api_token = Some(SecretString::from("wrong"));
    let wrong = CoolifyPlatform::connect(&cfg, None, p.app.state.pool.clone()).unwrap();
    let e = wrong.probe().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorised, "{e}");
    assert!(!e.message.contains("wrong"), "the token is never in a message: {e}");
    // Nobody listening: unavailable.
    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    let gone = CoolifyPlatform::connect(&config(&closed, 3), None, p.app.state.pool.clone()).unwrap();
    assert_eq!(gone.probe().await.unwrap_err().kind, ErrorKind::Unavailable);
    // An unknown environment: not found, at probe.
    let mut cfg = config(&p.url, 3);
    cfg.environment_name = "staging".into();
    let e = CoolifyPlatform::connect(&cfg, None, p.app.state.pool.clone()).unwrap().probe().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    // Stop and delete of what is not there succeed; reading it is None.
    api.stop("nothere").await.unwrap();
    api.delete("nothere").await.unwrap();
    assert_eq!(api.application("nothere").await.unwrap(), None);
    assert_eq!(p.driver.status("nothere").await.unwrap(), ResourceStatus::Gone);
    // An answer larger than the cap is not read.
    p.fake.state().list_padding = 9 * 1024 * 1024;
    let e = api.list_pool().await.unwrap_err();
    assert!(e.kind == ErrorKind::Unavailable && e.message.contains("larger than"), "{e}");
    p.fake.state().list_padding = 0;
    // An identifier that is not one is refused before any request.
    let before = p.fake.seen().len();
    assert_eq!(api.stop("../version").await.unwrap_err().kind, ErrorKind::Rejected);
    assert_eq!(p.fake.seen().len(), before);
}

#[tokio::test]
async fn an_old_coolify_that_refuses_post_gets_get_for_start_and_stop() {
    let p = Pool::new(3, false).await;
    p.fake.state().old_server = true;
    let uuid = p.fake.add_app("pool-zoom-001");
    let deployment = p.driver.api().start(&uuid).await.unwrap();
    assert!(deployment.is_some());
    p.driver.api().stop(&uuid).await.unwrap();
    let seen = p.fake.seen();
    let tail: Vec<&str> = seen.iter().rev().take(4).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            format!("POST /applications/{uuid}/start"),
            format!("GET /applications/{uuid}/start"),
            format!("POST /applications/{uuid}/stop"),
            format!("GET /applications/{uuid}/stop"),
        ]
    );
    // The deployment list of real servers ({count, deployments}) is read too.
    let latest = p.driver.api().latest_deployment(&uuid).await.unwrap().unwrap();
    assert_eq!(Some(latest.deployment_uuid), deployment);
    assert_eq!(latest.status, "queued");
}

#[tokio::test]
async fn prism_refuses_a_request_or_an_answer_that_breaks_the_document() {
    let p = Pool::new(3, true).await;
    let prism = p.prism.as_ref().unwrap();
    let http = reqwest::Client::new();
    // A create without environment_uuid (valid for real servers, not for the document).
    let r = http
        .post(format!("{}/applications/dockerimage", prism.url))
        .bearer_auth(TOKEN)
        .json(&json!({ "project_uuid": "p", "server_uuid": "s", "environment_name": "production", "docker_registry_image_name": "i" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("environment_uuid"));
    assert_eq!(p.fake.count("POST /applications/dockerimage"), 0, "an invalid request is never forwarded");
    assert!(!prism.await_violations(Duration::from_secs(5)).await.is_empty());
    // An answer with a number where the document says string: the driver sees a failure.
    let uuid = p.fake.add_app("pool-zoom-001");
    p.fake.state().broken = true;
    let e = p.driver.api().application(&uuid).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
    assert!(e.message.contains("Response body property uuid must be string"), "{e}");
}

#[tokio::test]
async fn a_missing_setting_is_misconfigured_and_names_the_variable() {
    let app = TestApp::new().await;
    for (name, edit) in [
        ("COOLIFY_API_URL", (|c: &mut CoolifyConfig| c.api_url = None) as fn(&mut CoolifyConfig)),
        ("COOLIFY_API_TOKEN", |c| c.api_token = None),
        ("COOLIFY_PROJECT_UUID", |c| c.project_uuid = None),
        ("COOLIFY_SERVER_UUID", |c| c.server_uuid = None),
    ] {
        let mut cfg = config("http://127.0.0.1:9", 3);
        edit(&mut cfg);
        let e = CoolifyPlatform::connect(&cfg, None, app.state.pool.clone()).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Misconfigured);
        assert!(e.message.contains(name), "{e}");
    }
}
