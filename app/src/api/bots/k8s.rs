//! The Platform tab of a bot on Kubernetes (replaces `bots.k8s.getJob`, `getMetrics`,
//! `getEvents`): for the bot's owner or an administrator, and only for a bot that ran on
//! Kubernetes (400 otherwise).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::platform_details::{K8sDetails, K8sEvent, K8sMetrics};

/// How many events the tab shows.
pub const EVENTS_SHOWN: usize = 10;

#[cfg(feature = "ssr")]
async fn job_of(
    id: i64,
) -> Result<(std::sync::Arc<crate::backend::platforms::kubernetes::KubernetesPlatform>, String), AppError> {
    super::platform::resource_of(id, crate::model::platform::DeploymentPlatform::K8s).await
}

/// The bot's Job and pod.
#[server(prefix = "/fn", endpoint = "get_k8s_job", input = Json)]
pub async fn get_k8s_job(id: i64) -> Result<K8sDetails, AppError> {
    use crate::backend::services::bots::platform::platform_failure;
    let (k8s, job) = job_of(id).await?;
    k8s.job_details(&job).await.map_err(|e| platform_failure(crate::model::platform::DeploymentPlatform::K8s, &e))
}

/// Live CPU and memory of the bot's pod against its limits (or why there are none).
#[server(prefix = "/fn", endpoint = "get_k8s_metrics", input = Json)]
pub async fn get_k8s_metrics(id: i64) -> Result<K8sMetrics, AppError> {
    use crate::backend::services::bots::platform::platform_failure;
    let (k8s, job) = job_of(id).await?;
    k8s.metrics(&job).await.map_err(|e| platform_failure(crate::model::platform::DeploymentPlatform::K8s, &e))
}

/// The last events of the bot's Job and pod, newest first.
#[server(prefix = "/fn", endpoint = "get_k8s_events", input = Json)]
pub async fn get_k8s_events(id: i64) -> Result<Vec<K8sEvent>, AppError> {
    use crate::backend::services::bots::platform::platform_failure;
    let (k8s, job) = job_of(id).await?;
    k8s.events(&job, EVENTS_SHOWN)
        .await
        .map_err(|e| platform_failure(crate::model::platform::DeploymentPlatform::K8s, &e))
}
