//! The fleet host's HTTP API (JSON, camelCase), as `SimulatedPlatform` and the soak harness
//! call it. Each platform call first suffers the kind's fault plan, answered the way a real
//! cloud would: 500, a hang past the client's timeout, 429, 507 "quota exceeded", or a lie.

use app::backend::platforms::faults::{wrong_status, Fault, FaultPlan, PlatformCall};
use app::backend::platforms::ResourceStatus;
use app::model::platform::DeploymentPlatform;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{FleetHost, Launch, Refusal, Run, KINDS};

/// The routes of the fleet host.
pub fn router(host: FleetHost) -> Router {
    Router::new()
        .route("/platforms/{kind}/resources", post(launch).get(list))
        .route("/platforms/{kind}/resources/{identifier}", get(status).delete(stop))
        .route("/platforms/{kind}/resources/{identifier}/vanish", post(vanish))
        .route("/platforms/{kind}/health", get(health))
        .route("/platforms/{kind}/faults", put(set_faults).delete(clear_faults).get(get_faults))
        .route("/bots/{bot_id}/silence", post(silence))
        .route("/stats", get(stats))
        .with_state(host)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The kind in the path, when the host plays it.
fn kind_of(name: &str) -> Result<DeploymentPlatform, Response> {
    DeploymentPlatform::parse(name)
        .filter(|k| KINDS.contains(k))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("unknown platform kind '{name}': use k8s, aws or coolify")))
}

/// Suffers the kind's fault plan for `call`: `Err` is the answer a failing fault gives,
/// `Ok(true)` means answer with a lie.
async fn suffer(host: &FleetHost, kind: DeploymentPlatform, call: PlatformCall) -> Result<bool, Response> {
    let Some(faults) = host.faults(kind) else { return Ok(false) };
    let injection = faults.decide(call);
    if !injection.delay.is_zero() {
        tokio::time::sleep(injection.delay).await;
    }
    match injection.fault {
        None => Ok(false),
        Some(Fault::WrongAnswer) => Ok(true),
        Some(Fault::Http500) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure")),
        Some(Fault::Timeout) => {
            tokio::time::sleep(injection.timeout).await;
            Err(error(StatusCode::GATEWAY_TIMEOUT, "injected timeout"))
        }
        Some(Fault::Throttle) => Err(error(StatusCode::TOO_MANY_REQUESTS, "rate exceeded (injected)")),
        Some(Fault::Quota) => Err(error(StatusCode::INSUFFICIENT_STORAGE, "quota exceeded")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LaunchBody {
    bot_id: i64,
    // `meetingPlatform` is accepted and ignored: every simulated bot behaves the same.
    token: String,
    milo_url: String,
}

/// One resource as JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceView {
    identifier: String,
    bot_id: i64,
    status: &'static str,
    exit_code: Option<i32>,
}

fn view(identifier: String, bot_id: i64, status: &ResourceStatus) -> ResourceView {
    let (status, exit_code) = match status {
        ResourceStatus::Running => ("running", None),
        ResourceStatus::Exited { code } => ("exited", *code),
        ResourceStatus::Gone => ("gone", None),
    };
    ResourceView { identifier, bot_id, status, exit_code }
}

fn truth(run: Run) -> ResourceStatus {
    match run {
        Run::Running => ResourceStatus::Running,
        Run::Exited(code) => ResourceStatus::Exited { code },
    }
}

async fn launch(
    State(host): State<FleetHost>,
    Path(kind): Path<String>,
    body: Result<Json<LaunchBody>, JsonRejection>,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, format!("expected {{botId, token, miloUrl}}: {}", e.body_text()))
        }
    };
    if !(body.milo_url.starts_with("http://") || body.milo_url.starts_with("https://")) || body.token.is_empty() {
        return error(StatusCode::BAD_REQUEST, "miloUrl must be an http(s) URL and token must not be empty");
    }
    match suffer(&host, kind, PlatformCall::Deploy).await {
        Err(answer) => return answer,
        Ok(true) => {
            let identifier = host.phantom(kind, body.bot_id);
            return (StatusCode::CREATED, Json(json!({ "identifier": identifier }))).into_response();
        }
        Ok(false) => {}
    }
    let launch = Launch { bot_id: body.bot_id, milo_url: body.milo_url, token: body.token };
    match host.launch(kind, launch) {
        Ok(identifier) => (StatusCode::CREATED, Json(json!({ "identifier": identifier }))).into_response(),
        Err(Refusal::Conflict) => {
            error(StatusCode::CONFLICT, format!("bot {} already has a running {} resource", body.bot_id, kind.as_str()))
        }
        Err(Refusal::Quota) => error(StatusCode::INSUFFICIENT_STORAGE, "quota exceeded"),
    }
}

async fn stop(State(host): State<FleetHost>, Path((kind, identifier)): Path<(String, String)>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match suffer(&host, kind, PlatformCall::Stop).await {
        Err(answer) => answer,
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => {
            host.remove(kind, &identifier);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn status(State(host): State<FleetHost>, Path((kind, identifier)): Path<(String, String)>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let lie = match suffer(&host, kind, PlatformCall::Status).await {
        Err(answer) => return answer,
        Ok(lie) => lie,
    };
    let (bot_id, truth) = match host.resource(kind, &identifier) {
        Some((bot_id, run)) => (bot_id, truth(run)),
        None => (0, ResourceStatus::Gone),
    };
    let said = if lie { wrong_status(&truth) } else { truth };
    match said {
        ResourceStatus::Gone => error(StatusCode::NOT_FOUND, format!("no resource {identifier}")),
        s => Json(view(identifier, bot_id, &s)).into_response(),
    }
}

async fn list(State(host): State<FleetHost>, Path(kind): Path<String>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match suffer(&host, kind, PlatformCall::List).await {
        Err(answer) => answer,
        Ok(true) => Json(Vec::<ResourceView>::new()).into_response(),
        Ok(false) => {
            let all: Vec<ResourceView> =
                host.resources(kind).into_iter().map(|(id, bot, run)| view(id, bot, &truth(run))).collect();
            Json(all).into_response()
        }
    }
}

async fn health(State(host): State<FleetHost>, Path(kind): Path<String>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match suffer(&host, kind, PlatformCall::Probe).await {
        Err(answer) => answer,
        Ok(_) => Json(json!({ "status": "ok", "platform": kind.as_str() })).into_response(),
    }
}

async fn vanish(State(host): State<FleetHost>, Path((kind, identifier)): Path<(String, String)>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if host.vanish(kind, &identifier) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no {} resource {identifier}", kind.as_str()))
    }
}

async fn silence(State(host): State<FleetHost>, Path(bot_id): Path<String>) -> Response {
    let Ok(bot_id) = bot_id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, format!("'{bot_id}' is not a bot id"));
    };
    match host.silence(bot_id) {
        0 => error(StatusCode::NOT_FOUND, format!("bot {bot_id} runs nowhere here")),
        n => Json(json!({ "silenced": n })).into_response(),
    }
}

async fn set_faults(
    State(host): State<FleetHost>,
    Path(kind): Path<String>,
    plan: Result<Json<FaultPlan>, JsonRejection>,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Json(plan) = match plan {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a fault plan: {}", e.body_text())),
    };
    if let Err(message) = plan.validate() {
        return error(StatusCode::BAD_REQUEST, message);
    }
    if let Some(faults) = host.faults(kind) {
        faults.set(plan.clone());
    }
    Json(plan).into_response()
}

async fn clear_faults(State(host): State<FleetHost>, Path(kind): Path<String>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if let Some(faults) = host.faults(kind) {
        faults.clear();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(host): State<FleetHost>, Path(kind): Path<String>) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let (plan, counts) = host.faults(kind).map(|f| (f.plan(), f.counts())).unwrap_or_default();
    Json(json!({ "plan": plan, "counts": counts })).into_response()
}

async fn stats(State(host): State<FleetHost>) -> Response {
    Json(host.stats()).into_response()
}
