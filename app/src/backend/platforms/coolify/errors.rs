//! Coolify API errors as the platform error kinds the deployer acts on. Coolify answers errors
//! as `{"message": ...}`, and validation errors (422) as `{"message", "errors": {field: [..]}}`.

use std::time::Duration;

use serde::Deserialize;

use crate::backend::platforms::{ErrorKind, PlatformError};

/// At most this much of an error body goes into a message.
const MESSAGE_LIMIT: usize = 400;

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
    #[serde(default)]
    errors: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The kind of an HTTP error status.
pub fn kind_of(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorised,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Unavailable,
        // 400, 405, 422 and anything else: the request was refused as it is.
        _ => ErrorKind::Rejected,
    }
}

/// What an error body says: its `message`, and for a validation error each field's complaints.
pub fn body_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        // Another shape of JSON (a proxy's problem document): its own text.
        Ok(ErrorBody { message: None, errors: None }) => String::from_utf8_lossy(body).trim().to_owned(),
        Ok(b) => {
            let mut text = b.message.unwrap_or_default();
            for (field, complaints) in b.errors.unwrap_or_default() {
                let list = match complaints {
                    serde_json::Value::Array(items) => {
                        items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect()
                    }
                    other => vec![other.as_str().map_or_else(|| other.to_string(), str::to_owned)],
                };
                text.push_str(&format!("; {field}: {}", list.join(" ")));
            }
            text
        }
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let mut text: String = text.chars().filter(|c| !c.is_control()).take(MESSAGE_LIMIT).collect();
    if text.is_empty() {
        text = "(no message)".to_owned();
    }
    text
}

/// A call answered with an error status. `what` names the call for the operator's log
/// ("create application pool-zoom-001").
pub fn from_status(what: &str, status: u16, body: &[u8]) -> PlatformError {
    PlatformError::new(kind_of(status), format!("{what}: {} (HTTP {status})", body_message(body)))
}

/// A call that failed before an answer: the connection, TLS or the time limit.
pub fn transport(what: &str, e: &reqwest::Error, timeout: Duration) -> PlatformError {
    if e.is_timeout() {
        return PlatformError::unavailable(format!("{what}: no answer from Coolify within {timeout:?}"));
    }
    if e.is_connect() {
        return PlatformError::unavailable(format!("{what}: Coolify is unreachable (connection failed)"));
    }
    // reqwest's Display names the URL but never the headers: the token is not in it.
    PlatformError::unavailable(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_maps_to_its_kind() {
        assert_eq!(kind_of(400), ErrorKind::Rejected);
        assert_eq!(kind_of(422), ErrorKind::Rejected);
        assert_eq!(kind_of(401), ErrorKind::Unauthorised);
        assert_eq!(kind_of(403), ErrorKind::Unauthorised);
        assert_eq!(kind_of(404), ErrorKind::NotFound);
        assert_eq!(kind_of(409), ErrorKind::Conflict);
        assert_eq!(kind_of(429), ErrorKind::Throttled);
        assert_eq!(kind_of(500), ErrorKind::Unavailable);
        assert_eq!(kind_of(502), ErrorKind::Unavailable);
        assert_eq!(kind_of(503), ErrorKind::Unavailable);
    }

    #[test]
    fn a_validation_error_names_each_field() {
        let body = br#"{"message":"Validation failed.","errors":{"name":["The name field is required."],"limits_cpus":["Must be a number.","Too big."]}}"#;
        let e = from_status("create application", 422, body);
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(e.message.contains("Validation failed."), "{e}");
        assert!(e.message.contains("name: The name field is required."), "{e}");
        assert!(e.message.contains("limits_cpus: Must be a number. Too big."), "{e}");
        assert!(e.message.contains("HTTP 422"), "{e}");
    }

    #[test]
    fn a_plain_or_empty_body_still_says_something_bounded() {
        assert_eq!(body_message(b"Bad gateway\n"), "Bad gateway");
        assert_eq!(body_message(b""), "(no message)");
        assert_eq!(body_message(&[b'x'; 5000]).len(), MESSAGE_LIMIT);
        let e = from_status("read application abc", 401, br#"{"message":"Unauthenticated."}"#);
        assert_eq!(e.kind, ErrorKind::Unauthorised);
        assert_eq!(e.message, "read application abc: Unauthenticated. (HTTP 401)");
    }
}
