//! The URLs a bot is given, parsed with the `url` crate (the WHATWG rules the browsers and bots
//! that later open them follow), never by splitting strings.
//!
//! - A meeting link is `https://` on one of its platform's own hosts
//!   ([`MeetingPlatform::for_host`]): no user name or password, no port other than 443, no IP
//!   address. An explicit `platform` must agree with the host.
//! - A callback or image URL is `http(s)://` to a public host: no credentials, no IP address in a
//!   private, loopback, link-local, shared or reserved range, and no internal name (`localhost`,
//!   a single label like `postgres`, `*.internal`, `*.local`, ...). In development mode loopback
//!   (`localhost`, `127.0.0.0/8`, `::1`) is allowed so a local receiver can be used.
//!
//! These checks read the URL only. Whoever connects to a callback must also refuse a name that
//! resolves to a non-public address ([`is_public_ip`] on each resolved address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::backend::config::{Config, RunMode};
use crate::model::bot::MeetingPlatform;
use crate::model::error::AppError;

pub const MAX_URL: usize = 2048;

/// Which non-public targets are allowed: loopback in development mode, and any address or
/// name when the operator sets `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` (callbacks only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
}

impl UrlPolicy {
    /// Loopback only in development mode; nothing private.
    pub fn for_config(config: &Config) -> Self {
        UrlPolicy { allow_loopback: config.mode == RunMode::Development, allow_private: false }
    }

    /// For URLs the server itself calls (callbacks, webhook endpoints).
    pub fn for_webhooks(config: &Config) -> Self {
        UrlPolicy { allow_private: config.webhooks.allow_private_networks, ..Self::for_config(config) }
    }

    /// Whether the server may connect to `ip` (every resolved address of a webhook's host).
    pub fn allows_ip(self, ip: IpAddr) -> bool {
        self.allow_private || is_public_ip(ip) || (self.allow_loopback && ip.to_canonical().is_loopback())
    }
}

fn parse(field: &str, raw: &str) -> Result<Url, AppError> {
    if raw.len() > MAX_URL {
        return Err(AppError::invalid(field, format!("{field} must be at most {MAX_URL} characters")));
    }
    Url::parse(raw).map_err(|_| AppError::invalid(field, format!("{field} is not a valid URL")))
}

/// Checks a meeting link; returns it normalised, with the platform its host belongs to.
pub fn meeting_url(raw: &str, explicit: Option<MeetingPlatform>) -> Result<(String, MeetingPlatform), AppError> {
    const FIELD: &str = "meetingUrl";
    let url = parse(FIELD, raw.trim())?;
    if url.scheme() != "https" {
        return Err(AppError::invalid(FIELD, "meetingUrl must be an https:// link"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(FIELD, "meetingUrl must not contain a user name or password"));
    }
    if url.port().is_some() {
        return Err(AppError::invalid(FIELD, "meetingUrl must not name a port"));
    }
    let platform = match url.host() {
        Some(Host::Domain(host)) => MeetingPlatform::for_host(host),
        _ => None,
    }
    .ok_or_else(|| {
        AppError::invalid(
            FIELD,
            "meetingUrl must be a Google Meet (meet.google.com), Microsoft Teams (teams.microsoft.com, \
             teams.live.com) or Zoom (zoom.us, zoomgov.com) link",
        )
    })?;
    if let Some(p) = explicit.filter(|p| *p != platform) {
        return Err(AppError::invalid(
            "platform",
            format!(
                "platform is {} but meetingUrl is a {} link; leave platform out or make them agree",
                p.as_str(),
                platform.label()
            ),
        ));
    }
    Ok((url.to_string(), platform))
}

/// Checks an optional callback or image URL: http(s) to a public host. Blank is `None`.
pub fn public_url(field: &str, value: Option<&str>, policy: UrlPolicy) -> Result<Option<String>, AppError> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let url = parse(field, raw)?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(AppError::invalid(field, format!("{field} must be an http or https URL")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(field, format!("{field} must not contain a user name or password")));
    }
    let public = match url.host() {
        Some(_) if policy.allow_private => true,
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            !is_internal_name(name) || (policy.allow_loopback && is_loopback_name(name))
        }
        Some(Host::Ipv4(ip)) => policy.allows_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => policy.allows_ip(IpAddr::V6(ip)),
        None => false,
    };
    if !public {
        return Err(AppError::invalid(
            field,
            format!("{field} must point to a public host, not localhost, a private network or an internal name"),
        ));
    }
    Ok(Some(url.to_string()))
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// Names that only mean something inside a network: single labels (`postgres`, `metadata`),
/// `localhost` and the special-use or customary private suffixes.
pub fn is_internal_name(name: &str) -> bool {
    const SUFFIXES: [&str; 9] =
        ["localhost", "local", "internal", "localdomain", "home.arpa", "arpa", "lan", "intranet", "corp"];
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    !name.contains('.')
        || SUFFIXES.iter().any(|s| name == *s || name.strip_suffix(s).is_some_and(|rest| rest.ends_with('.')))
}

/// Whether `ip` is a globally routable unicast address (not private, loopback, link-local,
/// shared, documentation, benchmarking, multicast or reserved; IPv6 only within 2000::/3 and
/// without embedded IPv4 forms). Use it on every resolved address before connecting out.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let global_unicast = s[0] & 0xe000 == 0x2000;
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    let teredo = s[0] == 0x2001 && s[1] == 0;
    let six_to_four = s[0] == 0x2002;
    global_unicast && !documentation && !teredo && !six_to_four
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(raw: &str) -> Result<MeetingPlatform, String> {
        meeting_url(raw, None).map(|(_, p)| p).map_err(|e| e.field().unwrap_or_default().to_owned())
    }

    #[test]
    fn meeting_links_must_be_https_on_the_platforms_own_hosts() {
        assert_eq!(platform("https://meet.google.com/abc-defg-hij"), Ok(MeetingPlatform::GoogleMeet));
        assert_eq!(platform("https://MEET.google.com:443/abc"), Ok(MeetingPlatform::GoogleMeet));
        assert_eq!(platform("https://teams.microsoft.com/l/meetup-join/x"), Ok(MeetingPlatform::MicrosoftTeams));
        assert_eq!(platform("https://teams.live.com/meet/123"), Ok(MeetingPlatform::MicrosoftTeams));
        assert_eq!(platform("https://zoom.us/j/1?pwd=x"), Ok(MeetingPlatform::Zoom));
        assert_eq!(platform("https://acme.zoom.us/j/1"), Ok(MeetingPlatform::Zoom));
        assert_eq!(platform("https://us02web.zoom.us/j/1"), Ok(MeetingPlatform::Zoom));
        assert_eq!(platform("https://acme.zoomgov.com/j/1"), Ok(MeetingPlatform::Zoom));
        for bad in [
            "https://evil.com\\@meet.google.com/",
            "https://evil.com@meet.google.com/",
            "https://user:pw@meet.google.com/abc",
            "https://meet.google.com:8443/abc",
            "http://meet.google.com/abc",
            "https://meet.google.com.evil.com/abc",
            "https://evilzoom.us/j/1",
            "https://zoom.us.evil.com/j/1",
            "https://127.0.0.1/j/1",
            "https://[::1]/j/1",
            "https://localhost/j/1",
            "https://169.254.169.254/latest/meta-data",
            "javascript:alert(1)",
            "meet.google.com/abc",
            "https://example.com/room",
        ] {
            assert_eq!(platform(bad), Err("meetingUrl".to_owned()), "{bad}");
        }
    }

    #[test]
    fn an_explicit_platform_must_agree_with_the_host() {
        let zoom = Some(MeetingPlatform::Zoom);
        assert!(meeting_url("https://zoom.us/j/1", zoom).is_ok());
        let e = meeting_url("https://meet.google.com/abc", zoom).unwrap_err();
        assert_eq!(e.field(), Some("platform"));
    }

    #[test]
    fn callbacks_go_to_public_hosts_only() {
        let prod = UrlPolicy::default();
        let ok = |raw: &str| public_url("callbackUrl", Some(raw), prod).is_ok();
        assert!(ok("https://hooks.example.com/meeboter"));
        assert!(ok("http://93.184.216.34/hook"));
        for bad in [
            "http://localhost:8080/hook",
            "http://127.0.0.1/hook",
            "http://2130706433/hook",
            "http://0x7f.1/hook",
            "http://10.0.0.5/hook",
            "http://172.16.0.1/hook",
            "http://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/hook",
            "http://0.0.0.0/hook",
            "http://[::1]/hook",
            "http://[fd00::1]/hook",
            "http://[fe80::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://postgres:5432/",
            "http://kubernetes.default.svc.cluster.local/",
            "http://printer.local/",
            "http://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
        ] {
            assert!(!ok(bad), "{bad} should be refused");
        }
        assert_eq!(public_url("imageUrl", Some("  "), prod), Ok(None));
    }

    #[test]
    fn development_allows_loopback_callbacks_but_not_private_networks() {
        let dev = UrlPolicy { allow_loopback: true, allow_private: false };
        assert!(public_url("callbackUrl", Some("http://127.0.0.1:9000/hook"), dev).is_ok());
        assert!(public_url("callbackUrl", Some("http://localhost:9000/hook"), dev).is_ok());
        assert!(public_url("callbackUrl", Some("http://[::1]:9000/hook"), dev).is_ok());
        assert!(public_url("callbackUrl", Some("http://10.0.0.5/hook"), dev).is_err());
        assert!(public_url("callbackUrl", Some("http://169.254.169.254/"), dev).is_err());
    }

    #[test]
    fn an_operator_may_allow_private_networks_for_callbacks() {
        let open = UrlPolicy { allow_loopback: false, allow_private: true };
        assert!(public_url("callbackUrl", Some("http://10.0.0.5/hook"), open).is_ok());
        assert!(public_url("callbackUrl", Some("http://receiver.internal:8080/hook"), open).is_ok());
        assert!(open.allows_ip("192.168.1.1".parse().unwrap()));
        let dev = UrlPolicy { allow_loopback: true, allow_private: false };
        assert!(dev.allows_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!dev.allows_ip("10.0.0.5".parse().unwrap()));
        assert!(!UrlPolicy::default().allows_ip("127.0.0.1".parse().unwrap()));
        assert!(UrlPolicy::default().allows_ip("8.8.8.8".parse().unwrap()));
        // Credentials and other schemes stay refused.
        assert!(public_url("callbackUrl", Some("http://u:p@10.0.0.5/"), open).is_err());
        assert!(public_url("callbackUrl", Some("file:///etc/passwd"), open).is_err());
    }

    #[test]
    fn public_addresses_are_told_from_internal_ones() {
        let public = |s: &str| is_public_ip(s.parse().unwrap());
        assert!(public("8.8.8.8") && public("2606:4700:4700::1111"));
        for s in ["127.0.0.1", "10.1.2.3", "192.0.2.1", "198.18.0.1", "255.255.255.255", "::", "fc00::1", "2001:db8::1"]
        {
            assert!(!public(s), "{s}");
        }
    }
}
