//! The image pull lock: when an image is new to the platform, the first bot pulls it and the
//! others wait until that pull is done, instead of every node or server pulling the same
//! multi-GB image at once. The lock is a row per image key in `image_pulls`, so it holds across
//! replicas; a puller that vanished or stalled is taken over after [`PULL_WAIT`].
//!
//! Each platform says who the puller is (a Kubernetes Job, a Coolify slot's application; the
//! `job_name` column holds its name) and how to tell whether its pull is done: the `check`
//! passed to [`take_turn`]. Kubernetes keys rows by the image; Coolify by `coolify:<image>`, so
//! one platform never waits on the other's puller.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use crate::backend::db::schema::image_pulls;
use crate::backend::db::DbPool;
use crate::backend::platforms::PlatformError;

/// How long a bot waits for another bot's pull, and how old an unfinished pull may get before
/// another bot takes it over.
pub const PULL_WAIT: Duration = Duration::from_secs(600);
/// How often a waiting bot looks at the puller.
pub const POLL: Duration = Duration::from_secs(3);
/// A puller with nothing to look at yet is still starting for this long (between claiming the
/// row and the platform making its pod or deployment).
pub const START_GRACE: Duration = Duration::from_secs(60);
/// A moving tag (`latest`) may have been pushed again: after this long its pull is coordinated
/// afresh.
pub const REPULL_AFTER: Duration = Duration::from_secs(3600);

/// Who pulls an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The image is there: go.
    Pulled,
    /// This bot pulls it (its resource is now recorded as the puller).
    First,
    /// The wait ran out; go anyway.
    GaveUp,
}

/// What a waiting bot found about the puller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Puller {
    /// The puller has the image.
    HasImage,
    /// Still pulling (or not started yet).
    Pulling,
    /// The pull failed or the puller is gone: someone else must pull.
    Failed,
}

fn db(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::unavailable(format!("image pull lock: {e}"))
}

/// Whether a pull that started at `started` is still within [`START_GRACE`].
pub fn young(started: DateTime<Utc>) -> bool {
    Utc::now().signed_duration_since(started).to_std().unwrap_or_default() < START_GRACE
}

/// Waits for the turn of `puller_name` (the resource about to use the image) on the image row
/// `key`. `moving` says the tag can be pushed again (`latest`), so a pull older than
/// [`REPULL_AFTER`] is coordinated again. `check(puller, started_at)` asks the platform about
/// the current puller.
pub async fn take_turn<F, Fut>(
    pool: &DbPool,
    key: &str,
    puller_name: &str,
    moving: bool,
    check: F,
) -> Result<Turn, PlatformError>
where
    F: Fn(String, DateTime<Utc>) -> Fut,
    Fut: Future<Output = Result<Puller, PlatformError>>,
{
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
        .bind::<Text, _>(key)
        .bind::<Text, _>(puller_name)
        .bind::<diesel::sql_types::Double, _>(PULL_WAIT.as_secs_f64())
        .bind::<diesel::sql_types::Double, _>(repull.as_secs_f64())
        .execute(&mut conn)
        .await
        .map_err(db)?;
        if claimed > 0 {
            return Ok(Turn::First);
        }
        let (puller, pulled, started): (String, Option<DateTime<Utc>>, DateTime<Utc>) = image_pulls::table
            .find(key)
            .select((image_pulls::job_name, image_pulls::pulled_at, image_pulls::started_at))
            .first(&mut conn)
            .await
            .map_err(db)?;
        if pulled.is_some() || puller == puller_name {
            return Ok(Turn::Pulled);
        }
        drop(conn);
        match check(puller.clone(), started).await? {
            Puller::HasImage => {
                let mut conn = pool.get().await.map_err(db)?;
                diesel::update(image_pulls::table.find(key))
                    .set(image_pulls::pulled_at.eq(diesel::dsl::now))
                    .execute(&mut conn)
                    .await
                    .map_err(db)?;
                return Ok(Turn::Pulled);
            }
            Puller::Failed => {
                // Let the next bot (perhaps this one) pull.
                let mut conn = pool.get().await.map_err(db)?;
                diesel::delete(image_pulls::table.find(key).filter(image_pulls::job_name.eq(&puller)))
                    .execute(&mut conn)
                    .await
                    .map_err(db)?;
                continue;
            }
            Puller::Pulling => {}
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(image = key, puller, "image pull lock: waited {PULL_WAIT:?} for the pull, starting anyway");
            return Ok(Turn::GaveUp);
        }
        tokio::time::sleep(POLL).await;
    }
}
