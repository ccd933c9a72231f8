//! The infrastructure views: each platform's capacity, health and deploy latency
//! ([`platforms`]), its bots by stage ([`stats`]), the deployment queue ([`queue`]), the
//! resources each platform runs and stopping one ([`resources`]), the estimated cost
//! ([`cost`]) and the deploy activity over time ([`activity`]).
//!
//! Every answer is computed for a [`Scope`]: an administrator's covers the whole fleet, a user's
//! only their own bots, so no user learns another user's bots, names or counts. The platforms'
//! configuration (limits, queue timeouts) and health are the same for everyone.

pub mod activity;
pub mod cost;
pub mod platforms;
pub mod queue;
pub mod resources;
pub mod stats;

use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;
use crate::model::user::CurrentUser;

/// Whose bots an answer covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every user's (administrators).
    Fleet,
    /// One user's own.
    Owner(i64),
}

impl Scope {
    /// The fleet for an administrator, their own bots for anyone else.
    pub fn of(user: &CurrentUser) -> Self {
        if user.is_admin() {
            Scope::Fleet
        } else {
            Scope::Owner(user.id)
        }
    }

    /// The owner to filter on (`$n::int8 IS NULL OR user_id = $n` in SQL).
    pub fn owner(self) -> Option<i64> {
        match self {
            Scope::Fleet => None,
            Scope::Owner(id) => Some(id),
        }
    }
}

/// The answer for a platform this server does not drive.
pub fn not_configured(platform: DeploymentPlatform) -> AppError {
    AppError::NotFound(format!(
        "{} is not configured on this server (PLATFORM_PRIORITY and {}_BOT_LIMIT).",
        platform.label(),
        platform.env_prefix()
    ))
}
