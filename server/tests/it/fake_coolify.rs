//! A stateful fake of Coolify's API (the calls the driver makes), for integration tests. Its
//! answers follow the official document (`server/tests/peers/coolify/openapi.json`); tests put
//! Prism in front of it in proxy mode, which checks every request and every answer against the
//! document. Where real servers differ from the document (`GET /deployments/applications/{uuid}`
//! answers `{count, deployments}`; start/stop were GET before 4.2) the fake does what real
//! servers do, and those paths are tested against the fake directly. It records every request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use serde_json::{json, Value};

/// The token the fake accepts.
pub const TOKEN: &str = "coolify-test-token";
/// The environment the fake has.
pub const ENVIRONMENT_UUID: &str = "env0uuid";

/// One application.
#[derive(Debug, Clone)]
pub struct FakeApp {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub image: String,
    pub tag: String,
    pub limits_cpus: String,
    pub limits_memory: String,
    pub status: String,
    pub envs: BTreeMap<String, String>,
}

/// One deployment.
#[derive(Debug, Clone)]
pub struct FakeDeployment {
    pub app: String,
    pub status: String,
}

/// What the fake has and does.
#[derive(Default)]
pub struct FakeState {
    pub apps: BTreeMap<String, FakeApp>,
    pub deployments: BTreeMap<String, FakeDeployment>,
    /// Method, path and query, and body of every request.
    pub requests: Vec<(String, String, Value)>,
    /// Deployments finish as soon as they are read.
    pub finish_on_read: bool,
    /// A Coolify older than 4.2: start and stop are GET (POST answers 405).
    pub old_server: bool,
    /// One-shot failures: the next request whose method and path contain these gets this answer.
    pub failures: Vec<(String, String, u16, Value)>,
    /// Answers that break the document (a number where a string belongs).
    pub broken: bool,
    /// The application list is padded to this many bytes (an answer too large to read).
    pub list_padding: usize,
    seq: u64,
}

#[derive(Clone, Default)]
pub struct FakeCoolify(pub Arc<Mutex<FakeState>>);

impl FakeCoolify {
    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }

    /// The requests seen, as `METHOD path?query`.
    pub fn seen(&self) -> Vec<String> {
        self.state().requests.iter().map(|(m, p, _)| format!("{m} {p}")).collect()
    }

    /// The body of the `n`-th request whose `METHOD path` starts with `prefix`.
    pub fn body_of(&self, prefix: &str, n: usize) -> Value {
        let s = self.state();
        let mut matching = s.requests.iter().filter(|(m, p, _)| format!("{m} {p}").starts_with(prefix));
        matching.nth(n).map(|(_, _, b)| b.clone()).unwrap_or_else(|| panic!("no request {n} starting {prefix}"))
    }

    /// How many requests started with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.seen().iter().filter(|r| r.starts_with(prefix)).count()
    }

    /// Fails the next `method` request whose path contains `path` with `status` and `body`.
    pub fn fail_next(&self, method: &str, path: &str, status: u16, body: Value) {
        self.state().failures.push((method.to_owned(), path.to_owned(), status, body));
    }

    /// Every deployment in progress finishes; its application runs.
    pub fn finish_all(&self) {
        let mut s = self.state();
        let apps: Vec<String> = s
            .deployments
            .values_mut()
            .filter(|d| d.status == "queued" || d.status == "in_progress")
            .map(|d| {
                d.status = "finished".into();
                d.app.clone()
            })
            .collect();
        for a in apps {
            if let Some(app) = s.apps.get_mut(&a) {
                app.status = "running:healthy".into();
            }
        }
    }

    /// Adds an application directly (one Meeboter did not make).
    pub fn add_app(&self, name: &str) -> String {
        let mut s = self.state();
        let uuid = next_uuid(&mut s, "app");
        let id = s.seq;
        s.apps.insert(uuid.clone(), app(id, name, "ghcr.io/x/other", "latest"));
        uuid
    }

    /// Starts the fake on 127.0.0.1; answers its URL.
    pub async fn start(&self) -> String {
        let (listener, url) = crate::support::bind().await;
        let router = Router::new()
            .route("/version", get(version))
            .route("/projects/{project}/{environment}", get(environment))
            .route("/applications", get(list))
            .route("/applications/dockerimage", post(create))
            .route("/applications/{uuid}", get(read).patch(update).delete(delete))
            .route("/applications/{uuid}/envs/bulk", patch(envs))
            .route("/applications/{uuid}/start", post(start_post).get(start_get))
            .route("/applications/{uuid}/stop", post(stop_post).get(stop_get))
            .route("/deployments/{uuid}", get(deployment))
            .route("/deployments/applications/{uuid}", get(deployments_of))
            .fallback(|| async { answer(404, json!({ "message": "Not found." })) })
            .layer(axum::middleware::from_fn_with_state(self.clone(), record))
            .with_state(self.clone());
        crate::support::serve_on(listener, router);
        url
    }
}

fn next_uuid(s: &mut FakeState, prefix: &str) -> String {
    s.seq += 1;
    format!("{prefix}{:04}x", s.seq)
}

fn app(id: u64, name: &str, image: &str, tag: &str) -> FakeApp {
    FakeApp {
        id,
        name: name.to_owned(),
        description: String::new(),
        image: image.to_owned(),
        tag: tag.to_owned(),
        limits_cpus: "0".into(),
        limits_memory: "0".into(),
        status: "exited:unhealthy".into(),
        envs: BTreeMap::new(),
    }
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn missing() -> Response {
    answer(404, json!({ "message": "Application not found." }))
}

async fn record(
    State(fake): State<FakeCoolify>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let target = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let authorised =
        parts.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"));
    {
        let mut s = fake.state();
        s.requests.push((parts.method.to_string(), target.clone(), value));
        if !authorised {
            return answer(401, json!({ "message": "Unauthenticated." }));
        }
        let method = parts.method.to_string();
        if let Some(i) = s.failures.iter().position(|(m, p, _, _)| *m == method && target.contains(p.as_str())) {
            let (_, _, status, body) = s.failures.remove(i);
            return answer(status, body);
        }
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

async fn version() -> Response {
    (StatusCode::OK, [("content-type", "text/html; charset=utf-8")], "4.0.0-beta.434").into_response()
}

async fn environment(Path((_project, environment)): Path<(String, String)>) -> Response {
    if environment != "production" && environment != ENVIRONMENT_UUID {
        return answer(404, json!({ "message": "Environment not found." }));
    }
    answer(
        200,
        json!({ "id": 1, "uuid": ENVIRONMENT_UUID, "name": "production", "project_id": 1, "description": "",
                "created_at": "2026-11-01T00:00:00.000000Z", "updated_at": "2026-11-01T00:00:00.000000Z" }),
    )
}

fn app_json(uuid: &str, a: &FakeApp, broken: bool) -> Value {
    json!({
        "id": a.id,
        "uuid": if broken { json!(42) } else { json!(uuid) },
        "name": a.name,
        "description": a.description,
        "status": a.status,
        "docker_registry_image_name": a.image,
        "docker_registry_image_tag": a.tag,
        "ports_exposes": "3000",
        "limits_cpus": a.limits_cpus,
        "limits_memory": a.limits_memory,
        "created_at": "2026-11-30T09:00:00.000000Z",
        "updated_at": "2026-11-30T09:00:00.000000Z",
    })
}

async fn list(State(fake): State<FakeCoolify>) -> Response {
    let s = fake.state();
    let mut all: Vec<Value> = s.apps.iter().map(|(u, a)| app_json(u, a, s.broken)).collect();
    if s.list_padding > 0 {
        all.push(json!({ "name": "padding", "description": "x".repeat(s.list_padding) }));
    }
    answer(200, Value::Array(all))
}

async fn create(State(fake): State<FakeCoolify>, body: Bytes) -> Response {
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Real Coolify: 422 {message, errors} (not in the document).
    let mut errors = serde_json::Map::new();
    for field in ["project_uuid", "server_uuid", "docker_registry_image_name"] {
        if b[field].as_str().is_none_or(str::is_empty) {
            errors.insert(field.into(), json!([format!("The {} field is required.", field.replace('_', " "))]));
        }
    }
    if b["environment_name"].as_str().is_none() && b["environment_uuid"].as_str().is_none() {
        errors.insert(
            "environment_name".into(),
            json!(["You need to provide at least one of environment_name or environment_uuid."]),
        );
    }
    if !errors.is_empty() {
        return answer(422, json!({ "message": "Validation failed.", "errors": errors }));
    }
    let mut s = fake.state();
    let uuid = next_uuid(&mut s, "app");
    let id = s.seq;
    let mut a = app(
        id,
        b["name"].as_str().unwrap_or("unnamed"),
        b["docker_registry_image_name"].as_str().unwrap_or_default(),
        b["docker_registry_image_tag"].as_str().unwrap_or("latest"),
    );
    a.description = b["description"].as_str().unwrap_or_default().to_owned();
    a.limits_cpus = b["limits_cpus"].as_str().unwrap_or("0").to_owned();
    a.limits_memory = b["limits_memory"].as_str().unwrap_or("0").to_owned();
    s.apps.insert(uuid.clone(), a);
    answer(201, json!({ "uuid": uuid, "domains": "" }))
}

async fn read(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    let s = fake.state();
    match s.apps.get(&uuid) {
        Some(a) => answer(200, app_json(&uuid, a, s.broken)),
        None => missing(),
    }
}

async fn update(State(fake): State<FakeCoolify>, Path(uuid): Path<String>, body: Bytes) -> Response {
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = fake.state();
    let Some(a) = s.apps.get_mut(&uuid) else { return missing() };
    if let Some(d) = b["description"].as_str() {
        a.description = d.to_owned();
    }
    if let Some(c) = b["limits_cpus"].as_str() {
        a.limits_cpus = c.to_owned();
    }
    if let Some(m) = b["limits_memory"].as_str() {
        a.limits_memory = m.to_owned();
    }
    answer(200, json!({ "uuid": uuid }))
}

async fn delete(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    match fake.state().apps.remove(&uuid) {
        Some(_) => answer(200, json!({ "message": "Application deletion request queued." })),
        None => missing(),
    }
}

async fn envs(State(fake): State<FakeCoolify>, Path(uuid): Path<String>, body: Bytes) -> Response {
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = fake.state();
    let Some(a) = s.apps.get_mut(&uuid) else { return missing() };
    let mut out = Vec::new();
    for (i, e) in b["data"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let (k, v) = (e["key"].as_str().unwrap_or_default(), e["value"].as_str().unwrap_or_default());
        a.envs.insert(k.to_owned(), v.to_owned());
        out.push(json!({ "id": i + 1, "uuid": format!("env{i}"), "key": k, "value": v, "real_value": v,
                          "is_literal": e["is_literal"].as_bool().unwrap_or(false), "is_preview": false,
                          "is_shown_once": false, "is_multiline": false, "is_runtime": true, "is_buildtime": false,
                          "resourceable_type": "App\\Models\\Application", "resourceable_id": a.id }));
    }
    answer(201, Value::Array(out))
}

fn start_app(fake: &FakeCoolify, uuid: &str) -> Response {
    let mut s = fake.state();
    if !s.apps.contains_key(uuid) {
        return missing();
    }
    let d = next_uuid(&mut s, "dep");
    s.deployments.insert(d.clone(), FakeDeployment { app: uuid.to_owned(), status: "queued".into() });
    s.apps.get_mut(uuid).unwrap().status = "starting".into();
    answer(200, json!({ "message": "Deployment request queued.", "deployment_uuid": d }))
}

fn stop_app(fake: &FakeCoolify, uuid: &str) -> Response {
    let mut s = fake.state();
    let Some(a) = s.apps.get_mut(uuid) else { return missing() };
    a.status = "exited:unhealthy".into();
    answer(200, json!({ "message": "Application stopping request queued." }))
}

fn not_allowed() -> Response {
    answer(405, json!({ "message": "The method is not supported for this route." }))
}

async fn start_post(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    if fake.state().old_server {
        return not_allowed();
    }
    start_app(&fake, &uuid)
}

async fn start_get(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    if !fake.state().old_server {
        return not_allowed();
    }
    start_app(&fake, &uuid)
}

async fn stop_post(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    if fake.state().old_server {
        return not_allowed();
    }
    stop_app(&fake, &uuid)
}

async fn stop_get(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    if !fake.state().old_server {
        return not_allowed();
    }
    stop_app(&fake, &uuid)
}

fn deployment_json(uuid: &str, d: &FakeDeployment) -> Value {
    json!({ "id": 1, "application_id": "1", "deployment_uuid": uuid, "status": d.status, "force_rebuild": false,
            "commit": "HEAD", "is_webhook": false, "is_api": true, "restart_only": false,
            "created_at": "2026-11-30T09:00:00.000000Z", "updated_at": "2026-11-30T09:00:00.000000Z" })
}

async fn deployment(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    let mut s = fake.state();
    if s.finish_on_read {
        drop(s);
        fake.finish_all();
        s = fake.state();
    }
    match s.deployments.get(&uuid) {
        Some(d) => answer(200, deployment_json(&uuid, d)),
        None => answer(404, json!({ "message": "Deployment not found." })),
    }
}

async fn deployments_of(State(fake): State<FakeCoolify>, Path(uuid): Path<String>) -> Response {
    let s = fake.state();
    let list: Vec<Value> =
        s.deployments.iter().rev().filter(|(_, d)| d.app == uuid).take(1).map(|(u, d)| deployment_json(u, d)).collect();
    answer(200, json!({ "count": list.len(), "deployments": list }))
}
