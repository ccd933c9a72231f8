//! Orphans: running resources that no bot owns where they run. A resource on platform P that
//! names bot b is an orphan unless b is active, b runs on P, and b's stored identifier is this
//! resource's (or not stored yet: a deploy in flight). So a leftover of a bot since placed on
//! another platform, of a deleted or finished bot, of a crashed placement, or one naming no bot
//! is stopped, on every pass until the platform no longer lists it running.

use std::collections::{HashMap, HashSet};

use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;

use super::{call, Listing, Reconciler, CALLS_AT_ONCE};
use crate::backend::error::db;
use crate::backend::platforms::{ResourceStatus, ResourceSummary};
use crate::model::bot::BotStatus;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// The bot a resource names, as the database has it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Owner {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub deployment_platform: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub platform_identifier: Option<String>,
}

impl Owner {
    /// Whether the bot holds a resource on `kind` now.
    fn active_on(&self, kind: DeploymentPlatform) -> bool {
        BotStatus::parse(&self.status).is_some_and(BotStatus::is_active)
            && self.deployment_platform.as_deref().and_then(DeploymentPlatform::parse) == Some(kind)
    }
}

/// Whether `resource`, running on `kind`, is an orphan given the bot it names (`None`: it names
/// none, or one the database does not have).
pub fn is_orphan(kind: DeploymentPlatform, resource: &ResourceSummary, owner: Option<&Owner>) -> bool {
    match owner {
        None => true,
        Some(o) => !(o.active_on(kind) && o.platform_identifier.as_deref().is_none_or(|i| i == resource.identifier)),
    }
}

/// Stops the orphans every listing shows running, except the identifiers the teardown just
/// handled; answers how many it asked to stop.
pub(super) async fn stop_orphans(
    r: &Reconciler,
    listings: &[Listing],
    handled: &HashSet<String>,
) -> Result<usize, AppError> {
    let mut stopped = 0;
    for listing in listings {
        let Some(resources) = &listing.resources else { continue };
        let running: Vec<&ResourceSummary> = resources
            .values()
            .filter(|s| s.status == ResourceStatus::Running && !handled.contains(&s.identifier))
            .collect();
        if running.is_empty() {
            continue;
        }
        // Read after the list: a bot placed meanwhile shows as in flight (no identifier yet).
        let ids: Vec<i64> = running.iter().filter_map(|s| s.bot_id).collect();
        let owners: HashMap<i64, Owner> = diesel::sql_query(
            "SELECT id, status, deployment_platform, platform_identifier FROM bots WHERE id = ANY($1)",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .load::<Owner>(&mut r.conn().await?)
        .await
        .map_err(db("reading the owners of listed resources failed"))?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
        let kind = listing.kind;
        // Owned work: what to stop, and whether to give back what its bot holds here (unless the
        // bot runs here now, in another resource it still needs).
        let work: Vec<(String, Option<i64>)> = running
            .into_iter()
            .filter_map(|s| {
                let owner = s.bot_id.and_then(|b| owners.get(&b));
                let release = s.bot_id.filter(|_| !owner.is_some_and(|o| o.active_on(kind)));
                is_orphan(kind, s, owner).then(|| (s.identifier.clone(), release))
            })
            .collect();
        let jobs: Vec<_> = work
            .into_iter()
            .map(|(identifier, release)| {
                let platform = listing.platform.clone();
                async move {
                    if let Err(e) = call(platform.stop(&identifier)).await {
                        tracing::warn!(platform = kind.as_str(), %identifier, error = %e, "stopping an orphan failed; retried next pass");
                        return false;
                    }
                    tracing::warn!(platform = kind.as_str(), %identifier, "orphaned resource stopped");
                    if let Some(bot) = release {
                        if let Err(e) = call(platform.release(bot)).await {
                            tracing::warn!(bot_id = bot, error = %e, "releasing an orphan's bot failed");
                        }
                    }
                    true
                }
            })
            .collect();
        let results: Vec<bool> = futures_util::stream::iter(jobs).buffer_unordered(CALLS_AT_ONCE).collect().await;
        stopped += results.into_iter().filter(|ok| *ok).count();
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(identifier: &str, bot: i64) -> ResourceSummary {
        ResourceSummary { identifier: identifier.into(), bot_id: Some(bot), status: ResourceStatus::Running }
    }

    fn owner(status: &str, platform: &str, identifier: Option<&str>) -> Owner {
        Owner {
            id: 7,
            status: status.into(),
            deployment_platform: Some(platform.into()),
            platform_identifier: identifier.map(str::to_owned),
        }
    }

    #[test]
    fn a_resource_of_an_active_bot_on_its_platform_with_its_identifier_is_owned() {
        let r = running("job-7", 7);
        assert!(!is_orphan(DeploymentPlatform::K8s, &r, Some(&owner("IN_CALL", "k8s", Some("job-7")))));
        // A deploy in flight: the identifier is not stored yet.
        assert!(!is_orphan(DeploymentPlatform::K8s, &r, Some(&owner("DEPLOYING", "k8s", None))));
        assert!(!is_orphan(DeploymentPlatform::K8s, &r, Some(&owner("CALL_ENDED", "k8s", Some("job-7")))));
    }

    #[test]
    fn a_leftover_on_another_platform_or_with_another_identifier_is_an_orphan() {
        let r = running("job-7", 7);
        assert!(is_orphan(DeploymentPlatform::K8s, &r, Some(&owner("IN_CALL", "aws", Some("arn:task/1")))));
        assert!(is_orphan(DeploymentPlatform::K8s, &r, Some(&owner("DEPLOYING", "aws", None))));
        assert!(is_orphan(DeploymentPlatform::K8s, &r, Some(&owner("IN_CALL", "k8s", Some("job-7-retry")))));
    }

    #[test]
    fn a_resource_of_a_finished_waiting_deleted_or_unknown_bot_is_an_orphan() {
        let r = running("job-7", 7);
        for status in ["DONE", "FATAL", "QUEUED", "SCHEDULED"] {
            assert!(is_orphan(DeploymentPlatform::K8s, &r, Some(&owner(status, "k8s", Some("job-7")))), "{status}");
        }
        assert!(is_orphan(DeploymentPlatform::K8s, &r, None));
    }
}
