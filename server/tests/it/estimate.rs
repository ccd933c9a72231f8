//! The queue estimate measured over real PostgreSQL (found by the soak harness: creating a bot
//! failed with 500 while any bot was deployed).

use app::backend::deployer::estimate;
use serde_json::json;

use crate::support::TestApp;

/// `extract(epoch ...)` is numeric on PostgreSQL 14+: the age of an active bot must still be read.
#[tokio::test]
async fn the_estimate_is_measured_while_bots_are_active() {
    let mut app = TestApp::builder().var("PLATFORM_PRIORITY", "local").var("LOCAL_BOT_LIMIT", "5").build().await;
    let key = app.user_with_key("Ada").await;
    let (id, _) = app.bot_with_token(&key, json!({ "meetingUrl": "https://meet.google.com/abc-defg-hij" })).await;
    app.exec(&format!("UPDATE bots SET deploying_at = now() - interval '2 seconds' WHERE id = {id}")).await;
    let mut conn = app.state.pool.get().await.unwrap();
    let measured = estimate::measure(&mut conn, &app.state.config.platforms, chrono::Utc::now()).await;
    assert!(measured.is_ok(), "{measured:?}");
}
