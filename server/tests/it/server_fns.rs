//! The UI's server functions: authentication and the authorisation matrix (user B cannot read,
//! change, delete, cancel, chat to or see the usage of user A's bots, nor touch A's keys).

use http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn every_server_function_needs_a_session() {
    let mut app = TestApp::new().await;
    let calls = [
        ("list_bots", json!({ "filter": { "page": 1, "pageSize": 20 } })),
        ("get_bot", json!({ "id": 1 })),
        ("deploy_bots", json!({ "request": { "meetingUrl": "https://zoom.us/j/1" }, "count": 1 })),
        ("cancel_deployments", json!({ "ids": [1] })),
        ("list_api_keys", json!({ "page": 1 })),
        ("create_api_key", json!({ "name": "x" })),
        ("list_templates", json!({})),
        ("get_usage", json!({ "range": "today", "time_zone": null })),
        ("get_dashboard_stats", json!({ "time_zone": null })),
    ];
    for (name, body) in calls {
        let r = app.call_json(name, body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.body);
    }
}

#[tokio::test]
async fn user_b_cannot_touch_user_a_through_the_ui() {
    let mut app = TestApp::new().await;
    app.sign_up("Alice", "alice@example.com").await;
    let r =
        app.call_json("deploy_bots", json!({ "request": { "meetingUrl": "https://zoom.us/j/1" }, "count": 2 })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ids: Vec<i64> = r.json().as_array().unwrap().iter().map(|b| b["id"].as_i64().unwrap()).collect();
    let key = app.call_json("create_api_key", json!({ "name": "alice" })).await.json();
    let key_id = key["key"]["id"].as_i64().unwrap();

    app.forget_cookie();
    app.sign_up("Bob", "bob@example.com").await;
    let a = ids[0];
    assert_eq!(app.call_json("get_bot", json!({ "id": a })).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.call_json("set_bot_log_level", json!({ "id": a, "level": "DEBUG" })).await.status,
        StatusCode::NOT_FOUND
    );
    for f in ["cancel_deployments", "remove_bots_from_call", "delete_bots"] {
        let r = app.call_json(f, json!({ "ids": ids })).await;
        assert_eq!(r.json()["succeeded"], json!([]), "{f}: {}", r.body);
    }
    let r = app.call_json("send_chat_message", json!({ "send": { "botIds": ids, "messageText": "hi" } })).await;
    assert_eq!(r.json()["succeeded"], json!([]));
    let page = app.call_json("list_bots", json!({ "filter": { "page": 1, "pageSize": 20 } })).await.json();
    assert_eq!(page["total"], 0);
    let stats = app.call_json("get_dashboard_stats", json!({ "time_zone": "UTC" })).await.json();
    assert_eq!((stats["active_bots"].as_i64(), stats["today"]["usage"].as_i64()), (Some(0), Some(0)));
    assert_eq!(app.call_json("revoke_api_key", json!({ "id": key_id })).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.call_json("get_api_key_logs", json!({ "id": key_id, "page": 1 })).await.status,
        StatusCode::NOT_FOUND
    );

    // Nothing of Alice's changed.
    assert_eq!(app.count("SELECT count(*) AS n FROM bots WHERE status = 'QUEUED'").await, 2);
    assert_eq!(app.count("SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM bot_chat_messages").await, 0);
}

#[tokio::test]
async fn a_key_secret_is_returned_once_and_never_listed() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let created = app.call_json("create_api_key", json!({ "name": "ci", "expires_at": "" })).await.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let listed = app.call_json("list_api_keys", json!({ "page": 1 })).await;
    assert!(!listed.body.contains(&secret));
    assert_eq!(listed.json()["data"][0]["prefix"].as_str(), Some(&secret[..12]));
    assert_eq!(listed.json()["data"][0]["status"], "Active");
    // What is stored is the SHA-256 of the secret (computed here by PostgreSQL, not by our
    // code), and the secret's bytes appear in no column of the key's row.
    let hashed = app
        .count(&format!("SELECT count(*) AS n FROM api_keys WHERE key_hash = sha256(convert_to('{secret}', 'UTF8'))"))
        .await;
    assert_eq!(hashed, 1, "the key must be stored as the SHA-256 of its secret");
    let plain = app
        .count(&format!(
            "SELECT count(*) AS n FROM api_keys k WHERE strpos(row_to_json(k)::text, '{secret}') > 0 \
             OR position(convert_to('{secret}', 'UTF8') IN k.key_hash) > 0"
        ))
        .await;
    assert_eq!(plain, 0, "the secret must not be stored");
    let bad = app.call_json("create_api_key", json!({ "name": "old", "expires_at": "2001-01-01" })).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app.call_json("create_api_key", json!({ "name": "  " })).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn quick_deploy_respects_the_daily_limit_for_the_whole_batch() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let r =
        app.call_json("deploy_bots", json!({ "request": { "meetingUrl": "https://zoom.us/j/1" }, "count": 6 })).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM bots").await, 0);
    let r =
        app.call_json("deploy_bots", json!({ "request": { "meetingUrl": "https://zoom.us/j/1" }, "count": 0 })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        app.call_json("deploy_bots", json!({ "request": { "meetingUrl": "https://zoom.us/j/1" }, "count": 5 })).await;
    assert_eq!(r.json().as_array().unwrap().len(), 5);
    assert_eq!(r.json()[1]["displayName"], "Meeboter 2");
}
