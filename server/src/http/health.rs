//! `/healthz` (the process is up) and `/readyz` (database reachable, migrations current).

use app::backend::db;
use app::backend::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Always 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database answers and every embedded migration is applied; 503 otherwise,
/// with a reason an operator can act on (never a raw driver error).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut conn = match state.pool.get().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            return unready("database unreachable");
        }
    };
    match db::pending_versions(&mut conn).await {
        Ok(pending) if pending.is_empty() => ready(&state),
        Ok(pending) => {
            let reason = format!("{} migration(s) pending: run `meeboter migrate`", pending.len());
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unready", "reason": reason, "pending": pending })),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: migration check failed");
            unready("database query failed")
        }
    }
}

/// Ready: the database works. Each platform's health is reported (ok, or the kind of failure
/// and since when; the error text stays in the logs and `meeboter config check`). A failing
/// platform makes the status `degraded`, not 503: this replica still serves the app, the API
/// and the bots; the other platforms keep placing bots.
fn ready(state: &AppState) -> (StatusCode, Json<Value>) {
    let health = state.platforms.health();
    let simulated = state.config.simulated_platforms();
    let platforms: serde_json::Map<String, Value> = health
        .iter()
        .map(|h| {
            let mut v = match h.kind {
                None => json!({ "status": "ok", "since": h.since }),
                Some(kind) => json!({ "status": "failing", "error": kind, "since": h.since }),
            };
            // Development only (refused in production): say loudly where the bots really run.
            if let Some((_, url)) = simulated.iter().find(|(p, _)| *p == h.platform) {
                v["simulated"] = json!(url.as_str());
            }
            (h.platform.as_str().to_owned(), v)
        })
        .collect();
    let status = if health.iter().all(|h| h.ok) { "ready" } else { "degraded" };
    (StatusCode::OK, Json(json!({ "status": status, "platforms": platforms })))
}

fn unready(reason: &str) -> (StatusCode, Json<Value>) {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unready", "reason": reason })))
}
