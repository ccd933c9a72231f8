//! A small fake of the Kubernetes API server for integration tests: it stores the Secrets and
//! Jobs it is sent and answers reads with the driver's fixtures (objects that passed schema
//! validation), templated with the Job's name. It records every request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../app/src/backend/platforms/kubernetes/fixtures/", $name))
    };
}

/// What the fake has and does.
#[derive(Default)]
pub struct FakeState {
    pub jobs: BTreeMap<String, Value>,
    pub secrets: BTreeMap<String, Value>,
    /// Method, path and query, and body of every request.
    pub requests: Vec<(String, String, Value)>,
    /// Answer 401 to everything (a revoked token).
    pub reject: bool,
    /// The pods of every Job are still pulling their image.
    pub pulling: bool,
}

#[derive(Clone, Default)]
pub struct FakeK8s(pub Arc<Mutex<FakeState>>);

impl FakeK8s {
    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }

    /// The requests seen, as `METHOD path?query`.
    pub fn seen(&self) -> Vec<String> {
        self.state().requests.iter().map(|(m, p, _)| format!("{m} {p}")).collect()
    }

    /// Starts the fake on 127.0.0.1 and writes a kubeconfig for it; answers its path.
    pub async fn start(&self) -> String {
        let (listener, url) = crate::support::bind().await;
        let router = Router::new()
            .route("/apis/batch/v1/namespaces/{ns}/jobs", get(list_jobs).post(create_job))
            .route("/apis/batch/v1/namespaces/{ns}/jobs/{name}", get(read_job).delete(delete_job))
            .route("/api/v1/namespaces/{ns}/secrets", axum::routing::post(create_secret))
            .route("/api/v1/namespaces/{ns}/secrets/{name}", axum::routing::patch(patch_secret).delete(delete_secret))
            .route("/api/v1/namespaces/{ns}/pods", get(list_pods))
            .route("/api/v1/namespaces/{ns}/events", get(list_events))
            .route("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}", get(pod_metrics))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(self.clone(), record))
            .with_state(self.clone());
        crate::support::serve_on(listener, router);
        let path = format!("{}/kubeconfig-{}", env!("CARGO_TARGET_TMPDIR"), url.rsplit(':').next().unwrap());
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
                 users:\n- name: fake\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    \
                 cluster: fake\n    user: fake\n    namespace: meeboter\ncurrent-context: fake\n"
            ),
        )
        .unwrap();
        path
    }
}

fn answer(status: u16, body: impl Into<String>) -> Response {
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body.into()).into_response()
}

fn not_found_for(name: &str) -> Response {
    answer(404, fixture!("status-notfound.json").replace("bot-42", name))
}

async fn record(State(fake): State<FakeK8s>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let target = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let authorised = parts.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer fake-token");
    {
        let mut s = fake.state();
        s.requests.push((parts.method.to_string(), target, value));
        if s.reject || !authorised {
            return answer(401, fixture!("status-unauthorized.json"));
        }
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

async fn not_found() -> Response {
    answer(404, fixture!("status-metrics-notfound.json"))
}

fn job_with_status(stored: &Value, name: &str) -> Value {
    let mut running: Value = serde_json::from_str(&fixture!("job-running.json").replace("bot-42", name)).unwrap();
    running["metadata"] = stored["metadata"].clone();
    running["spec"] = stored["spec"].clone();
    running
}

async fn list_jobs(State(fake): State<FakeK8s>) -> Response {
    let s = fake.state();
    let items: Vec<Value> = s.jobs.iter().map(|(name, j)| job_with_status(j, name)).collect();
    answer(200, json!({ "kind": "JobList", "apiVersion": "batch/v1", "metadata": {}, "items": items }).to_string())
}

async fn create_job(State(fake): State<FakeK8s>, body: Bytes) -> Response {
    let mut job: Value = serde_json::from_slice(&body).unwrap();
    let name = job["metadata"]["name"].as_str().unwrap().to_owned();
    let mut s = fake.state();
    if s.jobs.contains_key(&name) {
        return answer(409, fixture!("status-conflict.json").replace("bot-42", &name));
    }
    job["metadata"]["uid"] = json!(format!("uid-{name}"));
    job["metadata"]["creationTimestamp"] = json!("2026-11-30T14:30:00Z");
    s.jobs.insert(name, job.clone());
    answer(201, job.to_string())
}

async fn read_job(State(fake): State<FakeK8s>, Path((_ns, name)): Path<(String, String)>) -> Response {
    match fake.state().jobs.get(&name) {
        Some(j) => answer(200, job_with_status(j, &name).to_string()),
        None => not_found_for(&name),
    }
}

async fn delete_job(State(fake): State<FakeK8s>, Path((_ns, name)): Path<(String, String)>) -> Response {
    match fake.state().jobs.remove(&name) {
        Some(_) => answer(200, fixture!("status-deleted.json")),
        None => not_found_for(&name),
    }
}

async fn create_secret(State(fake): State<FakeK8s>, body: Bytes) -> Response {
    let secret: Value = serde_json::from_slice(&body).unwrap();
    let name = secret["metadata"]["name"].as_str().unwrap().to_owned();
    let mut s = fake.state();
    if s.secrets.contains_key(&name) {
        return answer(
            409,
            fixture!("status-conflict.json").replace("jobs.batch \\\"bot-42\\\"", &format!("secrets \\\"{name}\\\"")),
        );
    }
    s.secrets.insert(name, secret.clone());
    answer(201, secret.to_string())
}

async fn patch_secret(
    State(fake): State<FakeK8s>,
    Path((_ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(headers.get("content-type").unwrap(), "application/merge-patch+json");
    let patch: Value = serde_json::from_slice(&body).unwrap();
    let mut s = fake.state();
    let Some(secret) = s.secrets.get_mut(&name) else { return not_found_for(&name) };
    secret["metadata"]["ownerReferences"] = patch["metadata"]["ownerReferences"].clone();
    answer(200, secret.to_string())
}

async fn delete_secret(State(fake): State<FakeK8s>, Path((_ns, name)): Path<(String, String)>) -> Response {
    match fake.state().secrets.remove(&name) {
        Some(_) => answer(200, fixture!("status-deleted.json")),
        None => not_found_for(&name),
    }
}

fn selector_value(query: &str, key: &str) -> Option<String> {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    q.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

async fn list_pods(State(fake): State<FakeK8s>, RawQuery(q): RawQuery) -> Response {
    let job = selector_value(q.as_deref().unwrap_or(""), "labelSelector")
        .and_then(|s| s.strip_prefix("job-name=").map(str::to_owned))
        .unwrap_or_default();
    let s = fake.state();
    if !s.jobs.contains_key(&job) {
        return answer(200, json!({ "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [] }).to_string());
    }
    let mut pods: Value = serde_json::from_str(&fixture!("pods.json").replace("bot-42", &job)).unwrap();
    if s.pulling {
        let c = &mut pods["items"][0]["status"]["containerStatuses"][0];
        c["state"] = json!({ "waiting": { "reason": "ContainerCreating" } });
        c["imageID"] = json!("");
        pods["items"][0]["status"]["phase"] = json!("Pending");
    }
    answer(200, pods.to_string())
}

async fn list_events(RawQuery(q): RawQuery) -> Response {
    let name = selector_value(q.as_deref().unwrap_or(""), "fieldSelector")
        .and_then(|s| s.strip_prefix("involvedObject.name=").map(str::to_owned))
        .unwrap_or_default();
    let body = match name.rsplit_once('-') {
        Some((job, "x7k2p")) => fixture!("events-pod.json").replace("bot-42", job),
        _ => fixture!("events-job.json").replace("bot-42", &name),
    };
    answer(200, body)
}

async fn pod_metrics(Path((_ns, pod)): Path<(String, String)>) -> Response {
    let job = pod.trim_end_matches("-x7k2p");
    answer(200, fixture!("podmetrics.json").replace("bot-42", job))
}
