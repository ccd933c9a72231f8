//! The fleet benchmark: a release `meeboter serve` (its own database, every cloud platform
//! simulated by a `meeboter bot-sim --fleet` host, docs/SIMULATION.md) measured from outside its
//! process, in three parts, each printed as a table with its goal and pass/fail:
//!
//! 1. **fleet**: N live bots (heartbeat every 10 s, one log line per second each) for D minutes:
//!    the server's average CPU (utime + stime from `/proc/<pid>/stat`, in cores), its peak and
//!    average RSS (`VmRSS`), heartbeat p50/p99 as the bots measured them, and log lines sent
//!    against lines stored;
//! 2. **dispatch**: bots created at once over k8s, aws and coolify whose calls each take 50 ms
//!    (fault plans with `latencyMs` on the fleet host): time until all are placed, and the most
//!    bots ever running per platform against its limit;
//! 3. **heartbeat throughput**: 64 keep-alive connections, one per bot with its own token, against
//!    the server's heartbeat endpoint and against a bare axum handler (a child process of this
//!    binary, same runtime), in the same run; the ratio of the two rates.
//!
//! Run: `DATABASE_URL=postgres://... cargo bench -p server --bench fleet` (`./dev bench` does it
//! against the private cluster). `FLEET_BENCH=quick` runs the small sizes (500 bots for 30 s, 200
//! dispatched bots, 5 s load rounds); the default is the full size (5,000 bots for 5 minutes,
//! 1,000 dispatched bots, 15 s rounds). `FLEET_BENCH_PARTS=dispatch,throughput` runs only some
//! parts (fleet, dispatch, throughput); `FLEET_BENCH_MEEBOTER=path` runs another `meeboter` binary
//! (a saved build, to compare before and after a change). Uses its own database, `meeboter_fleet_bench`, recreated
//! for each part. Logs of the children: `target/tmp/fleet-bench/`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{json, Value};

/// When set, this binary is the bare axum server of part 3, listening on the address it names.
const BARE_VAR: &str = "FLEET_BENCH_BARE_AXUM";
const MEEBOTER: &str = env!("CARGO_BIN_EXE_meeboter");
const DB_NAME: &str = "meeboter_fleet_bench";
/// Concurrent connections of the heartbeat load generator, one bot (and token) each.
const CONNECTIONS: usize = 64;
/// Platform calls at once per process during the dispatch part (`DEPLOYMENT_QUEUE_MAX_CONCURRENT`):
/// one claim batch (64) at a time, so each pass pays one 50 ms call instead of sixteen.
const DISPATCH_CONCURRENCY: &str = "64";

struct Sizes {
    mode: &'static str,
    fleet_bots: usize,
    fleet_secs: u64,
    dispatch_bots: usize,
    load_secs: u64,
}

fn main() {
    if let Ok(addr) = std::env::var(BARE_VAR) {
        bare_axum(&addr);
        return;
    }
    let sizes = match std::env::var("FLEET_BENCH").as_deref() {
        Ok("quick") => Sizes { mode: "quick", fleet_bots: 500, fleet_secs: 30, dispatch_bots: 200, load_secs: 5 },
        Ok("full") | Ok("") | Err(_) => {
            Sizes { mode: "full", fleet_bots: 5_000, fleet_secs: 300, dispatch_bots: 1_000, load_secs: 15 }
        }
        Ok(other) => {
            eprintln!("FLEET_BENCH must be quick or full (unset: full), not '{other}'");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let ok = rt.block_on(Box::pin(run(&sizes)));
    if !ok {
        println!("\nfleet benchmark: some goals were missed (see the tables above)");
    }
}

/// A minimal axum server answering `POST /ping` with `{}`: the ceiling of part 3.
fn bare_axum(addr: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the bare axum server");
        println!("bare axum listening on http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new().route(
            "/ping",
            axum::routing::post(|| async { ([(http::header::CONTENT_TYPE, "application/json")], "{}") }),
        );
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn run(sizes: &Sizes) -> bool {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at PostgreSQL");
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a database name");
    let bench =
        Bench { prefix: prefix.to_owned(), logs: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet-bench") };
    std::fs::create_dir_all(&bench.logs).expect("log directory");
    println!(
        "fleet benchmark ({} mode) on {} ({} cores); release meeboter at {}; logs in {}",
        sizes.mode,
        machine(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        meeboter(),
        bench.logs.display()
    );
    let parts = std::env::var("FLEET_BENCH_PARTS").unwrap_or_else(|_| "fleet,dispatch,throughput".into());
    let wanted = |part: &str| parts.split(',').any(|p| p.trim() == part);
    let mut ok = true;
    if wanted("fleet") {
        ok &= fleet_part(&bench, sizes.fleet_bots, sizes.fleet_secs).await;
    }
    if wanted("dispatch") {
        ok &= dispatch_part(&bench, sizes.dispatch_bots).await;
    }
    if wanted("throughput") {
        ok &= throughput_part(&bench, sizes.load_secs).await;
    }
    ok
}

/// The `meeboter` binary: this build's, or `FLEET_BENCH_MEEBOTER` (to compare two builds).
fn meeboter() -> String {
    std::env::var("FLEET_BENCH_MEEBOTER").unwrap_or_else(|_| MEEBOTER.to_owned())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cpu}, {mem_gib:.0} GiB")
}

struct Bench {
    prefix: String,
    logs: PathBuf,
}

impl Bench {
    /// A fresh, empty database for one part; answers its URL.
    async fn fresh_database(&self) -> String {
        use diesel_async::RunQueryDsl;
        let mut admin = AsyncPgConnection::establish(&format!("{}/postgres", self.prefix)).await.expect("connect");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        diesel::sql_query(format!("CREATE DATABASE {DB_NAME}")).execute(&mut admin).await.unwrap();
        format!("{}/{DB_NAME}", self.prefix)
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.logs.join(format!("{name}.log"))).expect("log file")
    }

    /// A fleet host of `capacity` bots (heartbeat every 10 s, one log line per second).
    fn fleet_host(&self, name: &str, capacity: usize) -> (Proc, String) {
        let mut child = Command::new(meeboter())
            .args(["bot-sim", "--fleet", &capacity.to_string(), "--listen", "127.0.0.1:0"])
            .env("BOT_SIM_HEARTBEAT_SECS", "10")
            .env("BOT_SIM_LOG_RATE", "1")
            .env("LOG_LEVEL", "warn")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(self.log(&format!("{name}.stderr")))
            .spawn()
            .expect("start the fleet host");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("the fleet host's first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("the fleet host said: {first}"))
            .to_owned();
        let mut file = self.log(name);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut file);
        });
        (Proc(child), url)
    }

    /// A release `meeboter serve` on a free port with `vars` (besides the database and the
    /// development mode), ready when this returns; answers it and its base URL.
    async fn server(&self, name: &str, database: &str, vars: &[(&str, String)]) -> (Proc, String) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(meeboter());
        cmd.args(["serve", "--migrate", "--addr", &format!("127.0.0.1:{port}")])
            .env("MEEBOTER_ENV", "development")
            .env("DATABASE_URL", database)
            .env("MILO_URL", &base)
            .env("DATABASE_POOL_SIZE", "20");
        for (k, _) in std::env::vars() {
            if k.starts_with("BOT_SIM_") || k.ends_with("_BOT_LIMIT") || k == "PLATFORM_PRIORITY" {
                cmd.env_remove(k);
            }
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = cmd.stdout(self.log(name)).stderr(self.log(&format!("{name}.stderr"))).spawn().expect("serve");
        let proc = Proc(child);
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(120), "the server did not get ready: see {name}.log");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (proc, base)
    }
}

/// A child process, killed when dropped.
struct Proc(Child);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(sql).get_result::<Count>(conn).await.expect(sql).n
}

/// One user on an unlimited plan and an API key of theirs (written as `api_keys::create` writes
/// one: the SHA-256 of the secret, its first 12 characters shown).
async fn api_key(database: &str) -> String {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(database).await.expect("connect");
    diesel::sql_query("INSERT INTO users (name, email, password_hash) VALUES ('Bench', 'bench@example.com', 'x')")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("INSERT INTO subscriptions (user_id, plan) SELECT id, 'CUSTOM' FROM users")
        .execute(&mut conn)
        .await
        .unwrap();
    // A throwaway database: the secret needs to be unique, not unguessable.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let secret = format!("mbk_bench{nanos:032x}{:08x}", std::process::id());
    diesel::sql_query(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, expires_at) \
         SELECT id, 'bench', left($1, 12), sha256(convert_to($1, 'UTF8')), now() + interval '1 day' FROM users",
    )
    .bind::<diesel::sql_types::Text, _>(&secret)
    .execute(&mut conn)
    .await
    .unwrap();
    secret
}

/// Creates `n` bots through the API with `clients` concurrent clients; answers their ids.
async fn create_bots(base: &str, key: &str, n: usize, clients: usize) -> Vec<i64> {
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, next, url, key) = (http.clone(), next.clone(), format!("{base}/api/v1/bots"), key.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let res = http
                    .post(&url)
                    .header("x-api-key", &key)
                    .json(&json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij", "displayName": "Bench" }))
                    .send()
                    .await
                    .expect("create a bot");
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 201, "creating a bot: {body}");
                ids.push(body["id"].as_i64().expect("the bot's id"));
            }
            ids
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

async fn fleet_stats(http: &reqwest::Client, fleet: &str) -> Value {
    http.get(format!("{fleet}/stats")).send().await.expect("fleet stats").json().await.expect("fleet stats JSON")
}

fn kinds_sum(stats: &Value, field: &str) -> u64 {
    ["k8s", "aws", "coolify"].iter().map(|k| stats[field][k].as_u64().unwrap_or(0)).sum()
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / ticks_per_second
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process, in MB.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "pass"
    } else {
        "FAIL"
    }
}

fn header(title: &str) {
    println!("\n{title}\n");
    println!("| {:<36} | {:>14} | {:>12} | {:<6} |", "measure", "value", "goal", "result");
    println!("|{:-<38}|{:->16}|{:->14}|{:-<8}|", "", "", "", "");
}

fn line(name: &str, value: String, goal: &str, pass: Option<bool>) {
    println!("| {name:<36} | {value:>14} | {goal:>12} | {:<6} |", pass.map_or("", verdict));
}

/// Waits until `done` answers true, polling every 100 ms; panics after `limit`.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Part 1: `bots` live bots for `secs` seconds.
async fn fleet_part(bench: &Bench, bots: usize, secs: u64) -> bool {
    let database = bench.fresh_database().await;
    let (fleet_proc, fleet) = bench.fleet_host("fleet-host", bots + 10);
    let limit = (bots / 3 + 10).to_string();
    let (server, base) = bench
        .server(
            "fleet-server",
            &database,
            &[
                ("SIMULATED_PLATFORM_URL", fleet.clone()),
                ("PLATFORM_PRIORITY", "k8s,aws,coolify".into()),
                ("K8S_BOT_LIMIT", limit.clone()),
                ("AWS_BOT_LIMIT", limit.clone()),
                ("COOLIFY_BOT_LIMIT", limit),
                ("DEPLOYMENT_QUEUE_MAX_CONCURRENT", DISPATCH_CONCURRENCY.into()),
                // A full platform hands its bots to the next at once (its default wait is 30 s
                // to 5 minutes, which would be measured instead of the dispatch).
                ("K8S_QUEUE_TIMEOUT_MS", "0".into()),
                ("AWS_QUEUE_TIMEOUT_MS", "0".into()),
                ("COOLIFY_QUEUE_TIMEOUT_MS", "0".into()),
            ],
        )
        .await;
    let key = api_key(&database).await;
    let http = reqwest::Client::new();
    let ramp = Instant::now();
    create_bots(&base, &key, bots, 16).await;
    let mut conn = AsyncPgConnection::establish(&database).await.expect("connect");
    let waiting = Instant::now();
    loop {
        let running = fleet_stats(&http, &fleet).await["runningTotal"].as_u64().unwrap_or(0);
        if running as usize >= bots
            && count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'IN_CALL'").await as usize >= bots
        {
            break;
        }
        assert!(waiting.elapsed() < Duration::from_secs(900), "the bots did not all join their calls");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ramp_secs = ramp.elapsed().as_secs_f64();

    // The window: heartbeat latencies from now on, CPU and memory of the server process.
    let pid = server.pid();
    let ticks = clock_ticks();
    http.post(format!("{fleet}/stats/heartbeats/reset")).send().await.expect("reset heartbeats");
    let before = fleet_stats(&http, &fleet).await;
    let (cpu0, t0) = (cpu_seconds(pid, ticks), Instant::now());
    let (mut peak, mut sum, mut samples) = (0f64, 0f64, 0u32);
    while t0.elapsed() < Duration::from_secs(secs) {
        let rss = rss_mb(pid);
        peak = peak.max(rss);
        sum += rss;
        samples += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let cores = (cpu_seconds(pid, ticks) - cpu0) / t0.elapsed().as_secs_f64();
    let after = fleet_stats(&http, &fleet).await;
    // Lines are stored before the server answers, so counting after reading `logLinesSent`
    // finds every line sent (and perhaps a few more, in flight meanwhile).
    let stored = count(&mut conn, "SELECT count(*) AS n FROM bot_logs").await as u64;
    let in_call = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'IN_CALL'").await;
    let sent = after["logLinesSent"].as_u64().unwrap_or(0);
    let lost = sent.saturating_sub(stored);
    let p50 = after["heartbeatP50Ms"].as_f64().unwrap_or(f64::NAN);
    let p99 = after["heartbeatP99Ms"].as_f64().unwrap_or(f64::NAN);
    let beats = after["heartbeats"].as_u64().unwrap_or(0);
    let window_lines = sent - before["logLinesSent"].as_u64().unwrap_or(0);
    drop(server);
    drop(fleet_proc);

    header(&format!(
        "Fleet: {bots} live bots for {secs} s (heartbeat every 10 s, 1 log line/s each; ramp-up {ramp_secs:.0} s)"
    ));
    let cpu_ok = cores <= 1.0;
    let rss_ok = peak <= 200.0;
    let p99_ok = p99 <= 10.0;
    let lost_ok = lost == 0 && after["logLinesDropped"].as_u64() == Some(0);
    line("server CPU, average (cores)", format!("{cores:.2}"), "<= 1.00", Some(cpu_ok));
    line("server RSS, peak (MB)", format!("{peak:.0}"), "<= 200", Some(rss_ok));
    line("server RSS, average (MB)", format!("{:.0}", sum / f64::from(samples.max(1))), "", None);
    line("heartbeats in the window", beats.to_string(), "", None);
    line("heartbeat p50 (ms, bots)", format!("{p50:.2}"), "", None);
    line("heartbeat p99 (ms, bots)", format!("{p99:.2}"), "<= 10", Some(p99_ok));
    line("heartbeat max (ms, bots)", format!("{:.1}", after["heartbeatMaxMs"].as_f64().unwrap_or(f64::NAN)), "", None);
    line("log lines sent in the window", window_lines.to_string(), "", None);
    line("log lines sent (whole run)", sent.to_string(), "", None);
    line("log lines stored (bot_logs)", stored.to_string(), ">= sent", None);
    line("log lines lost (sent - stored)", lost.to_string(), "0", Some(lost == 0));
    line("log lines dropped by bots", after["logLinesDropped"].to_string(), "0", Some(lost_ok));
    line("bot requests failed", after["failedRequests"].to_string(), "", None);
    line("bots still in their call", in_call.to_string(), &bots.to_string(), Some(in_call as usize == bots));
    println!("(no lines archived: archival starts only after a bot ends, and these stay in their calls)");
    cpu_ok && rss_ok && p99_ok && lost_ok && in_call as usize == bots
}

/// Part 2: `bots` created at once over three platforms whose calls take 50 ms.
async fn dispatch_part(bench: &Bench, bots: usize) -> bool {
    let database = bench.fresh_database().await;
    let (fleet_proc, fleet) = bench.fleet_host("dispatch-host", bots + 10);
    let http = reqwest::Client::new();
    for kind in ["k8s", "aws", "coolify"] {
        let res = http
            .put(format!("{fleet}/platforms/{kind}/faults"))
            .json(&json!({ "latencyMs": 50 }))
            .send()
            .await
            .expect("set a fault plan");
        assert!(res.status().is_success(), "fault plan: {}", res.status());
    }
    // 40 % of the bots per platform: the first two fill up, the third takes the rest.
    let limit = (bots * 2).div_ceil(5);
    let (server, base) = bench
        .server(
            "dispatch-server",
            &database,
            &[
                ("SIMULATED_PLATFORM_URL", fleet.clone()),
                ("PLATFORM_PRIORITY", "k8s,aws,coolify".into()),
                ("K8S_BOT_LIMIT", limit.to_string()),
                ("AWS_BOT_LIMIT", limit.to_string()),
                ("COOLIFY_BOT_LIMIT", limit.to_string()),
                ("DEPLOYMENT_QUEUE_MAX_CONCURRENT", DISPATCH_CONCURRENCY.into()),
                // A full platform hands its bots to the next at once (its default wait is 30 s
                // to 5 minutes, which would be measured instead of the dispatch).
                ("K8S_QUEUE_TIMEOUT_MS", "0".into()),
                ("AWS_QUEUE_TIMEOUT_MS", "0".into()),
                ("COOLIFY_QUEUE_TIMEOUT_MS", "0".into()),
            ],
        )
        .await;
    let key = api_key(&database).await;
    let mut conn = AsyncPgConnection::establish(&database).await.expect("connect");
    let started = Instant::now();
    let creating = {
        let (base, key) = (base.clone(), key.clone());
        tokio::spawn(async move { create_bots(&base, &key, bots, 32).await })
    };
    let (mut created_at, mut reserved_at, mut placed_at) = (None, None, None);
    while placed_at.is_none() || reserved_at.is_none() {
        let waited = started.elapsed();
        assert!(waited < Duration::from_secs(300), "dispatch did not finish in 5 minutes");
        if created_at.is_none() && creating.is_finished() {
            created_at = Some(waited);
        }
        let created = count(&mut conn, "SELECT count(*) AS n FROM bots").await as usize;
        let queued = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'QUEUED'").await;
        let placed =
            count(&mut conn, "SELECT count(*) AS n FROM bots WHERE platform_identifier IS NOT NULL").await as usize;
        if created >= bots && queued == 0 && reserved_at.is_none() {
            reserved_at = Some(waited);
        }
        if placed >= bots && placed_at.is_none() {
            placed_at = Some(waited);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    creating.await.expect("creates");
    let created_at = created_at.unwrap_or_else(|| started.elapsed());
    let stats = fleet_stats(&http, &fleet).await;
    let fatal = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'FATAL'").await;
    drop(server);
    drop(fleet_proc);

    header(&format!(
        "Dispatch: {bots} bots created at once over k8s, aws, coolify (each call 50 ms, limits {limit} each, \
         *_QUEUE_TIMEOUT_MS=0, DEPLOYMENT_QUEUE_MAX_CONCURRENT={DISPATCH_CONCURRENCY})"
    ));
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let (reserved, placed) = (reserved_at.unwrap_or_default(), placed_at.unwrap_or_default());
    line("all created (API, 32 clients)", secs(created_at), "", None);
    line("none QUEUED any more", secs(reserved), "", None);
    line("all placed (platform answered)", secs(placed), "<= 10 s", Some(placed.as_secs_f64() <= 10.0));
    let mut ok = placed.as_secs_f64() <= 10.0;
    for kind in ["k8s", "aws", "coolify"] {
        let max = stats["maxRunning"][kind].as_u64().unwrap_or(0);
        let launches = stats["launches"][kind].as_u64().unwrap_or(0);
        let pass = max <= limit as u64;
        ok &= pass;
        line(
            &format!("{kind}: launches / most running"),
            format!("{launches} / {max}"),
            &format!("<= {limit}"),
            Some(pass),
        );
    }
    let duplicates = stats["duplicates"].as_u64().unwrap_or(0);
    line("bots running twice at once", duplicates.to_string(), "0", Some(duplicates == 0));
    line("bots FATAL", fatal.to_string(), "0", Some(fatal == 0));
    let launched = kinds_sum(&stats, "launches");
    line("launches in all", launched.to_string(), &bots.to_string(), Some(launched as usize == bots));
    ok && duplicates == 0 && fatal == 0 && launched as usize == bots
}

/// A platform that launches nothing and keeps the tokens the server sends, so the load
/// generator can heartbeat as the bots themselves (the fleet host never tells tokens).
fn token_platform() -> (String, Arc<Mutex<HashMap<i64, String>>>) {
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

struct Load {
    requests: u64,
    secs: f64,
    latencies: Vec<Duration>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    fn quantile_ms(&mut self, q: f64) -> f64 {
        self.latencies.sort_unstable();
        self.latencies
            .get(((self.latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// `CONNECTIONS` keep-alive connections (a client each) sending `request(i)` back to back for
/// one warm-up second, then for `secs` seconds of counting.
async fn load<F>(secs: u64, request: F) -> Load
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
async fn throughput_part(bench: &Bench, secs: u64) -> bool {
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
