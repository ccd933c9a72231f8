//! The resources each platform runs (Kubernetes Jobs, ECS tasks, Coolify slots, local
//! processes), from the driver's own list joined to the bots they belong to, and stopping one.
//!
//! A resource belongs to the bot whose stored identifier it is, or else to the bot its labels
//! name (a leftover of an earlier placement). A user sees the resources of their own bots only;
//! an administrator sees every resource, orphans (no bot) included, and may stop any of them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{not_configured, Scope};
use crate::backend::error::internal;
use crate::backend::platforms::{PlatformRegistry, ResourceStatus, ResourceSummary};
use crate::backend::services::bots::platform::{platform_failure, stop_resource};
use crate::model::bot::BotStatus;
use crate::model::error::AppError;
use crate::model::infrastructure::{ResourcePage, ResourceRow, ResourceState};
use crate::model::paging::PageRequest;
use crate::model::platform::DeploymentPlatform;
use crate::model::user::CurrentUser;

/// The longest identifier a platform issues is far below this; longer input is refused unread.
pub const MAX_IDENTIFIER_LEN: usize = 512;

/// A bot a resource may belong to.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct OwnerBot {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub deploying_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub deployment_platform: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub platform_identifier: Option<String>,
}

/// One page of `platform`'s resources as `scope` may see them.
pub async fn list_resources(
    conn: &mut AsyncPgConnection,
    registry: &PlatformRegistry,
    platform: DeploymentPlatform,
    scope: Scope,
    page: PageRequest,
) -> Result<ResourcePage, AppError> {
    let driver = registry.get(platform).ok_or_else(|| not_configured(platform))?;
    let listed = driver.list().await.map_err(|e| platform_failure(platform, &e))?;
    let identifiers: Vec<&str> = listed.iter().map(|r| r.identifier.as_str()).collect();
    let labelled: Vec<i64> = listed.iter().filter_map(|r| r.bot_id).collect();
    let bots: Vec<OwnerBot> = diesel::sql_query(
        "SELECT id, user_id, display_name, status, deploying_at, deployment_platform, platform_identifier FROM bots \
         WHERE (deployment_platform = $1 AND platform_identifier = ANY($2)) OR id = ANY($3)",
    )
    .bind::<Text, _>(platform.as_str())
    .bind::<Array<Text>, _>(identifiers)
    .bind::<Array<BigInt>, _>(labelled)
    .load(conn)
    .await
    .map_err(|e| internal("reading the bots of platform resources failed", e))?;
    let rows = join_rows(platform, &listed, &bots, scope);
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let rows = rows
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.page_size).unwrap_or(0))
        .collect();
    Ok(ResourcePage {
        platform,
        rows,
        total,
        page: page.page,
        page_size: page.page_size,
        sees_every_replica: driver.sees_every_replica(),
    })
}

/// The resources `scope` may see, each with its bot: running first, then the newest first,
/// then by identifier.
pub fn join_rows(
    platform: DeploymentPlatform,
    listed: &[ResourceSummary],
    bots: &[OwnerBot],
    scope: Scope,
) -> Vec<ResourceRow> {
    let by_identifier: HashMap<&str, &OwnerBot> = bots
        .iter()
        .filter(|b| b.deployment_platform.as_deref() == Some(platform.as_str()))
        .filter_map(|b| b.platform_identifier.as_deref().map(|i| (i, b)))
        .collect();
    let by_id: HashMap<i64, &OwnerBot> = bots.iter().map(|b| (b.id, b)).collect();
    let mut rows: Vec<ResourceRow> = listed
        .iter()
        .filter_map(|r| {
            let bot = by_identifier
                .get(r.identifier.as_str())
                .copied()
                .or_else(|| r.bot_id.and_then(|id| by_id.get(&id)).copied());
            let visible = match (scope, bot) {
                (Scope::Fleet, _) => true,
                (Scope::Owner(user), Some(b)) => b.user_id == user,
                (Scope::Owner(_), None) => false,
            };
            visible.then(|| ResourceRow {
                identifier: r.identifier.clone(),
                state: match &r.status {
                    ResourceStatus::Running => ResourceState::Running,
                    ResourceStatus::Exited { code } => ResourceState::Exited { code: *code },
                    ResourceStatus::Gone => ResourceState::Gone,
                },
                bot_id: bot.map(|b| b.id),
                bot_name: bot.map(|b| b.display_name.clone()),
                bot_status: bot.and_then(|b| BotStatus::parse(&b.status)),
                started_at: bot.and_then(|b| b.deploying_at),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.state != ResourceState::Running)
            .cmp(&(b.state != ResourceState::Running))
            .then(b.started_at.cmp(&a.started_at))
            .then(a.identifier.cmp(&b.identifier))
    });
    rows
}

/// Stops `identifier` on `platform` (administrators; the caller checks). A resource that is a
/// bot's goes the way of the Platform tab's Stop (the bot ends FATAL, then the resource stops);
/// one with no bot (an orphan) is stopped by identifier, once the platform lists it.
pub async fn stop_by_identifier(
    conn: &mut AsyncPgConnection,
    registry: &PlatformRegistry,
    admin: &CurrentUser,
    platform: DeploymentPlatform,
    identifier: &str,
) -> Result<String, AppError> {
    let identifier = identifier.trim();
    if identifier.is_empty() || identifier.len() > MAX_IDENTIFIER_LEN {
        return Err(AppError::bad_request(
            "identifier",
            format!("Give the resource's identifier as its platform lists it (1 to {MAX_IDENTIFIER_LEN} characters)."),
        ));
    }
    let driver = registry.get(platform).ok_or_else(|| not_configured(platform))?;
    let owner: Option<OwnerBot> = diesel::sql_query(
        "SELECT id, user_id, display_name, status, deploying_at, deployment_platform, platform_identifier FROM bots \
         WHERE deployment_platform = $1 AND platform_identifier = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind::<Text, _>(platform.as_str())
    .bind::<Text, _>(identifier)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(|e| if e == diesel::result::Error::NotFound { Ok(None) } else { Err(e) })
    .map_err(|e| internal("finding a resource's bot failed", e))?;
    if let Some(bot) = owner {
        return stop_resource(conn, registry, admin, bot.id).await;
    }
    let listed = driver.list().await.map_err(|e| platform_failure(platform, &e))?;
    if !listed.iter().any(|r| r.identifier == identifier) {
        return Err(AppError::NotFound(format!(
            "{} lists no resource {identifier} (it may have ended already).",
            platform.label()
        )));
    }
    driver.stop(identifier).await.map_err(|e| platform_failure(platform, &e))?;
    tracing::info!(admin_id = admin.id, platform = platform.as_str(), identifier, "orphan resource stopped");
    Ok(format!("Stopped {identifier} on {}.", platform.label()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(identifier: &str, bot_id: Option<i64>, status: ResourceStatus) -> ResourceSummary {
        ResourceSummary { identifier: identifier.into(), bot_id, status }
    }

    fn bot(id: i64, user_id: i64, identifier: Option<&str>, started: i64) -> OwnerBot {
        OwnerBot {
            id,
            user_id,
            display_name: format!("bot {id}"),
            status: "IN_CALL".into(),
            deploying_at: DateTime::from_timestamp(started, 0),
            deployment_platform: Some("k8s".into()),
            platform_identifier: identifier.map(str::to_owned),
        }
    }

    #[test]
    fn a_user_sees_only_their_own_bots_resources_and_no_orphan() {
        let listed = [
            summary("job-1", Some(1), ResourceStatus::Running),
            summary("job-2", Some(2), ResourceStatus::Running),
            summary("stray", None, ResourceStatus::Running),
        ];
        let bots = [bot(1, 10, Some("job-1"), 100), bot(2, 20, Some("job-2"), 200)];
        let mine = join_rows(DeploymentPlatform::K8s, &listed, &bots, Scope::Owner(10));
        assert_eq!(mine.iter().map(|r| r.identifier.as_str()).collect::<Vec<_>>(), ["job-1"]);
        assert_eq!(mine[0].bot_name.as_deref(), Some("bot 1"));
        let all = join_rows(DeploymentPlatform::K8s, &listed, &bots, Scope::Fleet);
        assert_eq!(all.iter().map(|r| r.identifier.as_str()).collect::<Vec<_>>(), ["job-2", "job-1", "stray"]);
        assert_eq!(all[2].bot_id, None);
    }

    #[test]
    fn a_leftover_belongs_to_the_bot_its_labels_name_and_running_resources_come_first() {
        let listed = [
            summary("old-7", Some(7), ResourceStatus::Exited { code: Some(1) }),
            summary("new-7", Some(7), ResourceStatus::Running),
        ];
        let bots = [bot(7, 10, Some("new-7"), 100)];
        let rows = join_rows(DeploymentPlatform::K8s, &listed, &bots, Scope::Owner(10));
        assert_eq!(rows.iter().map(|r| r.identifier.as_str()).collect::<Vec<_>>(), ["new-7", "old-7"]);
        assert!(rows.iter().all(|r| r.bot_id == Some(7)));
        assert_eq!(rows[1].state, ResourceState::Exited { code: Some(1) });
        // Another user's bot's identifier on another platform does not match.
        let elsewhere = [OwnerBot { deployment_platform: Some("aws".into()), ..bot(8, 20, Some("new-7"), 1) }];
        let rows = join_rows(
            DeploymentPlatform::K8s,
            &[summary("new-7", None, ResourceStatus::Running)],
            &elsewhere,
            Scope::Owner(20),
        );
        assert!(rows.is_empty());
    }
}
