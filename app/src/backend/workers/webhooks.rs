//! The webhook sender of a replica: passes over the outbox ([`delivery::deliver_due`]) every
//! [`WEBHOOK_INTERVAL`], and again at once while a pass found anything: each bot's next event
//! becomes due only when the one before it is delivered, so a burst of a bot's events goes out
//! one round trip apart, not one interval apart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::backend::config::Config;
use crate::backend::db::DbPool;
use crate::backend::webhooks::delivery;
use crate::backend::webhooks::sender::Sender;

/// How often a replica looks for due deliveries.
pub const WEBHOOK_INTERVAL: Duration = Duration::from_millis(500);

pub struct WebhookSender {
    pub pool: DbPool,
    pub config: Arc<Config>,
}

impl WebhookSender {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let sender = Sender::new(&self.config);
        let w = &self.config.webhooks;
        tracing::info!(
            timeout_secs = w.timeout.as_secs(),
            retry_hours = w.retry_for.as_secs() / 3600,
            allow_private_networks = w.allow_private_networks,
            "webhook sender running"
        );
        if w.allow_private_networks {
            tracing::warn!(
                "WEBHOOK_ALLOW_PRIVATE_NETWORKS=true: webhooks and bot callbacks may reach private, loopback and \
                 link-local addresses (cloud metadata included); set it only if every user is trusted"
            );
        }
        super::every(WEBHOOK_INTERVAL, stop.clone(), || async {
            loop {
                match delivery::deliver_due(&self.pool, &sender, &self.config.webhooks).await {
                    Ok(n) if n > 0 && !*stop.borrow() => continue,
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook sender: database unavailable, will retry");
                        return;
                    }
                }
            }
        })
        .await;
    }
}
