//! What Meeboter asks Coolify for, as plain functions of a bot, a slot and the configuration:
//! slot names, the image, the create and update bodies, the slot's environment, the
//! descriptions operators see in Coolify's dashboard, and the reading of Coolify's statuses.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::client::POOL_PREFIX;
use crate::backend::config::CoolifyConfig;
use crate::backend::platforms::env::BotEnvironment;
use crate::backend::platforms::ResourceStatus;
use crate::model::bot::MeetingPlatform;

/// The port the bot images listen on.
pub const PORT: &str = "3000";

/// `pool-{meeting-platform}-NNN`.
pub fn slot_name(platform: MeetingPlatform, number: u32) -> String {
    format!("{POOL_PREFIX}{}-{number:03}", platform.as_str())
}

/// The number of a slot of `platform` named by [`slot_name`].
pub fn slot_number(name: &str, platform: MeetingPlatform) -> Option<u32> {
    let rest = name.strip_prefix(POOL_PREFIX)?.strip_prefix(platform.as_str())?.strip_prefix('-')?;
    (rest.len() == 3 && rest.chars().all(|c| c.is_ascii_digit())).then(|| rest.parse().ok()).flatten()
}

/// Whether `name` is a slot's name (`pool-{meeting platform}-NNN`): only such applications are
/// the pool's; the sync never touches anything else in the team.
pub fn is_slot_name(name: &str) -> bool {
    MeetingPlatform::ALL.iter().any(|p| slot_number(name, *p).is_some())
}

/// The lowest slot number (from 1) that none of `names` uses for `platform`.
pub fn first_free(names: &[String], platform: MeetingPlatform) -> u32 {
    let used: std::collections::BTreeSet<u32> = names.iter().filter_map(|n| slot_number(n, platform)).collect();
    (1..).find(|n| !used.contains(n)).unwrap_or(1)
}

/// The image name (without tag) and the tag of the bot for `platform`.
pub fn image(cfg: &CoolifyConfig, platform: MeetingPlatform) -> (String, String) {
    (format!("{}/meeboter-{}-bot", cfg.image_registry.trim_end_matches('/'), platform.as_str()), cfg.image_tag.clone())
}

/// `name:tag`, the key of the image pull lock.
pub fn image_ref(cfg: &CoolifyConfig, platform: MeetingPlatform) -> String {
    let (name, tag) = image(cfg, platform);
    format!("{name}:{tag}")
}

/// `POST /applications/dockerimage`: a stopped application for a new slot. Coolify's document
/// requires both environment fields (a real server needs one): both are sent.
pub fn create_body(
    cfg: &CoolifyConfig,
    environment_uuid: &str,
    platform: MeetingPlatform,
    name: &str,
    description: &str,
) -> Value {
    let (image_name, tag) = image(cfg, platform);
    let mut body = json!({
        "project_uuid": cfg.project_uuid.clone().unwrap_or_default(),
        "server_uuid": cfg.server_uuid.clone().unwrap_or_default(),
        "environment_name": cfg.environment_name,
        "environment_uuid": environment_uuid,
        "docker_registry_image_name": image_name,
        "docker_registry_image_tag": tag,
        "name": name,
        "description": description,
        "ports_exposes": PORT,
        "instant_deploy": false,
        "limits_cpus": cfg.bot_cpus,
        "limits_memory": cfg.bot_memory,
    });
    if let Some(d) = &cfg.destination_uuid {
        body["destination_uuid"] = json!(d);
    }
    body
}

/// `PATCH /applications/{uuid}`: the description, and the limits (re-applied at every use, so a
/// changed configuration reaches old slots).
pub fn update_body(cfg: &CoolifyConfig, description: &str) -> Value {
    json!({ "description": description, "limits_cpus": cfg.bot_cpus, "limits_memory": cfg.bot_memory })
}

/// `PATCH /applications/{uuid}/envs/bulk`: every variable literal (no `$` expansion) and not for
/// preview deployments.
pub fn envs_body(env: &BotEnvironment) -> Value {
    let data: Vec<Value> = env
        .all()
        .map(|(key, value)| json!({ "key": key, "value": value, "is_literal": true, "is_preview": false }))
        .collect();
    json!({ "data": data })
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The description of a slot being started for a bot.
pub fn deploying_description(bot_id: i64) -> String {
    format!("[DEPLOYING] Bot #{bot_id} - Starting container...")
}

/// The description of a slot whose bot runs.
pub fn busy_description(bot_id: i64, at: DateTime<Utc>) -> String {
    format!("[BUSY] Bot #{bot_id} - {}", iso(at))
}

/// The description of an idle slot.
pub fn idle_description(at: DateTime<Utc>) -> String {
    format!("[IDLE] Available - Last used: {}", iso(at))
}

/// The description of a slot in error.
pub fn error_description(message: &str, at: DateTime<Utc>) -> String {
    let short: String = message.chars().take(200).collect();
    format!("[ERROR] {short} - {}", iso(at))
}

/// A slot's status in `bot_pool_slots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStatus {
    Idle,
    Deploying,
    Healthy,
    Error,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Idle => "IDLE",
            SlotStatus::Deploying => "DEPLOYING",
            SlotStatus::Healthy => "HEALTHY",
            SlotStatus::Error => "ERROR",
        }
    }
}

/// Whether a deployment Coolify queued at `created_at` belongs to a slot use that began at
/// `since` (a minute of clock skew allowed). A start answers no deployment while one is already
/// queued or running; the application's latest deployment is then the one to follow, unless it
/// is an older use's.
pub fn deployment_of_this_use(created_at: Option<&str>, since: DateTime<Utc>) -> bool {
    created_at
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .is_some_and(|c| c.with_timezone(&Utc) >= since - chrono::Duration::seconds(60))
}

/// The first part of a Coolify status (`running` of `running:healthy`).
fn base(status: &str) -> String {
    status.split(':').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// What a Coolify application status means for the bot it runs: running, healthy, starting,
/// restarting (and degraded: partly running) is running; the rest has exited (Coolify gives no
/// exit code).
pub fn resource_status(status: &str) -> ResourceStatus {
    match base(status).as_str() {
        "running" | "healthy" | "starting" | "restarting" | "degraded" | "deploying" => ResourceStatus::Running,
        _ => ResourceStatus::Exited { code: None },
    }
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    InProgress,
    Finished,
    Failed,
}

/// A deployment's `status`: `queued` and `in_progress` are in progress, `finished` is done,
/// `failed` and `cancelled-by-user` (and anything unknown) failed.
pub fn progress(status: &str) -> Progress {
    match status.trim().to_ascii_lowercase().as_str() {
        "queued" | "in_progress" | "in-progress" => Progress::InProgress,
        "finished" => Progress::Finished,
        _ => Progress::Failed,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::backend::config::{Config, Vars};

    fn cfg(extra: &[(&str, &str)]) -> CoolifyConfig {
        let mut vars = vec![
            ("DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
            ("PLATFORM_PRIORITY", "coolify"),
            ("COOLIFY_BOT_LIMIT", "5"),
            ("COOLIFY_API_URL", "https://coolify.example.com/api/v1"),
            ("COOLIFY_API_TOKEN", "tok"),
            ("COOLIFY_PROJECT_UUID", "proj"),
            ("COOLIFY_SERVER_UUID", "srv"),
            ("COOLIFY_DESTINATION_UUID", "dest"),
            ("GHCR_ORG", "Acme"),
        ];
        vars.extend_from_slice(extra);
        Config::from_vars(&vars.into_iter().collect::<Vars>()).unwrap().coolify
    }

    #[test]
    fn slot_names_have_three_digits_and_numbers_are_reused_from_the_lowest_gap() {
        assert_eq!(slot_name(MeetingPlatform::GoogleMeet, 7), "pool-google-meet-007");
        assert_eq!(slot_number("pool-google-meet-007", MeetingPlatform::GoogleMeet), Some(7));
        assert_eq!(slot_number("pool-google-meet-007", MeetingPlatform::Zoom), None);
        assert_eq!(slot_number("pool-zoom-7", MeetingPlatform::Zoom), None);
        assert_eq!(slot_number("pool-zoom-0012", MeetingPlatform::Zoom), None);
        let names: Vec<String> =
            ["pool-zoom-001", "pool-zoom-003", "pool-google-meet-002", "other"].into_iter().map(String::from).collect();
        assert_eq!(first_free(&names, MeetingPlatform::Zoom), 2);
        assert_eq!(first_free(&names, MeetingPlatform::GoogleMeet), 1);
        assert_eq!(first_free(&[], MeetingPlatform::MicrosoftTeams), 1);
    }

    #[test]
    fn the_image_comes_from_the_registry_and_tag_settings() {
        assert_eq!(
            image(&cfg(&[]), MeetingPlatform::Zoom),
            ("ghcr.io/acme/meeboter-zoom-bot".to_owned(), "latest".to_owned())
        );
        let c = cfg(&[("COOLIFY_IMAGE_REGISTRY", "registry.example.com/bots/"), ("COOLIFY_IMAGE_TAG", "v2")]);
        assert_eq!(
            image_ref(&c, MeetingPlatform::MicrosoftTeams),
            "registry.example.com/bots/meeboter-microsoft-teams-bot:v2"
        );
    }

    #[test]
    fn the_create_body_has_both_environment_fields_limits_and_no_instant_deploy() {
        let body = create_body(&cfg(&[]), "env-1", MeetingPlatform::Zoom, "pool-zoom-001", "[IDLE] new");
        assert_eq!(body["project_uuid"], "proj");
        assert_eq!(body["server_uuid"], "srv");
        assert_eq!(body["destination_uuid"], "dest");
        assert_eq!(body["environment_name"], "production");
        assert_eq!(body["environment_uuid"], "env-1");
        assert_eq!(body["docker_registry_image_name"], "ghcr.io/acme/meeboter-zoom-bot");
        assert_eq!(body["docker_registry_image_tag"], "latest");
        assert_eq!(body["name"], "pool-zoom-001");
        assert_eq!(body["ports_exposes"], "3000");
        assert_eq!(body["instant_deploy"], false);
        assert_eq!(body["limits_cpus"], "1");
        assert_eq!(body["limits_memory"], "2048m");
        let mut c = cfg(&[("COOLIFY_BOT_CPUS", "0.5"), ("COOLIFY_BOT_MEMORY", "1g")]);
        c.destination_uuid = None;
        let body = create_body(&c, "env-1", MeetingPlatform::Zoom, "pool-zoom-001", "d");
        assert!(body.get("destination_uuid").is_none());
        assert_eq!(update_body(&c, "d"), json!({ "description": "d", "limits_cpus": "0.5", "limits_memory": "1g" }));
    }

    #[test]
    fn every_variable_is_literal() {
        let env = BotEnvironment {
            plain: vec![("POOL_SLOT_UUID", "u1".to_owned())],
            secret: vec![("MILO_AUTH_TOKEN", "mbt_$x".to_owned())],
        };
        assert_eq!(
            envs_body(&env),
            json!({ "data": [
                { "key": "POOL_SLOT_UUID", "value": "u1", "is_literal": true, "is_preview": false },
                { "key": "MILO_AUTH_TOKEN", "value": "mbt_$x", "is_literal": true, "is_preview": false },
            ] })
        );
    }

    #[test]
    fn descriptions_say_what_the_slot_does() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap();
        assert_eq!(deploying_description(42), "[DEPLOYING] Bot #42 - Starting container...");
        assert_eq!(busy_description(42, at), "[BUSY] Bot #42 - 2026-11-30T09:30:00Z");
        assert_eq!(idle_description(at), "[IDLE] Available - Last used: 2026-11-30T09:30:00Z");
        assert_eq!(error_description("stop failed", at), "[ERROR] stop failed - 2026-11-30T09:30:00Z");
    }

    #[test]
    fn coolify_statuses_map_to_resource_statuses() {
        assert_eq!(resource_status("running:healthy"), ResourceStatus::Running);
        assert_eq!(resource_status("running:unknown"), ResourceStatus::Running);
        assert_eq!(resource_status("starting:unknown"), ResourceStatus::Running);
        assert_eq!(resource_status("exited"), ResourceStatus::Exited { code: None });
        assert_eq!(resource_status("healthy"), ResourceStatus::Running);
        assert_eq!(resource_status("starting"), ResourceStatus::Running);
        assert_eq!(resource_status("restarting"), ResourceStatus::Running);
        assert_eq!(resource_status("exited:unhealthy"), ResourceStatus::Exited { code: None });
        assert_eq!(resource_status("stopped"), ResourceStatus::Exited { code: None });
    }

    #[test]
    fn only_slot_names_belong_to_the_pool() {
        assert!(is_slot_name("pool-zoom-001") && is_slot_name("pool-microsoft-teams-999"));
        for other in ["pool-zoom-1", "pool-webex-001", "pool-zoom-001-copy", "pool-", "my-app"] {
            assert!(!is_slot_name(other), "{other}");
        }
    }

    #[test]
    fn only_a_deployment_queued_for_this_use_is_followed() {
        let since: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
        assert!(deployment_of_this_use(Some("2026-11-30T09:59:30.000000Z"), since));
        assert!(deployment_of_this_use(Some("2026-11-30T10:05:00.000000Z"), since));
        assert!(!deployment_of_this_use(Some("2026-11-30T09:40:00.000000Z"), since), "an older use's");
        assert!(!deployment_of_this_use(None, since));
        assert!(!deployment_of_this_use(Some("yesterday"), since));
    }

    #[test]
    fn deployments_progress_from_queued_to_finished_or_failed() {
        assert_eq!(progress("queued"), Progress::InProgress);
        assert_eq!(progress("in_progress"), Progress::InProgress);
        assert_eq!(progress("finished"), Progress::Finished);
        assert_eq!(progress("failed"), Progress::Failed);
        assert_eq!(progress("cancelled-by-user"), Progress::Failed);
    }
}
