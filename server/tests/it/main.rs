//! Integration tests: the real router over a real PostgreSQL, one fresh database per test.

mod accounts;
mod api_v1;
mod auth_security;
mod authz;
mod bot_api;
mod bot_sim;
mod bot_storage;
mod coolify;
mod deployer;
mod fake_coolify;
mod fake_k8s;
mod health;
mod input;
mod lifecycle;
mod limits;
mod migrations;
mod pages;
mod paging;
mod platforms;
mod prism;
mod screenshots;
mod server_fns;
mod support;
mod trpc;
