//! Integration tests: the real router over a real PostgreSQL, one fresh database per test.

mod accounts;
mod api_v1;
mod auth_security;
mod authz;
mod bot_api;
mod bot_sim;
mod bot_storage;
mod deployer;
mod ecs;
mod ecs_replay;
mod fake_k8s;
mod health;
mod input;
mod lifecycle;
mod limits;
mod migrations;
mod moto;
mod pages;
mod paging;
mod platforms;
mod screenshots;
mod server_fns;
mod support;
mod trpc;
