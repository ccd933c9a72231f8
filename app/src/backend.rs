//! Everything that only runs on the server: configuration, state, database, authentication
//! and the services the server functions and HTTP handlers call.

pub mod auth;
pub mod config;
pub mod db;
pub mod deployer;
pub mod error;
pub mod headers;
pub mod lifecycle;
pub mod live;
pub mod platforms;
pub mod services;
pub mod state;
pub mod storage;
pub mod webhooks;
pub mod workers;
