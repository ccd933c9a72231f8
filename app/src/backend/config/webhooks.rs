//! Outbound webhooks: `WEBHOOK_*` (docs/WEBHOOKS.md).

use std::time::Duration;

use super::parse::{ConfigErrors, Vars};

/// Outbound webhooks (docs/WEBHOOKS.md).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How long one delivery attempt may take, connecting included (`WEBHOOK_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// How long a delivery is retried before it is given up (`WEBHOOK_RETRY_HOURS`).
    pub retry_for: Duration,
    /// The first retry's delay; each further one doubles, up to an hour, with jitter
    /// (`WEBHOOK_RETRY_BASE_SECS`).
    pub retry_base: Duration,
    /// An endpoint whose every attempt has failed for this long (and at least
    /// [`Self::disable_after_failures`] times) is disabled (`WEBHOOK_DISABLE_AFTER_HOURS`).
    pub disable_after: Duration,
    pub disable_after_failures: u32,
    /// Deliver to private, loopback and link-local addresses and internal names
    /// (`WEBHOOK_ALLOW_PRIVATE_NETWORKS`, off by default; development mode allows loopback only).
    pub allow_private_networks: bool,
}

impl WebhookConfig {
    pub(super) fn read(vars: &Vars, errs: &mut ConfigErrors) -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(vars.number(errs, "WEBHOOK_TIMEOUT_SECS", 10, 1..=60)),
            retry_for: Duration::from_secs(vars.number(errs, "WEBHOOK_RETRY_HOURS", 24u64, 0..=168) * 3600),
            retry_base: Duration::from_secs(vars.number(errs, "WEBHOOK_RETRY_BASE_SECS", 5, 1..=3600)),
            disable_after: Duration::from_secs(vars.number(errs, "WEBHOOK_DISABLE_AFTER_HOURS", 72u64, 0..=720) * 3600),
            disable_after_failures: vars.number(errs, "WEBHOOK_DISABLE_AFTER_FAILURES", 20, 1..=100_000),
            allow_private_networks: vars.boolean(errs, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", false),
        }
    }

    pub(super) fn describe(&self, row: &mut impl FnMut(&str, String)) {
        row("WEBHOOK_TIMEOUT_SECS", self.timeout.as_secs().to_string());
        row("WEBHOOK_RETRY_HOURS", (self.retry_for.as_secs() / 3600).to_string());
        row("WEBHOOK_RETRY_BASE_SECS", self.retry_base.as_secs().to_string());
        row("WEBHOOK_DISABLE_AFTER_HOURS", (self.disable_after.as_secs() / 3600).to_string());
        row("WEBHOOK_DISABLE_AFTER_FAILURES", self.disable_after_failures.to_string());
        row(
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS",
            if self.allow_private_networks {
                "true -- webhooks may reach private, loopback and link-local addresses".to_owned()
            } else {
                "false (private, loopback and link-local addresses and internal names are refused; \
                 development mode allows loopback)"
                    .to_owned()
            },
        );
    }
}
