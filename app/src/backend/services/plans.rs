//! Plans and daily limits. The plan is the newest active, unexpired subscription (none: FREE);
//! a per-user override beats the plan's limit.
//!
//! A daily limit counts the bots a user **created** in the current UTC day, kept in
//! `daily_bot_counts` and only ever incremented, by a conditional upsert in the create
//! transaction ([`claim`]). So none of these give back room: scheduling for another day,
//! asking in another time zone, moving a bot's start time, deleting bots. Changing a start time
//! never needs a re-check: the day a bot counts in is fixed when it is created. See
//! docs/LIMITS.md.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::db::schema::{daily_bot_counts, subscriptions, users};
use crate::backend::error::TxError;
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
    let start_of = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .unwrap_or_else(|| tz.from_utc_datetime(&d.and_time(NaiveTime::MIN)))
            .with_timezone(&Utc)
    };
    let next = local.succ_opt().unwrap_or(local);
    (start_of(local), start_of(next), format!("{:04}-{:02}-{:02}", local.year(), local.month(), local.day()))
}

/// Bots the user created in the UTC day `day`.
async fn created_on(conn: &mut AsyncPgConnection, user_id: i64, day: NaiveDate) -> QueryResult<i64> {
    let n: Option<i32> =
        daily_bot_counts::table.find((user_id, day)).select(daily_bot_counts::created).first(conn).await.optional()?;
    Ok(n.map_or(0, i64::from))
}

/// Today's usage (bots created in the current UTC day) against the limit.
pub async fn daily_usage(conn: &mut AsyncPgConnection, user_id: i64, now: DateTime<Utc>) -> QueryResult<DailyUsage> {
    let sub = subscription(conn, user_id).await?;
    let (_, end, date) = day_bounds(now, Tz::UTC);
    let usage = created_on(conn, user_id, now.date_naive()).await?;
    Ok(usage_of(&sub, usage, date, end))
}

fn usage_of(sub: &Subscription, usage: i64, date: String, resets_at: DateTime<Utc>) -> DailyUsage {
    let limit = sub.effective_daily_limit;
    DailyUsage {
        date,
        time_zone: "UTC".to_owned(),
        usage,
        limit,
        remaining: limit.map(|l| (l - usage).max(0)),
        resets_at,
    }
}

/// Counts `count` new bots against today's limit, atomically: one conditional upsert that only
/// increments while the result stays within the limit (so parallel creates cannot overshoot).
/// Refuses with 429 when they do not fit, and changes nothing then. Call it inside the
/// transaction that inserts the bots, so a failed insert gives the room back.
pub async fn claim(conn: &mut AsyncPgConnection, user_id: i64, count: i64, now: DateTime<Utc>) -> Result<(), TxError> {
    let sub = subscription(conn, user_id).await?;
    if sub.current_plan == Plan::PayAsYouGo && sub.custom_daily_bot_limit.is_none() {
        return Err(TxError::App(AppError::Forbidden));
    }
    let day = now.date_naive();
    let limit = sub.effective_daily_limit.unwrap_or(i64::from(i32::MAX));
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    let claimed = if i64::from(count) > limit {
        None
    } else {
        diesel::sql_query(
            "INSERT INTO daily_bot_counts (user_id, day, created) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, day) DO UPDATE SET created = daily_bot_counts.created + EXCLUDED.created \
             WHERE daily_bot_counts.created + EXCLUDED.created <= $4 \
             RETURNING created",
        )
        .bind::<BigInt, _>(user_id)
        .bind::<Date, _>(day)
        .bind::<Integer, _>(count)
        .bind::<BigInt, _>(limit)
        .get_result::<Created>(conn)
        .await
        .optional()?
    };
    if claimed.is_some() {
        return Ok(());
    }
    let (_, end, date) = day_bounds(now, Tz::UTC);
    let usage = usage_of(&sub, created_on(conn, user_id, day).await?, date, end);
    Err(TxError::App(limit_error(&usage, limit)))
}

#[derive(QueryableByName)]
struct Created {
    #[diesel(sql_type = Integer)]
    #[expect(dead_code, reason = "only whether a row came back matters")]
    created: i32,
}

fn limit_error(usage: &DailyUsage, limit: i64) -> AppError {
    AppError::DailyLimit {
        message: format!(
            "Daily limit reached: {} of {limit} bots created today ({} UTC). It resets at {}.",
            usage.usage,
            usage.date,
            usage.resets_at.to_rfc3339()
        ),
        limit,
        used: usage.usage,
        remaining: (limit - usage.usage).max(0),
        resets_at: usage.resets_at,
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
}
