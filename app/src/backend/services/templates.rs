//! Message templates (CRUD) and sending chat messages to bots: a template sends one random
//! variation per bot, a text the same message to every bot. Messages are queued for the bots
//! to dequeue.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::seq::SliceRandom;

use crate::backend::db::schema::{bot_chat_messages, bots, message_templates};
use crate::backend::error::internal;
use crate::model::bot::{BulkFailure, BulkResult, Page};
use crate::model::error::AppError;
use crate::model::paging::PageRequest;
use crate::model::template::{MessageTemplate, SendChat, TemplateInput};

pub const MAX_VARIATIONS: usize = 50;
pub const MAX_MESSAGE: usize = 1000;

type Row = (i64, String, serde_json::Value, DateTime<Utc>, DateTime<Utc>);

fn to_dto((id, template_name, messages, created_at, updated_at): Row) -> MessageTemplate {
    MessageTemplate {
        id,
        template_name,
        messages: serde_json::from_value(messages).unwrap_or_default(),
        created_at,
        updated_at,
    }
}

/// Checks a template: a name and 1..50 non-empty variations of at most 1000 characters.
pub fn validate(input: &TemplateInput) -> Result<(String, Vec<String>), AppError> {
    super::validate::input(input)?;
    let name = input.template_name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(AppError::invalid("templateName", "Give the template a name of 1 to 255 characters."));
    }
    let messages: Vec<String> = input.messages.iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
    if messages.is_empty() {
        return Err(AppError::invalid("messages", "Add at least one message variation."));
    }
    if messages.len() > MAX_VARIATIONS {
        return Err(AppError::invalid("messages", format!("A template can hold at most {MAX_VARIATIONS} variations.")));
    }
    if messages.iter().any(|m| m.chars().count() > MAX_MESSAGE) {
        return Err(AppError::invalid("messages", format!("Each variation can be at most {MAX_MESSAGE} characters.")));
    }
    Ok((name.to_owned(), messages))
}

fn cols() -> (
    message_templates::id,
    message_templates::template_name,
    message_templates::messages,
    message_templates::created_at,
    message_templates::updated_at,
) {
    (
        message_templates::id,
        message_templates::template_name,
        message_templates::messages,
        message_templates::created_at,
        message_templates::updated_at,
    )
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    page: i64,
    page_size: i64,
) -> Result<Page<MessageTemplate>, AppError> {
    let req = PageRequest::new(page, page_size)?;
    let total: i64 = message_templates::table
        .filter(message_templates::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
        .map_err(|e| internal("counting templates failed", e))?;
    let rows: Vec<Row> = message_templates::table
        .filter(message_templates::user_id.eq(user_id))
        .order((message_templates::created_at.desc(), message_templates::id.desc()))
        .limit(req.page_size)
        .offset(req.offset())
        .select(cols())
        .load(conn)
        .await
        .map_err(|e| internal("listing templates failed", e))?;
    Ok(Page::new(rows.into_iter().map(to_dto).collect(), total, req.page, req.page_size))
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    input: &TemplateInput,
) -> Result<MessageTemplate, AppError> {
    let (name, messages) = validate(input)?;
    let row: Row = diesel::insert_into(message_templates::table)
        .values((
            message_templates::user_id.eq(user_id),
            message_templates::template_name.eq(name),
            message_templates::messages.eq(serde_json::json!(messages)),
        ))
        .returning(cols())
        .get_result(conn)
        .await
        .map_err(|e| internal("creating a template failed", e))?;
    Ok(to_dto(row))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    id: i64,
    input: &TemplateInput,
) -> Result<MessageTemplate, AppError> {
    let (name, messages) = validate(input)?;
    let row: Option<Row> =
        diesel::update(message_templates::table.find(id).filter(message_templates::user_id.eq(user_id)))
            .set((
                message_templates::template_name.eq(name),
                message_templates::messages.eq(serde_json::json!(messages)),
                message_templates::updated_at.eq(Utc::now()),
            ))
            .returning(cols())
            .get_result(conn)
            .await
            .optional()
            .map_err(|e| internal("updating a template failed", e))?;
    row.map(to_dto).ok_or_else(|| AppError::NotFound(format!("Template {id} not found.")))
}

pub async fn delete(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<(), AppError> {
    let n = diesel::delete(message_templates::table.find(id).filter(message_templates::user_id.eq(user_id)))
        .execute(conn)
        .await
        .map_err(|e| internal("deleting a template failed", e))?;
    if n == 0 {
        Err(AppError::NotFound(format!("Template {id} not found.")))
    } else {
        Ok(())
    }
}

/// Most chat messages one bot may have waiting to be sent; more are refused (the bot sends one
/// per dequeue, so a flood would only pile up).
pub const MAX_QUEUED_PER_BOT: i64 = 20;

/// Queues a chat message (or a random variation of a template) for each of the user's live
/// bots; a bot with [`MAX_QUEUED_PER_BOT`] messages waiting is refused (429 when every bot is).
pub async fn send(conn: &mut AsyncPgConnection, user_id: i64, send: &SendChat) -> Result<BulkResult, AppError> {
    super::validate::input(send)?;
    if send.bot_ids.is_empty() || send.bot_ids.len() > 500 {
        return Err(AppError::invalid("botIds", "Choose from 1 to 500 bots."));
    }
    let (variations, template_id) = match (send.template_id, send.message_text.as_deref().map(str::trim)) {
        (Some(tid), None) => {
            let messages: Option<serde_json::Value> = message_templates::table
                .find(tid)
                .filter(message_templates::user_id.eq(user_id))
                .select(message_templates::messages)
                .first(conn)
                .await
                .optional()
                .map_err(|e| internal("reading a template failed", e))?;
            let m: Vec<String> = messages
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| AppError::NotFound(format!("Template {tid} not found.")))?;
            (m, Some(tid))
        }
        (None, Some(text)) if !text.is_empty() && text.chars().count() <= MAX_MESSAGE => (vec![text.to_owned()], None),
        (None, Some(_)) => {
            return Err(AppError::invalid("messageText", format!("Write a message of 1 to {MAX_MESSAGE} characters.")));
        }
        _ => {
            return Err(AppError::invalid("templateId", "Send either templateId or messageText, not both or neither."))
        }
    };
    let owned: Vec<(i64, String)> = bots::table
        .filter(bots::user_id.eq(user_id))
        .filter(bots::id.eq_any(&send.bot_ids))
        .select((bots::id, bots::status))
        .load(conn)
        .await
        .map_err(|e| internal("reading bots failed", e))?;
    let waiting: Vec<(i64, i64)> = bot_chat_messages::table
        .filter(bot_chat_messages::bot_id.eq_any(&send.bot_ids))
        .filter(bot_chat_messages::status.eq("queued"))
        .group_by(bot_chat_messages::bot_id)
        .select((bot_chat_messages::bot_id, diesel::dsl::count_star()))
        .load(conn)
        .await
        .map_err(|e| internal("counting queued chat messages failed", e))?;
    let mut result = BulkResult::default();
    let mut rows = Vec::new();
    let mut limited = 0;
    {
        let mut rng = rand::thread_rng();
        for &id in &send.bot_ids {
            let queued = waiting.iter().find(|(bid, _)| *bid == id).map_or(0, |(_, n)| *n);
            match owned.iter().find(|(bid, _)| *bid == id) {
                None => result.failed.push(BulkFailure { id, reason: format!("Bot {id} not found.") }),
                Some((_, s)) if s == "DONE" || s == "FATAL" => {
                    result.failed.push(BulkFailure { id, reason: format!("Bot {id} has finished.") })
                }
                Some(_) if queued >= MAX_QUEUED_PER_BOT => {
                    limited += 1;
                    result.failed.push(BulkFailure {
                        id,
                        reason: format!(
                            "Bot {id} already has {queued} messages waiting to be sent (at most {MAX_QUEUED_PER_BOT}); \
                             send more once it has sent them."
                        ),
                    })
                }
                Some(_) => {
                    let text = variations.choose(&mut rng).cloned().unwrap_or_default();
                    rows.push((
                        bot_chat_messages::bot_id.eq(id),
                        bot_chat_messages::user_id.eq(user_id),
                        bot_chat_messages::message_text.eq(text),
                        bot_chat_messages::template_id.eq(template_id),
                    ));
                    result.succeeded.push(id);
                }
            }
        }
    }
    if result.succeeded.is_empty() && limited > 0 {
        // Nothing was queued because of the limit: say so as a whole (429), with the reason.
        let reason = result.failed.iter().find(|f| f.reason.contains("waiting")).map(|f| f.reason.clone());
        return Err(AppError::TooManyRequests(reason.unwrap_or_default()));
    }
    if !rows.is_empty() {
        conn.transaction(async |conn| diesel::insert_into(bot_chat_messages::table).values(rows).execute(conn).await)
            .await
            .map_err(|e| internal("queueing chat messages failed", e))?;
    }
    Ok(result)
}
