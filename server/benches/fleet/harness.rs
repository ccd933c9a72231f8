//! What every part uses: its database, child processes, the API, /proc readings, the tables.

use super::*;

pub(super) struct Bench {
    pub(super) prefix: String,
    pub(super) logs: PathBuf,
}

impl Bench {
    /// A fresh, empty database for one part; answers its URL.
    pub(super) async fn fresh_database(&self) -> String {
        use diesel_async::RunQueryDsl;
        let mut admin = AsyncPgConnection::establish(&format!("{}/postgres", self.prefix)).await.expect("connect");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        diesel::sql_query(format!("CREATE DATABASE {DB_NAME}")).execute(&mut admin).await.unwrap();
        format!("{}/{DB_NAME}", self.prefix)
    }

    pub(super) fn log(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.logs.join(format!("{name}.log"))).expect("log file")
    }

    /// A fleet host of `capacity` bots (heartbeat every 10 s, one log line per second).
    pub(super) fn fleet_host(&self, name: &str, capacity: usize) -> (Proc, String) {
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
    pub(super) async fn server(&self, name: &str, database: &str, vars: &[(&str, String)]) -> (Proc, String) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(meeboter());
        cmd.args(["serve", "--migrate", "--addr", &format!("127.0.0.1:{port}")])
            .env("MEEBOTER_ENV", "development")
            .env("DATABASE_URL", database)
            .env("MILO_URL", &base)
            .env("DATABASE_POOL_SIZE", "20")
            // The bot API's pool sized for thousands of bots starting at once (the default, a
            // quarter of the main pool, made requests queue during the ramp-up and the bots open
            // thousands of connections: docs/PERFORMANCE.md, the runs of 2026-12-01).
            .env("DATABASE_BOT_POOL_SIZE", "10")
            .env("METRICS_TOKEN", METRICS_TOKEN);
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
pub(super) struct Proc(pub(super) Child);

impl Proc {
    pub(super) fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

#[derive(QueryableByName)]
pub(super) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

pub(super) async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(sql).get_result::<Count>(conn).await.expect(sql).n
}

/// One user on an unlimited plan and an API key of theirs (written as `api_keys::create` writes
/// one: the SHA-256 of the secret, its first 12 characters shown).
pub(super) async fn api_key(database: &str) -> String {
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
pub(super) async fn create_bots(base: &str, key: &str, n: usize, clients: usize) -> Vec<i64> {
    create_bots_at(base, key, n, clients, None).await
}

/// [`create_bots`] with a start time (RFC 3339): the bots are SCHEDULED until their lead time.
pub(super) async fn create_bots_at(base: &str, key: &str, n: usize, clients: usize, start: Option<String>) -> Vec<i64> {
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, next, url, key) = (http.clone(), next.clone(), format!("{base}/api/v1/bots"), key.to_owned());
        let mut body = json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij", "displayName": "Bench" });
        if let Some(start) = &start {
            body["startTime"] = json!(start);
        }
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let res = http.post(&url).header("x-api-key", &key).json(&body).send().await.expect("create a bot");
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

pub(super) async fn fleet_stats(http: &reqwest::Client, fleet: &str) -> Value {
    http.get(format!("{fleet}/stats")).send().await.expect("fleet stats").json().await.expect("fleet stats JSON")
}

pub(super) fn kinds_sum(stats: &Value, field: &str) -> u64 {
    ["k8s", "aws", "coolify"].iter().map(|k| stats[field][k].as_u64().unwrap_or(0)).sum()
}

/// utime + stime of a process, in seconds.
pub(super) fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / ticks_per_second
}

pub(super) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process, in MB.
pub(super) fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

pub(super) fn verdict(pass: bool) -> &'static str {
    if pass {
        "pass"
    } else {
        "FAIL"
    }
}

pub(super) fn header(title: &str) {
    println!("\n{title}\n");
    println!("| {:<36} | {:>14} | {:>12} | {:<6} |", "measure", "value", "goal", "result");
    println!("|{:-<38}|{:->16}|{:->14}|{:-<8}|", "", "", "", "");
}

pub(super) fn line(name: &str, value: String, goal: &str, pass: Option<bool>) {
    println!("| {name:<36} | {value:>14} | {goal:>12} | {:<6} |", pass.map_or("", verdict));
}

/// Waits until `done` answers true, polling every 100 ms; panics after `limit`.
pub(super) async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F)
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

/// The token the benchmark's servers serve `/metrics` with.
pub(super) const METRICS_TOKEN: &str = "fleet-bench-metrics-token-0123456789abcdef";

/// The cumulative buckets (upper bound in seconds, count) of the server's latency histogram of
/// one route, read from its `/metrics`.
pub(super) async fn route_histogram(http: &reqwest::Client, base: &str, route: &str) -> Vec<(f64, u64)> {
    let text = http
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("scrape /metrics")
        .text()
        .await
        .expect("read /metrics");
    let prefix = "meeboter_http_request_duration_seconds_bucket{";
    let wanted = format!("route=\"{route}\"");
    let mut buckets: Vec<(f64, u64)> = text
        .lines()
        .filter(|l| l.starts_with(prefix) && l.contains(&wanted))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            let n = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, n))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The `q` quantile (0 to 1), in milliseconds, of the requests counted between two reads of a
/// histogram, interpolated within its bucket as Prometheus's `histogram_quantile` does; and the
/// number of requests.
pub(super) fn histogram_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> (f64, u64) {
    let delta: Vec<(f64, u64)> =
        after.iter().map(|(le, n)| (*le, n - before.iter().find(|(b, _)| b == le).map_or(0, |(_, m)| *m))).collect();
    let total = delta.last().map_or(0, |(_, n)| *n);
    if total == 0 {
        return (f64::NAN, 0);
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for (le, n) in &delta {
        if *n as f64 >= rank {
            if le.is_infinite() {
                return (lower.0 * 1000.0, total);
            }
            let within = (rank - lower.1 as f64) / ((*n - lower.1).max(1)) as f64;
            return ((lower.0 + (le - lower.0) * within) * 1000.0, total);
        }
        lower = (*le, *n);
    }
    (f64::NAN, total)
}
