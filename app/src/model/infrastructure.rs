//! What the infrastructure page and the dashboard's platform card show: each platform's capacity
//! and health, its bots by stage, the queue, the resources each platform runs, the estimated cost
//! and the deploy activity over time. An administrator's answers cover the whole fleet; a user's
//! cover only their own bots (the platforms' limits and health are the same for everyone).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bot::{BotStatus, MeetingPlatform};
use super::platform::DeploymentPlatform;

/// A platform's health as the deployers of every replica found it (`platform_health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "state")]
pub enum HealthState {
    Healthy,
    /// Deploys failed on the platform's side: it is skipped until a probe succeeds.
    Unhealthy {
        /// What failed, in words safe for every user (never the platform's own error text).
        reason: String,
        since: DateTime<Utc>,
        /// When a replica probes it next.
        retry_at: Option<DateTime<Utc>>,
    },
    /// The platform asked Meeboter to slow down: not called before `until`.
    Throttled {
        until: DateTime<Utc>,
    },
    /// The platform answered it is full (a quota): not tried before `until`.
    Full {
        until: DateTime<Utc>,
    },
}

impl HealthState {
    /// A short word for badges.
    pub fn label(&self) -> &'static str {
        match self {
            HealthState::Healthy => "Healthy",
            HealthState::Unhealthy { .. } => "Unhealthy",
            HealthState::Throttled { .. } => "Throttled",
            HealthState::Full { .. } => "Full",
        }
    }

    pub fn is_healthy(&self) -> bool {
        matches!(self, HealthState::Healthy)
    }
}

/// A configured platform, in `PLATFORM_PRIORITY` order, with how full it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    pub platform: DeploymentPlatform,
    /// Bots holding a resource there (DEPLOYING through CALL_ENDED): the caller's own for a user.
    pub used: i64,
    pub limit: u32,
    /// How long a bot waits for room on this platform before it tries the next one.
    pub queue_timeout_ms: u64,
    pub health: HealthState,
    /// Platform deploy calls that succeeded in the last hour, and their latency percentiles.
    pub deploys_last_hour: i64,
    pub deploy_p50_ms: Option<u64>,
    pub deploy_p95_ms: Option<u64>,
}

impl PlatformStatus {
    /// "K8s (25/30)".
    pub fn badge(&self) -> String {
        format!("{} ({}/{})", self.platform.label(), self.used, self.limit)
    }

    /// How full the platform is, 0..=100.
    pub fn percent(&self) -> u32 {
        if self.limit == 0 {
            return 100;
        }
        u32::try_from((self.used.max(0) * 100 / i64::from(self.limit)).min(100)).unwrap_or(100)
    }
}

/// One platform's bots by stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStats {
    pub platform: DeploymentPlatform,
    /// DEPLOYING now.
    pub deploying: i64,
    /// JOINING_CALL, IN_WAITING_ROOM, IN_CALL, LEAVING or CALL_ENDED now.
    pub active: i64,
    /// Ended DONE since the start of today.
    pub finished_today: i64,
    /// Ended FATAL since the start of today.
    pub failed_today: i64,
}

/// The deployment queue at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Bots waiting for a platform.
    pub total: i64,
    /// When the longest-waiting bot was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// How long the waiting bots have waited so far, on average.
    pub average_wait_ms: Option<u64>,
}

/// A bot in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedBot {
    pub bot_id: i64,
    pub bot_name: String,
    pub meeting_platform: MeetingPlatform,
    pub queued_at: DateTime<Utc>,
    /// When the bot gives up waiting and ends FATAL.
    pub timeout_at: DateTime<Utc>,
    /// 1 is next (the same position the bots table shows).
    pub position: Option<u32>,
    pub estimated_start_at: Option<DateTime<Utc>>,
    /// Why it waits; administrators only (it names every platform's fill).
    pub waiting_on: Option<String>,
}

/// A page of the queue, in queue order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuePage {
    pub bots: Vec<QueuedBot>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// What became of a platform resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ResourceState {
    Running,
    Exited { code: Option<i32> },
    Gone,
}

impl ResourceState {
    pub fn label(&self) -> String {
        match self {
            ResourceState::Running => "Running".to_owned(),
            ResourceState::Exited { code: Some(c) } => format!("Exited ({c})"),
            ResourceState::Exited { code: None } => "Exited".to_owned(),
            ResourceState::Gone => "Gone".to_owned(),
        }
    }
}

/// One resource a platform runs (a Kubernetes Job, an ECS task, a Coolify slot, a process) and
/// the bot it belongs to. A resource with no bot (an orphan) is shown to administrators only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRow {
    pub identifier: String,
    pub state: ResourceState,
    pub bot_id: Option<i64>,
    pub bot_name: Option<String>,
    pub bot_status: Option<BotStatus>,
    /// When the bot was placed on the platform (its resource's age).
    pub started_at: Option<DateTime<Utc>>,
}

/// A page of one platform's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePage {
    pub platform: DeploymentPlatform,
    pub rows: Vec<ResourceRow>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
    /// False for the local platform: each replica lists only the processes it started itself.
    pub sees_every_replica: bool,
}

/// The estimated cost of one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformCost {
    pub platform: DeploymentPlatform,
    /// The configured unit price, US dollars per bot-hour (per slot-hour on Coolify).
    pub hourly_usd: f64,
    pub today_hours: f64,
    pub week_hours: f64,
    pub month_hours: f64,
    pub today_usd: f64,
    pub week_usd: f64,
    pub month_usd: f64,
}

/// Estimated cost per platform for today, this week (from Sunday) and this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub platforms: Vec<PlatformCost>,
    pub today_usd: f64,
    pub week_usd: f64,
    pub month_usd: f64,
}

/// The span and resolution of the activity chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActivityRange {
    /// Hourly, the last 24 hours.
    Day,
    /// Daily, the last 30 days.
    Month,
}

impl ActivityRange {
    /// How many buckets the range has.
    pub fn buckets(self) -> usize {
        match self {
            ActivityRange::Day => 24,
            ActivityRange::Month => 30,
        }
    }
}

/// Deploy activity in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityBucket {
    pub start: DateTime<Utc>,
    /// Platform deploy calls that started a bot.
    pub deployments: i64,
    /// Bots that ended FATAL.
    pub failures: i64,
    /// Deploy calls that failed on a platform and sent the bot on to the next one.
    pub failovers: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(used: i64, limit: u32) -> PlatformStatus {
        PlatformStatus {
            platform: DeploymentPlatform::K8s,
            used,
            limit,
            queue_timeout_ms: 0,
            health: HealthState::Healthy,
            deploys_last_hour: 0,
            deploy_p50_ms: None,
            deploy_p95_ms: None,
        }
    }

    #[test]
    fn the_badge_reads_like_the_section_header() {
        assert_eq!(status(25, 30).badge(), "K8s (25/30)");
    }

    #[test]
    fn percent_is_clamped_and_a_zero_limit_is_full() {
        assert_eq!(status(15, 30).percent(), 50);
        assert_eq!(status(45, 30).percent(), 100);
        assert_eq!(status(0, 0).percent(), 100);
    }
}
