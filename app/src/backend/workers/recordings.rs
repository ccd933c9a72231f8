//! Recording retention: with `RECORDING_RETENTION_DAYS` set, deletes recordings that many days
//! after their bot reported them (the object, then the key; the bot then shows "Deleted").
//! Idempotent, so several replicas may run it at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::backend::db::DbPool;
use crate::backend::services::recordings::apply_retention;
use crate::backend::storage::Storage;

/// How often recordings past retention are looked for.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(900);
/// Recordings deleted per pass at most (the next pass takes the rest).
const BATCH: i64 = 500;

/// Deletes recordings older than `days`.
pub struct RecordingRetention {
    pub pool: DbPool,
    pub storage: Arc<Storage>,
    pub days: u32,
}

impl RecordingRetention {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::every(RETENTION_INTERVAL, stop, || async {
            let Ok(mut conn) = self.pool.get().await else {
                tracing::warn!("recording retention: database unavailable, will retry");
                return;
            };
            match apply_retention(&mut conn, &self.storage, self.days, BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days = self.days, "recordings past retention deleted"),
                Err(e) => tracing::warn!(error = %e, "recording retention failed; will retry"),
            }
        })
        .await;
    }
}
