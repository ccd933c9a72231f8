//! The meeboter process: HTTP edges (router, health, guards), telemetry, background workers
//! and the commands of the `meeboter` binary.

pub mod assets;
pub mod bot_sim;
pub mod commands;
pub mod http;
pub mod runner;
pub mod telemetry;
