//! The `bots` row and its conversion to the `Bot` DTO.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::backend::db::schema::bots;
use crate::model::bot::{AutomaticLeave, Bot, BotStatus, LogLevel, Meeting, MeetingPlatform};
use crate::model::platform::DeploymentPlatform;
use crate::model::recording::{RecordingState, SpeakerTimeframe};

/// The columns of `bots` the API shows (not the token hash or idempotency key).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bots, check_for_backend(diesel::pg::Pg))]
pub struct BotRow {
    pub id: i64,
    pub user_id: i64,
    pub display_name: String,
    pub image_url: Option<String>,
    pub meeting: serde_json::Value,
    /// A stored value that is not a known platform fails the query (never a guessed platform).
    #[diesel(deserialize_as = String)]
    pub meeting_platform: MeetingPlatform,
    pub automatic_leave: serde_json::Value,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub recording: Option<String>,
    pub recording_enabled: bool,
    pub speaker_timeframes: serde_json::Value,
    pub status: String,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub callback_url: Option<String>,
    pub screenshots: serde_json::Value,
    pub log_level: String,
    pub deployment_platform: Option<String>,
    pub platform_identifier: Option<String>,
    pub queue_timeout_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub recording_deleted_at: Option<DateTime<Utc>>,
}

impl BotRow {
    pub fn status(&self) -> BotStatus {
        BotStatus::parse(&self.status).unwrap_or(BotStatus::Fatal)
    }
}

impl From<BotRow> for Bot {
    fn from(r: BotRow) -> Bot {
        let status = r.status();
        Bot {
            id: r.id,
            display_name: r.display_name,
            image_url: r.image_url,
            meeting: serde_json::from_value::<Meeting>(r.meeting).unwrap_or_default(),
            meeting_platform: r.meeting_platform,
            automatic_leave: serde_json::from_value(r.automatic_leave).unwrap_or(AutomaticLeave::MINIMUM),
            start_time: r.start_time,
            end_time: r.end_time,
            recording_enabled: r.recording_enabled,
            recording_state: RecordingState::of(
                r.recording_enabled,
                r.recording.as_deref(),
                r.recording_deleted_at.is_some(),
                status,
            ),
            speaker_timeframes: SpeakerTimeframe::from_json(&r.speaker_timeframes),
            recording: r.recording,
            status,
            last_heartbeat: r.last_heartbeat,
            callback_url: r.callback_url,
            log_level: LogLevel::parse(&r.log_level).unwrap_or(LogLevel::Trace),
            deployment_platform: r.deployment_platform.as_deref().and_then(DeploymentPlatform::parse),
            platform_identifier: r.platform_identifier,
            queue_timeout_ms: r.queue_timeout_ms,
            screenshot_count: r.screenshots.as_array().map_or(0, Vec::len),
            queue: None,
            deployment: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
