//! Typed configuration, read once from the environment at start-up and validated.
//!
//! Every problem is collected (not just the first) and reported with the variable's name and
//! the fix, so an operator mends a broken deployment in one pass. `Config::describe` renders the
//! resolved values for `meeboter config check`, with secrets redacted.

mod parse;
mod platforms;
mod prices;
mod webhooks;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use parse::{ConfigError, ConfigErrors, Vars};
pub use platforms::{
    AwsConfig, AwsStaticCredentials, CapacityProvider, CoolifyConfig, K8sConfig, LocalConfig, PlatformSlot,
};
pub use prices::Prices;
pub use webhooks::WebhookConfig;

use crate::model::platform::DeploymentPlatform;

/// Development allows the `local` platform and pretty logs; production refuses `local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Development,
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Who may create an account (`SIGNUP_MODE`). The very first account (the administrator) can
/// always be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupMode {
    /// Anyone may sign up.
    Open,
    /// Only with an invitation from the administrator.
    Invite,
    /// Nobody after the first account.
    Closed,
}

impl SignupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Invite => "invite",
            SignupMode::Closed => "closed",
        }
    }
}

/// The live stream of pages (`GET /api/live`, docs/ARCHITECTURE.md "Live updates").
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Open streams one user may hold on one replica (`LIVE_STREAMS_PER_USER`); more get 429.
    pub streams_per_user: usize,
    /// Changes buffered per stream (`LIVE_EVENT_BUFFER`); a stream that falls further behind
    /// is told to resynchronise.
    pub event_buffer: usize,
    /// How often an open stream checks that its session still exists (`LIVE_SESSION_RECHECK_SECS`).
    pub session_recheck: Duration,
}

/// S3 (or MinIO) object storage; absent means a local directory.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub endpoint: Url,
    pub region: String,
    pub bucket: String,
    pub access_key: SecretString,
    pub secret_key: SecretString,
    pub force_path_style: bool,
}

/// The whole resolved configuration of a meeboter process.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: RunMode,
    pub log_format: LogFormat,
    pub database_url: SecretString,
    pub database_pool_size: usize,
    /// Connections per process kept for the bot API (`DATABASE_BOT_POOL_SIZE`), apart from the
    /// main pool, so people's and workers' requests can never starve bots' heartbeats and reports.
    pub database_bot_pool_size: usize,
    /// The URL people use in a browser; decides whether cookies are `Secure`.
    pub app_origin_url: Url,
    /// The URL bot containers use to reach this server (`MILO_URL` in their environment).
    pub milo_url: Url,
    /// The shared legacy bot token, only when `LEGACY_BOT_TOKEN_ENABLED=true`.
    pub legacy_bot_token: Option<SecretString>,
    /// `METRICS_TOKEN`: the bearer token `GET /metrics` asks for; without it `/metrics` is off.
    pub metrics_token: Option<SecretString>,
    /// Platforms in `PLATFORM_PRIORITY` order that have a limit (the others are skipped).
    pub platforms: Vec<PlatformSlot>,
    /// Platforms listed without a `*_BOT_LIMIT`, skipped with a warning at start-up.
    pub skipped_platforms: Vec<DeploymentPlatform>,
    pub global_queue_timeout: Duration,
    pub deployment_queue_max_concurrent: usize,
    /// How long a platform whose deploy failed is skipped at first; doubles with each further
    /// failure up to [`Self::platform_backoff_max`], and ends with a successful probe.
    pub platform_backoff: Duration,
    pub platform_backoff_max: Duration,
    /// Bots starting within this lead time are queued for deployment at once.
    pub deploy_lead_time: Duration,
    pub heartbeat_timeout: Duration,
    pub deploying_timeout: Duration,
    /// How long a bot asked to leave the call may take before it is FATAL and stopped.
    pub remove_from_call_grace: Duration,
    pub ghcr_org: String,
    pub k8s: K8sConfig,
    pub aws: AwsConfig,
    pub coolify: CoolifyConfig,
    pub local: LocalConfig,
    pub s3: Option<S3Config>,
    /// Where objects go when S3 is not configured.
    pub storage_dir: String,
    /// Recordings are deleted this many days after their bot reported them
    /// (`RECORDING_RETENTION_DAYS`; `None`, the default, keeps them until their bot is deleted).
    pub recording_retention_days: Option<u32>,
    /// Trust `X-Forwarded-For` for the client address (only behind a proxy you control).
    pub trust_proxy_headers: bool,
    /// How many proxies you control stand in front of the server (`TRUSTED_PROXY_HOPS`): the
    /// client is that many entries from the right of `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    /// Who may create an account.
    pub signup_mode: SignupMode,
    /// Sign-up attempts one client may make in 15 minutes.
    pub signup_rate_limit: i64,
    /// The absolute lifetime of a session, however active it is.
    pub session_max_lifetime: Duration,
    /// PostgreSQL `statement_timeout` of pooled connections (zero: none).
    pub statement_timeout: Duration,
    /// How long an HTTP request may take before it is answered 503.
    pub request_timeout: Duration,
    /// The live stream of pages (`GET /api/live`).
    pub live: LiveConfig,
    /// `SIMULATED_PLATFORM_URL`: the `bot-sim --fleet` host that drives every platform but
    /// `local` instead of its real driver (development and soak tests only).
    pub simulated_platform_url: Option<Url>,
    /// Unit prices for the infrastructure page's cost estimates (`COST_*`).
    pub prices: Prices,
    pub webhooks: WebhookConfig,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads and validates a set of variables; every problem is reported at once.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigErrors> {
        let mut errs = ConfigErrors::default();
        let mode = read_mode(vars, &mut errs);
        let log_format = read_log_format(vars, &mut errs, mode);
        let database_url = read_database_url(vars, &mut errs);
        let database_pool_size = vars.number(&mut errs, "DATABASE_POOL_SIZE", 16, 1..=1000);
        let database_bot_pool_size =
            vars.number(&mut errs, "DATABASE_BOT_POOL_SIZE", (database_pool_size / 4).max(2), 1..=1000);
        let app_origin_url = vars.url(&mut errs, "APP_ORIGIN_URL", "http://127.0.0.1:3000");
        let milo_url = vars.url(&mut errs, "MILO_URL", app_origin_url.as_str());
        let metrics_token = match vars.get("METRICS_TOKEN") {
            Some(t) if t.len() >= 32 => Some(SecretString::from(t)),
            Some(_) => {
                errs.push("METRICS_TOKEN", "must be at least 32 characters (e.g. `openssl rand -hex 32`)");
                None
            }
            None => None,
        };
        let legacy_enabled = vars.boolean(&mut errs, "LEGACY_BOT_TOKEN_ENABLED", false);
        let legacy_bot_token = match (legacy_enabled, vars.get("MILO_AUTH_TOKEN")) {
            (false, _) => None,
            (true, Some(t)) if t.len() >= 32 => Some(SecretString::from(t)),
            (true, Some(_)) => {
                errs.push("MILO_AUTH_TOKEN", "must be at least 32 characters when LEGACY_BOT_TOKEN_ENABLED=true");
                None
            }
            (true, None) => {
                errs.push("MILO_AUTH_TOKEN", "is required when LEGACY_BOT_TOKEN_ENABLED=true (or set it to false)");
                None
            }
        };
        let ghcr_org = vars.get("GHCR_ORG").unwrap_or_else(|| "payme-works".to_owned());
        let k8s = K8sConfig::read(vars, &mut errs, &ghcr_org);
        let aws = AwsConfig::read(vars, &mut errs);
        let coolify = CoolifyConfig::read(vars, &mut errs, &ghcr_org);
        let local = LocalConfig::read(vars, &mut errs, mode);
        let simulated_platform_url = platforms::read_simulated_url(vars, &mut errs, mode);
        let (platforms, skipped_platforms) = platforms::resolve_priority(
            vars,
            &mut errs,
            mode,
            &k8s,
            &aws,
            &coolify,
            &local,
            simulated_platform_url.is_some(),
        );
        let s3 = read_s3(vars, &mut errs);
        let prices = Prices::read(vars, &mut errs, &k8s);
        let platform_backoff =
            Duration::from_millis(vars.number(&mut errs, "PLATFORM_BACKOFF_MS", 5_000, 100..=3_600_000));
        let platform_backoff_max =
            Duration::from_millis(vars.number(&mut errs, "PLATFORM_BACKOFF_MAX_MS", 300_000, 100..=86_400_000));
        if platform_backoff_max < platform_backoff {
            errs.push("PLATFORM_BACKOFF_MAX_MS", "must be at least PLATFORM_BACKOFF_MS");
        }
        let signup_mode = match vars.get("SIGNUP_MODE").map(|v| v.to_ascii_lowercase()).as_deref() {
            None if mode == RunMode::Development => SignupMode::Open,
            None => SignupMode::Invite,
            Some("open") => SignupMode::Open,
            Some("invite") => SignupMode::Invite,
            Some("closed") => SignupMode::Closed,
            Some(other) => {
                errs.push("SIGNUP_MODE", format!("'{other}' is not a sign-up mode; use open, invite or closed"));
                SignupMode::Invite
            }
        };
        let config = Config {
            mode,
            log_format,
            database_url,
            database_pool_size,
            database_bot_pool_size,
            app_origin_url,
            milo_url,
            legacy_bot_token,
            metrics_token,
            platforms,
            skipped_platforms,
            global_queue_timeout: vars.millis(&mut errs, "GLOBAL_QUEUE_TIMEOUT_MS", 600_000),
            deployment_queue_max_concurrent: vars.number(&mut errs, "DEPLOYMENT_QUEUE_MAX_CONCURRENT", 4, 1..=256),
            platform_backoff,
            platform_backoff_max,
            deploy_lead_time: Duration::from_secs(vars.number(&mut errs, "DEPLOY_LEAD_TIME_SECS", 300, 0..=86_400)),
            heartbeat_timeout: vars.millis(&mut errs, "HEARTBEAT_TIMEOUT_MS", 300_000),
            deploying_timeout: vars.millis(&mut errs, "DEPLOYING_TIMEOUT_MS", 900_000),
            remove_from_call_grace: Duration::from_millis(vars.number(
                &mut errs,
                "REMOVE_FROM_CALL_GRACE_MS",
                60_000,
                1_000..=3_600_000,
            )),
            ghcr_org,
            k8s,
            aws,
            coolify,
            local,
            s3,
            storage_dir: vars.get("STORAGE_DIR").unwrap_or_else(|| "target/storage".to_owned()),
            recording_retention_days: vars.optional_number(&mut errs, "RECORDING_RETENTION_DAYS", 1..=36_500),
            trust_proxy_headers: vars.boolean(&mut errs, "TRUST_PROXY_HEADERS", false),
            trusted_proxy_hops: vars.number(&mut errs, "TRUSTED_PROXY_HOPS", 1, 1..=10),
            signup_mode,
            signup_rate_limit: vars.number(&mut errs, "SIGNUP_RATE_LIMIT", 10, 1..=100_000),
            session_max_lifetime: Duration::from_secs(
                vars.number(&mut errs, "SESSION_MAX_DAYS", 30u64, 1..=365) * 24 * 3600,
            ),
            statement_timeout: vars.millis(&mut errs, "DATABASE_STATEMENT_TIMEOUT_MS", 30_000),
            request_timeout: Duration::from_secs(vars.number(&mut errs, "REQUEST_TIMEOUT_SECS", 30, 1..=3600)),
            live: LiveConfig {
                streams_per_user: vars.number(&mut errs, "LIVE_STREAMS_PER_USER", 10, 1..=1000),
                event_buffer: vars.number(&mut errs, "LIVE_EVENT_BUFFER", 1024, 1..=65_536),
                session_recheck: Duration::from_secs(vars.number(&mut errs, "LIVE_SESSION_RECHECK_SECS", 60, 1..=3600)),
            },
            simulated_platform_url,
            prices,
            webhooks: WebhookConfig::read(vars, &mut errs),
        };
        errs.into_result(config)
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.app_origin_url.scheme() == "https"
    }

    /// The platforms the `bot-sim` fleet host drives instead of their real drivers, and where
    /// it is (empty without `SIMULATED_PLATFORM_URL`).
    pub fn simulated_platforms(&self) -> Vec<(DeploymentPlatform, &Url)> {
        let Some(url) = &self.simulated_platform_url else { return Vec::new() };
        self.platforms.iter().filter(|s| s.platform != DeploymentPlatform::Local).map(|s| (s.platform, url)).collect()
    }

    /// The resolved configuration as (name, value) rows, secrets redacted.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut row = |k: &str, v: String| rows.push((k.to_owned(), v));
        row("MEEBOTER_ENV", format!("{:?}", self.mode).to_lowercase());
        row("LOG_FORMAT", format!("{:?}", self.log_format).to_lowercase());
        row("DATABASE_URL", redact_url(self.database_url.expose_secret()));
        row("DATABASE_POOL_SIZE", self.database_pool_size.to_string());
        row("DATABASE_BOT_POOL_SIZE", self.database_bot_pool_size.to_string());
        row("APP_ORIGIN_URL", self.app_origin_url.to_string());
        row("MILO_URL", self.milo_url.to_string());
        row(
            "METRICS_TOKEN",
            if self.metrics_token.is_some() {
                format!("{REDACTED} (GET /metrics with Authorization: Bearer)")
            } else {
                "unset: /metrics is off (answers 404)".to_owned()
            },
        );
        row("LEGACY_BOT_TOKEN_ENABLED", format!("{}", self.legacy_bot_token.is_some()));
        if self.legacy_bot_token.is_some() {
            row("MILO_AUTH_TOKEN", REDACTED.to_owned());
        }
        row("PLATFORM_PRIORITY", self.platforms.iter().map(|p| p.platform.as_str()).collect::<Vec<_>>().join(","));
        for p in &self.platforms {
            let name = p.platform.env_prefix();
            row(&format!("{name}_BOT_LIMIT"), p.limit.to_string());
            row(&format!("{name}_QUEUE_TIMEOUT_MS"), p.queue_timeout.as_millis().to_string());
        }
        for p in &self.skipped_platforms {
            row(&format!("{}_BOT_LIMIT", p.env_prefix()), "unset: platform skipped".to_owned());
        }
        if let Some(url) = &self.simulated_platform_url {
            let simulated: Vec<&str> = self.simulated_platforms().iter().map(|(p, _)| p.as_str()).collect();
            row(
                "SIMULATED_PLATFORM_URL",
                format!(
                    "{url} -- SIMULATED: {} run on the bot-sim fleet host, not on a real cloud",
                    simulated.join(",")
                ),
            );
        }
        row("GLOBAL_QUEUE_TIMEOUT_MS", self.global_queue_timeout.as_millis().to_string());
        row("DEPLOYMENT_QUEUE_MAX_CONCURRENT", self.deployment_queue_max_concurrent.to_string());
        row("PLATFORM_BACKOFF_MS", self.platform_backoff.as_millis().to_string());
        row("PLATFORM_BACKOFF_MAX_MS", self.platform_backoff_max.as_millis().to_string());
        row("DEPLOY_LEAD_TIME_SECS", self.deploy_lead_time.as_secs().to_string());
        row("HEARTBEAT_TIMEOUT_MS", self.heartbeat_timeout.as_millis().to_string());
        row("DEPLOYING_TIMEOUT_MS", self.deploying_timeout.as_millis().to_string());
        row("REMOVE_FROM_CALL_GRACE_MS", self.remove_from_call_grace.as_millis().to_string());
        row("GHCR_ORG", self.ghcr_org.clone());
        self.k8s.describe(&mut row);
        self.aws.describe(&mut row);
        self.coolify.describe(&mut row);
        self.local.describe(&mut row);
        self.prices.describe(&mut row);
        match &self.s3 {
            Some(s3) => {
                row("S3_ENDPOINT", s3.endpoint.to_string());
                row("S3_REGION", s3.region.clone());
                row("S3_BUCKET_NAME", s3.bucket.clone());
                row("S3_ACCESS_KEY", REDACTED.to_owned());
                row("S3_SECRET_KEY", REDACTED.to_owned());
                row("S3_FORCE_PATH_STYLE", s3.force_path_style.to_string());
            }
            None => row("STORAGE_DIR", format!("{} (S3 not configured)", self.storage_dir)),
        }
        row(
            "RECORDING_RETENTION_DAYS",
            self.recording_retention_days
                .map_or_else(|| "off (recordings stay until their bot is deleted)".to_owned(), |d| d.to_string()),
        );
        row("TRUST_PROXY_HEADERS", self.trust_proxy_headers.to_string());
        if self.trust_proxy_headers {
            row("TRUSTED_PROXY_HOPS", self.trusted_proxy_hops.to_string());
        }
        row("SIGNUP_MODE", self.signup_mode.as_str().to_owned());
        row("SIGNUP_RATE_LIMIT", self.signup_rate_limit.to_string());
        row("SESSION_MAX_DAYS", (self.session_max_lifetime.as_secs() / 86_400).to_string());
        row("DATABASE_STATEMENT_TIMEOUT_MS", self.statement_timeout.as_millis().to_string());
        row("REQUEST_TIMEOUT_SECS", self.request_timeout.as_secs().to_string());
        row("LIVE_STREAMS_PER_USER", self.live.streams_per_user.to_string());
        row("LIVE_EVENT_BUFFER", self.live.event_buffer.to_string());
        row("LIVE_SESSION_RECHECK_SECS", self.live.session_recheck.as_secs().to_string());
        self.webhooks.describe(&mut row);
        rows
    }
}

/// What a secret looks like in `config check`.
pub const REDACTED: &str = "[redacted]";

fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("redacted"));
            }
            u.to_string()
        }
        Err(_) => REDACTED.to_owned(),
    }
}

/// What `meeboter migrate` needs and nothing more: the database and how to log. Migrating does
/// not depend on platforms, storage or URLs, so it must not refuse to run for want of them.
#[derive(Debug, Clone)]
pub struct MigrateConfig {
    pub database_url: SecretString,
    pub log_format: LogFormat,
}

impl MigrateConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads only `MEEBOTER_ENV`, `LOG_FORMAT` and `DATABASE_URL`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigErrors> {
        let mut errs = ConfigErrors::default();
        let mode = read_mode(vars, &mut errs);
        let log_format = read_log_format(vars, &mut errs, mode);
        let database_url = read_database_url(vars, &mut errs);
        errs.into_result(MigrateConfig { database_url, log_format })
    }
}

fn read_mode(vars: &Vars, errs: &mut ConfigErrors) -> RunMode {
    match vars.get("MEEBOTER_ENV").as_deref() {
        None | Some("production") => RunMode::Production,
        Some("development") => RunMode::Development,
        Some(other) => {
            errs.push("MEEBOTER_ENV", format!("'{other}' is not a mode; use 'development' or 'production'"));
            RunMode::Production
        }
    }
}

fn read_log_format(vars: &Vars, errs: &mut ConfigErrors, mode: RunMode) -> LogFormat {
    match vars.get("LOG_FORMAT").as_deref() {
        Some("json") => LogFormat::Json,
        Some("pretty") => LogFormat::Pretty,
        None if mode == RunMode::Production => LogFormat::Json,
        None => LogFormat::Pretty,
        Some(other) => {
            errs.push("LOG_FORMAT", format!("'{other}' is not a format; use 'json' or 'pretty'"));
            LogFormat::Json
        }
    }
}

fn read_database_url(vars: &Vars, errs: &mut ConfigErrors) -> SecretString {
    match vars.get("DATABASE_URL") {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => SecretString::from(u),
        Some(_) => {
            errs.push("DATABASE_URL", "must start with postgres:// or postgresql://");
            SecretString::from(String::new())
        }
        None => {
            errs.push("DATABASE_URL", "is required, e.g. postgres://meeboter:secret@127.0.0.1:5432/meeboter");
            SecretString::from(String::new())
        }
    }
}

fn read_s3(vars: &Vars, errs: &mut ConfigErrors) -> Option<S3Config> {
    const NEEDED: [&str; 4] = ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET_NAME"];
    let set: Vec<&str> = NEEDED.iter().copied().filter(|k| vars.get(k).is_some()).collect();
    if set.is_empty() {
        return None;
    }
    if set.len() < NEEDED.len() {
        for k in NEEDED.iter().filter(|k| !set.contains(k)) {
            errs.push(
                k,
                format!("is required because {} is set (S3 needs all four, or none for local storage)", set.join(", ")),
            );
        }
        return None;
    }
    let endpoint = vars.url(errs, "S3_ENDPOINT", "http://127.0.0.1:9000");
    Some(S3Config {
        endpoint,
        region: vars.get("S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
        bucket: vars.get("S3_BUCKET_NAME").unwrap_or_default(),
        access_key: SecretString::from(vars.get("S3_ACCESS_KEY").unwrap_or_default()),
        secret_key: SecretString::from(vars.get("S3_SECRET_KEY").unwrap_or_default()),
        force_path_style: vars.boolean(errs, "S3_FORCE_PATH_STYLE", true),
    })
}

#[cfg(test)]
mod tests;
