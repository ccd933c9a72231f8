//! Webhook endpoints and deliveries as their owner sees them: never a secret, except once when
//! it is made.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account endpoint, or the row that signs the bots' own callback URLs (`kind` "callback",
/// no `url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    pub id: i64,
    /// "endpoint" or "callback".
    pub kind: String,
    pub url: Option<String>,
    pub description: String,
    /// The first characters of the signing secret.
    pub secret_hint: String,
    pub enabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why Meeboter disabled it (a long run of failures); `None` when its owner did.
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Deliveries not yet delivered or given up.
    pub pending: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
}

impl WebhookEndpoint {
    pub fn is_callback(&self) -> bool {
        self.kind == "callback"
    }

    /// How the endpoint is named on the page.
    pub fn label(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => "Bot callback URLs".to_owned(),
        }
    }
}

/// An endpoint with its new signing secret: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub bot_id: i64,
    pub url: String,
    /// PENDING, DELIVERED or FAILED.
    pub status: String,
    pub attempts: i32,
    /// When the next attempt is due (PENDING only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_response: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The JSON that is signed and sent.
    pub body: String,
}
