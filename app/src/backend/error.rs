//! Internal-error mapping shared by every service: log the cause once, answer the generic
//! [`AppError::Internal`]; and [`TxError`], the one error type of a transaction that can be
//! refused by our rules (rolled back with a user-facing error) or fail in the database.

use crate::model::error::AppError;

/// Logs an internal error once and turns it into the generic user-facing error.
pub fn internal(context: &str, err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "{context}");
    AppError::Internal
}

/// A `map_err` adapter: `.map_err(db("reading bots failed"))`.
pub fn db<E: std::fmt::Display>(context: &'static str) -> impl FnOnce(E) -> AppError {
    move |e| internal(context, e)
}

/// An error inside a transaction: a refusal by our rules, or the database's own failure.
/// Either rolls the transaction back.
#[derive(Debug)]
pub enum TxError {
    App(AppError),
    Db(diesel::result::Error),
}

impl TxError {
    /// The user-facing error, logging a database failure once with `context`.
    pub fn into_app(self, context: &str) -> AppError {
        match self {
            TxError::App(e) => e,
            TxError::Db(e) => internal(context, e),
        }
    }
}

impl From<AppError> for TxError {
    fn from(e: AppError) -> Self {
        TxError::App(e)
    }
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}
