//! The Coolify pool's upkeep against its peer (Prism in front of the fake, or the fake alone):
//! recovery, sync both ways, the image pull lock, the leader worker, and late writes about a
//! previous bot. Helpers in `coolify.rs`.

use std::time::Duration;

use app::backend::platforms::Platform;

use crate::coolify::{Pool, MEET, ZOOM};
use crate::fake_coolify::FakeCoolify;
use crate::support::bot_status;

#[tokio::test]
async fn recovery_resets_error_slots_recreates_lost_applications_and_deletes_after_three_attempts() {
    let mut p = Pool::new(3, false).await;
    let (bot, _) = p.bot(MEET).await;
    let uuid = p.driver.deploy(&bot).await.unwrap().identifier;

    // The deployment fails: ERROR, then recovery resets the slot and fails the still-active bot.
    p.fake.state().deployments.values_mut().for_each(|d| d.status = "failed".into());
    assert_eq!(p.driver.follow_deployments().await.unwrap(), 1);
    assert_eq!(p.slot("true").await.2, "ERROR");
    let r = p.driver.recover().await.unwrap();
    assert_eq!((r.reset, r.failed_bots), (1, 1), "{r:?}");
    assert_eq!(bot_status(&p.app, bot.bot_id).await, "FATAL");
    let sub_code = p
        .app
        .count(&format!(
            "SELECT count(*) AS n FROM events WHERE bot_id = {} AND event_type = 'FATAL' AND data->>'sub_code' = 'POOL_SLOT_RECOVERED'",
            bot.bot_id
        ))
        .await;
    assert_eq!(sub_code, 1);
    let (_, same, status, holder, attempts) = p.slot("true").await;
    assert_eq!((same.as_str(), status.as_str(), holder, attempts), (uuid.as_str(), "IDLE", None, 1));

    // Coolify lost the application: recovery creates it again under the same name.
    p.fake.state().apps.remove(&uuid);
    p.app.exec("UPDATE bot_pool_slots SET status = 'ERROR', error_message = 'container crashed'").await;
    let r = p.driver.recover().await.unwrap();
    assert_eq!(r.recreated, 1, "{r:?}");
    let (name, new_uuid, status, _, attempts) = p.slot("true").await;
    assert_ne!(new_uuid, uuid);
    assert_eq!((name.as_str(), status.as_str(), attempts), ("pool-google-meet-001", "IDLE", 2));
    assert!(p.fake.state().apps.contains_key(&new_uuid));

    // A slot that keeps failing is deleted with its application.
    p.app.exec("UPDATE bot_pool_slots SET status = 'ERROR', recovery_attempts = 3").await;
    let r = p.driver.recover().await.unwrap();
    assert_eq!(r.deleted, 1, "{r:?}");
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots").await, 0);
    assert!(!p.fake.state().apps.contains_key(&new_uuid));
    assert!(p.fake.seen().iter().any(|r| r.starts_with(&format!(
        "DELETE /applications/{new_uuid}?delete_configurations=true&delete_volumes=true&docker_cleanup=true&delete_connected_networks=true"
    ))));
}

#[tokio::test]
async fn recovery_releases_slots_of_finished_bots_and_unsticks_old_deployments() {
    let mut p = Pool::new(3, false).await;
    let (done, _) = p.bot(MEET).await;
    let (stuck, _) = p.bot(ZOOM).await;
    let done_uuid = p.driver.deploy(&done).await.unwrap().identifier;
    let stuck_uuid = p.driver.deploy(&stuck).await.unwrap().identifier;
    p.app.exec(&format!("UPDATE bots SET status = 'DONE' WHERE id = {}", done.bot_id)).await;
    p.app
        .exec(&format!(
            "UPDATE bot_pool_slots SET status_changed_at = now() - interval '16 minutes' WHERE application_uuid = '{stuck_uuid}'"
        ))
        .await;
    let r = p.driver.recover().await.unwrap();
    assert_eq!((r.released, r.reset, r.failed_bots), (1, 1, 1), "{r:?}");
    let (_, _, status, _, attempts) = p.slot(&format!("application_uuid = '{done_uuid}'")).await;
    assert_eq!((status.as_str(), attempts), ("IDLE", 0), "a finished bot's slot is released, not a recovery");
    let (_, _, status, _, attempts) = p.slot(&format!("application_uuid = '{stuck_uuid}'")).await;
    assert_eq!((status.as_str(), attempts), ("IDLE", 1));
    assert_eq!(bot_status(&p.app, stuck.bot_id).await, "FATAL");
}

#[tokio::test]
async fn sync_deletes_unknown_pool_applications_and_slots_whose_application_is_gone() {
    let mut p = Pool::new(3, true).await;
    let (bot, _) = p.bot(ZOOM).await;
    let uuid = p.driver.deploy(&bot).await.unwrap().identifier;
    let orphan = p.fake.add_app("pool-zoom-099");
    let website = p.fake.add_app("company-website");
    // A leftover of a crashed creation, named like the live slot.
    let twin = p.fake.add_app("pool-zoom-001");

    let s = p.driver.sync().await.unwrap();
    assert_eq!((s.coolify_orphans_deleted, s.database_orphans_deleted), (2, 0), "{s:?}");
    assert!(!p.fake.state().apps.contains_key(&orphan));
    assert!(!p.fake.state().apps.contains_key(&twin));
    assert!(p.fake.state().apps.contains_key(&website), "only pool-… applications are Meeboter's");
    assert!(p.fake.state().apps.contains_key(&uuid));

    // Coolify loses the slot's application: a young slot is left alone (it may be being
    // created), an older one is deleted and its bot ends FATAL.
    p.fake.state().apps.remove(&uuid);
    assert_eq!(p.driver.sync().await.unwrap().database_orphans_deleted, 0);
    p.app.exec("UPDATE bot_pool_slots SET created_at = now() - interval '5 minutes'").await;
    let s = p.driver.sync().await.unwrap();
    assert_eq!(s.database_orphans_deleted, 1, "{s:?}");
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots").await, 0);
    assert_eq!(bot_status(&p.app, bot.bot_id).await, "FATAL");
    p.prism.as_ref().unwrap().assert_clean().await;
}

#[tokio::test]
async fn the_image_pull_lock_starts_the_second_slot_only_after_the_first_deployment_finished() {
    let mut p = Pool::new(3, true).await;
    let (first, _) = p.bot(MEET).await;
    let (second, _) = p.bot(MEET).await;
    let first_uuid = p.driver.deploy(&first).await.unwrap().identifier;
    assert_eq!(p.fake.count("POST /applications/"), 2, "create and start of the first slot");
    let driver = p.driver.clone();
    let waiting = tokio::spawn(async move { driver.deploy(&second).await });
    // The second slot is created and configured, but not started while the first pulls.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let starts = |f: &FakeCoolify| f.seen().iter().filter(|r| r.ends_with("/start")).cloned().collect::<Vec<_>>();
    assert_eq!(starts(&p.fake), [format!("POST /applications/{first_uuid}/start")]);
    assert!(!waiting.is_finished());
    p.fake.finish_all();
    let second_uuid =
        tokio::time::timeout(Duration::from_secs(15), waiting).await.unwrap().unwrap().unwrap().identifier;
    assert_ne!(second_uuid, first_uuid);
    assert_eq!(starts(&p.fake).len(), 2);
    let first_finished_read = p.fake.seen().iter().position(|r| r.starts_with("GET /deployments/")).unwrap();
    let second_start =
        p.fake.seen().iter().position(|r| *r == format!("POST /applications/{second_uuid}/start")).unwrap();
    assert!(first_finished_read < second_start);
    // A third slot of the same image does not wait: the image is pulled.
    let (third, _) = p.bot(MEET).await;
    tokio::time::timeout(Duration::from_secs(2), p.driver.deploy(&third)).await.unwrap().unwrap();
    p.prism.as_ref().unwrap().assert_clean().await;
}

#[tokio::test]
async fn the_pool_worker_runs_on_one_leader_and_moves_finished_deployments_to_healthy() {
    use app::backend::workers::coolify_pool::CoolifyPoolWorker;
    let mut p = Pool::new(3, false).await;
    let (bot, _) = p.bot(ZOOM).await;
    let uuid = p.driver.deploy(&bot).await.unwrap().identifier;
    p.fake.finish_all();
    let url = secrecy::ExposeSecret::expose_secret(&p.app.state.config.database_url).to_owned();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let worker = CoolifyPoolWorker { platform: p.driver.clone(), database_url: url.clone() };
            tokio::spawn(worker.run(stopped.clone()))
        })
        .collect();
    for _ in 0..100 {
        if p.slot(&format!("application_uuid = '{uuid}'")).await.2 == "HEALTHY" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(p.slot(&format!("application_uuid = '{uuid}'")).await.2, "HEALTHY");
    let leaders = p
        .app
        .count(
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.objid = 7300020 AND l.granted AND d.datname = current_database()",
        )
        .await;
    assert_eq!(leaders, 1, "exactly one replica leads the pool worker");
    stop.send(true).unwrap();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(5), w).await.unwrap().unwrap();
    }
}

/// A late write about bot A (its release, its deploy's failure, its token) never touches the
/// slot once bot B holds it: every write names the bot the writer read.
#[tokio::test]
async fn late_writes_about_a_previous_bot_never_touch_the_slot_another_bot_holds() {
    use app::backend::auth::bot_tokens::issue_slot_token_for;
    use app::backend::platforms::coolify::build::SlotStatus;
    use app::backend::platforms::coolify::pool;
    let mut p = Pool::new(3, false).await;
    let (a, _) = p.bot(MEET).await;
    let uuid = p.driver.deploy(&a).await.unwrap().identifier;
    p.app.exec(&format!("UPDATE bots SET platform_identifier = '{uuid}' WHERE id = {}", a.bot_id)).await;
    p.driver.release(a.bot_id).await.unwrap();
    let (b, _) = p.bot(MEET).await;
    p.driver.deploy(&b).await.unwrap();
    let (_, _, _, holder, _) = p.slot("true").await;
    assert_eq!(holder, Some(b.bot_id));

    let mut conn = p.app.state.pool.get().await.unwrap();
    let id = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        use diesel_async::RunQueryDsl;
        diesel::sql_query("SELECT id FROM bot_pool_slots").get_result::<Id>(&mut conn).await.unwrap().id
    };
    // What A's release, A's failed deploy and A's token would write, after B claimed the slot.
    assert_eq!(pool::reset_idle(&mut conn, id, Some(a.bot_id), false).await.unwrap(), 0);
    let from = [SlotStatus::Deploying, SlotStatus::Healthy];
    assert_eq!(pool::set_status(&mut conn, id, Some(a.bot_id), &from, SlotStatus::Error, Some("x")).await.unwrap(), 0);
    assert_eq!(pool::set_deployment(&mut conn, id, a.bot_id, Some("late")).await.unwrap(), 0);
    assert!(issue_slot_token_for(&mut conn, id, a.bot_id).await.unwrap().is_none());
    assert!(!pool::holds(&mut conn, id, a.bot_id).await.unwrap());
    drop(conn);
    let (_, _, status, holder, _) = p.slot("true").await;
    assert_eq!((status.as_str(), holder), ("DEPLOYING", Some(b.bot_id)));
    // A's Platform tab no longer shows anything live about the slot B uses.
    let card = p.driver.slot_details(a.bot_id).await.unwrap().unwrap();
    assert!(!card.assigned && card.app_status.is_none() && card.error_message.is_none(), "{card:?}");
}
