//! Paging and bounds: every list refuses out-of-range pages with a 400 a person can act on, the
//! bots list pages by cursor at any depth (forward and back, stable while bots arrive, never
//! across users), its total is exact or flagged as an estimate, and the OpenAPI document states
//! the bounds the server enforces.

use http::StatusCode;
use serde_json::{json, Value};

use crate::support::TestApp;

const MEET: &str = "https://meet.google.com/abc-defg-hij";

/// Inserts `n` bots for the user with `email`, three per `created_at` (so ties are broken by id),
/// newest last by id; returns the user's id.
async fn seed_bots(app: &TestApp, email: &str, n: i64) -> i64 {
    let user = app.count(&format!("SELECT id AS n FROM users WHERE email = '{email}'")).await;
    app.exec(&format!(
        "INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, start_time, end_time, status, created_at) \
         SELECT {user}, '{{\"meetingUrl\":\"{MEET}\"}}', 'google-meet', '{{}}', now(), now() + interval '1 hour', \
                (ARRAY['DONE','FATAL','IN_CALL','QUEUED'])[1 + g % 4], \
                timestamptz '2026-11-01 00:00:00+00' + ((g / 3) || ' seconds')::interval \
         FROM generate_series(1, {n}) g"
    ))
    .await;
    user
}

/// The user's bot ids in list order (newest first, ties by id).
async fn expected_order(app: &TestApp, user: i64) -> Vec<i64> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let mut conn = app.state.pool.get().await.unwrap();
    let rows: Vec<Id> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(format!("SELECT id FROM bots WHERE user_id = {user} ORDER BY created_at DESC, id DESC")),
        &mut conn,
    )
    .await
    .unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

fn ids(page: &Value) -> Vec<i64> {
    page["data"].as_array().unwrap().iter().map(|b| b["id"].as_i64().unwrap()).collect()
}

fn assert_bad_request(r: &crate::support::TestResponse, field: &str, what: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
    let body = r.json();
    let message = body["error"]["message"].as_str().or(body["BadRequest"]["message"].as_str()).unwrap_or_default();
    assert!(!message.is_empty() && message.contains(field), "{what}: the message must name {field}: {}", r.body);
}

#[tokio::test]
async fn huge_or_zero_pages_are_a_400_naming_the_bounds_on_every_api_list() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for list in ["/api/v1/bots", "/api/v1/templates"] {
        for (query, field) in [
            ("page=9223372036854775807", "page"),
            ("page=1001", "page"),
            ("page=0", "page"),
            ("page=-1", "page"),
            ("page=99999999999999999999", "page"),
            ("pageSize=0", "pageSize"),
            ("pageSize=101", "pageSize"),
            ("pageSize=9223372036854775807", "pageSize"),
            ("page=1000&pageSize=9223372036854775807", "pageSize"),
        ] {
            let r = app.api("GET", &format!("{list}?{query}"), &key, None).await;
            assert_bad_request(&r, field, &format!("{list}?{query}"));
        }
        // The edges themselves are fine.
        for query in ["page=1000&pageSize=100", "page=1&pageSize=1"] {
            let r = app.api("GET", &format!("{list}?{query}"), &key, None).await;
            assert_eq!(r.status, StatusCode::OK, "{list}?{query}: {}", r.body);
        }
    }
    let r = app.api("GET", "/api/v1/bots?page=1001", &key, None).await;
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("1 to 1000"), "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "bad_request");
}

#[tokio::test]
async fn huge_pages_are_a_400_in_the_server_functions_too() {
    let mut app = TestApp::new().await;
    app.sign_up("Ada", "ada@example.com").await;
    let key = app.call_json("create_api_key", json!({ "name": "k" })).await.json()["key"]["id"].as_i64().unwrap();
    for (endpoint, body, field) in [
        ("list_bots", json!({ "filter": { "page": i64::MAX } }), "page"),
        ("list_bots", json!({ "filter": { "page": 0 } }), "page"),
        ("list_bots", json!({ "filter": { "pageSize": i64::MAX } }), "pageSize"),
        ("list_bots", json!({ "filter": { "cursor": "a1.2" } }), "cursor"),
        ("list_api_keys", json!({ "page": i64::MAX }), "page"),
        ("list_api_keys", json!({ "page": 0 }), "page"),
        ("get_api_key_logs", json!({ "id": key, "page": i64::MAX }), "page"),
        ("get_api_key_logs", json!({ "id": key, "page": -5 }), "page"),
    ] {
        let r = app.call_json(endpoint, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{endpoint} {body}: {}", r.body);
        assert!(r.body.contains(field), "{endpoint} {body}: {}", r.body);
    }
    let ok = app.call_json("list_api_keys", json!({ "page": 1 })).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn cursor_pages_visit_every_bot_once_forward_and_back() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let user = seed_bots(&app, "ada@example.com", 23).await;
    let order = expected_order(&app, user).await;

    // Forward from the first page by nextCursor.
    let mut pages = Vec::new();
    let mut page = app.api("GET", "/api/v1/bots?pageSize=5", &key, None).await.json();
    loop {
        assert_eq!(page["page"].as_i64(), Some(pages.len() as i64 + 1), "{page}");
        assert_eq!((page["total"].as_i64(), page["totalIsEstimate"].as_bool()), (Some(23), Some(false)));
        assert_eq!(page["pageCount"], 5);
        assert_eq!(page["hasPreviousPage"], !pages.is_empty());
        pages.push(ids(&page));
        let Some(next) = page["nextCursor"].as_str().map(str::to_owned) else { break };
        assert_eq!(page["hasNextPage"], true);
        page = app.api("GET", &format!("/api/v1/bots?pageSize=5&cursor={next}"), &key, None).await.json();
    }
    assert_eq!(pages.len(), 5);
    assert_eq!(pages.concat(), order, "every bot once, newest first, ties by id");
    assert_eq!(page["hasNextPage"], false);

    // Back from the last page by previousCursor, to a full first page with no previous.
    let mut back = vec![ids(&page)];
    while let Some(prev) = page["previousCursor"].as_str().map(str::to_owned) {
        page = app.api("GET", &format!("/api/v1/bots?pageSize=5&cursor={prev}"), &key, None).await.json();
        back.push(ids(&page));
    }
    back.reverse();
    assert_eq!(back, pages);
    assert_eq!((page["page"].as_i64(), page["hasPreviousPage"].as_bool()), (Some(1), Some(false)));

    // Offset pages agree with cursor pages, and also hand out a cursor.
    let third = app.api("GET", "/api/v1/bots?pageSize=5&page=3", &key, None).await.json();
    assert_eq!(ids(&third), pages[2]);
    let fourth = app
        .api("GET", &format!("/api/v1/bots?pageSize=5&cursor={}", third["nextCursor"].as_str().unwrap()), &key, None)
        .await
        .json();
    assert_eq!((ids(&fourth), fourth["page"].as_i64()), (pages[3].clone(), Some(4)));

    // Filters apply to cursor pages too.
    let in_call = app.api("GET", "/api/v1/bots?pageSize=2&status=IN_CALL", &key, None).await.json();
    let next = in_call["nextCursor"].as_str().unwrap();
    assert!(next.len() <= 64 && next.starts_with('a'), "{next}");
    let second =
        app.api("GET", &format!("/api/v1/bots?pageSize=2&status=IN_CALL&cursor={next}"), &key, None).await.json();
    assert!(second["data"].as_array().unwrap().iter().all(|b| b["status"] == "IN_CALL"), "{second}");
}

#[tokio::test]
async fn a_cursor_page_stays_put_while_new_bots_arrive() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    seed_bots(&app, "ada@example.com", 10).await;
    let first = app.api("GET", "/api/v1/bots?pageSize=4", &key, None).await.json();
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/bots?pageSize=4&cursor={cursor}");
    let before = ids(&app.api("GET", &path, &key, None).await.json());
    // A new bot (inserted directly: the seeded ones already use up the free plan's day).
    let user = app.count("SELECT id AS n FROM users WHERE email = 'ada@example.com'").await;
    let newest = app
        .count(&format!(
            "INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, start_time, end_time) \
             VALUES ({user}, '{{}}', 'zoom', '{{}}', now(), now() + interval '1 hour') RETURNING id AS n"
        ))
        .await;
    let after = app.api("GET", &path, &key, None).await.json();
    assert_eq!(ids(&after), before);
    assert_eq!(after["total"], 11);
    // Back from page 2: the four bots just before it (page 1 as it was), then, since the new bot
    // is newer still, a full first page that starts with it.
    let prev = after["previousCursor"].as_str().unwrap().to_owned();
    let back = app.api("GET", &format!("/api/v1/bots?pageSize=4&cursor={prev}"), &key, None).await.json();
    assert_eq!(ids(&back), ids(&first));
    assert_eq!(back["hasPreviousPage"], true);
    let prev = back["previousCursor"].as_str().unwrap().to_owned();
    let head = app.api("GET", &format!("/api/v1/bots?pageSize=4&cursor={prev}"), &key, None).await.json();
    assert_eq!((head["page"].as_i64(), head["hasPreviousPage"].as_bool()), (Some(1), Some(false)));
    assert_eq!(head["data"].as_array().unwrap().len(), 4);
    assert_eq!(head["data"][0]["id"].as_i64(), Some(newest));
}

#[tokio::test]
async fn another_users_cursor_shows_only_your_own_bots() {
    let mut app = TestApp::new().await;
    let ada = app.user_with_key("Ada").await;
    let bob = app.user_with_key("Bob").await;
    seed_bots(&app, "ada@example.com", 9).await;
    let bob_user = seed_bots(&app, "bob@example.com", 9).await;
    let adas = app.api("GET", "/api/v1/bots?pageSize=3", &ada, None).await.json();
    let cursor = adas["nextCursor"].as_str().unwrap();
    let r = app.api("GET", &format!("/api/v1/bots?pageSize=50&cursor={cursor}"), &bob, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bobs = expected_order(&app, bob_user).await;
    assert!(!ids(&r.json()).is_empty());
    assert!(ids(&r.json()).iter().all(|id| bobs.contains(id)), "{}", r.body);
}

#[tokio::test]
async fn a_forged_cursor_is_a_400_and_a_cursor_wins_over_a_page() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    for cursor in
        ["x", "a1.2", "a0.1.1", "a1.1.0", "a1.99999999999999999999.1", "a1.1.1%00", "a1.1.1'%3B--", &"a1".repeat(40)]
    {
        let r = app.api("GET", &format!("/api/v1/bots?cursor={cursor}"), &key, None).await;
        assert_bad_request(&r, "cursor", cursor);
    }
    // Beside a cursor, `page` is still bounded, and the cursor wins.
    let r = app.api("GET", "/api/v1/bots?page=5000&cursor=a2.1.1", &key, None).await;
    assert_bad_request(&r, "page", "page out of bounds beside a cursor");
    let r = app.api("GET", "/api/v1/bots?page=7&cursor=a2.1.1", &key, None).await;
    assert_eq!((r.status, r.json()["page"].as_i64()), (StatusCode::OK, Some(2)), "{}", r.body);
}

#[tokio::test]
async fn the_total_is_exact_up_to_the_limit_and_a_flagged_estimate_above() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("Ada").await;
    let limit = app::backend::services::bots::EXACT_COUNT_LIMIT;
    let user = seed_bots(&app, "ada@example.com", limit).await;
    let exact = app.api("GET", "/api/v1/bots?pageSize=100", &key, None).await.json();
    assert_eq!((exact["total"].as_i64(), exact["totalIsEstimate"].as_bool()), (Some(limit), Some(false)));
    assert_eq!(exact["pageCount"].as_i64(), Some(limit / 100));

    seed_bots(&app, "ada@example.com", 4 * limit).await;
    app.exec("ANALYZE bots").await;
    let real = 5 * limit;
    let estimated = app.api("GET", "/api/v1/bots?pageSize=100", &key, None).await.json();
    assert_eq!(estimated["totalIsEstimate"], true, "{}", estimated["total"]);
    let total = estimated["total"].as_i64().unwrap();
    assert!(total > limit && (total - real).abs() <= real / 5, "estimate {total} for {real}");
    // With a filter the estimate follows the filter.
    let done = app.api("GET", "/api/v1/bots?pageSize=100&status=DONE", &key, None).await.json();
    let done_total = done["total"].as_i64().unwrap();
    assert!(done_total > limit && done_total < total, "DONE estimate {done_total} of {total}");
    // The last offset page knows the exact total.
    let last = app.api("GET", &format!("/api/v1/bots?pageSize=100&page={}", real / 100), &key, None).await.json();
    assert_eq!((last["total"].as_i64(), last["totalIsEstimate"].as_bool()), (Some(real), Some(false)));
    assert_eq!(last["hasNextPage"], false);
    assert_eq!(expected_order(&app, user).await.len() as i64, real);
}

#[tokio::test]
async fn the_openapi_document_states_the_paging_bounds_and_the_400() {
    let mut app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").await.json();
    for path in ["/api/v1/bots", "/api/v1/templates"] {
        let op = &doc["paths"][path]["get"];
        let param = |name: &str| {
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path}: no {name} parameter"))
                .clone()
        };
        let page = param("page");
        assert_eq!(
            (page["schema"]["minimum"].as_i64(), page["schema"]["maximum"].as_i64()),
            (Some(1), Some(1000)),
            "{path}"
        );
        let size = param("pageSize");
        assert_eq!(
            (size["schema"]["minimum"].as_i64(), size["schema"]["maximum"].as_i64()),
            (Some(1), Some(100)),
            "{path}"
        );
        assert!(op["responses"]["400"].is_object(), "{path}: 400 undocumented");
    }
    let bots = &doc["paths"]["/api/v1/bots"]["get"];
    let cursor = bots["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "cursor").unwrap();
    assert_eq!(cursor["schema"]["maxLength"], 64);
    assert_eq!(cursor["schema"]["pattern"], app::model::paging::CURSOR_PATTERN);
    let page = &doc["components"]["schemas"]["BotPage"]["properties"];
    for field in ["nextCursor", "previousCursor", "totalIsEstimate", "total", "hasNextPage"] {
        assert!(page[field].is_object(), "BotPage.{field} undocumented");
    }
}
