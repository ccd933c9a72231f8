//! What a running bot asks of the server: its configuration, heartbeats, status changes, events,
//! log lines, screenshots, chat messages. One implementation behind both wire formats (REST under
//! `/api/v1/bot` and the upstream tRPC batch format under `/api/trpc`).
//!
//! Every call is authorised first by the bot's own token (`backend::auth::bot_tokens`); a token
//! opens only its bot, and only while the bot runs.

pub mod chat;
pub mod config;
pub mod events;
pub mod limits;
pub mod logs;
pub mod screenshots;
pub mod status;

pub use crate::backend::auth::bot_tokens::{
    authorize, issue_slot_token, issue_token, missing_token, token_from_headers, TOKEN_PREFIX,
};
pub use chat::{dequeue_chat, ChatMessage};
pub use config::{get_config, slot_bot, BotConfig};
pub use events::{report_events, ReportedEvent, MAX_EVENTS};
pub use logs::{logs_after, prepare_logs, LogColumns, LogEntry, StoredLogLine, MAX_LOG_ENTRIES, MAX_LOG_MESSAGE};
pub use screenshots::{
    add_screenshot, prepare_screenshot, record_screenshot, screenshots, ScreenshotData, ScreenshotUpload,
    KEEP_SCREENSHOTS, MAX_SCREENSHOT_BYTES, SCREENSHOT_TYPES,
};
pub use status::{update_status, HeartbeatReply, StatusReply, StatusUpdate};
