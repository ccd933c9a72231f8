//! Accounts: sign up (the first user becomes admin), sign in with rate limits, sign out.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::auth::{passwords, rate_limit, sessions};
use crate::backend::db::schema::users;
use crate::model::account::{normalize_email, validate_sign_up};
use crate::model::error::AppError;
use crate::model::user::{CurrentUser, Role};

/// Who is signing in or up, for sessions and rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// The generic answer to a wrong email or password (never says which).
pub const WRONG_CREDENTIALS: &str = "That email and password do not match an account.";

pub use crate::backend::error::internal;

/// Creates an account and a session; returns the user and the session token.
/// The account and its session are written in one transaction: on any error nothing stays.
pub async fn sign_up(
    conn: &mut AsyncPgConnection,
    name: &str,
    email: &str,
    password: &str,
    confirm: &str,
    client: &ClientInfo,
) -> Result<(CurrentUser, String), AppError> {
    let account = validate_sign_up(name, email, password, confirm)?;
    let hash =
        passwords::hash_password(account.password.clone()).await.map_err(|e| internal("password hashing failed", e))?;
    let result = conn
        .transaction::<_, DieselError, _>(async |conn| {
            {
                // Serialise sign-ups so exactly one first user becomes admin.
                diesel::sql_query("SELECT pg_advisory_xact_lock(7300001)").execute(conn).await?;
                let any_user: bool =
                    diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn).await?;
                let role = if any_user { Role::User } else { Role::Admin };
                let id: i64 = diesel::insert_into(users::table)
                    .values((
                        users::name.eq(&account.name),
                        users::email.eq(&account.email),
                        users::password_hash.eq(&hash),
                        users::role.eq(role.as_str()),
                    ))
                    .returning(users::id)
                    .get_result(conn)
                    .await?;
                let token = sessions::create(conn, id, Some(&client.ip), client.user_agent.as_deref()).await?;
                Ok((CurrentUser { id, name: account.name.clone(), email: account.email.clone(), role }, token))
            }
        })
        .await;
    match result {
        Ok(v) => Ok(v),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Err(AppError::Conflict {
            field: Some("email".into()),
            message: "An account with this email already exists. Sign in instead, or use another email.".into(),
        }),
        Err(e) => Err(internal("sign-up failed", e)),
    }
}

/// Checks credentials under the rate limits and opens a session.
pub async fn sign_in(
    conn: &mut AsyncPgConnection,
    email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<(CurrentUser, String), AppError> {
    if email.trim().is_empty() {
        return Err(AppError::invalid("email", "Enter your email address."));
    }
    // The email is stored with the attempt and used in a query: PostgreSQL refuses NUL.
    super::validate::text("email", email)?;
    if password.is_empty() {
        return Err(AppError::invalid("password", "Enter your password."));
    }
    // A malformed address cannot match an account: same generic answer, but still counted.
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    if !rate_limit::sign_in_allowed(conn, &email, &client.ip)
        .await
        .map_err(|e| internal("rate limit check failed", e))?
    {
        return Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts. Wait {} minutes and try again.",
            rate_limit::WINDOW_MINUTES
        )));
    }
    let row: Option<(i64, String, String, String, String)> = users::table
        .filter(users::email.eq(&email))
        .select((users::id, users::name, users::email, users::role, users::password_hash))
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("user lookup failed", e))?;
    let ok = passwords::verify_password(password.to_owned(), row.as_ref().map(|r| r.4.clone())).await;
    rate_limit::record_attempt(conn, &email, &client.ip, ok)
        .await
        .map_err(|e| internal("recording a sign-in attempt failed", e))?;
    match row {
        Some((id, name, email, role, _)) if ok => {
            let token = sessions::create(conn, id, Some(&client.ip), client.user_agent.as_deref())
                .await
                .map_err(|e| internal("session creation failed", e))?;
            Ok((CurrentUser { id, name, email, role: Role::parse(&role) }, token))
        }
        _ => Err(AppError::Unauthorized(WRONG_CREDENTIALS.into())),
    }
}
