//! The infrastructure page's and the dashboard's platform views: capacity and health, bots by
//! stage, the queue, each platform's resources (and stopping one), cost and activity.
//!
//! Every signed-in user may call them: an administrator's answers cover the whole fleet, anyone
//! else's only their own bots ([`crate::backend::services::infrastructure::Scope`]). Stopping a
//! resource from here is for administrators.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::infrastructure::{
    ActivityBucket, ActivityRange, CostReport, PlatformStats, PlatformStatus, QueuePage, QueueStats, ResourcePage,
};
use crate::model::platform::DeploymentPlatform;

/// The infrastructure tables' page size.
pub const PAGE_SIZE: i64 = 20;

/// The signed-in caller (401 first, before any input is judged), the scope of their answers, a
/// connection and the state.
#[cfg(feature = "ssr")]
async fn scoped() -> Result<
    (
        crate::model::user::CurrentUser,
        crate::backend::services::infrastructure::Scope,
        crate::backend::db::DbConn,
        crate::backend::state::AppState,
    ),
    AppError,
> {
    let (user, conn) = super::ctx::user_and_conn().await?;
    let scope = crate::backend::services::infrastructure::Scope::of(&user);
    Ok((user, scope, conn, super::ctx::state()?))
}

/// Each configured platform in priority order: used/limit, queue timeout, health, deploy latency.
#[server(prefix = "/fn", endpoint = "get_active_platforms", input = Json)]
pub async fn get_active_platforms() -> Result<Vec<PlatformStatus>, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::infrastructure::platforms;
    let (_, scope, mut conn, state) = scoped().await?;
    platforms::active_platforms(&mut conn, &state.config.platforms, scope, chrono::Utc::now())
        .await
        .map_err(|e| internal("reading platform capacity failed", e))
}

/// Deploying, active, finished today and failed today, per configured platform (or only
/// `platform`), with "today" in `time_zone` (UTC when absent).
#[server(prefix = "/fn", endpoint = "get_platform_stats", input = Json)]
pub async fn get_platform_stats(
    platform: Option<DeploymentPlatform>,
    time_zone: Option<String>,
) -> Result<Vec<PlatformStats>, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::bots::validate;
    use crate::backend::services::infrastructure::{not_configured, stats};
    use crate::backend::services::plans::day_bounds;
    let (_, scope, mut conn, state) = scoped().await?;
    let tz = validate::time_zone(time_zone.as_deref())?;
    let configured: Vec<DeploymentPlatform> = state.config.platforms.iter().map(|s| s.platform).collect();
    let platforms = match platform {
        Some(p) if !configured.contains(&p) => return Err(not_configured(p)),
        Some(p) => vec![p],
        None => configured,
    };
    let today = day_bounds(chrono::Utc::now(), tz).0;
    stats::platform_stats(&mut conn, &platforms, scope, today)
        .await
        .map_err(|e| internal("reading platform statistics failed", e))
}

/// How many bots wait for a platform, the oldest, and the average wait so far.
#[server(prefix = "/fn", endpoint = "get_queue_stats", input = Json)]
pub async fn get_queue_stats() -> Result<QueueStats, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::infrastructure::queue;
    let (_, scope, mut conn, _) = scoped().await?;
    queue::queue_stats(&mut conn, scope).await.map_err(|e| internal("reading the queue failed", e))
}

/// A page of the queued bots in queue order, with position and estimated start.
#[server(prefix = "/fn", endpoint = "list_queued_bots", input = Json)]
pub async fn list_queued_bots(page: i64) -> Result<QueuePage, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::infrastructure::queue;
    use crate::model::paging::PageRequest;
    let (_, scope, mut conn, state) = scoped().await?;
    let request = PageRequest::new(page, PAGE_SIZE)?;
    let (bots, total) = queue::queued_bots(&mut conn, &state.estimator, &state.config.platforms, scope, request)
        .await
        .map_err(|e| internal("reading the queue failed", e))?;
    Ok(QueuePage { bots, total, page: request.page, page_size: request.page_size })
}

/// A page of the resources `platform` runs, each with its bot, state and age.
#[server(prefix = "/fn", endpoint = "list_platform_resources", input = Json)]
pub async fn list_platform_resources(platform: DeploymentPlatform, page: i64) -> Result<ResourcePage, AppError> {
    use crate::backend::services::infrastructure::resources;
    use crate::model::paging::PageRequest;
    let (_, scope, mut conn, state) = scoped().await?;
    let request = PageRequest::new(page, PAGE_SIZE)?;
    resources::list_resources(&mut conn, &state.platforms, platform, scope, request).await
}

/// Stops a resource on `platform` now (administrators): a bot's resource as the Platform tab's
/// Stop does (the bot ends FATAL), an orphan by its identifier.
#[server(prefix = "/fn", endpoint = "stop_platform_resource", input = Json)]
pub async fn stop_platform_resource(platform: DeploymentPlatform, identifier: String) -> Result<String, AppError> {
    use crate::backend::services::infrastructure::resources;
    let (admin, mut conn) = super::admin::admin().await?;
    let state = super::ctx::state()?;
    let stopped = resources::stop_by_identifier(&mut conn, &state.platforms, &admin, platform, &identifier).await?;
    Ok(stopped)
}

/// Estimated cost per platform for today, this week and this month (in `time_zone`).
#[server(prefix = "/fn", endpoint = "get_infrastructure_cost", input = Json)]
pub async fn get_infrastructure_cost(time_zone: Option<String>) -> Result<CostReport, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::bots::validate;
    use crate::backend::services::infrastructure::cost::{self, Windows};
    let (_, scope, mut conn, state) = scoped().await?;
    let tz = validate::time_zone(time_zone.as_deref())?;
    let now = chrono::Utc::now();
    let platforms: Vec<DeploymentPlatform> = state.config.platforms.iter().map(|s| s.platform).collect();
    cost::cost_report(&mut conn, &platforms, &state.config.prices, scope, now, Windows::at(now, tz))
        .await
        .map_err(|e| internal("estimating cost failed", e))
}

/// Deployments, failures and failovers per hour (last 24 h) or per day (last 30 days), UTC.
#[server(prefix = "/fn", endpoint = "get_infrastructure_activity", input = Json)]
pub async fn get_infrastructure_activity(range: ActivityRange) -> Result<Vec<ActivityBucket>, AppError> {
    use crate::backend::error::internal;
    use crate::backend::services::infrastructure::activity;
    let (_, scope, mut conn, _) = scoped().await?;
    activity::activity(&mut conn, range, scope, chrono::Utc::now())
        .await
        .map_err(|e| internal("reading deploy activity failed", e))
}
