//! Rows of replicas that stopped (a crash, `kill -9`, a lost node): their leases ran out.
//!
//! - A PROCESSING row never reached a platform: it simply waits again.
//! - A PLACING row may or may not have started a resource. The platform is asked
//!   ([`crate::backend::platforms::Platform::find`]): a running resource of the bot is adopted
//!   (its identifier stored, the row dropped; the bot's token is the one the placement issued);
//!   otherwise the bot goes back to the queue for the next platform, with an event saying why. A
//!   resource the platform did not list yet is stopped later by the orphan sweep, which keeps
//!   only the resource of the bot's current placement.

use chrono::Utc;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::RunQueryDsl;

use super::place::delete_row;
use super::{Claimed, Deployer, Outcome, STALE_CLAIM};
use crate::backend::error::db;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

#[derive(QueryableByName)]
struct BotNow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    deployment_platform: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    platform_identifier: Option<String>,
}

#[derive(QueryableByName)]
struct Stale {
    #[diesel(sql_type = Nullable<Text>)]
    placing_on: Option<String>,
}

impl Deployer {
    /// Resolves the rows whose replica stopped; answers what became of each PLACING one.
    pub(super) async fn recover_stale(&self) -> Result<Vec<(i64, Outcome)>, AppError> {
        let (permit, mut conn) = self.conn().await?;
        diesel::sql_query(
            "UPDATE deployment_queue SET status = 'WAITING', claimed_by = NULL \
             WHERE status = 'PROCESSING' AND claimed_at < now() - make_interval(secs => $1)",
        )
        .bind::<Double, _>(STALE_CLAIM.as_secs_f64())
        .execute(&mut conn)
        .await
        .map_err(db("releasing stale claims failed"))?;
        // Taken over by this replica (still PLACING, with a fresh lease) while it decides.
        let rows: Vec<ClaimedStale> = diesel::sql_query(
            "UPDATE deployment_queue q SET claimed_by = $1, claimed_at = now() \
             WHERE q.id IN (SELECT id FROM deployment_queue WHERE status = 'PLACING' \
                            AND claimed_at < now() - make_interval(secs => $2) LIMIT 64 FOR UPDATE SKIP LOCKED) \
             RETURNING q.id, q.bot_id, q.timeout_at, q.platform_index, q.platform_since, q.rejected_by, \
                       false AS own_timeout, q.placing_on",
        )
        .bind::<Text, _>(&self.replica)
        .bind::<Double, _>(STALE_CLAIM.as_secs_f64())
        .load(&mut conn)
        .await
        .map_err(db("taking over stale placements failed"))?;
        drop(conn);
        drop(permit);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let bot = r.claim.bot_id;
            let _lease = super::InFlight::new(self, r.claim.id);
            match self.resolve(r.claim, r.stale.placing_on.as_deref().and_then(DeploymentPlatform::parse)).await {
                Ok(o) => out.push((bot, o)),
                Err(e) => {
                    tracing::warn!(bot_id = bot, error = %e, "resolving an interrupted placement failed; will retry")
                }
            }
        }
        Ok(out)
    }

    async fn resolve(&self, mut row: Claimed, platform: Option<DeploymentPlatform>) -> Result<Outcome, AppError> {
        let (permit, mut conn) = self.conn().await?;
        let bot: Option<BotNow> =
            diesel::sql_query("SELECT status, deployment_platform, platform_identifier FROM bots WHERE id = $1")
                .bind::<BigInt, _>(row.bot_id)
                .get_result(&mut conn)
                .await
                .optional()
                .map_err(db("reading an interrupted placement failed"))?;
        let Some(bot) = bot else { return Ok(Outcome::Skipped) };
        let Some(platform) = platform.filter(|p| bot.deployment_platform.as_deref() == Some(p.as_str())) else {
            // Nothing was reserved on a platform we know: wait again.
            diesel::sql_query("UPDATE deployment_queue SET status = 'WAITING', claimed_by = NULL WHERE id = $1")
                .bind::<BigInt, _>(row.id)
                .execute(&mut conn)
                .await
                .map_err(db("requeueing a bot failed"))?;
            return Ok(Outcome::Waiting);
        };
        drop(conn);
        drop(permit);
        let found = match self.platforms.get(platform) {
            Some(driver) => driver.find(row.bot_id).await,
            None => Ok(None),
        };
        let (_permit, mut conn) = self.conn().await?;
        if bot.status != "DEPLOYING" || bot.platform_identifier.is_some() {
            // The bot ran on (it reported a later status) or ended: keep what it has, learn the
            // identifier when the platform knows it, and drop the row.
            if let (Ok(Some(r)), None) = (&found, &bot.platform_identifier) {
                adopt(&mut conn, row.bot_id, platform, &r.identifier).await?;
            }
            delete_row(&mut conn, row.id).await.map_err(db("dropping a queue row failed"))?;
            return Ok(Outcome::Skipped);
        }
        match found {
            Ok(Some(r)) => {
                adopt(&mut conn, row.bot_id, platform, &r.identifier).await?;
                delete_row(&mut conn, row.id).await.map_err(db("dropping a queue row failed"))?;
                tracing::warn!(bot_id = row.bot_id, platform = platform.as_str(), identifier = %r.identifier, "adopted the resource of an interrupted placement");
                Ok(Outcome::Deployed { platform, identifier: r.identifier })
            }
            found => {
                if let Err(e) = found {
                    tracing::warn!(bot_id = row.bot_id, platform = platform.as_str(), error = %e, "cannot tell whether an interrupted placement started; moving the bot on");
                }
                let n = self.platforms.slots().len();
                if usize::try_from(row.platform_index).unwrap_or(0) < n {
                    row.platform_index += 1;
                }
                row.platform_since = Utc::now();
                let event = format!(
                    "Placement on {} was interrupted (the Meeboter replica placing it stopped); trying the next platform.",
                    platform.as_str()
                );
                let requeue = super::failure::Requeue {
                    event,
                    status: "WAITING",
                    next_attempt_at: Utc::now(),
                    last_error: "placement interrupted",
                };
                if self.requeue(&mut conn, &row, None, platform, requeue).await? {
                    Ok(Outcome::Waiting)
                } else {
                    Ok(Outcome::Skipped)
                }
            }
        }
    }
}

#[derive(QueryableByName)]
struct ClaimedStale {
    #[diesel(embed)]
    claim: Claimed,
    #[diesel(embed)]
    stale: Stale,
}

async fn adopt(
    conn: &mut diesel_async::AsyncPgConnection,
    bot_id: i64,
    platform: DeploymentPlatform,
    identifier: &str,
) -> Result<(), AppError> {
    diesel::sql_query(
        "UPDATE bots SET platform_identifier = $2 WHERE id = $1 AND deployment_platform = $3 AND platform_identifier IS NULL",
    )
    .bind::<BigInt, _>(bot_id)
    .bind::<Text, _>(identifier)
    .bind::<Text, _>(platform.as_str())
    .execute(conn)
    .await
    .map_err(db("adopting a resource failed"))?;
    Ok(())
}
