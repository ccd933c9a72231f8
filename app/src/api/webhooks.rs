//! The Webhooks page's server functions: the signed-in user's endpoints and deliveries.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::bot::Page;
use crate::model::error::AppError;
use crate::model::webhook::{EndpointSecret, WebhookDelivery, WebhookEndpoint};

/// The user's endpoints, the bots' callback URLs first.
#[server(prefix = "/fn", endpoint = "list_webhook_endpoints", input = Json)]
pub async fn list_webhook_endpoints() -> Result<Vec<WebhookEndpoint>, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::webhooks::list(&mut conn, user.id).await
}

/// Adds an endpoint; the secret in the answer is never shown again.
#[server(prefix = "/fn", endpoint = "create_webhook_endpoint", input = Json)]
pub async fn create_webhook_endpoint(url: String, description: String) -> Result<EndpointSecret, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let state = super::ctx::state()?;
    let policy = crate::backend::services::bots::validate::UrlPolicy::for_webhooks(&state.config);
    crate::backend::services::webhooks::create(&mut conn, policy, user.id, &url, &description).await
}

/// A new signing secret for an endpoint, shown once.
#[server(prefix = "/fn", endpoint = "rotate_webhook_secret", input = Json)]
pub async fn rotate_webhook_secret(id: i64) -> Result<EndpointSecret, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::webhooks::rotate_secret(&mut conn, user.id, id).await
}

/// Disables or enables an endpoint.
#[server(prefix = "/fn", endpoint = "set_webhook_enabled", input = Json)]
pub async fn set_webhook_enabled(id: i64, enabled: bool) -> Result<WebhookEndpoint, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::webhooks::set_enabled(&mut conn, user.id, id, enabled).await
}

/// Deletes an account endpoint.
#[server(prefix = "/fn", endpoint = "delete_webhook_endpoint", input = Json)]
pub async fn delete_webhook_endpoint(id: i64) -> Result<(), AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::webhooks::delete(&mut conn, user.id, id).await
}

/// An endpoint's delivery log, newest first.
#[server(prefix = "/fn", endpoint = "list_webhook_deliveries", input = Json)]
pub async fn list_webhook_deliveries(endpoint_id: i64, page: i64) -> Result<Page<WebhookDelivery>, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::webhooks::deliveries(&mut conn, user.id, endpoint_id, page, 25).await
}

/// Sends a delivery's event again.
#[server(prefix = "/fn", endpoint = "resend_webhook", input = Json)]
pub async fn resend_webhook(id: i64) -> Result<WebhookDelivery, AppError> {
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    crate::backend::services::webhooks::resend(&mut conn, user.id, id).await
}
