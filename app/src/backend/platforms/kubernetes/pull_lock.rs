//! The Kubernetes side of the image pull lock ([`crate::backend::platforms::pull_lock`],
//! `K8S_IMAGE_PULL_LOCK_ENABLED`): the puller is a bot's Job, and its pod tells whether the
//! image is on its node.

use chrono::{DateTime, Utc};

use super::client::Kube;
use crate::backend::db::DbPool;
use crate::backend::platforms::pull_lock;
pub use crate::backend::platforms::pull_lock::{Puller, Turn};
use crate::backend::platforms::PlatformError;

/// What the puller's pod says about the pull. Without a pod, the puller is still starting while
/// it is `young` (see [`pull_lock::START_GRACE`]) or its Job exists; otherwise it is gone.
pub fn puller_state(pod: Option<&k8s_openapi::api::core::v1::Pod>, job_exists: bool, young: bool) -> Puller {
    let Some(pod) = pod else {
        return if job_exists || young { Puller::Pulling } else { Puller::Failed };
    };
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    let Some(c) = statuses.and_then(|s| s.iter().find(|c| c.name == super::build::CONTAINER)) else {
        return Puller::Pulling;
    };
    let state = c.state.as_ref();
    if state.is_some_and(|s| s.running.is_some() || s.terminated.is_some()) || !c.image_id.is_empty() {
        return Puller::HasImage;
    }
    match state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()) {
        Some("ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull") => Puller::Failed,
        _ => Puller::Pulling,
    }
}

/// Waits for this bot's turn to use `image`; `job_name` is the Job it is about to create.
/// `moving` says the tag can be pushed again (`latest`).
pub async fn take_turn(
    pool: &DbPool,
    kube: &Kube,
    image: &str,
    job_name: &str,
    moving: bool,
) -> Result<Turn, PlatformError> {
    let check = |puller: String, started: DateTime<Utc>| async move {
        let young = pull_lock::young(started);
        let pod = kube.job_pod(&puller).await?;
        let job_exists = pod.is_some() || kube.job(&puller).await?.is_some();
        Ok(puller_state(pod.as_ref(), job_exists, young))
    };
    pull_lock::take_turn(pool, image, job_name, moving, check).await
}
