//! The subcommands of `meeboter`: serve, worker, migrate, config check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use app::backend::config::{Config, MigrateConfig};
use app::backend::db;
use app::backend::platforms::coolify::CoolifyPlatform;
use app::backend::platforms::ecs::EcsPlatform;
use app::backend::platforms::kubernetes::KubernetesPlatform;
use app::backend::platforms::local::LocalPlatform;
use app::backend::platforms::simulated::SimulatedPlatform;
use app::backend::platforms::{ErrorKind, Platform, PlatformError, PlatformRegistry};
use app::backend::state::AppState;
use app::model::platform::DeploymentPlatform;
use leptos::prelude::LeptosOptions;
use secrecy::{ExposeSecret, SecretString};

/// A failure that ends the process with a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(#[from] app::backend::config::ConfigErrors),
    #[error("{0}")]
    Db(#[from] db::DbError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// Reads and validates the whole configuration (`serve`, `worker`, `config check`).
pub fn load_config() -> Result<Config, CommandError> {
    Ok(Config::from_env()?)
}

/// Reads only what `migrate` needs (`DATABASE_URL`, `LOG_FORMAT`, `MEEBOTER_ENV`).
pub fn load_migrate_config() -> Result<MigrateConfig, CommandError> {
    Ok(MigrateConfig::from_env()?)
}

/// Builds the shared state from a configuration, with a driver for every configured platform
/// (an error names each platform that has none or cannot be configured).
pub async fn build_state(config: Config, leptos_options: LeptosOptions) -> Result<AppState, CommandError> {
    let pool = db::build_pool_with_timeout(
        config.database_url.expose_secret(),
        config.database_pool_size,
        config.statement_timeout,
    )?;
    let bot_pool = db::build_pool_with_timeout(
        config.database_url.expose_secret(),
        config.database_bot_pool_size,
        config.statement_timeout,
    )?;
    let api_doc = crate::http::api_v1::openapi::document_json();
    let storage = app::backend::storage::Storage::from_config(&config).map_err(CommandError::Other)?;
    let config = Arc::new(config);
    let heartbeats = app::backend::services::heartbeats::Heartbeats::new(bot_pool.clone(), config.clone());
    let live = app::backend::live::LiveHub::new(pool.clone(), &config);
    let drivers =
        drivers(&config, &pool).await.map_err(|failures| CommandError::Other(platform_failures(&failures)))?;
    let platforms = Arc::new(PlatformRegistry::new(&config, drivers));
    Ok(AppState {
        log_writer: app::backend::services::log_writer::LogWriter::new(bot_pool.clone()),
        pool,
        bot_pool,
        config,
        leptos_options,
        api_doc: Arc::new(api_doc),
        heartbeats,
        live,
        storage: Arc::new(storage),
        bot_limits: Arc::default(),
        estimator: Arc::default(),
        platforms,
    })
}

/// A driver for each configured platform, or what keeps each failing one from having one.
pub async fn drivers(
    config: &Config,
    pool: &db::DbPool,
) -> Result<Vec<Arc<dyn Platform>>, Vec<(DeploymentPlatform, PlatformError)>> {
    let mut drivers: Vec<Arc<dyn Platform>> = Vec::new();
    let mut failures = Vec::new();
    for slot in &config.platforms {
        // SIMULATED_PLATFORM_URL: the bot-sim fleet host stands in for every cloud platform.
        if let Some((platform, url)) = config.simulated_platforms().into_iter().find(|(p, _)| *p == slot.platform) {
            match SimulatedPlatform::new(platform, url.as_str()) {
                Ok(simulated) => drivers.push(Arc::new(simulated)),
                Err(e) => failures.push((platform, e)),
            }
            continue;
        }
        match slot.platform {
            DeploymentPlatform::Local => {
                // The local platform runs `bot-sim` children of this very binary.
                let exe = std::env::current_exe().unwrap_or_else(|_| "meeboter".into());
                drivers.push(Arc::new(LocalPlatform::new(exe, Vec::new()).with_s3(config.s3.clone())));
            }
            DeploymentPlatform::K8s => {
                match KubernetesPlatform::connect(&config.k8s, config.s3.clone(), Some(pool.clone())).await {
                    Ok(k8s) => drivers.push(Arc::new(k8s)),
                    Err(e) => failures.push((slot.platform, e)),
                }
            }
            DeploymentPlatform::Aws => match EcsPlatform::connect(&config.aws, config.s3.clone()).await {
                Ok(ecs) => drivers.push(Arc::new(ecs)),
                Err(e) => failures.push((slot.platform, e)),
            },
            DeploymentPlatform::Coolify => {
                match CoolifyPlatform::connect(&config.coolify, config.s3.clone(), pool.clone()) {
                    Ok(coolify) => drivers.push(Arc::new(coolify)),
                    Err(e) => failures.push((slot.platform, e)),
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(drivers)
    } else {
        Err(failures)
    }
}

/// One line per platform that cannot run, for the operator.
fn platform_failures(failures: &[(DeploymentPlatform, PlatformError)]) -> String {
    let lines: Vec<String> = failures.iter().map(|(p, e)| format!("platform {}: {e}", p.as_str())).collect();
    format!("PLATFORM_PRIORITY lists platforms that cannot run:\n  {}", lines.join("\n  "))
}

/// Probes every platform once at start-up. A platform whose credentials or configuration are
/// refused stops the start (it will not heal by itself); one that cannot be reached right now is
/// logged as an error, reported unhealthy in `/readyz` and probed again every 30 s.
async fn check_platforms(state: &AppState) -> Result<(), CommandError> {
    let health = state.platforms.probe_all().await;
    let fatal: Vec<String> = health
        .iter()
        .filter(|h| matches!(h.kind, Some(ErrorKind::Unauthorised | ErrorKind::Misconfigured | ErrorKind::Rejected)))
        .map(|h| {
            let kind = h.kind.map_or("failed", |k| k.as_str());
            format!("platform {}: {kind}: {}", h.platform.as_str(), h.error.as_deref().unwrap_or("failed"))
        })
        .collect();
    if !fatal.is_empty() {
        return Err(CommandError::Other(format!("platform check failed:\n  {}", fatal.join("\n  "))));
    }
    for h in health.iter().filter(|h| h.ok) {
        tracing::info!(platform = h.platform.as_str(), "platform reachable");
    }
    Ok(())
}

fn warn_skipped(config: &Config) {
    for (p, url) in config.simulated_platforms() {
        tracing::warn!(
            platform = p.as_str(),
            fleet_host = %url,
            "platform is SIMULATED (SIMULATED_PLATFORM_URL): bots run on the bot-sim fleet host, not on a real cloud"
        );
    }
    for p in &config.skipped_platforms {
        tracing::warn!(
            platform = p.as_str(),
            "platform listed in PLATFORM_PRIORITY has no {}_BOT_LIMIT: skipped",
            p.env_prefix()
        );
    }
    if config.mode == app::backend::config::RunMode::Production && config.s3.is_none() {
        tracing::warn!(
            storage_dir = %config.storage_dir,
            "S3 is not configured: screenshots, recordings and archived logs stay on this replica's disk \
             (STORAGE_DIR); with more than one replica, or a pod whose disk goes with it, configure S3"
        );
    }
}

/// Fails unless every migration is applied.
async fn ensure_migrated(state: &AppState) -> Result<(), CommandError> {
    let mut conn = state
        .pool
        .get()
        .await
        .map_err(|e| CommandError::Other(format!("cannot connect to the database (check DATABASE_URL): {e}")))?;
    let pending = db::pending_versions(&mut conn).await?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Other(format!(
            "the database is missing {} migration(s) ({}): run `meeboter migrate` first",
            pending.len(),
            pending.join(", ")
        )))
    }
}

/// `meeboter serve`: the web app, APIs and workers.
pub async fn serve(
    config: Config,
    leptos_options: LeptosOptions,
    addr: SocketAddr,
    migrate_first: bool,
) -> Result<(), CommandError> {
    let started = Instant::now();
    warn_skipped(&config);
    if migrate_first {
        migrate(&config.database_url).await?;
    }
    let state = build_state(config, leptos_options).await?;
    ensure_migrated(&state).await?;
    check_platforms(&state).await?;
    crate::runner::serve(state, addr, started).await?;
    Ok(())
}

/// `meeboter worker`: background work only.
pub async fn worker(config: Config, leptos_options: LeptosOptions) -> Result<(), CommandError> {
    warn_skipped(&config);
    let state = build_state(config, leptos_options).await?;
    ensure_migrated(&state).await?;
    check_platforms(&state).await?;
    tracing::info!("worker started");
    crate::runner::work(state).await;
    Ok(())
}

/// `meeboter migrate`: applies pending migrations.
pub async fn migrate(database_url: &SecretString) -> Result<Vec<String>, CommandError> {
    let applied = db::run_migrations(database_url.expose_secret()).await?;
    tracing::info!(count = applied.len(), versions = ?applied, "migrations applied");
    Ok(applied)
}

/// `meeboter migrate --redo-all`: reverts every migration, then applies them all again.
/// Proves each `down.sql` undoes its `up.sql` (the whole-history form of `diesel migration redo`).
pub async fn redo_all(database_url: &SecretString) -> Result<(), CommandError> {
    let url = database_url.expose_secret().to_owned();
    let applied = db::run_migrations(&url).await?;
    let reverted = db::revert_all_migrations(&url).await?;
    let reapplied = db::run_migrations(&url).await?;
    tracing::info!(
        applied = applied.len(),
        reverted = reverted.len(),
        reapplied = reapplied.len(),
        "migrations redone"
    );
    if reapplied.len() != db::embedded_versions().len() {
        return Err(CommandError::Other("migrations did not all re-apply after reverting".into()));
    }
    Ok(())
}

/// `meeboter migrate --status`: the pending migrations.
pub async fn pending(database_url: &SecretString) -> Result<Vec<String>, CommandError> {
    let pool = db::build_pool(database_url.expose_secret(), 1)?;
    let mut conn = pool
        .get()
        .await
        .map_err(|e| CommandError::Other(format!("cannot connect to the database (check DATABASE_URL): {e}")))?;
    Ok(db::pending_versions(&mut conn).await?)
}

/// `meeboter config check`, second part: each configured platform tried with a cheap read,
/// one line each. `Err` when any platform cannot run.
pub async fn check_platforms_report(config: &Config) -> Result<String, String> {
    let pool = db::build_pool(config.database_url.expose_secret(), 1).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut failed = false;
    let drivers = match drivers(config, &pool).await {
        Ok(d) => d,
        Err(failures) => {
            return Err(failures.iter().map(|(p, e)| format!("platform {:<8} FAILED  {e}\n", p.as_str())).collect());
        }
    };
    let registry = PlatformRegistry::new(config, drivers);
    let simulated = config.simulated_platforms();
    for h in registry.probe_all().await {
        if let Some((_, url)) = simulated.iter().find(|(p, _)| *p == h.platform) {
            out.push_str(&format!(
                "platform {:<8} SIMULATED by the bot-sim fleet host at {url}\n",
                h.platform.as_str()
            ));
        }
        match &h.error {
            None => out.push_str(&format!("platform {:<8} ok\n", h.platform.as_str())),
            Some(e) => {
                failed = true;
                let kind = h.kind.map_or("failed", |k| k.as_str());
                out.push_str(&format!("platform {:<8} FAILED  {kind}: {e}\n", h.platform.as_str()));
            }
        }
    }
    registry.shutdown().await;
    if failed {
        Err(out)
    } else {
        Ok(out)
    }
}

/// `meeboter config check`: the resolved configuration as aligned lines, secrets redacted.
pub fn describe_config(config: &Config) -> String {
    let rows = config.describe();
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<width$}  {v}\n"));
    }
    out
}
