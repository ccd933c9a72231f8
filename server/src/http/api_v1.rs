//! The JSON API for API-key clients under `/api/v1`: bots, events, usage, templates, chat,
//! subscription. Every route needs a key (`x-api-key` or `Authorization: Bearer`); every error
//! is `{"error": {"code", "message", "details"}}`; every request is logged against its key.
//! The routes themselves are in `crate::http::routes`.

mod auth;
pub mod bot;
pub mod bots;
mod error;
pub mod extract;
pub mod misc;
pub mod openapi;
pub mod recordings;

pub use auth::{require_api_key, RequestLogSink};
pub use error::{not_found, ApiError};
