//! The ECS driver against recorded real-shape ECS answers (fixtures/ecs/, README there), for
//! what moto cannot do: throttling, access denied, server errors, RunTask `failures`, MISSING
//! tasks, StopTask on an unknown task, ListTasks over two pages, the client token, the Spot
//! fallback. A small HTTP server answers each operation (by `X-Amz-Target`) with the queued
//! fixture and records every request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::backend::config::{AwsConfig, CapacityProvider};
use app::backend::platforms::ecs::EcsPlatform;
use app::backend::platforms::{BotLaunch, ErrorKind, Platform, ResourceStatus};
use app::model::bot::MeetingPlatform;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/meeboter/83cf8b609de60036a8277bd0e9613575";

#[derive(Default)]
struct Replay {
    queued: HashMap<String, VecDeque<Value>>,
    seen: Vec<(String, Value)>,
}

type Shared = Arc<Mutex<Replay>>;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/it/fixtures/ecs/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn ok(body: Value) -> Value {
    json!({ "status": 200, "headers": {}, "body": body })
}

/// DescribeTasks of the requested ARNs, each a RUNNING task tagged with its bot (its index).
fn describe_answer(request: &Value) -> Value {
    let tasks: Vec<Value> = request["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arn| {
            let bot = arn.as_str().unwrap().rsplit('/').next().unwrap().trim_start_matches('t').to_owned();
            json!({"taskArn": arn, "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
                   "tags": [{"key": "botId", "value": bot}]})
        })
        .collect();
    ok(json!({ "tasks": tasks, "failures": [] }))
}

async fn answer(state: axum::extract::State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = state.lock().unwrap();
    s.seen.push((op.clone(), request.clone()));
    let fx = match s.queued.get_mut(&op).and_then(VecDeque::pop_front) {
        Some(fx) => fx,
        None if op == "DescribeTasks" => describe_answer(&request),
        None => panic!("no answer queued for {op}: {request}"),
    };
    let status = StatusCode::from_u16(fx["status"].as_u64().unwrap() as u16).unwrap();
    let mut res = (status, fx["body"].to_string()).into_response();
    res.headers_mut().insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    res
}

struct Fake {
    state: Shared,
    url: String,
}

impl Fake {
    async fn start() -> Fake {
        let state: Shared = Arc::default();
        let router = axum::Router::new().fallback(axum::routing::post(answer)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Fake { state, url }
    }

    fn queue(&self, op: &str, answers: impl IntoIterator<Item = Value>) {
        self.state.lock().unwrap().queued.entry(op.to_owned()).or_default().extend(answers);
    }

    fn seen(&self, op: &str) -> Vec<Value> {
        self.state.lock().unwrap().seen.iter().filter(|(o, _)| o == op).map(|(_, b)| b.clone()).collect()
    }

    async fn driver(&self, strategy: &str) -> EcsPlatform {
        let cfg = AwsConfig {
            region: Some("us-east-1".into()),
            static_credentials: Some(app::backend::config::AwsStaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".to_owned().into(),
                session_token: None,
            }),
            endpoint_url: Some(self.url.parse().unwrap()),
            cluster: Some("meeboter".into()),
            subnets: vec!["subnet-0a1b2c3d4e5f60718".into()],
            security_groups: vec!["sg-0123456789abcdef0".into()],
            assign_public_ip: false,
            task_def_google_meet: Some("meeboter-google-meet-bot".into()),
            task_def_microsoft_teams: Some("meeboter-microsoft-teams-bot".into()),
            task_def_zoom: Some("meeboter-zoom-bot".into()),
            capacity_providers: CapacityProvider::parse_list(strategy).unwrap(),
            bot_limit: Some(10),
            queue_timeout: Duration::from_secs(30),
        };
        EcsPlatform::connect(&cfg, None).await.unwrap()
    }
}

fn launch(token: &str) -> BotLaunch {
    BotLaunch {
        bot_id: 42,
        meeting_platform: MeetingPlatform::Zoom,
        token: token.into(),
        milo_url: "https://meeboter.example.com".into(),
    }
}

fn started(arn: &str) -> Value {
    ok(json!({ "tasks": [{ "taskArn": arn, "lastStatus": "PROVISIONING" }], "failures": [] }))
}

#[tokio::test]
async fn ecs_errors_map_to_platform_error_kinds() {
    let cases = [
        ("throttling", ErrorKind::Throttled),
        ("access_denied", ErrorKind::Unauthorised),
        ("server_exception", ErrorKind::Unavailable),
        ("cluster_not_found", ErrorKind::Misconfigured),
        ("capacity_provider_not_associated", ErrorKind::Rejected),
        ("run_task_client_token_conflict", ErrorKind::Conflict),
        ("run_task_failure_resource_memory", ErrorKind::Capacity),
        ("run_task_failure_capacity_unavailable", ErrorKind::Capacity),
        ("run_task_failure_missing", ErrorKind::Misconfigured),
    ];
    for (name, kind) in cases {
        let fake = Fake::start().await;
        let fx = fixture(name);
        // Retried errors (throttling, 5xx) are answered on every attempt.
        fake.queue("RunTask", std::iter::repeat_n(fx, 3));
        let e = fake.driver("").await.deploy(&launch("mbt_a")).await.unwrap_err();
        assert_eq!(e.kind, kind, "{name}: {e}");
        let attempts = fake.seen("RunTask").len();
        let retried = matches!(kind, ErrorKind::Throttled | ErrorKind::Unavailable);
        assert_eq!(attempts, if retried { 3 } else { 1 }, "{name}: the SDK's retry policy");
    }
    let fake = Fake::start().await;
    fake.queue("DescribeClusters", [fixture("unrecognized_client")]);
    assert_eq!(fake.driver("").await.probe().await.unwrap_err().kind, ErrorKind::Unauthorised);
}

#[tokio::test]
async fn a_task_ecs_does_not_know_is_gone_and_stopping_it_succeeds() {
    let fake = Fake::start().await;
    let ecs = fake.driver("").await;
    fake.queue("DescribeTasks", [fixture("describe_tasks_missing"), fixture("describe_tasks_missing")]);
    assert_eq!(ecs.status(ARN).await.unwrap(), ResourceStatus::Gone);
    assert_eq!(ecs.task_details(ARN).await.unwrap(), None);
    fake.queue("StopTask", [fixture("stop_task_not_found"), fixture("stop_task_invalid_identifier")]);
    ecs.stop(ARN).await.unwrap();
    assert_eq!(ecs.stop(ARN).await.unwrap_err().kind, ErrorKind::Rejected);
    let stop = &fake.seen("StopTask")[0];
    assert_eq!((stop["task"].as_str(), stop["reason"].as_str()), (Some(ARN), Some("Stopped by Meeboter")));
}

#[tokio::test]
async fn the_platform_tab_reads_a_stopped_spot_task_as_ecs_writes_it() {
    let fake = Fake::start().await;
    let fx = fixture("describe_tasks_stopped_capacity_provider");
    let arn = fx["body"]["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    fake.queue("DescribeTasks", [fx]);
    let t = fake.driver("").await.task_details(&arn).await.unwrap().unwrap();
    assert_eq!(t.capacity_provider.as_deref(), Some("FARGATE_SPOT"));
    assert_eq!(t.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(t.stop_code.as_deref(), Some("TerminationNotice"));
    assert_eq!(t.containers[0].exit_code, Some(143));
    assert!(t.started_at.is_some() && t.stopped_at.is_some());
    assert!(!serde_json::to_string(&t).unwrap().contains("MILO_AUTH_TOKEN"), "overrides never reach the view");
}

#[tokio::test]
async fn listing_follows_every_page_and_describes_in_batches_of_100() {
    let fake = Fake::start().await;
    let page1 = fixture("list_tasks_page1");
    let page2 = fixture("list_tasks_page2");
    let token = page1["body"]["nextToken"].as_str().unwrap().to_owned();
    let total =
        page1["body"]["taskArns"].as_array().unwrap().len() + page2["body"]["taskArns"].as_array().unwrap().len();
    fake.queue("ListTasks", [page1, page2, ok(json!({ "taskArns": [] }))]);
    let listed = fake.driver("").await.list().await.unwrap();
    assert_eq!(listed.len(), total);
    assert_eq!(total, 105);
    let lists = fake.seen("ListTasks");
    assert_eq!(lists.len(), 3);
    assert_eq!(
        (lists[0]["startedBy"].as_str(), lists[0]["desiredStatus"].as_str()),
        (Some("meeboter"), Some("RUNNING"))
    );
    assert_eq!(lists[1]["nextToken"].as_str(), Some(token.as_str()));
    assert_eq!(lists[2]["desiredStatus"], "STOPPED");
    let batches: Vec<usize> = fake.seen("DescribeTasks").iter().map(|d| d["tasks"].as_array().unwrap().len()).collect();
    assert_eq!(batches, [100, 5]);
    assert!(fake.seen("DescribeTasks").iter().all(|d| d["include"] == json!(["TAGS"])));
}

#[tokio::test]
async fn retries_of_one_deployment_share_a_client_token_and_the_next_deployment_gets_another() {
    let fake = Fake::start().await;
    let ecs = fake.driver("").await;
    // A 500 then success: the SDK retries with the same request, so ECS starts one task.
    fake.queue("RunTask", [fixture("server_exception"), started(ARN), started(ARN)]);
    assert_eq!(ecs.deploy(&launch("mbt_first")).await.unwrap().identifier, ARN);
    ecs.deploy(&launch("mbt_second")).await.unwrap();
    let tokens: Vec<String> =
        fake.seen("RunTask").iter().map(|r| r["clientToken"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0], tokens[1], "an SDK retry reuses the token");
    assert_ne!(tokens[1], tokens[2], "a new deployment has a new token");
    assert!(tokens.iter().all(|t| t.len() <= 64 && !t.contains("mbt_")));
    let run = &fake.seen("RunTask")[0];
    assert_eq!(run["launchType"], "FARGATE");
    assert_eq!(run["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"], "DISABLED");
    assert_eq!(run["overrides"]["containerOverrides"][0]["name"], "zoom-bot");
}

#[tokio::test]
async fn a_spot_capacity_failure_falls_back_to_fargate_on_demand() {
    let fake = Fake::start().await;
    let ecs = fake.driver("FARGATE_SPOT:4,FARGATE:1").await;
    fake.queue("RunTask", [fixture("run_task_failure_capacity_unavailable"), started(ARN)]);
    assert_eq!(ecs.deploy(&launch("mbt_a")).await.unwrap().identifier, ARN);
    let runs = fake.seen("RunTask");
    assert_eq!(runs[0]["capacityProviderStrategy"][0]["capacityProvider"], "FARGATE_SPOT");
    assert!(runs[0].get("launchType").is_none());
    assert_eq!(runs[1]["capacityProviderStrategy"], json!([{ "capacityProvider": "FARGATE", "weight": 1, "base": 0 }]));
    assert_ne!(runs[0]["clientToken"], runs[1]["clientToken"]);

    // Without FARGATE in the strategy there is nothing to fall back to.
    let fake = Fake::start().await;
    fake.queue("RunTask", [fixture("run_task_failure_capacity_unavailable")]);
    let e = fake.driver("FARGATE_SPOT:1").await.deploy(&launch("mbt_b")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Capacity);
}
