//! Maintenance: deletes expired sessions, sign-in attempts outside the rate-limit window, deploy
//! attempts older than [`DEPLOY_ATTEMPTS_KEPT_DAYS`] and finished webhook deliveries older than
//! [`crate::backend::webhooks::delivery::KEPT_DAYS`]. Idempotent, so several replicas may
//! run it at once.

use std::time::Duration;

use tokio::sync::watch;

use crate::backend::auth::{rate_limit, sessions};
use crate::backend::db::DbPool;

/// How often expired sessions and old sign-in attempts are deleted.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(600);

/// How long the record of each platform call is kept (estimates use the last 500; the
/// infrastructure page shows up to a month).
pub const DEPLOY_ATTEMPTS_KEPT_DAYS: i32 = 31;

/// Deletes deploy attempts older than [`DEPLOY_ATTEMPTS_KEPT_DAYS`]; answers how many.
pub async fn prune_deploy_attempts(conn: &mut diesel_async::AsyncPgConnection) -> diesel::QueryResult<usize> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query("DELETE FROM deploy_attempts WHERE started_at < now() - make_interval(days => $1)")
        .bind::<diesel::sql_types::Integer, _>(DEPLOY_ATTEMPTS_KEPT_DAYS)
        .execute(conn)
        .await
}

/// Prunes what has expired.
pub struct Maintenance {
    pub pool: DbPool,
}

impl Maintenance {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::every(MAINTENANCE_INTERVAL, stop, || async {
            let Ok(mut conn) = self.pool.get().await else {
                tracing::warn!("maintenance: database unavailable, will retry");
                return;
            };
            match (
                sessions::prune_expired(&mut conn).await,
                rate_limit::prune(&mut conn).await,
                prune_deploy_attempts(&mut conn).await,
                crate::backend::webhooks::delivery::prune(&mut conn).await,
            ) {
                (Ok(s), Ok(a), Ok(d), Ok(w)) => {
                    tracing::debug!(
                        sessions = s,
                        sign_in_attempts = a,
                        deploy_attempts = d,
                        webhook_deliveries = w,
                        "maintenance done"
                    )
                }
                (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
                    tracing::warn!(error = %e, "maintenance failed")
                }
            }
        })
        .await;
    }
}
