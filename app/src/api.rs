//! Server functions: the thin, authenticated endpoints the UI calls. Each one checks who is
//! asking, calls one service and returns a DTO or a user-safe `AppError`.

pub mod account;
pub mod admin;
pub mod auth;
pub mod bots;
pub mod docs;
pub mod infrastructure;
pub mod invitations;
pub mod keys;
pub mod templates;
pub mod usage;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) mod ctx;
