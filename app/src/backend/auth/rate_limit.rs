//! Rate limits on password guessing and account creation, kept in PostgreSQL so they hold across
//! replicas.
//!
//! An attempt is recorded (as a failure) *before* its password is checked, in a transaction that
//! holds an advisory lock for the client: N parallel guesses are counted one after another and
//! at most the limit gets through to the password check. A success then turns its row into a
//! success and clears that pair's earlier failures.
//!
//! Lock-outs are keyed on (email, client) and on the client alone, never on the email alone: no
//! one can lock a chosen account out from another address. The client is the address from the
//! edge middleware, with IPv6 addresses reduced to their /64 (one subscriber's usual allocation).

use std::net::IpAddr;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::db::schema::sign_in_attempts;

/// How long an attempt counts.
pub const WINDOW_MINUTES: i64 = 15;
/// Failed sign-ins per (email, client) in the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed sign-ins per client (all emails together) in the window.
pub const MAX_FAILURES_PER_IP: i64 = 20;
/// Sign-up attempts per client in the window (successful or not), unless `SIGNUP_RATE_LIMIT`
/// says otherwise.
pub const MAX_SIGN_UPS_PER_IP: i64 = 10;
/// Wrong current passwords per (account, client) in the window when changing a password.
pub const MAX_PASSWORD_CHANGE_FAILURES: i64 = 5;

/// What is being attempted; each kind has its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    SignIn,
    /// A sign-up, with the most attempts a client may make in the window.
    SignUp {
        per_client: i64,
    },
    PasswordChange,
}

impl AttemptKind {
    fn as_str(self) -> &'static str {
        match self {
            AttemptKind::SignIn => "sign_in",
            AttemptKind::SignUp { .. } => "sign_up",
            AttemptKind::PasswordChange => "password_change",
        }
    }

    /// (limit per (email, client), limit per client); `None` means no limit of that kind.
    /// Sign-ups count every attempt, the others only failures.
    fn limits(self) -> (Option<i64>, Option<i64>) {
        match self {
            AttemptKind::SignIn => (Some(MAX_FAILURES_PER_ACCOUNT), Some(MAX_FAILURES_PER_IP)),
            AttemptKind::SignUp { per_client } => (None, Some(per_client)),
            AttemptKind::PasswordChange => (Some(MAX_PASSWORD_CHANGE_FAILURES), None),
        }
    }
}

/// A recorded attempt: pass it to [`succeeded`] when the password was right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(i64);

/// The rate-limit key of a client address: IPv4 as is, IPv6 reduced to its /64 prefix, anything
/// unparsable as given.
pub fn client_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Records an attempt before it is checked; `None` when the limits are reached (nothing is
/// recorded then). Atomic per client: the limits are counted under an advisory lock.
pub async fn begin(
    conn: &mut AsyncPgConnection,
    kind: AttemptKind,
    email: &str,
    ip: &str,
) -> QueryResult<Option<Attempt>> {
    let client = client_key(ip);
    let email = email.to_owned();
    conn.transaction::<_, DieselError, _>(async move |conn| {
        use sign_in_attempts::dsl as a;
        diesel::sql_query("SELECT pg_advisory_xact_lock(7300002, hashtext($1))")
            .bind::<Text, _>(format!("{}/{client}", kind.as_str()))
            .execute(conn)
            .await?;
        let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
        let counted = || {
            let q = a::sign_in_attempts
                .filter(a::kind.eq(kind.as_str()))
                .filter(a::created_at.gt(since))
                .into_boxed::<diesel::pg::Pg>();
            if matches!(kind, AttemptKind::SignUp { .. }) {
                q
            } else {
                q.filter(a::succeeded.eq(false))
            }
        };
        let (per_pair, per_client) = kind.limits();
        if let Some(max) = per_pair {
            let n: i64 = counted()
                .filter(a::email.eq(&email))
                .filter(a::ip_address.eq(&client))
                .count()
                .get_result(conn)
                .await?;
            if n >= max {
                return Ok(None);
            }
        }
        if let Some(max) = per_client {
            let n: i64 = counted().filter(a::ip_address.eq(&client)).count().get_result(conn).await?;
            if n >= max {
                return Ok(None);
            }
        }
        let id: i64 = diesel::insert_into(a::sign_in_attempts)
            .values((a::kind.eq(kind.as_str()), a::email.eq(&email), a::ip_address.eq(&client), a::succeeded.eq(false)))
            .returning(a::id)
            .get_result(conn)
            .await?;
        Ok(Some(Attempt(id)))
    })
    .await
}

/// Marks an attempt successful and clears the earlier failures of its (kind, email, client), so a
/// person who finally remembers their password is not locked out by earlier typos.
pub async fn succeeded(conn: &mut AsyncPgConnection, attempt: Attempt) -> QueryResult<()> {
    use sign_in_attempts::dsl as a;
    let row: Option<(String, String, String)> = diesel::update(a::sign_in_attempts.find(attempt.0))
        .set(a::succeeded.eq(true))
        .returning((a::kind, a::email, a::ip_address))
        .get_result(conn)
        .await
        .optional()?;
    if let Some((kind, email, client)) = row {
        if kind != "sign_up" {
            diesel::delete(
                a::sign_in_attempts
                    .filter(a::kind.eq(kind))
                    .filter(a::email.eq(email))
                    .filter(a::ip_address.eq(client))
                    .filter(a::succeeded.eq(false)),
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Forgets an attempt that was never judged (the server was too busy to check it).
pub async fn cancel(conn: &mut AsyncPgConnection, attempt: Attempt) -> QueryResult<()> {
    use sign_in_attempts::dsl as a;
    diesel::delete(a::sign_in_attempts.find(attempt.0)).execute(conn).await?;
    Ok(())
}

/// Deletes attempts older than the window (called by the periodic cleanup).
pub async fn prune(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    use sign_in_attempts::dsl as a;
    let before = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    diesel::delete(a::sign_in_attempts.filter(a::created_at.lt(before))).execute(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_slash_64() {
        assert_eq!(client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(client_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("unknown"), "unknown");
    }
}
