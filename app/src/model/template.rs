//! Message templates and chat sending.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A named set of message variations; each bot sends one of them at random.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageTemplate {
    pub id: i64,
    pub template_name: String,
    pub messages: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Create or replace a template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateInput {
    /// 1 to 255 characters, not only spaces.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 255, pattern = r"\S"))]
    pub template_name: String,
    /// 1 to 50 variations of at most 1000 characters (empty ones are dropped).
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 50))]
    pub messages: Vec<String>,
}

/// Send a template (one random variation per bot) or a text to bots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendChat {
    /// 1 to 500 bot ids.
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 500))]
    pub bot_ids: Vec<i64>,
    pub template_id: Option<i64>,
    pub message_text: Option<String>,
}
