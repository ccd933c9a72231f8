//! ECS errors as platform error kinds: the service's error codes, HTTP statuses, timeouts and
//! the `failures` RunTask answers with when it cannot place a task.

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};

use super::super::{ErrorKind, PlatformError};

/// The kind of an ECS error, from its code (`__type`), its HTTP status and its message.
pub fn kind_of(code: Option<&str>, status: Option<u16>, message: &str) -> ErrorKind {
    let lower = message.to_ascii_lowercase();
    match code.unwrap_or_default() {
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            ErrorKind::Throttled
        }
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "MissingAuthenticationToken"
        | "IncompleteSignature"
        | "SignatureDoesNotMatch" => ErrorKind::Unauthorised,
        "ClusterNotFoundException" | "ClusterContainsTasksException" | "PlatformUnknownException" => {
            ErrorKind::Misconfigured
        }
        "LimitExceededException" | "ServiceQuotaExceededException" => ErrorKind::Capacity,
        "ConflictException" => ErrorKind::Conflict,
        "ServerException" | "ServiceUnavailableException" | "InternalFailure" => ErrorKind::Unavailable,
        "InvalidParameterException" | "ClientException" if lower.contains("not found") => ErrorKind::NotFound,
        "InvalidParameterException"
        | "ClientException"
        | "PlatformTaskDefinitionIncompatibilityException"
        | "ValidationException"
        | "UnsupportedFeatureException" => ErrorKind::Rejected,
        _ => match status {
            Some(429) => ErrorKind::Throttled,
            Some(401 | 403) => ErrorKind::Unauthorised,
            Some(404) => ErrorKind::NotFound,
            Some(s) if s >= 500 => ErrorKind::Unavailable,
            Some(s) if s >= 400 => ErrorKind::Rejected,
            _ => ErrorKind::Unavailable,
        },
    }
}

/// An SDK error of `what` (the call) as a platform error. Timeouts and connection failures are
/// "unavailable"; missing credentials "unauthorised".
pub fn map<E>(what: &str, e: SdkError<E, HttpResponse>) -> PlatformError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::TimeoutError(_) => PlatformError::unavailable(format!("ECS {what}: timed out")),
        SdkError::DispatchFailure(d) => {
            let detail = std::error::Error::source(&e).map(|s| format!("{s:?}")).unwrap_or_default();
            if d.is_timeout() {
                PlatformError::unavailable(format!("ECS {what}: timed out"))
            } else if detail.contains("credentials") || detail.contains("identity") {
                PlatformError::new(ErrorKind::Unauthorised, format!("ECS {what}: no usable AWS credentials: {detail}"))
            } else {
                PlatformError::unavailable(format!("ECS {what}: the request could not be sent: {detail}"))
            }
        }
        SdkError::ConstructionFailure(_) => {
            let detail = std::error::Error::source(&e).map(|s| format!("{s}")).unwrap_or_default();
            let kind = if detail.contains("credentials") { ErrorKind::Unauthorised } else { ErrorKind::Misconfigured };
            PlatformError::new(kind, format!("ECS {what}: the request could not be built: {detail}"))
        }
        _ => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = e.code().map(str::to_owned);
            let message = e.message().unwrap_or("no message").to_owned();
            let kind = kind_of(code.as_deref(), status, &message);
            PlatformError::new(
                kind,
                format!("ECS {what}: {} ({}): {message}", code.as_deref().unwrap_or("error"), status.unwrap_or(0)),
            )
        }
    }
}

/// The kind of a RunTask `failures[].reason`: no room (`RESOURCE:CPU`, `RESOURCE:MEMORY`,
/// `RESOURCE:ENI`, Fargate or Spot capacity unavailable) is capacity; a missing cluster or
/// task definition is the operator's configuration; anything else refuses this bot's task.
pub fn failure_kind(reason: &str) -> ErrorKind {
    let lower = reason.to_ascii_lowercase();
    if reason.starts_with("RESOURCE:")
        || lower.contains("capacity is unavailable")
        || lower.contains("capacity unavailable")
        || lower.contains("insufficient")
        || reason == "AGENT"
    {
        ErrorKind::Capacity
    } else if reason == "MISSING" || lower.contains("not found") || lower.contains("inactive") {
        ErrorKind::Misconfigured
    } else {
        ErrorKind::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_kinds() {
        let cases = [
            (Some("ThrottlingException"), Some(400), "Rate exceeded", ErrorKind::Throttled),
            (Some("AccessDeniedException"), Some(400), "User is not authorized", ErrorKind::Unauthorised),
            (Some("UnrecognizedClientException"), Some(403), "invalid token", ErrorKind::Unauthorised),
            (Some("ClusterNotFoundException"), Some(400), "Cluster not found.", ErrorKind::Misconfigured),
            (Some("ServerException"), Some(500), "Service Unavailable", ErrorKind::Unavailable),
            (Some("InvalidParameterException"), Some(400), "The referenced task was not found.", ErrorKind::NotFound),
            (Some("InvalidParameterException"), Some(400), "Invalid revision number", ErrorKind::Rejected),
            (Some("ClientException"), Some(400), "TaskDefinition is inactive", ErrorKind::Rejected),
            (Some("ConflictException"), Some(400), "client token used with other parameters", ErrorKind::Conflict),
            (None, Some(429), "", ErrorKind::Throttled),
            (None, Some(503), "", ErrorKind::Unavailable),
            (None, Some(418), "", ErrorKind::Rejected),
            (None, None, "", ErrorKind::Unavailable),
        ];
        for (code, status, message, kind) in cases {
            assert_eq!(kind_of(code, status, message), kind, "{code:?} {status:?} {message}");
        }
    }

    #[test]
    fn run_task_failures_map_to_kinds() {
        assert_eq!(failure_kind("RESOURCE:MEMORY"), ErrorKind::Capacity);
        assert_eq!(failure_kind("RESOURCE:ENI"), ErrorKind::Capacity);
        assert_eq!(
            failure_kind(
                "Capacity is unavailable at this time. Please try again later or in a different availability zone"
            ),
            ErrorKind::Capacity
        );
        assert_eq!(failure_kind("MISSING"), ErrorKind::Misconfigured);
        assert_eq!(failure_kind("ATTRIBUTE"), ErrorKind::Rejected);
    }
}
