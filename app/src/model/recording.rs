//! What a bot brings back: its recording (where it stands, and a short-lived link to it), who
//! spoke when, and the chat messages sent to it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bot::BotStatus;

/// Where a bot's recording stands, as the bots table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordingState {
    /// Recording is off for this bot.
    Off,
    /// On, and the bot has not finished yet.
    Pending,
    /// The bot reported its recording: it can be fetched.
    Ready,
    /// The bot ended without a recording (it failed, or never got into the call).
    Missing,
    /// Retention (`RECORDING_RETENTION_DAYS`) deleted it.
    Deleted,
}

impl RecordingState {
    /// The state of a bot's recording from its columns.
    pub fn of(enabled: bool, key: Option<&str>, deleted: bool, status: BotStatus) -> RecordingState {
        match (enabled, key) {
            (_, Some(_)) => RecordingState::Ready,
            _ if deleted => RecordingState::Deleted,
            (false, None) => RecordingState::Off,
            (true, None) if status.is_terminal() => RecordingState::Missing,
            (true, None) => RecordingState::Pending,
        }
    }

    /// How the table says it.
    pub fn label(self) -> &'static str {
        match self {
            RecordingState::Off => "Off",
            RecordingState::Pending => "Pending",
            RecordingState::Ready => "View",
            RecordingState::Missing => "None",
            RecordingState::Deleted => "Deleted",
        }
    }
}

/// Who spoke when: milliseconds from the start of the recording, as the bot reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SpeakerTimeframe {
    pub speaker_name: String,
    pub start: f64,
    pub end: f64,
}

impl SpeakerTimeframe {
    /// The well-formed entries of what a bot reported (a name, and `start <= end`, both finite
    /// and not negative); anything else is left out rather than guessed at.
    pub fn from_json(v: &serde_json::Value) -> Vec<SpeakerTimeframe> {
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| SpeakerTimeframe::deserialize(i).ok())
                    .filter(|t| {
                        !t.speaker_name.trim().is_empty()
                            && t.start.is_finite()
                            && t.end.is_finite()
                            && 0.0 <= t.start
                            && t.start <= t.end
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A short-lived link to a bot's recording (the upstream `{recordingUrl}`, with more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecordingLink {
    /// Plays in a browser (`Content-Disposition: inline`): a presigned S3 GET, or a link signed
    /// by Meeboter when storage is its local directory.
    pub recording_url: String,
    /// The same file as a download (`Content-Disposition: attachment`).
    pub download_url: String,
    /// When both links stop working (ask again for new ones).
    pub expires_at: DateTime<Utc>,
    /// From the file's extension: `video/webm`, `audio/wav`, ...
    pub content_type: String,
    /// The file's name (the last part of its key).
    pub file_name: String,
}

impl RecordingLink {
    /// Whether a browser plays it with a video element (else an audio element).
    pub fn is_video(&self) -> bool {
        self.content_type.starts_with("video/")
    }
}

/// The media type of a recording file, from its extension (`None`: not a recording format).
pub fn media_type(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "webm" => "video/webm",
        "mp4" => "video/mp4",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "weba" => "audio/webm",
        _ => return None,
    })
}

/// The extension a recording upload of `content_type` is stored with.
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    Some(match essence.as_str() {
        "video/webm" => "webm",
        "video/mp4" => "mp4",
        "video/x-matroska" => "mkv",
        "video/quicktime" => "mov",
        "audio/mp4" | "audio/x-m4a" => "m4a",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/ogg" => "ogg",
        "audio/webm" => "weba",
        _ => return None,
    })
}

/// A chat message sent to a bot, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: i64,
    pub message_text: String,
    /// When it was queued for the bot.
    pub sent_at: DateTime<Utc>,
    /// queued, sent (the bot posted it in the meeting) or failed.
    pub status: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub template_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_state_follows_the_columns() {
        use RecordingState::*;
        assert_eq!(RecordingState::of(false, None, false, BotStatus::InCall), Off);
        assert_eq!(RecordingState::of(true, None, false, BotStatus::InCall), Pending);
        assert_eq!(RecordingState::of(true, Some("k"), false, BotStatus::Done), Ready);
        assert_eq!(RecordingState::of(true, None, false, BotStatus::Fatal), Missing);
        assert_eq!(RecordingState::of(true, None, true, BotStatus::Done), Deleted);
    }

    #[test]
    fn only_well_formed_timeframes_are_kept() {
        let v = json!([
            {"speakerName": "Ada", "start": 0, "end": 1500},
            {"speakerName": "", "start": 0, "end": 1},
            {"speakerName": "Bo", "start": 9, "end": 3},
            {"speakerName": "Cy", "start": -1, "end": 3},
            {"speaker": "Di"},
            "text",
            {"speakerName": "Ed", "start": 2000.5, "end": 4000}
        ]);
        let names: Vec<String> = SpeakerTimeframe::from_json(&v).into_iter().map(|t| t.speaker_name).collect();
        assert_eq!(names, ["Ada", "Ed"]);
        assert!(SpeakerTimeframe::from_json(&json!({"a": 1})).is_empty());
    }

    #[test]
    fn media_types_and_extensions_agree() {
        for ct in ["video/webm", "video/mp4", "audio/mpeg", "audio/wav", "audio/ogg", "audio/mp4"] {
            let ext = extension_for(ct).unwrap();
            assert_eq!(media_type(&format!("x.{ext}")), Some(ct), "{ct}");
        }
        assert_eq!(extension_for("audio/wav; codecs=1"), Some("wav"));
        assert_eq!(extension_for("text/html"), None);
        assert_eq!(media_type("x.html"), None);
        assert_eq!(media_type("noext"), None);
    }
}
