//! Reading bots: one, a filtered page (newest first), the active count, events.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::not_found;
use super::row::BotRow;
use crate::backend::db::schema::bots;
use crate::backend::error::internal;
use crate::backend::services::events;
use crate::model::bot::{Bot, BotEvent, BotFilter, BotStatus, Page};
use crate::model::error::AppError;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;

/// One of the user's bots.
pub async fn get_bot(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<Bot, AppError> {
    owned_row(conn, user_id, id).await.map(Bot::from)
}

pub(super) async fn owned_row(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<BotRow, AppError> {
    bots::table
        .filter(bots::id.eq(id))
        .filter(bots::user_id.eq(user_id))
        .select(BotRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a bot failed", e))?
        .ok_or_else(|| not_found(id))
}

/// Parses the comma-separated status filter.
pub fn parse_statuses(raw: Option<&str>) -> Result<Vec<BotStatus>, AppError> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            BotStatus::parse(s).ok_or_else(|| {
                AppError::invalid("status", format!("'{s}' is not a status; use e.g. QUEUED, IN_CALL, DONE, FATAL"))
            })
        })
        .collect()
}

/// A page of the user's bots, newest first.
pub async fn list_bots(conn: &mut AsyncPgConnection, user_id: i64, f: &BotFilter) -> Result<Page<Bot>, AppError> {
    if f.page < 1 {
        return Err(AppError::invalid("page", "page must be 1 or more"));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&f.page_size) {
        return Err(AppError::invalid("pageSize", format!("pageSize must be from 1 to {MAX_PAGE_SIZE}")));
    }
    let statuses: Vec<&'static str> = parse_statuses(f.status.as_deref())?.into_iter().map(BotStatus::as_str).collect();
    let filtered = || {
        let mut q = bots::table.filter(bots::user_id.eq(user_id)).into_boxed();
        if !statuses.is_empty() {
            q = q.filter(bots::status.eq_any(statuses.clone()));
        }
        if let Some(p) = f.meeting_platform {
            q = q.filter(bots::meeting_platform.eq(p.as_str()));
        }
        if let Some(p) = f.deployment_platform {
            q = q.filter(bots::deployment_platform.eq(p.as_str()));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn).await.map_err(|e| internal("counting bots failed", e))?;
    let rows: Vec<BotRow> = filtered()
        .order((bots::created_at.desc(), bots::id.desc()))
        .limit(f.page_size)
        .offset((f.page - 1) * f.page_size)
        .select(BotRow::as_select())
        .load(conn)
        .await
        .map_err(|e| internal("listing bots failed", e))?;
    Ok(Page::new(rows.into_iter().map(Bot::from).collect(), total, f.page, f.page_size))
}

/// The user's bots that are not DONE or FATAL.
pub async fn active_bot_count(conn: &mut AsyncPgConnection, user_id: i64) -> Result<i64, AppError> {
    bots::table
        .filter(bots::user_id.eq(user_id))
        .filter(bots::status.ne_all(["DONE", "FATAL"]))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("counting active bots failed", e))
}

/// The events of one of the user's bots, newest first.
pub async fn list_events(conn: &mut AsyncPgConnection, user_id: i64, bot_id: i64) -> Result<Vec<BotEvent>, AppError> {
    owned_row(conn, user_id, bot_id).await?;
    events::for_bot(conn, bot_id, 500).await.map_err(|e| internal("reading events failed", e))
}
