//! Bot tokens: each deployment of a bot (or each Coolify pool slot) gets its own random token,
//! passed to the container as `MILO_AUTH_TOKEN`; only its SHA-256 is stored. A token opens only
//! its own bot, and only while the bot runs: at DONE or FATAL the lifecycle clears the bot's
//! token, and a finished bot is refused even with a slot's or the legacy token.
//!
//! Every refusal with a token looks the same (401, one message), whether the bot does not exist,
//! has finished, or the token is another bot's: no answer tells which bot ids exist.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::tokens::{hash_token, random_token};
use crate::backend::config::Config;
use crate::backend::db::schema::{bot_pool_slots, bots};
use crate::backend::error::internal;
use crate::model::bot::BotStatus;
use crate::model::error::AppError;

/// Prefix of bot tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "mbt_";

/// A new bot token (plaintext for the container) and the hash to store.
pub fn new_token() -> (String, Vec<u8>) {
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let hash = hash_token(&token);
    (token, hash)
}

/// Creates a new token for a bot and stores its hash; the plaintext goes to the container as
/// `MILO_AUTH_TOKEN` and is never stored.
pub async fn issue_token(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<String, AppError> {
    let (token, hash) = new_token();
    let n = diesel::update(bots::table.find(bot_id))
        .set(bots::token_hash.eq(Some(hash)))
        .execute(conn)
        .await
        .map_err(|e| internal("storing a bot token failed", e))?;
    if n == 0 {
        return Err(AppError::NotFound(format!("Bot {bot_id} was not found.")));
    }
    Ok(token)
}

/// Creates a new token for a Coolify pool slot; it opens whichever running bot the slot holds.
pub async fn issue_slot_token(conn: &mut AsyncPgConnection, slot_uuid: &str) -> Result<String, AppError> {
    let (token, hash) = new_token();
    let n = diesel::update(bot_pool_slots::table.filter(bot_pool_slots::application_uuid.eq(slot_uuid)))
        .set(bot_pool_slots::token_hash.eq(Some(hash)))
        .execute(conn)
        .await
        .map_err(|e| internal("storing a slot token failed", e))?;
    if n == 0 {
        return Err(AppError::NotFound(format!("Pool slot {slot_uuid} was not found.")));
    }
    Ok(token)
}

/// Creates a new token for pool slot `slot_id` while it holds `bot_id` (the deploy that claimed
/// it); a slot taken back meanwhile (Stop, recovery) is refused, so a late deploy never replaces
/// the token of the bot that holds the slot now (`None`).
pub async fn issue_slot_token_for(
    conn: &mut AsyncPgConnection,
    slot_id: i64,
    bot_id: i64,
) -> Result<Option<String>, AppError> {
    let (token, hash) = new_token();
    let n = diesel::update(
        bot_pool_slots::table.filter(bot_pool_slots::id.eq(slot_id)).filter(bot_pool_slots::assigned_bot_id.eq(bot_id)),
    )
    .set(bot_pool_slots::token_hash.eq(Some(hash)))
    .execute(conn)
    .await
    .map_err(|e| internal("storing a slot token failed", e))?;
    Ok((n > 0).then_some(token))
}

/// The token a request carries: `X-Milo-Token`, or `Authorization: Bearer <token>`.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-milo-token").and_then(|v| v.to_str().ok()) {
        return Some(v.trim()).filter(|v| !v.is_empty());
    }
    bearer_token(headers)
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The answer to a request without a bot token (401).
pub fn missing_token() -> AppError {
    AppError::Unauthorized(
        "Send the bot's token (MILO_AUTH_TOKEN) in the X-Milo-Token header or as Authorization: Bearer <token>.".into(),
    )
}

/// The one answer to a token that does not open the bot asked for (401), whatever the reason.
pub fn refused() -> AppError {
    AppError::Unauthorized(
        "This token does not open that bot: the token is wrong, or the bot has finished or does not exist.".into(),
    )
}

/// Whether `token` opens a bot whose status is `status` and whose stored hash is `stored`:
/// the bot runs, and the token is its own or the enabled shared legacy token.
pub fn opens(config: &Config, status: &str, stored: Option<&[u8]>, token: &str) -> bool {
    if BotStatus::parse(status).is_none_or(BotStatus::is_terminal) {
        return false;
    }
    if let Some(legacy) = config.legacy_bot_token.as_ref() {
        use secrecy::ExposeSecret;
        if constant_time_eq(legacy.expose_secret().as_bytes(), token.as_bytes()) {
            return true;
        }
    }
    stored.is_some_and(|s| constant_time_eq(s, &hash_token(token)))
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Bytea>)]
    token_hash: Option<Vec<u8>>,
    #[diesel(sql_type = Bool)]
    slot: bool,
}

/// Checks, in one query, that `token` opens bot `bot_id`: the bot runs, and the token is its own,
/// the token of the pool slot that currently runs it, or (only with
/// `LEGACY_BOT_TOKEN_ENABLED=true`) the shared legacy token. No token: 401 asking for one; any
/// other refusal: [`refused`].
pub async fn authorize(
    conn: &mut AsyncPgConnection,
    config: &Config,
    bot_id: i64,
    token: Option<&str>,
) -> Result<(), AppError> {
    let Some(token) = token else {
        return Err(missing_token());
    };
    let holder: Option<Holder> = diesel::sql_query(
        "SELECT b.status, b.token_hash, EXISTS (SELECT 1 FROM bot_pool_slots s \
                WHERE s.assigned_bot_id = b.id AND s.token_hash = $2) AS slot \
         FROM bots b WHERE b.id = $1",
    )
    .bind::<BigInt, _>(bot_id)
    .bind::<Bytea, _>(hash_token(token))
    .get_result(conn)
    .await
    .optional()
    .map_err(|e| internal("reading a bot token failed", e))?;
    let Some(h) = holder else { return Err(refused()) };
    let running = BotStatus::parse(&h.status).is_some_and(|s| !s.is_terminal());
    if opens(config, &h.status, h.token_hash.as_deref(), token) || (running && h.slot) {
        Ok(())
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_either_header() {
        let mut h = http::HeaderMap::new();
        assert_eq!(token_from_headers(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer mbt_abc".parse().unwrap());
        assert_eq!(token_from_headers(&h), Some("mbt_abc"));
        h.insert("x-milo-token", " mbt_xyz ".parse().unwrap());
        assert_eq!(token_from_headers(&h), Some("mbt_xyz"));
    }

    #[test]
    fn new_tokens_are_prefixed_and_hashed() {
        let (t, h) = new_token();
        assert!(t.starts_with(TOKEN_PREFIX));
        assert_eq!(h, hash_token(&t));
    }
}
