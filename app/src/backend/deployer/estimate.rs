//! Queue position and estimated start of QUEUED bots, from measured durations: the median
//! platform deploy call (`deploy_attempts`) and the median run of recent bots (DEPLOYING to DONE
//! or FATAL). A bot at position p starts when the p-th slot frees: the platforms' free room
//! first, then the active bots in the order they are expected to end (median run minus their
//! age), then further waves of the median run over the whole capacity; plus one deploy. With no
//! measurements yet there is no estimate (never a made-up constant).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::decide::Health;
use super::health;
use crate::backend::config::PlatformSlot;
use crate::model::bot::{BotStatus, QueueInfo};

/// How long a measured snapshot is reused.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(2);
/// How many recent bots and deploy calls the medians are taken over.
pub const SAMPLE: i64 = 500;

/// What the estimates are computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Free room on the usable platforms now.
    pub free: u32,
    /// The usable platforms' total limit.
    pub capacity: u32,
    /// Expected milliseconds until each active bot ends, ascending.
    pub ends_ms: Vec<f64>,
    /// Median bot run, DEPLOYING to DONE/FATAL.
    pub run_ms: Option<f64>,
    /// Median platform deploy call.
    pub deploy_ms: Option<f64>,
    /// Why a bot cannot start now when no platform has room ("local is at its limit"; no counts,
    /// see `decide::summary`).
    pub why_full: Option<String>,
}

impl Snapshot {
    /// Milliseconds until the bot at `position` (1-based) starts, when it can be told.
    pub fn wait_ms(&self, position: u32) -> Option<u64> {
        let deploy = self.deploy_ms?;
        if position <= self.free {
            return Some(deploy.round() as u64);
        }
        let k = (position - self.free) as usize;
        let run = self.run_ms?;
        let freed = if k <= self.ends_ms.len() {
            self.ends_ms[k - 1]
        } else {
            if self.capacity == 0 {
                return None;
            }
            let over = (k - self.ends_ms.len()) as f64;
            let last = self.ends_ms.last().copied().unwrap_or(0.0);
            last + (over / f64::from(self.capacity)).ceil() * run
        };
        Some((freed + deploy).round() as u64)
    }
}

/// Expected milliseconds until a bot of `age_ms` ends, given the median run: what is left of
/// the median, and for a bot that outlived it, a tenth of it.
pub fn expected_end_ms(run_ms: f64, age_ms: f64) -> f64 {
    (run_ms - age_ms).max(run_ms / 10.0)
}

/// Caches one [`Snapshot`] per process for [`SNAPSHOT_TTL`].
#[derive(Default)]
pub struct Estimator {
    cached: Mutex<Option<(Instant, Snapshot)>>,
}

#[derive(QueryableByName)]
struct Median {
    #[diesel(sql_type = Nullable<Double>)]
    ms: Option<f64>,
}

#[derive(QueryableByName)]
struct Active {
    #[diesel(sql_type = Nullable<Text>)]
    platform: Option<String>,
    #[diesel(sql_type = Nullable<Double>)]
    age_ms: Option<f64>,
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    bot_id: i64,
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

impl Estimator {
    /// The queue position and estimate of each of `bot_ids` that is in the queue.
    pub async fn queue_info(
        &self,
        conn: &mut AsyncPgConnection,
        slots: &[PlatformSlot],
        bot_ids: &[i64],
    ) -> diesel::QueryResult<HashMap<i64, QueueInfo>> {
        if bot_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<Position> = diesel::sql_query(
            "SELECT bot_id, position, last_error FROM ( \
                 SELECT bot_id, last_error, row_number() OVER (ORDER BY priority DESC, queued_at, id) AS position \
                 FROM deployment_queue WHERE status <> 'PLACING') q \
             WHERE bot_id = ANY($1)",
        )
        .bind::<Array<BigInt>, _>(bot_ids)
        .load(conn)
        .await?;
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let snapshot = self.snapshot(conn, slots).await?;
        let now = Utc::now();
        Ok(rows
            .into_iter()
            .map(|r| {
                let position = u32::try_from(r.position).unwrap_or(u32::MAX);
                let wait = snapshot.wait_ms(position);
                let info = QueueInfo {
                    position,
                    estimated_wait_ms: wait,
                    estimated_start_at: wait.map(|ms| now + chrono::Duration::milliseconds(ms as i64)),
                    waiting_on: r.last_error.or_else(|| snapshot.why_full.clone()),
                };
                (r.bot_id, info)
            })
            .collect())
    }

    /// The measured snapshot, at most [`SNAPSHOT_TTL`] old.
    pub async fn snapshot(
        &self,
        conn: &mut AsyncPgConnection,
        slots: &[PlatformSlot],
    ) -> diesel::QueryResult<Snapshot> {
        if let Some((at, s)) = self.cached.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if at.elapsed() < SNAPSHOT_TTL {
                return Ok(s.clone());
            }
        }
        let s = measure(conn, slots, Utc::now()).await?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), s.clone()));
        Ok(s)
    }
}

/// Measures a fresh snapshot.
pub async fn measure(
    conn: &mut AsyncPgConnection,
    slots: &[PlatformSlot],
    now: DateTime<Utc>,
) -> diesel::QueryResult<Snapshot> {
    let run: Median = diesel::sql_query(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM ( \
             SELECT (extract(epoch FROM status_changed_at - deploying_at) * 1000)::float8 AS ms FROM bots \
             WHERE status IN ('DONE', 'FATAL') AND deploying_at IS NOT NULL AND status_changed_at >= deploying_at \
             ORDER BY status_changed_at DESC LIMIT $1) t",
    )
    .bind::<BigInt, _>(SAMPLE)
    .get_result(conn)
    .await?;
    let deploy: Median = diesel::sql_query(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS ms FROM ( \
             SELECT duration_ms::float8 AS duration_ms FROM deploy_attempts WHERE outcome = 'deployed' \
             ORDER BY started_at DESC LIMIT $1) t",
    )
    .bind::<BigInt, _>(SAMPLE)
    .get_result(conn)
    .await?;
    let active: Vec<Active> = diesel::sql_query(
        "SELECT deployment_platform AS platform, (extract(epoch FROM now() - deploying_at) * 1000)::float8 AS age_ms \
         FROM bots WHERE status = ANY($1) AND deployment_platform IS NOT NULL",
    )
    .bind::<Array<Text>, _>(BotStatus::active_names())
    .load(conn)
    .await?;
    let health = health::load(conn).await?;
    let usable: Vec<&PlatformSlot> = slots
        .iter()
        .filter(|s| health.get(s.platform.as_str()).is_none_or(|h| h.health(now) == Health::Healthy))
        .collect();
    let mut free = 0u32;
    let mut capacity = 0u32;
    let mut ends_ms = Vec::new();
    let mut states = Vec::new();
    for slot in slots {
        let name = slot.platform.as_str();
        if !usable.iter().any(|u| u.platform == slot.platform) {
            states.push(format!("{name} is failing or throttled and skipped for now"));
            continue;
        }
        states.push(format!("{name} is at its limit"));
    }
    for slot in &usable {
        let here: Vec<&Active> =
            active.iter().filter(|a| a.platform.as_deref() == Some(slot.platform.as_str())).collect();
        capacity = capacity.saturating_add(slot.limit);
        free = free.saturating_add(slot.limit.saturating_sub(u32::try_from(here.len()).unwrap_or(u32::MAX)));
        if let Some(run) = run.ms {
            ends_ms.extend(here.iter().map(|a| expected_end_ms(run, a.age_ms.unwrap_or(0.0))));
        }
    }
    ends_ms.sort_by(f64::total_cmp);
    let why_full = (free == 0 && !slots.is_empty()).then(|| states.join(", "));
    Ok(Snapshot { free, capacity, ends_ms, run_ms: run.ms, deploy_ms: deploy.ms, why_full })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(free: u32, capacity: u32, ends: &[f64]) -> Snapshot {
        Snapshot {
            free,
            capacity,
            ends_ms: ends.to_vec(),
            run_ms: Some(60_000.0),
            deploy_ms: Some(2_000.0),
            why_full: None,
        }
    }

    #[test]
    fn a_bot_that_fits_in_the_free_room_waits_one_deploy() {
        assert_eq!(snap(3, 10, &[]).wait_ms(1), Some(2_000));
        assert_eq!(snap(3, 10, &[]).wait_ms(3), Some(2_000));
    }

    #[test]
    fn beyond_the_free_room_a_bot_waits_for_the_kth_expected_end() {
        let s = snap(1, 3, &[5_000.0, 20_000.0]);
        assert_eq!(s.wait_ms(2), Some(7_000));
        assert_eq!(s.wait_ms(3), Some(22_000));
        // Then whole runs over the capacity: positions 4..6 in the first wave after the last end.
        assert_eq!(s.wait_ms(4), Some(20_000 + 60_000 + 2_000));
        assert_eq!(s.wait_ms(6), Some(20_000 + 60_000 + 2_000));
        assert_eq!(s.wait_ms(7), Some(20_000 + 120_000 + 2_000));
    }

    #[test]
    fn without_measurements_there_is_no_estimate() {
        let mut s = snap(0, 3, &[1.0]);
        s.deploy_ms = None;
        assert_eq!(s.wait_ms(1), None);
        let mut s = snap(0, 3, &[]);
        s.run_ms = None;
        assert_eq!(s.wait_ms(1), None);
        // Room now needs only the deploy time.
        let mut s = snap(2, 3, &[]);
        s.run_ms = None;
        assert_eq!(s.wait_ms(1), Some(2_000));
        // No usable platform at all: no estimate.
        assert_eq!(snap(0, 0, &[]).wait_ms(1), None);
    }

    #[test]
    fn a_bot_that_outlived_the_median_is_expected_to_end_soon_not_never() {
        assert_eq!(expected_end_ms(60_000.0, 10_000.0), 50_000.0);
        assert_eq!(expected_end_ms(60_000.0, 90_000.0), 6_000.0);
    }
}
