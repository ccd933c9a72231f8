//! Screenshots bots upload (both routes) and owners view.

use http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, TestResponse};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

pub(crate) fn multipart(file: &[u8], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----meeboter-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.png\"\r\nContent-Type: image/png\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) async fn upload(
    app: &mut TestApp,
    path: &str,
    token: Option<&str>,
    file: &[u8],
    fields: &[(&str, &str)],
) -> TestResponse {
    use tower::ServiceExt;
    let (ct, body) = multipart(file, fields);
    let mut b = http::Request::post(path).header("content-type", ct);
    if let Some(t) = token {
        b = b.header("x-milo-token", t);
    }
    let res = app.router.clone().oneshot(b.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
    TestResponse::read(res).await
}

#[tokio::test]
async fn screenshots_are_stored_kept_to_fifty_and_shown_only_to_the_owner() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let key =
        app.call_json("create_api_key", json!({ "name": "k" })).await.json()["secret"].as_str().unwrap().to_owned();
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (other, _) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let png = server::bot_sim::fake_screenshot("IN_CALL");
    let fields = [("type", "state_change"), ("state", "IN_CALL"), ("trigger", "admitted")];
    let path = format!("/api/bots/{id}/screenshots");

    let r = upload(&mut app, &path, Some(&token), &png, &fields).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let shot = r.json();
    assert_eq!(shot["type"], "state_change");
    assert_eq!(shot["state"], "IN_CALL");
    assert_eq!(shot["trigger"], "admitted");
    let stored_key = shot["key"].as_str().unwrap().to_owned();
    assert!(stored_key.starts_with(&format!("bots/{id}/screenshots/")) && stored_key.ends_with(".png"), "{stored_key}");
    let r = upload(&mut app, &format!("/api/v1/bot/{id}/screenshots"), Some(&token), &png, &fields).await;
    assert_eq!(r.status, StatusCode::CREATED, "the REST twin: {}", r.body);

    for (file, fields, status, needle) in [
        (b"GIF89a not a png".to_vec(), &fields[..], StatusCode::UNPROCESSABLE_ENTITY, "PNG"),
        (
            png.clone(),
            &[("type", "selfie"), ("state", "IN_CALL")][..],
            StatusCode::UNPROCESSABLE_ENTITY,
            "state_change",
        ),
        (png.clone(), &[("type", "manual")][..], StatusCode::UNPROCESSABLE_ENTITY, "state"),
    ] {
        let r = upload(&mut app, &path, Some(&token), &file, fields).await;
        assert_eq!(r.status, status, "{}", r.body);
        assert!(r.body.contains(needle), "{}", r.body);
    }
    assert_eq!(upload(&mut app, &path, None, &png, &fields).await.status, StatusCode::UNAUTHORIZED);
    let foreign = format!("/api/bots/{other}/screenshots");
    assert_eq!(upload(&mut app, &foreign, Some(&token), &png, &fields).await.status, StatusCode::UNAUTHORIZED);
    let mut huge = png.clone();
    huge.resize(9 * 1024 * 1024, 0);
    let r = upload(&mut app, &path, Some(&token), &huge, &fields).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);

    for _ in 0..50 {
        assert_eq!(upload(&mut app, &path, Some(&token), &png, &fields).await.status, StatusCode::CREATED);
    }
    assert_eq!(
        app.count(&format!("SELECT jsonb_array_length(screenshots)::bigint AS n FROM bots WHERE id = {id}")).await,
        50
    );
    let r = app.api("GET", &format!("/api/v1/bots/{id}"), &key, None).await;
    assert_eq!(r.json()["screenshotCount"], 50);

    // The owner sees them, newest first (the first upload dropped off the list of 50).
    let r = app.call_json("get_bot_screenshots", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let shots = r.json();
    assert_eq!(shots.as_array().unwrap().len(), 50);
    let url = shots[0]["url"].as_str().unwrap().to_owned();
    let first_file = stored_key.rsplit('/').next().unwrap();
    assert!(shots.as_array().unwrap().iter().all(|s| !s["url"].as_str().unwrap().ends_with(first_file)));
    let r = app.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "image/png");
    assert_eq!(r.headers["x-content-type-options"], "nosniff", "a browser must not sniff bot-supplied bytes");

    app.forget_cookie();
    assert_eq!(app.get(&url).await.status, StatusCode::UNAUTHORIZED);
    app.sign_up("Bob", "bob@example.com").await;
    assert_eq!(app.get(&url).await.status, StatusCode::NOT_FOUND);
    let r = app.call_json("get_bot_screenshots", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(app.get(&format!("/api/bots/{id}/screenshots/..%2Fsecret.png")).await.status, StatusCode::NOT_FOUND);
}
