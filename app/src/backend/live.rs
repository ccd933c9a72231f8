//! The live hub: one `LISTEN bot_changes` connection per process, fanned out to every open
//! live stream (`GET /api/live`) through a broadcast channel, each stream seeing only what its
//! viewer may see.
//!
//! - The `bots` and `events` triggers (migration `live_bot_changes`) send
//!   `NOTIFY bot_changes, '{"bot":..,"user":..,"status":..,"kind":..,"queue":..}'` in the
//!   transaction of each change, so a change made by any replica reaches every replica's hub.
//! - [`visible`] is the filter: a user hears of their own bots, an administrator of every bot
//!   (marked `mine: false` when not theirs). Events carry ids and the status only.
//! - A bot entering or leaving the queue moves every other queued bot: the hub coalesces those
//!   into one [`Notice::Queue`] per [`QUEUE_COALESCE`], sent to the users who have queued bots
//!   (read from the database then) and to administrators.
//! - A stream that falls more than `LIVE_EVENT_BUFFER` changes behind, and every stream when the
//!   listener (re)connects, gets [`LiveEvent::Resync`]: it may have missed something.
//! - `LIVE_STREAMS_PER_USER` caps one user's open streams on this replica.
//! - [`LiveHub::close`] (on shutdown) ends every stream, so open pages do not hold the drain up
//!   and reconnect to a replica that stays.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use tokio::sync::{broadcast, Notify};

use super::config::Config;
use super::db::DbPool;
use crate::model::error::AppError;
use crate::model::live::{BotChange, ChangeKind, LiveEvent};

/// The channel the triggers notify.
pub const CHANNEL: &str = "bot_changes";
/// How long queue moves are gathered before one `queue` event goes out.
pub const QUEUE_COALESCE: Duration = Duration::from_millis(250);
/// How long the listener waits before reconnecting to the database.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// A notification of the `bot_changes` channel, as the trigger writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Payload {
    pub bot: i64,
    /// The bot's owner.
    pub user: i64,
    pub status: String,
    pub kind: ChangeKind,
    /// The bot entered or left the queue.
    #[serde(default)]
    pub queue: bool,
}

/// What the hub broadcasts to every stream of this process (each filters it with [`visible`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Change(Payload),
    /// The queue moved; the owners of the bots still queued.
    Queue(Arc<HashSet<i64>>),
    /// Changes may have been missed (the listener reconnected).
    Resync,
}

/// Who watches a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    pub admin: bool,
}

/// What `viewer` receives of `notice`, if anything.
pub fn visible(viewer: Viewer, notice: &Notice) -> Option<LiveEvent> {
    match notice {
        Notice::Change(p) => {
            let mine = p.user == viewer.user_id;
            (mine || viewer.admin)
                .then(|| LiveEvent::Change(BotChange { bot: p.bot, status: p.status.clone(), kind: p.kind, mine }))
        }
        Notice::Queue(owners) => (viewer.admin || owners.contains(&viewer.user_id)).then_some(LiveEvent::Queue),
        Notice::Resync => Some(LiveEvent::Resync),
    }
}

/// The per-process hub.
pub struct LiveHub {
    pool: DbPool,
    database_url: String,
    tx: broadcast::Sender<Notice>,
    per_user: usize,
    open: Mutex<HashMap<i64, usize>>,
    queue_moved: Arc<Notify>,
    started: OnceLock<()>,
    closing: tokio::sync::watch::Sender<bool>,
}

impl LiveHub {
    pub fn new(pool: DbPool, config: &Config) -> Arc<Self> {
        use secrecy::ExposeSecret;
        let (tx, _) = broadcast::channel(config.live.event_buffer.max(1));
        Arc::new(LiveHub {
            pool,
            database_url: config.database_url.expose_secret().to_owned(),
            tx,
            per_user: config.live.streams_per_user,
            open: Mutex::default(),
            queue_moved: Arc::default(),
            started: OnceLock::new(),
            closing: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Opens a stream for `viewer`: 429 when they already hold `LIVE_STREAMS_PER_USER`. Starts
    /// the listener on first use (the server's processes start it with their first page; a
    /// `meeboter worker` process serves no pages and never does).
    pub fn subscribe(self: &Arc<Self>, viewer: Viewer) -> Result<Subscription, AppError> {
        if *self.closing.borrow() {
            return Err(AppError::Unavailable(
                "This server is shutting down; the page reconnects to another one.".into(),
            ));
        }
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let n = open.entry(viewer.user_id).or_default();
            if *n >= self.per_user {
                return Err(AppError::TooManyRequests(format!(
                    "You already have {n} live pages open, the most allowed. Close a tab or two and reload this page; \
                     until then it refreshes every few seconds."
                )));
            }
            *n += 1;
        }
        // Subscribed before the listener starts: the first stream hears its first `resync`.
        let rx = self.tx.subscribe();
        self.start();
        Ok(Subscription { rx, viewer, hub: Arc::downgrade(self), closing: self.closing.subscribe() })
    }

    /// Ends every stream and refuses new ones (the process is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Streams open now for a user (for tests and diagnostics).
    pub fn open_streams(&self, user_id: i64) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(&user_id).copied().unwrap_or(0)
    }

    /// Sends a notice to every stream of this process.
    pub fn publish(&self, notice: Notice) {
        if let Notice::Change(p) = &notice {
            if p.queue {
                self.queue_moved.notify_one();
            }
        }
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(notice);
    }

    fn release(&self, user_id: i64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&user_id);
            }
        }
    }

    /// Starts the listener and the queue coalescer on the current runtime (once). Both hold
    /// the hub weakly and end with it.
    fn start(self: &Arc<Self>) {
        self.started.get_or_init(|| {
            tokio::spawn(listen(Arc::downgrade(self), self.database_url.clone()));
            tokio::spawn(coalesce_queue(Arc::downgrade(self), self.queue_moved.clone()));
        });
    }

    /// The owners of queued bots.
    async fn queued_owners(&self) -> Result<HashSet<i64>, String> {
        #[derive(diesel::QueryableByName)]
        struct Owner {
            #[diesel(sql_type = BigInt)]
            user_id: i64,
        }
        let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
        let rows: Vec<Owner> = diesel::sql_query("SELECT DISTINCT user_id FROM bots WHERE status = 'QUEUED'")
            .load(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows.into_iter().map(|o| o.user_id).collect())
    }
}

/// The `LISTEN` loop: reconnects after [`RECONNECT_AFTER`], and tells every stream to
/// resynchronise each time it listens again.
async fn listen(hub: Weak<LiveHub>, url: String) {
    use futures_util::StreamExt;
    loop {
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => match diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn).await {
                Ok(_) => {
                    let Some(h) = hub.upgrade() else { return };
                    h.publish(Notice::Resync);
                    drop(h);
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(n) = stream.next().await {
                        let Some(h) = hub.upgrade() else { return };
                        match n {
                            Ok(n) => match serde_json::from_str::<Payload>(&n.payload) {
                                Ok(p) => h.publish(Notice::Change(p)),
                                Err(e) => {
                                    tracing::warn!(error = %e, "an unreadable bot_changes notification was dropped")
                                }
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "the live listener lost its database connection");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "LISTEN bot_changes failed"),
            },
            Err(e) => tracing::warn!(error = %e, "the live listener cannot reach the database"),
        }
        if hub.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// Gathers queue moves for [`QUEUE_COALESCE`], then sends one `queue` notice to the owners of
/// the bots queued then.
async fn coalesce_queue(hub: Weak<LiveHub>, moved: Arc<Notify>) {
    loop {
        // Wake up now and then to notice that the hub is gone.
        if tokio::time::timeout(Duration::from_secs(30), moved.notified()).await.is_err() {
            if hub.strong_count() == 0 {
                return;
            }
            continue;
        }
        tokio::time::sleep(QUEUE_COALESCE).await;
        let Some(h) = hub.upgrade() else { return };
        match h.queued_owners().await {
            Ok(owners) => {
                let _ = h.tx.send(Notice::Queue(Arc::new(owners)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the owners of queued bots failed; streams resynchronise");
                let _ = h.tx.send(Notice::Resync);
            }
        }
    }
}

/// One open stream: its place in the hub's channel and in its user's cap.
pub struct Subscription {
    rx: broadcast::Receiver<Notice>,
    viewer: Viewer,
    hub: Weak<LiveHub>,
    closing: tokio::sync::watch::Receiver<bool>,
}

impl Subscription {
    /// The next event for this viewer; `Resync` when the stream fell behind. `None` when the hub
    /// is closed or gone.
    pub async fn next(&mut self) -> Option<LiveEvent> {
        loop {
            let received = tokio::select! {
                r = self.rx.recv() => r,
                _ = self.closing.wait_for(|c| *c) => return None,
            };
            match received {
                Ok(notice) => {
                    if let Some(event) = visible(self.viewer, &notice) {
                        return Some(event);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(user_id = self.viewer.user_id, missed, "a live stream fell behind");
                    return Some(LiveEvent::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    pub fn viewer(&self) -> Viewer {
        self.viewer
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.release(self.viewer.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(user: i64) -> Notice {
        Notice::Change(Payload { bot: 5, user, status: "IN_CALL".into(), kind: ChangeKind::Status, queue: false })
    }

    const ALICE: Viewer = Viewer { user_id: 1, admin: false };
    const ADMIN: Viewer = Viewer { user_id: 9, admin: true };

    #[test]
    fn a_user_hears_of_their_own_bots_only() {
        let Some(LiveEvent::Change(c)) = visible(ALICE, &change(1)) else { panic!("own bot not seen") };
        assert!(c.mine);
        assert_eq!((c.bot, c.status.as_str()), (5, "IN_CALL"));
        assert_eq!(visible(ALICE, &change(2)), None);
    }

    #[test]
    fn an_administrator_hears_of_every_bot_marked_whose_it_is() {
        let Some(LiveEvent::Change(c)) = visible(ADMIN, &change(1)) else { panic!("fleet bot not seen") };
        assert!(!c.mine);
        let Some(LiveEvent::Change(c)) = visible(ADMIN, &change(9)) else { panic!("own bot not seen") };
        assert!(c.mine);
    }

    #[test]
    fn queue_moves_reach_owners_of_queued_bots_and_administrators() {
        let owners = Notice::Queue(Arc::new(HashSet::from([1])));
        assert_eq!(visible(ALICE, &owners), Some(LiveEvent::Queue));
        assert_eq!(visible(ADMIN, &owners), Some(LiveEvent::Queue));
        assert_eq!(visible(Viewer { user_id: 2, admin: false }, &owners), None);
        assert_eq!(visible(Viewer { user_id: 2, admin: false }, &Notice::Resync), Some(LiveEvent::Resync));
    }

    #[test]
    fn the_trigger_payload_is_read() {
        let p: Payload =
            serde_json::from_str(r#"{"bot":3,"user":4,"status":"QUEUED","kind":"created","queue":true}"#).unwrap();
        assert_eq!(p, Payload { bot: 3, user: 4, status: "QUEUED".into(), kind: ChangeKind::Created, queue: true });
    }
}
