//! `/healthz` and `/readyz`.

use http::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let mut app = TestApp::new().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ok_when_migrations_are_current() {
    let mut app = TestApp::new().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn readyz_is_503_with_a_reason_when_migrations_are_pending() {
    let mut app = TestApp::builder().unmigrated().build().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let reason = r.json()["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("meeboter migrate"), "{reason}");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_unreachable() {
    let mut app = TestApp::builder().var("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none").build().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["reason"], "database unreachable");
}
