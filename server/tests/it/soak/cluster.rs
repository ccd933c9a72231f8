//! A cluster of real processes over a real PostgreSQL: `meeboter serve` replicas as children
//! (the first one migrates), the bot-sim fleet host as the shared cloud (in this process, so it
//! outlives every replica's `kill -9`), and a round-robin proxy as the bots' `MILO_URL`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use app::backend::platforms::faults::{Fault, FaultPlan};
use app::model::platform::DeploymentPlatform;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use server::bot_sim::fleet::{self, FleetHost, FleetOptions, FleetStats};
use server::bot_sim::Behaviour;
use tokio::process::{Child, Command};

use super::proxy::Proxy;
use crate::support::{empty_database, free_port, PASSWORD};

/// The simulated platforms, in priority order, with their variable prefixes.
pub const PLATFORMS: [(DeploymentPlatform, &str); 3] =
    [(DeploymentPlatform::K8s, "K8S"), (DeploymentPlatform::Aws, "AWS"), (DeploymentPlatform::Coolify, "COOLIFY")];

/// How a cluster is set up.
pub struct Options {
    pub replicas: usize,
    /// Bot limits of k8s, aws, coolify.
    pub limits: [u32; 3],
    /// Each platform's `*_QUEUE_TIMEOUT_MS`.
    pub platform_wait_ms: u64,
    pub heartbeat_timeout_ms: u64,
    /// How the fleet's bots behave.
    pub behaviour: Behaviour,
    /// More variables for every replica.
    pub vars: Vec<(&'static str, String)>,
}

struct Replica {
    child: Option<Child>,
    addr: SocketAddr,
    starts: usize,
}

/// The running cluster; its children are killed when it drops.
pub struct Cluster {
    pub database_url: String,
    pub fleet: FleetHost,
    pub proxy: Proxy,
    env: Vec<(String, String)>,
    replicas: std::sync::Mutex<Vec<Replica>>,
    pub key: String,
    http: reqwest::Client,
    logs: PathBuf,
    next: std::sync::atomic::AtomicUsize,
}

impl Cluster {
    /// A fresh database, the fleet host, the proxy and `options.replicas` replicas (all ready),
    /// and an account with an API key and no daily limit.
    pub async fn start(name: &str, options: Options) -> Cluster {
        let database_url = empty_database().await;
        let capacity = options.limits.iter().sum::<u32>() as usize * 2 + 50;
        let fleet = FleetHost::new(FleetOptions { capacity, behaviour: options.behaviour }).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fleet_url = format!("http://{}", listener.local_addr().unwrap());
        let router = fleet::router(fleet.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let (proxy, milo_url) = Proxy::start().await;

        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("soak")
            .join(format!("{name}-{}", database_url.rsplit('/').next().unwrap_or("db")));
        std::fs::create_dir_all(&logs).unwrap();
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("MEEBOTER_ENV".into(), "development".into()),
            ("DATABASE_URL".into(), database_url.clone()),
            ("DATABASE_POOL_SIZE".into(), "8".into()),
            ("STORAGE_DIR".into(), logs.join("storage").display().to_string()),
            ("LEPTOS_OUTPUT_NAME".into(), "meeboter".into()),
            ("LEPTOS_SITE_ROOT".into(), "target/site".into()),
            ("RUST_LOG".into(), "warn,app=info,server=info".into()),
            ("SIMULATED_PLATFORM_URL".into(), fleet_url),
            ("MILO_URL".into(), milo_url),
            ("PLATFORM_PRIORITY".into(), "k8s,aws,coolify".into()),
            ("SIGNUP_RATE_LIMIT".into(), "100000".into()),
            ("PLATFORM_BACKOFF_MS".into(), "500".into()),
            ("PLATFORM_BACKOFF_MAX_MS".into(), "2000".into()),
            ("HEARTBEAT_TIMEOUT_MS".into(), options.heartbeat_timeout_ms.to_string()),
            ("GLOBAL_QUEUE_TIMEOUT_MS".into(), "3600000".into()),
        ];
        for ((_, prefix), limit) in PLATFORMS.iter().zip(options.limits) {
            env.push((format!("{prefix}_BOT_LIMIT"), limit.to_string()));
            env.push((format!("{prefix}_QUEUE_TIMEOUT_MS"), options.platform_wait_ms.to_string()));
        }
        env.extend(options.vars.into_iter().map(|(k, v)| (k.to_owned(), v)));

        let cluster = Cluster {
            database_url,
            fleet,
            proxy,
            env,
            replicas: Default::default(),
            key: String::new(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
            logs,
            next: Default::default(),
        };
        for i in 0..options.replicas {
            cluster.replicas.lock().unwrap().push(Replica {
                child: None,
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                starts: 0,
            });
            cluster.launch(i, i == 0).await;
        }
        let key = cluster.account().await;
        Cluster { key, ..cluster }
    }

    /// Starts replica `i` on a fresh port and waits until it answers `/healthz`.
    async fn launch(&self, i: usize, migrate: bool) {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let starts = {
            let mut r = self.replicas.lock().unwrap();
            r[i].starts += 1;
            r[i].starts
        };
        let log = std::fs::File::create(self.logs.join(format!("replica-{i}-{starts}.log"))).unwrap();
        // SOAK_MEEBOTER runs other replicas than this build's (a release build: `./dev soak`).
        let bin = std::env::var("SOAK_MEEBOTER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_meeboter").to_owned());
        let mut cmd = Command::new(bin);
        cmd.arg("serve").args(["--addr", &addr.to_string()]);
        if migrate {
            cmd.arg("--migrate");
        }
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start meeboter serve");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("replica {i} exited with {status}; see {}", self.logs.display());
            }
            let ok =
                self.http.get(format!("http://{addr}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "replica {i} did not become ready; see {}", self.logs.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        {
            let mut r = self.replicas.lock().unwrap();
            r[i].child = Some(child);
            r[i].addr = addr;
        }
        self.proxy.set(i, Some(addr));
    }

    pub fn replicas(&self) -> usize {
        self.replicas.lock().unwrap().len()
    }

    /// `kill -9` of replica `i` (the proxy stops sending it connections).
    pub async fn kill(&self, i: usize) {
        self.proxy.set(i, None);
        let child = self.replicas.lock().unwrap()[i].child.take();
        if let Some(mut child) = child {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }

    /// Starts replica `i` again (on a new port).
    pub async fn restart(&self, i: usize) {
        self.launch(i, false).await;
    }

    /// The base URL of a live replica (round robin).
    fn base(&self) -> String {
        let live: Vec<SocketAddr> =
            self.replicas.lock().unwrap().iter().filter(|r| r.child.is_some()).map(|r| r.addr).collect();
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("http://{}", live[n % live.len()])
    }

    /// Signs up through the first replica, creates an API key, lifts the daily limit.
    async fn account(&self) -> String {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let base = self.base();
        let r = client
            .post(format!("{base}/fn/sign_up"))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("name", "Soak"),
                        ("email", "soak@example.com"),
                        ("password", PASSWORD),
                        ("confirm_password", PASSWORD),
                    ])
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success() || r.status().is_redirection(), "sign up: {}", r.status());
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .find(|c| !c.ends_with('='))
            .expect("a session cookie");
        let r = client
            .post(format!("{base}/fn/create_api_key"))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
            .header("cookie", cookie)
            .json(&serde_json::json!({ "name": "soak" }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create_api_key: {}", r.status());
        let key = r.json::<serde_json::Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
        self.exec("UPDATE users SET custom_daily_bot_limit = 1000000").await;
        key
    }

    /// Creates `n` bots through the JSON API of the live replicas, `concurrency` requests at a
    /// time; each with an idempotency key, so one retried after a replica died is not doubled.
    /// Answers their ids and the moment each was created.
    pub async fn create_bots(&self, n: usize, concurrency: usize) -> Vec<i64> {
        let tag: u64 = rand_u64();
        let ids: Vec<i64> = futures_util::stream::iter(0..n)
            .map(|k| async move { self.create_bot(&format!("soak-{tag}-{k}")).await })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        ids
    }

    async fn create_bot(&self, idempotency_key: &str) -> i64 {
        let body = serde_json::json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij", "displayName": "Soak" });
        let mut last = String::new();
        for _ in 0..50 {
            let res = self
                .http
                .post(format!("{}/api/v1/bots", self.base()))
                .header("x-api-key", &self.key)
                .header("idempotency-key", idempotency_key)
                .json(&body)
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => {
                    return r.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
                }
                Ok(r) if r.status().is_server_error() => last = format!("{}", r.status()),
                Ok(r) => panic!("creating a bot: {} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("creating a bot kept failing: {last}");
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url).await.unwrap()
    }

    pub async fn exec(&self, sql: &str) {
        diesel::sql_query(sql).execute(&mut self.conn().await).await.unwrap();
    }

    /// Rows of (text, bigint) from a query whose columns are named `k` and `n`.
    pub async fn pairs(&self, sql: &str) -> Vec<(String, i64)> {
        pairs(&mut self.conn().await, sql).await
    }

    /// One bigint from a query whose column is named `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        diesel::sql_query(sql).get_result::<N>(&mut self.conn().await).await.unwrap().n
    }

    /// Waits until none of `ids` is in one of `statuses`, or `limit` passes; answers whether it
    /// happened.
    pub async fn wait_until_none(&self, ids: &[i64], statuses: &[&str], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let list = id_list(ids);
        let wanted = statuses.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
        loop {
            let n = self
                .count(&format!("SELECT count(*) AS n FROM bots WHERE id IN ({list}) AND status IN ({wanted})"))
                .await;
            if n == 0 {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// How many of `ids` are in each status.
    pub async fn statuses(&self, ids: &[i64]) -> Vec<(String, i64)> {
        self.pairs(&format!(
            "SELECT status AS k, count(*) AS n FROM bots WHERE id IN ({}) GROUP BY status ORDER BY status",
            id_list(ids)
        ))
        .await
    }

    pub fn stats(&self) -> FleetStats {
        self.fleet.stats()
    }

    /// Makes every call to `platform` on the fleet host fail with a 500 (`None`: heals it).
    pub fn break_platform(&self, platform: DeploymentPlatform, fault: Option<Fault>) {
        let faults = self.fleet.faults(platform).expect("a simulated platform");
        match fault {
            Some(f) => faults.set(FaultPlan::always(f)),
            None => faults.clear(),
        }
    }

    /// Where the replicas' logs are.
    pub fn logs(&self) -> String {
        self.logs.display().to_string()
    }
}

pub async fn pairs(conn: &mut AsyncPgConnection, sql: &str) -> Vec<(String, i64)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        k: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(sql).load(conn).await.unwrap();
    rows.into_iter().map(|r| (r.k, r.n)).collect()
}

pub fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "NULL".into();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// A random number from the clock and the process (no rand dependency in the tests).
pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}
