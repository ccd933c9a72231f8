//! `TestApp`: a fresh database cloned from a migrated template, the real router, and helpers
//! to send requests with a cookie jar of one.

use std::sync::atomic::{AtomicU32, Ordering};

use app::backend::config::{Config, Vars};
use app::backend::db;
use app::backend::state::AppState;
use axum::body::Body;
use axum::Router;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use tokio::sync::OnceCell;
use tower::ServiceExt;

const TEMPLATE: &str = "meeboter_test_template";
static TEMPLATE_READY: OnceCell<()> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn base_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL server for integration tests; `./dev test` starts one")
}

fn url_for(db_name: &str) -> String {
    let base = base_url();
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a database name");
    format!("{prefix}/{db_name}")
}

async fn admin_conn() -> AsyncPgConnection {
    AsyncPgConnection::establish(&url_for("postgres")).await.expect("connect to the postgres database")
}

/// Creates the migrated template once per test run (and drops databases of earlier runs).
async fn ensure_template() {
    TEMPLATE_READY
        .get_or_init(|| async {
            let mut conn = admin_conn().await;
            #[derive(diesel::QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let stale: Vec<Name> = diesel::sql_query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'meeboter_t_%' OR datname = 'meeboter_test_template'",
            )
            .load(&mut conn)
            .await
            .unwrap();
            for n in stale {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", n.datname))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            diesel::sql_query(format!("CREATE DATABASE {TEMPLATE}")).execute(&mut conn).await.unwrap();
            db::run_migrations(&url_for(TEMPLATE)).await.expect("migrate the template");
        })
        .await;
}

/// A new empty database (no migrations applied), for migration tests.
pub async fn empty_database() -> String {
    let name = unique_name();
    let mut conn = admin_conn().await;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    url_for(&name)
}

fn unique_name() -> String {
    format!("meeboter_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// The application under test.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    cookie: Option<String>,
}

/// Builds a `TestApp`, optionally with extra configuration variables.
#[derive(Default)]
pub struct TestAppBuilder {
    vars: Vec<(String, String)>,
    migrated: bool,
    site_root: Option<String>,
    hash_list: Option<String>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { vars: Vec::new(), migrated: true, site_root: None, hash_list: None }
    }

    /// A migrated app with the default development configuration.
    pub async fn new() -> TestApp {
        Self::builder().build().await
    }

    /// Sends a request; remembers a session cookie that the response sets or clears.
    pub async fn send(&mut self, mut req: Request<Body>) -> TestResponse {
        if let Some(c) = &self.cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        let res = self.router.clone().oneshot(req).await.unwrap();
        let resp = TestResponse::read(res).await;
        for set in &resp.set_cookies {
            let pair = set.split(';').next().unwrap().to_owned();
            if pair.ends_with('=') {
                self.cookie = None;
            } else {
                self.cookie = Some(pair);
            }
        }
        resp
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Request::get(path).header(header::ACCEPT, "text/html").body(Body::empty()).unwrap()).await
    }

    /// Calls a server function the way a hydrated page does (form-encoded POST, with the
    /// `Sec-Fetch-Site: same-origin` a browser sends).
    pub async fn call(&mut self, endpoint: &str, form: &[(&str, &str)]) -> TestResponse {
        let body = form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        self.send(
            Request::post(format!("/fn/{endpoint}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ACCEPT, "application/json")
                .header("sec-fetch-site", "same-origin")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Calls a server function that takes JSON arguments.
    pub async fn call_json(&mut self, endpoint: &str, body: serde_json::Value) -> TestResponse {
        self.send(
            Request::post(format!("/fn/{endpoint}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json")
                .header("sec-fetch-site", "same-origin")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Signs up a fresh user and returns an API key of theirs (the session is forgotten).
    pub async fn user_with_key(&mut self, name: &str) -> String {
        self.forget_cookie();
        self.sign_up(name, &format!("{}@example.com", name.to_lowercase())).await;
        let r = self.call_json("create_api_key", serde_json::json!({ "name": "test key" })).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        self.forget_cookie();
        r.json()["secret"].as_str().unwrap().to_owned()
    }

    /// Calls the JSON API with a key.
    pub async fn api(&mut self, method: &str, path: &str, key: &str, body: Option<serde_json::Value>) -> TestResponse {
        let mut b = Request::builder().method(method).uri(path).header("x-api-key", key);
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let saved = self.cookie.take();
        let r = self.send(b.body(body).unwrap()).await;
        self.cookie = saved;
        r
    }

    /// Sends a request with the given headers and body, without the session cookie.
    pub async fn raw(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> TestResponse {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let saved = self.cookie.take();
        let r = self.send(b.body(body.map(Body::from).unwrap_or_default()).unwrap()).await;
        self.cookie = saved;
        r
    }

    /// Creates a bot through the JSON API and deploys it as the dispatcher does (out of the
    /// queue, DEPLOYING on `local`, with a fresh token), without starting anything.
    pub async fn bot_with_token(&mut self, key: &str, body: serde_json::Value) -> (i64, String) {
        use app::backend::lifecycle::{self, Actor, Change};
        let r = self.api("POST", "/api/v1/bots", key, Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.json()["id"].as_i64().unwrap();
        let mut conn = self.state.pool.get().await.unwrap();
        diesel::sql_query(format!("DELETE FROM deployment_queue WHERE bot_id = {id}"))
            .execute(&mut conn)
            .await
            .unwrap();
        if r.json()["status"] == "SCHEDULED" {
            let change = Change::new(Actor::Server, app::model::bot::BotStatus::Queued);
            assert_eq!(lifecycle::apply(&mut conn, &[id], &change).await.unwrap().len(), 1);
        }
        {
            let change = Change::new(Actor::Server, app::model::bot::BotStatus::Deploying);
            assert_eq!(lifecycle::apply(&mut conn, &[id], &change).await.unwrap().len(), 1);
            diesel::sql_query(format!("UPDATE bots SET deployment_platform = 'local' WHERE id = {id}"))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let token = app::backend::services::bot_api::issue_token(&mut conn, id).await.unwrap();
        (id, token)
    }

    /// Runs a statement.
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.state.pool.get().await.unwrap();
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    pub fn session_cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Another browser on the same app: same router and database, its own cookie jar.
    pub fn sibling(&self) -> TestApp {
        TestApp { router: self.router.clone(), state: self.state.clone(), cookie: None }
    }

    /// Another replica over the same database: its own state (pool, caches, live hub) and router.
    pub async fn replica(&self) -> TestApp {
        let state = server::commands::build_state((*self.state.config).clone(), self.state.leptos_options.clone())
            .await
            .unwrap();
        TestApp { router: server::http::router(state.clone()), state, cookie: None }
    }

    /// Uses a session cookie (`name=value`) from now on.
    pub fn set_cookie(&mut self, pair: &str) {
        self.cookie = Some(pair.to_owned());
    }

    pub fn forget_cookie(&mut self) {
        self.cookie = None;
    }

    /// Signs up a user and keeps their session.
    pub async fn sign_up(&mut self, name: &str, email: &str) -> TestResponse {
        let r = self
            .call(
                "sign_up",
                &[("name", name), ("email", email), ("password", PASSWORD), ("confirm_password", PASSWORD)],
            )
            .await;
        assert!(r.status.is_success() || r.status.is_redirection(), "sign up failed: {} {}", r.status, r.body);
        r
    }

    /// Runs a SQL query returning one bigint.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.state.pool.get().await.unwrap();
        diesel::sql_query(sql).get_result::<N>(&mut conn).await.unwrap().n
    }
}

/// A socket on 127.0.0.1 (a free port) and its URL, for a server started with [`serve_on`].
pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Serves `router` on `listener` until the test ends.
pub fn serve_on(listener: tokio::net::TcpListener, router: Router) {
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
}

/// A bot's status, read from the database.
pub async fn bot_status(app: &TestApp, id: i64) -> String {
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    let mut conn = app.state.pool.get().await.unwrap();
    diesel::sql_query(format!("SELECT status FROM bots WHERE id = {id}"))
        .get_result::<S>(&mut conn)
        .await
        .unwrap()
        .status
}

/// Waits (up to 15 s) until a bot has status `want`.
pub async fn wait_for_status(app: &TestApp, id: i64, want: &str) {
    for _ in 0..300 {
        if bot_status(app, id).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("bot {id} never reached {want}; it is {}", bot_status(app, id).await);
}

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery";

impl TestAppBuilder {
    pub fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.push((k.into(), v.into()));
        self
    }

    /// Serves the static files of this directory instead of `target/site`.
    pub fn site_root(mut self, dir: &str) -> Self {
        self.site_root = Some(dir.into());
        self
    }

    /// Links the hashed asset names of this cargo-leptos hash list (an absolute path).
    pub fn hash_list(mut self, path: &str) -> Self {
        self.hash_list = Some(path.into());
        self
    }

    /// Skips migrations (for readiness tests).
    pub fn unmigrated(mut self) -> Self {
        self.migrated = false;
        self
    }

    pub async fn build(self) -> TestApp {
        let database_url = if self.migrated {
            ensure_template().await;
            let name = unique_name();
            let mut conn = admin_conn().await;
            diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}")).execute(&mut conn).await.unwrap();
            url_for(&name)
        } else {
            empty_database().await
        };
        // Objects go to a directory of this test's own, under cargo's target/tmp.
        let storage =
            format!("{}/storage/{}", env!("CARGO_TARGET_TMPDIR"), database_url.rsplit('/').next().unwrap_or("db"));
        let mut vars: Vec<(String, String)> = vec![
            ("MEEBOTER_ENV".into(), "development".into()),
            ("DATABASE_URL".into(), database_url),
            ("DATABASE_POOL_SIZE".into(), "4".into()),
            ("STORAGE_DIR".into(), storage),
        ];
        vars.extend(self.vars);
        let config = Config::from_vars(&vars.into_iter().collect::<Vars>()).expect("valid test config");
        let site_root = self.site_root.unwrap_or_else(|| "target/site".into());
        let mut leptos_options = LeptosOptions::builder().output_name("meeboter").site_root(site_root).build();
        if let Some(list) = self.hash_list {
            leptos_options.hash_files = true;
            leptos_options.hash_file = list.into();
        }
        let state = server::commands::build_state(config, leptos_options).await.unwrap();
        TestApp { router: server::http::router(state.clone()), state, cookie: None }
    }
}

/// A response read to the end.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
    pub set_cookies: Vec<String>,
}

impl TestResponse {
    /// Reads the whole body; of an event stream (which never ends), its first event only.
    pub async fn read(res: Response<Body>) -> TestResponse {
        let status = res.status();
        let headers = res.headers().clone();
        let set_cookies = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        let is_stream = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let bytes = if is_stream {
            let mut body = res.into_body();
            let mut read = Vec::new();
            while !String::from_utf8_lossy(&read).contains("\n\n") {
                match tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await {
                    Ok(Some(Ok(frame))) => {
                        read.extend_from_slice(frame.data_ref().map(|d| d.as_ref()).unwrap_or_default())
                    }
                    _ => break,
                }
            }
            read.into()
        } else {
            res.into_body().collect().await.unwrap().to_bytes()
        };
        TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), set_cookies }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 127.0.0.1 port nobody listens on now, for a peer process a test starts (which binds it a
/// moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
