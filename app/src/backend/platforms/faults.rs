//! Fault injection for the reliability harness: a [`FaultPlan`] (latency, and a fault that hits
//! some share of some calls) held in a runtime-switchable [`Faults`] handle, and
//! [`FaultyPlatform`], which wraps any platform and misbehaves as the plan says. The `bot-sim`
//! fleet host answers its HTTP API with the same plans, so the soak tests can break a platform
//! driven by another process too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BotLaunch, BoxFuture, ErrorKind, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::model::platform::DeploymentPlatform;

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Fault {
    /// The platform fails on its side (HTTP 500): `Unavailable`.
    Http500,
    /// The platform does not answer: waits `timeoutMs` (default 10 s; the fleet host hangs
    /// 30 s, past its clients' 10 s timeout), then `Unavailable` ("timed out").
    Timeout,
    /// The platform asks us to slow down (HTTP 429): `Throttled`.
    Throttle,
    /// The platform's quota is exhausted: `Capacity`.
    Quota,
    /// The platform answers success but lies: a deploy starts nothing (a phantom identifier),
    /// status says Running for a gone resource and Gone for a running one, list is empty,
    /// stop and release do nothing.
    WrongAnswer,
}

/// The platform calls a fault can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PlatformCall {
    Deploy,
    Stop,
    Status,
    List,
    Probe,
    Release,
}

/// How long a `timeout` fault of [`FaultyPlatform`] waits when the plan does not say (the
/// real drivers' request timeout).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest latency or timeout a plan may ask for (ten minutes).
pub const MAX_DELAY_MS: u64 = 600_000;

/// What a platform does wrong, as JSON: `{"latencyMs": 50, "jitterMs": 10, "fault": "http500",
/// "rate": 0.5, "calls": ["deploy"], "timeoutMs": 2000}`. Every field is optional; the empty
/// plan `{}` is a healthy platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    /// Added to every call (of any kind), before the fault.
    #[serde(default)]
    pub latency_ms: u64,
    /// Up to this much more latency, uniformly at random.
    #[serde(default)]
    pub jitter_ms: u64,
    #[serde(default)]
    pub fault: Option<Fault>,
    /// The share of the hit calls that fail, 0 to 1.
    #[serde(default = "full_rate")]
    pub rate: f64,
    /// The calls the fault hits; empty means all of them.
    #[serde(default)]
    pub calls: Vec<PlatformCall>,
    /// How long a `timeout` fault waits before failing (default: the caller's, see [`Fault::Timeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

fn full_rate() -> f64 {
    1.0
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan { latency_ms: 0, jitter_ms: 0, fault: None, rate: full_rate(), calls: Vec::new(), timeout_ms: None }
    }
}

impl FaultPlan {
    /// A plan that fails every call with `fault`.
    pub fn always(fault: Fault) -> Self {
        FaultPlan { fault: Some(fault), ..FaultPlan::default() }
    }

    /// Refuses a plan that cannot be followed, with a message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!("rate must be from 0 to 1, not {}", self.rate));
        }
        let delays =
            [("latencyMs", self.latency_ms), ("jitterMs", self.jitter_ms), ("timeoutMs", self.timeout_ms.unwrap_or(0))];
        for (name, ms) in delays {
            if ms > MAX_DELAY_MS {
                return Err(format!("{name} must be at most {MAX_DELAY_MS}, not {ms}"));
            }
        }
        Ok(())
    }

    /// Whether the fault applies to `call` at all (before the rate is rolled).
    pub fn hits(&self, call: PlatformCall) -> bool {
        self.fault.is_some() && (self.calls.is_empty() || self.calls.contains(&call))
    }
}

/// What one call must suffer: a delay first, then maybe a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    pub delay: Duration,
    pub fault: Option<Fault>,
    /// How long a `timeout` fault waits, when the plan says.
    pub timeout: Option<Duration>,
}

/// How many calls went through a [`Faults`] handle and how many were hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    pub calls: u64,
    pub injected: u64,
}

#[derive(Default)]
struct Shared {
    plan: RwLock<FaultPlan>,
    calls: AtomicU64,
    injected: AtomicU64,
}

/// A shared, switchable fault plan with counters. Clones share the plan.
#[derive(Clone, Default)]
pub struct Faults(Arc<Shared>);

impl Faults {
    pub fn new(plan: FaultPlan) -> Self {
        let faults = Faults::default();
        faults.set(plan);
        faults
    }

    /// Switches to `plan` for every later call.
    pub fn set(&self, plan: FaultPlan) {
        *self.0.plan.write().unwrap_or_else(|p| p.into_inner()) = plan;
    }

    /// Back to a healthy platform.
    pub fn clear(&self) {
        self.set(FaultPlan::default());
    }

    pub fn plan(&self) -> FaultPlan {
        self.0.plan.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn counts(&self) -> FaultCounts {
        FaultCounts { calls: self.0.calls.load(Ordering::Relaxed), injected: self.0.injected.load(Ordering::Relaxed) }
    }

    /// Decides what `call` suffers now (counts the call, and the fault when one is injected).
    pub fn decide(&self, call: PlatformCall) -> Injection {
        let plan = self.0.plan.read().unwrap_or_else(|p| p.into_inner()).clone();
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        let jitter = if plan.jitter_ms > 0 { rand::random::<u64>() % (plan.jitter_ms + 1) } else { 0 };
        let struck = plan.hits(call) && (plan.rate >= 1.0 || rand::random::<f64>() < plan.rate);
        if struck {
            self.0.injected.fetch_add(1, Ordering::Relaxed);
        }
        Injection {
            delay: Duration::from_millis(plan.latency_ms + jitter),
            fault: plan.fault.filter(|_| struck),
            timeout: plan.timeout_ms.map(Duration::from_millis),
        }
    }
}

impl Injection {
    /// Waits the delay; answers the error a failing fault stands for (`None` for no fault and
    /// for `wrongAnswer`, which the caller acts out).
    pub async fn suffer(&self, kind: DeploymentPlatform) -> Result<Option<Fault>, PlatformError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let name = kind.as_str();
        match self.fault {
            None => Ok(None),
            Some(Fault::Http500) => Err(PlatformError::unavailable(format!("{name}: injected HTTP 500"))),
            Some(Fault::Timeout) => {
                let wait = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
                tokio::time::sleep(wait).await;
                Err(PlatformError::unavailable(format!("{name}: timed out after {wait:?} (injected)")))
            }
            Some(Fault::Throttle) => {
                Err(PlatformError::new(ErrorKind::Throttled, format!("{name}: injected HTTP 429")))
            }
            Some(Fault::Quota) => {
                Err(PlatformError::new(ErrorKind::Capacity, format!("{name}: quota exceeded (injected)")))
            }
            Some(Fault::WrongAnswer) => Ok(Some(Fault::WrongAnswer)),
        }
    }
}

/// A platform that misbehaves as its [`Faults`] say, in front of a real one.
pub struct FaultyPlatform {
    inner: Arc<dyn Platform>,
    faults: Faults,
    phantoms: AtomicU64,
}

impl FaultyPlatform {
    pub fn new(inner: Arc<dyn Platform>, faults: Faults) -> Self {
        FaultyPlatform { inner, faults, phantoms: AtomicU64::new(0) }
    }

    /// The handle to switch this platform's faults at runtime.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    async fn inject(&self, call: PlatformCall) -> Result<bool, PlatformError> {
        let injection = self.faults.decide(call);
        Ok(injection.suffer(self.inner.kind()).await? == Some(Fault::WrongAnswer))
    }
}

impl Platform for FaultyPlatform {
    fn kind(&self) -> DeploymentPlatform {
        self.inner.kind()
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            if self.inject(PlatformCall::Probe).await? {
                return Ok(());
            }
            self.inner.probe().await
        })
    }

    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            if self.inject(PlatformCall::Deploy).await? {
                let n = self.phantoms.fetch_add(1, Ordering::Relaxed);
                let identifier = format!("phantom-{}-{}-{n}", self.inner.kind().as_str(), bot.bot_id);
                return Ok(Launched { identifier });
            }
            self.inner.deploy(bot).await
        })
    }

    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            if self.inject(PlatformCall::Stop).await? {
                return Ok(());
            }
            self.inner.stop(identifier).await
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            let lie = self.inject(PlatformCall::Status).await?;
            let truth = self.inner.status(identifier).await?;
            Ok(if lie { wrong_status(&truth) } else { truth })
        })
    }

    fn release(&self, bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            if self.inject(PlatformCall::Release).await? {
                return Ok(());
            }
            self.inner.release(bot_id).await
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            if self.inject(PlatformCall::List).await? {
                return Ok(Vec::new());
            }
            self.inner.list().await
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.inner.shutdown()
    }
}

/// The lie a `wrongAnswer` status tells: running when it is not, gone when it runs.
pub fn wrong_status(truth: &ResourceStatus) -> ResourceStatus {
    match truth {
        ResourceStatus::Running => ResourceStatus::Gone,
        ResourceStatus::Exited { .. } | ResourceStatus::Gone => ResourceStatus::Running,
    }
}

#[cfg(test)]
mod tests;
