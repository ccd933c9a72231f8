//! Browser sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure over https);
//! the database keeps only the token's hash.
//!
//! A session ends after [`IDLE_DAYS`] without use (sliding) and at its absolute expiry
//! (`SESSION_MAX_DAYS`, 30 days by default) however active it is.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::tokens::{hash_token, random_token};
use crate::backend::db::schema::{sessions, users};
use crate::model::user::{CurrentUser, Role};

/// The cookie's name.
pub const COOKIE_NAME: &str = "meeboter_session";
/// How long a session lasts without being used.
pub const IDLE_DAYS: i64 = 7;

/// Creates a session that ends at the latest after `max_lifetime`, and returns its token (the
/// only copy; it goes into the cookie).
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
    max_lifetime: std::time::Duration,
) -> QueryResult<String> {
    let token = random_token();
    let now = Utc::now();
    let absolute = now + Duration::from_std(max_lifetime).unwrap_or_else(|_| Duration::days(30));
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(hash_token(&token)),
            sessions::user_id.eq(user_id),
            sessions::ip_address.eq(ip),
            sessions::user_agent.eq(user_agent.map(|ua| ua.chars().take(512).collect::<String>())),
            sessions::expires_at.eq(absolute.min(now + Duration::days(IDLE_DAYS))),
            sessions::absolute_expires_at.eq(absolute),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

type UserRow = (i64, String, String, String, DateTime<Utc>);
/// Session id, last seen, absolute expiry, opened at, and its user.
type SessionRow = (i64, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, UserRow);

/// The user a session token belongs to, if the session exists and has not expired.
/// Extends the session when it was last seen more than an hour ago (sliding expiry), never past
/// its absolute expiry.
pub async fn find_user(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<CurrentUser>> {
    let now = Utc::now();
    let row: Option<SessionRow> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(hash_token(token)))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .select((
            sessions::id,
            sessions::last_seen_at,
            sessions::absolute_expires_at,
            sessions::created_at,
            (users::id, users::name, users::email, users::role, users::created_at),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((session_id, last_seen, absolute, opened, (id, name, email, role, created))) = row else {
        return Ok(None);
    };
    if now - last_seen > Duration::hours(1) {
        diesel::update(sessions::table.find(session_id))
            .set((
                sessions::last_seen_at.eq(now),
                sessions::expires_at.eq(absolute.min(now + Duration::days(IDLE_DAYS))),
            ))
            .execute(conn)
            .await?;
    }
    // Sign-up writes the account and its first session in one transaction: same `now()`.
    let first_session = opened == created;
    Ok(Some(CurrentUser { id, name, email, role: Role::parse(&role), first_session }))
}

/// Ends a session (sign out). Unknown tokens are ignored.
pub async fn delete(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(hash_token(token)))).execute(conn).await?;
    Ok(())
}

/// Ends every session of a user except `keep` (a token), e.g. after a password change or for
/// "sign out everywhere". Returns how many ended.
pub async fn delete_all_for_user(conn: &mut AsyncPgConnection, user_id: i64, keep: Option<&str>) -> QueryResult<usize> {
    let keep_hash = keep.map(hash_token).unwrap_or_default();
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::token_hash.ne(keep_hash)))
        .execute(conn)
        .await
}

/// Deletes expired sessions (called by the periodic cleanup).
pub async fn prune_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let now = Utc::now();
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(now).or(sessions::absolute_expires_at.lt(now))))
        .execute(conn)
        .await
}

/// The `Set-Cookie` value that stores a session token (kept by the browser for the session's
/// absolute lifetime; the server ends it earlier when it is idle).
pub fn set_cookie(token: &str, secure: bool, max_lifetime: std::time::Duration) -> String {
    let max_age = max_lifetime.as_secs();
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The session token in a request's `Cookie` headers, if any.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(token_from_cookie_header)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_http_only_lax_and_secure_only_over_https() {
        let month = std::time::Duration::from_secs(30 * 86_400);
        let c = set_cookie("abc", false, month);
        assert!(c.starts_with("meeboter_session=abc; Path=/; HttpOnly; SameSite=Lax"));
        assert!(!c.contains("Secure"));
        assert!(c.contains("Max-Age=2592000"), "{c}");
        assert!(set_cookie("abc", true, month).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        assert_eq!(token_from_cookie_header("a=1; meeboter_session=xyz; b=2"), Some("xyz"));
        assert_eq!(token_from_cookie_header("meeboter_session="), None);
        assert_eq!(token_from_cookie_header("other=1"), None);
    }
}
