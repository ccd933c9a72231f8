//! Usage charts: bots started and bot-time per hour (today), per day (this week, from Sunday)
//! or per day (this month), in the caller's time zone. Cost is $0.10 per bot-hour.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::plans::{day_bounds, week_start};
use crate::backend::db::schema::bots;
use crate::backend::error::internal;
use crate::model::error::AppError;
use crate::model::usage::{UsageBucket, UsageRange, COST_PER_BOT_HOUR};

/// A bot's time: start, and its end (finished), last heartbeat, or now.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The bucket boundaries of a range: `n + 1` instants and a label per bucket.
pub fn bucket_edges(range: UsageRange, now: DateTime<Utc>, tz: Tz) -> (Vec<DateTime<Utc>>, Vec<String>) {
    let (today, _, _) = day_bounds(now, tz);
    let local_day = |i: i64, from: DateTime<Utc>| day_bounds(from + Duration::days(i) + Duration::hours(12), tz).0;
    match range {
        UsageRange::Today => {
            let edges: Vec<_> = (0..=24).map(|h| today + Duration::hours(h)).collect();
            let labels = edges[..24].iter().map(|t| t.with_timezone(&tz).format("%H:00").to_string()).collect();
            (edges, labels)
        }
        UsageRange::Week => {
            let start = week_start(now, tz);
            let edges: Vec<_> = (0..=7).map(|i| local_day(i, start)).collect();
            let labels = edges[..7].iter().map(|t| t.with_timezone(&tz).format("%a %-d").to_string()).collect();
            (edges, labels)
        }
        UsageRange::Month => {
            let local = now.with_timezone(&tz);
            let first = tz
                .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(today);
            let mut edges = vec![first];
            while edges.len() < 32 {
                let next = local_day(1, *edges.last().unwrap_or(&first));
                if next.with_timezone(&tz).month() != local.month() {
                    edges.push(next);
                    break;
                }
                edges.push(next);
            }
            let labels =
                edges[..edges.len() - 1].iter().map(|t| t.with_timezone(&tz).format("%-d").to_string()).collect();
            (edges, labels)
        }
    }
}

/// Puts each bot in the bucket of its start, counting its whole time there.
pub fn bucketize(spans: &[Span], edges: &[DateTime<Utc>], labels: &[String]) -> Vec<UsageBucket> {
    let mut out: Vec<UsageBucket> = labels
        .iter()
        .zip(edges)
        .map(|(label, start)| UsageBucket {
            start: *start,
            label: label.clone(),
            bots_used: 0,
            ms_elapsed: 0,
            estimated_cost: 0.0,
        })
        .collect();
    for s in spans {
        if let Some(i) = edges.windows(2).position(|w| s.start >= w[0] && s.start < w[1]) {
            out[i].bots_used += 1;
            out[i].ms_elapsed += (s.end - s.start).num_milliseconds().max(0);
        }
    }
    for b in &mut out {
        b.estimated_cost = (b.ms_elapsed as f64 / 3_600_000.0 * COST_PER_BOT_HOUR * 100.0).round() / 100.0;
    }
    out
}

/// Start, end, last heartbeat and status of a bot.
type SpanRow = (DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>, String);

/// The usage chart of a user.
pub async fn chart(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    range: UsageRange,
    tz: Tz,
) -> Result<Vec<UsageBucket>, AppError> {
    let now = Utc::now();
    let (edges, labels) = bucket_edges(range, now, tz);
    let (Some(first), Some(last)) = (<[_]>::first(&edges).copied(), <[_]>::last(&edges).copied()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<SpanRow> = bots::table
        .filter(bots::user_id.eq(user_id))
        .filter(bots::start_time.ge(first))
        .filter(bots::start_time.lt(last))
        .select((bots::start_time, bots::end_time, bots::last_heartbeat, bots::status))
        .load(conn)
        .await
        .map_err(|e| internal("reading usage failed", e))?;
    let spans: Vec<Span> = rows
        .into_iter()
        .map(|(start, end, heartbeat, status)| {
            let finished = status == "DONE" || status == "FATAL";
            let end = if finished { end } else { heartbeat.unwrap_or(now).min(now) };
            Span { start, end: end.max(start) }
        })
        .collect();
    Ok(bucketize(&spans, &edges, &labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn today_has_24_local_hours() {
        let (edges, labels) = bucket_edges(UsageRange::Today, t("2026-11-22T15:10:00Z"), chrono_tz::Asia::Tokyo);
        assert_eq!(edges.len(), 25);
        assert_eq!(labels[0], "00:00");
        assert_eq!(edges[0], t("2026-11-22T15:00:00Z"));
    }

    #[test]
    fn a_month_has_one_bucket_per_day() {
        let (edges, labels) = bucket_edges(UsageRange::Month, t("2026-02-10T12:00:00Z"), Tz::UTC);
        assert_eq!(labels.len(), 28);
        assert_eq!(edges[0], t("2026-02-01T00:00:00Z"));
        assert_eq!(*edges.last().unwrap(), t("2026-03-01T00:00:00Z"));
    }

    #[test]
    fn bots_count_in_the_bucket_of_their_start_with_their_cost() {
        let (edges, labels) = bucket_edges(UsageRange::Week, t("2026-11-25T12:00:00Z"), Tz::UTC);
        let spans = [
            Span { start: t("2026-11-22T10:00:00Z"), end: t("2026-11-22T12:00:00Z") },
            Span { start: t("2026-11-22T11:00:00Z"), end: t("2026-11-22T12:00:00Z") },
            Span { start: t("2026-11-24T09:00:00Z"), end: t("2026-11-24T09:30:00Z") },
            Span { start: t("2026-11-01T09:00:00Z"), end: t("2026-11-01T09:30:00Z") },
        ];
        let b = bucketize(&spans, &edges, &labels);
        assert_eq!(b.len(), 7);
        assert_eq!((b[0].bots_used, b[0].ms_elapsed), (2, 3 * 3_600_000));
        assert!((b[0].estimated_cost - 0.30).abs() < 1e-9);
        assert_eq!(b[2].bots_used, 1);
        assert_eq!(b.iter().map(|x| x.bots_used).sum::<i64>(), 3);
    }
}
