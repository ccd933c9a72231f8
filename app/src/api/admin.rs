//! Administrator views: platform capacity and the queue, users and their plans.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;
use crate::model::usage::Plan;

/// A configured platform and how full it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCapacity {
    pub platform: DeploymentPlatform,
    pub limit: u32,
    pub used: i64,
    pub queue_timeout_ms: u64,
}

/// The infrastructure overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Infrastructure {
    pub platforms: Vec<PlatformCapacity>,
    pub queued: i64,
    pub scheduled: i64,
}

/// A user as administrators see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub plan: Plan,
    pub custom_daily_bot_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[cfg(feature = "ssr")]
pub(crate) async fn admin() -> Result<(crate::model::user::CurrentUser, crate::backend::db::DbConn), AppError> {
    let (user, conn) = super::ctx::user_and_conn().await?;
    if !user.is_admin() {
        return Err(AppError::Forbidden);
    }
    Ok((user, conn))
}

/// Capacity per configured platform and the queue.
#[server(prefix = "/fn", endpoint = "get_infrastructure", input = Json)]
pub async fn get_infrastructure() -> Result<Infrastructure, AppError> {
    use crate::backend::db::schema::bots;
    use crate::backend::error::internal;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let (_, mut conn) = admin().await?;
    let state = super::ctx::state()?;
    let counts: Vec<(Option<String>, i64)> = bots::table
        .filter(bots::status.eq_any(crate::model::bot::BotStatus::active_names()))
        .group_by(bots::deployment_platform)
        .select((bots::deployment_platform, diesel::dsl::count_star()))
        .load(&mut conn)
        .await
        .map_err(|e| internal("reading capacity failed", e))?;
    let by_status = |s: &'static str| bots::table.filter(bots::status.eq(s)).count();
    let queued: i64 = by_status("QUEUED").get_result(&mut conn).await.map_err(|e| internal("counting failed", e))?;
    let scheduled: i64 =
        by_status("SCHEDULED").get_result(&mut conn).await.map_err(|e| internal("counting failed", e))?;
    let platforms = state
        .config
        .platforms
        .iter()
        .map(|p| PlatformCapacity {
            platform: p.platform,
            limit: p.limit,
            used: counts.iter().find(|(n, _)| n.as_deref() == Some(p.platform.as_str())).map_or(0, |(_, c)| *c),
            queue_timeout_ms: p.queue_timeout.as_millis() as u64,
        })
        .collect();
    Ok(Infrastructure { platforms, queued, scheduled })
}

/// Every user with their plan.
#[server(prefix = "/fn", endpoint = "list_users", input = Json)]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use crate::backend::db::schema::users;
    use crate::backend::error::internal;
    use crate::backend::services::plans;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let (_, mut conn) = admin().await?;
    let rows: Vec<(i64, String, String, String, DateTime<Utc>)> = users::table
        .order(users::id)
        .limit(500)
        .select((users::id, users::name, users::email, users::role, users::created_at))
        .load(&mut conn)
        .await
        .map_err(|e| internal("listing users failed", e))?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, email, role, created_at) in rows {
        let sub = plans::subscription(&mut conn, id).await.map_err(|e| internal("reading a plan failed", e))?;
        out.push(UserSummary {
            id,
            name,
            email,
            role,
            plan: sub.current_plan,
            custom_daily_bot_limit: sub.custom_daily_bot_limit,
            created_at,
        });
    }
    Ok(out)
}

/// Changes a user's plan and daily override.
#[server(prefix = "/fn", endpoint = "set_user_plan", input = Json)]
pub async fn set_user_plan(user_id: i64, plan: Plan, custom_daily_bot_limit: Option<i32>) -> Result<(), AppError> {
    let (admin, mut conn) = admin().await?;
    crate::backend::services::plans::set_plan(&mut conn, user_id, plan, custom_daily_bot_limit).await?;
    tracing::info!(admin_id = admin.id, user_id, plan = plan.as_str(), "plan changed");
    Ok(())
}
