//! One HTTP attempt at a delivery, guarded against server-side request forgery:
//!
//! - every address a host resolves to is checked ([`UrlPolicy::allows_ip`]) before connecting,
//!   and an IP address in the URL itself too, so a public name that resolves to 10.0.0.5 or
//!   169.254.169.254 is refused (`WEBHOOK_ALLOW_PRIVATE_NETWORKS` lifts this);
//! - redirects are followed only on the same host and port, at most [`MAX_REDIRECTS`];
//! - the whole attempt, reading the response included, ends after `WEBHOOK_TIMEOUT_SECS`;
//! - at most [`MAX_RESPONSE_BYTES`] of the response are read, and [`KEPT_RESPONSE_CHARS`] kept
//!   for the delivery log; no proxy from the environment is used.
//!
//! Errors are told in words for the delivery log, never as the HTTP library's internals.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::{Host, Url};

use super::signing;
use crate::backend::config::Config;
use crate::backend::services::bots::validate::UrlPolicy;

pub const MAX_REDIRECTS: usize = 3;
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
pub const KEPT_RESPONSE_CHARS: usize = 500;
pub const USER_AGENT: &str = concat!("Meeboter-Webhooks/", env!("CARGO_PKG_VERSION"));

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The response's status, when there was one.
    pub status: Option<u16>,
    /// Why it failed, for people; `None` when the receiver answered 2xx.
    pub error: Option<String>,
    /// The start of the response body (text).
    pub response: Option<String>,
    pub took: Duration,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Sends deliveries.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: UrlPolicy,
    timeout: Duration,
}

/// A refusal of ours, found again in the HTTP library's error chain.
#[derive(Debug)]
struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

fn private_refusal(what: &str) -> String {
    format!(
        "refused: {what} is a private, loopback or link-local address \
         (the operator can allow them with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true)"
    )
}

/// Resolves with the system resolver and keeps only the addresses the policy allows.
struct GuardedResolver {
    policy: UrlPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addrs) => addrs.collect(),
                Err(_) => return Err(Box::new(Refused(format!("could not resolve the host {host}"))) as _),
            };
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.allows_ip(a.ip())).collect();
            if allowed.is_empty() {
                let what = found.first().map_or_else(|| host.clone(), |a| format!("{host} ({})", a.ip()));
                return Err(Box::new(Refused(private_refusal(&what))) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl Sender {
    pub fn new(config: &Config) -> Self {
        Self::with(UrlPolicy::for_webhooks(config), config.webhooks.timeout)
    }

    pub fn with(policy: UrlPolicy, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .redirect(redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first();
                let same = first.is_some_and(|f| {
                    f.host_str() == attempt.url().host_str()
                        && f.port_or_known_default() == attempt.url().port_or_known_default()
                });
                if !same {
                    let to = attempt.url().host_str().unwrap_or("?").to_owned();
                    attempt.error(Refused(format!("refused a redirect to another host ({to})")))
                } else if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error(Refused(format!("more than {MAX_REDIRECTS} redirects")))
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("the webhook HTTP client builds");
        Sender { client, policy, timeout }
    }

    /// POSTs `body` to `url`, signed with `secret` as event `id`.
    pub async fn send(&self, url: &str, id: &str, secret: &str, body: &str) -> Attempt {
        let started = Instant::now();
        let fail =
            |error: String| Attempt { status: None, error: Some(error), response: None, took: started.elapsed() };
        let Ok(parsed) = Url::parse(url) else { return fail("the URL is not valid".into()) };
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return fail("the URL must be http or https".into());
        }
        let literal = match parsed.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !self.policy.allows_ip(*ip)) {
            return fail(private_refusal(&ip.to_string()));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let Some(signature) = signing::sign(secret, id, timestamp, body) else {
            return fail("the endpoint's signing secret is damaged: rotate it".into());
        };
        let request = self
            .client
            .post(parsed)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned());
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return fail(self.explain(&e)),
        };
        let status = response.status();
        let mut kept: Vec<u8> = Vec::new();
        let mut read = 0usize;
        let mut body_error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    let room = (KEPT_RESPONSE_CHARS * 4).saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if read >= MAX_RESPONSE_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(self.explain(&e));
                    break;
                }
            }
        }
        let text: String = String::from_utf8_lossy(&kept).chars().take(KEPT_RESPONSE_CHARS).collect();
        let response_text = Some(text).filter(|t| !t.trim().is_empty());
        let error = if !status.is_success() {
            Some(format!("the receiver answered {}", status.as_u16()))
        } else {
            body_error.filter(|_| read == 0)
        };
        Attempt { status: Some(status.as_u16()), error, response: response_text, took: started.elapsed() }
    }

    /// The reason for a failed request, in words.
    fn explain(&self, e: &reqwest::Error) -> String {
        let mut source: Option<&(dyn StdError + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<Refused>() {
                return r.0.clone();
            }
            source = s.source();
        }
        if e.is_timeout() {
            format!("no answer within {} s (WEBHOOK_TIMEOUT_SECS)", self.timeout.as_secs())
        } else if e.is_connect() {
            "could not connect (refused, unreachable or TLS failed)".into()
        } else if e.is_redirect() {
            "the redirect could not be followed".into()
        } else {
            "the request failed before an answer".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_addresses_in_the_url_are_refused_before_connecting() {
        let sender = Sender::with(UrlPolicy::default(), Duration::from_secs(1));
        let secret = signing::new_secret();
        for url in ["http://127.0.0.1:9/x", "http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]/"] {
            let a = sender.send(url, "msg_1", &secret, "{}").await;
            assert!(a.error.as_deref().is_some_and(|e| e.contains("WEBHOOK_ALLOW_PRIVATE_NETWORKS")), "{url}: {a:?}");
            assert_eq!(a.status, None);
        }
        let a = sender.send("ftp://example.com/", "msg_1", &secret, "{}").await;
        assert_eq!(a.error.as_deref(), Some("the URL must be http or https"));
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_refused() {
        let sender = Sender::with(UrlPolicy::default(), Duration::from_secs(2));
        let a = sender.send("http://localhost:9/x", "msg_1", &signing::new_secret(), "{}").await;
        let e = a.error.unwrap_or_default();
        assert!(e.contains("localhost") && e.contains("WEBHOOK_ALLOW_PRIVATE_NETWORKS"), "{e}");
    }
}
