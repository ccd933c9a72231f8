//! The objects Meeboter asks Kubernetes for, as plain functions of a bot and the configuration:
//! one `batch/v1` Job per bot and a Secret with its credentials that the Job owns. Every object
//! made here is validated against the official schemas (`./dev test`).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, LocalObjectReference, PodSpec, PodTemplateSpec,
    ResourceRequirements, Secret, SecretEnvSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};

use crate::backend::config::K8sConfig;
use crate::backend::platforms::env::BotEnvironment;
use crate::backend::platforms::BotLaunch;
use crate::model::bot::MeetingPlatform;

/// `app` label of every bot Job and pod.
pub const APP: &str = "meeboter-bot";
/// The name of the bot's container.
pub const CONTAINER: &str = "bot";
/// Finished Jobs (and their pods and Secret) are removed by Kubernetes after this long.
pub const TTL_AFTER_FINISHED_SECS: i32 = 300;
/// Chromium needs a larger `/dev/shm` than a container's default 64 MiB.
pub const SHM_SIZE: &str = "512Mi";

/// The Job of a bot: one per bot, so a retried create is a conflict, never a second bot.
pub fn job_name(bot_id: i64) -> String {
    format!("bot-{bot_id}")
}

/// The Secret holding a bot's credentials.
pub fn secret_name(bot_id: i64) -> String {
    format!("bot-{bot_id}-env")
}

/// The bot id a Job of ours is named after.
pub fn bot_id_of(job_name: &str) -> Option<i64> {
    job_name.strip_prefix("bot-")?.parse().ok()
}

/// The image of the bot for one meeting platform.
pub fn image(cfg: &K8sConfig, platform: MeetingPlatform) -> String {
    format!("{}/meeboter-{}-bot:{}", cfg.image_registry.trim_end_matches('/'), platform.as_str(), cfg.image_tag)
}

/// The labels of a bot's Job, pod and Secret.
pub fn labels(bot: &BotLaunch) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app".to_owned(), APP.to_owned()),
        ("app.kubernetes.io/managed-by".to_owned(), "meeboter".to_owned()),
        ("botId".to_owned(), bot.bot_id.to_string()),
        ("platform".to_owned(), bot.meeting_platform.as_str().to_owned()),
    ])
}

/// Every bot Job Meeboter made.
pub fn all_bots_selector() -> String {
    format!("app={APP},app.kubernetes.io/managed-by=meeboter")
}

/// The pods of one Job (the Job controller labels them).
pub fn pods_selector(job_name: &str) -> String {
    format!("job-name={job_name}")
}

/// Events about one object.
pub fn events_selector(object_name: &str) -> String {
    format!("involvedObject.name={object_name}")
}

fn meta(name: String, cfg: &K8sConfig, bot: &BotLaunch) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(cfg.namespace.clone()),
        labels: Some(labels(bot)),
        ..ObjectMeta::default()
    }
}

/// The bot's secrets (`MILO_AUTH_TOKEN`, S3 keys), as `stringData`.
pub fn secret(bot: &BotLaunch, env: &BotEnvironment, cfg: &K8sConfig) -> Secret {
    Secret {
        metadata: meta(secret_name(bot.bot_id), cfg, bot),
        type_: Some("Opaque".to_owned()),
        string_data: Some(env.secret.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()),
        ..Secret::default()
    }
}

/// The bot's Job: plain values in `env`, secrets through `envFrom` the bot's Secret.
pub fn job(bot: &BotLaunch, env: &BotEnvironment, cfg: &K8sConfig) -> Job {
    let quantities = |cpu: &str, memory: &str| {
        Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ]))
    };
    let image = image(cfg, bot.meeting_platform);
    // A moving tag must be re-pulled; a fixed one is pulled once per node.
    let pull_policy = if cfg.image_tag == "latest" { "Always" } else { "IfNotPresent" };
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(image),
        image_pull_policy: Some(pull_policy.to_owned()),
        env: Some(
            env.plain
                .iter()
                .map(|(k, v)| EnvVar { name: (*k).to_owned(), value: Some(v.clone()), ..EnvVar::default() })
                .collect(),
        ),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: secret_name(bot.bot_id), optional: Some(false) }),
            ..EnvFromSource::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: quantities(&cfg.cpu_request, &cfg.memory_request),
            limits: quantities(&cfg.cpu_limit, &cfg.memory_limit),
            ..ResourceRequirements::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "dshm".to_owned(),
            mount_path: "/dev/shm".to_owned(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".to_owned()),
        // Bots talk to Meeboter's API, never to the cluster's.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        image_pull_secrets: cfg
            .image_pull_secret
            .as_ref()
            .map(|name| vec![LocalObjectReference { name: name.clone() }]),
        containers: vec![container],
        volumes: Some(vec![Volume {
            name: "dshm".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_owned()),
                size_limit: Some(Quantity(SHM_SIZE.to_owned())),
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    };
    Job {
        metadata: meta(job_name(bot.bot_id), cfg, bot),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(TTL_AFTER_FINISHED_SECS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(bot)), ..ObjectMeta::default() }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// The merge patch that makes the Job the owner of the bot's Secret, so Kubernetes deletes the
/// Secret with the Job (on stop, and when the Job's TTL ends).
pub fn owner_patch(job_name: &str, job_uid: &str) -> Value {
    json!({
        "metadata": {
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job_name,
                "uid": job_uid,
            }]
        }
    })
}
