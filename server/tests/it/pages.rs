//! Server-rendered pages: landing, 404, the sign-in guard.

use http::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn the_landing_page_names_the_product() {
    let mut app = TestApp::new().await;
    let r = app.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1"), "{}", r.body);
    assert!(r.body.contains("Welcome to Meeboter"));
    assert!(r.body.contains("/pkg/meeboter.css"));
}

#[tokio::test]
async fn an_unknown_path_is_a_404_page() {
    let mut app = TestApp::new().await;
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Page not found"));
}

#[tokio::test]
async fn signed_in_pages_redirect_a_visitor_to_sign_in_and_back() {
    let mut app = TestApp::new().await;
    for page in ["/bots", "/templates", "/api-keys", "/usage", "/infrastructure", "/account", "/bots/42"] {
        let r = app.get(page).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        let expected = format!("/auth/sign-in?next={}", page);
        assert_eq!(r.location(), Some(expected.as_str()), "{page}");
    }
    let r = app.get("/bots?page=2").await;
    assert_eq!(r.location(), Some("/auth/sign-in?next=/bots%3Fpage%3D2"));
}

#[tokio::test]
async fn a_forged_cookie_does_not_open_signed_in_pages() {
    let mut app = TestApp::new().await;
    let r = app
        .send(
            http::Request::get("/bots")
                .header(http::header::COOKIE, format!("meeboter_session={}", "a".repeat(64)))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_sign_in_and_sign_up_pages_render_their_forms() {
    let mut app = TestApp::new().await;
    let r = app.get("/auth/sign-in").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("name=\"email\"") && r.body.contains("name=\"password\""));
    let r = app.get("/auth/sign-up").await;
    assert!(r.body.contains("name=\"confirm_password\""));
}

#[tokio::test]
async fn every_signed_in_page_renders_promptly() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada Admin", "ada@example.com").await;
    for page in [
        "/",
        "/bots",
        "/bots?status=QUEUED&platform=zoom&page=2",
        "/templates",
        "/api-keys",
        "/usage",
        "/infrastructure",
        "/docs",
    ] {
        let r = tokio::time::timeout(std::time::Duration::from_secs(10), app.get(page))
            .await
            .unwrap_or_else(|_| panic!("{page} did not render within 10 s"));
        assert_eq!(r.status, StatusCode::OK, "{page}: {}", r.body);
    }
    let docs = app.get("/docs").await;
    assert!(docs.body.contains("Meeboter API") && docs.body.contains("/api/v1/bots/{id}/cancel"), "{}", docs.body);
}

/// Streamed server rendering once stalled now and then (a response that never ended). Every
/// signed-in page is rendered many times at once on a multi-threaded runtime, as in production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_rendered_concurrently_all_finish() {
    use tower::ServiceExt;
    let mut app = TestApp::new().await;
    app.sign_up("Ada Admin", "ada@example.com").await;
    let cookie = app.session_cookie().unwrap().to_owned();
    let pages = ["/", "/bots", "/templates", "/api-keys", "/usage", "/infrastructure", "/docs"];
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..12 {
        for page in pages {
            let router = app.router.clone();
            let cookie = cookie.clone();
            tasks.spawn(async move {
                let req = http::Request::get(page)
                    .header(http::header::ACCEPT, "text/html")
                    .header(http::header::COOKIE, cookie)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let res = tokio::time::timeout(std::time::Duration::from_secs(20), async {
                    crate::support::TestResponse::read(router.oneshot(req).await.unwrap()).await
                })
                .await
                .unwrap_or_else(|_| panic!("{page} (round {round}) did not finish within 20 s"));
                assert_eq!(res.status, StatusCode::OK, "{page}");
                assert!(res.body.contains("</body>"), "{page} ended early: {}", res.body);
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

#[tokio::test]
async fn the_infrastructure_page_is_for_every_user_and_users_and_plans_for_administrators() {
    let mut app = TestApp::new().await;
    app.sign_up("Admin", "admin@example.com").await;
    let page = app.get("/infrastructure").await;
    assert!(page.body.contains("Users and plans"), "{}", page.body);
    app.forget_cookie();
    app.sign_up("Plain", "plain@example.com").await;
    let r = app.call_json("list_users", serde_json::json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call_json(
            "set_user_plan",
            serde_json::json!({ "user_id": 2, "plan": "CUSTOM", "custom_daily_bot_limit": null }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.call_json("get_active_platforms", serde_json::json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = app.get("/infrastructure").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Where your bots run"), "{}", page.body);
    assert!(!page.body.contains("Users and plans") && !page.body.contains("This page is for administrators."));
}
