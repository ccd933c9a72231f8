//! The log archiver: moves the log lines of bots that ended a minute ago or more to object
//! storage (gzip JSON lines, see `services::log_archive`). Safe on several replicas at once:
//! each object is written before its lines are deleted, and lines deleted twice are simply gone.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::backend::db::DbPool;
use crate::backend::services::log_archive;
use crate::backend::storage::Storage;

/// How often finished bots' log lines are moved to object storage.
pub const ARCHIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Archives finished bots' logs.
pub struct LogArchiver {
    pub pool: DbPool,
    pub storage: Arc<Storage>,
}

impl LogArchiver {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::every(ARCHIVE_INTERVAL, stop, || async {
            let Ok(mut conn) = self.pool.get().await else { return };
            match log_archive::archive_finished(&mut conn, &self.storage, chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(lines = n, "log lines archived"),
                Err(e) => tracing::warn!(error = %e, "log archival failed"),
            }
        })
        .await;
    }
}
