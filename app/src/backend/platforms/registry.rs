//! The platforms this process drives, in `PLATFORM_PRIORITY` order with their limits: the one
//! place that knows which platform kinds exist here. The deployer, the workers and the server
//! functions ask it for a platform by kind; none of them names one.

use std::sync::Arc;

use super::Platform;
use crate::backend::config::{Config, PlatformSlot};
use crate::model::platform::DeploymentPlatform;

/// Configured platforms with a driver, in priority order.
#[derive(Clone, Default)]
pub struct PlatformRegistry {
    slots: Vec<(PlatformSlot, Arc<dyn Platform>)>,
}

impl PlatformRegistry {
    /// The configured platforms that `drivers` can run, in priority order. A configured platform
    /// without a driver is logged as an error, so it is never skipped silently.
    pub fn new(config: &Config, drivers: Vec<Arc<dyn Platform>>) -> Self {
        let mut registry = PlatformRegistry::default();
        for slot in &config.platforms {
            match drivers.iter().find(|p| p.kind() == slot.platform) {
                Some(p) => registry.slots.push((slot.clone(), p.clone())),
                None => tracing::error!(
                    platform = slot.platform.as_str(),
                    "platform configured in PLATFORM_PRIORITY but no driver for it runs here: bots will not be placed on it"
                ),
            }
        }
        registry
    }

    /// The platform of `kind`, when it runs here.
    pub fn get(&self, kind: DeploymentPlatform) -> Option<Arc<dyn Platform>> {
        self.slots.iter().find(|(s, _)| s.platform == kind).map(|(_, p)| p.clone())
    }

    /// The platforms with their limits, in priority order.
    pub fn slots(&self) -> &[(PlatformSlot, Arc<dyn Platform>)] {
        &self.slots
    }

    /// Stops what each platform runs from this process (local children), on shutdown.
    pub async fn shutdown(&self) {
        for (_, p) in &self.slots {
            p.shutdown().await;
        }
    }
}
