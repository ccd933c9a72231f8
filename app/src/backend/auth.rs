//! Authentication: password hashing, sessions behind a cookie, sign-in rate limits and the
//! random tokens they are built from.

pub mod bot_tokens;
pub mod passwords;
pub mod rate_limit;
pub mod sessions;
pub mod tokens;

/// The client address of the current request, set by the server's edge middleware
/// (from the socket, or `X-Forwarded-For` when `TRUST_PROXY_HEADERS=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);
