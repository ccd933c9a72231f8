//! Bots as both sides see them: statuses, meeting platforms, events, and the DTOs of the
//! bots API (create, update, list filters, bulk results).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::platform::DeploymentPlatform;

mod listing;

/// Where a bot is in its life. The server sets SCHEDULED, QUEUED, DEPLOYING (and DONE/FATAL on
/// cancel or failure); the bot reports the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BotStatus {
    Scheduled,
    Queued,
    Deploying,
    JoiningCall,
    InWaitingRoom,
    InCall,
    Leaving,
    CallEnded,
    Done,
    Fatal,
}

impl BotStatus {
    pub const ALL: [BotStatus; 10] = [
        Self::Scheduled,
        Self::Queued,
        Self::Deploying,
        Self::JoiningCall,
        Self::InWaitingRoom,
        Self::InCall,
        Self::Leaving,
        Self::CallEnded,
        Self::Done,
        Self::Fatal,
    ];

    /// The stored name (`IN_CALL`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "SCHEDULED",
            Self::Queued => "QUEUED",
            Self::Deploying => "DEPLOYING",
            Self::JoiningCall => "JOINING_CALL",
            Self::InWaitingRoom => "IN_WAITING_ROOM",
            Self::InCall => "IN_CALL",
            Self::Leaving => "LEAVING",
            Self::CallEnded => "CALL_ENDED",
            Self::Done => "DONE",
            Self::Fatal => "FATAL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// How people read it ("In call").
    pub fn label(self) -> &'static str {
        match self {
            Self::Scheduled => "Scheduled",
            Self::Queued => "Queued",
            Self::Deploying => "Deploying",
            Self::JoiningCall => "Joining call",
            Self::InWaitingRoom => "In waiting room",
            Self::InCall => "In call",
            Self::Leaving => "Leaving",
            Self::CallEnded => "Call ended",
            Self::Done => "Done",
            Self::Fatal => "Fatal",
        }
    }

    /// DONE and FATAL never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Fatal)
    }

    /// The statuses that hold a platform resource and its capacity: DEPLOYING through
    /// CALL_ENDED (a bot that reported CALL_ENDED is still uploading its recording and logs).
    pub const ACTIVE: [BotStatus; 6] =
        [Self::Deploying, Self::JoiningCall, Self::InWaitingRoom, Self::InCall, Self::Leaving, Self::CallEnded];

    /// Holding platform capacity (one of [`Self::ACTIVE`]).
    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// The stored names of [`Self::ACTIVE`], for SQL.
    pub fn active_names() -> Vec<&'static str> {
        Self::ACTIVE.iter().map(|s| s.as_str()).collect()
    }

    /// Not yet terminal: counts as the user's active bot.
    pub fn is_live(self) -> bool {
        !self.is_terminal()
    }

    /// A deployment that can still be cancelled.
    pub fn can_cancel(self) -> bool {
        matches!(self, Self::Scheduled | Self::Queued | Self::Deploying | Self::JoiningCall)
    }

    /// In a meeting, so it can be asked to leave.
    pub fn can_remove_from_call(self) -> bool {
        matches!(self, Self::InWaitingRoom | Self::InCall)
    }
}

/// The meeting service a bot joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum MeetingPlatform {
    Zoom,
    MicrosoftTeams,
    GoogleMeet,
}

impl MeetingPlatform {
    pub const ALL: [MeetingPlatform; 3] = [Self::GoogleMeet, Self::MicrosoftTeams, Self::Zoom];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zoom => "zoom",
            Self::MicrosoftTeams => "microsoft-teams",
            Self::GoogleMeet => "google-meet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Zoom => "Zoom",
            Self::MicrosoftTeams => "Microsoft Teams",
            Self::GoogleMeet => "Google Meet",
        }
    }

    /// The platform whose meetings are served from `host` (lower case, no port): Google Meet at
    /// meet.google.com; Teams at teams.microsoft.com, teams.live.com and teams.cloud.microsoft;
    /// Zoom at zoom.us, zoomgov.com and their subdomains (vanity hosts like acme.zoom.us).
    pub fn for_host(host: &str) -> Option<Self> {
        let under = |domain: &str| host == domain || host.strip_suffix(domain).is_some_and(|s| s.ends_with('.'));
        match host {
            "meet.google.com" => Some(Self::GoogleMeet),
            "teams.microsoft.com" | "teams.live.com" | "teams.cloud.microsoft" => Some(Self::MicrosoftTeams),
            _ if under("zoom.us") || under("zoomgov.com") => Some(Self::Zoom),
            _ => None,
        }
    }

    /// The platform of a meeting link, for hints in the UI: an `https://` link with a plain
    /// platform host (no user, no port). The server parses links fully before it accepts them;
    /// anything unusual here is `None`, never a guess.
    pub fn detect(url: &str) -> Option<Self> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        // Browsers and the server read `\` like `/`, so it ends the host too.
        let host = rest.split(['/', '\\', '?', '#']).next()?;
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
            return None;
        }
        Self::for_host(&host.to_ascii_lowercase())
    }
}

/// A stored or sent meeting platform name that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a meeting platform (zoom, microsoft-teams or google-meet)")]
pub struct UnknownPlatform(pub String);

impl TryFrom<String> for MeetingPlatform {
    type Error = UnknownPlatform;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or(UnknownPlatform(s))
    }
}

/// The log levels a bot can be told to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    pub const ALL: [LogLevel; 6] = [Self::Trace, Self::Debug, Self::Info, Self::Warn, Self::Error, Self::Fatal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Meeting details (the upstream `meeting` JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<MeetingPlatform>,
}

/// When a bot leaves on its own, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AutomaticLeave {
    pub waiting_room_timeout: u64,
    pub no_one_joined_timeout: u64,
    pub everyone_left_timeout: u64,
    pub inactivity_timeout: u64,
}

impl AutomaticLeave {
    /// The upstream minimums, also the defaults: 10 min, 60 s, 60 s, 5 min.
    pub const MINIMUM: AutomaticLeave = AutomaticLeave {
        waiting_room_timeout: 600_000,
        no_one_joined_timeout: 60_000,
        everyone_left_timeout: 60_000,
        inactivity_timeout: 300_000,
    };

    /// Raises every timeout to at least its minimum; missing ones take the minimum.
    pub fn clamped(input: Option<AutomaticLeaveInput>) -> AutomaticLeave {
        let i = input.unwrap_or_default();
        let m = Self::MINIMUM;
        AutomaticLeave {
            waiting_room_timeout: i.waiting_room_timeout.unwrap_or(0).max(m.waiting_room_timeout),
            no_one_joined_timeout: i.no_one_joined_timeout.unwrap_or(0).max(m.no_one_joined_timeout),
            everyone_left_timeout: i.everyone_left_timeout.unwrap_or(0).max(m.everyone_left_timeout),
            inactivity_timeout: i.inactivity_timeout.unwrap_or(0).max(m.inactivity_timeout),
        }
    }
}

/// Automatic-leave settings as a client sends them (each optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutomaticLeaveInput {
    pub waiting_room_timeout: Option<u64>,
    pub no_one_joined_timeout: Option<u64>,
    pub everyone_left_timeout: Option<u64>,
    pub inactivity_timeout: Option<u64>,
}

/// A bot as its owner sees it (no token, no internal fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Bot {
    pub id: i64,
    pub display_name: String,
    pub image_url: Option<String>,
    pub meeting: Meeting,
    pub meeting_platform: MeetingPlatform,
    pub automatic_leave: AutomaticLeave,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub recording_enabled: bool,
    /// The object key of the recording, once the bot reported it.
    pub recording: Option<String>,
    /// Off, Pending, Ready (fetch it from `/api/v1/bots/{id}/recording`), Missing or Deleted.
    pub recording_state: super::recording::RecordingState,
    /// Who spoke when, as the bot reported with DONE.
    pub speaker_timeframes: Vec<super::recording::SpeakerTimeframe>,
    pub status: BotStatus,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub callback_url: Option<String>,
    pub log_level: LogLevel,
    pub deployment_platform: Option<DeploymentPlatform>,
    pub platform_identifier: Option<String>,
    pub queue_timeout_ms: Option<i32>,
    pub screenshot_count: usize,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where the bot stands in the deployment queue (QUEUED bots only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    /// What the deployer did with a bot just created (create answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<HybridDeployResult>,
}

/// What the deployer did with a new bot, as the upstream `HybridDeployResult`: deployment is
/// asynchronous, so a new bot is queued (with its position and estimated wait) or scheduled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HybridDeployResult {
    /// The bot was accepted (queued or scheduled).
    pub success: bool,
    pub platform: Option<DeploymentPlatform>,
    pub platform_identifier: Option<String>,
    pub queued: bool,
    pub queue_position: Option<u32>,
    pub estimated_wait_ms: Option<u64>,
}

/// Where a QUEUED bot stands: its place in the queue and when it is expected to start, from
/// measured deploy and bot durations (none until there are measurements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    /// 1 is next.
    pub position: u32,
    pub estimated_wait_ms: Option<u64>,
    pub estimated_start_at: Option<DateTime<Utc>>,
    /// Why it waits ("k8s is at its limit"), once a dispatcher has looked at it.
    pub waiting_on: Option<String>,
}

/// What `POST /api/v1/bots` and the deploy dialogs send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBot {
    /// The meeting link: `https://` on the platform's own host (meet.google.com;
    /// teams.microsoft.com, teams.live.com, teams.cloud.microsoft; zoom.us, zoomgov.com and their
    /// subdomains), without user, password or port. Its host decides the platform.
    pub meeting_url: Option<String>,
    pub meeting_id: Option<String>,
    pub meeting_password: Option<String>,
    /// Required without `meetingUrl`; with it, must agree with the link's host.
    pub platform: Option<MeetingPlatform>,
    /// Shown to participants; default "Meeboter".
    pub display_name: Option<String>,
    /// The bot's picture: http or https to a public host, like `callbackUrl`.
    pub image_url: Option<String>,
    #[serde(default)]
    pub recording_enabled: bool,
    pub automatic_leave: Option<AutomaticLeaveInput>,
    /// RFC 3339 with an offset, or a local date-time read in `timeZone`. Default: now.
    pub start_time: Option<String>,
    /// Same format. Default: one hour after the start.
    pub end_time: Option<String>,
    /// IANA name such as "Europe/Lisbon"; default UTC.
    pub time_zone: Option<String>,
    /// Called when the bot finishes: http or https to a public host (no credentials, no
    /// private, loopback or link-local address, no internal name).
    pub callback_url: Option<String>,
    /// How long the bot may wait in the deployment queue (0..600000 ms).
    pub queue_timeout_ms: Option<i32>,
    /// A retried create with the same key returns the same bot (the header wins).
    pub idempotency_key: Option<String>,
}

/// What `PATCH /api/v1/bots/{id}` may change (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBot {
    pub display_name: Option<String>,
    /// Same rule as on create: http or https to a public host.
    pub image_url: Option<String>,
    pub recording_enabled: Option<bool>,
    pub automatic_leave: Option<AutomaticLeaveInput>,
    /// Same rule as on create: http or https to a public host.
    pub callback_url: Option<String>,
    /// Only before deployment (SCHEDULED or QUEUED). Moving it never changes the daily count:
    /// a bot counts on the UTC day it was created.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub time_zone: Option<String>,
}

pub use listing::*;

/// A bot event: a status change or something the bot reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BotEvent {
    pub id: i64,
    pub bot_id: i64,
    pub event_type: String,
    pub event_time: DateTime<Utc>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub data: Option<serde_json::Value>,
    /// What the event type means.
    pub description: String,
}

/// The result of an action on several bots: which worked, which did not and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    pub succeeded: Vec<i64>,
    pub failed: Vec<BulkFailure>,
}

/// One bot a bulk action could not handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkFailure {
    pub id: i64,
    pub reason: String,
}

/// The event types, with the descriptions shown in the UI and the API docs.
pub const EVENT_TYPES: [(&str, &str); 24] = [
    ("SCHEDULED", "The bot is scheduled and waits for its start time."),
    ("QUEUED", "The bot waits in the deployment queue."),
    ("DEPLOYING", "The bot's container is being started on a platform."),
    ("JOINING_CALL", "The bot is joining the call."),
    ("IN_WAITING_ROOM", "The bot is in the waiting room, waiting to be admitted."),
    ("IN_CALL", "The bot is in the call."),
    ("LEAVING", "The bot is leaving the call."),
    ("CALL_ENDED", "The call ended."),
    ("DONE", "The bot finished."),
    ("FATAL", "The bot failed and stopped."),
    ("PARTICIPANT_JOIN", "A participant joined the call."),
    ("PARTICIPANT_LEAVE", "A participant left the call."),
    ("LOG", "The bot logged a message."),
    ("USER_REMOVED_FROM_CALL", "The owner asked the bot to leave the call."),
    ("USER_CANCELLED_DEPLOYMENT", "The owner cancelled the deployment."),
    ("SIGN_IN_REQUIRED", "The meeting requires a signed-in account."),
    ("CAPTCHA_DETECTED", "The meeting page showed a captcha."),
    ("MEETING_NOT_FOUND", "The meeting does not exist or has not started."),
    ("MEETING_ENDED", "The meeting has ended."),
    ("PERMISSION_DENIED", "The bot was not allowed to join."),
    ("JOIN_BLOCKED", "Joining was blocked by the meeting's settings."),
    ("RESTARTING", "The bot is restarting."),
    ("HEARTBEAT_TIMEOUT", "The bot stopped sending heartbeats."),
    ("DEPLOYMENT_FAILED", "No platform could start the bot."),
];

/// The description of an event type ("" for unknown types).
pub fn event_description(event_type: &str) -> &'static str {
    EVENT_TYPES.iter().find(|(t, _)| *t == event_type).map(|(_, d)| *d).unwrap_or("")
}

#[cfg(test)]
mod tests;
