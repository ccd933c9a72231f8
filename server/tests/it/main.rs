//! Integration tests: the real router over a real PostgreSQL, one fresh database per test.

mod accounts;
mod api_v1;
mod authz;
mod bot_api;
mod bot_sim;
mod deployer;
mod health;
mod migrations;
mod pages;
mod server_fns;
mod support;
