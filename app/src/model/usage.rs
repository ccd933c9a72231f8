//! Plans, daily limits and usage buckets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A subscription plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Plan {
    Free,
    Pro,
    PayAsYouGo,
    Custom,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Self::Free, Self::Pro, Self::PayAsYouGo, Self::Custom];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "FREE",
            Self::Pro => "PRO",
            Self::PayAsYouGo => "PAY_AS_YOU_GO",
            Self::Custom => "CUSTOM",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Self::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::Pro => "Pro",
            Self::PayAsYouGo => "Pay as you go",
            Self::Custom => "Enterprise",
        }
    }

    /// Bots per day; `None` is unlimited.
    pub fn daily_limit(self) -> Option<i64> {
        match self {
            Self::Free => Some(5),
            Self::Pro => Some(200),
            Self::PayAsYouGo | Self::Custom => None,
        }
    }
}

/// A user's plan and the limit that applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub current_plan: Plan,
    /// The plan's limit (None: unlimited).
    pub plan_daily_limit: Option<i64>,
    /// An administrator's override of the plan's limit.
    pub custom_daily_bot_limit: Option<i64>,
    /// What applies: the override, else the plan's limit.
    pub effective_daily_limit: Option<i64>,
    pub subscription_active: bool,
    pub subscription_end_date: Option<DateTime<Utc>>,
}

/// Bots created in the current UTC day against the daily limit (deleted bots included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DailyUsage {
    /// The UTC date, YYYY-MM-DD.
    pub date: String,
    /// Always "UTC": the day a limit counts does not depend on the caller.
    pub time_zone: String,
    pub usage: i64,
    pub limit: Option<i64>,
    pub remaining: Option<i64>,
    /// The next UTC midnight, when the count starts again.
    pub resets_at: DateTime<Utc>,
}

/// One bar of the usage chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UsageBucket {
    pub start: DateTime<Utc>,
    /// Short label in the caller's time zone ("14:00", "Mon 3").
    pub label: String,
    pub bots_used: i64,
    pub ms_elapsed: i64,
    /// At $0.10 per bot-hour.
    pub estimated_cost: f64,
}

/// The range of a usage chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UsageRange {
    Today,
    Week,
    Month,
}

/// Dollars per bot-hour.
pub const COST_PER_BOT_HOUR: f64 = 0.10;
