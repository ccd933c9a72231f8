//! The heartbeat hot path. Every bot heartbeats every 10 s, so a heartbeat is answered from
//! memory when possible:
//!
//! - each bot's token hash, status and log level are cached per process; a trigger on `bots`
//!   sends `NOTIFY bot_state, '<id>'` whenever one of them changes, and every process LISTENs and
//!   drops that entry, so a cache is current within milliseconds across replicas; the cache is
//!   cleared whenever the listener (re)connects, a load that races a notification is not cached
//!   (an invalidation epoch), and entries are also reloaded after [`TTL`] as a last safety net.
//!   The TTL is longer than the bots' heartbeat period (10 s), so a steady bot costs no database
//!   read; with a TTL shorter than the period every heartbeat would miss the cache. An entry past
//!   its TTL still answers while a background task reloads it (for at most [`STALE_FOR`] more):
//!   a heartbeat never waits for a connection behind the bots' log writes only because its entry
//!   aged;
//! - entries are read by one loader task per process that takes every bot asked for at that
//!   moment (misses and background reloads alike) and reads them with one statement, so a burst
//!   of misses (thousands of bots starting, or the listener's reconnect emptying the cache) costs
//!   a few statements, not a pooled connection per request;
//! - whether the bot has chat messages waiting is cached the same way (a trigger on
//!   `bot_chat_messages` notifies `bot_state` when one is queued), so the bots' polls of
//!   `chat/dequeue` (every 5 s each) cost no database read while nothing waits;
//! - `last_heartbeat` is written in batches, one `UPDATE ... WHERE id = ANY(...)` every
//!   [`FLUSH_EVERY`] for all bots that beat since the last one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::{oneshot, Notify};

use super::bot_api::{ChatMessage, HeartbeatReply};
use crate::backend::auth::bot_tokens;
use crate::backend::config::Config;
use crate::backend::db::DbPool;
use crate::backend::error::internal;
use crate::model::bot::BotStatus;
use crate::model::error::AppError;

/// How long a cached entry is trusted without a notification (a safety net: notifications and
/// the listener's reconnect keep entries current).
pub const TTL: Duration = Duration::from_secs(60);
/// How long past [`TTL`] an entry still answers while it is reloaded in the background; after
/// that (the reloads keep failing) a heartbeat reads the database itself.
pub const STALE_FOR: Duration = Duration::from_secs(60);
/// How often buffered heartbeats are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Most entries the loader reads with one statement.
pub const LOAD_BATCH: usize = 1_000;

#[derive(Clone)]
struct Entry {
    token_hash: Option<Vec<u8>>,
    status: String,
    log_level: String,
    /// Chat messages were queued for the bot when the entry was loaded (or since).
    chat_waiting: bool,
    loaded: Instant,
}

/// Who waits for a bot's entry to be read.
type Waiters = Vec<oneshot::Sender<Result<Entry, AppError>>>;

#[derive(QueryableByName)]
struct EntryRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bytea>)]
    token_hash: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    log_level: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    chat_waiting: bool,
}

/// The per-process heartbeat cache and write buffer.
pub struct Heartbeats {
    pool: DbPool,
    config: Arc<Config>,
    cache: Mutex<HashMap<i64, Entry>>,
    /// Bumped by every invalidation: a load that started before one is not cached.
    epoch: AtomicU64,
    pending: Mutex<HashSet<i64>>,
    /// Bots whose entry is to be read, each with who waits for it (none for a background reload).
    loads: Mutex<HashMap<i64, Waiters>>,
    /// Wakes the loader.
    load_wake: Arc<Notify>,
    started: OnceLock<()>,
}

impl Heartbeats {
    pub fn new(pool: DbPool, config: Arc<Config>) -> Arc<Self> {
        Arc::new(Heartbeats {
            pool,
            config,
            cache: Mutex::default(),
            epoch: AtomicU64::new(0),
            pending: Mutex::default(),
            loads: Mutex::default(),
            load_wake: Arc::new(Notify::new()),
            started: OnceLock::new(),
        })
    }

    /// Starts the flusher and the listener on the current runtime (once).
    fn start(self: &Arc<Self>) {
        self.started.get_or_init(|| {
            let me = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    let Some(me) = me.upgrade() else { return };
                    if let Err(e) = me.flush().await {
                        tracing::warn!(error = %e, "writing heartbeats failed; they will be retried");
                    }
                }
            });
            let (me, wake) = (Arc::downgrade(self), self.load_wake.clone());
            tokio::spawn(async move {
                loop {
                    wake.notified().await;
                    let Some(me) = me.upgrade() else { return };
                    me.load_waiting().await;
                }
            });
            let me = Arc::downgrade(self);
            let url = {
                use secrecy::ExposeSecret;
                self.config.database_url.expose_secret().to_owned()
            };
            tokio::spawn(async move {
                use futures_util::StreamExt;
                loop {
                    if let Ok(mut conn) = AsyncPgConnection::establish(&url).await {
                        if diesel::sql_query("LISTEN bot_state").execute(&mut conn).await.is_ok() {
                            // Anything cached before listening may be stale.
                            match me.upgrade() {
                                Some(m) => m.forget_all(),
                                None => return,
                            }
                            let mut stream = std::pin::pin!(conn.notifications_stream());
                            while let Some(Ok(n)) = stream.next().await {
                                let Some(m) = me.upgrade() else { return };
                                if let Ok(id) = n.payload.parse::<i64>() {
                                    m.forget(id);
                                }
                            }
                        }
                    }
                    if me.upgrade().is_none() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            });
        });
    }

    /// Whether a bot's state is cached in this process (for tests and diagnostics).
    pub fn is_cached(&self, bot_id: i64) -> bool {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&bot_id)
    }

    /// How long ago a bot's cached entry was loaded (for tests and diagnostics).
    pub fn entry_age(&self, bot_id: i64) -> Option<Duration> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&bot_id).map(|e| e.loaded.elapsed())
    }

    /// Makes a bot's cached entry look `by` older (for tests of the reload).
    pub fn backdate(&self, bot_id: i64, by: Duration) {
        if let Some(e) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&bot_id) {
            e.loaded = e.loaded.checked_sub(by).unwrap_or(e.loaded);
        }
    }

    /// Drops a bot's cached state (its status, log level or token changed).
    pub fn forget(&self, bot_id: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        cache.remove(&bot_id);
    }

    fn forget_all(&self) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        cache.clear();
    }

    async fn entry(self: &Arc<Self>, bot_id: i64) -> Result<Entry, AppError> {
        let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&bot_id).cloned();
        if let Some(e) = cached {
            let age = e.loaded.elapsed();
            if age < TTL {
                return Ok(e);
            }
            if age < TTL + STALE_FOR {
                self.reload_later(bot_id);
                return Ok(e);
            }
        }
        self.read_entry(bot_id).await
    }

    /// Has the loader reload a bot's entry in the background.
    fn reload_later(self: &Arc<Self>, bot_id: i64) {
        self.loads.lock().unwrap_or_else(|p| p.into_inner()).entry(bot_id).or_default();
        self.load_wake.notify_one();
    }

    /// Reads a bot's entry through the loader (with every other bot asked for meanwhile) and
    /// caches it (unless an invalidation raced it).
    async fn read_entry(self: &Arc<Self>, bot_id: i64) -> Result<Entry, AppError> {
        let (tx, rx) = oneshot::channel();
        self.loads.lock().unwrap_or_else(|p| p.into_inner()).entry(bot_id).or_default().push(tx);
        self.load_wake.notify_one();
        rx.await.map_err(|_| AppError::Unavailable("The server is shutting down; try again.".into()))?
    }

    /// Reads every entry asked for, in rounds of at most [`LOAD_BATCH`] bots, one statement each.
    async fn load_waiting(&self) {
        loop {
            let batch: Vec<(i64, Waiters)> = {
                let mut loads = self.loads.lock().unwrap_or_else(|p| p.into_inner());
                let ids: Vec<i64> = loads.keys().copied().take(LOAD_BATCH).collect();
                ids.into_iter().filter_map(|id| loads.remove_entry(&id)).collect()
            };
            if batch.is_empty() {
                return;
            }
            let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
            let epoch = AtomicU64::load(&self.epoch, Ordering::SeqCst);
            match self.read_entries(&ids).await {
                Ok(mut found) => {
                    {
                        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                        // A notification that arrived while the rows were read may describe a
                        // newer state than a row: answer with the rows, but do not keep them.
                        let current = AtomicU64::load(&self.epoch, Ordering::SeqCst) == epoch;
                        for id in &ids {
                            match found.get(id) {
                                Some(entry) if current => cache.insert(*id, entry.clone()),
                                _ => cache.remove(id),
                            };
                        }
                    }
                    for (id, waiting) in batch {
                        let entry = found.remove(&id);
                        for tx in waiting {
                            let answer =
                                entry.clone().ok_or_else(|| AppError::NotFound(format!("Bot {id} was not found.")));
                            let _ = tx.send(answer);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, bots = ids.len(), "reading bots' heartbeat entries failed");
                    for (_, waiting) in batch {
                        for tx in waiting {
                            let _ = tx.send(Err(internal("reading a bot failed", &e)));
                        }
                    }
                }
            }
        }
    }

    async fn read_entries(&self, ids: &[i64]) -> Result<HashMap<i64, Entry>, String> {
        let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
        let rows: Vec<EntryRow> = diesel::sql_query(
            "SELECT b.id, token_hash, status, log_level, \
                    EXISTS (SELECT 1 FROM bot_chat_messages c WHERE c.bot_id = b.id AND c.status = 'queued') AS chat_waiting \
             FROM bots b WHERE b.id = ANY($1)",
        )
        .bind::<Array<BigInt>, _>(ids)
        .load(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        let loaded = Instant::now();
        Ok(rows
            .into_iter()
            .map(|r| {
                let entry = Entry {
                    token_hash: r.token_hash,
                    status: r.status,
                    log_level: r.log_level,
                    chat_waiting: r.chat_waiting,
                    loaded,
                };
                (r.id, entry)
            })
            .collect())
    }

    /// Checks that `token` opens bot `bot_id` (see `auth::bot_tokens`), from the cache when it
    /// can: the bot's own token is checked in memory; anything else (a slot token, a token issued
    /// after the entry was cached, a wrong one) is checked against the database, and leaves the
    /// cached entry in place (a wrong token must not cost the real bot its cache). Every refusal
    /// looks the same, whether the bot exists or not.
    pub async fn authorize(self: &Arc<Self>, bot_id: i64, token: Option<&str>) -> Result<(), AppError> {
        self.check(bot_id, token).await.map(|_| ())
    }

    async fn check(self: &Arc<Self>, bot_id: i64, token: Option<&str>) -> Result<Entry, AppError> {
        self.start();
        let Some(token) = token else {
            return Err(bot_tokens::missing_token());
        };
        let entry = match self.entry(bot_id).await {
            Ok(e) => e,
            Err(AppError::NotFound(_)) => return Err(bot_tokens::refused()),
            Err(e) => return Err(e),
        };
        if bot_tokens::opens(&self.config, &entry.status, entry.token_hash.as_deref(), token) {
            return Ok(entry);
        }
        if BotStatus::parse(&entry.status).is_none_or(BotStatus::is_terminal) {
            return Err(bot_tokens::refused());
        }
        let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        bot_tokens::authorize(&mut conn, &self.config, bot_id, Some(token)).await?;
        Ok(entry)
    }

    /// Authorises and records a heartbeat; answers from the cache when it can.
    pub async fn beat(self: &Arc<Self>, bot_id: i64, token: Option<&str>) -> Result<HeartbeatReply, AppError> {
        let entry = self.check(bot_id, token).await?;
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(bot_id);
        metrics::counter!("meeboter_bot_heartbeats_total").increment(1);
        Ok(HeartbeatReply { should_leave: entry.status == "LEAVING", log_level: Some(entry.log_level) })
    }

    /// Authorises a bot's poll for chat messages and takes the oldest one: answered from the
    /// cache when its fresh entry says none waits (a queued message invalidates the entry).
    pub async fn dequeue_chat(
        self: &Arc<Self>,
        bot_id: i64,
        token: Option<&str>,
    ) -> Result<Option<ChatMessage>, AppError> {
        let entry = self.check(bot_id, token).await?;
        // Queuing a message invalidates the entry everywhere; an aged entry (being reloaded)
        // is trusted for chat as it is for the token.
        if !entry.chat_waiting {
            return Ok(None);
        }
        let epoch = AtomicU64::load(&self.epoch, Ordering::SeqCst);
        let mut conn = self.pool.get().await.map_err(|e| internal("database unavailable", e))?;
        let message = super::bot_api::dequeue_chat(&mut conn, bot_id).await?;
        if message.is_none() {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            // Unless a message was queued (an invalidation) since the read began.
            if AtomicU64::load(&self.epoch, Ordering::SeqCst) == epoch {
                if let Some(e) = cache.get_mut(&bot_id) {
                    e.chat_waiting = false;
                }
            }
        }
        Ok(message)
    }

    /// Writes the buffered heartbeats now. Answers how many bots were written.
    pub async fn flush(&self) -> Result<usize, AppError> {
        let ids: Vec<i64> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.is_empty() {
                return Ok(0);
            }
            pending.drain().collect()
        };
        let mut conn = match self.pool.get().await {
            Ok(c) => c,
            Err(e) => {
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).extend(&ids);
                return Err(internal("database unavailable", e));
            }
        };
        let n = ids.len();
        if let Err(e) = diesel::sql_query("UPDATE bots SET last_heartbeat = now() WHERE id = ANY($1)")
            .bind::<Array<BigInt>, _>(&ids)
            .execute(&mut conn)
            .await
        {
            self.pending.lock().unwrap_or_else(|p| p.into_inner()).extend(&ids);
            return Err(internal("writing heartbeats failed", e));
        }
        Ok(n)
    }
}
