//! Per-platform settings and the `PLATFORM_PRIORITY` rules of the hybrid deployer:
//! the list is required, each listed platform needs a `*_BOT_LIMIT` (platforms without one are
//! skipped with a warning, but at least one must remain), and `local` is refused in production.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{ConfigErrors, RunMode, Vars, REDACTED};
use crate::model::platform::DeploymentPlatform;

/// A platform the deployer may use, in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSlot {
    pub platform: DeploymentPlatform,
    pub limit: u32,
    pub queue_timeout: Duration,
}

/// Kubernetes Jobs.
#[derive(Debug, Clone)]
pub struct K8sConfig {
    pub namespace: String,
    pub kubeconfig: Option<String>,
    pub image_registry: String,
    pub image_tag: String,
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
    pub image_pull_secret: Option<String>,
    pub image_pull_lock_enabled: bool,
    pub bot_limit: Option<u32>,
    pub queue_timeout: Duration,
}

/// AWS ECS tasks.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` when set; otherwise
    /// the rest of the standard AWS chain (profile, web identity, ECS task role, IMDS).
    pub static_credentials: Option<AwsStaticCredentials>,
    pub endpoint_url: Option<Url>,
    pub cluster: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    pub task_def_google_meet: Option<String>,
    pub task_def_microsoft_teams: Option<String>,
    pub task_def_zoom: Option<String>,
    /// `AWS_ECS_CAPACITY_PROVIDERS`: a capacity provider strategy used instead of launch type
    /// FARGATE when set (e.g. FARGATE_SPOT with FARGATE as fallback).
    pub capacity_providers: Vec<CapacityProvider>,
    pub bot_limit: Option<u32>,
    pub queue_timeout: Duration,
}

/// Credentials given as variables (the first link of the standard AWS chain).
#[derive(Debug, Clone)]
pub struct AwsStaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

/// One entry of an ECS capacity provider strategy (`name:weight[:base]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityProvider {
    pub name: String,
    pub weight: i32,
    pub base: i32,
}

impl CapacityProvider {
    /// Parses `FARGATE_SPOT:4,FARGATE:1:1` (weight 0..=1000, base 0..=100000, as ECS allows).
    pub fn parse_list(raw: &str) -> Result<Vec<CapacityProvider>, String> {
        let mut out = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parts: Vec<&str> = item.split(':').collect();
            let bad = || format!("'{item}' is not name:weight[:base], e.g. FARGATE_SPOT:4,FARGATE:1:1");
            if parts.len() < 2 || parts.len() > 3 || parts[0].is_empty() {
                return Err(bad());
            }
            let weight: i32 = parts[1].parse().map_err(|_| bad())?;
            let base: i32 = parts.get(2).map(|b| b.parse()).transpose().map_err(|_| bad())?.unwrap_or(0);
            if !(0..=1000).contains(&weight) || !(0..=100_000).contains(&base) {
                return Err(format!("'{item}': weight must be 0 to 1000 and base 0 to 100000"));
            }
            out.push(CapacityProvider { name: parts[0].to_owned(), weight, base });
        }
        if !out.is_empty() && out.iter().all(|c| c.weight == 0) {
            return Err("at least one capacity provider needs a weight above 0".to_owned());
        }
        if out.iter().filter(|c| c.base > 0).count() > 1 {
            return Err("only one capacity provider may have a base".to_owned());
        }
        Ok(out)
    }
}

/// The Coolify pool.
#[derive(Debug, Clone)]
pub struct CoolifyConfig {
    pub api_url: Option<Url>,
    pub api_token: Option<SecretString>,
    pub project_uuid: Option<String>,
    pub server_uuid: Option<String>,
    pub environment_name: String,
    pub destination_uuid: Option<String>,
    /// Where the bot images are (`{registry}/meeboter-{platform}-bot:{tag}`).
    pub image_registry: String,
    pub image_tag: String,
    /// Each slot's container limits, in Docker's notation (`1`, `0.5`; `2048m`, `2g`).
    pub bot_cpus: String,
    pub bot_memory: String,
    pub bot_limit: Option<u32>,
    pub queue_timeout: Duration,
}

/// Simulated bots as child processes of this server (development only).
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub bot_limit: Option<u32>,
    pub queue_timeout: Duration,
}

const K8S_CPU_DEFAULTS: (&str, &str) = ("500m", "1000m");
const K8S_MEMORY_DEFAULTS: (&str, &str) = ("1Gi", "2Gi");

impl K8sConfig {
    pub(super) fn read(vars: &Vars, errs: &mut ConfigErrors, ghcr_org: &str) -> Self {
        let quantity = |errs: &mut ConfigErrors, key: &str, default: &str| {
            let v = vars.get(key).unwrap_or_else(|| default.to_owned());
            if !is_k8s_quantity(&v) {
                errs.push(key, format!("'{v}' is not a Kubernetes quantity, e.g. {default}"));
            }
            v
        };
        K8sConfig {
            namespace: vars.get("K8S_NAMESPACE").unwrap_or_else(|| "meeboter".to_owned()),
            kubeconfig: vars.get("K8S_KUBECONFIG"),
            image_registry: vars
                .get("K8S_IMAGE_REGISTRY")
                .unwrap_or_else(|| format!("ghcr.io/{}", ghcr_org.to_lowercase())),
            image_tag: vars.get("K8S_IMAGE_TAG").unwrap_or_else(|| "latest".to_owned()),
            cpu_request: quantity(errs, "K8S_BOT_CPU_REQUEST", K8S_CPU_DEFAULTS.0),
            cpu_limit: quantity(errs, "K8S_BOT_CPU_LIMIT", K8S_CPU_DEFAULTS.1),
            memory_request: quantity(errs, "K8S_BOT_MEMORY_REQUEST", K8S_MEMORY_DEFAULTS.0),
            memory_limit: quantity(errs, "K8S_BOT_MEMORY_LIMIT", K8S_MEMORY_DEFAULTS.1),
            image_pull_secret: vars.get("K8S_IMAGE_PULL_SECRET"),
            image_pull_lock_enabled: vars.boolean(errs, "K8S_IMAGE_PULL_LOCK_ENABLED", true),
            bot_limit: vars.optional_number(errs, "K8S_BOT_LIMIT", 1..=100_000),
            queue_timeout: vars.millis(errs, "K8S_QUEUE_TIMEOUT_MS", 60_000),
        }
    }

    pub(super) fn describe(&self, row: &mut impl FnMut(&str, String)) {
        row("K8S_NAMESPACE", self.namespace.clone());
        row("K8S_KUBECONFIG", self.kubeconfig.clone().unwrap_or_else(|| "(in-cluster or default)".to_owned()));
        row("K8S_IMAGE_REGISTRY", self.image_registry.clone());
        row("K8S_IMAGE_TAG", self.image_tag.clone());
        row("K8S_BOT_CPU_REQUEST/LIMIT", format!("{}/{}", self.cpu_request, self.cpu_limit));
        row("K8S_BOT_MEMORY_REQUEST/LIMIT", format!("{}/{}", self.memory_request, self.memory_limit));
        row("K8S_IMAGE_PULL_SECRET", self.image_pull_secret.clone().unwrap_or_else(|| "(none)".to_owned()));
        row("K8S_IMAGE_PULL_LOCK_ENABLED", self.image_pull_lock_enabled.to_string());
    }
}

impl AwsConfig {
    pub(super) fn read(vars: &Vars, errs: &mut ConfigErrors) -> Self {
        let endpoint_url =
            vars.get("AWS_ENDPOINT_URL").map(|_| vars.url(errs, "AWS_ENDPOINT_URL", "http://127.0.0.1:5055"));
        let static_credentials = match (vars.get("AWS_ACCESS_KEY_ID"), vars.get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret)) => Some(AwsStaticCredentials {
                access_key_id,
                secret_access_key: SecretString::from(secret),
                session_token: vars.get("AWS_SESSION_TOKEN").map(SecretString::from),
            }),
            (Some(_), None) => {
                errs.push("AWS_SECRET_ACCESS_KEY", "is required when AWS_ACCESS_KEY_ID is set");
                None
            }
            (None, Some(_)) => {
                errs.push("AWS_ACCESS_KEY_ID", "is required when AWS_SECRET_ACCESS_KEY is set");
                None
            }
            (None, None) => None,
        };
        AwsConfig {
            region: vars.get("AWS_REGION"),
            static_credentials,
            endpoint_url,
            cluster: vars.get("AWS_ECS_CLUSTER"),
            subnets: vars.list("AWS_ECS_SUBNETS"),
            security_groups: vars.list("AWS_ECS_SECURITY_GROUPS"),
            assign_public_ip: vars.boolean(errs, "AWS_ECS_ASSIGN_PUBLIC_IP", true),
            task_def_google_meet: vars.get("AWS_ECS_TASK_DEF_GOOGLE_MEET"),
            task_def_microsoft_teams: vars.get("AWS_ECS_TASK_DEF_MICROSOFT_TEAMS"),
            task_def_zoom: vars.get("AWS_ECS_TASK_DEF_ZOOM"),
            capacity_providers: vars
                .get("AWS_ECS_CAPACITY_PROVIDERS")
                .map(|raw| {
                    CapacityProvider::parse_list(&raw).unwrap_or_else(|e| {
                        errs.push("AWS_ECS_CAPACITY_PROVIDERS", e);
                        Vec::new()
                    })
                })
                .unwrap_or_default(),
            bot_limit: vars.optional_number(errs, "AWS_BOT_LIMIT", 1..=100_000),
            queue_timeout: vars.millis(errs, "AWS_QUEUE_TIMEOUT_MS", 30_000),
        }
    }

    fn check_enabled(&self, errs: &mut ConfigErrors) {
        let required = [
            ("AWS_REGION", self.region.is_some()),
            ("AWS_ECS_CLUSTER", self.cluster.is_some()),
            ("AWS_ECS_SUBNETS", !self.subnets.is_empty()),
            ("AWS_ECS_SECURITY_GROUPS", !self.security_groups.is_empty()),
            ("AWS_ECS_TASK_DEF_GOOGLE_MEET", self.task_def_google_meet.is_some()),
            ("AWS_ECS_TASK_DEF_MICROSOFT_TEAMS", self.task_def_microsoft_teams.is_some()),
            ("AWS_ECS_TASK_DEF_ZOOM", self.task_def_zoom.is_some()),
        ];
        for (key, present) in required {
            if !present {
                errs.push(key, "is required because 'aws' is in PLATFORM_PRIORITY");
            }
        }
    }

    pub(super) fn describe(&self, row: &mut impl FnMut(&str, String)) {
        if let Some(r) = &self.region {
            row("AWS_REGION", r.clone());
            row("AWS_ECS_CLUSTER", self.cluster.clone().unwrap_or_default());
            row("AWS_ECS_SUBNETS", self.subnets.join(","));
            row("AWS_ECS_SECURITY_GROUPS", self.security_groups.join(","));
            let placement = if self.capacity_providers.is_empty() {
                "launch type FARGATE".to_owned()
            } else {
                let s: Vec<String> =
                    self.capacity_providers.iter().map(|c| format!("{}:{}:{}", c.name, c.weight, c.base)).collect();
                s.join(",")
            };
            row("AWS_ECS_CAPACITY_PROVIDERS", placement);
        }
        if let Some(e) = &self.endpoint_url {
            row("AWS_ENDPOINT_URL", e.to_string());
        }
    }
}

impl CoolifyConfig {
    pub(super) fn read(vars: &Vars, errs: &mut ConfigErrors, ghcr_org: &str) -> Self {
        let api_url = vars
            .get("COOLIFY_API_URL")
            .map(|_| vars.url(errs, "COOLIFY_API_URL", "https://coolify.example.com/api/v1"));
        let bot_cpus = vars.get("COOLIFY_BOT_CPUS").unwrap_or_else(|| "1".to_owned());
        if !is_docker_cpus(&bot_cpus) {
            errs.push("COOLIFY_BOT_CPUS", format!("'{bot_cpus}' is not a number of CPUs, e.g. 1 or 0.5"));
        }
        let bot_memory = vars.get("COOLIFY_BOT_MEMORY").unwrap_or_else(|| "2048m".to_owned());
        if !is_docker_memory(&bot_memory) {
            errs.push("COOLIFY_BOT_MEMORY", format!("'{bot_memory}' is not a Docker memory size, e.g. 2048m or 2g"));
        }
        let image_tag = vars.get("COOLIFY_IMAGE_TAG").unwrap_or_else(|| "latest".to_owned());
        if image_tag.is_empty() || image_tag.contains(['/', ':', ' ']) {
            errs.push("COOLIFY_IMAGE_TAG", format!("'{image_tag}' is not an image tag, e.g. latest or v1.2.3"));
        }
        CoolifyConfig {
            api_url,
            api_token: vars.get("COOLIFY_API_TOKEN").map(SecretString::from),
            project_uuid: vars.get("COOLIFY_PROJECT_UUID"),
            server_uuid: vars.get("COOLIFY_SERVER_UUID"),
            environment_name: vars.get("COOLIFY_ENVIRONMENT_NAME").unwrap_or_else(|| "production".to_owned()),
            destination_uuid: vars.get("COOLIFY_DESTINATION_UUID"),
            image_registry: vars
                .get("COOLIFY_IMAGE_REGISTRY")
                .unwrap_or_else(|| format!("ghcr.io/{}", ghcr_org.to_lowercase())),
            image_tag,
            bot_cpus,
            bot_memory,
            bot_limit: vars.optional_number(errs, "COOLIFY_BOT_LIMIT", 1..=999),
            queue_timeout: vars.millis(errs, "COOLIFY_QUEUE_TIMEOUT_MS", 300_000),
        }
    }

    fn check_enabled(&self, errs: &mut ConfigErrors) {
        let required = [
            ("COOLIFY_API_URL", self.api_url.is_some()),
            ("COOLIFY_API_TOKEN", self.api_token.is_some()),
            ("COOLIFY_PROJECT_UUID", self.project_uuid.is_some()),
            ("COOLIFY_SERVER_UUID", self.server_uuid.is_some()),
        ];
        for (key, present) in required {
            if !present {
                errs.push(key, "is required because 'coolify' is in PLATFORM_PRIORITY");
            }
        }
    }

    pub(super) fn describe(&self, row: &mut impl FnMut(&str, String)) {
        if let Some(u) = &self.api_url {
            row("COOLIFY_API_URL", u.to_string());
            row("COOLIFY_API_TOKEN", REDACTED.to_owned());
            row("COOLIFY_ENVIRONMENT_NAME", self.environment_name.clone());
            row("COOLIFY_IMAGE_REGISTRY", self.image_registry.clone());
            row("COOLIFY_IMAGE_TAG", self.image_tag.clone());
            row("COOLIFY_BOT_CPUS/MEMORY", format!("{}/{}", self.bot_cpus, self.bot_memory));
        }
    }
}

impl LocalConfig {
    pub(super) fn read(vars: &Vars, errs: &mut ConfigErrors, mode: RunMode) -> Self {
        // In development the local platform works out of the box.
        let default_limit = (mode == RunMode::Development).then_some(20);
        LocalConfig {
            bot_limit: vars.optional_number(errs, "LOCAL_BOT_LIMIT", 1..=1_000).or(default_limit),
            queue_timeout: vars.millis(errs, "LOCAL_QUEUE_TIMEOUT_MS", 30_000),
        }
    }

    pub(super) fn describe(&self, _row: &mut impl FnMut(&str, String)) {}
}

/// `SIMULATED_PLATFORM_URL`: where the `bot-sim --fleet` host listens, refused in production.
pub(super) fn read_simulated_url(vars: &Vars, errs: &mut ConfigErrors, mode: RunMode) -> Option<Url> {
    const KEY: &str = "SIMULATED_PLATFORM_URL";
    vars.get(KEY)?;
    if mode == RunMode::Production {
        errs.push(
            KEY,
            "simulated platforms are not allowed in production; unset it, or set MEEBOTER_ENV=development for a soak test",
        );
        return None;
    }
    Some(vars.url(errs, KEY, "http://127.0.0.1:9400"))
}

/// Applies the validation rules of the hybrid deployer to `PLATFORM_PRIORITY`. With
/// `simulated`, the fleet host stands in for k8s, aws and coolify, so their connection settings
/// are not required (their limits and queue timeouts still are used).
#[expect(clippy::too_many_arguments, reason = "one reader per platform, passed as they are read")]
pub(super) fn resolve_priority(
    vars: &Vars,
    errs: &mut ConfigErrors,
    mode: RunMode,
    k8s: &K8sConfig,
    aws: &AwsConfig,
    coolify: &CoolifyConfig,
    local: &LocalConfig,
    simulated: bool,
) -> (Vec<PlatformSlot>, Vec<DeploymentPlatform>) {
    const KEY: &str = "PLATFORM_PRIORITY";
    let names = match vars.get(KEY) {
        Some(_) => vars.list(KEY),
        None if mode == RunMode::Development => vec!["local".to_owned()],
        None => Vec::new(),
    };
    if names.is_empty() {
        errs.push(KEY, "is required: a comma-separated list of k8s, aws, coolify (e.g. k8s,aws,coolify)");
        return (Vec::new(), Vec::new());
    }
    let mut slots = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = Vec::new();
    for name in &names {
        let Some(platform) = DeploymentPlatform::parse(name) else {
            errs.push(KEY, format!("'{name}' is not a platform; use k8s, aws, coolify (or local in development)"));
            continue;
        };
        if seen.contains(&platform) {
            errs.push(KEY, format!("'{name}' is listed twice"));
            continue;
        }
        seen.push(platform);
        if platform == DeploymentPlatform::Local && mode == RunMode::Production {
            errs.push(
                KEY,
                "'local' is not allowed in production; set MEEBOTER_ENV=development for local bots, or use k8s, aws, coolify",
            );
            continue;
        }
        let (limit, queue_timeout) = match platform {
            DeploymentPlatform::K8s => (k8s.bot_limit, k8s.queue_timeout),
            DeploymentPlatform::Aws => (aws.bot_limit, aws.queue_timeout),
            DeploymentPlatform::Coolify => (coolify.bot_limit, coolify.queue_timeout),
            DeploymentPlatform::Local => (local.bot_limit, local.queue_timeout),
        };
        match limit {
            Some(limit) => {
                match platform {
                    _ if simulated => {}
                    DeploymentPlatform::Aws => aws.check_enabled(errs),
                    DeploymentPlatform::Coolify => coolify.check_enabled(errs),
                    DeploymentPlatform::K8s | DeploymentPlatform::Local => {}
                }
                slots.push(PlatformSlot { platform, limit, queue_timeout });
            }
            None => skipped.push(platform),
        }
    }
    if slots.is_empty() && !errs.mentions(KEY) {
        let wanted = skipped.iter().map(|p| format!("{}_BOT_LIMIT", p.env_prefix())).collect::<Vec<_>>().join(" or ");
        errs.push(KEY, format!("no listed platform has a limit: set {wanted}"));
    }
    (slots, skipped)
}

/// A Kubernetes resource quantity such as `500m`, `1`, `1.5`, `2Gi`, `512Mi`.
pub fn is_k8s_quantity(s: &str) -> bool {
    const SUFFIXES: [&str; 14] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E", ""];
    SUFFIXES.iter().any(|suf| {
        s.strip_suffix(suf).is_some_and(|num| {
            !num.is_empty()
                && num.chars().all(|c| c.is_ascii_digit() || c == '.')
                && num.chars().filter(|&c| c == '.').count() <= 1
                && num.chars().any(|c| c.is_ascii_digit())
        })
    })
}

/// A Docker CPU limit (`--cpus`): a positive decimal number such as `1` or `0.5`.
pub fn is_docker_cpus(s: &str) -> bool {
    s.parse::<f64>().is_ok_and(|n| n > 0.0 && n.is_finite()) && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// A Docker memory size (`--memory`): digits with an optional unit b, k, m or g (`2048m`, `2g`).
pub fn is_docker_memory(s: &str) -> bool {
    let digits = s.strip_suffix(['b', 'k', 'm', 'g', 'B', 'K', 'M', 'G']).unwrap_or(s);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && digits.parse::<u64>().is_ok_and(|n| n > 0)
}
