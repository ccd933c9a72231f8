//! Chat messages users queue for a bot to send; each is delivered once.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::backend::error::internal;
use crate::model::error::AppError;

/// A chat message for the bot to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub message_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<i64>,
    pub user_id: i64,
}

#[derive(QueryableByName)]
struct Dequeued {
    #[diesel(sql_type = Text)]
    message_text: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    template_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
}

/// Takes the oldest queued chat message of a bot, marking it sent in the same statement: two
/// bots (or two retries) asking at once never get the same message. The caller has authorised
/// the bot (which also proved it exists).
pub async fn dequeue_chat(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<Option<ChatMessage>, AppError> {
    let row: Option<Dequeued> = diesel::sql_query(
        "UPDATE bot_chat_messages SET status = 'sent', delivered_at = now() \
         WHERE id = (SELECT id FROM bot_chat_messages WHERE bot_id = $1 AND status = 'queued' \
                     ORDER BY sent_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING message_text, template_id, user_id",
    )
    .bind::<BigInt, _>(bot_id)
    .get_result(conn)
    .await
    .optional()
    .map_err(|e| internal("dequeuing a chat message failed", e))?;
    Ok(row.map(|r| ChatMessage { message_text: r.message_text, template_id: r.template_id, user_id: r.user_id }))
}
