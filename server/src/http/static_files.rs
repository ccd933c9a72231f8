//! The site's static files (`target/site`: `/pkg/*` and the public assets) and the 404 page.
//!
//! Files are served from the site root with their precompressed copies (`meeboter precompress`
//! writes `<file>.br` and `<file>.gz` at build time): brotli when the browser accepts it, else
//! gzip, else the file itself, with `Vary: Accept-Encoding` on every answer so a cache keeps the
//! encodings apart. A file whose name carries a content hash (`meeboter.<hash>.wasm`) never
//! changes under that name and is cached for a year (`immutable`); any other file is
//! revalidated on each use (`no-cache`, answered 304 when unchanged). A path under `/pkg/` that
//! names no file is a plain 404; any other unknown path renders the app's "Page not found".
//! Paths that climb out of the site root (`..`, encoded or not) name no file.

use app::backend::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// `Cache-Control` of a file whose name carries its content hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of any other static file: keep it, but ask before each use.
pub const REVALIDATE: &str = "no-cache";

/// The fallback service of the router: static files, else the 404 page.
#[derive(Clone)]
pub struct StaticFiles {
    dir: ServeDir,
    pkg_prefix: String,
}

impl StaticFiles {
    pub fn new(options: &leptos::prelude::LeptosOptions) -> StaticFiles {
        let dir = ServeDir::new(&*options.site_root)
            .precompressed_br()
            .precompressed_gzip()
            .append_index_html_on_directories(false);
        StaticFiles { dir, pkg_prefix: format!("/{}/", options.site_pkg_dir.trim_matches('/')) }
    }

    /// Answers `req`: the file it names, or a 404.
    pub async fn serve(self, state: AppState, req: Request) -> Response {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return not_found_page(state, req).await;
        }
        let path = req.uri().path().to_owned();
        // Only what negotiation and revalidation read reaches the file service.
        let mut file_req = Request::builder().method(req.method()).uri(req.uri());
        for name in [header::ACCEPT_ENCODING, header::IF_MODIFIED_SINCE, header::IF_UNMODIFIED_SINCE, header::RANGE] {
            if let Some(v) = req.headers().get(&name) {
                file_req = file_req.header(name, v);
            }
        }
        let Ok(file_req) = file_req.body(Body::empty()) else {
            return not_found_page(state, req).await;
        };
        let res = match self.dir.oneshot(file_req).await {
            Ok(res) => res.map(Body::new),
            Err(e) => {
                tracing::error!(error = %e, path, "reading a static file failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "The file could not be read.").into_response();
            }
        };
        let found = res.status().is_success()
            || res.status() == StatusCode::NOT_MODIFIED
            || res.status() == StatusCode::RANGE_NOT_SATISFIABLE;
        if found {
            return with_cache_headers(res, &path);
        }
        if path.starts_with(&self.pkg_prefix) {
            return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, REVALIDATE)], "No such file.").into_response();
        }
        not_found_page(state, req).await
    }
}

/// Adds `Cache-Control` by the file's name and `Vary: Accept-Encoding`.
fn with_cache_headers(mut res: Response, path: &str) -> Response {
    let name = path.rsplit('/').next().unwrap_or("");
    let cache = if crate::assets::is_hashed(name) { IMMUTABLE } else { REVALIDATE };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    res
}

/// The app's "Page not found", rendered by Leptos (status 404).
async fn not_found_page(state: AppState, req: Request) -> Response {
    let uri = req.uri().clone();
    leptos_axum::file_and_error_handler::<AppState, _>(app::shell)(uri, State(state), req).await
}
