//! The authorisation matrix. Every route of the route table (`server/src/http/routes.rs`), every
//! tRPC procedure, every server function and every page is called as six callers who must not
//! reach user A's data: anonymous, another user (B, with B's session and B's own API key), A's
//! revoked key, A's expired key, the token of another bot, and the token of a finished bot.
//! Each row states what each caller gets. A route, procedure, server function or page without
//! a row (or a row for something that no longer exists) fails
//! `every_route_procedure_server_function_and_page_has_a_row`.
//!
//! A caller that gets 200 must not see A's data (A's names carry a marker that must not appear
//! in the answer), and after the whole matrix nothing of A's has changed.
//!
//! Bot-token routes: callers present their credentials as a bot would (`X-Milo-Token` and
//! `Authorization: Bearer`); the finished bot's token is tried on its own bot, the other
//! callers on A's running bot. Their exact answers (one 401 for every token that does not open
//! the bot, whether the bot exists or not, finished bots included) are checked by
//! `bot_token_cells_answer_exactly`, which waits for the bot token lifecycle work; until then
//! `every_caller_is_refused_everywhere` checks that those cells are refused (401 or 403).

use std::collections::BTreeSet;

use axum::body::Body;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::support::{TestApp, TestResponse};

/// Who calls, in the order of each row's expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    OtherUser,
    RevokedKey,
    ExpiredKey,
    OtherBot,
    FinishedBot,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::OtherUser,
    Caller::RevokedKey,
    Caller::ExpiredKey,
    Caller::OtherBot,
    Caller::FinishedBot,
];

/// What a row calls.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A route of the table: method and path exactly as the table writes them.
    Route(&'static str, &'static str),
    /// A tRPC procedure (GET for queries, POST for mutations), input `{"0":{"json": body}}`.
    Trpc(&'static str),
    /// A server function: `/fn/<name>` with `body` (JSON, or a form for the four auth functions).
    ServerFn(&'static str),
    /// A page of the web app (GET, as a browser).
    Page(&'static str),
}

struct Row {
    target: Target,
    /// The body, with placeholders: {bot} {tpl} {key} {user} {uuid} {fresh} {hook} {delivery}.
    body: Option<&'static str>,
    /// anonymous, other user, revoked key, expired key, other bot's token, finished bot's token.
    expect: [u16; 6],
}

const fn row(target: Target, body: Option<&'static str>, expect: [u16; 6]) -> Row {
    Row { target, body, expect }
}

use Target::{Page, Route, ServerFn, Trpc};

/// Key routes: every caller but B is refused (401); B acts on B's own data (200/201) or does
/// not find A's (404).
const U: u16 = 401;

use rows::ROWS;

const EVENTS: &str =
    r#"{"events":[{"eventType":"PARTICIPANT_JOIN","eventTime":"2026-11-23T10:00:00Z","data":{"participantId":"p"}}]}"#;
const LOGS: &str = r#"{"entries":[{"id":"x","timestamp":"2026-11-23T10:00:00Z","level":"INFO","message":"intruder"}]}"#;
/// A multipart form with a PNG signature (refused before it is read).
const MULTIPART: &str = "multipart";
const BOUNDARY: &str = "authz-boundary";

/// Appears in every name of A's: an answer to anyone else must not contain it.
const MARKER: &str = "alice-marker";

/// User A's data, and the credentials of everyone else.
struct World {
    bot: i64,
    hook: i64,
    delivery: i64,
    finished_bot: i64,
    template: i64,
    live_key_id: i64,
    user: i64,
    file: String,
    slot_uuid: String,
    a_session: String,
    b_session: String,
    b_key: String,
    revoked_key: String,
    expired_key: String,
    other_bot_token: String,
    finished_bot_token: String,
}

async fn session_of(app: &mut TestApp, name: &str, email: &str) -> String {
    app.forget_cookie();
    app.sign_up(name, email).await;
    app.session_cookie().expect("sign-up sets a session").to_owned()
}

async fn create_key(app: &mut TestApp, name: &str) -> (i64, String) {
    let r = app.call_json("create_api_key", json!({ "name": name })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (r.json()["key"]["id"].as_i64().unwrap(), r.json()["secret"].as_str().unwrap().to_owned())
}

async fn world(app: &mut TestApp) -> World {
    let a_session = session_of(app, "Alice", "alice@example.com").await;
    let user = app.count("SELECT id AS n FROM users WHERE email = 'alice@example.com'").await;
    let (live_key_id, live_key) = create_key(app, &format!("{MARKER}-live")).await;
    let (revoked_id, revoked_key) = create_key(app, &format!("{MARKER}-revoked")).await;
    assert_eq!(app.call_json("revoke_api_key", json!({ "id": revoked_id })).await.status, StatusCode::OK);
    let (expired_id, expired_key) = create_key(app, &format!("{MARKER}-expired")).await;
    app.exec(&format!("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = {expired_id}")).await;

    let meeting =
        json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij", "displayName": format!("{MARKER}-bot") });
    let (bot, bot_token) = app.bot_with_token(&live_key, meeting.clone()).await;
    let (_, other_bot_token) = app.bot_with_token(&live_key, meeting.clone()).await;
    let (finished_bot, finished_bot_token) = app.bot_with_token(&live_key, meeting).await;
    app.exec(&format!("UPDATE bots SET status = 'DONE', end_time = now() WHERE id = {finished_bot}")).await;
    let r = app
        .api(
            "POST",
            "/api/v1/templates",
            &live_key,
            Some(json!({ "templateName": format!("{MARKER}-template"), "messages": [format!("{MARKER}-message")] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let template = r.json()["id"].as_i64().unwrap();

    // A webhook endpoint of A's, with one delivery in its log.
    let r = app
        .call_json("create_webhook_endpoint", json!({ "url": "https://hooks.example.com/a", "description": MARKER }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let hook = r.json()["endpoint"]["id"].as_i64().unwrap();
    app.exec(&format!(
        "INSERT INTO webhook_deliveries (endpoint_id, bot_id, event_id, event_type, url, body, status) \
         VALUES ({hook}, {bot}, 'msg_authz', 'bot.status_changed', 'https://hooks.example.com/a', '{{}}', 'DELIVERED')"
    ))
    .await;
    let delivery = app.count(&format!("SELECT max(id) AS n FROM webhook_deliveries WHERE endpoint_id = {hook}")).await;

    // A screenshot of A's bot, and a pool slot that runs it.
    let (ct, body) = multipart(&server::bot_sim::fake_screenshot("IN_CALL"));
    let r = app
        .send(
            Request::post(format!("/api/bots/{bot}/screenshots"))
                .header(header::CONTENT_TYPE, ct)
                .header("x-milo-token", bot_token.as_str())
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let file = r.json()["key"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let slot_uuid = "authz-slot".to_owned();
    app.exec(&format!(
        "INSERT INTO bot_pool_slots (meeting_platform, application_uuid, slot_name, status, assigned_bot_id) \
         VALUES ('google-meet', '{slot_uuid}', 'pool-google-meet-001', 'HEALTHY', {bot})"
    ))
    .await;

    let b_session = session_of(app, "Bob", "bob@example.com").await;
    let (_, b_key) = create_key(app, "b").await;
    app.forget_cookie();
    World {
        bot,
        hook,
        delivery,
        finished_bot,
        template,
        live_key_id,
        user,
        file,
        slot_uuid,
        a_session,
        b_session,
        b_key,
        revoked_key,
        expired_key,
        other_bot_token,
        finished_bot_token,
    }
}

fn multipart(file: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nstate_change\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"state\"\r\n\r\nIN_CALL\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

impl Row {
    /// Whether the row is a route or procedure authorised by a bot token.
    fn is_bot_token(&self) -> bool {
        match self.target {
            Trpc(_) => true,
            Route(_, path) => {
                path.starts_with("/api/v1/bot/") || (path.starts_with("/api/bots/") && !path.ends_with("{file}"))
            }
            _ => false,
        }
    }

    fn name(&self) -> String {
        match self.target {
            Route(m, p) => format!("{m} {p}"),
            Trpc(p) => format!("tRPC {p}"),
            ServerFn(f) => format!("server fn {f}"),
            Page(p) => format!("page {p}"),
        }
    }
}

fn fill(template: &str, w: &World, bot: i64, n: usize) -> String {
    template
        .replace("{bot}", &bot.to_string())
        .replace("{tpl}", &w.template.to_string())
        .replace("{hook}", &w.hook.to_string())
        .replace("{delivery}", &w.delivery.to_string())
        .replace("{key}", &w.live_key_id.to_string())
        .replace("{user}", &w.user.to_string())
        .replace("{uuid}", &w.slot_uuid)
        .replace("{fresh}", &format!("nobody-{n}%40example.com"))
}

/// Builds the request of one cell.
fn request(row: &Row, caller: Caller, w: &World, n: usize) -> Request<Body> {
    // A finished bot's token is tried on its own bot (it must open nothing, not even that).
    let bot = if caller == Caller::FinishedBot && row.is_bot_token() { w.finished_bot } else { w.bot };
    let body = row.body.map(|b| fill(b, w, bot, n));
    let (method, uri, content_type, payload): (&str, String, Option<String>, Vec<u8>) = match row.target {
        Route(method, path) => {
            let method = if method == "*" { "GET" } else { method };
            let id = if path.starts_with("/api/v1/templates/") { w.template } else { bot };
            let uri = path.replace("{id}", &id.to_string()).replace("{uuid}", &w.slot_uuid).replace("{file}", &w.file);
            match body.as_deref() {
                Some(MULTIPART) => {
                    let (ct, b) = multipart(b"\x89PNG\r\n\x1a\n");
                    (method, uri, Some(ct), b)
                }
                Some(b) => (method, uri, Some("application/json".into()), b.as_bytes().to_vec()),
                None => (method, uri, None, Vec::new()),
            }
        }
        Trpc(procedure) => {
            let input = json!({ "0": { "json": serde_json::from_str::<Value>(body.as_deref().unwrap()).unwrap() } });
            if procedure.starts_with("bots.getConfig")
                || procedure == "bots.chat.dequeueMessage"
                || procedure.starts_with("infrastructure.")
            {
                let uri = format!("/api/trpc/{procedure}?batch=1&input={}", crate::trpc::input(input));
                ("GET", uri, None, Vec::new())
            } else {
                let uri = format!("/api/trpc/{procedure}?batch=1");
                ("POST", uri, Some("application/json".into()), input.to_string().into_bytes())
            }
        }
        ServerFn(name) => {
            let form = matches!(
                name,
                "sign_in" | "sign_up" | "sign_out" | "get_current_user" | "change_password" | "sign_out_everywhere"
            );
            let ct = if form { "application/x-www-form-urlencoded" } else { "application/json" };
            ("POST", format!("/fn/{name}"), Some(ct.into()), body.unwrap_or_default().into_bytes())
        }
        Page(path) => ("GET", path.to_owned(), None, Vec::new()),
    };
    // As a browser on Meeboter's own pages sends it: the same-origin check has its own tests
    // (auth_security); this matrix is about who may do what.
    let mut b = Request::builder().method(method).uri(uri).header("sec-fetch-site", "same-origin");
    b = match row.target {
        Page(_) => b.header(header::ACCEPT, "text/html"),
        _ => b.header(header::ACCEPT, "application/json"),
    };
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    let bearer = |t: &str| format!("Bearer {t}");
    b = match caller {
        Caller::Anonymous => b,
        Caller::OtherUser => b
            .header(header::COOKIE, &w.b_session)
            .header("x-api-key", &w.b_key)
            .header(header::AUTHORIZATION, bearer(&w.b_key)),
        Caller::RevokedKey => {
            b.header("x-api-key", &w.revoked_key).header(header::AUTHORIZATION, bearer(&w.revoked_key))
        }
        Caller::ExpiredKey => {
            b.header("x-api-key", &w.expired_key).header(header::AUTHORIZATION, bearer(&w.expired_key))
        }
        Caller::OtherBot => {
            b.header("x-milo-token", &w.other_bot_token).header(header::AUTHORIZATION, bearer(&w.other_bot_token))
        }
        Caller::FinishedBot => {
            b.header("x-milo-token", &w.finished_bot_token).header(header::AUTHORIZATION, bearer(&w.finished_bot_token))
        }
    };
    b.body(Body::from(payload)).unwrap()
}

async fn call(app: &mut TestApp, row: &Row, caller: Caller, w: &World, n: usize) -> TestResponse {
    app.forget_cookie();
    let r = app.send(request(row, caller, w, n)).await;
    app.forget_cookie();
    r
}

/// Checks one answer against its cell.
fn check(row: &Row, caller: Caller, expected: u16, r: &TestResponse) -> Result<(), String> {
    let what = format!("{} as {caller:?}", row.name());
    if r.status.as_u16() != expected {
        return Err(format!(
            "{what}: expected {expected}, got {} {}",
            r.status,
            r.body.chars().take(300).collect::<String>()
        ));
    }
    if r.body.contains(MARKER) {
        return Err(format!("{what}: the answer shows A's data: {}", r.body.chars().take(300).collect::<String>()));
    }
    if expected == 404 && r.body.contains("No such endpoint") {
        return Err(format!("{what}: the route itself was not found (is the row's path right?)"));
    }
    if expected == 303 {
        let to = r.location().unwrap_or_default();
        if !to.starts_with("/auth/sign-in?next=") {
            return Err(format!("{what}: redirected to {to:?}, not to sign-in"));
        }
    }
    Ok(())
}

/// What A owns, read straight from the database; the matrix must leave it as it was.
async fn a_state(app: &TestApp, w: &World) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (what, sql) in [
        ("A's bots", "SELECT count(*) AS n FROM bots b JOIN users u ON u.id = b.user_id WHERE u.email = 'alice@example.com'".to_owned()),
        ("A's running bot untouched", format!("SELECT count(*) AS n FROM bots WHERE id = {} AND status = 'QUEUED' AND log_level = 'TRACE' AND display_name = '{MARKER}-bot'", w.bot)),
        ("events of A's bots", format!("SELECT count(*) AS n FROM events WHERE bot_id IN ({}, {})", w.bot, w.finished_bot)),
        ("log lines of A's running bot", format!("SELECT count(*) AS n FROM bot_logs WHERE bot_id = {}", w.bot)),
        ("chat queued for A's bots", "SELECT count(*) AS n FROM bot_chat_messages".to_owned()),
        ("A's template untouched", format!("SELECT count(*) AS n FROM message_templates WHERE id = {} AND template_name = '{MARKER}-template'", w.template)),
        ("A's webhook endpoint untouched", format!("SELECT count(*) AS n FROM webhook_endpoints WHERE id = {} AND enabled AND updated_at = created_at", w.hook)),
        ("A's webhook deliveries", format!("SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = {}", w.hook)),
        ("A's live keys", format!("SELECT count(*) AS n FROM api_keys WHERE user_id = {} AND revoked_at IS NULL AND expires_at > now()", w.user)),
        ("A is still the administrator", format!("SELECT count(*) AS n FROM users WHERE id = {} AND role = 'admin'", w.user)),
        ("A's plan", format!("SELECT count(*) AS n FROM subscriptions WHERE user_id = {} AND plan <> 'FREE'", w.user)),
        ("A's sessions", format!("SELECT count(*) AS n FROM sessions WHERE user_id = {}", w.user)),
    ] {
        out.push((what.to_owned(), app.count(&sql).await));
    }
    out
}

/// Runs every cell (but those `skip` leaves out) and collects the failures.
async fn run(
    app: &mut TestApp,
    w: &World,
    skip: impl Fn(&Row, Caller) -> bool,
    exact: impl Fn(&Row, Caller) -> bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut n = 0;
    for row in ROWS {
        for (caller, expected) in CALLERS.iter().zip(row.expect) {
            if skip(row, *caller) {
                continue;
            }
            n += 1;
            let r = call(app, row, *caller, w, n).await;
            let result = if exact(row, *caller) {
                check(row, *caller, expected, &r)
            } else if matches!(r.status.as_u16(), 401 | 403) && !r.body.contains(MARKER) {
                Ok(())
            } else {
                Err(format!("{} as {caller:?}: expected a refusal, got {} {}", row.name(), r.status, r.body))
            };
            if let Err(e) = result {
                failures.push(e);
            }
        }
    }
    failures
}

/// Whether a cell waits for the bot token lifecycle work: every cell of a bot-token route but
/// the anonymous one.
fn bot_token_cell(row: &Row, caller: Caller) -> bool {
    row.is_bot_token() && caller != Caller::Anonymous
}

#[tokio::test]
async fn every_caller_is_refused_everywhere() {
    let mut app = TestApp::new().await;
    let w = world(&mut app).await;
    let before = a_state(&app, &w).await;
    // The finished bot's cells on bot-token routes wait for the lifecycle work (today its token
    // still opens its own bot); the other bot-token cells must already be refused.
    let failures = run(
        &mut app,
        &w,
        |row, caller| row.is_bot_token() && caller == Caller::FinishedBot,
        |row, caller| !bot_token_cell(row, caller),
    )
    .await;
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(a_state(&app, &w).await, before, "the matrix changed A's data");
    // B signing out ended B's session, not A's.
    app.forget_cookie();
    let r = app
        .send(
            Request::get("/bots")
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, &w.a_session)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "A's session must survive B's sign-out");
}

/// The bot-token cells exactly: every token that does not open the bot in the path (another
/// user's key, a revoked or expired key, another bot's token, a finished bot's token on its own
/// bot) gets the same 401 with one generic message, and so does any token for a bot that does
/// not exist (no oracle on bot ids).
#[tokio::test]
async fn bot_token_cells_answer_exactly() {
    let mut app = TestApp::new().await;
    let w = world(&mut app).await;
    let failures = run(&mut app, &w, |row, caller| !bot_token_cell(row, caller), |_, _| true).await;
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
    // Unknown bot ids and wrong tokens answer alike.
    let wrong = app
        .raw("POST", &format!("/api/v1/bot/{}/heartbeat", w.bot), &[("x-milo-token", &w.other_bot_token)], None)
        .await;
    for (id, token) in
        [(999_999_999i64, Some(w.other_bot_token.as_str())), (999_999_999, None), (w.bot, Some("mbt_nonsense"))]
    {
        let headers: Vec<(&str, &str)> = token.map(|t| vec![("x-milo-token", t)]).unwrap_or_default();
        let r = app.raw("POST", &format!("/api/v1/bot/{id}/heartbeat"), &headers, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "bot {id}: {}", r.body);
        if token.is_some() {
            assert_eq!(r.body, wrong.body, "bot {id}: a wrong token and an unknown bot must answer alike");
        }
    }
}

mod coverage;
mod rows;
