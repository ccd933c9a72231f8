//! Where QUEUED bots stand: their queue position and estimated start
//! ([`crate::backend::deployer::estimate`]), added to the bots the API and the pages show.

use diesel_async::AsyncPgConnection;

use crate::backend::config::PlatformSlot;
use crate::backend::deployer::estimate::Estimator;
use crate::model::bot::{Bot, BotStatus, HybridDeployResult};

/// Fills `queue` of each QUEUED bot of `bots` (one query for all of them). An estimate that
/// cannot be made leaves `queue` empty and is logged: the bots themselves are still answered (a
/// create that committed must not look failed, or a retry would create a second bot).
pub async fn with_queue(conn: &mut AsyncPgConnection, estimator: &Estimator, slots: &[PlatformSlot], bots: &mut [Bot]) {
    let queued: Vec<i64> = bots.iter().filter(|b| b.status == BotStatus::Queued).map(|b| b.id).collect();
    if queued.is_empty() {
        return;
    }
    match estimator.queue_info(conn, slots, &queued).await {
        Ok(mut info) => {
            for b in bots.iter_mut() {
                b.queue = info.remove(&b.id);
            }
        }
        Err(e) => tracing::warn!(error = %e, "estimating the queue failed; answering without positions"),
    }
}

/// The create answer's summary of what the deployer did with `bot` (the upstream
/// `HybridDeployResult`).
pub fn deploy_result(bot: &Bot) -> HybridDeployResult {
    HybridDeployResult {
        success: bot.status != BotStatus::Fatal,
        platform: bot.deployment_platform,
        platform_identifier: bot.platform_identifier.clone(),
        queued: bot.status == BotStatus::Queued,
        queue_position: bot.queue.as_ref().map(|q| q.position),
        estimated_wait_ms: bot.queue.as_ref().and_then(|q| q.estimated_wait_ms),
    }
}
