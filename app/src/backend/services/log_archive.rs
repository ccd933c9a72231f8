//! Log archival: once a bot has ended (DONE or FATAL) for [`ARCHIVE_AFTER`], its log lines move
//! from PostgreSQL to object storage as gzip JSON lines (`bots/{id}/logs/{first}-{last}.jsonl.gz`,
//! by `seq`), and reads of its history come back from there. Live bots' lines stay in
//! PostgreSQL, where the live tail reads them by "after id".

use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::bot_api::{logs_after, StoredLogLine};
use crate::backend::error::internal;
use crate::backend::storage::Storage;
use crate::model::error::AppError;

/// How long after a bot ends its lines are archived (late lines still arrive meanwhile).
pub const ARCHIVE_AFTER: Duration = Duration::from_secs(60);
/// Lines per archived object.
pub const LINES_PER_OBJECT: i64 = 10_000;
/// Bots archived per pass.
pub const BOTS_PER_PASS: i64 = 20;

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn prefix(bot_id: i64) -> String {
    format!("bots/{bot_id}/logs/")
}

/// Archives the lines of bots that ended before `now - ARCHIVE_AFTER`. Answers how many lines.
pub async fn archive_finished(
    conn: &mut AsyncPgConnection,
    storage: &Storage,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let before = now - chrono::Duration::from_std(ARCHIVE_AFTER).unwrap_or_default();
    let bots: Vec<Id> = diesel::sql_query(
        "SELECT b.id FROM bots b WHERE b.status IN ('DONE', 'FATAL') AND b.updated_at < $1 \
         AND EXISTS (SELECT 1 FROM bot_logs l WHERE l.bot_id = b.id) ORDER BY b.id LIMIT $2",
    )
    .bind::<Timestamptz, _>(before)
    .bind::<BigInt, _>(BOTS_PER_PASS)
    .load(conn)
    .await
    .map_err(|e| internal("finding bots to archive failed", e))?;
    let mut lines = 0;
    for b in bots {
        lines += archive_bot(conn, storage, b.id).await?;
    }
    Ok(lines)
}

/// Moves all of a bot's lines to object storage, one object per [`LINES_PER_OBJECT`] lines; each
/// object is written before its lines are deleted, so a failure loses nothing.
pub async fn archive_bot(conn: &mut AsyncPgConnection, storage: &Storage, bot_id: i64) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let lines = logs_after(conn, bot_id, 0, LINES_PER_OBJECT).await?;
        let (Some(first), Some(last)) =
            (<[StoredLogLine]>::first(&lines).map(|l| l.seq), <[StoredLogLine]>::last(&lines).map(|l| l.seq))
        else {
            return Ok(total);
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for line in &lines {
            let json = serde_json::to_string(line).map_err(|e| internal("encoding a log line failed", e))?;
            gz.write_all(json.as_bytes()).and_then(|()| gz.write_all(b"\n")).map_err(|e| internal("gzip failed", e))?;
        }
        let bytes = gz.finish().map_err(|e| internal("gzip failed", e))?;
        storage.put(&format!("{}{first:015}-{last:015}.jsonl.gz", prefix(bot_id)), bytes).await?;
        diesel::sql_query("DELETE FROM bot_logs WHERE bot_id = $1 AND id <= $2")
            .bind::<BigInt, _>(bot_id)
            .bind::<BigInt, _>(last)
            .execute(conn)
            .await
            .map_err(|e| internal("deleting archived log lines failed", e))?;
        total += lines.len();
    }
}

/// Archived lines of a bot after `after` (a `seq`), oldest first, at most `limit`.
pub async fn read_archived(
    storage: &Storage,
    bot_id: i64,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredLogLine>, AppError> {
    let mut out = Vec::new();
    for key in storage.list(&prefix(bot_id)).await? {
        let last: i64 = key
            .rsplit('/')
            .next()
            .and_then(|name| name.split('-').nth(1))
            .and_then(|s| s.trim_end_matches(".jsonl.gz").parse().ok())
            .unwrap_or(i64::MAX);
        if last <= after {
            continue;
        }
        let Some(bytes) = storage.get(&key).await? else { continue };
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|e| internal("reading archived logs failed", e))?;
        for line in text.lines() {
            let l: StoredLogLine =
                serde_json::from_str(line).map_err(|e| internal("reading archived logs failed", e))?;
            if l.seq > after {
                out.push(l);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// A bot's lines after `after`: from the archive first (older lines), then PostgreSQL.
pub async fn history(
    conn: &mut AsyncPgConnection,
    storage: &Storage,
    bot_id: i64,
    finished: bool,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredLogLine>, AppError> {
    let mut out = if finished { read_archived(storage, bot_id, after, limit).await? } else { Vec::new() };
    if out.len() < limit {
        let from = <[StoredLogLine]>::last(&out).map_or(after, |l| l.seq);
        out.extend(logs_after(conn, bot_id, from, (limit - out.len()) as i64).await?);
    }
    Ok(out)
}
