//! The Webhooks page's services: a user's endpoints (add, new secret, disable, enable, delete),
//! their delivery logs and "resend". Every query is scoped to the user: another user's
//! endpoint or delivery is "not found".

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::bots::validate::{public_url, UrlPolicy};
use crate::backend::error::internal;
use crate::backend::webhooks::outbox::ensure_callback_endpoint;
use crate::backend::webhooks::signing::{hint, new_secret};
use crate::model::bot::Page;
use crate::model::error::AppError;
use crate::model::paging::PageRequest;
use crate::model::webhook::{EndpointSecret, WebhookDelivery, WebhookEndpoint};

/// Account endpoints one user may have.
pub const MAX_ENDPOINTS: i64 = 20;

#[derive(QueryableByName)]
struct EndpointRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    url: Option<String>,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    disabled_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    disabled_reason: Option<String>,
    #[diesel(sql_type = Int4)]
    consecutive_failures: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failing_since: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_delivered_at: Option<DateTime<Utc>>,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(r: EndpointRow) -> Self {
        WebhookEndpoint {
            id: r.id,
            kind: r.kind,
            url: r.url,
            description: r.description,
            secret_hint: hint(&r.secret),
            enabled: r.enabled,
            disabled_at: r.disabled_at,
            disabled_reason: r.disabled_reason,
            consecutive_failures: r.consecutive_failures,
            failing_since: r.failing_since,
            created_at: r.created_at,
            pending: r.pending,
            last_delivered_at: r.last_delivered_at,
        }
    }
}

const ENDPOINT_COLUMNS: &str = "e.id, e.kind, e.url, e.description, e.secret, e.enabled, e.disabled_at, \
     e.disabled_reason, e.consecutive_failures, e.failing_since, e.created_at, \
     (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'PENDING') AS pending, \
     (SELECT max(d.delivered_at) FROM webhook_deliveries d WHERE d.endpoint_id = e.id) AS last_delivered_at";

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("Webhook endpoint {id} was not found."))
}

async fn one(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<WebhookEndpoint, AppError> {
    let row: Option<EndpointRow> = diesel::sql_query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.id = $1 AND e.user_id = $2"
    ))
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(user_id)
    .get_result(conn)
    .await
    .optional()
    .map_err(|e| internal("reading a webhook endpoint failed", e))?;
    row.map(WebhookEndpoint::from).ok_or_else(|| not_found(id))
}

/// The user's endpoints: the callback row first (made here if missing, so its secret can be
/// shown by making a new one), then account endpoints, oldest first.
pub async fn list(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Vec<WebhookEndpoint>, AppError> {
    ensure_callback_endpoint(conn, user_id).await.map_err(|e| internal("preparing callback signing failed", e))?;
    let rows: Vec<EndpointRow> = diesel::sql_query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.user_id = $1 \
         ORDER BY e.kind = 'callback' DESC, e.id"
    ))
    .bind::<BigInt, _>(user_id)
    .load(conn)
    .await
    .map_err(|e| internal("listing webhook endpoints failed", e))?;
    Ok(rows.into_iter().map(WebhookEndpoint::from).collect())
}

/// Adds an endpoint; its secret is in the answer and never again.
pub async fn create(
    conn: &mut AsyncPgConnection,
    policy: UrlPolicy,
    user_id: i64,
    url: &str,
    description: &str,
) -> Result<EndpointSecret, AppError> {
    let url = public_url("url", Some(url), policy)?
        .ok_or_else(|| AppError::invalid("url", "Enter the URL Meeboter should POST events to."))?;
    super::validate::text("description", description)?;
    let description = description.trim();
    if description.chars().count() > 200 {
        return Err(AppError::invalid("description", "Keep the description to 200 characters."));
    }
    let count: i64 =
        diesel::sql_query("SELECT count(*) AS n FROM webhook_endpoints WHERE user_id = $1 AND kind = 'endpoint'")
            .bind::<BigInt, _>(user_id)
            .get_result::<Count>(conn)
            .await
            .map(|c| c.n)
            .map_err(|e| internal("counting webhook endpoints failed", e))?;
    if count >= MAX_ENDPOINTS {
        return Err(AppError::invalid(
            "url",
            format!("An account can have at most {MAX_ENDPOINTS} endpoints; delete one you no longer use."),
        ));
    }
    let secret = new_secret();
    let id: Id = diesel::sql_query(
        "INSERT INTO webhook_endpoints (user_id, kind, url, description, secret) VALUES ($1, 'endpoint', $2, $3, $4) \
         RETURNING id",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<Text, _>(&url)
    .bind::<Text, _>(description)
    .bind::<Text, _>(&secret)
    .get_result(conn)
    .await
    .map_err(|e| internal("adding a webhook endpoint failed", e))?;
    Ok(EndpointSecret { endpoint: one(conn, user_id, id.id).await?, secret })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Gives an endpoint a new secret (the old one stops working at once); answers it, once.
pub async fn rotate_secret(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<EndpointSecret, AppError> {
    let secret = new_secret();
    let n = diesel::sql_query(
        "UPDATE webhook_endpoints SET secret = $3, updated_at = now() WHERE id = $1 AND user_id = $2",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(user_id)
    .bind::<Text, _>(&secret)
    .execute(conn)
    .await
    .map_err(|e| internal("rotating a webhook secret failed", e))?;
    if n == 0 {
        return Err(not_found(id));
    }
    Ok(EndpointSecret { endpoint: one(conn, user_id, id).await?, secret })
}

/// Disables or enables an endpoint. Enabling clears a failure run and makes its waiting
/// deliveries due at once.
pub async fn set_enabled(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    id: i64,
    enabled: bool,
) -> Result<WebhookEndpoint, AppError> {
    let n = diesel::sql_query(
        "UPDATE webhook_endpoints SET enabled = $3, updated_at = now(), \
             disabled_at = CASE WHEN $3 THEN NULL ELSE now() END, disabled_reason = NULL, \
             consecutive_failures = CASE WHEN $3 THEN 0 ELSE consecutive_failures END, \
             failing_since = CASE WHEN $3 THEN NULL ELSE failing_since END \
         WHERE id = $1 AND user_id = $2",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(user_id)
    .bind::<Bool, _>(enabled)
    .execute(conn)
    .await
    .map_err(|e| internal("updating a webhook endpoint failed", e))?;
    if n == 0 {
        return Err(not_found(id));
    }
    if enabled {
        diesel::sql_query(
            "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE endpoint_id = $1 AND status = 'PENDING'",
        )
        .bind::<BigInt, _>(id)
        .execute(conn)
        .await
        .map_err(|e| internal("resuming webhook deliveries failed", e))?;
    }
    one(conn, user_id, id).await
}

/// Deletes an account endpoint and its deliveries (the callback row stays: disable it instead).
pub async fn delete(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> Result<(), AppError> {
    let endpoint = one(conn, user_id, id).await?;
    if endpoint.is_callback() {
        return Err(AppError::invalid(
            "id",
            "The bots' callback URLs cannot be deleted; disable them, or leave callbackUrl out when creating bots.",
        ));
    }
    diesel::sql_query("DELETE FROM webhook_endpoints WHERE id = $1 AND user_id = $2")
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(user_id)
        .execute(conn)
        .await
        .map_err(|e| internal("deleting a webhook endpoint failed", e))?;
    Ok(())
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = BigInt)]
    bot_id: i64,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_attempt_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Int4>)]
    last_status_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_response: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    delivered_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    body: String,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(r: DeliveryRow) -> Self {
        WebhookDelivery {
            id: r.id,
            endpoint_id: r.endpoint_id,
            event_id: r.event_id,
            event_type: r.event_type,
            bot_id: r.bot_id,
            url: r.url,
            next_attempt_at: (r.status == "PENDING").then_some(r.next_attempt_at),
            status: r.status,
            attempts: r.attempts,
            last_attempt_at: r.last_attempt_at,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            last_response: r.last_response,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
            body: r.body,
        }
    }
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, d.event_type, d.bot_id, d.url, d.status, d.attempts, \
     d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.last_response, d.created_at, \
     d.delivered_at, d.body";

/// An endpoint's deliveries, newest first.
pub async fn deliveries(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    endpoint_id: i64,
    page: i64,
    page_size: i64,
) -> Result<Page<WebhookDelivery>, AppError> {
    let req = PageRequest::new(page, page_size)?;
    let endpoint = one(conn, user_id, endpoint_id).await?;
    let total: Count = diesel::sql_query("SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind::<BigInt, _>(endpoint.id)
        .get_result(conn)
        .await
        .map_err(|e| internal("counting webhook deliveries failed", e))?;
    let rows: Vec<DeliveryRow> = diesel::sql_query(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = $1 ORDER BY d.id DESC \
         LIMIT $2 OFFSET $3"
    ))
    .bind::<BigInt, _>(endpoint.id)
    .bind::<BigInt, _>(req.page_size)
    .bind::<BigInt, _>(req.offset())
    .load(conn)
    .await
    .map_err(|e| internal("listing webhook deliveries failed", e))?;
    Ok(Page::new(rows.into_iter().map(WebhookDelivery::from).collect(), total.n, req.page, req.page_size))
}

/// Sends a delivery's event again, with the same event id and body (receivers that keep the
/// ids they have seen can tell it is the same event), as a new delivery at the end of its bot's
/// line; answers the new delivery.
pub async fn resend(conn: &mut AsyncPgConnection, user_id: i64, delivery_id: i64) -> Result<WebhookDelivery, AppError> {
    let row: Option<DeliveryRow> = diesel::sql_query(format!(
        "INSERT INTO webhook_deliveries (endpoint_id, bot_id, event_id, event_type, url, body) \
         SELECT d.endpoint_id, d.bot_id, d.event_id, d.event_type, d.url, d.body FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1 AND e.user_id = $2 \
         RETURNING {}",
        DELIVERY_COLUMNS.replace("d.", "")
    ))
    .bind::<BigInt, _>(delivery_id)
    .bind::<BigInt, _>(user_id)
    .get_result(conn)
    .await
    .optional()
    .map_err(|e| internal("resending a webhook failed", e))?;
    row.map(WebhookDelivery::from)
        .ok_or_else(|| AppError::NotFound(format!("Webhook delivery {delivery_id} was not found.")))
}
