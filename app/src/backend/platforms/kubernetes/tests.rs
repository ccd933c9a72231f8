//! The driver's requests and its reading of the answers, tested the way kube-rs tests itself: a
//! `tower_test::mock::pair` behind `kube::Client::new`, a task that asserts each request
//! (method, path, selectors, propagation policy, body) and answers with fixtures that passed
//! schema validation against the official Kubernetes schemas (`fixtures/README.md`). The
//! builder's objects are written to `target/k8s-generated/` for the same validation.

use std::pin::pin;

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{json, Value};

use super::*;
use crate::backend::config::{Config, Vars};
use crate::model::bot::MeetingPlatform;
use crate::model::platform_details::K8sMetrics;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("fixtures/", $name))
    };
}

/// One expected request and the answer to it.
struct Step {
    method: Method,
    /// The path and query must contain each of these.
    contains: Vec<&'static str>,
    status: u16,
    body: String,
}

fn step(method: Method, contains: &[&'static str], status: u16, body: &str) -> Step {
    Step { method, contains: contains.to_vec(), status, body: body.to_owned() }
}

/// What the mock API server received: each request's URI and body.
type Seen = Vec<(String, Value)>;

fn config(extra: &[(&str, &str)]) -> K8sConfig {
    let mut vars =
        vec![("DATABASE_URL", "postgres://u:p@127.0.0.1/db"), ("PLATFORM_PRIORITY", "k8s"), ("K8S_BOT_LIMIT", "5")];
    vars.extend_from_slice(extra);
    Config::from_vars(&vars.into_iter().collect::<Vars>()).unwrap().k8s
}

fn bot(id: i64, platform: MeetingPlatform) -> BotLaunch {
    BotLaunch {
        bot_id: id,
        meeting_platform: platform,
        token: "mbt_topsecret".into(),
        milo_url: "https://m.example.com".into(),
    }
}

/// A platform whose API server answers `steps` in order (and fails on anything else).
fn scripted(steps: Vec<Step>) -> (KubernetesPlatform, tokio::task::JoinHandle<Seen>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let task = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let mut seen = Vec::new();
        for s in steps {
            let (request, send) = handle.next_request().await.expect("the driver made fewer requests than expected");
            let uri = request.uri().to_string();
            assert_eq!(request.method(), s.method, "{uri}");
            for part in &s.contains {
                assert!(uri.contains(part), "{} {uri} should contain {part}", s.method);
            }
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
            seen.push((uri, body));
            send.send_response(Response::builder().status(s.status).body(Body::from(s.body.into_bytes())).unwrap());
        }
        if let Ok(Some((extra, _))) = tokio::time::timeout(Duration::from_millis(100), handle.next_request()).await {
            panic!("unexpected request: {} {}", extra.method(), extra.uri());
        }
        seen
    });
    let client = kube::Client::new(service, "meeboter");
    (KubernetesPlatform::with_client(client, config(&[]), None, None), task)
}

const JOBS: &str = "/apis/batch/v1/namespaces/meeboter/jobs";
const SECRETS: &str = "/api/v1/namespaces/meeboter/secrets";
const PODS: &str = "/api/v1/namespaces/meeboter/pods";
const EVENTS: &str = "/api/v1/namespaces/meeboter/events";

#[tokio::test]
async fn deploy_creates_the_secret_then_the_job_then_makes_the_job_own_the_secret() {
    let (k8s, api) = scripted(vec![
        step(Method::POST, &[SECRETS], 201, fixture!("secret-created.json")),
        step(Method::POST, &[JOBS], 201, fixture!("job-created.json")),
        step(Method::PATCH, &["/api/v1/namespaces/meeboter/secrets/bot-42-env"], 200, fixture!("secret-patched.json")),
    ]);
    let launched = k8s.deploy(&bot(42, MeetingPlatform::GoogleMeet)).await.unwrap();
    assert_eq!(launched.identifier, "bot-42");
    let seen = api.await.unwrap();

    let secret = &seen[0].1;
    assert_eq!(secret["metadata"]["name"], "bot-42-env");
    assert_eq!(secret["stringData"]["MILO_AUTH_TOKEN"], "mbt_topsecret");
    let job = &seen[1].1;
    assert!(!job.to_string().contains("mbt_topsecret"), "the token must not be in the Job spec: {job}");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "bot-42-env");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let patch = &seen[2].1;
    assert_eq!(
        patch["metadata"]["ownerReferences"][0],
        json!({ "apiVersion": "batch/v1", "kind": "Job", "name": "bot-42", "uid": "6d1c1c5e-8a9b-4c1d-9e0f-0a1b2c3d4e5f" })
    );
}

#[tokio::test]
async fn a_job_refused_by_the_quota_is_capacity_and_leaves_no_secret_behind() {
    let (k8s, api) = scripted(vec![
        step(Method::POST, &[SECRETS], 201, fixture!("secret-created.json")),
        step(Method::POST, &[JOBS], 403, fixture!("status-quota.json")),
        step(Method::DELETE, &["/secrets/bot-42-env"], 200, fixture!("status-deleted.json")),
    ]);
    let e = k8s.deploy(&bot(42, MeetingPlatform::GoogleMeet)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Capacity, "{e}");
    assert!(e.message.contains("exceeded quota"), "{e}");
    api.await.unwrap();
}

#[tokio::test]
async fn a_job_that_exists_already_is_a_conflict_and_its_secret_is_kept() {
    let (k8s, api) = scripted(vec![
        step(Method::POST, &[SECRETS], 201, fixture!("secret-created.json")),
        step(Method::POST, &[JOBS], 409, fixture!("status-conflict.json")),
    ]);
    let e = k8s.deploy(&bot(42, MeetingPlatform::GoogleMeet)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    api.await.unwrap();
}

#[tokio::test]
async fn a_secret_left_by_a_crashed_attempt_is_replaced() {
    let (k8s, api) = scripted(vec![
        step(Method::POST, &[SECRETS], 409, &fixture!("status-conflict.json").replace("jobs.batch", "secrets")),
        step(Method::DELETE, &["/secrets/bot-42-env"], 200, fixture!("status-deleted.json")),
        step(Method::POST, &[SECRETS], 201, fixture!("secret-created.json")),
        step(Method::POST, &[JOBS], 201, fixture!("job-created.json")),
        step(Method::PATCH, &["/secrets/bot-42-env"], 200, fixture!("secret-patched.json")),
    ]);
    k8s.deploy(&bot(42, MeetingPlatform::GoogleMeet)).await.unwrap();
    api.await.unwrap();
}

#[tokio::test]
async fn stop_deletes_the_job_in_the_background_and_its_secret_and_404_is_success() {
    let (k8s, api) = scripted(vec![
        step(Method::DELETE, &[JOBS, "/bot-42"], 200, fixture!("status-deleted.json")),
        step(Method::DELETE, &["/secrets/bot-42-env"], 404, fixture!("status-notfound.json")),
        step(Method::DELETE, &[JOBS, "/bot-42"], 404, fixture!("status-notfound.json")),
        step(Method::DELETE, &["/secrets/bot-42-env"], 404, fixture!("status-notfound.json")),
    ]);
    k8s.stop("bot-42").await.unwrap();
    k8s.stop("bot-42").await.unwrap();
    let seen = api.await.unwrap();
    assert_eq!(seen[0].1["propagationPolicy"], "Background", "{:?}", seen[0]);
}

#[tokio::test]
async fn list_selects_our_jobs_and_follows_continue_tokens() {
    let (k8s, api) = scripted(vec![
        step(
            Method::GET,
            &[JOBS, "labelSelector=app%3Dmeeboter-bot", "limit=100"],
            200,
            fixture!("joblist-page1.json"),
        ),
        step(Method::GET, &[JOBS, "continue=eyJ2Ijoi"], 200, fixture!("joblist-page2.json")),
    ]);
    let all = k8s.list().await.unwrap();
    let ids: Vec<_> = all.iter().map(|r| (r.identifier.as_str(), r.bot_id)).collect();
    assert_eq!(ids, [("bot-41", Some(41)), ("bot-42", Some(42)), ("bot-43", Some(43))]);
    api.await.unwrap();
}

#[tokio::test]
async fn status_reads_job_conditions_and_the_exit_code_of_a_failed_pod() {
    let (k8s, api) = scripted(vec![
        step(Method::GET, &[JOBS, "/bot-42"], 200, fixture!("job-running.json")),
        step(Method::GET, &[JOBS, "/bot-42"], 200, fixture!("job-failed.json")),
        step(Method::GET, &[PODS, "labelSelector=job-name%3Dbot-42"], 200, fixture!("pods-failed.json")),
        step(Method::GET, &[JOBS, "/bot-42"], 200, fixture!("job-complete.json")),
        step(Method::GET, &[PODS], 200, r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#),
        step(Method::GET, &[JOBS, "/bot-42"], 404, fixture!("status-notfound.json")),
    ]);
    assert_eq!(k8s.status("bot-42").await.unwrap(), ResourceStatus::Running);
    assert_eq!(k8s.status("bot-42").await.unwrap(), ResourceStatus::Exited { code: Some(137) });
    assert_eq!(k8s.status("bot-42").await.unwrap(), ResourceStatus::Exited { code: Some(0) });
    assert_eq!(k8s.status("bot-42").await.unwrap(), ResourceStatus::Gone);
    api.await.unwrap();
}

#[tokio::test]
async fn details_read_the_job_its_pod_events_by_field_selector_and_metrics() {
    let (k8s, api) = scripted(vec![
        step(Method::GET, &[JOBS, "/bot-42"], 200, fixture!("job-running.json")),
        step(Method::GET, &[PODS, "labelSelector=job-name%3Dbot-42"], 200, fixture!("pods.json")),
        step(Method::GET, &[PODS, "labelSelector=job-name%3Dbot-42"], 200, fixture!("pods.json")),
        step(
            Method::GET,
            &["/apis/metrics.k8s.io/v1beta1/namespaces/meeboter/pods/bot-42-x7k2p"],
            200,
            fixture!("podmetrics.json"),
        ),
        step(Method::GET, &[EVENTS, "fieldSelector=involvedObject.name%3Dbot-42"], 200, fixture!("events-job.json")),
        step(Method::GET, &[PODS], 200, fixture!("pods.json")),
        step(
            Method::GET,
            &[EVENTS, "fieldSelector=involvedObject.name%3Dbot-42-x7k2p"],
            200,
            fixture!("events-pod.json"),
        ),
    ]);
    let d = k8s.job_details("bot-42").await.unwrap();
    assert_eq!(
        (d.job.name.as_str(), d.job.status.as_str(), d.job.node.as_deref()),
        ("bot-42", "Running", Some("k3s-0"))
    );
    let pod = d.pod.unwrap();
    assert_eq!(
        (pod.name.as_str(), pod.phase.as_str(), pod.container_state.as_str(), pod.restarts),
        ("bot-42-x7k2p", "Running", "running", 0)
    );

    let K8sMetrics::Available { cpu, memory } = k8s.metrics("bot-42").await.unwrap() else { panic!("metrics absent") };
    assert_eq!((cpu.usage.as_str(), cpu.limit.as_deref(), cpu.percent), ("180m", Some("1000m"), Some(18)));
    assert_eq!((memory.usage.as_str(), memory.limit.as_deref(), memory.percent), ("650Mi", Some("2Gi"), Some(32)));

    let events = k8s.events("bot-42", 10).await.unwrap();
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    for r in ["SuccessfulCreate", "Scheduled", "Pulled", "Created", "Started"] {
        assert!(reasons.contains(&r), "{reasons:?}");
    }
    assert!(events.windows(2).all(|w| w[0].time >= w[1].time), "newest first: {events:?}");
    api.await.unwrap();
}

#[tokio::test]
async fn absent_metrics_api_is_a_state_not_an_error() {
    let (k8s, api) = scripted(vec![
        step(Method::GET, &[PODS], 200, fixture!("pods.json")),
        step(Method::GET, &["/apis/metrics.k8s.io/"], 404, fixture!("status-metrics-notfound.json")),
        step(Method::GET, &[PODS], 200, r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#),
    ]);
    assert!(matches!(k8s.metrics("bot-42").await.unwrap(), K8sMetrics::Absent { .. }));
    assert!(matches!(k8s.metrics("bot-42").await.unwrap(), K8sMetrics::Absent { reason } if reason.contains("no pod")));
    api.await.unwrap();
}

#[tokio::test]
async fn details_of_a_job_that_is_gone_are_not_found() {
    let (k8s, api) = scripted(vec![step(Method::GET, &[JOBS, "/bot-42"], 404, fixture!("status-notfound.json"))]);
    assert_eq!(k8s.job_details("bot-42").await.unwrap_err().kind, ErrorKind::NotFound);
    api.await.unwrap();
}

#[tokio::test]
async fn api_errors_map_to_the_kinds_the_deployer_needs() {
    let cases = [
        (403, fixture!("status-quota.json"), ErrorKind::Capacity),
        (403, fixture!("status-quota-pods.json"), ErrorKind::Capacity),
        (403, fixture!("status-forbidden.json"), ErrorKind::Unauthorised),
        (401, fixture!("status-unauthorized.json"), ErrorKind::Unauthorised),
        (409, fixture!("status-conflict.json"), ErrorKind::Conflict),
        (404, fixture!("status-notfound.json"), ErrorKind::NotFound),
        (429, fixture!("status-throttled.json"), ErrorKind::Throttled),
        (503, fixture!("status-unavailable.json"), ErrorKind::Unavailable),
        (502, "<html>Bad Gateway</html>", ErrorKind::Unavailable),
        (
            422,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,"message":"Job.batch \"bot-42\" is invalid"}"#,
            ErrorKind::Rejected,
        ),
    ];
    for (code, body, kind) in cases {
        let (k8s, api) = scripted(vec![step(Method::GET, &[JOBS], code, body)]);
        let e = k8s.probe().await.unwrap_err();
        assert_eq!(e.kind, kind, "{code} {body}: {e}");
        api.await.unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_api_server_is_unavailable() {
    let cfg = config(&[]);
    let mut kc = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    kc.connect_timeout = Some(Duration::from_secs(1));
    let k8s = KubernetesPlatform::with_client(kube::Client::try_from(kc).unwrap(), cfg, None, None);
    let e = k8s.probe().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
}

#[tokio::test]
async fn a_missing_kubeconfig_is_a_configuration_error() {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return; // in a cluster the in-cluster configuration comes first
    }
    let cfg = config(&[("K8S_KUBECONFIG", "/nonexistent/kubeconfig")]);
    let e = KubernetesPlatform::connect(&cfg, None, None).await.err().expect("no kubeconfig");
    assert_eq!(e.kind, ErrorKind::Misconfigured);
    assert!(e.message.contains("K8S_KUBECONFIG=/nonexistent/kubeconfig"), "{e}");
}

// ---- the builder (pure) ----

#[test]
fn the_job_follows_the_seeds_spec() {
    let cfg = config(&[("K8S_IMAGE_PULL_SECRET", "ghcr-credentials"), ("K8S_IMAGE_TAG", "v1.2.3")]);
    let b = bot(7, MeetingPlatform::Zoom);
    let env = bot_environment(&b, None);
    let job = serde_json::to_value(build::job(&b, &env, &cfg)).unwrap();
    assert_eq!(job["metadata"]["name"], "bot-7");
    assert_eq!(job["metadata"]["namespace"], "meeboter");
    assert_eq!(
        job["metadata"]["labels"],
        json!({"app":"meeboter-bot","app.kubernetes.io/managed-by":"meeboter","botId":"7","platform":"zoom"})
    );
    let spec = &job["spec"];
    assert_eq!((spec["backoffLimit"].clone(), spec["ttlSecondsAfterFinished"].clone()), (json!(0), json!(300)));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["imagePullSecrets"], json!([{ "name": "ghcr-credentials" }]));
    assert_eq!(pod["volumes"][0]["emptyDir"], json!({ "medium": "Memory", "sizeLimit": "512Mi" }));
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/payme-works/meeboter-zoom-bot:v1.2.3");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        c["resources"],
        json!({"requests":{"cpu":"500m","memory":"1Gi"},"limits":{"cpu":"1000m","memory":"2Gi"}})
    );
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/dev/shm");
    let names: Vec<&str> = c["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["BOT_ID", "MILO_URL", "DOCKER_MEETING_PLATFORM", "NODE_ENV", "RECORDING_UPLOAD_URL"]);
}

#[test]
fn no_secret_value_is_in_the_job_spec() {
    let cfg = config(&[]);
    let b = bot(8, MeetingPlatform::MicrosoftTeams);
    let s3 = S3Config {
        endpoint: "http://minio:9000".parse().unwrap(),
        region: "us-east-1".into(),
        bucket: "rec".into(),
        access_key: "AKIAEXAMPLE".to_owned().into(),
        secret_key: "s3-secret-value".to_owned().into(),
        force_path_style: true,
    };
    let env = bot_environment(&b, Some(&s3));
    let job = serde_json::to_string(&build::job(&b, &env, &cfg)).unwrap();
    for secret in ["mbt_topsecret", "AKIAEXAMPLE", "s3-secret-value"] {
        assert!(!job.contains(secret), "{secret} in {job}");
    }
    let secret = serde_json::to_value(build::secret(&b, &env, &cfg)).unwrap();
    assert_eq!(secret["stringData"]["S3_SECRET_KEY"], "s3-secret-value");
    assert_eq!(secret["type"], "Opaque");
}

#[test]
fn quantities_parse_and_show_as_kubernetes_writes_them() {
    use super::view::{parse_quantity, show_cpu, show_memory};
    assert_eq!(parse_quantity("180m"), Some(0.18));
    assert_eq!(parse_quantity("1"), Some(1.0));
    assert_eq!(parse_quantity("250000000n").map(show_cpu), Some("250m".to_owned()));
    assert_eq!(parse_quantity("665600Ki").map(show_memory), Some("650Mi".to_owned()));
    assert_eq!(parse_quantity("2Gi").map(show_memory), Some("2Gi".to_owned()));
    assert_eq!(parse_quantity("1e3"), Some(1000.0));
    assert_eq!(parse_quantity("lots"), None);
}

/// Writes a Job and a Secret for each meeting platform and resource setting to
/// `target/k8s-generated/`, where `./dev test` validates them against the official schemas of
/// the oldest and newest Kubernetes supported (`.config/k8s-validate.sh`).
#[test]
fn writes_every_generated_object_for_schema_validation() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/k8s-generated");
    std::fs::create_dir_all(&dir).unwrap();
    let settings: [(&str, Vec<(&str, &str)>); 3] = [
        ("defaults", vec![]),
        (
            "small",
            vec![
                ("K8S_BOT_CPU_REQUEST", "250m"),
                ("K8S_BOT_CPU_LIMIT", "0.5"),
                ("K8S_BOT_MEMORY_REQUEST", "768Mi"),
                ("K8S_BOT_MEMORY_LIMIT", "1Gi"),
            ],
        ),
        (
            "private",
            vec![
                ("K8S_IMAGE_PULL_SECRET", "ghcr-credentials"),
                ("K8S_IMAGE_TAG", "2026.11.30"),
                ("K8S_NAMESPACE", "bots"),
            ],
        ),
    ];
    let s3 = S3Config {
        endpoint: "https://s3.us-east-1.amazonaws.com".parse().unwrap(),
        region: "us-east-1".into(),
        bucket: "recordings".into(),
        access_key: "AKIA".to_owned().into(),
        secret_key: "secret".to_owned().into(),
        force_path_style: false,
    };
    let mut written = 0;
    for (name, vars) in settings {
        let cfg = config(&vars);
        for (i, platform) in [MeetingPlatform::GoogleMeet, MeetingPlatform::MicrosoftTeams, MeetingPlatform::Zoom]
            .into_iter()
            .enumerate()
        {
            let b = bot(100 + i as i64, platform);
            let env = bot_environment(&b, (name == "private").then_some(&s3));
            let objects = [
                ("job", serde_json::to_value(build::job(&b, &env, &cfg)).unwrap()),
                ("secret", serde_json::to_value(build::secret(&b, &env, &cfg)).unwrap()),
            ];
            for (kind, mut value) in objects {
                // k8s-openapi serialises the apiVersion/kind of typed objects.
                assert!(value["apiVersion"].is_string() && value["kind"].is_string(), "{value}");
                value["metadata"]["annotations"] = json!({ "meeboter.test/setting": name });
                let file = dir.join(format!("{kind}-{name}-{}.json", platform.as_str()));
                std::fs::write(file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
                written += 1;
            }
        }
    }
    assert_eq!(written, 18);
}

#[test]
fn the_image_pull_lock_reads_the_pullers_pod() {
    use super::pull_lock::{puller_state, Puller};
    let pods: k8s_openapi::List<k8s_openapi::api::core::v1::Pod> = serde_json::from_str(fixture!("pods.json")).unwrap();
    assert_eq!(puller_state(pods.items.first(), true, false), Puller::HasImage);
    // No pod yet: still starting while young or while its Job exists; gone otherwise.
    assert_eq!(puller_state(None, false, true), Puller::Pulling);
    assert_eq!(puller_state(None, true, false), Puller::Pulling);
    assert_eq!(puller_state(None, false, false), Puller::Failed);
    let mut pulling = pods.items[0].clone();
    let status = pulling.status.as_mut().unwrap().container_statuses.as_mut().unwrap();
    status[0].image_id = String::new();
    status[0].state = Some(serde_json::from_value(json!({ "waiting": { "reason": "ContainerCreating" } })).unwrap());
    assert_eq!(puller_state(Some(&pulling), true, false), Puller::Pulling);
    let status = pulling.status.as_mut().unwrap().container_statuses.as_mut().unwrap();
    status[0].state = Some(serde_json::from_value(json!({ "waiting": { "reason": "ImagePullBackOff" } })).unwrap());
    assert_eq!(puller_state(Some(&pulling), true, false), Puller::Failed);
}
