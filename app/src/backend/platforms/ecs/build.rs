//! What the driver asks ECS for, as plain data (pure, unit-tested): the RunTask request for a
//! bot, and the names that tie a task to its bot.

use sha2::{Digest, Sha256};

use super::super::env::bot_environment;
use super::super::BotLaunch;
use crate::backend::config::{AwsConfig, CapacityProvider, S3Config};
use crate::model::bot::MeetingPlatform;

/// `startedBy` of every task Meeboter starts: ListTasks filters on it.
pub const STARTED_BY: &str = "meeboter";
/// Why Meeboter stops a task (StopTask's reason, shown in the console and DescribeTasks).
pub const STOP_REASON: &str = "Stopped by Meeboter";

/// How a task is placed: a launch type, or a capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Fargate,
    Strategy(Vec<CapacityProvider>),
}

/// One RunTask request, before it becomes SDK types. Its `Debug` leaves out the environment's
/// values (the bot token, S3 keys).
#[derive(Clone, PartialEq, Eq)]
pub struct RunTaskPlan {
    pub cluster: String,
    pub task_definition: String,
    pub placement: Placement,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    /// The container in the task definition that gets the environment.
    pub container: String,
    pub environment: Vec<(String, String)>,
    pub started_by: &'static str,
    pub tags: Vec<(&'static str, String)>,
    /// Idempotency: the same deployment retried by the SDK starts one task, not two.
    pub client_token: String,
}

impl std::fmt::Debug for RunTaskPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.environment.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RunTaskPlan")
            .field("cluster", &self.cluster)
            .field("task_definition", &self.task_definition)
            .field("placement", &self.placement)
            .field("subnets", &self.subnets)
            .field("security_groups", &self.security_groups)
            .field("assign_public_ip", &self.assign_public_ip)
            .field("container", &self.container)
            .field("environment", &names)
            .field("started_by", &self.started_by)
            .field("tags", &self.tags)
            .field("client_token", &self.client_token)
            .finish()
    }
}

/// The task definition configured for a meeting platform.
pub fn task_definition(cfg: &AwsConfig, platform: MeetingPlatform) -> Option<&str> {
    match platform {
        MeetingPlatform::GoogleMeet => cfg.task_def_google_meet.as_deref(),
        MeetingPlatform::MicrosoftTeams => cfg.task_def_microsoft_teams.as_deref(),
        MeetingPlatform::Zoom => cfg.task_def_zoom.as_deref(),
    }
}

/// Every configured task definition, with the variable that names it.
pub fn task_definitions(cfg: &AwsConfig) -> Vec<(&'static str, &str)> {
    [
        ("AWS_ECS_TASK_DEF_GOOGLE_MEET", cfg.task_def_google_meet.as_deref()),
        ("AWS_ECS_TASK_DEF_MICROSOFT_TEAMS", cfg.task_def_microsoft_teams.as_deref()),
        ("AWS_ECS_TASK_DEF_ZOOM", cfg.task_def_zoom.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

/// The bot container's name in each meeting platform's task definition: `google-meet-bot`.
pub fn container_name(platform: MeetingPlatform) -> String {
    format!("{}-bot", platform.as_str())
}

/// A client token (at most 64 ASCII characters) unique to this deployment of the bot: each
/// deployment issues a new bot token, so a redeployment gets a new task while the SDK's retries
/// of one RunTask share a token.
pub fn client_token(bot_id: i64, token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("meeboter-{bot_id}-{}", &hex::encode(digest)[..24])
}

/// The RunTask request that starts `bot`.
pub fn run_task(cfg: &AwsConfig, cluster: &str, bot: &BotLaunch, s3: Option<&S3Config>) -> Option<RunTaskPlan> {
    let task_definition = task_definition(cfg, bot.meeting_platform)?.to_owned();
    let environment = bot_environment(bot, s3).all().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    Some(RunTaskPlan {
        cluster: cluster.to_owned(),
        task_definition,
        placement: if cfg.capacity_providers.is_empty() {
            Placement::Fargate
        } else {
            Placement::Strategy(cfg.capacity_providers.clone())
        },
        subnets: cfg.subnets.clone(),
        security_groups: cfg.security_groups.clone(),
        assign_public_ip: cfg.assign_public_ip,
        container: container_name(bot.meeting_platform),
        environment,
        started_by: STARTED_BY,
        tags: vec![
            ("app", "meeboter-bot".to_owned()),
            ("botId", bot.bot_id.to_string()),
            ("platform", bot.meeting_platform.as_str().to_owned()),
        ],
        client_token: client_token(bot.bot_id, &bot.token),
    })
}

/// ECS itself does not fall back from Spot: a strategy of FARGATE_SPOT and FARGATE splits tasks
/// by weight, and a Spot capacity failure places no task. When the operator's strategy lists
/// FARGATE beside other providers, a capacity failure is retried once on FARGATE alone (with
/// its own client token, since the request differs).
pub fn on_demand_fallback(plan: &RunTaskPlan) -> Option<RunTaskPlan> {
    let Placement::Strategy(items) = &plan.placement else { return None };
    if items.len() < 2 || !items.iter().any(|c| c.name == "FARGATE") {
        return None;
    }
    let mut fallback = plan.clone();
    fallback.placement = Placement::Strategy(vec![CapacityProvider { name: "FARGATE".into(), weight: 1, base: 0 }]);
    fallback.client_token = format!("{}-od", plan.client_token);
    Some(fallback)
}

/// The bot a task belongs to, from its `botId` tag.
pub fn bot_of<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<i64> {
    tags.into_iter().find(|(k, _)| *k == "botId").and_then(|(_, v)| v.parse().ok())
}

/// Whether `identifier` is a whole task ARN. ECS (and its emulator) match a partial id by
/// suffix, so an empty or partial identifier must never reach StopTask or DescribeTasks.
pub fn is_task_arn(identifier: &str) -> bool {
    identifier.starts_with("arn:") && identifier.contains(":task/") && !task_id(identifier).is_empty()
}

/// The task id: the last part of a task ARN (`arn:aws:ecs:region:acct:task/cluster/ID`).
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AwsConfig {
        AwsConfig {
            region: Some("eu-west-1".into()),
            static_credentials: None,
            endpoint_url: None,
            cluster: Some("bots".into()),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: true,
            task_def_google_meet: Some("meeboter-google-meet-bot".into()),
            task_def_microsoft_teams: Some("meeboter-microsoft-teams-bot:3".into()),
            task_def_zoom: None,
            capacity_providers: Vec::new(),
            bot_limit: Some(10),
            queue_timeout: std::time::Duration::from_secs(30),
        }
    }

    fn bot(platform: MeetingPlatform) -> BotLaunch {
        BotLaunch {
            bot_id: 42,
            meeting_platform: platform,
            token: "mbt_secret".into(),
            milo_url: "https://meeboter.example.com".into(),
        }
    }

    #[test]
    fn a_meet_bot_runs_its_task_definition_on_fargate_with_its_environment_and_tags() {
        let plan = run_task(&cfg(), "bots", &bot(MeetingPlatform::GoogleMeet), None).unwrap();
        assert_eq!(plan.task_definition, "meeboter-google-meet-bot");
        assert_eq!(plan.placement, Placement::Fargate);
        assert_eq!(plan.container, "google-meet-bot");
        assert_eq!(plan.started_by, "meeboter");
        let env: Vec<&str> = plan.environment.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            env,
            ["BOT_ID", "MILO_URL", "DOCKER_MEETING_PLATFORM", "NODE_ENV", "RECORDING_UPLOAD_URL", "MILO_AUTH_TOKEN"]
        );
        assert!(plan.environment.contains(&("BOT_ID".into(), "42".into())));
        assert!(!format!("{plan:?}").contains("mbt_secret"), "Debug never shows the token");
        assert!(plan.tags.contains(&("botId", "42".into())));
        assert_eq!(bot_of(plan.tags.iter().map(|(k, v)| (*k, v.as_str()))), Some(42));
        assert_eq!(plan.subnets, ["subnet-a", "subnet-b"]);
    }

    #[test]
    fn a_capacity_provider_strategy_replaces_the_launch_type() {
        let mut c = cfg();
        c.capacity_providers = CapacityProvider::parse_list("FARGATE_SPOT:4,FARGATE:1:1").unwrap();
        let plan = run_task(&c, "bots", &bot(MeetingPlatform::MicrosoftTeams), None).unwrap();
        assert_eq!(
            plan.placement,
            Placement::Strategy(vec![
                CapacityProvider { name: "FARGATE_SPOT".into(), weight: 4, base: 0 },
                CapacityProvider { name: "FARGATE".into(), weight: 1, base: 1 },
            ])
        );
        assert_eq!(plan.container, "microsoft-teams-bot");
        let fallback = on_demand_fallback(&plan).unwrap();
        assert_eq!(
            fallback.placement,
            Placement::Strategy(vec![CapacityProvider { name: "FARGATE".into(), weight: 1, base: 0 }])
        );
        assert_ne!(fallback.client_token, plan.client_token);
        assert!(on_demand_fallback(&fallback).is_none(), "FARGATE alone has nothing to fall back to");
        c.capacity_providers = CapacityProvider::parse_list("FARGATE_SPOT:1").unwrap();
        assert!(on_demand_fallback(
            &run_task(&c, "b", &bot(MeetingPlatform::Zoom), None)
                .unwrap_or_else(|| { run_task(&c, "b", &bot(MeetingPlatform::GoogleMeet), None).unwrap() })
        )
        .is_none());
        assert!(on_demand_fallback(&run_task(&cfg(), "b", &bot(MeetingPlatform::GoogleMeet), None).unwrap()).is_none());
    }

    #[test]
    fn a_meeting_platform_without_a_task_definition_has_no_plan() {
        assert!(run_task(&cfg(), "bots", &bot(MeetingPlatform::Zoom), None).is_none());
        assert_eq!(task_definitions(&cfg()).len(), 2);
    }

    #[test]
    fn the_client_token_is_stable_per_deployment_and_new_for_the_next() {
        let a = client_token(42, "mbt_one");
        assert_eq!(a, client_token(42, "mbt_one"));
        assert_ne!(a, client_token(42, "mbt_two"));
        assert!(a.len() <= 64 && a.is_ascii());
        assert!(!a.contains("mbt_one"), "the token itself never leaves in the client token");
    }

    #[test]
    fn capacity_provider_lists_are_checked() {
        assert!(CapacityProvider::parse_list("FARGATE_SPOT").is_err());
        assert!(CapacityProvider::parse_list("FARGATE_SPOT:x").is_err());
        assert!(CapacityProvider::parse_list("FARGATE_SPOT:0").is_err());
        assert!(CapacityProvider::parse_list("A:1:1,B:1:1").is_err());
        assert!(CapacityProvider::parse_list("A:1001").is_err());
        assert_eq!(CapacityProvider::parse_list(" ").unwrap(), Vec::new());
    }

    #[test]
    fn only_whole_task_arns_are_identifiers() {
        assert!(is_task_arn("arn:aws:ecs:eu-west-1:123456789012:task/bots/0f1e2d3c4b5a"));
        for bad in ["", "0f1e2d3c4b5a", "arn:aws:ecs:eu-west-1:123456789012:task/bots/", "bot-42"] {
            assert!(!is_task_arn(bad), "{bad}");
        }
    }

    #[test]
    fn task_ids_come_from_the_arn() {
        assert_eq!(task_id("arn:aws:ecs:eu-west-1:123456789012:task/bots/0f1e2d3c4b5a"), "0f1e2d3c4b5a");
        assert_eq!(task_id("plain"), "plain");
    }
}
