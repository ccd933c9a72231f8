//! Sign-in rate limits, kept in PostgreSQL so they hold across replicas: at most
//! `MAX_FAILURES_PER_ACCOUNT` failed attempts per account and `MAX_FAILURES_PER_IP` per client
//! address within `WINDOW_MINUTES`.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::backend::db::schema::sign_in_attempts;

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;

/// Whether another attempt is allowed now for this email and address.
pub async fn sign_in_allowed(conn: &mut AsyncPgConnection, email: &str, ip: &str) -> QueryResult<bool> {
    use sign_in_attempts::dsl as a;
    let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    let by_account: i64 = a::sign_in_attempts
        .filter(a::email.eq(email))
        .filter(a::succeeded.eq(false))
        .filter(a::created_at.gt(since))
        .count()
        .get_result(conn)
        .await?;
    if by_account >= MAX_FAILURES_PER_ACCOUNT {
        return Ok(false);
    }
    let by_ip: i64 = a::sign_in_attempts
        .filter(a::ip_address.eq(ip))
        .filter(a::succeeded.eq(false))
        .filter(a::created_at.gt(since))
        .count()
        .get_result(conn)
        .await?;
    Ok(by_ip < MAX_FAILURES_PER_IP)
}

/// Records an attempt. A success clears the account's failures, so a person who finally
/// remembers their password is not locked out by earlier typos.
pub async fn record_attempt(conn: &mut AsyncPgConnection, email: &str, ip: &str, succeeded: bool) -> QueryResult<()> {
    use sign_in_attempts::dsl as a;
    if succeeded {
        diesel::delete(a::sign_in_attempts.filter(a::email.eq(email)).filter(a::succeeded.eq(false)))
            .execute(conn)
            .await?;
    }
    diesel::insert_into(a::sign_in_attempts)
        .values((a::email.eq(email), a::ip_address.eq(ip), a::succeeded.eq(succeeded)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes attempts older than the window (called by the periodic cleanup).
pub async fn prune(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    use sign_in_attempts::dsl as a;
    let before = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    diesel::delete(a::sign_in_attempts.filter(a::created_at.lt(before))).execute(conn).await
}
