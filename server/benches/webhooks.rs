//! The webhook path against PostgreSQL, printed as tables:
//!
//! 1. **enqueue**: what the outbox adds to a lifecycle transition: `outbox::status_changed` for
//!    one bot (the common case) and for 100 bots at once (a health-worker sweep), in a
//!    transaction each, as the lifecycle module calls it;
//! 2. **drain**: 7,000 pending deliveries over 1,000 bots (seven events each, in order per bot)
//!    sent to a receiver on 127.0.0.1 by one sender and then by two at once (two replicas):
//!    deliveries per second;
//! 3. **live**: the real sender worker (a pass every 500 ms) while 20 bots change status ten
//!    times a second each for 10 s: event-to-receipt latency p50/p95/p99.
//!
//! Every part also checks what it must never break: each delivery arrives exactly once, and each
//! bot's events arrive in the order they were made. Exits non-zero if one did not.
//!
//! Run: `DATABASE_URL=postgres://... cargo bench -p server --bench webhooks` (`./dev bench` does
//! it against the private cluster). Uses its own database, `meeboter_webhook_bench`, recreated
//! each run.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::backend::config::{Config, Vars};
use app::backend::db::{self, DbPool};
use app::backend::webhooks::delivery;
use app::backend::webhooks::outbox;
use app::backend::webhooks::sender::Sender;
use app::backend::workers::webhooks::WebhookSender;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use common::{ms, percentile};
use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use tokio::sync::watch;

const DB_NAME: &str = "meeboter_webhook_bench";
const BOTS: i64 = 1_000;
const SINGLE_ENQUEUES: usize = 2_000;
const SWEEPS: usize = 50;
const SWEEP_SIZE: usize = 100;
const LIVE_BOTS: i64 = 20;
const LIVE_RATE_PER_BOT: u64 = 10;
const LIVE_SECS: u64 = 10;

/// What the receiver saw: per event id how often, per bot the order, per event its latency.
#[derive(Default)]
struct Seen {
    count: HashMap<String, u32>,
    /// Event ids per bot, in the order they arrived.
    per_bot: HashMap<i64, Vec<String>>,
    latency: Vec<Duration>,
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if !rt.block_on(run()) {
        eprintln!("webhooks benchmark: a check above FAILED");
        std::process::exit(1);
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn pending(pool: &DbPool) -> i64 {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

/// Each delivery's row id (a bot's rows are made in order), by event id.
async fn made_order(pool: &DbPool) -> HashMap<String, i64> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_id: String,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut conn = pool.get().await.unwrap();
    let rows: Vec<Row> =
        diesel::sql_query("SELECT event_id, id FROM webhook_deliveries").load(&mut conn).await.unwrap();
    rows.into_iter().map(|r| (r.event_id, r.id)).collect()
}

/// Checks exactly once and in order per bot; prints a line; answers whether both held.
async fn check(pool: &DbPool, seen: &Mutex<Seen>, part: &str) -> bool {
    let made = made_order(pool).await;
    let seen = seen.lock().unwrap();
    let twice = seen.count.values().filter(|&&n| n > 1).count();
    let missing = made.keys().filter(|id| !seen.count.contains_key(*id)).count();
    // Each bot's events carry its deliveries' row ids, made in order: arrivals must ascend.
    let out_of_order = seen
        .per_bot
        .values()
        .filter(|ids| {
            let rows: Vec<i64> = ids.iter().filter_map(|id| made.get(id).copied()).collect();
            rows.windows(2).any(|w| w[0] > w[1])
        })
        .count();
    let ok = twice == 0 && missing == 0 && out_of_order == 0;
    println!(
        "{part}: {} made, {} received; twice {twice}, missing {missing}, bots out of order {out_of_order}: {}",
        made.len(),
        seen.count.values().sum::<u32>(),
        if ok { "ok" } else { "FAILED" }
    );
    ok
}

async fn reset(pool: &DbPool, seen: &Mutex<Seen>) {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("TRUNCATE webhook_deliveries").execute(&mut conn).await.unwrap();
    *seen.lock().unwrap() = Seen::default();
}

async fn enqueue(conn: &mut AsyncPgConnection, ids: &[i64], at: DateTime<Utc>) {
    let from = vec!["JOINING_CALL"; ids.len()];
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        outbox::status_changed(conn, ids, &from, "IN_CALL", "Bot is in the call", None, at).await
    })
    .await
    .unwrap();
}

async fn run() -> bool {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at PostgreSQL");
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a database name");
    let url = format!("{prefix}/{DB_NAME}");
    let mut admin = AsyncPgConnection::establish(&format!("{prefix}/postgres")).await.expect("connect");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    diesel::sql_query(format!("CREATE DATABASE {DB_NAME}")).execute(&mut admin).await.unwrap();
    db::run_migrations(&url).await.expect("migrate");
    let pool = db::build_pool(&url, 16).expect("pool");

    // The receiver: records each event once it is answered 204.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let receiver = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let event: Value = serde_json::from_str(&body).unwrap_or_default();
                    let bot = event["data"]["botId"].as_i64().unwrap_or(0);
                    let made = event["timestamp"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    let mut seen = seen.lock().unwrap();
                    *seen.count.entry(id.clone()).or_default() += 1;
                    seen.per_bot.entry(bot).or_default().push(id);
                    if let Some(made) = made {
                        seen.latency.push((Utc::now() - made.with_timezone(&Utc)).to_std().unwrap_or_default());
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let vars: Vars = [
        ("MEEBOTER_ENV", "development"),
        ("DATABASE_URL", url.as_str()),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("WEBHOOK_TIMEOUT_SECS", "5"),
    ]
    .into_iter()
    .collect();
    let config = Arc::new(Config::from_vars(&vars).expect("config"));

    // One user, one endpoint, 1,000 bots.
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("INSERT INTO users (name, email, password_hash) VALUES ('Bench', 'bench@example.com', 'x')")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("INSERT INTO webhook_endpoints (user_id, kind, url, secret) VALUES (1, 'endpoint', $1, $2)")
        .bind::<diesel::sql_types::Text, _>(&hook_url)
        .bind::<diesel::sql_types::Text, _>(app::backend::webhooks::signing::new_secret())
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO bots (user_id, meeting, meeting_platform, automatic_leave, start_time, end_time, status) \
         SELECT 1, '{{\"meetingUrl\":\"https://meet.google.com/abc-defg-hij\"}}', 'google-meet', '{{}}', \
                now(), now() + interval '1 hour', 'IN_CALL' FROM generate_series(1, {BOTS})"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let mut all_ok = true;

    // 1. enqueue
    println!();
    println!("| enqueue (one transaction each)  |     n | p50 (ms) | p95 (ms) | p99 (ms) | rows/s  |");
    println!("|---------------------------------|------:|---------:|---------:|---------:|--------:|");
    for (label, size, rounds) in [("1 bot", 1usize, SINGLE_ENQUEUES), ("100 bots (a sweep)", SWEEP_SIZE, SWEEPS)] {
        let mut samples = Vec::with_capacity(rounds);
        let started = Instant::now();
        for r in 0..rounds {
            let ids: Vec<i64> = (0..size).map(|i| ((r * size + i) as i64 % BOTS) + 1).collect();
            let t = Instant::now();
            enqueue(&mut conn, &ids, Utc::now()).await;
            samples.push(t.elapsed());
        }
        let wall = started.elapsed();
        samples.sort();
        println!(
            "| {label:<31} | {:>5} | {:>8.2} | {:>8.2} | {:>8.2} | {:>7.0} |",
            samples.len(),
            ms(percentile(&samples, 0.50)),
            ms(percentile(&samples, 0.95)),
            ms(percentile(&samples, 0.99)),
            (rounds * size) as f64 / wall.as_secs_f64()
        );
    }
    drop(conn);

    // 2. drain, by one sender and by two.
    let total = pending(&pool).await;
    println!();
    println!("| drain {total} pending ({BOTS} bots) |  seconds | deliveries/s |");
    println!("|----------------------------------|---------:|-------------:|");
    for replicas in [1usize, 2] {
        if replicas == 2 {
            let ids: Vec<i64> = (1..=BOTS).collect();
            reset(&pool, &seen).await;
            let mut conn = pool.get().await.unwrap();
            for _ in 0..(total / BOTS) {
                enqueue(&mut conn, &ids, Utc::now()).await;
            }
        }
        let n = pending(&pool).await;
        let started = Instant::now();
        let senders = (0..replicas).map(|_| {
            let (pool, config) = (pool.clone(), config.clone());
            async move {
                let sender = Sender::new(&config);
                loop {
                    let claimed = delivery::deliver_due(&pool, &sender, &config.webhooks).await.unwrap();
                    if claimed == 0 && pending(&pool).await == 0 {
                        break;
                    }
                }
            }
        });
        futures_util::future::join_all(senders).await;
        let wall = started.elapsed();
        println!(
            "| {:<32} | {:>8.2} | {:>12.0} |",
            format!("{replicas} sender(s)"),
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64()
        );
        all_ok &= check(&pool, &seen, &format!("drain, {replicas} sender(s)")).await;
    }

    // 3. live: the worker as a replica runs it, events made at a steady rate.
    reset(&pool, &seen).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(WebhookSender { pool: pool.clone(), config: config.clone() }.run(stop_rx));
    let started = Instant::now();
    let mut conn = pool.get().await.unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / LIVE_RATE_PER_BOT));
    let ids: Vec<i64> = (1..=LIVE_BOTS).collect();
    let mut made = 0;
    while started.elapsed() < Duration::from_secs(LIVE_SECS) {
        tick.tick().await;
        for id in &ids {
            enqueue(&mut conn, std::slice::from_ref(id), Utc::now()).await;
            made += 1;
        }
    }
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(30);
    while pending(&pool).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let mut latency = std::mem::take(&mut seen.lock().unwrap().latency);
    latency.sort();
    println!();
    println!("| live: {LIVE_BOTS} bots × {LIVE_RATE_PER_BOT}/s for {LIVE_SECS} s | events | p50 (ms) | p95 (ms) | p99 (ms) |");
    println!("|-----------------------------------|-------:|---------:|---------:|---------:|");
    if latency.is_empty() {
        println!("| nothing received                  |      0 |          |          |          |");
        all_ok = false;
    } else {
        println!(
            "| event made → receiver answered    | {:>6} | {:>8.0} | {:>8.0} | {:>8.0} |",
            latency.len(),
            ms(percentile(&latency, 0.50)),
            ms(percentile(&latency, 0.95)),
            ms(percentile(&latency, 0.99))
        );
    }
    all_ok &= latency.len() == made;
    all_ok &= check(&pool, &seen, "live").await;
    all_ok
}
