//! Static files: precompressed brotli and gzip by `Accept-Encoding`, cache headers by name
//! (hashed assets for a year, anything else and pages revalidated), 404s, and no way out of the
//! site root.

use std::path::{Path, PathBuf};

use axum::body::Body;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use server::http::static_files::{IMMUTABLE, REVALIDATE};
use tower::ServiceExt;

use crate::support::TestApp;

const WASM: &str = "meeboter.AbCdEfGhIjKlMnOpQrStUv.wasm";
const JS: &str = "meeboter.0123456789-_abcdefghij.js";
const CSS: &str = "meeboter.ZYXWVUTSRQPONMLKJIHGFE.css";

/// A built site in a directory of its own: `site/pkg/` with hashed files and their compressed
/// copies, an unhashed file, a favicon, and a secret file beside (not inside) the site root.
struct Site {
    dir: PathBuf,
    wasm: Vec<u8>,
}

impl Site {
    fn new(name: &str) -> Site {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("static-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pkg = dir.join("site/pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        for i in 0..4000u32 {
            wasm.extend_from_slice(format!("function_{} ", i % 97).as_bytes());
        }
        std::fs::write(pkg.join(WASM), &wasm).unwrap();
        std::fs::write(pkg.join(JS), "export function hydrate() { return 1; }\n".repeat(100)).unwrap();
        std::fs::write(pkg.join(CSS), ".a { color: red; }\n".repeat(100)).unwrap();
        std::fs::write(pkg.join("meeboter.css"), ".b { color: blue; }\n".repeat(100)).unwrap();
        std::fs::write(dir.join("site/favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
        std::fs::write(dir.join("secret.txt"), "TOP-SECRET").unwrap();
        std::fs::write(dir.join("site/pkg/secret.txt.br"), "TOP-SECRET").unwrap();
        server::assets::precompress(&dir.join("site"), server::assets::Effort::Fast).unwrap();
        Site { dir, wasm }
    }

    fn root(&self) -> String {
        self.dir.join("site").to_string_lossy().into_owned()
    }

    async fn app(&self) -> TestApp {
        TestApp::builder().site_root(&self.root()).build().await
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(&name).map_or("", |v| v.to_str().unwrap())
    }
}

async fn get(app: &TestApp, path: &str, headers: &[(header::HeaderName, &str)]) -> Answer {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    let res = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, headers, body }
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
    out
}

fn ungzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

fn pkg(name: &str) -> String {
    format!("/pkg/{name}")
}

#[tokio::test]
async fn assets_are_sent_brotli_or_gzip_as_the_browser_accepts() {
    let site = Site::new("negotiate");
    let app = site.app().await;

    let r = get(&app, &pkg(WASM), &[(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_ENCODING), "br");
    assert_eq!(r.header(header::CONTENT_TYPE), "application/wasm");
    assert_eq!(r.header(header::VARY).to_ascii_lowercase(), "accept-encoding");
    assert!(r.body.len() < site.wasm.len() / 5, "{} of {}", r.body.len(), site.wasm.len());
    assert_eq!(unbrotli(&r.body), site.wasm);

    let r = get(&app, &pkg(WASM), &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(r.header(header::CONTENT_ENCODING), "gzip");
    assert_eq!(r.header(header::VARY).to_ascii_lowercase(), "accept-encoding");
    assert_eq!(ungzip(&r.body), site.wasm);

    let r = get(&app, &pkg(WASM), &[(header::ACCEPT_ENCODING, "br;q=0, gzip;q=0.5")]).await;
    assert_eq!(r.header(header::CONTENT_ENCODING), "gzip", "br refused with q=0");

    let r = get(&app, &pkg(JS), &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(r.header(header::CONTENT_ENCODING), "br");
    assert!(r.header(header::CONTENT_TYPE).starts_with("text/javascript"), "{}", r.header(header::CONTENT_TYPE));
}

#[tokio::test]
async fn without_an_accepted_encoding_the_file_itself_is_sent() {
    let site = Site::new("identity");
    let app = site.app().await;
    for accept in [None, Some("identity"), Some("deflate"), Some("br;q=0, gzip;q=0")] {
        let headers: Vec<_> = accept.map(|a| (header::ACCEPT_ENCODING, a)).into_iter().collect();
        let r = get(&app, &pkg(WASM), &headers).await;
        assert_eq!(r.status, StatusCode::OK, "{accept:?}");
        assert_eq!(r.header(header::CONTENT_ENCODING), "", "{accept:?}");
        assert_eq!(r.body, site.wasm, "{accept:?}");
        assert_eq!(r.header(header::VARY).to_ascii_lowercase(), "accept-encoding", "{accept:?}: caches must not mix");
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_everything_else_is_revalidated() {
    let site = Site::new("cache");
    let app = site.app().await;
    for name in [WASM, JS, CSS] {
        for accept in ["br", "gzip", "identity"] {
            let r = get(&app, &pkg(name), &[(header::ACCEPT_ENCODING, accept)]).await;
            assert_eq!(r.header(header::CACHE_CONTROL), IMMUTABLE, "{name} {accept}");
        }
    }
    assert_eq!(IMMUTABLE, "public, max-age=31536000, immutable");
    let unhashed = get(&app, "/pkg/meeboter.css", &[]).await;
    assert_eq!(unhashed.status, StatusCode::OK);
    assert_eq!(unhashed.header(header::CACHE_CONTROL), REVALIDATE);
    let icon = get(&app, "/favicon.svg", &[]).await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(icon.header(header::CACHE_CONTROL), "no-cache");

    // Unchanged since the browser's copy: 304, still with its cache headers.
    let first = get(&app, "/pkg/meeboter.css", &[]).await;
    let since = first.header(header::LAST_MODIFIED).to_owned();
    assert!(!since.is_empty());
    let again = get(&app, "/pkg/meeboter.css", &[(header::IF_MODIFIED_SINCE, &since)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header(header::CACHE_CONTROL), REVALIDATE);

    for page in ["/", "/auth/sign-in", "/no/such/page"] {
        let r = get(&app, page, &[(header::ACCEPT, "text/html")]).await;
        assert!(r.header(header::CONTENT_TYPE).starts_with("text/html"), "{page}");
        assert_eq!(r.header(header::CACHE_CONTROL), "no-cache, private", "{page}");
    }
}

#[tokio::test]
async fn a_missing_asset_is_a_plain_404() {
    let site = Site::new("missing");
    let app = site.app().await;
    for path in ["/pkg/meeboter.AAAAAAAAAAAAAAAAAAAAAA.wasm", "/pkg/nothing.js", "/pkg/", "/pkg"] {
        let r = get(&app, path, &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_ne!(r.header(header::CACHE_CONTROL), IMMUTABLE, "{path}: a 404 must not stick");
        assert_eq!(r.header(header::CONTENT_ENCODING), "", "{path}");
    }
    let r = get(&app, "/pkg/nothing.js", &[]).await;
    assert_eq!(String::from_utf8_lossy(&r.body), "No such file.");
    let r = get(&app, "/no-such-file.png", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&r.body).contains("Page not found"), "other paths get the app's page");
}

#[tokio::test]
async fn paths_that_climb_out_of_the_site_root_are_not_served() {
    let site = Site::new("traversal");
    let app = site.app().await;
    assert!(Path::new(&site.root()).join("../secret.txt").exists());
    for path in [
        "/pkg/../../secret.txt",
        "/../secret.txt",
        "/pkg/%2e%2e/%2e%2e/secret.txt",
        "/pkg/..%2f..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/pkg/%2e%2e%5c%2e%2e%5csecret.txt",
        "/pkg//..//..//secret.txt",
    ] {
        for accept in ["", "br, gzip"] {
            let r = get(&app, path, &[(header::ACCEPT_ENCODING, accept)]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!String::from_utf8_lossy(&r.body).contains("TOP-SECRET"), "{path} leaked the file");
        }
    }
    // A precompressed copy is only ever a copy of a file that exists under its own name.
    let r = get(&app, "/pkg/secret.txt", &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_link_the_hashed_assets_of_the_build() {
    let site = Site::new("links");
    let list = site.dir.join("hash.txt");
    std::fs::write(&list, "js: 0123456789-_abcdefghij\nwasm: AbCdEfGhIjKlMnOpQrStUv\ncss: ZYXWVUTSRQPONMLKJIHGFE\n")
        .unwrap();
    let mut app = TestApp::builder().site_root(&site.root()).hash_list(list.to_str().unwrap()).build().await;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    for name in [JS, WASM, CSS] {
        assert!(page.body.contains(&format!("/pkg/{name}")), "{name} not linked: {}", page.body);
        let r = get(&app, &format!("/pkg/{name}"), &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.header(header::CACHE_CONTROL), IMMUTABLE);
    }
    assert!(!page.body.contains("/pkg/meeboter.css"), "the unhashed stylesheet is not linked");
}
