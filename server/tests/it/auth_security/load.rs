//! Under load: a sign-in flood leaves heartbeats and pages answering; runaway queries and
//! requests are cut by their timeouts.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_flood_leaves_heartbeats_and_pages_answering() {
    let mut app = TestApp::builder().var("TRUST_PROXY_HEADERS", "true").build().await;
    let key = app.user_with_key("Ada").await;
    let r = app
        .api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij" })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let token = {
        let mut conn = app.state.pool.get().await.unwrap();
        app::backend::services::bot_api::issue_token(&mut conn, id).await.unwrap()
    };
    app.call("sign_in", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    let cookie = app.session_cookie().unwrap().to_owned();

    let mut flood = tokio::task::JoinSet::new();
    for i in 0..50 {
        let router = app.router.clone();
        flood.spawn(async move {
            let form = [("email", "ada@example.com"), ("password", "a wrong password")];
            let req = fn_request("sign_in", &form, Some(&format!("203.0.113.{i}")), None);
            TestResponse::read(router.oneshot(req).await.unwrap()).await.status
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let bound = std::time::Duration::from_millis(1500);

    let started = std::time::Instant::now();
    let heartbeat =
        Request::post(format!("/api/v1/bot/{id}/heartbeat")).header("x-milo-token", &token).body(Body::empty());
    let r = send(&app, heartbeat.unwrap()).await;
    let heartbeat_took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let started = std::time::Instant::now();
    let page = Request::get("/bots").header(header::COOKIE, &cookie).header(header::ACCEPT, "text/html");
    let r = send(&app, page.body(Body::empty()).unwrap()).await;
    let page_took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK);

    let statuses = flood.join_all().await;
    assert!(heartbeat_took < bound, "the heartbeat took {heartbeat_took:?} during the flood");
    assert!(page_took < bound, "the page took {page_took:?} during the flood");
    // Every guess was judged (401) or turned away with a message (429); none failed.
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn pooled_connections_carry_a_statement_timeout() {
    let app = TestApp::builder().var("DATABASE_STATEMENT_TIMEOUT_MS", "300").build().await;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement_timeout: String,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = app.state.pool.get().await.unwrap();
    let s: Setting = diesel::sql_query("SHOW statement_timeout").get_result(&mut conn).await.unwrap();
    assert_eq!(s.statement_timeout, "300ms");
    let slow = diesel::sql_query("SELECT pg_sleep(2)").execute(&mut conn).await;
    assert!(slow.unwrap_err().to_string().contains("statement timeout"));
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_503_with_a_message() {
    let mut app = TestApp::builder().var("REQUEST_TIMEOUT_SECS", "1").build().await;
    // Another session holds the sign-up lock, so this sign-up waits for it.
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use secrecy::ExposeSecret;
    let url = app.state.config.database_url.expose_secret().to_owned();
    let mut blocker = diesel_async::AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("SELECT pg_advisory_lock(7300001)").execute(&mut blocker).await.unwrap();
    let started = std::time::Instant::now();
    let r = app
        .call(
            "sign_up",
            &[("name", "Ada"), ("email", "ada@example.com"), ("password", PASSWORD), ("confirm_password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("took too long"), "{}", r.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    diesel::sql_query("SELECT pg_advisory_unlock(7300001)").execute(&mut blocker).await.unwrap();
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 0);
}
