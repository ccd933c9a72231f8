//! Types both the server and the browser use: users, platforms, errors.

pub mod account;
pub mod bot;
pub mod error;
pub mod infrastructure;
pub mod invitation;
pub mod keys;
pub mod live;
pub mod paging;
pub mod platform;
pub mod platform_details;
pub mod recording;
pub mod template;
pub mod usage;
pub mod user;
pub mod webhook;
