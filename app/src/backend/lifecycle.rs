//! The bot state machine, and the one writer of `bots.status`.
//!
//! ```text
//! SCHEDULED → QUEUED → DEPLOYING → JOINING_CALL → IN_WAITING_ROOM → IN_CALL → LEAVING → CALL_ENDED → DONE
//!                                                                                 FATAL from anywhere
//! ```
//!
//! [`allowed`] is the pure table of who may move a bot from which status to which: the server
//! (scheduling, deployment, failures), the bot itself (the statuses from JOINING_CALL on,
//! forward only, or FATAL) and its user (cancel, remove from call). [`apply`] performs a change
//! inside the caller's transaction and writes everything that follows from it: status,
//! `status_changed_at`, the end time and the end of the bot's token at DONE/FATAL, and the
//! event, and its webhooks (`backend::webhooks::outbox`). The `bots` trigger of migration 000006 notifies every process (`bot_state`) so caches
//! see the change, and the triggers of migration `live_bot_changes` announce it on `bot_changes`
//! in the same transaction for live pages (`backend::live`). No other code writes `bots.status`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};

use super::error::TxError;
use crate::model::bot::{event_description, BotStatus};
use crate::model::error::AppError;

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The server: scheduler, dispatcher, health monitor, deploy failures.
    Server,
    /// The bot itself, with its own token.
    Bot,
    /// The bot's owner: cancel a deployment, remove from a call.
    User,
}

/// The order bots move in; FATAL is outside it.
fn rank(s: BotStatus) -> u8 {
    match s {
        BotStatus::Scheduled => 0,
        BotStatus::Queued => 1,
        BotStatus::Deploying => 2,
        BotStatus::JoiningCall => 3,
        BotStatus::InWaitingRoom => 4,
        BotStatus::InCall => 5,
        BotStatus::Leaving => 6,
        BotStatus::CallEnded => 7,
        BotStatus::Done => 8,
        BotStatus::Fatal => 9,
    }
}

/// Whether a running bot reports `s` itself (JOINING_CALL on).
pub fn reported_by_bot(s: BotStatus) -> bool {
    rank(s) >= rank(BotStatus::JoiningCall)
}

/// Whether `actor` may move a bot from `from` to `to`. The same status again is not a change
/// (callers answer it as a no-op), and nothing leaves DONE or FATAL.
pub fn allowed(actor: Actor, from: BotStatus, to: BotStatus) -> bool {
    use BotStatus::*;
    if from.is_terminal() || from == to {
        return false;
    }
    match actor {
        // DEPLOYING → QUEUED: a placement failed or was interrupted and the bot goes to the next
        // platform (the hybrid deployer's failover).
        Actor::Server => {
            matches!((from, to), (Scheduled, Queued) | (Queued, Deploying) | (Deploying, Queued) | (_, Fatal))
        }
        // A bot exists from DEPLOYING on (its token is issued there); it moves forward through
        // the statuses it reports, or fails.
        Actor::Bot => rank(from) >= rank(Deploying) && reported_by_bot(to) && rank(to) > rank(from),
        Actor::User => match to {
            Done => from.can_cancel(),
            Leaving => from.can_remove_from_call(),
            _ => false,
        },
    }
}

/// The statuses `actor` may move a bot from to reach `to`.
pub fn sources(actor: Actor, to: BotStatus) -> Vec<&'static str> {
    BotStatus::ALL.into_iter().filter(|&from| allowed(actor, from, to)).map(BotStatus::as_str).collect()
}

/// A status change and the event that records it.
#[derive(Debug, Clone)]
pub struct Change {
    pub actor: Actor,
    pub to: BotStatus,
    /// Why, for people (the event's `description`); the status's own description when `None`.
    pub description: Option<String>,
    /// A machine-readable reason (`HEARTBEAT_TIMEOUT`, `GLOBAL_QUEUE_TIMEOUT`, ...).
    pub sub_code: Option<&'static str>,
    /// An event recorded just before the status event (`USER_CANCELLED_DEPLOYMENT`).
    pub cause: Option<&'static str>,
}

impl Change {
    pub fn new(actor: Actor, to: BotStatus) -> Self {
        Change { actor, to, description: None, sub_code: None, cause: None }
    }

    /// FATAL by the server, with a reason and its code.
    pub fn fatal(reason: impl Into<String>, sub_code: &'static str) -> Self {
        Change {
            sub_code: Some(sub_code),
            description: Some(reason.into()),
            ..Change::new(Actor::Server, BotStatus::Fatal)
        }
    }

    pub fn described(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn caused_by(mut self, event: &'static str) -> Self {
        self.cause = Some(event);
        self
    }

    fn description(&self) -> String {
        self.description.clone().unwrap_or_else(|| event_description(self.to.as_str()).to_owned())
    }

    fn data(&self) -> Value {
        let description = self.description();
        match self.sub_code {
            Some(code) => json!({ "description": description, "sub_code": code }),
            None => json!({ "description": description }),
        }
    }
}

/// A bot that changed, and the status it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub id: i64,
    pub from: BotStatus,
}

#[derive(QueryableByName)]
struct MovedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    from_status: String,
}

/// Applies `change` to every bot of `ids` whose current status allows it (the others are left
/// as they are), in the caller's transaction; answers the bots that moved.
pub async fn apply(conn: &mut AsyncPgConnection, ids: &[i64], change: &Change) -> QueryResult<Vec<Moved>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let rows: Vec<MovedRow> = diesel::sql_query(
        "WITH old AS (SELECT id, status FROM bots WHERE id = ANY($1) AND status = ANY($2) ORDER BY id FOR UPDATE) \
         UPDATE bots b SET status = $3, status_changed_at = $4, updated_at = $4, \
             end_time = CASE WHEN $5 THEN GREATEST(b.start_time, $4) ELSE b.end_time END, \
             token_hash = CASE WHEN $5 THEN NULL ELSE b.token_hash END \
         FROM old WHERE b.id = old.id RETURNING b.id, old.status AS from_status",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Text>, _>(sources(change.actor, change.to))
    .bind::<Text, _>(change.to.as_str())
    .bind::<Timestamptz, _>(now)
    .bind::<Bool, _>(change.to.is_terminal())
    .load(conn)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let moved: Vec<i64> = rows.iter().map(|r| r.id).collect();
    if let Some(cause) = change.cause {
        insert_events(conn, &moved, cause, now, json!({ "description": event_description(cause) }), false).await?;
    }
    // Bots report each status as an event and then as a status change (the upstream contract):
    // the change is recorded only when the bot has not just reported it.
    insert_events(conn, &moved, change.to.as_str(), now, change.data(), change.actor == Actor::Bot).await?;
    let from: Vec<&str> = rows.iter().map(|r| r.from_status.as_str()).collect();
    crate::backend::webhooks::outbox::status_changed(
        conn,
        &moved,
        &from,
        change.to.as_str(),
        &change.description(),
        change.sub_code,
        now,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Moved { id: r.id, from: BotStatus::parse(&r.from_status).unwrap_or(BotStatus::Fatal) })
        .collect())
}

async fn insert_events(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    event_type: &str,
    at: DateTime<Utc>,
    data: Value,
    unless_just_reported: bool,
) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO events (bot_id, event_type, event_time, data) \
         SELECT b, $2, $3, $4 FROM unnest($1::bigint[]) AS b \
         WHERE NOT ($5 AND EXISTS (SELECT 1 FROM events e WHERE e.bot_id = b AND e.event_type = $2 \
                                   AND e.created_at > now() - interval '1 minute'))",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Text, _>(event_type)
    .bind::<Timestamptz, _>(at)
    .bind::<Jsonb, _>(data)
    .bind::<Bool, _>(unless_just_reported)
    .execute(conn)
    .await
}

/// Records a new bot's first status (SCHEDULED or QUEUED, set by its INSERT in the caller's
/// transaction) as its first event.
pub async fn created(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    status: BotStatus,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let data = json!({ "description": event_description(status.as_str()) });
    insert_events(conn, &[bot_id], status.as_str(), at, data, false).await.map(|_| ())
}

/// What [`transition`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The bot moved from this status.
    Moved(BotStatus),
    /// The bot already had the status: nothing changed.
    Unchanged,
}

/// Moves one bot, in the caller's transaction. A change the table does not allow is refused
/// with 409 and a message that says why, and changes nothing; a bot that does not exist is 404.
pub async fn transition(conn: &mut AsyncPgConnection, bot_id: i64, change: &Change) -> Result<Outcome, TxError> {
    let current: Option<String> = crate::backend::db::schema::bots::table
        .find(bot_id)
        .select(crate::backend::db::schema::bots::status)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let current = current
        .and_then(|s| BotStatus::parse(&s))
        .ok_or_else(|| AppError::NotFound(format!("Bot {bot_id} was not found.")))?;
    if current == change.to {
        return Ok(Outcome::Unchanged);
    }
    if !allowed(change.actor, current, change.to) {
        return Err(refusal(bot_id, change.actor, current, change.to).into());
    }
    apply(conn, &[bot_id], change).await?;
    Ok(Outcome::Moved(current))
}

/// Why a change is not allowed, in words a person can act on.
pub fn refusal(bot_id: i64, actor: Actor, from: BotStatus, to: BotStatus) -> AppError {
    let message = if from.is_terminal() {
        format!("Bot {bot_id} is already {}; its status can no longer change.", from.as_str())
    } else {
        match actor {
            Actor::Bot if !reported_by_bot(to) => {
                format!(
                    "A bot cannot set its own status to {}; bots report JOINING_CALL and later statuses.",
                    to.as_str()
                )
            }
            Actor::Bot => format!(
                "Bot {bot_id} is {}; a bot moves forward only (to a later status or FATAL), not to {}.",
                from.as_str(),
                to.as_str()
            ),
            _ => format!("Bot {bot_id} cannot go from {} to {}.", from.as_str(), to.as_str()),
        }
    };
    AppError::Conflict { field: Some("status".into()), message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BotStatus::*;

    #[test]
    fn nothing_leaves_a_terminal_status() {
        for actor in [Actor::Server, Actor::Bot, Actor::User] {
            for to in BotStatus::ALL {
                assert!(!allowed(actor, Done, to), "{actor:?} DONE -> {to:?}");
                assert!(!allowed(actor, Fatal, to), "{actor:?} FATAL -> {to:?}");
            }
        }
    }

    #[test]
    fn the_server_schedules_deploys_and_fails() {
        assert!(allowed(Actor::Server, Scheduled, Queued));
        assert!(allowed(Actor::Server, Queued, Deploying));
        assert!(allowed(Actor::Server, Deploying, Queued), "failover puts a bot back in the queue");
        assert!(!allowed(Actor::Server, JoiningCall, Queued), "a bot that runs is never re-placed");
        for from in BotStatus::ALL.into_iter().filter(|s| !s.is_terminal()) {
            assert!(allowed(Actor::Server, from, Fatal), "{from:?}");
        }
        assert!(!allowed(Actor::Server, Deploying, InCall));
        assert!(!allowed(Actor::Server, Queued, Done));
        assert!(!allowed(Actor::Server, InCall, Queued));
    }

    #[test]
    fn a_bot_moves_itself_forward_only() {
        assert!(allowed(Actor::Bot, Deploying, JoiningCall));
        assert!(allowed(Actor::Bot, JoiningCall, InWaitingRoom));
        assert!(allowed(Actor::Bot, InWaitingRoom, InCall));
        assert!(allowed(Actor::Bot, InCall, CallEnded));
        assert!(allowed(Actor::Bot, Leaving, CallEnded));
        assert!(allowed(Actor::Bot, CallEnded, Done));
        assert!(allowed(Actor::Bot, Leaving, Done));
        // Teams and Zoom images go straight from DEPLOYING to IN_CALL.
        assert!(allowed(Actor::Bot, Deploying, InCall));
        for from in [Deploying, JoiningCall, InWaitingRoom, InCall, Leaving, CallEnded] {
            assert!(allowed(Actor::Bot, from, Fatal), "{from:?}");
        }
    }

    #[test]
    fn a_bot_cannot_rewrite_its_history_or_redeploy_itself() {
        for from in [Deploying, JoiningCall, InWaitingRoom, InCall, Leaving, CallEnded] {
            assert!(!allowed(Actor::Bot, from, Scheduled), "{from:?}");
            assert!(!allowed(Actor::Bot, from, Queued), "{from:?}");
            assert!(!allowed(Actor::Bot, from, Deploying), "{from:?}");
        }
        assert!(!allowed(Actor::Bot, InCall, JoiningCall));
        assert!(!allowed(Actor::Bot, CallEnded, InCall));
        assert!(!allowed(Actor::Bot, Leaving, InCall));
        // Before deployment a bot has no token to speak with.
        assert!(!allowed(Actor::Bot, Queued, JoiningCall));
        assert!(!allowed(Actor::Bot, Scheduled, Fatal));
    }

    #[test]
    fn a_user_cancels_or_removes_from_the_call() {
        for from in [Scheduled, Queued, Deploying, JoiningCall] {
            assert!(allowed(Actor::User, from, Done), "{from:?}");
        }
        assert!(!allowed(Actor::User, InCall, Done));
        assert!(allowed(Actor::User, InWaitingRoom, Leaving));
        assert!(allowed(Actor::User, InCall, Leaving));
        assert!(!allowed(Actor::User, JoiningCall, Leaving));
        assert!(!allowed(Actor::User, InCall, Fatal));
        assert!(!allowed(Actor::User, Queued, Deploying));
    }

    #[test]
    fn the_same_status_is_not_a_change() {
        for actor in [Actor::Server, Actor::Bot, Actor::User] {
            for s in BotStatus::ALL {
                assert!(!allowed(actor, s, s));
            }
        }
    }

    #[test]
    fn sources_are_the_allowed_origins() {
        assert_eq!(sources(Actor::Server, Queued), vec!["SCHEDULED", "DEPLOYING"]);
        assert_eq!(sources(Actor::User, Leaving), vec!["IN_WAITING_ROOM", "IN_CALL"]);
        assert_eq!(
            sources(Actor::Bot, Fatal),
            vec!["DEPLOYING", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "LEAVING", "CALL_ENDED"]
        );
    }

    #[test]
    fn refusals_say_what_a_bot_may_do() {
        let e = refusal(7, Actor::Bot, InCall, Queued);
        assert!(e.to_string().contains("cannot set its own status to QUEUED"), "{e}");
        let e = refusal(7, Actor::Bot, Done, InCall);
        assert!(e.to_string().contains("already DONE"), "{e}");
        assert_eq!(e.status(), 409);
    }
}
