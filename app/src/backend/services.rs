//! The operations behind server functions and JSON handlers. Each takes a connection or the
//! state, validates, and returns user-facing errors.

pub mod accounts;
pub mod api_keys;
pub mod bot_api;
pub mod bots;
pub mod events;
pub mod heartbeats;
pub mod infrastructure;
pub mod invitations;
pub mod log_archive;
pub mod log_writer;
pub mod plans;
pub mod recordings;
pub mod templates;
pub mod usage;
pub mod validate;
pub mod webhooks;
