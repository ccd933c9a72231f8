//! Sign-up and sign-in as an attacker tries them: redirects, guessing in parallel, lock-outs,
//! spoofed addresses, registration modes and invitations, password change, session lifetimes,
//! cross-origin posts and the headers pages are served with.

use axum::body::Body;
use http::{header, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::support::{TestApp, TestResponse, PASSWORD};

/// A form-encoded server-function call from a browser page, sent as its own request (so many can
/// run at once), from `client` (an `X-Forwarded-For` value) when given.
fn fn_request(endpoint: &str, form: &[(&str, &str)], client: Option<&str>, cookie: Option<&str>) -> Request<Body> {
    let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
    let mut b = Request::post(format!("/fn/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin");
    if let Some(c) = client {
        b = b.header("x-forwarded-for", c);
    }
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(body)).unwrap()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn send(app: &TestApp, req: Request<Body>) -> TestResponse {
    TestResponse::read(app.router.clone().oneshot(req).await.unwrap()).await
}

async fn sign_in_from(app: &TestApp, email: &str, password: &str, client: &str) -> TestResponse {
    send(app, fn_request("sign_in", &[("email", email), ("password", password)], Some(client), None)).await
}

fn session_pair(r: &TestResponse) -> Option<String> {
    r.set_cookies.iter().map(|c| c.split(';').next().unwrap().to_owned()).find(|c| !c.ends_with('='))
}

// ------------------------------------------------------------------------------ next redirect

#[tokio::test]
async fn a_newline_in_next_no_longer_panics_and_goes_home() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    app.forget_cookie();
    for next in ["/\n", "/%0A", "/\t/evil.com", "//evil.com", "/\\evil.com", "/bots\r\nSet-Cookie: x=1"] {
        let r = app.call("sign_in", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", next)]).await;
        assert!(r.status.is_success() || r.status.is_redirection(), "{next:?}: {} {}", r.status, r.body);
        assert_eq!(r.location(), Some("/"), "{next:?}");
        assert!(app.session_cookie().is_some());
        app.forget_cookie();
    }
    let r =
        app.call("sign_in", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "/bots?page=2")]).await;
    assert_eq!(r.location(), Some("/bots?page=2"));
}

// ------------------------------------------------------------------------------ rate limits

#[tokio::test]
async fn parallel_guesses_are_counted_before_the_password_is_checked() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let router = app.router.clone();
        guesses.spawn(async move {
            let req =
                fn_request("sign_in", &[("email", "ada@example.com"), ("password", &format!("guess {i}"))], None, None);
            TestResponse::read(router.oneshot(req).await.unwrap()).await.status
        });
    }
    let statuses: Vec<StatusCode> = guesses.join_all().await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked, 5, "exactly the limit reaches the password check: {statuses:?}");
    assert_eq!(refused, 15, "{statuses:?}");
}

#[tokio::test]
async fn nobody_can_lock_an_account_out_from_another_address() {
    let mut app = TestApp::builder().var("TRUST_PROXY_HEADERS", "true").build().await;
    app.sign_up("Ada", "ada@example.com").await;
    // The attacker rotates what it writes into X-Forwarded-For; the proxy's entry is what counts.
    for i in 0..5 {
        let r = sign_in_from(&app, "ada@example.com", "wrong password", &format!("10.9.9.{i}, 203.0.113.66")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let r = sign_in_from(&app, "ada@example.com", "wrong password", "10.9.9.99, 203.0.113.66").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "a spoofed left-hand entry must not reset the count");
    assert!(r.body.contains("Too many failed sign-in attempts"), "{}", r.body);
    let r = sign_in_from(&app, "ada@example.com", PASSWORD, "203.0.113.66").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits at the locked address");
    // Ada, elsewhere, signs in.
    let r = sign_in_from(&app, "ada@example.com", PASSWORD, "198.51.100.7").await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    assert!(session_pair(&r).is_some());
}

#[tokio::test]
async fn sign_up_is_rate_limited_per_client() {
    let mut app = TestApp::builder().var("SIGNUP_RATE_LIMIT", "2").build().await;
    app.sign_up("One", "one@example.com").await;
    app.forget_cookie();
    app.sign_up("Two", "two@example.com").await;
    app.forget_cookie();
    let r = app
        .call(
            "sign_up",
            &[
                ("name", "Three"),
                ("email", "three@example.com"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("Too many sign-up attempts"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 2);
}

// ------------------------------------------------------------------------------ sign-up modes

fn sign_up_form<'a>(name: &'a str, email: &'a str, invite: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![("name", name), ("email", email), ("password", PASSWORD), ("confirm_password", PASSWORD)];
    if let Some(code) = invite {
        f.push(("invite", code));
    }
    f
}

#[tokio::test]
async fn in_invite_mode_only_an_open_invitation_admits_a_new_account() {
    let mut app = TestApp::builder().var("SIGNUP_MODE", "invite").build().await;
    app.sign_up("Admin", "admin@example.com").await;
    let admin_cookie = app.session_cookie().unwrap().to_owned();
    app.forget_cookie();

    let r = app.call("sign_up", &sign_up_form("Bob", "bob@example.com", None)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("needs an invitation"), "{}", r.body);

    // Only the administrator creates invitations.
    assert_eq!(app.call_json("create_invitation", json!({})).await.status, StatusCode::UNAUTHORIZED);
    let mut admin = app.sibling();
    admin.set_cookie(&admin_cookie);
    let r = admin.call_json("create_invitation", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = r.json()["link"].as_str().unwrap().to_owned();
    assert!(link.starts_with("http://127.0.0.1:3000/auth/sign-up?invite="), "{link}");
    let code = link.rsplit('=').next().unwrap().to_owned();
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM invitations WHERE encode(code_hash, 'hex') = '{code}'")).await,
        0,
        "only the hash is stored"
    );

    let r = app.call("sign_up", &sign_up_form("Bob", "bob@example.com", Some("not-a-code"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("not valid"), "{}", r.body);
    let r = app.call("sign_up", &sign_up_form("Bob", "bob@example.com", Some(&code))).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    app.forget_cookie();
    let r = app.call("sign_up", &sign_up_form("Eve", "eve@example.com", Some(&code))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "an invitation is single-use: {}", r.body);

    // A non-admin cannot create, list or revoke invitations.
    app.call("sign_in", &[("email", "bob@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(app.call_json("create_invitation", json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call_json("list_invitations", json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call_json("revoke_invitation", json!({ "id": 1 })).await.status, StatusCode::FORBIDDEN);
    app.forget_cookie();

    // Revoked and expired invitations admit nobody.
    let revoked = admin.call_json("create_invitation", json!({})).await.json();
    let revoked_code = revoked["link"].as_str().unwrap().rsplit('=').next().unwrap().to_owned();
    let id = revoked["invitation"]["id"].as_i64().unwrap();
    assert_eq!(admin.call_json("revoke_invitation", json!({ "id": id })).await.status, StatusCode::OK);
    assert_eq!(admin.call_json("revoke_invitation", json!({ "id": id })).await.status, StatusCode::NOT_FOUND);
    let r = app.call("sign_up", &sign_up_form("Eve", "eve@example.com", Some(&revoked_code))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let expired = admin.call_json("create_invitation", json!({})).await.json();
    let expired_code = expired["link"].as_str().unwrap().rsplit('=').next().unwrap().to_owned();
    app.exec(&format!(
        "UPDATE invitations SET created_at = now() - interval '8 days', expires_at = now() - interval '1 day' WHERE id = {}",
        expired["invitation"]["id"]
    ))
    .await;
    let r = app.call("sign_up", &sign_up_form("Eve", "eve@example.com", Some(&expired_code))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 2);

    let list = admin.call_json("list_invitations", json!({})).await.json();
    let used: Vec<_> = list.as_array().unwrap().iter().filter(|i| i["used_by"] == "bob@example.com").collect();
    assert_eq!(used.len(), 1, "{list}");
}

#[tokio::test]
async fn a_closed_server_admits_only_its_first_account() {
    let mut app = TestApp::builder().var("SIGNUP_MODE", "closed").build().await;
    app.sign_up("Admin", "admin@example.com").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE role = 'admin'").await, 1);
    app.forget_cookie();
    let r = app.call("sign_up", &sign_up_form("Bob", "bob@example.com", None)).await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
    assert!(r.body.contains("does not accept new accounts"), "{}", r.body);
    assert!(r.set_cookies.is_empty());
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
}

// ------------------------------------------------------------------------------ password, sessions

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let other = session_pair(&sign_in_from(&app, "ada@example.com", PASSWORD, "x").await).unwrap();
    let new = "a brand new passphrase";

    let r = app
        .call(
            "change_password",
            &[("current_password", "not it at all"), ("new_password", new), ("confirm_password", new)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("current password is not correct"), "{}", r.body);
    let r = app
        .call(
            "change_password",
            &[("current_password", PASSWORD), ("new_password", "short"), ("confirm_password", "short")],
        )
        .await;
    assert!(r.body.contains("at least 10"), "{}", r.body);

    let r = app
        .call("change_password", &[("current_password", PASSWORD), ("new_password", new), ("confirm_password", new)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.get("/bots").await.status, StatusCode::OK, "this session stays");
    let r = send(&app, Request::get("/bots").header(header::COOKIE, &other).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the other session ended");
    assert_eq!(sign_in_from(&app, "ada@example.com", PASSWORD, "y").await.status, StatusCode::UNAUTHORIZED);
    assert!(sign_in_from(&app, "ada@example.com", new, "y").await.status.is_success());

    // Without a session there is nothing to change.
    app.forget_cookie();
    let r = app
        .call(
            "change_password",
            &[("current_password", new), ("new_password", PASSWORD), ("confirm_password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let other = session_pair(&sign_in_from(&app, "ada@example.com", PASSWORD, "x").await).unwrap();
    app.sign_up("Bob", "bob@example.com").await; // another user's session must survive
    let bob = app.session_cookie().unwrap().to_owned();
    app.forget_cookie();
    app.call("sign_in", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;

    let r = app.call("sign_out_everywhere", &[]).await;
    assert!(r.status.is_success() || r.status.is_redirection(), "{} {}", r.status, r.body);
    assert!(r.set_cookies.iter().any(|c| c.contains("Max-Age=0")), "{:?}", r.set_cookies);
    assert_eq!(r.location(), Some("/auth/sign-in"));
    let r = send(&app, Request::get("/bots").header(header::COOKIE, &other).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'ada@example.com'"
        )
        .await,
        0
    );
    let r = send(&app, Request::get("/bots").header(header::COOKIE, &bob).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let mut app = TestApp::builder().var("SESSION_MAX_DAYS", "2").build().await;
    let r = app.sign_up("Ada", "ada@example.com").await;
    assert!(r.set_cookies[0].contains("Max-Age=172800"), "{:?}", r.set_cookies);
    // Sliding never moves the end past the absolute expiry.
    app.exec("UPDATE sessions SET last_seen_at = now() - interval '2 hours', absolute_expires_at = now() + interval '10 minutes'").await;
    assert_eq!(app.get("/bots").await.status, StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) AS n FROM sessions WHERE expires_at > absolute_expires_at").await, 0);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM sessions WHERE last_seen_at > now() - interval '1 minute'").await,
        1
    );
    // A session used a minute ago still ends at its absolute expiry.
    app.exec(
        "UPDATE sessions SET absolute_expires_at = now() - interval '1 second', expires_at = now() + interval '5 days'",
    )
    .await;
    assert_eq!(app.get("/bots").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_new_account_is_welcomed_and_a_returning_one_welcomed_back() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada Lovelace", "ada@example.com").await;
    let page = app.get("/").await;
    assert!(page.body.contains("Welcome to Meeboter, Ada Lovelace"), "{}", page.body);
    assert!(!page.body.contains("Welcome back"));
    app.forget_cookie();
    app.call("sign_in", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert!(app.get("/").await.body.contains("Welcome back, Ada Lovelace"));
}

// ------------------------------------------------------------------------------ cross-origin

#[tokio::test]
async fn a_cross_origin_post_with_the_session_cookie_is_refused() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let cookie = app.session_cookie().unwrap().to_owned();
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut b = Request::post("/fn/create_api_key")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::COOKIE, &cookie);
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            b = b.header("sec-fetch-site", s);
        }
        b.body(Body::from(json!({ "name": "k" }).to_string())).unwrap()
    };
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, None),
    ] {
        let r = send(&app, post(origin, site)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin:?} {site:?}: {}", r.body);
        assert!(r.body.contains("another site") || r.body.contains("own pages"), "{}", r.body);
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM api_keys").await, 0);
    // The page itself: Origin is the app's (or the Host it was sent to).
    assert_eq!(send(&app, post(Some("http://127.0.0.1:3000"), Some("same-origin"))).await.status, StatusCode::OK);
    assert_eq!(send(&app, post(None, Some("same-origin"))).await.status, StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) AS n FROM api_keys").await, 2);

    // A plain form post elsewhere is checked as well; a script without a cookie is not a CSRF.
    let r = send(
        &app,
        Request::post("/fn/sign_in")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("email=ada%40example.com&password={}", PASSWORD.replace(' ', "+"))))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "login CSRF: {}", r.body);
    let r = send(
        &app,
        Request::post("/fn/sign_in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(format!("email=ada%40example.com&password={}", PASSWORD.replace(' ', "+"))))
            .unwrap(),
    )
    .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    // API keys in headers are not ambient: the JSON API needs no Origin.
    let key =
        app.call_json("create_api_key", json!({ "name": "k" })).await.json()["secret"].as_str().unwrap().to_owned();
    let r = app.api("GET", "/api/v1/bots", &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

// ------------------------------------------------------------------------------ headers

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_refuse_framing() {
    let mut app = TestApp::new().await;
    let r = app.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce").to_owned();
    assert!(nonce.len() >= 16, "{nonce}");
    // Every inline script of the page carries that nonce.
    let scripts: Vec<&str> = r.body.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{}", r.body);
    for s in scripts {
        let tag = &s[..s.find('>').unwrap()];
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "a script without the page's nonce: <script{tag}>");
    }
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // A second page gets a fresh nonce.
    let again = app.get("/").await.headers["content-security-policy"].to_str().unwrap().to_owned();
    assert_ne!(again, csp);
    // Other answers are locked down too.
    let r = app.raw("GET", "/healthz", &[], None).await;
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert!(r.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
}

// ------------------------------------------------------------------------------ pool and timeouts

/// Bots and people keep being served while 50 wrong sign-ins from 50 addresses arrive at once:
/// hashing holds no pooled connection and runs at most one per core.
mod load;
