//! Sign up, sign in, sign out, sessions and rate limits through the real server functions.

use http::StatusCode;

use crate::support::{TestApp, PASSWORD};

fn error_message(r: &crate::support::TestResponse) -> String {
    r.body.clone()
}

#[tokio::test]
async fn sign_up_opens_a_session_and_the_dashboard_greets_by_name() {
    let mut app = TestApp::new().await;
    let r = app.sign_up("Ada Lovelace", "Ada@Example.com").await;
    let cookie = r.set_cookies.first().expect("a session cookie").clone();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http must not set Secure: {cookie}");

    let page = app.get("/").await;
    assert!(page.body.contains("Welcome to Meeboter, Ada Lovelace"), "{}", page.body);
    assert_eq!(app.get("/bots").await.status, StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE email = 'ada@example.com'").await, 1);
    // Only the token's hash is stored.
    let token = app.session_cookie().unwrap().split('=').nth(1).unwrap().to_owned();
    let plain =
        app.count(&format!("SELECT count(*) AS n FROM sessions WHERE encode(token_hash, 'hex') = '{token}'")).await;
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn cookies_are_secure_when_served_over_https() {
    let mut app = TestApp::builder().var("APP_ORIGIN_URL", "https://meeboter.example.com").build().await;
    let r = app.sign_up("Ada", "ada@example.com").await;
    assert!(r.set_cookies[0].contains("; Secure"), "{:?}", r.set_cookies);
}

#[tokio::test]
async fn the_first_user_is_admin_and_later_users_are_not() {
    let mut app = TestApp::new().await;
    app.sign_up("First", "first@example.com").await;
    app.forget_cookie();
    app.sign_up("Second", "second@example.com").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE role = 'admin'").await, 1);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM users WHERE role = 'admin' AND email = 'first@example.com'").await,
        1
    );
    // A non-admin sees the Infrastructure link too (their own bots' share of it).
    let page = app.get("/").await;
    assert!(page.body.contains("href=\"/infrastructure\""), "{}", page.body);
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_and_writes_nothing() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    app.forget_cookie();
    let r = app
        .call(
            "sign_up",
            &[("name", "Other"), ("email", "ADA@example.com"), ("password", PASSWORD), ("confirm_password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(error_message(&r).contains("already exists"), "{}", r.body);
    assert!(r.set_cookies.is_empty());
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM sessions").await, 1);
}

#[tokio::test]
async fn bad_sign_up_fields_get_messages_and_write_nothing() {
    let mut app = TestApp::new().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("name", ""), ("email", "a@b.co"), ("password", PASSWORD), ("confirm_password", PASSWORD)],
            "Enter your name",
        ),
        (&[("name", "A"), ("email", "nope"), ("password", PASSWORD), ("confirm_password", PASSWORD)], "valid email"),
        (&[("name", "A"), ("email", "a@b.co"), ("password", "short"), ("confirm_password", "short")], "at least 10"),
        (
            &[("name", "A"), ("email", "a@b.co"), ("password", PASSWORD), ("confirm_password", "other thing!")],
            "do not match",
        ),
        (&[("name", "A"), ("email", "a@b.co")], "Invalid request"),
    ];
    for (form, expected) in cases {
        let r = app.call("sign_up", form).await;
        assert!(r.status.is_client_error(), "{form:?}: {} {}", r.status, r.body);
        assert!(r.body.contains(expected), "{form:?}: {}", r.body);
        assert!(r.set_cookies.is_empty());
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM sessions").await, 0);
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_gets_one_generic_error_and_no_session() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    app.forget_cookie();
    let wrong = app.call("sign_in", &[("email", "ada@example.com"), ("password", "not the password")]).await;
    let unknown = app.call("sign_in", &[("email", "bob@example.com"), ("password", "not the password")]).await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert!(r.body.contains("do not match an account"), "{}", r.body);
        assert!(r.set_cookies.is_empty(), "no session on failure");
    }
    assert_eq!(wrong.body, unknown.body, "the answer must not reveal whether the email exists");
    assert_eq!(app.count("SELECT count(*) AS n FROM sessions").await, 1);
}

#[tokio::test]
async fn sign_in_then_sign_out_ends_the_session() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    app.forget_cookie();
    let r = app.call("sign_in", &[("email", " ADA@example.com "), ("password", PASSWORD)]).await;
    assert!(r.status.is_success() || r.status.is_redirection(), "{} {}", r.status, r.body);
    assert!(app.session_cookie().is_some());
    assert_eq!(app.get("/bots").await.status, StatusCode::OK);

    let old = app.session_cookie().unwrap().to_owned();
    let r = app.call("sign_out", &[]).await;
    assert!(r.set_cookies.iter().any(|c| c.contains("Max-Age=0")), "{:?}", r.set_cookies);
    assert!(app.session_cookie().is_none());
    assert_eq!(app.get("/bots").await.status, StatusCode::SEE_OTHER);
    // The old token is dead on the server too, not just forgotten by the browser.
    let r = app
        .send(http::Request::get("/bots").header(http::header::COOKIE, old).body(axum::body::Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    app.forget_cookie();
    for _ in 0..5 {
        let r = app.call("sign_in", &[("email", "ada@example.com"), ("password", "wrong password")]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.call("sign_in", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("Too many failed sign-in attempts"));
    assert!(r.set_cookies.is_empty());
}

#[tokio::test]
async fn the_current_user_function_reveals_no_secrets() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let r = app.call("get_current_user", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let user = r.json();
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["role"], "admin");
    assert!(!r.body.contains("argon2"), "{}", r.body);
    app.forget_cookie();
    assert_eq!(app.call("get_current_user", &[]).await.json(), serde_json::Value::Null);
}
