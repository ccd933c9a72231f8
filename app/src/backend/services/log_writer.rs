//! Group commit for the bots' log lines. Thousands of bots each send a few lines every couple of
//! seconds; one `INSERT` per request would cost the database a transaction (and the bot API a
//! pooled connection) per request. Instead each request hands its checked lines to the writers
//! and waits: a writer takes every batch waiting at that moment (up to [`MAX_FLUSH_LINES`]),
//! stores them with one statement, and answers each request only once its lines are committed,
//! so a `200` still means durable and nothing is lost if the process dies. Under light load a
//! batch is written at once (no timer); under heavy load batches grow by themselves while the
//! previous statement runs.
//!
//! A statement that fails is retried request by request, so a bad batch never fails another
//! bot's lines.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Mutex};

use super::bot_api::logs::{prepare_logs, LogColumns, LogEntry};
use crate::backend::db::DbPool;
use crate::backend::error::internal;
use crate::model::error::AppError;

/// Most lines one statement stores.
pub const MAX_FLUSH_LINES: usize = 5_000;
/// Statements in flight at once (each holds one connection of the bot pool).
pub const WRITERS: usize = 2;
/// Requests waiting for a writer before new ones wait to be queued (back-pressure).
const QUEUE: usize = 8_192;

struct Job {
    lines: LogColumns,
    reply: oneshot::Sender<Result<usize, AppError>>,
}

/// The log writers of one process.
pub struct LogWriter {
    pool: DbPool,
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl LogWriter {
    pub fn new(pool: DbPool) -> Arc<Self> {
        Arc::new(LogWriter { pool, queue: OnceLock::new() })
    }

    /// Checks and stores a bot's lines; answers how many were stored once they are committed.
    pub async fn write(&self, bot_id: i64, entries: &[LogEntry]) -> Result<usize, AppError> {
        let lines = prepare_logs(bot_id, entries)?;
        if lines.is_empty() {
            return Ok(0);
        }
        let (reply, answer) = oneshot::channel();
        self.queue()
            .send(Job { lines, reply })
            .await
            .map_err(|_| AppError::Unavailable("The server is shutting down; send the lines again.".into()))?;
        answer.await.map_err(|_| AppError::Unavailable("The server is shutting down; send the lines again.".into()))?
    }

    /// The queue, with its writers started on first use (on the caller's runtime).
    fn queue(&self) -> &mpsc::Sender<Job> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..WRITERS {
                tokio::spawn(run(self.pool.clone(), rx.clone()));
            }
            tx
        })
    }
}

/// One writer: takes what is waiting, stores it, answers; until the queue closes.
async fn run(pool: DbPool, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let jobs = {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut n = first.lines.len();
            let mut jobs = vec![first];
            while n < MAX_FLUSH_LINES {
                match rx.try_recv() {
                    Ok(job) => {
                        n += job.lines.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            jobs
        };
        flush(&pool, jobs).await;
    }
}

async fn flush(pool: &DbPool, mut jobs: Vec<Job>) {
    if jobs.len() > 1 {
        let mut all = LogColumns::default();
        let counts: Vec<usize> = jobs.iter().map(|j| j.lines.len()).collect();
        for job in &mut jobs {
            all.append(std::mem::take(&mut job.lines));
        }
        match store(pool, &all).await {
            Ok(_) => {
                for (job, n) in jobs.into_iter().zip(counts) {
                    let _ = job.reply.send(Ok(n));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = counts.len(), "storing a group of log batches failed; storing each alone");
                // Give each job its lines back, in order, and store each alone.
                let mut rest = all;
                for (job, n) in jobs.iter_mut().zip(counts) {
                    job.lines = rest.split_off_front(n);
                }
            }
        }
    }
    for job in jobs {
        let result = store(pool, &job.lines).await;
        let _ = job.reply.send(result);
    }
}

async fn store(pool: &DbPool, lines: &LogColumns) -> Result<usize, AppError> {
    let mut conn = pool.get().await.map_err(|e| internal("database unavailable", e))?;
    let n = lines.insert(&mut conn).await?;
    metrics::counter!("meeboter_bot_log_lines_total").increment(n as u64);
    Ok(n)
}
