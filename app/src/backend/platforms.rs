//! Where bots run. Each platform implements [`Platform`]; the [`registry`] holds the ones this
//! process drives, with their health, and the deployer (`backend::deployer`) chooses one,
//! reserves capacity and calls it. Every platform starts a bot with the same environment
//! ([`env::bot_environment`]) and reports failures as one of the [`ErrorKind`]s.

pub mod coolify;
pub mod ecs;
pub mod env;
pub mod faults;
pub mod kubernetes;
pub mod local;
pub mod pull_lock;
pub mod registry;
pub mod simulated;

pub use registry::{PlatformHealth, PlatformRegistry};

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::model::bot::MeetingPlatform;
use crate::model::platform::DeploymentPlatform;

/// A boxed future, so platforms can be used as `dyn Platform`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a platform needs to start one bot.
#[derive(Debug, Clone)]
pub struct BotLaunch {
    pub bot_id: i64,
    pub meeting_platform: MeetingPlatform,
    /// The bot's token (`MILO_AUTH_TOKEN` in its environment). Never logged.
    pub token: String,
    /// Where the bot reaches this server (`MILO_URL`).
    pub milo_url: String,
}

/// A started bot: the platform's name for its resource (Job, task ARN, slot, process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    pub identifier: String,
}

/// Why a platform call failed, as far as the deployer and the operator need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The platform is full: a quota or its capacity is exhausted (try later or elsewhere).
    Capacity,
    /// The resource exists already (a retried create).
    Conflict,
    /// The resource is not there.
    NotFound,
    /// The credentials are missing, wrong or lack a permission.
    Unauthorised,
    /// The platform asked us to slow down.
    Throttled,
    /// The platform did not answer, timed out or failed on its side.
    Unavailable,
    /// The platform refused the request as invalid (a bad image or spec for this bot).
    Rejected,
    /// Meeboter's own configuration of the platform is incomplete or wrong (no kubeconfig).
    Misconfigured,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Capacity => "capacity exceeded",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unauthorised => "unauthorised",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Misconfigured => "misconfigured",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A platform call that failed. The message is for operators' logs (it may name internal
/// objects); a bot's owner sees [`PlatformError::public_reason`] only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct PlatformError {
    pub kind: ErrorKind,
    pub message: String,
}

impl PlatformError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PlatformError { kind, message: message.into() }
    }

    /// The platform could not do it, for a reason of its own.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }

    /// What a bot's owner may read about the failure (the event's description): never the
    /// platform's own error text, which can carry internal names and addresses.
    pub fn public_reason(&self) -> &'static str {
        match self.kind {
            ErrorKind::Capacity => "the platform has no capacity left (quota exceeded)",
            ErrorKind::Conflict => "the platform already has a resource for this bot",
            ErrorKind::NotFound => "the platform no longer knows the bot's resource",
            ErrorKind::Unauthorised => "the platform refused Meeboter's credentials",
            ErrorKind::Throttled => "the platform is throttling requests",
            ErrorKind::Unavailable => "the platform could not be reached or failed",
            ErrorKind::Rejected => "the platform refused the bot's deployment as invalid",
            ErrorKind::Misconfigured => "the platform is not configured correctly",
        }
    }
}

/// What became of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ResourceStatus {
    Running,
    Exited { code: Option<i32> },
    Gone,
}

/// One resource a platform runs, for reconciliation and tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    pub identifier: String,
    pub bot_id: Option<i64>,
    pub status: ResourceStatus,
}

/// A platform that runs bots. `Any` lets the registry hand a driver to the server functions
/// that show its own details (`PlatformRegistry::driver`).
pub trait Platform: Any + Send + Sync {
    fn kind(&self) -> DeploymentPlatform;
    /// A cheap read that proves the configuration, the credentials and the connection work
    /// (start-up, `meeboter config check`, `/readyz`).
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>>;
    /// Starts a bot; answers the resource's identifier.
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>>;
    /// Stops a resource. Idempotent: stopping a stopped or unknown resource succeeds.
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>>;
    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>>;
    /// Gives back what the bot held beyond its resource (a pool slot). Idempotent.
    fn release(&self, bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>>;
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>>;
    /// The running resource of `bot_id`, if any: how the deployer finds what an interrupted
    /// placement left (a replica that crashed between the platform's answer and storing it).
    /// Rare, so a list is good enough; a driver may answer it more cheaply.
    fn find(&self, bot_id: i64) -> BoxFuture<'_, Result<Option<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            Ok(self.list().await?.into_iter().find(|r| r.bot_id == Some(bot_id) && r.status == ResourceStatus::Running))
        })
    }
    /// Whether every replica sees every resource (`list`, `status`). The local platform sees only
    /// this process's own children, so a resource it does not list may run under another replica:
    /// the reconciler judges only what such a platform does list.
    fn sees_every_replica(&self) -> bool {
        true
    }
    /// Stops what this process itself runs (local children) when it shuts down; cloud resources
    /// outlive the process.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
