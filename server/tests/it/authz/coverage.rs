//! The matrix covers everything there is: every route of the table, tRPC procedure, server
//! function and page has a row, no route is added outside the table, and the document lists
//! exactly the API routes.

use super::*;

/// The things a row can name, as the server lists them.
fn served() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in server::http::routes::table() {
        if r.path == "/api/trpc/{*paths}" {
            // Covered procedure by procedure.
            continue;
        }
        out.insert(format!("{} {}", r.on.as_str(), r.path));
    }
    for p in server::http::trpc::procedures() {
        out.insert(format!("tRPC {p}"));
    }
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        out.insert(format!("server fn {}", path.trim_start_matches("/fn/")));
    }
    for listing in leptos_axum::generate_route_list(app::App) {
        let path = if listing.path().is_empty() { "/" } else { listing.path() };
        out.insert(format!("page {path}"));
    }
    out
}

fn row_key(row: &Row) -> String {
    match row.target {
        Route(m, p) => format!("{m} {p}"),
        other => Row { target: other, body: None, expect: [0; 6] }.name(),
    }
}

#[tokio::test]
async fn every_route_procedure_server_function_and_page_has_a_row() {
    let served = served();
    let rows: BTreeSet<String> = ROWS.iter().map(row_key).collect();
    assert_eq!(rows.len(), ROWS.len(), "a target has two rows");
    let missing: Vec<&String> = served.difference(&rows).collect();
    let stale: Vec<&String> = rows.difference(&served).collect();
    assert!(missing.is_empty(), "add a row to the authorisation matrix (tests/it/authz.rs) for: {missing:?}");
    assert!(stale.is_empty(), "these rows name nothing the server answers: {stale:?}");
    // The server functions this test knows of are all there is (a sanity check on the listing).
    assert!(served.iter().filter(|s| s.starts_with("server fn ")).count() >= 28);
}

/// Nothing adds a route outside the route table (which the matrix reads). The fleet host of
/// `meeboter bot-sim --fleet` is a separate process with its own API (docs/SIMULATION.md), not part
/// of the server's router.
#[test]
fn no_route_is_added_outside_the_table() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs")
                && !p.ends_with("http/routes.rs")
                && !p.to_string_lossy().contains("/bot_sim/fleet/")
            {
                let text = std::fs::read_to_string(&p).unwrap();
                if text.contains(".route(") || text.contains(".nest(") || text.contains(".route_service(") {
                    offenders.push(p.display().to_string());
                }
            }
        }
    }
    assert!(offenders.is_empty(), "routes must be added to server/src/http/routes.rs: {offenders:?}");
}

/// The OpenAPI document documents exactly the table's `/api/v1` routes.
#[test]
fn the_openapi_document_lists_exactly_the_api_routes() {
    let doc = serde_json::to_value(server::http::api_v1::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "patch", "delete", "put"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let routed: BTreeSet<String> = server::http::routes::table()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
        .map(|r| format!("{} {}", r.on.as_str(), r.path))
        .collect();
    assert_eq!(documented, routed);
}
