//! The live stream (`GET /api/live`): who hears of which change, across replicas, and what a
//! stream does when it is refused, falls behind or outlives its session.

use std::time::Duration;

use axum::body::Body;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::TestApp;

/// One open stream, read event by event.
struct Events {
    body: Body,
    buf: String,
}

/// Opens a stream with a session cookie (`name=value`, or none): the status and, when 200, the
/// stream; otherwise the body.
async fn open(router: &axum::Router, cookie: Option<&str>) -> (StatusCode, Result<Events, String>) {
    let mut req = Request::get("/api/live").header(header::ACCEPT, "text/event-stream");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    if status != StatusCode::OK {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        return (status, Err(String::from_utf8_lossy(&bytes).into_owned()));
    }
    let ct = res.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    assert_eq!(res.headers().get(header::CACHE_CONTROL).unwrap(), "no-cache, no-store");
    (status, Ok(Events { body: res.into_body(), buf: String::new() }))
}

impl Events {
    /// The next event (name, data) within `within`; `None` when none came or the stream ended.
    async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if let Some(name) = name {
                    return Some((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
                }
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Some(d) = frame.data_ref() {
                        self.buf.push_str(&String::from_utf8_lossy(d));
                    }
                }
                _ => return None,
            }
        }
    }

    /// Reads until an event matches, failing on any event `forbidden` names.
    async fn until(
        &mut self,
        what: &str,
        want: impl Fn(&str, &Value) -> bool,
        forbidden: impl Fn(&str, &Value) -> bool,
    ) -> Value {
        loop {
            let Some((name, data)) = self.next(Duration::from_secs(5)).await else {
                panic!("no {what} within 5 s");
            };
            assert!(!forbidden(&name, &data), "while waiting for {what}: got {name} {data}");
            if want(&name, &data) {
                return data;
            }
        }
    }

    /// Reads the `ready` event; `first`: also the `resync` of the process's first stream (the
    /// hub then listens, so every later change is heard).
    async fn ready(mut self, first: bool) -> Self {
        let (name, _) = self.next(Duration::from_secs(5)).await.expect("a ready event");
        assert_eq!(name, "ready");
        if first {
            self.until("the listener's resync", |n, _| n == "resync", |_, _| false).await;
        }
        self
    }

    /// Whether the stream ends within `within` (the events read meanwhile are dropped).
    async fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// A signed-up user: their session cookie, an API key, and their id.
struct Person {
    cookie: String,
    key: String,
}

async fn person(app: &mut TestApp, name: &str) -> Person {
    app.forget_cookie();
    app.sign_up(name, &format!("{}@example.com", name.to_lowercase())).await;
    let cookie = app.session_cookie().unwrap().to_owned();
    let r = app.call_json("create_api_key", json!({ "name": "live" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key = r.json()["secret"].as_str().unwrap().to_owned();
    app.forget_cookie();
    Person { cookie, key }
}

async fn create_bot(app: &mut TestApp, key: &str) -> i64 {
    let r = app.api("POST", "/api/v1/bots", key, Some(json!({ "meetingUrl": "https://zoom.us/j/1234567" }))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

async fn cancel(app: &mut TestApp, key: &str, bot: i64) {
    let r = app.api("POST", &format!("/api/v1/bots/{bot}/cancel"), key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn is_change_of(bot: i64, status: &'static str) -> impl Fn(&str, &Value) -> bool {
    move |n, d| n == "change" && d["bot"] == bot && d["status"] == status
}

fn mentions(bot: i64) -> impl Fn(&str, &Value) -> bool {
    move |_, d| d["bot"] == bot
}

#[tokio::test]
async fn a_users_stream_carries_their_bots_changes_and_no_one_elses() {
    let mut app = TestApp::new().await;
    let _admin = person(&mut app, "Root").await;
    let alice = person(&mut app, "Alice").await;
    let bob = person(&mut app, "Bob").await;
    let alices = create_bot(&mut app, &alice.key).await;
    let bobs = create_bot(&mut app, &bob.key).await;
    let (status, events) = open(&app.router, Some(&alice.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let mut events = events.unwrap().ready(true).await;

    // Bob's change first: it must not reach Alice, whose own change then arrives.
    cancel(&mut app, &bob.key, bobs).await;
    create_bot(&mut app, &bob.key).await;
    cancel(&mut app, &alice.key, alices).await;
    let change = events.until("Alice's cancelled bot", is_change_of(alices, "DONE"), mentions(bobs)).await;
    assert_eq!(change, json!({ "bot": alices, "status": "DONE", "kind": "status", "mine": true }));
    // Nothing else of Bob's follows (his second bot's creation came before Alice's change).
    while let Some((name, data)) = events.next(Duration::from_millis(300)).await {
        assert!(name != "change" || data["mine"] == true, "Alice heard of someone else's bot: {name} {data}");
    }
}

#[tokio::test]
async fn an_administrators_stream_carries_every_bots_changes() {
    let mut app = TestApp::new().await;
    let admin = person(&mut app, "Root").await;
    let alice = person(&mut app, "Alice").await;
    let bob = person(&mut app, "Bob").await;
    let (_, events) = open(&app.router, Some(&admin.cookie)).await;
    let mut events = events.unwrap().ready(true).await;

    let alices = create_bot(&mut app, &alice.key).await;
    let created = events.until("Alice's new bot", |n, d| n == "change" && d["bot"] == alices, |_, _| false).await;
    assert_eq!(created, json!({ "bot": alices, "status": "QUEUED", "kind": "created", "mine": false }));
    let bobs = create_bot(&mut app, &bob.key).await;
    cancel(&mut app, &bob.key, bobs).await;
    events.until("Bob's cancelled bot", is_change_of(bobs, "DONE"), |_, _| false).await;
    let admins = create_bot(&mut app, &admin.key).await;
    let own =
        events.until("the administrator's own bot", |n, d| n == "change" && d["bot"] == admins, |_, _| false).await;
    assert_eq!(own["mine"], true);
}

/// Another replica (its own state, pool and hub, over the same database) makes the change; this
/// replica's stream hears it through PostgreSQL.
#[tokio::test]
async fn a_change_made_by_another_replica_reaches_the_stream() {
    let mut app = TestApp::new().await;
    let alice = person(&mut app, "Alice").await;
    let bot = create_bot(&mut app, &alice.key).await;
    let (_, events) = open(&app.router, Some(&alice.cookie)).await;
    let mut events = events.unwrap().ready(true).await;

    let mut replica = app.replica().await;
    cancel(&mut replica, &alice.key, bot).await;
    events.until("the other replica's change", is_change_of(bot, "DONE"), |_, _| false).await;

    // And one written by hand on a connection of its own, as any other writer would.
    let second = create_bot(&mut app, &alice.key).await;
    events.until("the second bot", |n, d| n == "change" && d["bot"] == second, |_, _| false).await;
    {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        use secrecy::ExposeSecret;
        let mut conn = AsyncPgConnection::establish(app.state.config.database_url.expose_secret()).await.unwrap();
        diesel::sql_query(format!("UPDATE bots SET display_name = 'Renamed' WHERE id = {second}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let renamed = events
        .until("the rename", |n, d| n == "change" && d["bot"] == second && d["kind"] == "updated", |_, _| false)
        .await;
    assert_eq!(renamed["status"], "QUEUED");
}

#[tokio::test]
async fn only_a_session_opens_a_stream() {
    let mut app = TestApp::new().await;
    let alice = person(&mut app, "Alice").await;
    let (status, body) = open(&app.router, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.err().unwrap().contains("Sign in to follow live updates."));
    let (status, _) = open(&app.router, Some("meeboter_session=forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An API key (or a bot token) is not a session.
    let r = app
        .raw(
            "GET",
            "/api/live",
            &[("x-api-key", &alice.key), ("authorization", &format!("Bearer {}", alice.key))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

#[tokio::test]
async fn one_stream_more_than_the_cap_is_refused_with_429() {
    let mut app = TestApp::builder().var("LIVE_STREAMS_PER_USER", "2").build().await;
    let alice = person(&mut app, "Alice").await;
    let bob = person(&mut app, "Bob").await;
    let (a, first) = open(&app.router, Some(&alice.cookie)).await;
    let (b, second) = open(&app.router, Some(&alice.cookie)).await;
    assert_eq!((a, b), (StatusCode::OK, StatusCode::OK));
    let (status, body) = open(&app.router, Some(&alice.cookie)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let body = body.err().unwrap();
    assert!(body.contains("You already have 2 live pages open"), "{body}");
    // Another user's streams are their own.
    assert_eq!(open(&app.router, Some(&bob.cookie)).await.0, StatusCode::OK);
    // A closed stream frees its place.
    drop(first);
    assert_eq!(
        app.state.live.open_streams(app.count("SELECT id AS n FROM users WHERE email = 'alice@example.com'").await),
        1
    );
    assert_eq!(open(&app.router, Some(&alice.cookie)).await.0, StatusCode::OK);
    drop(second);
}

#[tokio::test]
async fn a_stream_that_falls_behind_is_told_to_resync() {
    let mut app = TestApp::builder().var("LIVE_EVENT_BUFFER", "2").build().await;
    let alice = person(&mut app, "Alice").await;
    let (_, events) = open(&app.router, Some(&alice.cookie)).await;
    let mut events = events.unwrap().ready(true).await;
    // Four bots (four notifications, and the queue moves) while the stream is not read.
    for _ in 0..4 {
        create_bot(&mut app, &alice.key).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (name, _) = events.next(Duration::from_secs(5)).await.expect("an event");
    assert_eq!(name, "resync", "a lagging stream must be told it missed changes");
    // And goes on: the next change arrives.
    let next = create_bot(&mut app, &alice.key).await;
    events.until("the next bot", |n, d| n == "change" && d["bot"] == next, |_, _| false).await;
}

#[tokio::test]
async fn queue_moves_reach_owners_of_queued_bots_only() {
    let mut app = TestApp::new().await;
    let _admin = person(&mut app, "Root").await;
    let alice = person(&mut app, "Alice").await;
    let bob = person(&mut app, "Bob").await;
    let carol = person(&mut app, "Carol").await;
    create_bot(&mut app, &alice.key).await;
    let carols = create_bot(&mut app, &carol.key).await;
    cancel(&mut app, &carol.key, carols).await;
    let (_, a) = open(&app.router, Some(&alice.cookie)).await;
    let mut a = a.unwrap().ready(true).await;
    let (_, c) = open(&app.router, Some(&carol.cookie)).await;
    let mut c = c.unwrap().ready(false).await;

    // Bob's bot joins the queue: Alice (queued) hears of it as a queue move, Carol does not.
    create_bot(&mut app, &bob.key).await;
    a.until("a queue move", |n, _| n == "queue", |n, _| n == "change").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.exec(&format!("UPDATE bots SET display_name = 'Carol again' WHERE id = {carols}")).await;
    let (name, data) = c.next(Duration::from_secs(5)).await.expect("Carol's own change");
    assert_eq!((name.as_str(), &data["bot"]), ("change", &json!(carols)), "Carol has no queued bot: no queue event");
}

#[tokio::test]
async fn a_stream_ends_when_its_session_does() {
    let mut app = TestApp::builder().var("LIVE_SESSION_RECHECK_SECS", "1").build().await;
    let alice = person(&mut app, "Alice").await;
    let (_, events) = open(&app.router, Some(&alice.cookie)).await;
    let mut events = events.unwrap().ready(false).await;
    assert!(!events.ends_within(Duration::from_millis(1500)).await, "a live session's stream stays open");
    app.set_cookie(&alice.cookie);
    let r = app.call("sign_out", &[]).await;
    assert!(r.status.is_success() || r.status.is_redirection(), "{}", r.status);
    assert!(events.ends_within(Duration::from_secs(3)).await, "the signed-out session's stream must end");
    assert_eq!(open(&app.router, Some(&alice.cookie)).await.0, StatusCode::UNAUTHORIZED);
}

/// A graceful shutdown ends open streams at once (they would hold the drain up to its 20 s
/// deadline), and the hub refuses new ones meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_do_not_hold_a_shutdown_up() {
    let mut app = TestApp::new().await;
    let alice = person(&mut app, "Alice").await;
    let (listener, url) = crate::support::bind().await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::runner::serve_until(app.state.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let mut res = reqwest::Client::new()
        .get(format!("{url}/api/live"))
        .header(header::COOKIE, &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let first = res.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"), "{first:?}");
    let started = std::time::Instant::now();
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server).await.expect("the server must stop").unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    let (status, body) = open(&app.router, Some(&alice.cookie)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.err().unwrap().contains("shutting down"));
}

/// What a bot reports as an event reaches the details dialog's owner; the status events the
/// lifecycle writes along with a status change are announced once, by the change.
#[tokio::test]
async fn a_bots_own_events_reach_its_owner_and_status_events_are_not_repeated() {
    let mut app = TestApp::new().await;
    let alice = person(&mut app, "Alice").await;
    let (bot, token) =
        app.bot_with_token(&alice.key, json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij" })).await;
    let (_, events) = open(&app.router, Some(&alice.cookie)).await;
    let mut events = events.unwrap().ready(true).await;

    let joined = json!({ "events": [{ "eventType": "PARTICIPANT_JOIN", "eventTime": "2026-11-30T10:00:00Z",
                                      "data": { "participantId": "p1" } }] });
    let r = app
        .raw("POST", &format!("/api/v1/bot/{bot}/events"), &[("x-milo-token", &token)], Some(joined.to_string()))
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let event = events.until("the bot's event", |n, d| n == "change" && d["kind"] == "event", |_, _| false).await;
    assert_eq!(event, json!({ "bot": bot, "status": "DEPLOYING", "kind": "event", "mine": true }));

    let r = app
        .raw(
            "POST",
            &format!("/api/v1/bot/{bot}/status"),
            &[("x-milo-token", &token)],
            Some(json!({ "status": "JOINING_CALL" }).to_string()),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    events.until("the status change", is_change_of(bot, "JOINING_CALL"), |_, d| d["kind"] == "event").await;
    while let Some((name, data)) = events.next(Duration::from_millis(500)).await {
        assert!(data["kind"] != "event", "a status event was announced again: {name} {data}");
    }
}
