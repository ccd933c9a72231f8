//! Bots whose resource vanished: an active bot (DEPLOYING with a stored identifier for longer
//! than [`DEPLOYING_GRACE`], through CALL_ENDED) that the pass's list does not show running as
//! its own is a suspect; `status(identifier)` confirms it (a list can lag or be wrong), and a
//! confirmed Gone or Exited makes the bot FATAL with [`RESOURCE_GONE`] or [`RESOURCE_EXITED`]
//! and a reason its owner can act on. The platform's own words never reach the owner.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::StreamExt;

use super::{call, Listing, Reconciler, CALLS_AT_ONCE, CONFIRM_BATCH, DEPLOYING_GRACE};
use crate::backend::error::{db, internal};
use crate::backend::lifecycle::{self, Change};
use crate::backend::platforms::ResourceStatus;
use crate::model::bot::BotStatus;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

/// The sub-code of a bot whose resource no longer exists.
pub const RESOURCE_GONE: &str = "RESOURCE_GONE";
/// The sub-code of a bot whose resource exited before the bot reported DONE.
pub const RESOURCE_EXITED: &str = "RESOURCE_EXITED";

/// Where a platform runs bots, in words for the bot's owner.
fn place(kind: DeploymentPlatform) -> &'static str {
    match kind {
        DeploymentPlatform::K8s => "Kubernetes",
        DeploymentPlatform::Aws => "AWS ECS",
        DeploymentPlatform::Coolify => "Coolify",
        DeploymentPlatform::Local => "this server",
    }
}

/// What a platform runs a bot as.
fn resource(kind: DeploymentPlatform) -> &'static str {
    match kind {
        DeploymentPlatform::K8s => "Job",
        DeploymentPlatform::Aws => "task",
        DeploymentPlatform::Coolify => "slot",
        DeploymentPlatform::Local => "process",
    }
}

/// What an exit code usually means, for the codes that say something.
fn hint(code: i32) -> &'static str {
    match code {
        137 => " (killed: out of memory, or stopped outside Meeboter)",
        143 => " (terminated outside Meeboter)",
        _ => "",
    }
}

/// Why an active bot whose resource is in `status` has failed, with its sub-code; `None` while
/// the resource runs.
pub fn vanished_reason(kind: DeploymentPlatform, status: &ResourceStatus) -> Option<(String, &'static str)> {
    let (place, container) = (place(kind), if kind == DeploymentPlatform::Local { "process" } else { "container" });
    match status {
        ResourceStatus::Running => None,
        ResourceStatus::Gone => Some((
            format!(
                "The bot's {} on {place} disappeared before the bot reported DONE (it was deleted or reset outside Meeboter).",
                resource(kind)
            ),
            RESOURCE_GONE,
        )),
        ResourceStatus::Exited { code: Some(code) } => Some((
            format!("The bot's {container} on {place} exited with code {code}{} without reporting DONE.", hint(*code)),
            RESOURCE_EXITED,
        )),
        ResourceStatus::Exited { code: None } => {
            Some((format!("The bot's {container} on {place} stopped without reporting DONE."), RESOURCE_EXITED))
        }
    }
}

#[derive(QueryableByName)]
struct ActiveBot {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    platform_identifier: String,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    #[expect(dead_code, reason = "only whether a row came back matters")]
    id: i64,
}

/// Fails the active bots of every listed platform whose resource is confirmed gone or exited;
/// answers how many it failed. A platform whose list failed is skipped this pass.
pub(super) async fn fail_vanished(r: &Reconciler, listings: &[Listing], now: DateTime<Utc>) -> Result<usize, AppError> {
    let deploying_before = now - chrono::Duration::from_std(DEPLOYING_GRACE).unwrap_or_default();
    let active = BotStatus::active_names();
    let mut failed = 0;
    for listing in listings {
        let Some(resources) = &listing.resources else { continue };
        let bots: Vec<ActiveBot> = diesel::sql_query(
            "SELECT id, platform_identifier FROM bots \
             WHERE deployment_platform = $1 AND platform_identifier IS NOT NULL AND status = ANY($2) \
               AND (status <> 'DEPLOYING' OR status_changed_at < $3) ORDER BY id",
        )
        .bind::<Text, _>(listing.kind.as_str())
        .bind::<Array<Text>, _>(&active)
        .bind::<Timestamptz, _>(deploying_before)
        .load(&mut r.conn().await?)
        .await
        .map_err(db("reading active bots failed"))?;
        // Listed running as its own: nothing to ask. Anything else is confirmed first, except
        // what a platform that sees only this process's resources does not list at all.
        let sees_all = listing.platform.sees_every_replica();
        let suspects: Vec<ActiveBot> = bots
            .into_iter()
            .filter(|b| match resources.get(&b.platform_identifier) {
                Some(s) => !(s.status == ResourceStatus::Running && s.bot_id == Some(b.id)),
                None => sees_all,
            })
            .take(CONFIRM_BATCH)
            .collect();
        let jobs: Vec<_> = suspects
            .into_iter()
            .map(|b| {
                let platform = listing.platform.clone();
                async move {
                    let status = call(platform.status(&b.platform_identifier)).await;
                    (b, status)
                }
            })
            .collect();
        let confirmed: Vec<_> = futures_util::stream::iter(jobs).buffer_unordered(CALLS_AT_ONCE).collect().await;
        for (bot, status) in confirmed {
            let status = match status {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(bot_id = bot.id, identifier = %bot.platform_identifier, error = %e, "confirming a missing resource failed; retried next pass");
                    continue;
                }
            };
            let Some((reason, sub_code)) = vanished_reason(listing.kind, &status) else {
                tracing::info!(bot_id = bot.id, identifier = %bot.platform_identifier, "the list missed a running resource");
                continue;
            };
            if fail(r, &bot, listing.kind, &reason, sub_code).await? {
                tracing::warn!(bot_id = bot.id, platform = listing.kind.as_str(), identifier = %bot.platform_identifier, ?status, sub_code, "bot failed: its resource vanished");
                failed += 1;
            }
        }
    }
    Ok(failed)
}

/// FATAL for `bot`, if it still runs on this platform with this identifier (it may have been
/// placed elsewhere since) and is not DONE or FATAL (`lifecycle::apply` leaves those alone).
async fn fail(
    r: &Reconciler,
    bot: &ActiveBot,
    kind: DeploymentPlatform,
    reason: &str,
    sub_code: &'static str,
) -> Result<bool, AppError> {
    let change = Change::fatal(reason, sub_code);
    let mut conn = r.conn().await?;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let same: Option<Id> = diesel::sql_query(
            "SELECT id FROM bots WHERE id = $1 AND deployment_platform = $2 AND platform_identifier = $3 FOR UPDATE",
        )
        .bind::<BigInt, _>(bot.id)
        .bind::<Text, _>(kind.as_str())
        .bind::<Text, _>(&bot.platform_identifier)
        .get_result(conn)
        .await
        .optional()?;
        if same.is_none() {
            return Ok(false);
        }
        Ok(!lifecycle::apply(conn, &[bot.id], &change).await?.is_empty())
    })
    .await
    .map_err(|e| internal("failing a bot whose resource vanished failed", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_resource_is_no_reason() {
        assert_eq!(vanished_reason(DeploymentPlatform::K8s, &ResourceStatus::Running), None);
    }

    #[test]
    fn an_exit_names_the_platform_kindly_and_the_code() {
        let (why, code) =
            vanished_reason(DeploymentPlatform::Aws, &ResourceStatus::Exited { code: Some(137) }).unwrap();
        assert_eq!(code, RESOURCE_EXITED);
        assert_eq!(
            why,
            "The bot's container on AWS ECS exited with code 137 (killed: out of memory, or stopped outside Meeboter) without reporting DONE."
        );
        let (why, _) = vanished_reason(DeploymentPlatform::Local, &ResourceStatus::Exited { code: Some(1) }).unwrap();
        assert_eq!(why, "The bot's process on this server exited with code 1 without reporting DONE.");
        let (why, _) = vanished_reason(DeploymentPlatform::Coolify, &ResourceStatus::Exited { code: None }).unwrap();
        assert_eq!(why, "The bot's container on Coolify stopped without reporting DONE.");
    }

    #[test]
    fn a_gone_resource_says_what_disappeared() {
        let (why, code) = vanished_reason(DeploymentPlatform::K8s, &ResourceStatus::Gone).unwrap();
        assert_eq!(code, RESOURCE_GONE);
        assert!(why.starts_with("The bot's Job on Kubernetes disappeared before the bot reported DONE"), "{why}");
    }
}
