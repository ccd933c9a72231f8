//! Plan, limits and usage charts of the signed-in user, in the browser's time zone.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::usage::{DailyUsage, Subscription, UsageBucket, UsageRange};

/// Plan, today's usage and the chart of a range.
#[server(prefix = "/fn", endpoint = "get_usage", input = Json)]
pub async fn get_usage(
    range: UsageRange,
    time_zone: Option<String>,
) -> Result<(Subscription, DailyUsage, Vec<UsageBucket>), AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::{bots::validate, plans, usage};
    let (user, mut conn) = super::ctx::user_and_conn().await?;
    let tz = validate::time_zone(time_zone.as_deref())?;
    let sub = plans::subscription(&mut conn, user.id).await.map_err(|e| internal("reading the plan failed", e))?;
    let today = plans::daily_usage(&mut conn, user.id, chrono::Utc::now())
        .await
        .map_err(|e| internal("reading usage failed", e))?;
    let chart = usage::chart(&mut conn, user.id, range, tz).await?;
    Ok((sub, today, chart))
}
