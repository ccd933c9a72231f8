//! The pool table, `bot_pool_slots`: one row per slot application. A bot claims an idle slot of
//! its meeting platform (`FOR UPDATE SKIP LOCKED`, so replicas never claim one slot twice), or
//! reserves a new one under an advisory lock (so replicas never pick one name twice, nor go
//! above the limit). Every status change of a slot is here.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::build::{first_free, slot_name, SlotStatus};
use crate::model::bot::MeetingPlatform;

/// The advisory lock held while a new slot is reserved.
const RESERVE_LOCK: &str = "meeboter:coolify-pool";
/// A slot whose application is being created has this prefix instead of an application UUID.
pub const PENDING: &str = "pending-";

const COLUMNS: &str = "s.id, s.meeting_platform, s.application_uuid, s.slot_name, s.status, s.assigned_bot_id, \
    s.last_used_at, s.error_message, s.recovery_attempts, s.deployment_uuid, s.status_changed_at, s.created_at";

/// One slot.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Slot {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub meeting_platform: String,
    #[diesel(sql_type = Text)]
    pub application_uuid: String,
    #[diesel(sql_type = Text)]
    pub slot_name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub assigned_bot_id: Option<i64>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub error_message: Option<String>,
    #[diesel(sql_type = Integer)]
    pub recovery_attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub deployment_uuid: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub status_changed_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

impl Slot {
    /// Whether the slot's application is still being created (no UUID yet).
    pub fn pending(&self) -> bool {
        self.application_uuid.starts_with(PENDING)
    }
}

/// A slot with the status of the bot it holds.
#[derive(Debug, Clone, QueryableByName)]
pub struct SlotWithBot {
    #[diesel(embed)]
    pub slot: Slot,
    #[diesel(sql_type = Nullable<Text>)]
    pub bot_status: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    slot_name: String,
}

/// The slot that holds `bot_id` (a retried deploy gets it back).
pub async fn held_by(conn: &mut AsyncPgConnection, bot_id: i64) -> QueryResult<Option<Slot>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM bot_pool_slots s WHERE s.assigned_bot_id = $1"))
        .bind::<BigInt, _>(bot_id)
        .get_result(conn)
        .await
        .optional()
}

/// The slot whose application is `uuid`.
pub async fn by_application(conn: &mut AsyncPgConnection, uuid: &str) -> QueryResult<Option<Slot>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM bot_pool_slots s WHERE s.application_uuid = $1"))
        .bind::<Text, _>(uuid)
        .get_result(conn)
        .await
        .optional()
}

/// Every slot, with the status of its bot.
pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<SlotWithBot>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS}, b.status AS bot_status FROM bot_pool_slots s LEFT JOIN bots b ON b.id = s.assigned_bot_id \
         ORDER BY s.id"
    ))
    .load(conn)
    .await
}

/// Claims the idle slot of `platform` unused for the longest (never used first) for `bot_id`:
/// it becomes DEPLOYING, assigned to the bot, with no token until one is issued.
pub async fn claim_idle(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    platform: MeetingPlatform,
) -> QueryResult<Option<Slot>> {
    diesel::sql_query(format!(
        "UPDATE bot_pool_slots s SET status = 'DEPLOYING', assigned_bot_id = $1, last_used_at = now(), \
             status_changed_at = now(), updated_at = now(), error_message = NULL, deployment_uuid = NULL, token_hash = NULL \
         WHERE s.id = (SELECT id FROM bot_pool_slots WHERE status = 'IDLE' AND meeting_platform = $2 \
                         AND assigned_bot_id IS NULL AND application_uuid NOT LIKE 'pending-%' \
                       ORDER BY last_used_at ASC NULLS FIRST, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    ))
    .bind::<BigInt, _>(bot_id)
    .bind::<Text, _>(platform.as_str())
    .get_result(conn)
    .await
    .optional()
}

#[derive(QueryableByName)]
struct Spare {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    application_uuid: String,
}

/// What [`reserve_new`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// A placeholder row (`pending-…`, DEPLOYING, assigned to the bot) with a free name.
    Slot(Slot),
    /// The pool was full, so the longest-idle slot of another meeting platform became this
    /// placeholder; its old application (`old_application`) is to be deleted.
    Repurposed { slot: Slot, old_application: String },
    /// The pool has `total` slots, its limit.
    Full { total: i64 },
}

/// Reserves a new slot for `bot_id` when the whole pool has fewer than `limit` slots: a
/// placeholder row with the first free `pool-{platform}-NNN` name, inserted while holding an
/// advisory lock, so two replicas never pick one name nor both take the last place. A full pool
/// gives up its longest-idle slot of another meeting platform instead, when it has one.
pub async fn reserve_new(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    platform: MeetingPlatform,
    limit: u32,
) -> QueryResult<Reserved> {
    conn.transaction(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<Text, _>(RESERVE_LOCK)
            .execute(conn)
            .await?;
        let total = diesel::sql_query("SELECT count(*) AS n FROM bot_pool_slots").get_result::<Count>(conn).await?.n;
        // Full: an idle slot of another meeting platform makes room (the pool follows demand).
        let spare = if total >= i64::from(limit) {
            let spare: Option<Spare> = diesel::sql_query(
                "SELECT id, application_uuid FROM bot_pool_slots \
                 WHERE status = 'IDLE' AND assigned_bot_id IS NULL AND meeting_platform <> $1 \
                   AND application_uuid NOT LIKE 'pending-%' \
                 ORDER BY last_used_at ASC NULLS FIRST, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            )
            .bind::<Text, _>(platform.as_str())
            .get_result(conn)
            .await
            .optional()?;
            match spare {
                Some(spare) => Some(spare),
                None => return Ok(Reserved::Full { total }),
            }
        } else {
            None
        };
        let names: Vec<String> = diesel::sql_query("SELECT slot_name FROM bot_pool_slots WHERE meeting_platform = $1")
            .bind::<Text, _>(platform.as_str())
            .load::<Name>(conn)
            .await?
            .into_iter()
            .map(|n| n.slot_name)
            .collect();
        let name = slot_name(platform, first_free(&names, platform));
        let placeholder = format!("{PENDING}{:032x}", rand::random::<u128>());
        if let Some(spare) = spare {
            let slot = diesel::sql_query(format!(
                "UPDATE bot_pool_slots AS s SET meeting_platform = $2, application_uuid = $3, slot_name = $4, \
                     status = 'DEPLOYING', assigned_bot_id = $5, token_hash = NULL, deployment_uuid = NULL, \
                     error_message = NULL, recovery_attempts = 0, last_used_at = now(), status_changed_at = now(), \
                     updated_at = now() \
                 WHERE s.id = $1 RETURNING {COLUMNS}"
            ))
            .bind::<BigInt, _>(spare.id)
            .bind::<Text, _>(platform.as_str())
            .bind::<Text, _>(&placeholder)
            .bind::<Text, _>(&name)
            .bind::<BigInt, _>(bot_id)
            .get_result(conn)
            .await?;
            return Ok(Reserved::Repurposed { slot, old_application: spare.application_uuid });
        }
        let slot = diesel::sql_query(format!(
            "INSERT INTO bot_pool_slots AS s (meeting_platform, application_uuid, slot_name, status, assigned_bot_id, last_used_at) \
             VALUES ($1, $2, $3, 'DEPLOYING', $4, now()) RETURNING {COLUMNS}"
        ))
        .bind::<Text, _>(platform.as_str())
        .bind::<Text, _>(&placeholder)
        .bind::<Text, _>(&name)
        .bind::<BigInt, _>(bot_id)
        .get_result(conn)
        .await?;
        Ok(Reserved::Slot(slot))
    })
    .await
}

/// Records the application a slot now has (a created, or re-created, application); the slot
/// counts as just changed, so the sync leaves it alone for its grace period.
pub async fn set_application(conn: &mut AsyncPgConnection, id: i64, uuid: &str) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE bot_pool_slots SET application_uuid = $2, status_changed_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(uuid)
    .execute(conn)
    .await
}

/// Whether the slot still holds `bot` (a Stop or a recovery may have taken it back meanwhile).
pub async fn holds(conn: &mut AsyncPgConnection, id: i64, bot: i64) -> QueryResult<bool> {
    // An UPDATE that changes nothing, for its row count.
    let n =
        diesel::sql_query("UPDATE bot_pool_slots SET updated_at = updated_at WHERE id = $1 AND assigned_bot_id = $2")
            .bind::<BigInt, _>(id)
            .bind::<BigInt, _>(bot)
            .execute(conn)
            .await?;
    Ok(n > 0)
}

/// Deletes a slot, only while it still names `application_uuid` (not one re-created since).
pub async fn delete(conn: &mut AsyncPgConnection, id: i64, application_uuid: &str) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM bot_pool_slots WHERE id = $1 AND application_uuid = $2")
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(application_uuid)
        .execute(conn)
        .await
}

/// Records the deployment the slot's start made for `bot`, while the slot still holds it.
pub async fn set_deployment(
    conn: &mut AsyncPgConnection,
    id: i64,
    bot: i64,
    deployment: Option<&str>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE bot_pool_slots SET deployment_uuid = $3, updated_at = now() WHERE id = $1 AND assigned_bot_id = $2",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(bot)
    .bind::<Nullable<Text>, _>(deployment)
    .execute(conn)
    .await
}

/// Moves a slot to `to` (HEALTHY or ERROR) with a message for ERROR, only from `from` and only
/// while it holds `holder` (what the caller read: a slot claimed by another bot meanwhile is
/// left alone).
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: i64,
    holder: Option<i64>,
    from: &[SlotStatus],
    to: SlotStatus,
    message: Option<&str>,
) -> QueryResult<usize> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    diesel::sql_query(
        "UPDATE bot_pool_slots SET status = $3, error_message = $4, status_changed_at = now(), updated_at = now() \
         WHERE id = $1 AND status = ANY($2) AND assigned_bot_id IS NOT DISTINCT FROM $5",
    )
    .bind::<BigInt, _>(id)
    .bind::<diesel::sql_types::Array<Text>, _>(from)
    .bind::<Text, _>(to.as_str())
    .bind::<Nullable<Text>, _>(message)
    .bind::<Nullable<BigInt>, _>(holder)
    .execute(conn)
    .await
}

/// Gives a slot back to the pool: IDLE, no bot, no token, no deployment, no error; only while it
/// holds `holder` (what the caller read), so a slot another bot claimed meanwhile keeps its bot
/// and token. A release resets the recovery count; a recovery adds one to it.
pub async fn reset_idle(
    conn: &mut AsyncPgConnection,
    id: i64,
    holder: Option<i64>,
    recovered: bool,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE bot_pool_slots SET status = 'IDLE', assigned_bot_id = NULL, token_hash = NULL, deployment_uuid = NULL, \
             error_message = NULL, last_used_at = now(), status_changed_at = now(), updated_at = now(), \
             recovery_attempts = CASE WHEN $2 THEN recovery_attempts + 1 ELSE 0 END \
         WHERE id = $1 AND assigned_bot_id IS NOT DISTINCT FROM $3",
    )
    .bind::<BigInt, _>(id)
    .bind::<diesel::sql_types::Bool, _>(recovered)
    .bind::<Nullable<BigInt>, _>(holder)
    .execute(conn)
    .await
}

/// Slots that need recovery: in ERROR; DEPLOYING for longer than `stuck_after_secs` (or a
/// placeholder whose creation never finished); HEALTHY or DEPLOYING while their bot is
/// finished or gone.
pub async fn needing_recovery(conn: &mut AsyncPgConnection, stuck_after_secs: f64) -> QueryResult<Vec<SlotWithBot>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS}, b.status AS bot_status FROM bot_pool_slots s LEFT JOIN bots b ON b.id = s.assigned_bot_id \
         WHERE s.status = 'ERROR' \
            OR (s.status = 'DEPLOYING' AND s.status_changed_at < now() - make_interval(secs => $1)) \
            OR (s.status IN ('HEALTHY', 'DEPLOYING') AND s.application_uuid NOT LIKE 'pending-%' \
                AND (s.assigned_bot_id IS NULL OR b.status IN ('DONE', 'FATAL'))) \
         ORDER BY s.id"
    ))
    .bind::<Double, _>(stuck_after_secs)
    .load(conn)
    .await
}

/// Whether a slot row names application `uuid`, or a placeholder is named `name` (checked
/// again just before an application is deleted as an orphan).
pub async fn knows(conn: &mut AsyncPgConnection, uuid: &str, name: &str) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "SELECT count(*) AS n FROM bot_pool_slots \
         WHERE application_uuid = $1 OR (slot_name = $2 AND application_uuid LIKE 'pending-%')",
    )
    .bind::<Text, _>(uuid)
    .bind::<Text, _>(name)
    .get_result::<Count>(conn)
    .await?
    .n;
    Ok(n > 0)
}

/// The slot holding `bot_id`, or else the slot of the bot's last Coolify deployment.
pub async fn of_bot(conn: &mut AsyncPgConnection, bot_id: i64) -> QueryResult<Option<Slot>> {
    if let Some(s) = held_by(conn, bot_id).await? {
        return Ok(Some(s));
    }
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM bot_pool_slots s JOIN bots b ON b.platform_identifier = s.application_uuid \
         WHERE b.id = $1 AND b.deployment_platform = 'coolify'"
    ))
    .bind::<BigInt, _>(bot_id)
    .get_result(conn)
    .await
    .optional()
}
