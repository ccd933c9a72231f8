//! Message templates and chat broadcasting for the signed-in user.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::bot::{BulkResult, Page};
use crate::model::error::AppError;
use crate::model::template::{MessageTemplate, SendChat, TemplateInput};

#[server(prefix = "/fn", endpoint = "list_templates", input = Json)]
pub async fn list_templates() -> Result<Page<MessageTemplate>, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::templates::list(&mut conn, user.id, 1, 100).await
}

/// Creates (`id` None) or replaces a template.
#[server(prefix = "/fn", endpoint = "save_template", input = Json)]
pub async fn save_template(id: Option<i64>, input: TemplateInput) -> Result<MessageTemplate, AppError> {
    use crate::backend::services::templates;
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    match id {
        None => templates::create(&mut conn, user.id, &input).await,
        Some(id) => templates::update(&mut conn, user.id, id, &input).await,
    }
}

#[server(prefix = "/fn", endpoint = "delete_template", input = Json)]
pub async fn delete_template(id: i64) -> Result<(), AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::templates::delete(&mut conn, user.id, id).await
}

/// Queues a template or a text for the chosen bots.
#[server(prefix = "/fn", endpoint = "send_chat_message", input = Json)]
pub async fn send_chat_message(send: SendChat) -> Result<BulkResult, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::templates::send(&mut conn, user.id, &send).await
}
