//! The Kubernetes platform: one `batch/v1` Job per bot, with a Secret it owns for the bot's
//! credentials. [`build`] makes the objects (pure), [`client`] does the I/O, [`view`] reads the
//! answers, [`errors`] maps API errors to platform error kinds, [`pull_lock`] keeps a new image
//! from being pulled by every bot at once. k8s/README.md says what RBAC this needs.

pub mod build;
pub mod client;
pub mod errors;
pub mod pull_lock;
pub mod view;

#[cfg(test)]
mod real_cluster;
#[cfg(test)]
mod tests;

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use self::client::{Kube, CALL_TIMEOUT};
use super::env::bot_environment;
use super::{BotLaunch, BoxFuture, ErrorKind, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::backend::config::{K8sConfig, S3Config};
use crate::backend::db::DbPool;
use crate::model::platform::DeploymentPlatform;
use crate::model::platform_details::{K8sDetails, K8sEvent, K8sMetrics};

/// Connecting to the API server may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs bots as Kubernetes Jobs in `K8S_NAMESPACE`.
pub struct KubernetesPlatform {
    kube: Kube,
    cfg: K8sConfig,
    s3: Option<S3Config>,
    /// For the image pull lock; without it (tests) every bot pulls for itself.
    pool: Option<DbPool>,
}

/// The client configuration: in-cluster (`KUBERNETES_SERVICE_HOST`), then `K8S_KUBECONFIG`,
/// then the default kubeconfig (`KUBECONFIG` or `~/.kube/config`), with timeouts on every call.
pub async fn client_config(cfg: &K8sConfig) -> Result<kube::Config, PlatformError> {
    let misconfigured =
        |what: &str, e: &dyn std::fmt::Display| PlatformError::new(ErrorKind::Misconfigured, format!("{what}: {e}"));
    let mut config = if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        kube::Config::incluster()
            .map_err(|e| misconfigured("in-cluster configuration (KUBERNETES_SERVICE_HOST is set)", &e))?
    } else if let Some(path) = &cfg.kubeconfig {
        let file = Kubeconfig::read_from(path).map_err(|e| misconfigured(&format!("K8S_KUBECONFIG={path}"), &e))?;
        kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
            .await
            .map_err(|e| misconfigured(&format!("K8S_KUBECONFIG={path}"), &e))?
    } else {
        kube::Config::from_kubeconfig(&KubeConfigOptions::default()).await.map_err(|e| {
            misconfigured("no in-cluster configuration, no K8S_KUBECONFIG, and the default kubeconfig failed", &e)
        })?
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(CALL_TIMEOUT);
    config.write_timeout = Some(CALL_TIMEOUT);
    Ok(config)
}

impl KubernetesPlatform {
    /// Builds the client from the configuration (no request is made: see `probe`).
    pub async fn connect(cfg: &K8sConfig, s3: Option<S3Config>, pool: Option<DbPool>) -> Result<Self, PlatformError> {
        let config = client_config(cfg).await?;
        let client = kube::Client::try_from(config)
            .map_err(|e| PlatformError::new(ErrorKind::Misconfigured, format!("Kubernetes client: {e}")))?;
        Ok(Self::with_client(client, cfg.clone(), s3, pool))
    }

    /// A platform over a given client (tests put a mock service behind it).
    pub fn with_client(client: kube::Client, cfg: K8sConfig, s3: Option<S3Config>, pool: Option<DbPool>) -> Self {
        KubernetesPlatform { kube: Kube::new(client, cfg.namespace.clone()), cfg, s3, pool }
    }

    /// The Job card and the Pod card of the Platform tab.
    pub async fn job_details(&self, job_name: &str) -> Result<K8sDetails, PlatformError> {
        let job = self.kube.job(job_name).await?.ok_or_else(|| PlatformError::not_found(format!("Job {job_name}")))?;
        let pod = self.kube.job_pod(job_name).await?;
        Ok(K8sDetails { job: view::job_view(&job, pod.as_ref()), pod: pod.as_ref().map(view::pod_view) })
    }

    /// Live CPU and memory of the Job's pod against its limits, or why there are none.
    pub async fn metrics(&self, job_name: &str) -> Result<K8sMetrics, PlatformError> {
        let Some(pod) = self.kube.job_pod(job_name).await? else {
            return Ok(K8sMetrics::Absent { reason: "the Job has no pod yet".to_owned() });
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        Ok(match self.kube.pod_metrics(&name).await? {
            Some(m) => view::metrics_view(&m, &pod),
            None => K8sMetrics::Absent {
                reason: "no metrics: the cluster has no metrics API (metrics-server), or none for this pod yet"
                    .to_owned(),
            },
        })
    }

    /// The newest `limit` events of the Job and of its pod, newest first.
    pub async fn events(&self, job_name: &str, limit: usize) -> Result<Vec<K8sEvent>, PlatformError> {
        let mut all = self.kube.events(job_name).await?;
        if let Some(pod) = self.kube.job_pod(job_name).await? {
            all.extend(self.kube.events(pod.metadata.name.as_deref().unwrap_or_default()).await?);
        }
        Ok(view::events_view(all, limit))
    }
}

impl Platform for KubernetesPlatform {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::K8s
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(self.kube.probe())
    }

    /// Secret, then Job, then the Job becomes the Secret's owner.
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let env = bot_environment(bot, self.s3.as_ref());
            let job = build::job(bot, &env, &self.cfg);
            let secret = build::secret(bot, &env, &self.cfg);
            let job_name = build::job_name(bot.bot_id);
            let secret_name = build::secret_name(bot.bot_id);
            if let (true, Some(pool)) = (self.cfg.image_pull_lock_enabled, &self.pool) {
                let image = build::image(&self.cfg, bot.meeting_platform);
                let moving = self.cfg.image_tag == "latest";
                let turn = pull_lock::take_turn(pool, &self.kube, &image, &job_name, moving).await?;
                tracing::debug!(bot_id = bot.bot_id, image, ?turn, "image pull lock");
            }
            match self.kube.create_secret(&secret).await {
                // A Secret left by an attempt that crashed half-way: replace it.
                Err(e) if e.kind == ErrorKind::Conflict => {
                    self.kube.delete_secret(&secret_name).await?;
                    self.kube.create_secret(&secret).await?;
                }
                r => r?,
            }
            let created = match self.kube.create_job(&job).await {
                Ok(created) => created,
                // The bot's Job exists (an earlier attempt): its pod needs the Secret, keep it.
                Err(e) if e.kind == ErrorKind::Conflict => return Err(e),
                Err(e) => {
                    if let Err(cleanup) = self.kube.delete_secret(&secret_name).await {
                        tracing::warn!(bot_id = bot.bot_id, error = %cleanup, "could not delete the Secret of a Job that was not created");
                    }
                    return Err(e);
                }
            };
            match created.metadata.uid.as_deref() {
                Some(uid) => {
                    if let Err(e) = self.kube.patch_secret(&secret_name, &build::owner_patch(&job_name, uid)).await {
                        // The bot runs; stop deletes the Secret explicitly as well.
                        tracing::warn!(bot_id = bot.bot_id, error = %e, "could not make the Job own its Secret");
                    }
                }
                None => tracing::warn!(bot_id = bot.bot_id, "the created Job has no uid: its Secret is not owned"),
            }
            Ok(Launched { identifier: job_name })
        })
    }

    /// Deletes the Job (its pods go with it) and the bot's Secret; both idempotent.
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.kube.delete_job(identifier).await?;
            if let Some(bot_id) = build::bot_id_of(identifier) {
                self.kube.delete_secret(&build::secret_name(bot_id)).await?;
            }
            Ok(())
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            let Some(job) = self.kube.job(identifier).await? else { return Ok(ResourceStatus::Gone) };
            match view::resource_status(&job, None) {
                ResourceStatus::Exited { .. } => {
                    let pod = self.kube.job_pod(identifier).await?;
                    Ok(view::resource_status(&job, pod.as_ref()))
                }
                other => Ok(other),
            }
        })
    }

    fn release(&self, _bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            let jobs = self.kube.list_jobs(&build::all_bots_selector()).await?;
            Ok(jobs
                .iter()
                .map(|job| {
                    let identifier = job.metadata.name.clone().unwrap_or_default();
                    let bot_id = job
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("botId"))
                        .and_then(|v| v.parse().ok())
                        .or_else(|| build::bot_id_of(&identifier));
                    ResourceSummary { identifier, bot_id, status: view::resource_status(job, None) }
                })
                .collect())
        })
    }
}
