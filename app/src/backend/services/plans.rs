//! Plans and daily limits. The plan is the newest active, unexpired subscription (none: FREE);
//! a per-user override beats the plan's limit. Usage is the number of the user's bots whose
//! start falls on the current day in the caller's time zone.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::db::schema::{bots, subscriptions, users};
use crate::model::error::AppError;
use crate::model::usage::{DailyUsage, Plan, Subscription};

/// The user's plan and limit.
pub async fn subscription(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Subscription> {
    let now = Utc::now();
    let row: Option<(String, Option<DateTime<Utc>>)> = subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .filter(subscriptions::is_active.eq(true))
        .filter(subscriptions::end_date.is_null().or(subscriptions::end_date.gt(now)))
        .order(subscriptions::created_at.desc())
        .select((subscriptions::plan, subscriptions::end_date))
        .first(conn)
        .await
        .optional()?;
    let custom: Option<i32> = users::table.find(user_id).select(users::custom_daily_bot_limit).first(conn).await?;
    let (plan, end, active) = match row {
        Some((p, end)) => (Plan::parse(&p).unwrap_or(Plan::Free), end, true),
        None => (Plan::Free, None, false),
    };
    let custom = custom.map(i64::from);
    Ok(Subscription {
        current_plan: plan,
        plan_daily_limit: plan.daily_limit(),
        custom_daily_bot_limit: custom,
        effective_daily_limit: custom.or(plan.daily_limit()),
        subscription_active: active || plan == Plan::Free,
        subscription_end_date: end,
    })
}

/// The local day containing `now` in `tz`, as a UTC range.
pub fn day_bounds(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>, String) {
    let local = now.with_timezone(&tz).date_naive();
    let start_of = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .unwrap_or_else(|| tz.from_utc_datetime(&d.and_time(NaiveTime::MIN)))
            .with_timezone(&Utc)
    };
    let next = local.succ_opt().unwrap_or(local);
    (start_of(local), start_of(next), format!("{:04}-{:02}-{:02}", local.year(), local.month(), local.day()))
}

/// Today's usage against the limit.
pub async fn daily_usage(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    tz: Tz,
    now: DateTime<Utc>,
) -> QueryResult<DailyUsage> {
    let sub = subscription(conn, user_id).await?;
    let (start, end, date) = day_bounds(now, tz);
    let usage: i64 = bots::table
        .filter(bots::user_id.eq(user_id))
        .filter(bots::start_time.ge(start))
        .filter(bots::start_time.lt(end))
        .count()
        .get_result(conn)
        .await?;
    let limit = sub.effective_daily_limit;
    Ok(DailyUsage {
        date,
        time_zone: tz.name().to_owned(),
        usage,
        limit,
        remaining: limit.map(|l| (l - usage).max(0)),
        resets_at: end,
    })
}

/// Refuses creating `count` more bots when it would pass the limit.
pub fn check_room(usage: &DailyUsage, sub: &Subscription, count: i64) -> Result<(), AppError> {
    if sub.current_plan == Plan::PayAsYouGo && sub.custom_daily_bot_limit.is_none() {
        return Err(AppError::Forbidden);
    }
    match usage.limit {
        Some(limit) if usage.usage + count > limit => Err(AppError::DailyLimit {
            message: format!(
                "Daily limit reached: {} of {limit} bots used today ({}). It resets at {}.",
                usage.usage,
                usage.date,
                usage.resets_at.to_rfc3339()
            ),
            limit,
            used: usage.usage,
            remaining: (limit - usage.usage).max(0),
            resets_at: usage.resets_at,
        }),
        _ => Ok(()),
    }
}

/// An administrator changes a user's plan and/or daily override.
pub async fn set_plan(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    plan: Plan,
    custom_limit: Option<i32>,
) -> Result<(), AppError> {
    if custom_limit.is_some_and(|l| l < 0) {
        return Err(AppError::invalid("customDailyBotLimit", "customDailyBotLimit must be 0 or more"));
    }
    let result: QueryResult<()> = conn
        .transaction(async |conn| {
            let n = diesel::update(users::table.find(user_id))
                .set((users::custom_daily_bot_limit.eq(custom_limit), users::updated_at.eq(Utc::now())))
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(diesel::result::Error::NotFound);
            }
            diesel::update(subscriptions::table.filter(subscriptions::user_id.eq(user_id)))
                .set(subscriptions::is_active.eq(false))
                .execute(conn)
                .await?;
            if plan != Plan::Free {
                diesel::insert_into(subscriptions::table)
                    .values((subscriptions::user_id.eq(user_id), subscriptions::plan.eq(plan.as_str())))
                    .execute(conn)
                    .await?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(diesel::result::Error::NotFound) => Err(AppError::NotFound(format!("User {user_id} not found."))),
        Err(e) => Err(crate::backend::error::internal("changing a plan failed", e)),
    }
}

/// Days from `start` of a week that begins on Sunday, in `tz`.
pub fn week_start(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let (today, _, _) = day_bounds(now, tz);
    let weekday = now.with_timezone(&tz).weekday().num_days_from_sunday() as i64;
    day_bounds(today - Duration::days(weekday) + Duration::hours(12), tz).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_bounded_by_local_midnights() {
        let now: DateTime<Utc> = "2026-11-22T02:30:00Z".parse().unwrap();
        let (s, e, d) = day_bounds(now, chrono_tz::America::Sao_Paulo);
        assert_eq!(d, "2026-11-21");
        assert_eq!(s, "2026-11-21T03:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(e, "2026-11-22T03:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let (s, _, d) = day_bounds(now, Tz::UTC);
        assert_eq!((s, d.as_str()), ("2026-11-22T00:00:00Z".parse().unwrap(), "2026-11-22"));
    }

    #[test]
    fn weeks_start_on_sunday() {
        // 2026-11-22 is a Sunday; the 25th a Wednesday.
        let wed: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        assert_eq!(week_start(wed, Tz::UTC), "2026-11-22T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn the_limit_counts_the_whole_batch() {
        let sub = Subscription {
            current_plan: Plan::Free,
            plan_daily_limit: Some(5),
            custom_daily_bot_limit: None,
            effective_daily_limit: Some(5),
            subscription_active: true,
            subscription_end_date: None,
        };
        let usage = DailyUsage {
            date: "2026-11-22".into(),
            time_zone: "UTC".into(),
            usage: 3,
            limit: Some(5),
            remaining: Some(2),
            resets_at: Utc::now(),
        };
        assert!(check_room(&usage, &sub, 2).is_ok());
        let err = check_room(&usage, &sub, 3).unwrap_err();
        assert_eq!(err.status(), 429);
    }
}
