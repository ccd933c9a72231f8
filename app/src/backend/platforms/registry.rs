//! The platforms this process drives, in `PLATFORM_PRIORITY` order with their limits and their
//! last known health: the one place that knows which platform kinds exist here. The deployer,
//! the workers and the server functions ask it for a platform by kind.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{ErrorKind, Platform};
use crate::backend::config::{Config, PlatformSlot};
use crate::model::platform::DeploymentPlatform;
use chrono::{DateTime, Utc};

/// How often each replica probes its platforms (`/readyz` reads the result).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// A probe that takes longer than this has failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A platform's health as the last probe found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformHealth {
    pub platform: DeploymentPlatform,
    pub ok: bool,
    /// What failed, for operators (logs, `config check`); never sent to anonymous callers.
    pub error: Option<String>,
    pub kind: Option<ErrorKind>,
    /// Since when the platform is in this state.
    pub since: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
}

/// Configured platforms with a driver, in priority order.
#[derive(Clone, Default)]
pub struct PlatformRegistry {
    slots: Vec<(PlatformSlot, Arc<dyn Platform>)>,
    health: Arc<RwLock<HashMap<DeploymentPlatform, PlatformHealth>>>,
}

impl PlatformRegistry {
    /// The configured platforms that `drivers` can run, in priority order. A configured platform
    /// without a driver is logged as an error and reported unhealthy, never skipped silently
    /// (`serve` refuses to start before it gets here: `missing_drivers`).
    pub fn new(config: &Config, drivers: Vec<Arc<dyn Platform>>) -> Self {
        let registry = PlatformRegistry::default();
        let mut slots = Vec::new();
        for slot in &config.platforms {
            match drivers.iter().find(|p| p.kind() == slot.platform) {
                Some(p) => slots.push((slot.clone(), p.clone())),
                None => {
                    tracing::error!(
                        platform = slot.platform.as_str(),
                        "platform configured in PLATFORM_PRIORITY but no driver for it runs here: bots will not be placed on it"
                    );
                    registry.record(slot.platform, Err((ErrorKind::Unavailable, "no driver for this platform".into())));
                }
            }
        }
        PlatformRegistry { slots, ..registry }
    }

    /// The platform of `kind`, when it runs here.
    pub fn get(&self, kind: DeploymentPlatform) -> Option<Arc<dyn Platform>> {
        self.slots.iter().find(|(s, _)| s.platform == kind).map(|(_, p)| p.clone())
    }

    /// The driver of type `T` (for the views only one platform has: a Job's pod, a process).
    pub fn driver<T: Platform>(&self) -> Option<Arc<T>> {
        self.slots.iter().find_map(|(_, p)| {
            let any: Arc<dyn Any + Send + Sync> = p.clone();
            any.downcast::<T>().ok()
        })
    }

    /// The platforms with their limits, in priority order.
    pub fn slots(&self) -> &[(PlatformSlot, Arc<dyn Platform>)] {
        &self.slots
    }

    /// Probes every platform (a cheap read each, at most `PROBE_TIMEOUT`), records and logs
    /// what changed, and answers the health of all of them.
    pub async fn probe_all(&self) -> Vec<PlatformHealth> {
        let probes = self.slots.iter().map(|(slot, p)| async move {
            let result = match tokio::time::timeout(PROBE_TIMEOUT, p.probe()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err((e.kind, e.message)),
                Err(_) => Err((ErrorKind::Unavailable, format!("no answer within {PROBE_TIMEOUT:?}"))),
            };
            (slot.platform, result)
        });
        for (platform, result) in futures_util::future::join_all(probes).await {
            self.record(platform, result);
        }
        self.health()
    }

    /// The last known health of every configured platform, in priority order.
    pub fn health(&self) -> Vec<PlatformHealth> {
        let map = self.health.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<PlatformHealth> = map.values().cloned().collect();
        all.sort_by_key(|h| DeploymentPlatform::ALL.iter().position(|p| *p == h.platform));
        all
    }

    fn record(&self, platform: DeploymentPlatform, result: Result<(), (ErrorKind, String)>) {
        let now = Utc::now();
        let mut map = self.health.write().unwrap_or_else(|p| p.into_inner());
        let before = map.get(&platform).cloned();
        let ok = result.is_ok();
        let (kind, error) = match result {
            Ok(()) => (None, None),
            Err((kind, message)) => (Some(kind), Some(message)),
        };
        let changed = before.as_ref().is_none_or(|b| b.ok != ok || b.kind != kind);
        match (&error, changed) {
            (Some(e), true) => tracing::error!(platform = platform.as_str(), error = %e, "platform unhealthy"),
            (None, true) if before.is_some() => tracing::info!(platform = platform.as_str(), "platform healthy again"),
            _ => {}
        }
        let since = if changed { now } else { before.map_or(now, |b| b.since) };
        map.insert(platform, PlatformHealth { platform, ok, error, kind, since, checked_at: now });
    }

    /// Stops what each platform runs from this process (local children), on shutdown.
    pub async fn shutdown(&self) {
        for (_, p) in &self.slots {
            p.shutdown().await;
        }
    }
}
