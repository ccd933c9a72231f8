//! Maintenance: deletes expired sessions and sign-in attempts outside the rate-limit window.
//! Idempotent, so several replicas may run it at once.

use std::time::Duration;

use tokio::sync::watch;

use crate::backend::auth::{rate_limit, sessions};
use crate::backend::db::DbPool;

/// How often expired sessions and old sign-in attempts are deleted.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(600);

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
            match (sessions::prune_expired(&mut conn).await, rate_limit::prune(&mut conn).await) {
                (Ok(s), Ok(a)) => tracing::debug!(sessions = s, sign_in_attempts = a, "maintenance done"),
                (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "maintenance failed"),
            }
        })
        .await;
    }
}
