//! The ECS driver against moto_server (the emulator speaks ECS's real protocol): bots run as
//! tasks with the bot's environment, the Platform tab's server function, stop, list, probe and
//! the errors moto can produce. What moto cannot do is tested in `ecs_replay` with recorded
//! real-shape answers (docs/ECS_EMULATOR.md says which is which).

use std::sync::Arc;

use app::backend::deployer::{Deployer, Outcome};
use app::backend::platforms::ecs::EcsPlatform;
use app::backend::platforms::{BotLaunch, ErrorKind, Platform, ResourceStatus};
use app::model::bot::MeetingPlatform;
use app::model::platform::DeploymentPlatform;
use http::StatusCode;
use serde_json::json;

use crate::moto::{Moto, CLUSTER};
use crate::support::{bot_status, TestApp};

const MEET: &str = "https://meet.google.com/abc-defg-hij";

async fn ecs_app(moto: &Moto, extra: &[(&str, &str)]) -> TestApp {
    let mut b = TestApp::builder();
    for (k, v) in moto.vars().await {
        b = b.var(&k, &v);
    }
    for (k, v) in extra {
        b = b.var(k, v);
    }
    b.build().await
}

fn launch(bot_id: i64, platform: MeetingPlatform) -> BotLaunch {
    BotLaunch {
        bot_id,
        meeting_platform: platform,
        token: format!("mbt_token_{bot_id}"),
        milo_url: "http://127.0.0.1:3000".into(),
    }
}

#[tokio::test]
async fn a_bot_runs_as_an_ecs_task_with_its_environment_and_the_platform_tab_shows_it() {
    let moto = Moto::start().await;
    moto.prepare_cluster().await;
    let mut app = ecs_app(&moto, &[]).await;
    app.sign_up("Ada", "ada@example.com").await;
    let key =
        app.call_json("create_api_key", json!({ "name": "k" })).await.json()["secret"].as_str().unwrap().to_owned();
    let r = app.api("POST", "/api/v1/bots", &key, Some(json!({ "meetingUrl": MEET }))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();

    let deployer = Deployer::new(app.state.pool.clone(), app.state.config.clone(), app.state.platforms.clone());
    let done = deployer.dispatch_once().await.unwrap();
    let Outcome::Deployed { platform, identifier: arn } = done[0].1.clone() else { panic!("{done:?}") };
    assert_eq!(platform, DeploymentPlatform::Aws);
    assert!(arn.starts_with("arn:aws:ecs:us-east-1:"), "{arn}");
    assert_eq!(bot_status(&app, id).await, "DEPLOYING");

    // What ECS was asked, read back from the emulator.
    let ecs = moto.ecs().await;
    let out = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(&arn)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    let task = &out.tasks()[0];
    assert_eq!(task.started_by(), Some("meeboter"));
    assert!(task.task_definition_arn().unwrap().ends_with("task-definition/meeboter-google-meet-bot:1"));
    let o = &task.overrides().unwrap().container_overrides()[0];
    assert_eq!(o.name(), Some("google-meet-bot"));
    let env: std::collections::HashMap<&str, &str> =
        o.environment().iter().map(|kv| (kv.name().unwrap(), kv.value().unwrap())).collect();
    assert_eq!(env["BOT_ID"], id.to_string());
    assert_eq!(env["DOCKER_MEETING_PLATFORM"], "google-meet");
    assert!(env["MILO_AUTH_TOKEN"].starts_with("mbt_"));
    let tags: Vec<(&str, &str)> = task.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert!(tags.contains(&("botId", id.to_string().as_str())), "{tags:?}");

    // The Platform tab's task view.
    let r = app.call_json("get_aws_task", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = r.json();
    assert_eq!(t["taskArn"], arn.as_str());
    assert_eq!(t["cluster"], CLUSTER);
    assert_eq!(t["lastStatus"], "RUNNING");
    assert_eq!(t["taskDefinition"], "meeboter-google-meet-bot:1");
    assert_eq!(t["launchType"], "FARGATE");
    assert_eq!(t["containers"][0]["name"], "google-meet-bot");
    // An identifier that is not a whole task ARN never reaches ECS (it matches partial ids).
    let ecs_driver: Arc<EcsPlatform> = app.state.platforms.driver().unwrap();
    assert_eq!(ecs_driver.stop("").await.unwrap_err().kind, ErrorKind::Rejected);
    assert_eq!(
        ecs_driver.status(app::backend::platforms::ecs::build::task_id(&arn)).await.unwrap_err().kind,
        ErrorKind::Rejected
    );
    // Not a Kubernetes bot: a clear 400; another user: 404.
    let r = app.call_json("get_k8s_job", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    // Stop: the bot ends FATAL and ECS is asked to stop the task, with Meeboter's reason.
    let r = app.call_json("stop_bot_resource", json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(bot_status(&app, id).await, "FATAL");
    let out = ecs.describe_tasks().cluster(CLUSTER).tasks(&arn).send().await.unwrap();
    assert_eq!(out.tasks()[0].desired_status(), Some("STOPPED"));
    assert_eq!(out.tasks()[0].stopped_reason(), Some("Stopped by Meeboter"));

    app.forget_cookie();
    app.sign_up("Bob", "bob@example.com").await;
    assert_eq!(app.call_json("get_aws_task", json!({ "id": id })).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_ecs_driver_stops_idempotently_and_lists_every_task_it_started() {
    let moto = Moto::start().await;
    moto.prepare_cluster().await;
    let app = ecs_app(&moto, &[]).await;
    let ecs: Arc<EcsPlatform> = app.state.platforms.driver().unwrap();
    ecs.probe().await.unwrap();

    let mut arns = Vec::new();
    for bot in 1..=105 {
        let p = [MeetingPlatform::GoogleMeet, MeetingPlatform::MicrosoftTeams, MeetingPlatform::Zoom][bot as usize % 3];
        arns.push(ecs.deploy(&launch(bot, p)).await.unwrap().identifier);
    }
    assert_eq!(ecs.status(&arns[0]).await.unwrap(), ResourceStatus::Running);
    ecs.stop(&arns[0]).await.unwrap();
    ecs.stop(&arns[0]).await.unwrap();

    let listed = ecs.list().await.unwrap();
    assert_eq!(listed.len(), 105, "running and stopped tasks, each once");
    let mut bots: Vec<i64> = listed.iter().filter_map(|r| r.bot_id).collect();
    bots.sort_unstable();
    assert_eq!(bots, (1..=105).collect::<Vec<_>>());
    // A task nobody started through Meeboter is not listed.
    let (subnets, group) = moto.default_network().await;
    let vpc = aws_sdk_ecs::types::AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets))
        .security_groups(group)
        .build()
        .unwrap();
    moto.ecs()
        .await
        .run_task()
        .cluster(CLUSTER)
        .task_definition("meeboter-zoom-bot")
        .started_by("someone-else")
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .network_configuration(aws_sdk_ecs::types::NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
        .send()
        .await
        .unwrap();
    assert_eq!(ecs.list().await.unwrap().len(), 105);
}

#[tokio::test]
async fn the_ecs_probe_and_calls_say_what_is_wrong() {
    let moto = Moto::start().await;
    // No cluster, no task definitions yet.
    let app = ecs_app(&moto, &[]).await;
    let ecs: Arc<EcsPlatform> = app.state.platforms.driver().unwrap();
    let e = ecs.probe().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Misconfigured, "{e}");
    assert!(e.message.contains("cluster meeboter"), "{e}");
    let e = ecs.deploy(&launch(1, MeetingPlatform::Zoom)).await.unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Misconfigured | ErrorKind::Rejected), "{e}");

    moto.ecs().await.create_cluster().cluster_name(CLUSTER).send().await.unwrap();
    let e = ecs.probe().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Misconfigured, "{e}");
    assert!(e.message.contains("AWS_ECS_TASK_DEF_GOOGLE_MEET"), "{e}");

    moto.prepare_cluster_definitions().await;
    ecs.probe().await.unwrap();
}

#[tokio::test]
async fn a_capacity_provider_strategy_places_the_task_instead_of_a_launch_type() {
    let moto = Moto::start().await;
    moto.prepare_cluster().await;
    let app = ecs_app(&moto, &[("AWS_ECS_CAPACITY_PROVIDERS", "FARGATE_SPOT:4,FARGATE:1")]).await;
    let ecs: Arc<EcsPlatform> = app.state.platforms.driver().unwrap();
    // The probe checks the cluster has the strategy's providers (real ECS refuses the task).
    let e = ecs.probe().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Misconfigured, "{e}");
    assert!(e.message.contains("FARGATE_SPOT, FARGATE"), "{e}");
    moto.ecs()
        .await
        .put_cluster_capacity_providers()
        .cluster(CLUSTER)
        .capacity_providers("FARGATE_SPOT")
        .capacity_providers("FARGATE")
        .set_default_capacity_provider_strategy(Some(Vec::new()))
        .send()
        .await
        .unwrap();
    ecs.probe().await.unwrap();
    let arn = ecs.deploy(&launch(7, MeetingPlatform::Zoom)).await.unwrap().identifier;
    let t = ecs.task_details(&arn).await.unwrap().unwrap();
    // moto places on the strategy's first provider; ECS itself would split by weight.
    assert_eq!(t.capacity_provider.as_deref(), Some("FARGATE_SPOT"));
    assert_eq!(t.launch_type, None);
    assert_eq!(t.containers[0].name, "zoom-bot");
}

/// `meeboter config check` proves the cluster and task definitions before an operator starts.
#[tokio::test]
async fn config_check_tries_ecs_and_names_what_is_missing() {
    let moto = Moto::start().await;
    let app = TestApp::new().await;
    let url = secrecy::ExposeSecret::expose_secret(&app.state.config.database_url).to_owned();
    let vars = moto.vars().await;
    let run = || {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_meeboter"));
        cmd.args(["config", "check"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MEEBOTER_ENV", "development")
            .env("DATABASE_URL", &url)
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .kill_on_drop(true);
        async move {
            let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output()).await.unwrap().unwrap();
            (
                out.status.success(),
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
            )
        }
    };
    let (ok, out) = run().await;
    assert!(!ok, "{out}");
    assert!(out.contains("platform aws") && out.contains("FAILED") && out.contains("misconfigured"), "{out}");
    assert!(out.contains("cluster meeboter was not found"), "{out}");
    assert!(!out.contains("testing"), "credentials are never printed: {out}");
    moto.prepare_cluster().await;
    let (ok, out) = run().await;
    assert!(ok, "{out}");
    assert!(out.contains("platform aws") && out.contains(" ok"), "{out}");
}
