//! Meeboter's application: the UI (components and pages), the server functions the UI calls,
//! the types both sides share and, with the `ssr` feature, the backend those functions use.

#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod backend;

pub use app::{shell, App};
