//! A platform driven by the `meeboter bot-sim --fleet` host instead of a real cloud
//! (`SIMULATED_PLATFORM_URL`, development and soak tests only). The host plays Kubernetes, ECS
//! and Coolify at once and runs each launched bot as a task; several `meeboter serve` replicas
//! share it as they would share a cluster. Its HTTP errors map to the same kinds the real
//! drivers report (docs/SIMULATION.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BotLaunch, BoxFuture, ErrorKind, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::model::platform::DeploymentPlatform;

/// How long one call to the fleet host may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this much of an error body goes into a message.
const MESSAGE_LIMIT: usize = 300;

/// One platform kind of the fleet host.
#[derive(Clone)]
pub struct SimulatedPlatform {
    pub kind: DeploymentPlatform,
    /// The fleet host, without a trailing slash (`http://127.0.0.1:9400`).
    pub base_url: String,
    pub http: reqwest::Client,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LaunchRequest<'a> {
    bot_id: i64,
    meeting_platform: &'a str,
    token: &'a str,
    milo_url: &'a str,
}

#[derive(Deserialize)]
struct LaunchAnswer {
    identifier: String,
}

/// A resource as the fleet host describes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    bot_id: Option<i64>,
    status: String,
    #[serde(default)]
    exit_code: Option<i32>,
}

impl Resource {
    fn status(&self) -> ResourceStatus {
        match self.status.as_str() {
            "running" => ResourceStatus::Running,
            "exited" => ResourceStatus::Exited { code: self.exit_code },
            _ => ResourceStatus::Gone,
        }
    }
}

impl SimulatedPlatform {
    /// The `kind` platform of the fleet host at `base_url`, with the 10 s request timeout.
    pub fn new(kind: DeploymentPlatform, base_url: &str) -> Result<Self, PlatformError> {
        Self::with_timeout(kind, base_url, REQUEST_TIMEOUT)
    }

    /// The same with another request timeout (tests of the timeout fault).
    pub fn with_timeout(kind: DeploymentPlatform, base_url: &str, timeout: Duration) -> Result<Self, PlatformError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| PlatformError::new(ErrorKind::Misconfigured, format!("HTTP client: {e}")))?;
        Ok(SimulatedPlatform { kind, base_url: base_url.trim_end_matches('/').to_owned(), http })
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/platforms/{}{rest}", self.base_url, self.kind.as_str())
    }

    /// Sends a request; answers the status and body of a 2xx or 404, an error otherwise.
    async fn call(&self, what: &str, req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), PlatformError> {
        let res = req.send().await.map_err(|e| transport(what, &e))?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(|e| transport(what, &e))?.to_vec();
        if (200..300).contains(&status) || status == 404 {
            return Ok((status, body));
        }
        Err(from_status(what, status, &body))
    }

    fn read<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, PlatformError> {
        serde_json::from_slice(body)
            .map_err(|e| PlatformError::unavailable(format!("{what}: unreadable answer from the fleet host: {e}")))
    }
}

/// The kind of an error status of the fleet host (the real drivers' mapping).
pub fn kind_of(status: u16, body: &[u8]) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorised,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        507 => ErrorKind::Capacity,
        _ if String::from_utf8_lossy(body).to_ascii_lowercase().contains("quota") => ErrorKind::Capacity,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Rejected,
    }
}

/// A call answered with an error status.
pub fn from_status(what: &str, status: u16, body: &[u8]) -> PlatformError {
    let text: String = String::from_utf8_lossy(body).chars().filter(|c| !c.is_control()).take(MESSAGE_LIMIT).collect();
    PlatformError::new(kind_of(status, body), format!("{what}: {text} (HTTP {status} from the fleet host)"))
}

/// A call that got no answer: refused connection, time limit, broken transfer.
fn transport(what: &str, e: &reqwest::Error) -> PlatformError {
    if e.is_timeout() {
        return PlatformError::unavailable(format!("{what}: the fleet host timed out"));
    }
    if e.is_connect() {
        return PlatformError::unavailable(format!("{what}: the fleet host is unreachable (connection failed)"));
    }
    PlatformError::unavailable(format!("{what}: {e}"))
}

impl Platform for SimulatedPlatform {
    fn kind(&self) -> DeploymentPlatform {
        self.kind
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            let (status, body) = self.call("health", self.http.get(self.url("/health"))).await?;
            match status {
                404 => Err(from_status("health", status, &body)),
                _ => Ok(()),
            }
        })
    }

    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let what = format!("launch bot {}", bot.bot_id);
            let body = LaunchRequest {
                bot_id: bot.bot_id,
                meeting_platform: bot.meeting_platform.as_str(),
                token: &bot.token,
                milo_url: &bot.milo_url,
            };
            let (status, answer) = self.call(&what, self.http.post(self.url("/resources")).json(&body)).await?;
            if status == 404 {
                return Err(from_status(&what, status, &answer));
            }
            let LaunchAnswer { identifier } = Self::read(&what, &answer)?;
            Ok(Launched { identifier })
        })
    }

    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let what = format!("stop {identifier}");
            self.call(&what, self.http.delete(self.url(&format!("/resources/{identifier}")))).await?;
            Ok(())
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            let what = format!("status of {identifier}");
            let (status, body) = self.call(&what, self.http.get(self.url(&format!("/resources/{identifier}")))).await?;
            if status == 404 {
                return Ok(ResourceStatus::Gone);
            }
            Ok(Self::read::<Resource>(&what, &body)?.status())
        })
    }

    /// The fleet host holds nothing beyond the resource.
    fn release(&self, _bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            let (status, body) = self.call("list resources", self.http.get(self.url("/resources"))).await?;
            if status == 404 {
                return Err(from_status("list resources", status, &body));
            }
            let all: Vec<Resource> = Self::read("list resources", &body)?;
            Ok(all
                .into_iter()
                .map(|r| ResourceSummary { status: r.status(), identifier: r.identifier, bot_id: r.bot_id })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_statuses_map_as_the_real_drivers_map_them() {
        assert_eq!(kind_of(409, b"{}"), ErrorKind::Conflict);
        assert_eq!(kind_of(429, b""), ErrorKind::Throttled);
        assert_eq!(kind_of(507, br#"{"error":"quota exceeded"}"#), ErrorKind::Capacity);
        assert_eq!(kind_of(403, br#"{"error":"quota exceeded for this account"}"#), ErrorKind::Unauthorised);
        assert_eq!(kind_of(400, br#"{"error":"Quota exceeded"}"#), ErrorKind::Capacity);
        assert_eq!(kind_of(500, b"boom"), ErrorKind::Unavailable);
        assert_eq!(kind_of(503, b""), ErrorKind::Unavailable);
        assert_eq!(kind_of(504, b""), ErrorKind::Unavailable);
        assert_eq!(kind_of(400, b"bad"), ErrorKind::Rejected);
        assert_eq!(kind_of(422, b"bad"), ErrorKind::Rejected);
        assert_eq!(kind_of(401, b""), ErrorKind::Unauthorised);
        assert_eq!(kind_of(403, b""), ErrorKind::Unauthorised);
        assert_eq!(kind_of(404, b""), ErrorKind::NotFound);
    }

    #[test]
    fn an_error_message_names_the_call_and_keeps_the_body_short_and_printable() {
        let body = format!("line\nbreak{}", "x".repeat(1000));
        let e = from_status("launch bot 7", 500, body.as_bytes());
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.starts_with("launch bot 7: linebreak"), "{}", e.message);
        assert!(e.message.len() < MESSAGE_LIMIT + 80, "{}", e.message.len());
        assert!(e.message.ends_with("(HTTP 500 from the fleet host)"));
    }

    #[test]
    fn the_base_url_loses_its_trailing_slash() {
        let p = SimulatedPlatform::new(DeploymentPlatform::Aws, "http://127.0.0.1:9400/").unwrap();
        assert_eq!(p.url("/resources"), "http://127.0.0.1:9400/platforms/aws/resources");
    }
}
