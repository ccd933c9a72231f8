//! Deploy activity over time, in UTC buckets (hourly for the last 24 hours, daily for the last 30
//! days): deployments (platform deploy calls that started a bot), failovers (calls that failed on
//! the platform's side or refused the bot, sending it on to the next platform), both from
//! `deploy_attempts`, and failures (bots that ended FATAL).

use chrono::{DateTime, Duration, DurationRound, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Scope;
use crate::model::infrastructure::{ActivityBucket, ActivityRange};

/// The bucket width of `range`.
pub fn step(range: ActivityRange) -> Duration {
    match range {
        ActivityRange::Day => Duration::hours(1),
        ActivityRange::Month => Duration::days(1),
    }
}

/// The starts of `range`'s buckets, oldest first; the last one holds `now`.
pub fn bucket_starts(range: ActivityRange, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let step = step(range);
    let last = now.duration_trunc(step).unwrap_or(now);
    let n = i32::try_from(range.buckets()).unwrap_or(0);
    (0..n).rev().map(|i| last - step * i).collect()
}

/// Counts per bucket start, as the query answers them.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    #[diesel(sql_type = Timestamptz)]
    pub bucket: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Every bucket of `starts`, with the counts that fall in it (missing buckets are zeros).
pub fn fill(starts: &[DateTime<Utc>], counted: &[Counted]) -> Vec<ActivityBucket> {
    starts
        .iter()
        .map(|start| {
            let count = |kind: &str| counted.iter().filter(|c| c.bucket == *start && c.kind == kind).map(|c| c.n).sum();
            ActivityBucket {
                start: *start,
                deployments: count("deployed"),
                failures: count("fatal"),
                failovers: count("failover"),
            }
        })
        .collect()
}

/// The activity of `range` up to `now`.
pub async fn activity(
    conn: &mut AsyncPgConnection,
    range: ActivityRange,
    scope: Scope,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<ActivityBucket>> {
    let starts = bucket_starts(range, now);
    let Some(from) = <[_]>::first(&starts).copied() else { return Ok(Vec::new()) };
    let unit = match range {
        ActivityRange::Day => "hour",
        ActivityRange::Month => "day",
    };
    let counted: Vec<Counted> = diesel::sql_query(
        "SELECT date_trunc($1, a.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, \
                CASE WHEN a.outcome = 'deployed' THEN 'deployed' ELSE 'failover' END AS kind, count(*) AS n \
         FROM deploy_attempts a \
         WHERE a.started_at >= $2 AND a.outcome IN ('deployed', 'failed', 'rejected') \
           AND ($3::int8 IS NULL OR EXISTS (SELECT 1 FROM bots b WHERE b.id = a.bot_id AND b.user_id = $3)) \
         GROUP BY 1, 2 \
         UNION ALL \
         SELECT date_trunc($1, status_changed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 'fatal', count(*) \
         FROM bots WHERE status = 'FATAL' AND status_changed_at >= $2 AND ($3::int8 IS NULL OR user_id = $3) \
         GROUP BY 1",
    )
    .bind::<Text, _>(unit)
    .bind::<Timestamptz, _>(from)
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .load(conn)
    .await?;
    Ok(fill(&starts, &counted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn buckets_are_24_hours_or_30_days_ending_with_the_current_one() {
        let now = at("2026-11-30T15:42:10Z");
        let hours = bucket_starts(ActivityRange::Day, now);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[23], at("2026-11-30T15:00:00Z"));
        assert_eq!(hours[0], at("2026-11-29T16:00:00Z"));
        let days = bucket_starts(ActivityRange::Month, now);
        assert_eq!(days.len(), 30);
        assert_eq!(days[29], at("2026-11-30T00:00:00Z"));
        assert_eq!(days[0], at("2026-11-01T00:00:00Z"));
    }

    #[test]
    fn counts_land_in_their_bucket_and_empty_buckets_are_zero() {
        let starts = bucket_starts(ActivityRange::Day, at("2026-11-30T15:42:10Z"));
        let c = |bucket: &str, kind: &str, n| Counted { bucket: at(bucket), kind: kind.into(), n };
        let counted = [
            c("2026-11-30T15:00:00Z", "deployed", 3),
            c("2026-11-30T15:00:00Z", "failover", 1),
            c("2026-11-30T14:00:00Z", "fatal", 2),
            // Outside the range: ignored.
            c("2026-11-28T10:00:00Z", "deployed", 9),
        ];
        let b = fill(&starts, &counted);
        assert_eq!((b[23].deployments, b[23].failovers, b[23].failures), (3, 1, 0));
        assert_eq!((b[22].deployments, b[22].failovers, b[22].failures), (0, 0, 2));
        assert_eq!(b.iter().map(|x| x.deployments).sum::<i64>(), 3);
    }
}
