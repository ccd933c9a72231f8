//! The fleet host's HTTP API (JSON, camelCase), as `SimulatedPlatform` and the soak harness
//! call it. Each platform call first suffers the kind's fault plan, answered the way a real
//! cloud would: 500, a hang past the client's timeout, 429, 507 "quota exceeded", or a lie.

use std::time::Duration;

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

/// How long the host hangs on a `timeout` fault when the plan does not say: past the 10 s
/// request timeout of `SimulatedPlatform`.
pub const HANG: Duration = Duration::from_secs(30);

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
        .route("/stats/heartbeats/reset", post(reset_heartbeats))
        .with_state(host)
}

/// An error answer: a status and `{"error": message}`.
struct Answer(StatusCode, String);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type Reply = Result<Response, Answer>;

fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    Answer(status, message.into())
}

/// The kind in the path, when the host plays it.
fn kind_of(name: &str) -> Result<DeploymentPlatform, Answer> {
    DeploymentPlatform::parse(name)
        .filter(|k| KINDS.contains(k))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("unknown platform kind '{name}': use k8s, aws or coolify")))
}

/// Suffers the kind's fault plan for `call`: `Err` is the answer a failing fault gives,
/// `Ok(true)` means answer with a lie.
async fn suffer(host: &FleetHost, kind: DeploymentPlatform, call: PlatformCall) -> Result<bool, Answer> {
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
            tokio::time::sleep(injection.timeout.unwrap_or(HANG)).await;
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

fn created(identifier: String) -> Reply {
    Ok((StatusCode::CREATED, Json(json!({ "identifier": identifier }))).into_response())
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn launch(
    State(host): State<FleetHost>,
    Path(kind): Path<String>,
    body: Result<Json<LaunchBody>, JsonRejection>,
) -> Reply {
    let kind = kind_of(&kind)?;
    let Json(body) = body.map_err(|e| {
        error(StatusCode::BAD_REQUEST, format!("expected {{botId, token, miloUrl}}: {}", e.body_text()))
    })?;
    if !(body.milo_url.starts_with("http://") || body.milo_url.starts_with("https://")) || body.token.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "miloUrl must be an http(s) URL and token must not be empty"));
    }
    if suffer(&host, kind, PlatformCall::Deploy).await? {
        return created(host.phantom(kind, body.bot_id));
    }
    let bot_id = body.bot_id;
    match host.launch(kind, Launch { bot_id, milo_url: body.milo_url, token: body.token }) {
        Ok(identifier) => created(identifier),
        Err(Refusal::Conflict) => {
            Err(error(StatusCode::CONFLICT, format!("bot {bot_id} already has a running {} resource", kind.as_str())))
        }
        Err(Refusal::Quota) => Err(error(StatusCode::INSUFFICIENT_STORAGE, "quota exceeded")),
    }
}

async fn stop(State(host): State<FleetHost>, Path((kind, identifier)): Path<(String, String)>) -> Reply {
    let kind = kind_of(&kind)?;
    // A lying stop stops nothing and says it did.
    if !suffer(&host, kind, PlatformCall::Stop).await? {
        host.remove(kind, &identifier);
    }
    no_content()
}

async fn status(State(host): State<FleetHost>, Path((kind, identifier)): Path<(String, String)>) -> Reply {
    let kind = kind_of(&kind)?;
    let lie = suffer(&host, kind, PlatformCall::Status).await?;
    let (bot_id, truth) = match host.resource(kind, &identifier) {
        Some((bot_id, run)) => (bot_id, truth(run)),
        None => (0, ResourceStatus::Gone),
    };
    match if lie { wrong_status(&truth) } else { truth } {
        ResourceStatus::Gone => Err(error(StatusCode::NOT_FOUND, format!("no resource {identifier}"))),
        said => Ok(Json(view(identifier, bot_id, &said)).into_response()),
    }
}

async fn list(State(host): State<FleetHost>, Path(kind): Path<String>) -> Reply {
    let kind = kind_of(&kind)?;
    if suffer(&host, kind, PlatformCall::List).await? {
        return Ok(Json(Vec::<ResourceView>::new()).into_response());
    }
    let all: Vec<ResourceView> =
        host.resources(kind).into_iter().map(|(id, bot, run)| view(id, bot, &truth(run))).collect();
    Ok(Json(all).into_response())
}

async fn health(State(host): State<FleetHost>, Path(kind): Path<String>) -> Reply {
    let kind = kind_of(&kind)?;
    suffer(&host, kind, PlatformCall::Probe).await?;
    Ok(Json(json!({ "status": "ok", "platform": kind.as_str() })).into_response())
}

async fn vanish(State(host): State<FleetHost>, Path((kind, identifier)): Path<(String, String)>) -> Reply {
    let kind = kind_of(&kind)?;
    if !host.vanish(kind, &identifier) {
        return Err(error(StatusCode::NOT_FOUND, format!("no {} resource {identifier}", kind.as_str())));
    }
    no_content()
}

async fn silence(State(host): State<FleetHost>, Path(bot_id): Path<String>) -> Reply {
    let bot_id: i64 =
        bot_id.parse().map_err(|_| error(StatusCode::BAD_REQUEST, format!("'{bot_id}' is not a bot id")))?;
    match host.silence(bot_id) {
        0 => Err(error(StatusCode::NOT_FOUND, format!("bot {bot_id} runs nowhere here"))),
        n => Ok(Json(json!({ "silenced": n })).into_response()),
    }
}

async fn set_faults(
    State(host): State<FleetHost>,
    Path(kind): Path<String>,
    plan: Result<Json<FaultPlan>, JsonRejection>,
) -> Reply {
    let kind = kind_of(&kind)?;
    let Json(plan) =
        plan.map_err(|e| error(StatusCode::BAD_REQUEST, format!("not a fault plan: {}", e.body_text())))?;
    plan.validate().map_err(|message| error(StatusCode::BAD_REQUEST, message))?;
    if let Some(faults) = host.faults(kind) {
        faults.set(plan.clone());
    }
    Ok(Json(plan).into_response())
}

async fn clear_faults(State(host): State<FleetHost>, Path(kind): Path<String>) -> Reply {
    let kind = kind_of(&kind)?;
    if let Some(faults) = host.faults(kind) {
        faults.clear();
    }
    no_content()
}

async fn get_faults(State(host): State<FleetHost>, Path(kind): Path<String>) -> Reply {
    let kind = kind_of(&kind)?;
    let (plan, counts) = host.faults(kind).map(|f| (f.plan(), f.counts())).unwrap_or_default();
    Ok(Json(json!({ "plan": plan, "counts": counts })).into_response())
}

async fn stats(State(host): State<FleetHost>) -> Response {
    Json(host.stats()).into_response()
}

/// Forgets the heartbeat latencies measured so far (the other counters keep counting).
async fn reset_heartbeats(State(host): State<FleetHost>) -> StatusCode {
    host.reset_heartbeats();
    StatusCode::NO_CONTENT
}
