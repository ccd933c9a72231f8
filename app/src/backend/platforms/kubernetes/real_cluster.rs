//! A bot Job end to end against a real cluster. Ignored by default; run it with a kubeconfig
//! (k8s/README.md):
//! `K8S_KUBECONFIG=~/.kube/config cargo test -p app --features ssr --lib kubernetes::real_cluster -- --ignored --nocapture`
//! It uses `K8S_NAMESPACE` (default `meeboter`), `K8S_IMAGE_REGISTRY`, `K8S_IMAGE_TAG` and
//! `K8S_IMAGE_PULL_SECRET` from the environment, like the server.

use std::time::Duration;

use super::*;
use crate::backend::config::{Config, Vars};
use crate::model::bot::MeetingPlatform;

#[tokio::test]
#[ignore = "needs a Kubernetes cluster: set K8S_KUBECONFIG (k8s/README.md)"]
async fn a_bot_job_runs_and_is_stopped_on_a_real_cluster() {
    assert!(std::env::var_os("K8S_KUBECONFIG").is_some(), "set K8S_KUBECONFIG to the cluster's kubeconfig");
    let mut vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("K8S_")).collect();
    vars.extend([
        ("DATABASE_URL".to_owned(), "postgres://unused@127.0.0.1/unused".to_owned()),
        ("PLATFORM_PRIORITY".to_owned(), "k8s".to_owned()),
        ("K8S_BOT_LIMIT".to_owned(), "1".to_owned()),
    ]);
    let config = Config::from_vars(&vars.into_iter().collect::<Vars>()).expect("configuration");
    let k8s = KubernetesPlatform::connect(&config.k8s, None, None).await.expect("client");
    k8s.probe().await.expect("the cluster answers and lets us list Jobs");

    // A bot id no real bot has; the bot cannot reach this Meeboter and exits, which is enough.
    let bot_id = 900_000_000 + i64::from(std::process::id() % 1_000_000);
    let launch = BotLaunch {
        bot_id,
        meeting_platform: MeetingPlatform::GoogleMeet,
        token: "mbt_real_cluster_test".into(),
        milo_url: "http://127.0.0.1:9".into(),
    };
    let launched = k8s.deploy(&launch).await.expect("deploy");
    assert_eq!(launched.identifier, build::job_name(bot_id));
    let listed = k8s.list().await.expect("list");
    assert!(listed.iter().any(|r| r.identifier == launched.identifier && r.bot_id == Some(bot_id)), "{listed:?}");

    // The pod is scheduled and its container starts (or has run) within five minutes.
    let mut started = false;
    for _ in 0..100 {
        let details = k8s.job_details(&launched.identifier).await.expect("details");
        println!("job {:?} pod {:?}", details.job.status, details.pod.as_ref().map(|p| &p.container_state));
        if details
            .pod
            .as_ref()
            .is_some_and(|p| !p.container_state.starts_with("waiting") && p.container_state != "not started")
        {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let events = k8s.events(&launched.identifier, 10).await.expect("events");
    println!("events: {events:#?}");
    println!("metrics: {:?}", k8s.metrics(&launched.identifier).await.expect("metrics"));
    assert!(started, "the bot's container never started");
    assert!(events.iter().any(|e| e.reason == "Scheduled" || e.reason == "SuccessfulCreate"), "{events:?}");

    k8s.stop(&launched.identifier).await.expect("stop");
    k8s.stop(&launched.identifier).await.expect("a second stop succeeds too");
    for _ in 0..30 {
        if k8s.status(&launched.identifier).await.expect("status") == ResourceStatus::Gone {
            return;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    panic!("the Job was not deleted within a minute");
}
