//! The image pull lock (`K8S_IMAGE_PULL_LOCK_ENABLED`): when an image is new to the cluster,
//! the first bot pulls it and the others wait until its pod has it, instead of every node
//! pulling the same multi-GB image at once. The lock is a row per image in `image_pulls`, so it
//! holds across replicas; a puller that vanished or stalled is taken over after
//! [`PULL_WAIT`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use super::client::Kube;
use crate::backend::db::schema::image_pulls;
use crate::backend::db::DbPool;
use crate::backend::platforms::PlatformError;

/// How long a bot waits for another bot's pull, and how old an unfinished pull may get before
/// another bot takes it over.
pub const PULL_WAIT: Duration = Duration::from_secs(600);
/// How often a waiting bot looks at the puller's pod.
pub const POLL: Duration = Duration::from_secs(3);
/// A puller with no Job or pod yet is still starting for this long (between claiming the row
/// and the Job controller making its pod).
pub const START_GRACE: Duration = Duration::from_secs(60);
/// A moving tag (`latest`) may have been pushed again: after this long its pull is coordinated
/// afresh.
pub const REPULL_AFTER: Duration = Duration::from_secs(3600);

/// Who pulls an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The image is on the cluster: go.
    Pulled,
    /// This bot pulls it (its Job is now recorded as the puller).
    First,
    /// The wait ran out; go anyway.
    GaveUp,
}

/// What a waiting bot found in the puller's pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Puller {
    /// Its container started: the image is on its node.
    HasImage,
    /// Still pulling (or not scheduled yet).
    Pulling,
    /// The pull failed or the Job is gone: someone else must pull.
    Failed,
}

/// What the puller's pod says about the pull. Without a pod, the puller is still starting while
/// it is `young` (see [`START_GRACE`]) or its Job exists; otherwise it is gone.
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

fn db(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::unavailable(format!("image pull lock: {e}"))
}

/// Waits for this bot's turn to use `image`; `job_name` is the Job it is about to create.
/// `moving` says the tag can be pushed again (`latest`), so a pull older than
/// [`REPULL_AFTER`] is coordinated again.
pub async fn take_turn(
    pool: &DbPool,
    kube: &Kube,
    image: &str,
    job_name: &str,
    moving: bool,
) -> Result<Turn, PlatformError> {
    let deadline = tokio::time::Instant::now() + PULL_WAIT;
    let repull = if moving { REPULL_AFTER } else { Duration::from_secs(100 * 365 * 86_400) };
    loop {
        let mut conn = pool.get().await.map_err(db)?;
        // Become the puller when nobody is, when the last puller stalled, or when a moving
        // tag's last pull is old.
        let claimed = diesel::sql_query(
            "INSERT INTO image_pulls (image, job_name) VALUES ($1, $2) \
             ON CONFLICT (image) DO UPDATE SET job_name = EXCLUDED.job_name, started_at = now(), pulled_at = NULL \
             WHERE (image_pulls.pulled_at IS NULL AND image_pulls.started_at < now() - make_interval(secs => $3)) \
                OR image_pulls.pulled_at < now() - make_interval(secs => $4)",
        )
        .bind::<Text, _>(image)
        .bind::<Text, _>(job_name)
        .bind::<diesel::sql_types::Double, _>(PULL_WAIT.as_secs_f64())
        .bind::<diesel::sql_types::Double, _>(repull.as_secs_f64())
        .execute(&mut conn)
        .await
        .map_err(db)?;
        if claimed > 0 {
            return Ok(Turn::First);
        }
        let (puller, pulled, started): (String, Option<DateTime<Utc>>, DateTime<Utc>) = image_pulls::table
            .find(image)
            .select((image_pulls::job_name, image_pulls::pulled_at, image_pulls::started_at))
            .first(&mut conn)
            .await
            .map_err(db)?;
        if pulled.is_some() || puller == job_name {
            return Ok(Turn::Pulled);
        }
        drop(conn);
        let pod = kube.job_pod(&puller).await?;
        let job_exists = pod.is_some() || kube.job(&puller).await?.is_some();
        let young = Utc::now().signed_duration_since(started).to_std().unwrap_or_default() < START_GRACE;
        match puller_state(pod.as_ref(), job_exists, young) {
            Puller::HasImage => {
                let mut conn = pool.get().await.map_err(db)?;
                diesel::update(image_pulls::table.find(image))
                    .set(image_pulls::pulled_at.eq(diesel::dsl::now))
                    .execute(&mut conn)
                    .await
                    .map_err(db)?;
                return Ok(Turn::Pulled);
            }
            Puller::Failed => {
                // Let the next bot (perhaps this one) pull.
                let mut conn = pool.get().await.map_err(db)?;
                diesel::delete(image_pulls::table.find(image).filter(image_pulls::job_name.eq(&puller)))
                    .execute(&mut conn)
                    .await
                    .map_err(db)?;
                continue;
            }
            Puller::Pulling => {}
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(image, puller, "image pull lock: waited {PULL_WAIT:?} for the pull, starting anyway");
            return Ok(Turn::GaveUp);
        }
        tokio::time::sleep(POLL).await;
    }
}
