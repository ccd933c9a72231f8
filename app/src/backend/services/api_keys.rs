//! API keys: created with a random secret shown once, stored as SHA-256 plus a visible prefix,
//! listed without the secret, revoked, and checked on every API request.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::backend::auth::tokens::{hash_token, random_token};
use crate::backend::db::schema::{api_keys, api_request_logs, users};
use crate::backend::error::internal;
use crate::model::bot::Page;
use crate::model::error::AppError;
use crate::model::keys::{ApiKey, ApiRequestLog, CreatedApiKey, KeyStatus};
use crate::model::paging::PageRequest;
use crate::model::user::{CurrentUser, Role};

/// Every secret starts with this, so leaked keys are easy to recognise and scan for.
pub const SECRET_PREFIX: &str = "mbk_";
/// How many characters of the secret are kept visible.
pub const VISIBLE: usize = 12;
pub const DEFAULT_DAYS: i64 = 180;
pub const MAX_DAYS: i64 = 3 * 365;

type KeyRow = (i64, String, String, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn to_dto(r: KeyRow, now: DateTime<Utc>) -> ApiKey {
    let (id, name, prefix, created_at, expires_at, last_used_at, revoked_at) = r;
    let status = if revoked_at.is_some() {
        KeyStatus::Revoked
    } else if expires_at <= now {
        KeyStatus::Expired
    } else {
        KeyStatus::Active
    };
    ApiKey { id, name, prefix, created_at, expires_at, last_used_at, revoked_at, status }
}

/// Creates a key; `expires_at` defaults to 180 days from now.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedApiKey, AppError> {
    super::validate::text("name", name)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "Give the key a name of 1 to 100 characters."));
    }
    let now = Utc::now();
    let expires_at = expires_at.unwrap_or(now + Duration::days(DEFAULT_DAYS));
    if expires_at <= now {
        return Err(AppError::invalid("expiresAt", "The expiry must be in the future."));
    }
    if expires_at > now + Duration::days(MAX_DAYS) {
        return Err(AppError::invalid("expiresAt", "The expiry can be at most three years ahead."));
    }
    let secret = format!("{SECRET_PREFIX}{}", random_token());
    let prefix: String = secret.chars().take(VISIBLE).collect();
    let row: KeyRow = diesel::insert_into(api_keys::table)
        .values((
            api_keys::user_id.eq(user_id),
            api_keys::name.eq(name),
            api_keys::prefix.eq(&prefix),
            api_keys::key_hash.eq(hash_token(&secret)),
            api_keys::expires_at.eq(expires_at),
        ))
        .returning(select_cols())
        .get_result(conn)
        .await
        .map_err(|e| internal("creating an API key failed", e))?;
    Ok(CreatedApiKey { key: to_dto(row, now), secret })
}

/// The columns of a key shown to its owner.
type KeyCols = (
    api_keys::id,
    api_keys::name,
    api_keys::prefix,
    api_keys::created_at,
    api_keys::expires_at,
    api_keys::last_used_at,
    api_keys::revoked_at,
);

fn select_cols() -> KeyCols {
    (
        api_keys::id,
        api_keys::name,
        api_keys::prefix,
        api_keys::created_at,
        api_keys::expires_at,
        api_keys::last_used_at,
        api_keys::revoked_at,
    )
}

/// The user's keys, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    page: i64,
    page_size: i64,
) -> Result<Page<ApiKey>, AppError> {
    let req = PageRequest::new(page, page_size)?;
    let total: i64 = api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("counting keys failed", e))?;
    let rows: Vec<KeyRow> = api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(req.page_size)
        .offset(req.offset())
        .select(select_cols())
        .load(conn)
        .await
        .map_err(|e| internal("listing keys failed", e))?;
    let now = Utc::now();
    Ok(Page::new(rows.into_iter().map(|r| to_dto(r, now)).collect(), total, req.page, req.page_size))
}

/// Keys that still work.
pub async fn active_count(conn: &mut AsyncPgConnection, user_id: i64) -> Result<i64, AppError> {
    api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::expires_at.gt(Utc::now()))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("counting keys failed", e))
}

/// Revokes one of the user's keys (idempotent).
pub async fn revoke(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<ApiKey, AppError> {
    let now = Utc::now();
    let row: Option<KeyRow> = diesel::update(api_keys::table.find(id).filter(api_keys::user_id.eq(user_id)))
        .set(api_keys::revoked_at.eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
            "COALESCE(revoked_at, now())",
        )))
        .returning(select_cols())
        .get_result(conn)
        .await
        .optional()
        .map_err(|e| internal("revoking a key failed", e))?;
    row.map(|r| to_dto(r, now)).ok_or_else(|| AppError::NotFound(format!("API key {id} not found.")))
}

/// The requests made with one of the user's keys, newest first.
pub async fn request_logs(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    key_id: i64,
    page: i64,
    page_size: i64,
) -> Result<Page<ApiRequestLog>, AppError> {
    let owned: bool = diesel::select(diesel::dsl::exists(
        api_keys::table.filter(api_keys::id.eq(key_id)).filter(api_keys::user_id.eq(user_id)),
    ))
    .get_result(conn)
    .await
    .map_err(|e| internal("reading a key failed", e))?;
    if !owned {
        return Err(AppError::NotFound(format!("API key {key_id} not found.")));
    }
    let req = PageRequest::new(page, page_size)?;
    let total: i64 = api_request_logs::table
        .filter(api_request_logs::api_key_id.eq(key_id))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("counting request logs failed", e))?;
    let rows: Vec<(i64, String, String, i32, i32, DateTime<Utc>)> = api_request_logs::table
        .filter(api_request_logs::api_key_id.eq(key_id))
        .order(api_request_logs::id.desc())
        .limit(req.page_size)
        .offset(req.offset())
        .select((
            api_request_logs::id,
            api_request_logs::method,
            api_request_logs::path,
            api_request_logs::status_code,
            api_request_logs::duration_ms,
            api_request_logs::created_at,
        ))
        .load(conn)
        .await
        .map_err(|e| internal("reading request logs failed", e))?;
    let data = rows
        .into_iter()
        .map(|(id, method, path, status_code, duration_ms, created_at)| ApiRequestLog {
            id,
            method,
            path,
            status_code,
            duration_ms,
            created_at,
        })
        .collect();
    Ok(Page::new(data, total, req.page, req.page_size))
}

/// Key id, expiry, revocation, last use, and the owner's id, name, email, role.
type AuthRow = (i64, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i64, String, String, String);

/// Who a secret belongs to: 401 with a reason for unknown, revoked or expired keys.
/// Marks the key used at most once a minute (cheap on the hot path).
pub async fn authenticate(conn: &mut AsyncPgConnection, secret: &str) -> Result<(i64, CurrentUser), AppError> {
    if !secret.starts_with(SECRET_PREFIX) || secret.len() > 200 {
        return Err(AppError::Unauthorized("Invalid API key.".into()));
    }
    let row: Option<AuthRow> = api_keys::table
        .inner_join(users::table)
        .filter(api_keys::key_hash.eq(hash_token(secret)))
        .select((
            api_keys::id,
            api_keys::expires_at,
            api_keys::revoked_at,
            api_keys::last_used_at,
            users::id,
            users::name,
            users::email,
            users::role,
        ))
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("API key lookup failed", e))?;
    let Some((key_id, expires_at, revoked_at, last_used, user_id, name, email, role)) = row else {
        return Err(AppError::Unauthorized("Invalid API key.".into()));
    };
    let now = Utc::now();
    if revoked_at.is_some() {
        return Err(AppError::Unauthorized("This API key was revoked. Create a new key on the API Keys page.".into()));
    }
    if expires_at <= now {
        return Err(AppError::Unauthorized("This API key has expired. Create a new key on the API Keys page.".into()));
    }
    if last_used.is_none_or(|t| now - t > Duration::minutes(1)) {
        diesel::update(api_keys::table.find(key_id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)
            .await
            .map_err(|e| internal("marking a key used failed", e))?;
    }
    Ok((key_id, CurrentUser { id: user_id, name, email, role: Role::parse(&role), first_session: false }))
}

/// One API request, written later in a batch.
#[derive(Debug, Clone)]
pub struct RequestLogEntry {
    pub api_key_id: i64,
    pub user_id: i64,
    pub method: String,
    pub path: String,
    pub status_code: i32,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Writes a batch of request logs in one statement.
pub async fn write_request_logs(conn: &mut AsyncPgConnection, entries: &[RequestLogEntry]) -> QueryResult<usize> {
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                api_request_logs::api_key_id.eq(e.api_key_id),
                api_request_logs::user_id.eq(e.user_id),
                api_request_logs::method.eq(&e.method),
                api_request_logs::path.eq(&e.path),
                api_request_logs::status_code.eq(e.status_code),
                api_request_logs::duration_ms.eq(e.duration_ms),
                api_request_logs::error.eq(&e.error),
                api_request_logs::created_at.eq(e.created_at),
            )
        })
        .collect();
    diesel::insert_into(api_request_logs::table).values(rows).execute(conn).await
}
