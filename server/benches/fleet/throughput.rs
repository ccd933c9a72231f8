//! Part 3: heartbeat throughput against a bare axum handler, from outside the process.

use super::*;

/// A platform that launches nothing and keeps the tokens the server sends, so the load
/// generator can heartbeat as the bots themselves (the fleet host never tells tokens).
pub(super) fn token_platform() -> (String, Arc<Mutex<HashMap<i64, String>>>) {
    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    type Tokens = Arc<Mutex<HashMap<i64, String>>>;
    let tokens: Tokens = Arc::default();
    let resource = |id: &str| json!({ "identifier": id, "botId": id.trim_start_matches("hb-").parse::<i64>().ok(), "status": "running" });
    let app = axum::Router::new()
        .route(
            "/platforms/{kind}/resources",
            post(|State(t): State<Tokens>, axum::Json(body): axum::Json<Value>| async move {
                let bot = body["botId"].as_i64().unwrap_or(0);
                t.lock().unwrap().insert(bot, body["token"].as_str().unwrap_or("").to_owned());
                (http::StatusCode::CREATED, axum::Json(json!({ "identifier": format!("hb-{bot}") })))
            })
            .get(move |State(t): State<Tokens>| async move {
                let ids: Vec<i64> = t.lock().unwrap().keys().copied().collect();
                axum::Json(ids.iter().map(|i| resource(&format!("hb-{i}"))).collect::<Vec<_>>())
            }),
        )
        .route(
            "/platforms/{kind}/resources/{id}",
            get(move |Path((_, id)): Path<(String, String)>| async move { axum::Json(resource(&id)) })
                .delete(|| async { http::StatusCode::NO_CONTENT }),
        )
        .route("/platforms/{kind}/health", get(|| async { axum::Json(json!({ "status": "ok" })) }))
        .with_state(tokens.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        axum::serve(listener, app).await.expect("token platform");
    });
    (url, tokens)
}

pub(super) struct Load {
    pub(super) requests: u64,
    pub(super) secs: f64,
    pub(super) latencies: Vec<Duration>,
}

impl Load {
    pub(super) fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    pub(super) fn quantile_ms(&mut self, q: f64) -> f64 {
        self.latencies.sort_unstable();
        self.latencies
            .get(((self.latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// `CONNECTIONS` keep-alive connections (a client each) sending `request(i)` back to back for
/// one warm-up second, then for `secs` seconds of counting.
pub(super) async fn load<F>(secs: u64, request: F) -> Load
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..CONNECTIONS {
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).http1_only().build().expect("client");
        let (request, counting, stop) = (request.clone(), counting.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let res = request(&client, i).send().await.expect("request");
                assert!(res.status().is_success(), "{}", res.status());
                let _ = res.bytes().await;
                if counting.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    latencies.push(t.elapsed());
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("load task"));
    }
    Load { requests: latencies.len() as u64, secs, latencies }
}

/// Part 3: heartbeats against a bare axum handler, 64 connections, from this process.
pub(super) async fn throughput_part(bench: &Bench, secs: u64) -> bool {
    let database = bench.fresh_database().await;
    let (platform, tokens) = token_platform();
    let (server, base) = bench
        .server(
            "throughput-server",
            &database,
            &[
                ("SIMULATED_PLATFORM_URL", platform),
                ("PLATFORM_PRIORITY", "k8s".into()),
                ("K8S_BOT_LIMIT", "100".into()),
            ],
        )
        .await;
    let key = api_key(&database).await;
    let mut ids = create_bots(&base, &key, CONNECTIONS, 8).await;
    ids.sort_unstable();
    wait_for("the bots' tokens", Duration::from_secs(60), || {
        let n = tokens.lock().unwrap().len();
        async move { n >= CONNECTIONS }
    })
    .await;
    let bots: Vec<(i64, String)> = {
        let t = tokens.lock().unwrap();
        ids.iter().map(|id| (*id, t[id].clone())).collect()
    };
    let http = reqwest::Client::new();
    for (id, token) in &bots {
        for status in ["JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL"] {
            let res = http
                .post(format!("{base}/api/v1/bot/{id}/status"))
                .header("x-milo-token", token)
                .json(&json!({ "status": status }))
                .send()
                .await
                .expect("status");
            assert!(res.status().is_success(), "status {status} of bot {id}: {}", res.status());
        }
    }

    let bare_port = free_port();
    let mut bare = Command::new(std::env::current_exe().expect("this binary"));
    bare.env(BARE_VAR, format!("127.0.0.1:{bare_port}")).stdout(bench.log("bare-axum")).stderr(Stdio::null());
    let bare = Proc(bare.spawn().expect("start the bare axum server"));
    let bare_url = format!("http://127.0.0.1:{bare_port}/ping");
    wait_for("the bare axum server", Duration::from_secs(30), || {
        let ok = std::net::TcpStream::connect(("127.0.0.1", bare_port)).is_ok();
        async move { ok }
    })
    .await;

    let bots = Arc::new(bots);
    let mut bare_runs = Vec::new();
    let mut beat_runs = Vec::new();
    // Two rounds each, alternating, so a slow moment of the machine hits both.
    for _ in 0..2 {
        let url = bare_url.clone();
        bare_runs.push(load(secs, move |c, _| c.post(&url)).await);
        let (b, t) = (base.clone(), bots.clone());
        beat_runs.push(
            load(secs, move |c, i| {
                let (id, token) = &t[i % t.len()];
                c.post(format!("{b}/api/v1/bot/{id}/heartbeat")).header("x-milo-token", token)
            })
            .await,
        );
    }
    drop(bare);
    drop(server);
    let merge = |runs: Vec<Load>| Load {
        requests: runs.iter().map(|r| r.requests).sum(),
        secs: runs.iter().map(|r| r.secs).sum(),
        latencies: runs.into_iter().flat_map(|r| r.latencies).collect(),
    };
    let (mut bare, mut beats) = (merge(bare_runs), merge(beat_runs));
    let ratio = beats.rate() / bare.rate();

    header(&format!(
        "Heartbeat throughput: {CONNECTIONS} keep-alive connections (one bot and token each), 2 x {secs} s per target"
    ));
    line("bare axum handler (req/s)", format!("{:.0}", bare.rate()), "", None);
    line("bare axum p50 / p99 (ms)", format!("{:.2} / {:.2}", bare.quantile_ms(0.5), bare.quantile_ms(0.99)), "", None);
    line("bot heartbeat, REST (req/s)", format!("{:.0}", beats.rate()), "", None);
    line(
        "heartbeat p50 / p99 (ms)",
        format!("{:.2} / {:.2}", beats.quantile_ms(0.5), beats.quantile_ms(0.99)),
        "",
        None,
    );
    line("heartbeat / bare axum", format!("{:.0} %", ratio * 100.0), ">= 60 %", Some(ratio >= 0.6));
    let _ = std::io::stdout().flush();
    ratio >= 0.6
}
