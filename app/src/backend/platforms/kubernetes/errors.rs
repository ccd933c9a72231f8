//! Kubernetes API errors as the platform error kinds the deployer acts on.

use crate::backend::platforms::{ErrorKind, PlatformError};

/// Maps a failed API call. `what` names the call for the operator's log ("create Job bot-42").
pub fn map(what: &str, e: kube::Error) -> PlatformError {
    match e {
        kube::Error::Api(status) => {
            let kind = kind_of(status.code, &status.reason, &status.message);
            PlatformError::new(kind, format!("{what}: {} ({} {})", status.message, status.code, status.reason))
        }
        // The connection, TLS or the transport failed: the API server is not reachable.
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            PlatformError::unavailable(format!("{what}: the Kubernetes API is unreachable: {e}"))
        }
        kube::Error::Auth(_) => PlatformError::new(ErrorKind::Unauthorised, format!("{what}: {e}")),
        other => PlatformError::unavailable(format!("{what}: {other}")),
    }
}

/// The kind of an API answer (`Status` code, reason and message).
pub fn kind_of(code: u16, reason: &str, message: &str) -> ErrorKind {
    match code {
        // A ResourceQuota answers 403 Forbidden with "exceeded quota".
        403 if message.contains("exceeded quota") => ErrorKind::Capacity,
        401 | 403 => ErrorKind::Unauthorised,
        404 | 410 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Unavailable,
        // 400 / 422 Invalid: the spec was refused (an invalid image name, a bad quantity).
        _ if reason == "Timeout" => ErrorKind::Unavailable,
        _ => ErrorKind::Rejected,
    }
}

/// A call that did not finish within its time.
pub fn timed_out(what: &str, after: std::time::Duration) -> PlatformError {
    PlatformError::unavailable(format!("{what}: no answer from the Kubernetes API within {after:?}"))
}
