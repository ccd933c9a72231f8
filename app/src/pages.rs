//! One module per route.

pub mod account;
pub mod api_keys;
pub mod auth;
pub mod bots;
pub mod docs;
pub mod home;
pub mod infrastructure;
pub mod not_found;
pub mod templates;
pub mod usage;
pub mod webhooks;
