//! The browser's side of the pages, against PostgreSQL with 100,000 finished bots and 5,000
//! active ones (one `INSERT ... SELECT generate_series`), all an administrator's:
//!
//! 1. **First visit**: the bytes a browser without a cache transfers for `/` (a visitor, then
//!    the signed-in dashboard) and `/bots`: the HTML and every asset it links (stylesheet,
//!    JS, wasm, icon), each asked for with `Accept-Encoding: br, gzip`; raw and transferred.
//! 2. **Render**: server-side render of `/`, `/bots` and `/infrastructure` for the signed-in
//!    administrator, and the server functions those pages call once hydrated, one client at a
//!    time over HTTP (keep-alive), p50/p95/p99 beside a bare axum handler served the same way
//!    in the same run (the ceiling). Goal: p95 <= 25 ms for each page.
//!
//! The site measured is `target/site` as the last `cargo leptos build` left it (`./dev bench`
//! builds it with `--release` first), precompressed here as `meeboter precompress` does, with
//! the hashed names of `target/release/hash.txt` (else `target/debug/hash.txt`).
//!
//! Run: `DATABASE_URL=postgres://... cargo bench -p server --bench pages`. Uses its own
//! database, `meeboter_pages_bench`, recreated each run.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use app::backend::config::{Config, Vars};
use app::backend::db;
use common::{ms, percentile};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use leptos::prelude::LeptosOptions;

const HISTORY: i64 = 100_000;
const ACTIVE: i64 = 5_000;
const SAMPLES: usize = 300;
const WARM_UP: usize = 20;
/// The render goal: p95 of each page, in ms.
const GOAL_P95_MS: f64 = 25.0;

/// The pages rendered on the server: label and path.
const PAGES: &[(&str, &str)] =
    &[("page / (dashboard)", "/"), ("page /bots", "/bots"), ("page /infrastructure", "/infrastructure")];

/// The server functions the pages call once hydrated (`app/src/components/live.rs`): label,
/// endpoint and JSON body, as the page sends them. One line per function.
const SERVER_FNS: &[(&str, &str, &str)] = &[
    ("fn list_bots (/bots, 20)", "/fn/list_bots", r#"{"filter":{"pageSize":20}}"#),
    ("fn list_bots (/, 8)", "/fn/list_bots", r#"{"filter":{"pageSize":8}}"#),
    ("fn get_dashboard_stats (/)", "/fn/get_dashboard_stats", r#"{"time_zone":"Europe/Berlin"}"#),
    ("fn get_active_platforms (/, /infrastructure)", "/fn/get_active_platforms", "{}"),
    ("fn get_queue_stats (/, /infrastructure)", "/fn/get_queue_stats", "{}"),
    ("fn get_platform_stats (/infrastructure)", "/fn/get_platform_stats", r#"{"time_zone":"Europe/Berlin"}"#),
    ("fn list_queued_bots (/infrastructure)", "/fn/list_queued_bots", r#"{"page":1}"#),
    ("fn list_platform_resources (/infrastructure)", "/fn/list_platform_resources", r#"{"platform":"local","page":1}"#),
    ("fn get_infrastructure_cost (/infrastructure)", "/fn/get_infrastructure_cost", r#"{"time_zone":"Europe/Berlin"}"#),
    ("fn get_infrastructure_activity (/infrastructure)", "/fn/get_infrastructure_activity", r#"{"range":"day"}"#),
];

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at PostgreSQL");
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a database name");
    let url = format!("{prefix}/meeboter_pages_bench");
    let mut admin = AsyncPgConnection::establish(&format!("{prefix}/postgres")).await.expect("connect");
    diesel::sql_query("DROP DATABASE IF EXISTS meeboter_pages_bench WITH (FORCE)").execute(&mut admin).await.unwrap();
    diesel::sql_query("CREATE DATABASE meeboter_pages_bench").execute(&mut admin).await.unwrap();
    db::run_migrations(&url).await.expect("migrate");

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let site_root = workspace.join("target/site");
    let options = site_options(&workspace, &site_root);

    let vars: Vars = [("MEEBOTER_ENV", "development"), ("DATABASE_URL", url.as_str()), ("DATABASE_POOL_SIZE", "16")]
        .into_iter()
        .collect();
    let config = Config::from_vars(&vars).expect("config");
    let state = server::commands::build_state(config, options).await.unwrap();
    let router = server::http::router(state.clone());

    let mut conn = state.pool.get().await.unwrap();
    let cookie = seed(&mut conn).await;
    drop(conn);

    let base = serve(router).await;
    let bare = serve(axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html("<!DOCTYPE html><html><body>bare</body></html>") }),
    ))
    .await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(4).build().unwrap();

    first_visit(&http, &base, &cookie).await;
    render(&http, &base, &bare, &cookie).await;
}

/// Leptos options for `target/site` with the hashed names of the newest build's hash list.
fn site_options(workspace: &Path, site_root: &Path) -> LeptosOptions {
    let mut options =
        LeptosOptions::builder().output_name("meeboter").site_root(site_root.to_string_lossy().into_owned()).build();
    let list =
        ["release", "debug"].iter().map(|p| workspace.join("target").join(p)).find(|d| d.join("hash.txt").is_file());
    if let Some(dir) = &list {
        server::assets::use_hash_file(&mut options, dir);
    }
    let wasm_hint =
        list.as_ref().map_or("none: unhashed names".to_owned(), |d| d.join("hash.txt").display().to_string());
    println!("site: {} (hash list: {wasm_hint})", site_root.display());
    if site_root.join("pkg").is_dir() {
        let started = Instant::now();
        let done = server::assets::precompress(site_root, server::assets::Effort::Best).expect("precompress the site");
        println!("precompressed {} file(s) in {} ms (brotli 11, gzip 9)", done.len(), started.elapsed().as_millis());
    } else {
        println!("no site built: run `cargo leptos build --release` first; assets will be 404");
    }
    options
}

/// An administrator with 100,000 finished bots and 5,000 active ones; answers the session
/// cookie of the administrator.
async fn seed(conn: &mut AsyncPgConnection) -> String {
    diesel::sql_query(
        "INSERT INTO users (name, email, password_hash, role) VALUES ('Bench Admin', 'admin@example.com', 'x', 'admin')",
    )
    .execute(conn)
    .await
    .unwrap();
    diesel::sql_query("INSERT INTO subscriptions (user_id, plan) SELECT id, 'CUSTOM' FROM users")
        .execute(conn)
        .await
        .unwrap();
    let seeded = Instant::now();
    // The newest ACTIVE bots are live on the four platforms; the rest finished over the last
    // 100,000 minutes (about ten weeks).
    diesel::sql_query(format!(
        "INSERT INTO bots (user_id, display_name, meeting, meeting_platform, automatic_leave, start_time, end_time, \
                           status, deployment_platform, platform_identifier, created_at, status_changed_at, deploying_at) \
         SELECT 1, 'Bench bot ' || g, '{{\"meetingUrl\":\"https://meet.google.com/abc-defg-hij\"}}', \
                (ARRAY['zoom','microsoft-teams','google-meet'])[1 + g % 3], '{{}}', \
                t, t + interval '1 hour', \
                CASE WHEN g <= {ACTIVE} THEN (ARRAY['IN_CALL','IN_CALL','IN_CALL','JOINING_CALL','DEPLOYING'])[1 + g % 5] \
                     ELSE (ARRAY['DONE','DONE','DONE','FATAL'])[1 + g % 4] END, \
                (ARRAY['local','k8s','aws','coolify'])[1 + g % 4], 'bench-' || g, t, t, t \
         FROM generate_series(1, {}) g, LATERAL (SELECT now() - (g || ' minutes')::interval AS t) at",
        HISTORY + ACTIVE
    ))
    .execute(conn)
    .await
    .unwrap();
    diesel::sql_query("VACUUM ANALYZE").execute(conn).await.unwrap();
    println!("seeded {HISTORY} finished and {ACTIVE} active bots in {:.1} s", seeded.elapsed().as_secs_f64());
    let token = app::backend::auth::sessions::create(conn, 1, None, None, Duration::from_secs(86_400)).await.unwrap();
    format!("{}={token}", app::backend::auth::sessions::COOKIE_NAME)
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    format!("http://{addr}")
}

/// One response as the browser received it: its bytes on the wire and decoded.
struct Fetched {
    status: u16,
    encoding: String,
    transferred: usize,
    raw: usize,
    text: String,
}

async fn fetch(http: &reqwest::Client, url: &str, cookie: Option<&str>, accept_encoding: &str) -> Fetched {
    let mut req = http.get(url).header("accept-encoding", accept_encoding).header("accept", "text/html,*/*");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let encoding = res.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("identity").to_owned();
    let wire = res.bytes().await.expect("body").to_vec();
    let decoded = match encoding.as_str() {
        "br" => {
            let mut out = Vec::new();
            brotli::BrotliDecompress(&mut &wire[..], &mut out).expect("brotli");
            out
        }
        "gzip" => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&wire[..]), &mut out).expect("gzip");
            out
        }
        _ => wire.clone(),
    };
    Fetched {
        status,
        encoding,
        transferred: wire.len(),
        raw: decoded.len(),
        text: String::from_utf8_lossy(&decoded).into_owned(),
    }
}

/// The same-origin assets a page links: stylesheets, module preloads, preloads, icons, scripts.
fn linked_assets(html: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for tag in html.split('<').filter(|t| t.starts_with("link ") || t.starts_with("script ")) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let attr = |name: &str| tag.split(&format!(" {name}=\"")).nth(1).and_then(|r| r.split('"').next());
        if let Some(url) = attr("href").or_else(|| attr("src")) {
            if url.starts_with('/') && !url.starts_with("//") && !found.iter().any(|f| f == url) {
                found.push(url.to_owned());
            }
        }
    }
    found
}

/// The goal for the main wasm bundle, gzipped: the module every page loads first (the router,
/// the layout and what all pages share); each page's own modules come with it (split build).
const GOAL_WASM_GZIP_KB: f64 = 400.0;

async fn first_visit(http: &reqwest::Client, base: &str, cookie: &str) {
    println!("\nFirst visit without a cache: every resource the page links, as a browser accepting br and gzip");
    println!("receives it, and its gzip size (what a client without brotli receives)\n");
    println!(
        "| {:<22} | {:<52} | {:>8} | {:>10} | {:>16} | {:>9} |",
        "visit", "resource", "encoding", "raw (KB)", "transferred (KB)", "gzip (KB)"
    );
    println!("|{:-<24}|{:-<54}|{:->10}|{:->12}|{:->18}|{:->11}|", "", "", "", "", "", "");
    let kb = |n: usize| n as f64 / 1024.0;
    let mut goals = Vec::new();
    for (label, path, cookie) in [
        ("/ (visitor)", "/", None),
        ("/ (dashboard, admin)", "/", Some(cookie)),
        ("/bots (admin)", "/bots", Some(cookie)),
    ] {
        let page = fetch(http, &format!("{base}{path}"), cookie, "br, gzip").await;
        assert_eq!(page.status, 200, "{label}");
        let gz = fetch(http, &format!("{base}{path}"), cookie, "gzip").await.transferred;
        let mut rows = vec![(path.to_owned(), page.encoding.clone(), page.raw, page.transferred, gz)];
        for asset in linked_assets(&page.text) {
            let f = fetch(http, &format!("{base}{asset}"), None, "br, gzip").await;
            assert_eq!(f.status, 200, "{asset} linked from {label}");
            let gz = fetch(http, &format!("{base}{asset}"), None, "gzip").await.transferred;
            rows.push((asset, f.encoding, f.raw, f.transferred, gz));
        }
        let (raw, sent, gzip) = rows.iter().fold((0, 0, 0), |(r, s, g), row| (r + row.2, s + row.3, g + row.4));
        // The page's own wasm modules (`split_*`) and the chunks it shares with other pages
        // (`chunk_*`) on one line each: a split page links dozens of them.
        let mut shown: Vec<(String, String, usize, usize, usize)> = Vec::new();
        for (name, encoding, r, t, g) in &rows {
            let group = ["/pkg/split_", "/pkg/chunk_"].into_iter().find(|p| name.starts_with(p));
            let Some(group) = group else {
                shown.push((name.clone(), encoding.clone(), *r, *t, *g));
                continue;
            };
            let files = rows.iter().filter(|row| row.0.starts_with(group)).count();
            let label = format!("{group}* ({files} file(s))");
            match shown.iter_mut().find(|s| s.0 == label) {
                Some(s) => (s.2, s.3, s.4) = (s.2 + r, s.3 + t, s.4 + g),
                None => shown.push((label, encoding.clone(), *r, *t, *g)),
            }
        }
        for (name, encoding, r, t, g) in &shown {
            println!(
                "| {label:<22} | {name:<52} | {encoding:>8} | {:>10.1} | {:>16.1} | {:>9.1} |",
                kb(*r),
                kb(*t),
                kb(*g)
            );
        }
        println!(
            "| {label:<22} | {:<52} | {:>8} | {:>10.1} | {:>16.1} | {:>9.1} |",
            "**total**",
            "",
            kb(raw),
            kb(sent),
            kb(gzip)
        );
        let wasm = rows.iter().filter(|r| r.0.ends_with(".wasm")).fold((0, 0), |(n, g), r| (n + 1, g + r.4));
        let main = rows.iter().find(|r| r.0.starts_with("/pkg/meeboter.") && r.0.ends_with(".wasm")).map_or(0, |r| r.4);
        goals.push((label, wasm.0, kb(wasm.1), kb(main)));
    }
    println!(
        "\n| {:<22} | {:>10} | {:>20} | {:>19} | {:>9} | {:<6} |",
        "visit", "wasm files", "all wasm, gzip (KB)", "main bundle, gzip", "goal", "result"
    );
    println!("|{:-<24}|{:->12}|{:->22}|{:->21}|{:->11}|{:-<8}|", "", "", "", "", "", "");
    for (label, files, all, main) in goals {
        let result = if main > 0.0 && main <= GOAL_WASM_GZIP_KB { "pass" } else { "FAIL" };
        println!(
            "| {label:<22} | {files:>10} | {all:>20.1} | {main:>19.1} | {:>9} | {result:<6} |",
            format!("<= {GOAL_WASM_GZIP_KB:.0}")
        );
    }
}

/// `n` sequential requests after a warm-up; answers the latencies.
async fn time<F, Fut>(mut send: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    for _ in 0..WARM_UP {
        send().await;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let status = send().await;
        samples.push(t.elapsed());
        assert_eq!(status, 200);
    }
    samples.sort();
    samples
}

fn row(name: &str, samples: &[Duration], goal: bool) {
    let p95 = ms(percentile(samples, 0.95));
    let (goal, result) = if goal {
        (format!("<= {GOAL_P95_MS:.0}"), if p95 <= GOAL_P95_MS { "pass" } else { "FAIL" })
    } else {
        (String::new(), "")
    };
    println!(
        "| {name:<30} | {:>5} | {:>8.2} | {:>8.2} | {:>8.2} | {goal:>8} | {result:<6} |",
        samples.len(),
        ms(percentile(samples, 0.50)),
        p95,
        ms(percentile(samples, 0.99))
    );
}

async fn render(http: &reqwest::Client, base: &str, bare: &str, cookie: &str) {
    println!("\nRender: one client, keep-alive HTTP, {SAMPLES} requests each after {WARM_UP} of warm-up\n");
    println!(
        "| {:<30} | {:>5} | {:>8} | {:>8} | {:>8} | {:>8} | {:<6} |",
        "request", "n", "p50 (ms)", "p95 (ms)", "p99 (ms)", "goal p95", "result"
    );
    println!("|{:-<32}|{:->7}|{:->10}|{:->10}|{:->10}|{:->10}|{:-<8}|", "", "", "", "", "", "", "");
    let samples = time(|| async {
        let res = http.get(format!("{bare}/")).send().await.unwrap();
        let status = res.status().as_u16();
        let _ = res.bytes().await;
        status
    })
    .await;
    row("bare axum handler (ceiling)", &samples, false);
    for (label, path) in PAGES {
        let samples = time(|| async {
            let res = http.get(format!("{base}{path}")).header("cookie", cookie).header("accept", "text/html").send();
            let res = res.await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            assert!(status != 200 || body.contains("</html>"), "{path}: {body}");
            status
        })
        .await;
        row(label, &samples, true);
    }
    for (label, endpoint, body) in SERVER_FNS {
        let samples = time(|| async {
            let res = http
                .post(format!("{base}{endpoint}"))
                .header("cookie", cookie)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header("sec-fetch-site", "same-origin")
                .body(*body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let answer = res.text().await.unwrap_or_default();
            assert_eq!(status, 200, "{endpoint}: {answer}");
            status
        })
        .await;
        row(label, &samples, false);
    }
}
