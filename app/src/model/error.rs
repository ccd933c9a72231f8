//! The one error type server functions return: safe to show a person, with an HTTP status.
//! Internal failures are logged where they happen and reach the browser only as `Internal`.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

/// A user-facing failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The input is wrong; the message names the field and what to do.
    #[error("{message}")]
    Validation { field: Option<String>, message: String },
    /// The request is malformed or out of bounds (a query parameter such as `page`); answered
    /// with 400 and a message saying what is allowed.
    #[error("{message}")]
    BadRequest { field: Option<String>, message: String },
    /// Not signed in, or the session ended.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in but not allowed.
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// Missing, or not yours (the two are indistinguishable on purpose).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with the current state (e.g. an email already taken).
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    /// The daily bot limit of the plan is reached.
    #[error("{message}")]
    DailyLimit { message: String, limit: i64, used: i64, remaining: i64, resets_at: chrono::DateTime<chrono::Utc> },
    /// The resource is in a state that forbids this (a finished bot asking for its config).
    #[error("{0}")]
    Precondition(String),
    /// The request carries more than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts; try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// A platform or service Meeboter depends on did not answer; try again later.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on the server; details are in the server log only.
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request never reached the server or its answer could not be read.
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// A validation error about one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation { field: Some(field.to_owned()), message: message.into() }
    }

    /// A bad request (400) about one field.
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        AppError::BadRequest { field: Some(field.to_owned()), message: message.into() }
    }

    /// The field an error is about, if any (for highlighting form inputs).
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Validation { field, .. }
            | AppError::BadRequest { field, .. }
            | AppError::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation { .. } => 422,
            AppError::BadRequest { .. } => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict { .. } => 409,
            AppError::Precondition(_) => 412,
            AppError::TooLarge(_) => 413,
            AppError::TooManyRequests(_) | AppError::DailyLimit { .. } => 429,
            AppError::Internal => 500,
            AppError::Unavailable(_) => 503,
            AppError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Malformed arguments are the client's mistake, not ours.
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                AppError::Validation { field: None, message: format!("Invalid request: {m}") }
            }
            // On the server, a body that does not decode (JSON arguments of the wrong shape, an
            // unknown platform name) is the caller's mistake too; in the browser the same
            // variant means the server's answer could not be read.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(m) => {
                AppError::Validation { field: None, message: format!("Invalid request: {m}") }
            }
            ServerFnErrorErr::ServerError(_) => AppError::Internal,
            other => AppError::Transport(other.to_string()),
        }
    }
}
