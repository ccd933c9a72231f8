//! Invitations: the administrator creates a single-use code that expires; a sign-up with it is
//! admitted when `SIGNUP_MODE=invite`. Only the code's SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::backend::auth::tokens::{hash_token, random_token};
use crate::backend::db::schema::{invitations, users};
use crate::backend::error::internal;
use crate::model::error::AppError;
use crate::model::invitation::Invitation;

/// How long an invitation can be used.
pub const INVITATION_DAYS: i64 = 7;
/// How many invitations the list shows (newest first).
pub const LIST_LIMIT: i64 = 100;

const INVALID: &str =
    "This invitation is not valid: it was already used, revoked or has expired. Ask the administrator for a new one.";

fn invalid() -> AppError {
    AppError::invalid("invite", INVALID)
}

/// An invitation that is neither used nor revoked nor expired, by its code.
macro_rules! usable {
    ($code:expr) => {
        invitations::table
            .filter(invitations::code_hash.eq(hash_token($code)))
            .filter(invitations::used_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(Utc::now()))
    };
}

/// Creates an invitation; returns it and its code (the only copy).
pub async fn create(conn: &mut AsyncPgConnection, admin_id: i64) -> Result<(Invitation, String), AppError> {
    let code = random_token();
    let now = Utc::now();
    let (id, created_at, expires_at): (i64, DateTime<Utc>, DateTime<Utc>) = diesel::insert_into(invitations::table)
        .values((
            invitations::code_hash.eq(hash_token(&code)),
            invitations::created_by.eq(admin_id),
            invitations::created_at.eq(now),
            invitations::expires_at.eq(now + Duration::days(INVITATION_DAYS)),
        ))
        .returning((invitations::id, invitations::created_at, invitations::expires_at))
        .get_result(conn)
        .await
        .map_err(|e| internal("creating an invitation failed", e))?;
    let invitation = Invitation { id, created_at, expires_at, used_at: None, used_by: None, revoked_at: None };
    Ok((invitation, code))
}

type Row = (i64, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>, Option<DateTime<Utc>>);

/// The newest invitations.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<Invitation>, AppError> {
    let rows: Vec<Row> = invitations::table
        .left_join(users::table.on(invitations::used_by.eq(users::id.nullable())))
        .order(invitations::created_at.desc())
        .limit(LIST_LIMIT)
        .select((
            invitations::id,
            invitations::created_at,
            invitations::expires_at,
            invitations::used_at,
            users::email.nullable(),
            invitations::revoked_at,
        ))
        .load(conn)
        .await
        .map_err(|e| internal("listing invitations failed", e))?;
    Ok(rows
        .into_iter()
        .map(|(id, created_at, expires_at, used_at, used_by, revoked_at)| Invitation {
            id,
            created_at,
            expires_at,
            used_at,
            used_by,
            revoked_at,
        })
        .collect())
}

/// Revokes an unused invitation.
pub async fn revoke(conn: &mut AsyncPgConnection, id: i64) -> Result<(), AppError> {
    let n = diesel::update(
        invitations::table.find(id).filter(invitations::used_at.is_null()).filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
    .map_err(|e| internal("revoking an invitation failed", e))?;
    if n == 0 {
        return Err(AppError::NotFound("No open invitation with this id (it may be used or revoked already).".into()));
    }
    Ok(())
}

/// Checks that a code can be used now (before the password is hashed).
pub async fn check(conn: &mut AsyncPgConnection, code: &str) -> Result<(), AppError> {
    let found: bool = diesel::select(diesel::dsl::exists(usable!(code).select(invitations::id)))
        .get_result(conn)
        .await
        .map_err(|e| internal("checking an invitation failed", e))?;
    found.then_some(()).ok_or_else(invalid)
}

/// Uses a code for a new account, in the sign-up transaction: exactly one sign-up gets it.
pub async fn redeem(conn: &mut AsyncPgConnection, code: &str, user_id: i64) -> Result<(), AppError> {
    let n = diesel::update(usable!(code))
        .set((invitations::used_at.eq(Utc::now()), invitations::used_by.eq(user_id)))
        .execute(conn)
        .await
        .map_err(|e| internal("redeeming an invitation failed", e))?;
    if n == 1 {
        Ok(())
    } else {
        Err(invalid())
    }
}
