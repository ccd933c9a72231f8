//! Recordings: a bot uploads its recording (the bot API for the local store, the bucket itself
//! with S3, against moto's S3), reports its key under its own prefix with DONE, and only its
//! owner gets links; links Meeboter signs expire and cannot be altered; byte ranges work;
//! deleting the bot and retention delete the object.

use axum::body::Body;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{bind, serve_on, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

/// A request straight to the router, answering the status, the headers and the raw bytes.
async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let mut b = Request::builder().uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let res = app.router.clone().oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec();
    (status, headers, bytes)
}

/// The path and query of an absolute link (the API's links carry the public origin).
fn local_path(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}?{}", u.path(), u.query().unwrap_or_default())
}

async fn upload(app: &TestApp, id: i64, token: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::post(format!("/api/v1/bot/{id}/recording"))
        .header("x-milo-token", token)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn done(app: &mut TestApp, id: i64, token: &str, key: &str) {
    let body = json!({ "status": "DONE", "recording": key,
                       "speakerTimeframes": [{ "speakerName": "Ada", "start": 0, "end": 1500 }] });
    let r =
        app.raw("POST", &format!("/api/v1/bot/{id}/status"), &[("x-milo-token", token)], Some(body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A bot with recording on that uploaded `wav` and ended DONE; answers its id and key.
async fn recorded_bot(app: &mut TestApp, key: &str, wav: &[u8]) -> (i64, String) {
    let (id, token) = app.bot_with_token(key, json!({ "meetingUrl": MEET, "recordingEnabled": true })).await;
    let (status, body) = upload(app, id, &token, "audio/wav", wav.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let object = body["key"].as_str().unwrap().to_owned();
    assert!(object.starts_with(&format!("bots/{id}/recordings/")) && object.ends_with(".wav"), "{object}");
    assert_eq!(body["size"], json!(wav.len()));
    done(app, id, &token, &object).await;
    (id, object)
}

#[tokio::test]
async fn the_owner_plays_and_downloads_a_recording_through_links_that_work_by_range() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let wav = server::bot_sim::recording::tone_wav();
    let (id, _) = recorded_bot(&mut app, &key, &wav).await;

    let bot = app.api("GET", &format!("/api/v1/bots/{id}"), &key, None).await.json();
    assert_eq!(bot["recordingState"], "READY");
    assert_eq!(bot["speakerTimeframes"], json!([{ "speakerName": "Ada", "start": 0.0, "end": 1500.0 }]));

    let r = app.api("GET", &format!("/api/v1/bots/{id}/recording"), &key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = r.json();
    assert_eq!(link["contentType"], "audio/wav");
    assert!(link["recordingUrl"].as_str().unwrap().starts_with("http"), "API links are absolute: {link}");
    let expires = chrono::DateTime::parse_from_rfc3339(link["expiresAt"].as_str().unwrap()).unwrap();
    let ttl = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((3500..=3600).contains(&ttl), "links live an hour: {ttl} s");

    let play = local_path(link["recordingUrl"].as_str().unwrap());
    let (status, headers, bytes) = fetch(&app, &play, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, wav, "the file as uploaded");
    assert_eq!(headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(headers[header::CONTENT_DISPOSITION], "inline");
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    let (status, headers, bytes) = fetch(&app, &play, &[("range", "bytes=0-3")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(bytes, b"RIFF");
    assert_eq!(headers[header::CONTENT_RANGE], format!("bytes 0-3/{}", wav.len()).as_str());
    let (status, _, bytes) = fetch(&app, &play, &[("range", "bytes=-2")]).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::PARTIAL_CONTENT, &wav[wav.len() - 2..]));
    let (status, headers, _) = fetch(&app, &play, &[("range", &format!("bytes={}-", wav.len()))]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers[header::CONTENT_RANGE], format!("bytes */{}", wav.len()).as_str());

    let download = local_path(link["downloadUrl"].as_str().unwrap());
    let (status, headers, bytes) = fetch(&app, &download, &[]).await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, wav.len()));
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".wav\""), "{disposition}");
}

#[tokio::test]
async fn only_the_owner_gets_a_link_and_a_missing_recording_says_why() {
    let mut app = TestApp::new().await;
    let ada = app.user_with_key("Ada").await;
    let bo = app.user_with_key("Bo").await;
    let (id, _) = recorded_bot(&mut app, &ada, b"RIFF....WAVE").await;

    let r = app.api("GET", &format!("/api/v1/bots/{id}/recording"), &bo, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another user's bot: {}", r.body);
    assert!(!r.body.contains("recordings/"), "nothing of the recording leaks: {}", r.body);

    let (off, _) = app.bot_with_token(&ada, json!({ "meetingUrl": MEET })).await;
    let r = app.api("GET", &format!("/api/v1/bots/{off}/recording"), &ada, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Recording is off"), "{}", r.body);

    let (pending, _) = app.bot_with_token(&ada, json!({ "meetingUrl": MEET, "recordingEnabled": true })).await;
    let r = app.api("GET", &format!("/api/v1/bots/{pending}/recording"), &ada, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("no recording yet"), "{}", r.body);
    let bot = app.api("GET", &format!("/api/v1/bots/{pending}"), &ada, None).await.json();
    assert_eq!(bot["recordingState"], "PENDING");
}

#[tokio::test]
async fn a_signed_link_cannot_be_altered_and_expires() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, _) = recorded_bot(&mut app, &key, b"RIFF-one").await;
    let (other, _) = recorded_bot(&mut app, &key, b"RIFF-two").await;
    let user: i64 = app.count(&format!("SELECT user_id AS n FROM bots WHERE id = {id}")).await;
    let link = |at: chrono::DateTime<chrono::Utc>| {
        let state = app.state.clone();
        async move {
            let mut conn = state.pool.get().await.unwrap();
            app::backend::services::recordings::link(&mut conn, &state.storage, user, id, "", at).await.unwrap()
        }
    };
    let good = link(chrono::Utc::now()).await;
    assert!(good.recording_url.starts_with(&format!("/recordings/{id}/")), "{}", good.recording_url);
    assert_eq!(fetch(&app, &good.recording_url, &[]).await.0, StatusCode::OK);

    let sig_at = good.recording_url.find("signature=").unwrap() + "signature=".len();
    let mut flipped = good.recording_url.clone();
    let c = if &flipped[sig_at..=sig_at] == "0" { "1" } else { "0" };
    flipped.replace_range(sig_at..=sig_at, c);
    let altered = [
        flipped,
        good.recording_url.replace(&format!("/recordings/{id}/"), &format!("/recordings/{other}/")),
        good.recording_url.replace("download=0", "download=1"),
        good.recording_url.replace("expires=", "expires=9"),
        good.recording_url.replace(".wav?", ".webm?"),
        good.recording_url.split("&signature").next().unwrap().to_owned(),
        format!("/recordings/{id}/..%2F..%2Fetc%2Fpasswd?expires=1&signature=00"),
    ];
    for url in altered {
        let (status, _, body) = fetch(&app, &url, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        assert!(String::from_utf8_lossy(&body).contains("not valid"), "{url}");
    }

    let stale = link(chrono::Utc::now() - chrono::Duration::hours(2)).await;
    let (status, _, body) = fetch(&app, &stale.recording_url, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("expired"), "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn uploads_are_refused_without_a_token_with_recording_off_or_not_a_recording() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET, "recordingEnabled": true })).await;
    assert_eq!(upload(&app, id, "mbt_wrong", "audio/wav", b"RIFF".to_vec()).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = upload(&app, id, &token, "text/html", b"<script>".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body.to_string().contains("audio/wav"), "the message lists the formats: {body}");
    let (off, off_token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET })).await;
    let (status, body) = upload(&app, off, &off_token, "audio/wav", b"RIFF".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Larger than the 1 MiB of other bodies: recordings stream past it.
    let big = vec![7u8; 3 * 1024 * 1024];
    let (status, body) = upload(&app, id, &token, "video/webm", big).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = app.state.storage.get(body["key"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.len(), 3 * 1024 * 1024);
    // Five files per bot, then 429 with what to do.
    for _ in 1..app::backend::services::recordings::MAX_UPLOADS_PER_BOT {
        assert_eq!(upload(&app, id, &token, "audio/wav", b"RIFF".to_vec()).await.0, StatusCode::CREATED);
    }
    let (status, body) = upload(&app, id, &token, "audio/wav", b"RIFF".to_vec()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("at most 5"), "{body}");
}

#[tokio::test]
async fn deleting_the_bot_or_retention_deletes_the_recording() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let (gone, gone_key) = recorded_bot(&mut app, &key, b"RIFF-gone").await;
    let r = app.api("DELETE", &format!("/api/v1/bots/{gone}"), &key, None).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(app.state.storage.get(&gone_key).await.unwrap(), None);

    let (old, old_key) = recorded_bot(&mut app, &key, b"RIFF-old").await;
    let (fresh, fresh_key) = recorded_bot(&mut app, &key, b"RIFF-fresh").await;
    app.exec(&format!("UPDATE bots SET recording_at = now() - interval '31 days' WHERE id = {old}")).await;
    let mut conn = app.state.pool.get().await.unwrap();
    let n = app::backend::services::recordings::apply_retention(&mut conn, &app.state.storage, 30, 100).await.unwrap();
    drop(conn);
    assert_eq!(n, 1);
    assert_eq!(app.state.storage.get(&old_key).await.unwrap(), None);
    assert!(app.state.storage.get(&fresh_key).await.unwrap().is_some());
    let bot = app.api("GET", &format!("/api/v1/bots/{old}"), &key, None).await.json();
    assert_eq!((bot["recordingState"].clone(), bot["recording"].clone()), (json!("DELETED"), Value::Null));
    let r = app.api("GET", &format!("/api/v1/bots/{old}/recording"), &key, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("retention"), "{}", r.body);
    assert_eq!(app.api("GET", &format!("/api/v1/bots/{fresh}/recording"), &key, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn with_s3_a_simulated_bot_uploads_to_the_bucket_and_the_owner_gets_a_presigned_link() {
    let moto = crate::moto::Moto::start().await;
    moto.create_bucket("recordings").await;
    let mut app = TestApp::builder()
        .var("S3_ENDPOINT", &moto.url)
        .var("S3_ACCESS_KEY", "testing")
        .var("S3_SECRET_KEY", "testing")
        .var("S3_BUCKET_NAME", "recordings")
        .build()
        .await;
    let url = {
        let (listener, url) = bind().await;
        serve_on(listener, app.router.clone());
        url
    };
    let key = app.user_with_key("Ada").await;
    let (id, token) = app.bot_with_token(&key, json!({ "meetingUrl": MEET, "recordingEnabled": true })).await;
    // The environment a platform gives this bot: S3, and no upload URL.
    let env = app::backend::platforms::env::bot_environment(
        &app::backend::platforms::BotLaunch {
            bot_id: id,
            meeting_platform: app::model::bot::MeetingPlatform::GoogleMeet,
            token: token.clone(),
            milo_url: url.clone(),
        },
        app.state.config.s3.as_ref(),
    );
    let exit = tokio::process::Command::new(env!("CARGO_BIN_EXE_meeboter"))
        .arg("bot-sim")
        .args(["--heartbeat-secs", "0.2", "--join-secs", "0.2", "--call-secs", "0.3"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(env.all())
        .kill_on_drop(true)
        .status()
        .await
        .unwrap();
    assert!(exit.success());
    assert_eq!(crate::support::bot_status(&app, id).await, "DONE");
    let bot = app.api("GET", &format!("/api/v1/bots/{id}"), &key, None).await.json();
    let object = bot["recording"].as_str().unwrap().to_owned();
    assert!(object.starts_with(&format!("bots/{id}/recordings/")), "{object}");
    assert_eq!(bot["speakerTimeframes"].as_array().unwrap().len(), 2);

    let link = app.api("GET", &format!("/api/v1/bots/{id}/recording"), &key, None).await.json();
    let play = link["recordingUrl"].as_str().unwrap();
    assert!(play.starts_with(&format!("{}/recordings/{object}", moto.url)), "a path-style presigned URL: {play}");
    assert!(play.contains("X-Amz-Signature=") && play.contains("X-Amz-Expires=3600"), "{play}");
    let res = reqwest::get(play).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), server::bot_sim::recording::tone_wav());
    assert!(link["downloadUrl"].as_str().unwrap().contains("response-content-disposition=attachment"));
}
