//! The Coolify pool driver against its peer: Prism serving Coolify's official document in
//! validating proxy mode, in front of a stateful fake (`fake_coolify.rs`), with a real
//! PostgreSQL. Here: deploy, slot reuse with fresh tokens, creation under contention from two
//! replicas, a full pool, release, the bot-facing slot route, and the helpers the other files
//! share; `coolify_upkeep.rs` has recovery, sync, the pull lock and the worker,
//! `coolify_errors.rs` the error kinds and old servers.

use std::sync::Arc;
use std::time::Duration;

use app::backend::config::CoolifyConfig;
use app::backend::db;
use app::backend::platforms::coolify::CoolifyPlatform;
use app::backend::platforms::{BotLaunch, ErrorKind, Platform, ResourceStatus};
use app::model::bot::MeetingPlatform;
use http::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::fake_coolify::{FakeCoolify, ENVIRONMENT_UUID, TOKEN};
use crate::prism::{coolify_document, Prism};
use crate::support::TestApp;

pub(crate) const MEET: &str = "https://meet.google.com/abc-defg-hij";
pub(crate) const ZOOM: &str = "https://zoom.us/j/1";

pub(crate) fn config(url: &str, limit: u32) -> CoolifyConfig {
    CoolifyConfig {
        api_url: Some(url.parse().unwrap()),
        api_token: Some(SecretString::from(TOKEN)),
        project_uuid: Some("proj0uuid".into()),
        server_uuid: Some("srv0uuid".into()),
        environment_name: "production".into(),
        destination_uuid: Some("dest0uuid".into()),
        image_registry: "ghcr.io/acme".into(),
        image_tag: "v1.2.3".into(),
        bot_cpus: "1".into(),
        bot_memory: "2048m".into(),
        bot_limit: Some(limit),
        queue_timeout: Duration::from_secs(300),
    }
}

/// A test app, the fake, perhaps Prism in front of it, and a driver over them.
pub(crate) struct Pool {
    pub(crate) app: TestApp,
    pub(crate) fake: FakeCoolify,
    pub(crate) prism: Option<Prism>,
    pub(crate) driver: Arc<CoolifyPlatform>,
    /// The URL the driver talks to (Prism's, or the fake's).
    pub(crate) url: String,
    pub(crate) key: String,
}

impl Pool {
    pub(crate) async fn new(limit: u32, through_prism: bool) -> Pool {
        let mut app = TestApp::new().await;
        let key = app.user_with_key("Ada").await;
        let fake = FakeCoolify::default();
        let upstream = fake.start().await;
        let prism = if through_prism { Some(Prism::proxy(coolify_document(), &upstream).await) } else { None };
        let url = prism.as_ref().map_or(upstream, |p| p.url.clone());
        let driver = Arc::new(CoolifyPlatform::connect(&config(&url, limit), None, app.state.pool.clone()).unwrap());
        Pool { app, fake, prism, driver, url, key }
    }

    /// A bot in DEPLOYING on Coolify, as the dispatcher leaves it before calling the driver.
    pub(crate) async fn bot(&mut self, url: &str) -> (BotLaunch, String) {
        let (id, token) = self.app.bot_with_token(&self.key, json!({ "meetingUrl": url })).await;
        self.app.exec(&format!("UPDATE bots SET deployment_platform = 'coolify' WHERE id = {id}")).await;
        let meeting_platform = if url.contains("zoom") { MeetingPlatform::Zoom } else { MeetingPlatform::GoogleMeet };
        (
            BotLaunch { bot_id: id, meeting_platform, token: token.clone(), milo_url: "https://m.example.com".into() },
            token,
        )
    }

    pub(crate) async fn slot(&self, sql_where: &str) -> (String, String, String, Option<i64>, i32) {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            slot_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            application_uuid: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            status: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
            assigned_bot_id: Option<i64>,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            recovery_attempts: i32,
        }
        use diesel_async::RunQueryDsl;
        let mut conn = self.app.state.pool.get().await.unwrap();
        let r: Row = diesel::sql_query(format!(
            "SELECT slot_name, application_uuid, status, assigned_bot_id, recovery_attempts FROM bot_pool_slots WHERE {sql_where}"
        ))
        .get_result(&mut conn)
        .await
        .unwrap();
        (r.slot_name, r.application_uuid, r.status, r.assigned_bot_id, r.recovery_attempts)
    }

    /// The slot route as a bot calls it (tRPC) with `token`.
    pub(crate) async fn get_slot(&mut self, uuid: &str, token: &str) -> (StatusCode, serde_json::Value) {
        let q = crate::trpc::input(json!({ "0": { "json": { "poolSlotUuid": uuid } } }));
        let path = format!("/api/trpc/infrastructure.coolify.pool.getSlot?batch=1&input={q}");
        let r = self.app.raw("GET", &path, &[("x-milo-token", token)], None).await;
        let body = serde_json::from_str(&r.body).unwrap_or_default();
        (r.status, body)
    }
}

/// The value of `key` in the last environment sent to application `uuid`.
pub(crate) fn env_of(fake: &FakeCoolify, uuid: &str, key: &str) -> Option<String> {
    fake.state().apps.get(uuid).and_then(|a| a.envs.get(key).cloned())
}

#[tokio::test]
async fn a_bot_deploys_on_a_new_slot_through_prism_with_every_request_valid() {
    let mut p = Pool::new(5, true).await;
    p.driver.probe().await.unwrap();
    let (bot, bot_token) = p.bot(MEET).await;
    let launched = p.driver.deploy(&bot).await.unwrap();
    let uuid = launched.identifier.clone();

    let seen = p.fake.seen();
    let order: Vec<&str> = seen.iter().map(|s| s.split('?').next().unwrap()).collect();
    assert_eq!(
        order,
        [
            "GET /version".to_owned(),
            "GET /projects/proj0uuid/production".to_owned(),
            "POST /applications/dockerimage".to_owned(),
            format!("PATCH /applications/{uuid}/envs/bulk"),
            format!("PATCH /applications/{uuid}"),
            format!("POST /applications/{uuid}/start"),
        ]
    );
    let create = p.fake.body_of("POST /applications/dockerimage", 0);
    assert_eq!(create["name"], "pool-google-meet-001");
    assert_eq!(create["environment_uuid"], ENVIRONMENT_UUID);
    assert_eq!(create["environment_name"], "production");
    assert_eq!(create["destination_uuid"], "dest0uuid");
    assert_eq!(create["docker_registry_image_name"], "ghcr.io/acme/meeboter-google-meet-bot");
    assert_eq!(create["docker_registry_image_tag"], "v1.2.3");
    assert_eq!(create["instant_deploy"], false);
    // The slot is named by its UUID and carries the slot's own token, not the bot's.
    assert_eq!(env_of(&p.fake, &uuid, "POOL_SLOT_UUID").as_deref(), Some(uuid.as_str()));
    assert_eq!(env_of(&p.fake, &uuid, "BOT_ID"), None);
    let slot_token = env_of(&p.fake, &uuid, "MILO_AUTH_TOKEN").unwrap();
    assert!(slot_token.starts_with("mbt_") && slot_token != bot_token);
    assert!(p.fake.state().apps[&uuid].description.starts_with(&format!("[DEPLOYING] Bot #{}", bot.bot_id)));

    let (name, _, status, holder, _) = p.slot(&format!("application_uuid = '{uuid}'")).await;
    assert_eq!((name.as_str(), status.as_str(), holder), ("pool-google-meet-001", "DEPLOYING", Some(bot.bot_id)));

    // The slot asks which bot it runs, with its token.
    let (code, body) = p.get_slot(&uuid, &slot_token).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body[0]["result"]["data"]["json"]["id"], bot.bot_id);

    // The worker sees the deployment finish: HEALTHY, described as busy.
    assert_eq!(p.driver.follow_deployments().await.unwrap(), 0, "still queued");
    p.fake.finish_all();
    assert_eq!(p.driver.follow_deployments().await.unwrap(), 1);
    assert_eq!(p.slot(&format!("application_uuid = '{uuid}'")).await.2, "HEALTHY");
    assert!(p.fake.state().apps[&uuid].description.starts_with(&format!("[BUSY] Bot #{}", bot.bot_id)));
    assert_eq!(p.driver.status(&uuid).await.unwrap(), ResourceStatus::Running);
    let listed = p.driver.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].bot_id, Some(bot.bot_id));

    // The Platform tab's card.
    let card = p.driver.slot_details(bot.bot_id).await.unwrap().unwrap();
    assert_eq!(card.slot_name, "pool-google-meet-001");
    assert!(card.assigned);
    assert_eq!(card.image.as_deref(), Some("ghcr.io/acme/meeboter-google-meet-bot:v1.2.3"));
    assert_eq!(card.app_status.as_deref(), Some("running:healthy"));
    assert_eq!((card.limits_cpus.as_deref(), card.limits_memory.as_deref()), (Some("1"), Some("2048m")));
    assert_eq!(card.live_error, None);

    p.prism.as_ref().unwrap().assert_clean().await;
}

#[tokio::test]
async fn a_released_slot_is_reused_with_a_new_token_and_the_old_token_opens_nothing() {
    let mut p = Pool::new(5, true).await;
    let (first, _) = p.bot(MEET).await;
    let uuid = p.driver.deploy(&first).await.unwrap().identifier;
    let old_token = env_of(&p.fake, &uuid, "MILO_AUTH_TOKEN").unwrap();
    // As the deployer records it.
    p.app.exec(&format!("UPDATE bots SET platform_identifier = '{uuid}' WHERE id = {}", first.bot_id)).await;
    p.fake.finish_all();
    p.driver.follow_deployments().await.unwrap();

    // The bot finishes; release stops the application and frees the slot.
    p.app.exec(&format!("UPDATE bots SET status = 'DONE', token_hash = NULL WHERE id = {}", first.bot_id)).await;
    p.driver.release(first.bot_id).await.unwrap();
    p.driver.release(first.bot_id).await.unwrap();
    assert!(p.fake.seen().contains(&format!("POST /applications/{uuid}/stop")));
    assert_eq!(p.fake.state().apps[&uuid].status, "exited:unhealthy");
    let (_, _, status, holder, attempts) = p.slot(&format!("application_uuid = '{uuid}'")).await;
    assert_eq!((status.as_str(), holder, attempts), ("IDLE", None, 0));
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots WHERE token_hash IS NOT NULL").await, 0);
    assert!(p.fake.state().apps[&uuid].description.starts_with("[IDLE] Available - Last used: "));
    let (code, _) = p.get_slot(&uuid, &old_token).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "an idle slot has no bot");

    // The next bot of the platform gets the same slot, with a new token.
    let (second, _) = p.bot(MEET).await;
    assert_eq!(p.driver.deploy(&second).await.unwrap().identifier, uuid);
    assert_eq!(p.fake.count("POST /applications/dockerimage"), 1, "no second application");
    let new_token = env_of(&p.fake, &uuid, "MILO_AUTH_TOKEN").unwrap();
    assert_ne!(new_token, old_token);
    let (code, body) = p.get_slot(&uuid, &new_token).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body[0]["result"]["data"]["json"]["id"], second.bot_id);
    let (code, _) = p.get_slot(&uuid, &old_token).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "the previous bot's slot token must not open the new bot");
    let r = p
        .app
        .raw("POST", &format!("/api/v1/bot/{}/heartbeat", second.bot_id), &[("x-milo-token", &old_token)], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = p.app.raw("GET", &format!("/api/v1/bot/slots/{uuid}/config"), &[("x-milo-token", &new_token)], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["id"], second.bot_id);

    // The first bot's Platform tab still shows the slot it used, as released.
    let card = p.driver.slot_details(first.bot_id).await.unwrap().unwrap();
    assert_eq!(card.application_uuid, uuid);
    assert!(!card.assigned);
    assert!(p.driver.slot_details(second.bot_id).await.unwrap().unwrap().assigned);
    p.prism.as_ref().unwrap().assert_clean().await;
}

#[tokio::test]
async fn stopping_an_old_bot_never_stops_the_slot_now_running_another_bot() {
    let mut p = Pool::new(5, false).await;
    let (first, _) = p.bot(ZOOM).await;
    let uuid = p.driver.deploy(&first).await.unwrap().identifier;
    p.app.exec(&format!("UPDATE bots SET status = 'DONE' WHERE id = {}", first.bot_id)).await;
    p.driver.release(first.bot_id).await.unwrap();
    let (second, _) = p.bot(ZOOM).await;
    assert_eq!(p.driver.deploy(&second).await.unwrap().identifier, uuid);
    let stops = p.fake.count(&format!("POST /applications/{uuid}/stop"));

    // The first bot's owner presses Stop (or the reconciler retries): its identifier is the
    // slot's application, which now runs the second bot.
    p.driver.stop(&uuid).await.unwrap();
    assert_eq!(p.fake.count(&format!("POST /applications/{uuid}/stop")), stops, "the second bot must keep running");
    // Once the second bot is finished too, stop stops.
    p.app.exec(&format!("UPDATE bots SET status = 'FATAL' WHERE id = {}", second.bot_id)).await;
    p.driver.stop(&uuid).await.unwrap();
    assert_eq!(p.fake.count(&format!("POST /applications/{uuid}/stop")), stops + 1);
}

#[tokio::test]
async fn two_replicas_creating_slots_at_once_never_share_a_name_nor_pass_the_limit() {
    let mut p = Pool::new(5, false).await;
    // Deployments finish when looked at, so slots waiting on the image pull lock go on.
    p.fake.state().finish_on_read = true;
    let other_user = p.app.user_with_key("Bob").await;
    let url = p.app.state.config.database_url.clone();
    let other_pool = db::build_pool(secrecy::ExposeSecret::expose_secret(&url), 4).unwrap();
    let replica = Arc::new(CoolifyPlatform::connect(&config(&p.url, 5), None, other_pool).unwrap());
    let mut bots = Vec::new();
    for i in 0..8 {
        // Two users: each may create 5 bots a day.
        if i == 4 {
            p.key = other_user.clone();
        }
        bots.push(p.bot(if i % 2 == 0 { MEET } else { ZOOM }).await.0);
    }
    let tasks: Vec<_> = bots
        .into_iter()
        .enumerate()
        .map(|(i, bot)| {
            let driver = if i % 2 == 0 { p.driver.clone() } else { replica.clone() };
            tokio::spawn(async move { driver.deploy(&bot).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.kind, ErrorKind::Capacity, "{e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots").await, 5);
    assert_eq!(p.app.count("SELECT count(DISTINCT slot_name) AS n FROM bot_pool_slots").await, 5);
    assert_eq!(
        p.app.count("SELECT count(*) AS n FROM bot_pool_slots WHERE application_uuid LIKE 'pending-%'").await,
        0
    );
    let names: Vec<String> = p.fake.state().apps.values().map(|a| a.name.clone()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "{names:?}");
}

#[tokio::test]
async fn a_full_pool_repurposes_an_idle_slot_of_another_platform_and_is_capacity_only_when_all_are_busy() {
    let mut p = Pool::new(1, false).await;
    let (zoom, _) = p.bot(ZOOM).await;
    let zoom_app = p.driver.deploy(&zoom).await.unwrap().identifier;
    p.app.exec(&format!("UPDATE bots SET status = 'DONE' WHERE id = {}", zoom.bot_id)).await;
    p.driver.release(zoom.bot_id).await.unwrap();
    // The one slot is idle, but a Zoom slot: it becomes a Meet slot (its application replaced).
    let (meet, _) = p.bot(MEET).await;
    let meet_app = p.driver.deploy(&meet).await.unwrap().identifier;
    assert_ne!(meet_app, zoom_app);
    let (name, uuid, status, holder, _) = p.slot("true").await;
    assert_eq!(
        (name.as_str(), uuid.as_str(), status.as_str(), holder),
        ("pool-google-meet-001", meet_app.as_str(), "DEPLOYING", Some(meet.bot_id))
    );
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots").await, 1);
    assert_eq!(p.fake.count(&format!("DELETE /applications/{zoom_app}")), 1, "the Zoom application is deleted");
    assert!(!p.fake.state().apps.contains_key(&zoom_app));
    // Every slot busy: capacity, with a message that says so.
    let (zoom2, _) = p.bot(ZOOM).await;
    let e = p.driver.deploy(&zoom2).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Capacity, "{e}");
    assert!(e.message.contains("pool is full") && e.message.contains("zoom"), "{e}");
}

#[tokio::test]
async fn a_failed_create_frees_the_name_and_a_retried_deploy_gets_its_slot_back() {
    let mut p = Pool::new(3, false).await;
    let (bot, _) = p.bot(ZOOM).await;
    p.fake.fail_next("POST", "/applications/dockerimage", 422, json!({ "message": "Validation failed.", "errors": { "docker_registry_image_name": ["The docker registry image name field is required."] } }));
    let e = p.driver.deploy(&bot).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert!(e.message.contains("docker_registry_image_name: The docker registry image name field is required."), "{e}");
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots").await, 0, "the placeholder is deleted");

    // A start that fails leaves the slot in ERROR; a retry of the same bot gets that slot back.
    p.fake.fail_next("POST", "/start", 503, json!({ "message": "Service Unavailable" }));
    let e = p.driver.deploy(&bot).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    let (name, uuid, status, holder, _) = p.slot("true").await;
    assert_eq!((name.as_str(), status.as_str(), holder), ("pool-zoom-001", "ERROR", Some(bot.bot_id)));
    assert_eq!(p.driver.deploy(&bot).await.unwrap().identifier, uuid);
    assert_eq!(p.app.count("SELECT count(*) AS n FROM bot_pool_slots").await, 1);
    assert_eq!(p.slot("true").await.2, "DEPLOYING", "the retried slot deploys again, it is not left in ERROR");
    assert_eq!(p.driver.recover().await.unwrap(), Default::default());
}

#[tokio::test]
async fn a_failed_stop_on_release_leaves_the_slot_in_error_for_recovery() {
    let mut p = Pool::new(3, false).await;
    let (bot, _) = p.bot(ZOOM).await;
    let uuid = p.driver.deploy(&bot).await.unwrap().identifier;
    p.app.exec(&format!("UPDATE bots SET status = 'DONE' WHERE id = {}", bot.bot_id)).await;
    p.fake.fail_next("POST", "/stop", 500, json!({ "message": "Server Error" }));
    let e = p.driver.release(bot.bot_id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    let (_, _, status, _, _) = p.slot(&format!("application_uuid = '{uuid}'")).await;
    assert_eq!(status, "ERROR");
    // Recovery stops it and resets it, counting the attempt.
    let r = p.driver.recover().await.unwrap();
    assert_eq!(r.reset, 1, "{r:?}");
    let (_, _, status, holder, attempts) = p.slot(&format!("application_uuid = '{uuid}'")).await;
    assert_eq!((status.as_str(), holder, attempts), ("IDLE", None, 1));
}
