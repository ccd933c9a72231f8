//! Administrator views: users and their plans (the platform views are in `api::infrastructure`).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::model::error::AppError;
use crate::model::usage::Plan;

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
