//! The upstream tRPC batch + superjson format bots speak at `/api/trpc`: queries, mutations,
//! batches, and every rejection in tRPC's own error shape.

use http::StatusCode;
use serde_json::{json, Value};

use crate::support::{TestApp, TestResponse};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

pub(crate) fn input(v: Value) -> String {
    url_encode(&v.to_string())
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn trpc_queries_and_mutations_speak_batch_and_superjson() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) =
        app.bot_with_token(&key, json!({ "meetingUrl": MEET, "startTime": "2027-01-02T03:04:05.678Z" })).await;
    let h = [("x-milo-token", token.as_str())];

    // bots.getConfig as the bots send it: GET, batch=1, superjson input.
    let q = input(json!({ "0": { "json": { "botId": id } } }));
    let r = app.raw("GET", &format!("/api/trpc/bots.getConfig?batch=1&input={q}"), &h, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let data = &r.json()[0]["result"]["data"];
    assert_eq!(data["json"]["id"], id);
    assert_eq!(data["json"]["startTime"], "2027-01-02T03:04:05.678Z");
    assert_eq!(data["meta"], json!({ "values": { "startTime": ["Date"], "endTime": ["Date"] } }));

    // Two mutations merged into one request, a Date in the input.
    let body = json!({
        "0": { "json": { "id": id.to_string() } },
        "1": { "json": { "id": id.to_string(), "event": { "eventType": "JOINING_CALL", "eventTime": "2026-11-23T10:00:00.000Z", "data": null } },
               "meta": { "values": { "event.eventTime": ["Date"] } } },
    });
    let r =
        app.raw("POST", "/api/trpc/bots.sendHeartbeat,bots.events.report?batch=1", &h, Some(body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            { "result": { "data": { "json": { "shouldLeave": false, "logLevel": "TRACE" } } } },
            { "result": { "data": { "json": null, "meta": { "values": ["undefined"] } } } },
        ])
    );

    let body = json!({ "0": { "json": { "id": id.to_string(), "status": "IN_CALL" } } });
    let r = app.raw("POST", "/api/trpc/bots.updateStatus?batch=1", &h, Some(body.to_string())).await;
    assert_eq!(r.json()[0]["result"]["data"]["json"], json!({ "id": id, "status": "IN_CALL" }));

    let entries = json!([{ "id": "9b2f", "botId": id, "timestamp": "2026-11-23T10:00:01.000Z", "level": "INFO", "message": "joined" }]);
    let body = json!({ "0": { "json": { "botId": id.to_string(), "entries": entries }, "meta": { "values": { "entries.0.timestamp": ["Date"] } } },
                       "1": { "json": { "botId": id.to_string() } } });
    let r = app.raw("POST", "/api/trpc/bots.logs.stream,bots.logs.flush?batch=1", &h, Some(body.to_string())).await;
    assert_eq!(r.json()[0]["result"]["data"]["json"], json!({ "received": 1 }), "{}", r.body);
    assert_eq!(r.json()[1]["result"]["data"]["json"], json!({ "success": true }));

    let q = input(json!({ "0": { "json": { "botId": id.to_string() } } }));
    let r = app.raw("GET", &format!("/api/trpc/bots.chat.dequeueMessage?batch=1&input={q}"), &h, None).await;
    assert_eq!(r.json(), json!([{ "result": { "data": { "json": null } } }]));

    // Without batching: one object in, one object out.
    let q = input(json!({ "json": { "botId": id } }));
    let r = app.raw("GET", &format!("/api/trpc/bots.getConfig?input={q}"), &h, None).await;
    assert_eq!(r.json()["result"]["data"]["json"]["id"], id, "{}", r.body);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM events WHERE bot_id = {id} AND event_type = 'JOINING_CALL'"))
            .await,
        1
    );
}

#[tokio::test]
async fn trpc_errors_have_the_trpc_shape_and_status() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (a, token_a) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (b, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let h = [("x-milo-token", token_a.as_str())];

    let q = input(json!({ "0": { "json": { "botId": b } } }));
    let r = app.raw("GET", &format!("/api/trpc/bots.getConfig?batch=1&input={q}"), &h, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        json!([{ "error": { "json": {
            "message": "This token does not open that bot: the token is wrong, or the bot has finished or does not exist.",
            "code": -32001,
            "data": { "code": "UNAUTHORIZED", "httpStatus": 401, "path": "bots.getConfig", "zodError": null },
        } } }])
    );

    let r = app.raw("GET", &format!("/api/trpc/bots.getConfig?batch=1&input={q}"), &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()[0]["error"]["json"]["data"]["code"], "UNAUTHORIZED");

    // One good and one failing call in a batch: 207, each answer in its place.
    let body = json!({ "0": { "json": { "id": a.to_string() } }, "1": { "json": { "id": b.to_string() } } });
    let r =
        app.raw("POST", "/api/trpc/bots.sendHeartbeat,bots.sendHeartbeat?batch=1", &h, Some(body.to_string())).await;
    assert_eq!(r.status.as_u16(), 207, "{}", r.body);
    assert!(r.json()[0]["result"].is_object() && r.json()[1]["error"].is_object());

    let r = app.raw("POST", "/api/trpc/bots.nope?batch=1", &h, Some("{}".into())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()[0]["error"]["json"]["code"], -32004);

    let r = app
        .raw(
            "POST",
            "/api/trpc/bots.getConfig?batch=1",
            &h,
            Some(json!({ "0": { "json": { "botId": a } } }).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    let r = app.raw("POST", "/api/trpc/bots.sendHeartbeat?batch=1", &h, Some("{oops".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()[0]["error"]["json"]["data"]["code"], "PARSE_ERROR");

    let body = json!({ "0": { "json": { "id": a.to_string(), "event": { "eventType": "NOPE", "eventTime": "2026-11-23T10:00:00Z" } } } });
    let r = app.raw("POST", "/api/trpc/bots.events.report?batch=1", &h, Some(body.to_string())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()[0]["error"]["json"]["message"].as_str().unwrap().contains("Unknown event type"));

    // A leaving bot: PRECONDITION_FAILED, with the code in the message (the bots look for it
    // there to skip a restart).
    app.exec(&format!("UPDATE bots SET status = 'LEAVING' WHERE id = {a}")).await;
    app.state.heartbeats.forget(a);
    let q = input(json!({ "0": { "json": { "botId": a } } }));
    let r = app.raw("GET", &format!("/api/trpc/bots.getConfig?batch=1&input={q}"), &h, None).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    assert!(r.json()[0]["error"]["json"]["message"].as_str().unwrap().contains("PRECONDITION_FAILED"));
}

/// Asserts that `r` is a tRPC error (JSON, `error.json.data.code` = `code`, its `httpStatus`
/// equal to the answer's status), never one of axum's plain-text rejections.
fn assert_trpc_error(what: &str, r: &TestResponse, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
    let ct = r.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{what}: content type {ct:?}, body {}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.body));
    let one = if body.is_array() { body[0].clone() } else { body };
    let data = &one["error"]["json"]["data"];
    assert_eq!(data["code"], code, "{what}: {one}");
    assert_eq!(data["httpStatus"], status, "{what}: {one}");
    assert!(one["error"]["json"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {one}");
}

#[tokio::test]
async fn trpc_rejections_are_trpc_errors_never_plain_text() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (a, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let h = [("x-milo-token", token.as_str())];

    // Bad query strings.
    let r = app.raw("GET", "/api/trpc/bots.getConfig?batch=1&input={oops", &h, None).await;
    assert_trpc_error("broken input JSON", &r, 400, "PARSE_ERROR");
    let r = app.raw("GET", "/api/trpc/bots.getConfig?batch=1&input=%FF%FE", &h, None).await;
    assert_trpc_error("input not UTF-8", &r, 400, "PARSE_ERROR");

    // Unknown procedures, wherever they are.
    for path in ["/api/trpc", "/api/trpc/", "/api/trpc/bots.nope", "/api/trpc/bots/getConfig", "/api/trpc/%FF"] {
        let r = app.raw("GET", path, &h, None).await;
        assert_trpc_error(path, &r, 404, "NOT_FOUND");
    }
    // Methods tRPC does not speak.
    for method in ["PUT", "DELETE", "PATCH"] {
        let r = app.raw(method, "/api/trpc/bots.sendHeartbeat?batch=1", &h, Some("{}".into())).await;
        assert_trpc_error(method, &r, 405, "METHOD_NOT_SUPPORTED");
    }

    // Bad bodies: not JSON, not UTF-8, too large (announced, and streamed without a length).
    let r = app.raw("POST", "/api/trpc/bots.sendHeartbeat?batch=1", &h, Some("{oops".into())).await;
    assert_trpc_error("broken body", &r, 400, "PARSE_ERROR");
    let r = app
        .send(
            http::Request::post("/api/trpc/bots.sendHeartbeat?batch=1")
                .header("x-milo-token", token.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(vec![0xff, 0xfe, b'{']))
                .unwrap(),
        )
        .await;
    assert_trpc_error("body not UTF-8", &r, 400, "PARSE_ERROR");
    let big = format!("{{\"0\":{{\"json\":{{\"id\":\"{a}\",\"pad\":\"{}\"}}}}}}", "x".repeat(2 * 1024 * 1024));
    let len = big.len().to_string();
    let r = app
        .raw(
            "POST",
            "/api/trpc/bots.sendHeartbeat?batch=1",
            &[h[0], ("content-length", len.as_str())],
            Some(big.clone()),
        )
        .await;
    assert_trpc_error("announced too large", &r, 413, "PAYLOAD_TOO_LARGE");
    let r = app.raw("POST", "/api/trpc/bots.sendHeartbeat?batch=1", &h, Some(big)).await;
    assert_trpc_error("streamed too large", &r, 413, "PAYLOAD_TOO_LARGE");

    // Bad inputs: valid JSON of the wrong shape.
    for (path, input) in [
        ("bots.sendHeartbeat", json!({ "id": "abc" })),
        ("bots.sendHeartbeat", json!([1, 2])),
        ("bots.updateStatus", json!({ "id": a, "status": "NOPE" })),
        ("bots.events.report", json!({ "id": a, "event": 7 })),
        ("bots.logs.stream", json!({ "botId": a, "entries": "none" })),
    ] {
        let body = json!({ "0": { "json": input } }).to_string();
        let r = app.raw("POST", &format!("/api/trpc/{path}?batch=1"), &h, Some(body)).await;
        assert_trpc_error(path, &r, 400, "BAD_REQUEST");
    }
    let r = app.raw("GET", "/api/trpc/bots.getConfig?batch=1&input=%5B%5D", &h, None).await;
    assert_trpc_error("query input of the wrong shape", &r, 400, "BAD_REQUEST");
}
