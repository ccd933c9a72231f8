//! Hot paths against PostgreSQL with 100,000 bots in the table, printed as a table of latencies:
//! create-bot and list-bots (a page of 50: the first, the 500th by offset and by cursor, a
//! filtered one) through the router; bot heartbeats and log batches of
//! 100 lines through the real HTTP stack (a socket on 127.0.0.1, 32 concurrent clients), next to a
//! bare axum handler served the same way as the ceiling.
//!
//! Run: `DATABASE_URL=postgres://... cargo bench -p server --bench api` (`./dev bench` does it
//! against the private cluster). Uses its own database, `meeboter_bench`, recreated each run.

mod common;

use std::time::{Duration, Instant};

use app::backend::config::{Config, Vars};
use app::backend::db;
use axum::body::Body;
use common::{ms, percentile};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use http::Request;
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

const SEED_BOTS: i64 = 100_000;
const CREATES: usize = 2_000;
const LISTS: usize = 1_000;

fn row(name: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    println!(
        "| {name:<28} | {:>6} | {:>8.2} | {:>8.2} | {:>8.2} | {:>9.0} |",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.95)),
        ms(percentile(&samples, 0.99)),
        samples.len() as f64 / wall.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at PostgreSQL");
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a database name");
    let url = format!("{prefix}/meeboter_bench");
    let mut admin = AsyncPgConnection::establish(&format!("{prefix}/postgres")).await.expect("connect");
    diesel::sql_query("DROP DATABASE IF EXISTS meeboter_bench WITH (FORCE)").execute(&mut admin).await.unwrap();
    diesel::sql_query("CREATE DATABASE meeboter_bench").execute(&mut admin).await.unwrap();
    db::run_migrations(&url).await.expect("migrate");

    let vars: Vars = [
        ("MEEBOTER_ENV", "development"),
        ("DATABASE_URL", url.as_str()),
        ("DATABASE_POOL_SIZE", "16"),
        ("LOCAL_BOT_LIMIT", "1000"),
        ("DEPLOYMENT_QUEUE_MAX_CONCURRENT", "16"),
    ]
    .into_iter()
    .collect();
    let config = Config::from_vars(&vars).expect("config");
    let state =
        server::commands::build_state(config, LeptosOptions::builder().output_name("meeboter").build()).await.unwrap();
    let router = server::http::router(state.clone());

    // One user on an unlimited plan, a key, and 100k bots.
    let mut conn = state.pool.get().await.unwrap();
    diesel::sql_query("INSERT INTO users (name, email, password_hash) VALUES ('Bench', 'bench@example.com', 'x')")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("INSERT INTO subscriptions (user_id, plan) SELECT id, 'CUSTOM' FROM users")
        .execute(&mut conn)
        .await
        .unwrap();
    let key = app::backend::services::api_keys::create(&mut conn, 1, "bench", None).await.unwrap().secret;
    let seeded = Instant::now();
    diesel::sql_query(format!(
        "INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, start_time, end_time, status, created_at) \
         SELECT 1, '{{\"meetingUrl\":\"https://meet.google.com/abc-defg-hij\"}}', 'google-meet', '{{}}', \
                now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval + interval '1 hour', \
                (ARRAY['DONE','FATAL','IN_CALL','QUEUED'])[1 + g % 4], now() - (g || ' seconds')::interval \
         FROM generate_series(1, {SEED_BOTS}) g"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut conn).await.unwrap();
    drop(conn);
    println!("seeded {SEED_BOTS} bots in {:.1} s", seeded.elapsed().as_secs_f64());

    let body = r#"{"meetingUrl":"https://meet.google.com/abc-defg-hij","displayName":"Bench"}"#;
    let send = |req: Request<Body>| {
        let r = router.clone();
        async move {
            let t = Instant::now();
            let res = r.oneshot(req).await.unwrap();
            let status = res.status();
            let _ = axum::body::to_bytes(res.into_body(), usize::MAX).await;
            (t.elapsed(), status)
        }
    };

    println!();
    println!("| operation                    |      n | p50 (ms) | p95 (ms) | p99 (ms) |  req/s    |");
    println!("|------------------------------|-------:|---------:|---------:|---------:|----------:|");

    for (label, concurrency) in [("create bot (1 client)", 1usize), ("create bot (16 clients)", 16)] {
        let started = Instant::now();
        let mut samples = Vec::with_capacity(CREATES);
        let mut left = CREATES;
        while left > 0 {
            let batch = concurrency.min(left);
            let futs: Vec<_> = (0..batch)
                .map(|_| {
                    send(
                        Request::post("/api/v1/bots")
                            .header("x-api-key", &key)
                            .header("content-type", "application/json")
                            .body(Body::from(body))
                            .unwrap(),
                    )
                })
                .collect();
            for (d, status) in futures_join(futs).await {
                assert_eq!(status, 201);
                samples.push(d);
            }
            left -= batch;
        }
        row(label, samples, started.elapsed());
    }

    // Let the lists see a vacuumed, analysed table whatever autovacuum managed during the creates
    // (otherwise the list rows depend on how fast the creates ran).
    let mut conn = state.pool.get().await.unwrap();
    diesel::sql_query("VACUUM ANALYZE bots").execute(&mut conn).await.unwrap();
    drop(conn);

    // The cursor of page 500, reached the way a client does: following nextCursor.
    let mut deep = String::from("/api/v1/bots?pageSize=50");
    for _ in 1..500 {
        let res = router.clone().oneshot(Request::get(&deep).header("x-api-key", &key).body(Body::empty()).unwrap());
        let bytes = axum::body::to_bytes(res.await.unwrap().into_body(), usize::MAX).await.unwrap();
        let page: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        deep = format!("/api/v1/bots?pageSize=50&cursor={}", page["nextCursor"].as_str().expect("a next page"));
    }

    for (label, path) in [
        ("list bots, page 1 of 50", "/api/v1/bots?page=1&pageSize=50"),
        ("list bots, page 500 (offset)", "/api/v1/bots?page=500&pageSize=50"),
        ("list bots, page 500 (cursor)", deep.as_str()),
        ("list bots, status=IN_CALL", "/api/v1/bots?pageSize=50&status=IN_CALL"),
    ] {
        let started = Instant::now();
        let mut samples = Vec::with_capacity(LISTS);
        for _ in 0..LISTS {
            let (d, status) = send(Request::get(path).header("x-api-key", &key).body(Body::empty()).unwrap()).await;
            assert_eq!(status, 200);
            samples.push(d);
        }
        row(label, samples, started.elapsed());
    }

    http_hot_paths(&state, router.clone()).await;
    dispatch(&state).await;
}

/// A platform that starts nothing and answers at once: measures the dispatcher itself.
struct Instant0;

impl app::backend::platforms::Platform for Instant0 {
    fn kind(&self) -> app::model::platform::DeploymentPlatform {
        app::model::platform::DeploymentPlatform::Local
    }
    fn deploy<'a>(
        &'a self,
        bot: &'a app::backend::platforms::BotLaunch,
    ) -> app::backend::platforms::BoxFuture<
        'a,
        Result<app::backend::platforms::Launched, app::backend::platforms::PlatformError>,
    > {
        Box::pin(async move { Ok(app::backend::platforms::Launched { identifier: format!("stub-{}", bot.bot_id) }) })
    }
    fn stop<'a>(
        &'a self,
        _: &'a str,
    ) -> app::backend::platforms::BoxFuture<'a, Result<(), app::backend::platforms::PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn status<'a>(
        &'a self,
        _: &'a str,
    ) -> app::backend::platforms::BoxFuture<
        'a,
        Result<app::backend::platforms::ResourceStatus, app::backend::platforms::PlatformError>,
    > {
        Box::pin(async { Ok(app::backend::platforms::ResourceStatus::Running) })
    }
    fn release(
        &self,
        _: i64,
    ) -> app::backend::platforms::BoxFuture<'_, Result<(), app::backend::platforms::PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn probe(&self) -> app::backend::platforms::BoxFuture<'_, Result<(), app::backend::platforms::PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn list(
        &self,
    ) -> app::backend::platforms::BoxFuture<
        '_,
        Result<Vec<app::backend::platforms::ResourceSummary>, app::backend::platforms::PlatformError>,
    > {
        Box::pin(async { Ok(Vec::new()) })
    }
}

const DISPATCH: i64 = 1_000;

/// 1,000 queued bots dispatched to a platform that answers at once.
async fn dispatch(state: &app::backend::state::AppState) {
    let mut conn = state.pool.get().await.unwrap();
    diesel::sql_query(format!(
        "WITH b AS (INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, start_time, end_time, status) \
                    SELECT 1, '{{}}', 'zoom', '{{}}', now(), now() + interval '1 hour', 'QUEUED' FROM generate_series(1, {DISPATCH}) \
                    RETURNING id) \
         INSERT INTO deployment_queue (bot_id, timeout_at) SELECT id, now() + interval '10 minutes' FROM b"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let deployer = app::backend::deployer::Deployer::new(
        state.pool.clone(),
        state.config.clone(),
        std::sync::Arc::new(app::backend::platforms::PlatformRegistry::new(
            &state.config,
            vec![std::sync::Arc::new(Instant0) as std::sync::Arc<dyn app::backend::platforms::Platform>],
        )),
    );
    let started = Instant::now();
    let mut deployed = 0usize;
    while (deployed as i64) < DISPATCH {
        let done = deployer.dispatch_once().await.unwrap();
        assert!(!done.is_empty(), "the queue ran dry at {deployed}");
        deployed += done.len();
    }
    let wall = started.elapsed();
    println!(
        "\ndispatch: {DISPATCH} queued bots to a platform that answers at once in {:.0} ms ({:.0} bots/s)",
        wall.as_secs_f64() * 1000.0,
        DISPATCH as f64 / wall.as_secs_f64()
    );
}

const HEARTBEATS: usize = 20_000;
const LOG_BATCHES: usize = 1_000;
const CLIENTS: usize = 32;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    format!("http://{addr}")
}

/// `total` requests made by `CLIENTS` concurrent clients; `make(i)` builds request `i`.
async fn load<F>(label: &str, total: usize, make: F)
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().unwrap();
    let make = std::sync::Arc::new(make);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, make, next) = (client.clone(), make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return samples;
                }
                let t = Instant::now();
                let res = make(&client, i).send().await.unwrap();
                assert!(res.status().is_success(), "{}", res.status());
                let _ = res.bytes().await;
                samples.push(t.elapsed());
            }
        }));
    }
    let mut samples = Vec::with_capacity(total);
    for t in tasks {
        samples.extend(t.await.unwrap());
    }
    row(label, samples, started.elapsed());
}

async fn http_hot_paths(state: &app::backend::state::AppState, router: axum::Router) {
    let base = serve(router).await;
    let bare = serve(axum::Router::new().route("/ping", axum::routing::post(|| async { "{}" }))).await;
    let mut conn = state.pool.get().await.unwrap();
    // Running bots only: a finished bot's token opens nothing.
    use app::backend::db::schema::bots;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let running: Vec<i64> = bots::table
        .filter(bots::status.eq("IN_CALL"))
        .order(bots::id)
        .limit(64)
        .select(bots::id)
        .load(&mut conn)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for id in running {
        tokens.push((id, app::backend::services::bot_api::issue_token(&mut conn, id).await.unwrap()));
    }
    drop(conn);
    let tokens = std::sync::Arc::new(tokens);

    load("bare axum handler (HTTP)", HEARTBEATS, move |c, _| c.post(format!("{bare}/ping"))).await;
    let (b, t) = (base.clone(), tokens.clone());
    load("bot heartbeat (HTTP, REST)", HEARTBEATS, move |c, i| {
        let (id, token) = &t[i % t.len()];
        c.post(format!("{b}/api/v1/bot/{id}/heartbeat")).header("x-milo-token", token)
    })
    .await;
    let (b, t) = (base.clone(), tokens.clone());
    load("bot heartbeat (HTTP, tRPC)", HEARTBEATS, move |c, i| {
        let (id, token) = &t[i % t.len()];
        c.post(format!("{b}/api/trpc/bots.sendHeartbeat?batch=1"))
            .header("x-milo-token", token)
            .header("content-type", "application/json")
            .body(format!(r#"{{"0":{{"json":{{"id":"{id}"}}}}}}"#))
    })
    .await;
    let lines: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({ "id": format!("line-{i}"), "timestamp": "2026-11-23T10:00:00.000Z", "level": "INFO", "message": format!("bench line {i} with a realistic amount of text in it") }))
        .collect();
    let body = serde_json::json!({ "entries": lines }).to_string();
    let (b, t) = (base.clone(), tokens.clone());
    let started = Instant::now();
    load("log batch of 100 (HTTP, REST)", LOG_BATCHES, move |c, i| {
        let (id, token) = &t[i % t.len()];
        c.post(format!("{b}/api/v1/bot/{id}/logs"))
            .header("x-milo-token", token)
            .header("content-type", "application/json")
            .body(body.clone())
    })
    .await;
    println!(
        "\nlog lines stored: {:.0} lines/s ({} batches of 100)",
        (LOG_BATCHES * 100) as f64 / started.elapsed().as_secs_f64(),
        LOG_BATCHES
    );
}

async fn futures_join<F: std::future::Future + Send + 'static>(futs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
