//! Accounts: sign up (the first user becomes admin; later ones as `SIGNUP_MODE` allows), sign in
//! with rate limits, password change, sign out everywhere.
//!
//! Passwords are hashed with no database connection held: a connection is taken for the rate
//! limit and the lookup, given back, the hash computed (bounded, see `auth::passwords`), and a
//! connection taken again to write. A flood of sign-ins therefore cannot drain the pool.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::auth::passwords::{self, Busy, HashError};
use crate::backend::auth::rate_limit::{self, AttemptKind};
use crate::backend::auth::sessions;
use crate::backend::config::{Config, SignupMode};
use crate::backend::db::schema::users;
use crate::backend::db::{DbConn, DbPool};
use crate::backend::services::invitations;
use crate::model::account::{normalize_email, validate_password, validate_sign_up};
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

use crate::backend::error::internal;

fn busy(_: Busy) -> AppError {
    AppError::TooManyRequests("The server is busy checking other passwords. Try again in a few seconds.".into())
}

fn hash_error(e: HashError) -> AppError {
    match e {
        HashError::Busy(b) => busy(b),
        HashError::Failed(e) => internal("password hashing failed", e),
    }
}

async fn conn(pool: &DbPool) -> Result<DbConn, AppError> {
    pool.get().await.map_err(|e| internal("database unavailable", e))
}

fn too_many(what: &str) -> AppError {
    AppError::TooManyRequests(format!("{what} Wait {} minutes and try again.", rate_limit::WINDOW_MINUTES))
}

/// What the sign-up form sends.
#[derive(Debug, Clone, Copy)]
pub struct SignUpForm<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub confirm: &'a str,
    /// The invitation code from the sign-up link, when there is one.
    pub invite: Option<&'a str>,
}

const CLOSED: &str = "This server does not accept new accounts. Ask its administrator for access.";

/// Whether `mode` admits a new account now; `any_user` is false only for the very first one.
/// Returns whether an invitation must be redeemed.
fn admission(mode: SignupMode, any_user: bool, invite: Option<&str>) -> Result<bool, AppError> {
    if !any_user {
        return Ok(false);
    }
    match (mode, invite) {
        // An open server needs no invitation; a link that carries one still works.
        (SignupMode::Open, _) => Ok(false),
        (SignupMode::Invite, Some(_)) => Ok(true),
        (SignupMode::Invite, None) => Err(AppError::invalid(
            "invite",
            "Signing up here needs an invitation. Ask the administrator for an invitation link.",
        )),
        (SignupMode::Closed, _) => Err(AppError::Precondition(CLOSED.into())),
    }
}

/// Creates an account and a session; returns the user and the session token.
/// The account, the redeemed invitation and the session are written in one transaction.
pub async fn sign_up(
    pool: &DbPool,
    config: &Config,
    form: SignUpForm<'_>,
    client: &ClientInfo,
) -> Result<(CurrentUser, String), AppError> {
    let account = validate_sign_up(form.name, form.email, form.password, form.confirm)?;
    let invite = form.invite.map(str::trim).filter(|c| !c.is_empty());
    let attempt = {
        let mut conn = conn(pool).await?;
        let attempt = rate_limit::begin(
            &mut conn,
            AttemptKind::SignUp { per_client: config.signup_rate_limit },
            &account.email,
            &client.ip,
        )
        .await
        .map_err(|e| internal("sign-up rate limit failed", e))?
        .ok_or_else(|| too_many("Too many sign-up attempts from your network."))?;
        // Refuse early (before the costly hash) when the mode cannot admit this sign-up.
        let any_user: bool = diesel::select(diesel::dsl::exists(users::table.select(users::id)))
            .get_result(&mut conn)
            .await
            .map_err(|e| internal("sign-up check failed", e))?;
        if admission(config.signup_mode, any_user, invite)? {
            invitations::check(&mut conn, invite.unwrap_or_default()).await?;
        }
        attempt
    };
    let hash = passwords::hash_password(account.password.clone()).await.map_err(hash_error)?;
    let mut conn = conn(pool).await?;
    let result = conn
        .transaction::<_, SignUpFailure, _>(async |conn| {
            // Serialise sign-ups so exactly one first user becomes admin.
            diesel::sql_query("SELECT pg_advisory_xact_lock(7300001)").execute(conn).await?;
            let any_user: bool =
                diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn).await?;
            let redeem = admission(config.signup_mode, any_user, invite).map_err(SignUpFailure::Refused)?;
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
            if redeem {
                invitations::redeem(conn, invite.unwrap_or_default(), id).await.map_err(SignUpFailure::Refused)?;
            }
            let token =
                sessions::create(conn, id, Some(&client.ip), client.user_agent.as_deref(), config.session_max_lifetime)
                    .await?;
            rate_limit::succeeded(conn, attempt).await?;
            let user =
                CurrentUser { id, name: account.name.clone(), email: account.email.clone(), role, first_session: true };
            Ok((user, token))
        })
        .await;
    match result {
        Ok(v) => Ok(v),
        Err(SignUpFailure::Refused(e)) => Err(e),
        Err(SignUpFailure::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
            Err(AppError::Conflict {
                field: Some("email".into()),
                message: "An account with this email already exists. Sign in instead, or use another email.".into(),
            })
        }
        Err(SignUpFailure::Db(e)) => Err(internal("sign-up failed", e)),
    }
}

/// Why the sign-up transaction rolled back.
enum SignUpFailure {
    Refused(AppError),
    Db(DieselError),
}

impl From<DieselError> for SignUpFailure {
    fn from(e: DieselError) -> Self {
        SignUpFailure::Db(e)
    }
}

type Credentials = (i64, String, String, String, String);

/// Checks credentials under the rate limits and opens a session.
pub async fn sign_in(
    pool: &DbPool,
    config: &Config,
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
    let (attempt, row) = {
        let mut conn = conn(pool).await?;
        let attempt = rate_limit::begin(&mut conn, AttemptKind::SignIn, &email, &client.ip)
            .await
            .map_err(|e| internal("rate limit check failed", e))?
            .ok_or_else(|| too_many("Too many failed sign-in attempts."))?;
        let row: Option<Credentials> = users::table
            .filter(users::email.eq(&email))
            .select((users::id, users::name, users::email, users::role, users::password_hash))
            .first(&mut conn)
            .await
            .optional()
            .map_err(|e| internal("user lookup failed", e))?;
        (attempt, row)
    };
    let verified = passwords::verify_password(password.to_owned(), row.as_ref().map(|r| r.4.clone())).await;
    // A failure is already recorded: only a success or an unjudged attempt writes again.
    match (verified, row) {
        (Err(b), _) => {
            // Not the caller's failure: it must not count against them.
            let mut conn = conn(pool).await?;
            rate_limit::cancel(&mut conn, attempt).await.map_err(|e| internal("cancelling an attempt failed", e))?;
            Err(busy(b))
        }
        (Ok(true), Some((id, name, email, role, _))) => {
            let mut conn = conn(pool).await?;
            rate_limit::succeeded(&mut conn, attempt)
                .await
                .map_err(|e| internal("recording a sign-in attempt failed", e))?;
            let token = sessions::create(
                &mut conn,
                id,
                Some(&client.ip),
                client.user_agent.as_deref(),
                config.session_max_lifetime,
            )
            .await
            .map_err(|e| internal("session creation failed", e))?;
            Ok((CurrentUser { id, name, email, role: Role::parse(&role), first_session: false }, token))
        }
        _ => Err(AppError::Unauthorized(WRONG_CREDENTIALS.into())),
    }
}

/// What the password form sends.
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub confirm: &'a str,
}

/// Changes the signed-in user's password after checking the current one (rate limited like a
/// sign-in), and ends every other session of theirs. `keep` is the current session's token.
pub async fn change_password(
    pool: &DbPool,
    user: &CurrentUser,
    change: PasswordChange<'_>,
    keep: Option<&str>,
    client: &ClientInfo,
) -> Result<usize, AppError> {
    if change.current.is_empty() {
        return Err(AppError::invalid("current_password", "Enter your current password."));
    }
    validate_password(change.new).map_err(|e| AppError::invalid("new_password", e.to_string()))?;
    if change.new != change.confirm {
        return Err(AppError::invalid("confirm_password", "The two new passwords do not match."));
    }
    let (attempt, stored) = {
        let mut conn = conn(pool).await?;
        let attempt = rate_limit::begin(&mut conn, AttemptKind::PasswordChange, &user.email, &client.ip)
            .await
            .map_err(|e| internal("password change rate limit failed", e))?
            .ok_or_else(|| too_many("Too many wrong current passwords."))?;
        let stored: String = users::table
            .find(user.id)
            .select(users::password_hash)
            .first(&mut conn)
            .await
            .map_err(|e| internal("reading a password hash failed", e))?;
        (attempt, stored)
    };
    let ok = passwords::verify_password(change.current.to_owned(), Some(stored)).await.map_err(busy)?;
    if !ok {
        return Err(AppError::invalid("current_password", "Your current password is not correct."));
    }
    let hash = passwords::hash_password(change.new.to_owned()).await.map_err(hash_error)?;
    let mut conn = conn(pool).await?;
    conn.transaction::<_, DieselError, _>(async |conn| {
        diesel::update(users::table.find(user.id))
            .set((users::password_hash.eq(&hash), users::updated_at.eq(chrono::Utc::now())))
            .execute(conn)
            .await?;
        rate_limit::succeeded(conn, attempt).await?;
        sessions::delete_all_for_user(conn, user.id, keep).await
    })
    .await
    .map_err(|e| internal("password change failed", e))
}

/// Ends every session of a user, this one included. Returns how many ended.
pub async fn sign_out_everywhere(conn: &mut AsyncPgConnection, user_id: i64) -> Result<usize, AppError> {
    sessions::delete_all_for_user(conn, user_id, None).await.map_err(|e| internal("signing out everywhere failed", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_account_is_always_admitted() {
        for mode in [SignupMode::Open, SignupMode::Invite, SignupMode::Closed] {
            assert_eq!(admission(mode, false, None), Ok(false), "{mode:?}");
        }
    }

    #[test]
    fn later_accounts_follow_the_mode() {
        assert_eq!(admission(SignupMode::Open, true, None), Ok(false));
        assert_eq!(admission(SignupMode::Open, true, Some("code")), Ok(false));
        assert_eq!(admission(SignupMode::Invite, true, Some("code")), Ok(true));
        assert_eq!(admission(SignupMode::Invite, true, None).unwrap_err().field(), Some("invite"));
        assert!(matches!(admission(SignupMode::Closed, true, Some("code")), Err(AppError::Precondition(_))));
    }
}
