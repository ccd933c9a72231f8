//! Bots: create (with daily limits, idempotency and hand-off to the deployment queue), read,
//! list, update, delete, cancel, remove from call, log level. Every status change writes an
//! event in the same transaction. A bot of another user is "not found", never "forbidden".

mod actions;
mod create;
mod list;
pub mod platform;
mod query;
mod queue;
mod row;
pub mod urls;
pub mod validate;

pub use actions::{cancel_deployment, delete_bots, remove_from_call, set_log_level, update_bot, BulkAction};
pub use create::create_bot;
pub use list::{list_bots, EXACT_COUNT_LIMIT};
pub use query::{active_bot_count, get_bot, list_chat_messages, list_events};
pub use queue::{deploy_result, with_queue};
pub use row::BotRow;

use crate::model::error::AppError;

/// The answer for a bot that does not exist or belongs to someone else.
pub fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("Bot {id} not found."))
}
