//! Estimated cost per platform for today, this week (from Sunday) and this month, in the caller's
//! time zone: the hours bots ran on the platform in each window, from their placement
//! (`bots.deploying_at`) to their end (DONE or FATAL) or now, times the platform's unit price
//! (`COST_*`, [`crate::backend::config::Prices`]). A bot waiting in the queue costs nothing.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Scope;
use crate::backend::config::Prices;
use crate::backend::services::plans::{day_bounds, week_start};
use crate::model::infrastructure::{CostReport, PlatformCost};
use crate::model::platform::DeploymentPlatform;

/// The starts of the three windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub today: DateTime<Utc>,
    pub week: DateTime<Utc>,
    pub month: DateTime<Utc>,
}

impl Windows {
    /// Today, this week (from Sunday) and this month as `tz` reckons them at `now`.
    pub fn at(now: DateTime<Utc>, tz: Tz) -> Self {
        let today = day_bounds(now, tz).0;
        let local = now.with_timezone(&tz);
        let month = tz
            .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
            .earliest()
            .map_or(today, |t| t.with_timezone(&Utc));
        Windows { today, week: week_start(now, tz), month }
    }

    /// The earliest of the three (a week can begin in the previous month).
    pub fn earliest(&self) -> DateTime<Utc> {
        self.today.min(self.week).min(self.month)
    }
}

/// What `seconds` of a bot's run cost at `hourly` US dollars.
pub fn cost_usd(seconds: f64, hourly: f64) -> f64 {
    seconds.max(0.0) / 3600.0 * hourly
}

#[derive(QueryableByName)]
struct Ran {
    #[diesel(sql_type = Text)]
    platform: String,
    #[diesel(sql_type = Double)]
    today_s: f64,
    #[diesel(sql_type = Double)]
    week_s: f64,
    #[diesel(sql_type = Double)]
    month_s: f64,
}

/// The report for `platforms` (in that order).
pub async fn cost_report(
    conn: &mut AsyncPgConnection,
    platforms: &[DeploymentPlatform],
    prices: &Prices,
    scope: Scope,
    now: DateTime<Utc>,
    windows: Windows,
) -> diesel::QueryResult<CostReport> {
    let ran: Vec<Ran> = diesel::sql_query(
        "SELECT platform, \
                COALESCE(sum(GREATEST(0, extract(epoch FROM ended - GREATEST(started, $1)))), 0)::float8 AS today_s, \
                COALESCE(sum(GREATEST(0, extract(epoch FROM ended - GREATEST(started, $2)))), 0)::float8 AS week_s, \
                COALESCE(sum(GREATEST(0, extract(epoch FROM ended - GREATEST(started, $3)))), 0)::float8 AS month_s \
         FROM (SELECT deployment_platform AS platform, deploying_at AS started, \
                      LEAST(CASE WHEN status IN ('DONE', 'FATAL') THEN status_changed_at ELSE $4 END, $4) AS ended \
               FROM bots \
               WHERE deploying_at IS NOT NULL AND deployment_platform IS NOT NULL \
                 AND status NOT IN ('SCHEDULED', 'QUEUED') AND ($6::int8 IS NULL OR user_id = $6) \
                 AND (status NOT IN ('DONE', 'FATAL') OR status_changed_at >= $5)) t \
         GROUP BY platform",
    )
    .bind::<Timestamptz, _>(windows.today)
    .bind::<Timestamptz, _>(windows.week)
    .bind::<Timestamptz, _>(windows.month)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(windows.earliest())
    .bind::<Nullable<BigInt>, _>(scope.owner())
    .load(conn)
    .await?;
    let rows: Vec<PlatformCost> = platforms
        .iter()
        .map(|p| {
            let r = ran.iter().find(|r| r.platform == p.as_str());
            let (today, week, month) = r.map_or((0.0, 0.0, 0.0), |r| (r.today_s, r.week_s, r.month_s));
            platform_cost(*p, prices.hourly(*p), today, week, month)
        })
        .collect();
    Ok(CostReport {
        today_usd: rows.iter().map(|r| r.today_usd).sum(),
        week_usd: rows.iter().map(|r| r.week_usd).sum(),
        month_usd: rows.iter().map(|r| r.month_usd).sum(),
        platforms: rows,
    })
}

/// One platform's row from the seconds its bots ran in each window.
pub fn platform_cost(
    platform: DeploymentPlatform,
    hourly: f64,
    today_s: f64,
    week_s: f64,
    month_s: f64,
) -> PlatformCost {
    PlatformCost {
        platform,
        hourly_usd: hourly,
        today_hours: today_s / 3600.0,
        week_hours: week_s / 3600.0,
        month_hours: month_s / 3600.0,
        today_usd: cost_usd(today_s, hourly),
        week_usd: cost_usd(week_s, hourly),
        month_usd: cost_usd(month_s, hourly),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cost_is_hours_times_the_unit_price() {
        assert!((cost_usd(7_200.0, 0.024_685) - 0.049_37).abs() < 1e-12);
        assert_eq!(cost_usd(-5.0, 1.0), 0.0);
        let row = platform_cost(DeploymentPlatform::Aws, 0.5, 3_600.0, 36_000.0, 360_000.0);
        assert_eq!((row.today_usd, row.week_usd, row.month_usd), (0.5, 5.0, 50.0));
        assert_eq!((row.today_hours, row.week_hours, row.month_hours), (1.0, 10.0, 100.0));
    }

    #[test]
    fn windows_follow_the_time_zone_and_a_week_may_start_last_month() {
        // Tuesday 2 December 2025, 10:00 UTC.
        let now = at("2025-12-02T10:00:00Z");
        let w = Windows::at(now, Tz::UTC);
        assert_eq!(w.today, at("2025-12-02T00:00:00Z"));
        assert_eq!(w.week, at("2025-11-30T00:00:00Z"));
        assert_eq!(w.month, at("2025-12-01T00:00:00Z"));
        assert_eq!(w.earliest(), w.week);
        // In Tokyo (UTC+9) it is already 19:00 on the 2nd; its day began at 15:00 UTC on the 1st.
        let w = Windows::at(now, "Asia/Tokyo".parse().unwrap());
        assert_eq!(w.today, at("2025-12-01T15:00:00Z"));
        assert_eq!(w.month, at("2025-11-30T15:00:00Z"));
    }
}
