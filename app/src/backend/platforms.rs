//! Where bots run. Each platform implements [`Platform`]; the [`registry`] holds the ones this
//! process drives, and the deployer (`backend::deployer`) chooses one, reserves capacity and
//! calls it. Only `local` exists so far; Kubernetes, ECS and Coolify implement the same trait.

pub mod local;
pub mod registry;

pub use registry::PlatformRegistry;

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

/// A platform call that failed; the message is for operators and the bot's events.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlatformError {
    #[error("{0}")]
    Failed(String),
    #[error("no such resource: {0}")]
    NotFound(String),
}

impl PlatformError {
    /// What a bot's owner may read about the failure (the event's description): never the
    /// platform's own error text, which can carry internal names and addresses.
    pub fn public_reason(&self) -> &'static str {
        match self {
            PlatformError::Failed(_) => "the platform could not start the bot",
            PlatformError::NotFound(_) => "the platform no longer knows the bot's resource",
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

/// A platform that runs bots.
pub trait Platform: Send + Sync {
    fn kind(&self) -> DeploymentPlatform;
    /// Starts a bot; answers the resource's identifier.
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>>;
    /// Stops a resource. Idempotent: stopping a stopped or unknown resource succeeds.
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>>;
    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>>;
    /// Gives back what the bot held beyond its resource (a pool slot). Idempotent.
    fn release(&self, bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>>;
    /// What the Platform tab shows about a resource.
    fn details<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>>;
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>>;
    /// Stops what this process itself runs (local children) when it shuts down; cloud resources
    /// outlive the process.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
