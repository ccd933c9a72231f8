//! The OpenAPI document, for the docs page.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;

/// The document the server serves at `/api/openapi.json`.
#[server(prefix = "/fn", endpoint = "get_api_doc", input = Json)]
pub async fn get_api_doc() -> Result<serde_json::Value, AppError> {
    Ok((*super::ctx::state()?.api_doc).clone())
}
