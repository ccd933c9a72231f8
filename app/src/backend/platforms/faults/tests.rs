//! Each fault of a plan, against an in-memory platform that tells the truth.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::*;
use crate::model::bot::MeetingPlatform;

/// Remembers what it runs; never fails.
#[derive(Default)]
struct Memory {
    running: Mutex<HashMap<String, i64>>,
    stops: AtomicU64,
    releases: AtomicU64,
}

impl Platform for Memory {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::K8s
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }
    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let identifier = format!("job-{}", bot.bot_id);
            self.running.lock().unwrap().insert(identifier.clone(), bot.bot_id);
            Ok(Launched { identifier })
        })
    }
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.stops.fetch_add(1, Ordering::SeqCst);
            self.running.lock().unwrap().remove(identifier);
            Ok(())
        })
    }
    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            Ok(if self.running.lock().unwrap().contains_key(identifier) {
                ResourceStatus::Running
            } else {
                ResourceStatus::Gone
            })
        })
    }
    fn release(&self, _: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            self.releases.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            Ok(self
                .running
                .lock()
                .unwrap()
                .iter()
                .map(|(id, bot)| ResourceSummary {
                    identifier: id.clone(),
                    bot_id: Some(*bot),
                    status: ResourceStatus::Running,
                })
                .collect())
        })
    }
}

fn bot(id: i64) -> BotLaunch {
    BotLaunch {
        bot_id: id,
        meeting_platform: MeetingPlatform::GoogleMeet,
        token: "mbt_test".into(),
        milo_url: "http://127.0.0.1:1".into(),
    }
}

fn faulty(plan: FaultPlan) -> (Arc<Memory>, FaultyPlatform) {
    let memory = Arc::new(Memory::default());
    let platform = FaultyPlatform::new(memory.clone(), Faults::new(plan));
    (memory, platform)
}

fn kind_of<T: std::fmt::Debug>(r: Result<T, PlatformError>) -> ErrorKind {
    r.expect_err("the call should fail").kind
}

#[test]
fn plans_read_from_camel_case_json_with_defaults() {
    let plan: FaultPlan = serde_json::from_str(
        r#"{"latencyMs": 50, "jitterMs": 5, "fault": "wrongAnswer", "rate": 0.25, "calls": ["deploy", "list"], "timeoutMs": 20}"#,
    )
    .unwrap();
    assert_eq!(plan.latency_ms, 50);
    assert_eq!(plan.jitter_ms, 5);
    assert_eq!(plan.fault, Some(Fault::WrongAnswer));
    assert_eq!(plan.rate, 0.25);
    assert_eq!(plan.calls, vec![PlatformCall::Deploy, PlatformCall::List]);
    assert_eq!(plan.timeout_ms, Some(20));
    let empty: FaultPlan = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, FaultPlan::default());
    assert_eq!(empty.rate, 1.0);
    for name in ["http500", "timeout", "throttle", "quota", "wrongAnswer"] {
        let plan: FaultPlan = serde_json::from_str(&format!(r#"{{"fault": "{name}"}}"#)).unwrap();
        assert!(plan.fault.is_some(), "{name}");
    }
    assert!(serde_json::from_str::<FaultPlan>(r#"{"fault": "meteor"}"#).is_err());
    assert!(serde_json::from_str::<FaultPlan>(r#"{"latency": 5}"#).is_err(), "unknown fields are refused");
}

#[test]
fn impossible_plans_are_refused_by_name() {
    let plan = FaultPlan { rate: 1.5, ..FaultPlan::default() };
    assert!(plan.validate().unwrap_err().contains("rate"));
    let plan = FaultPlan { rate: f64::NAN, ..FaultPlan::default() };
    assert!(plan.validate().is_err());
    let plan = FaultPlan { latency_ms: MAX_DELAY_MS + 1, ..FaultPlan::default() };
    assert!(plan.validate().unwrap_err().contains("latencyMs"));
    assert!(FaultPlan::always(Fault::Quota).validate().is_ok());
}

#[tokio::test]
async fn failing_faults_map_to_their_error_kinds() {
    for (fault, kind) in [
        (Fault::Http500, ErrorKind::Unavailable),
        (Fault::Throttle, ErrorKind::Throttled),
        (Fault::Quota, ErrorKind::Capacity),
    ] {
        let (memory, p) = faulty(FaultPlan::always(fault));
        assert_eq!(kind_of(p.deploy(&bot(1)).await), kind, "{fault:?}");
        assert_eq!(kind_of(p.stop("job-1").await), kind);
        assert_eq!(kind_of(p.status("job-1").await), kind);
        assert_eq!(kind_of(p.list().await), kind);
        assert_eq!(kind_of(p.probe().await), kind);
        assert_eq!(kind_of(p.release(1).await), kind);
        assert!(memory.running.lock().unwrap().is_empty(), "a failed deploy starts nothing");
        assert_eq!(memory.stops.load(Ordering::SeqCst), 0);
        assert_eq!(p.faults().counts(), FaultCounts { calls: 6, injected: 6 });
    }
}

#[tokio::test]
async fn a_timeout_waits_its_time_then_fails_unavailable() {
    let (_, p) = faulty(FaultPlan { timeout_ms: Some(80), ..FaultPlan::always(Fault::Timeout) });
    let started = Instant::now();
    let e = p.deploy(&bot(1)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(80), "{:?}", started.elapsed());
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("timed out"), "{e}");
}

#[tokio::test]
async fn latency_is_added_to_every_call_even_without_a_fault() {
    let (_, p) = faulty(FaultPlan { latency_ms: 60, jitter_ms: 10, ..FaultPlan::default() });
    let started = Instant::now();
    p.deploy(&bot(1)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60), "{:?}", started.elapsed());
    assert_eq!(p.status("job-1").await.unwrap(), ResourceStatus::Running);
    assert_eq!(p.faults().counts(), FaultCounts { calls: 2, injected: 0 });
}

#[tokio::test]
async fn wrong_answers_lie_about_every_call() {
    let (memory, p) = faulty(FaultPlan::default());
    p.deploy(&bot(1)).await.unwrap();
    p.faults().set(FaultPlan::always(Fault::WrongAnswer));

    let phantom = p.deploy(&bot(2)).await.unwrap();
    assert!(phantom.identifier.starts_with("phantom-k8s-2-"), "{phantom:?}");
    assert!(!memory.running.lock().unwrap().contains_key("job-2"), "a phantom deploy starts nothing");
    assert_eq!(p.status(&phantom.identifier).await.unwrap(), ResourceStatus::Running, "gone, said running");
    assert_eq!(p.status("job-1").await.unwrap(), ResourceStatus::Gone, "running, said gone");
    assert_eq!(p.list().await.unwrap(), Vec::new(), "list drops everything");
    p.stop("job-1").await.unwrap();
    assert!(memory.running.lock().unwrap().contains_key("job-1"), "a lying stop stops nothing");
    p.release(1).await.unwrap();
    assert_eq!(memory.releases.load(Ordering::SeqCst), 0);
    p.probe().await.unwrap();

    p.faults().clear();
    assert_eq!(p.status("job-1").await.unwrap(), ResourceStatus::Running);
    assert_eq!(p.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_fault_hits_only_the_calls_it_names_and_its_share_of_them() {
    let (memory, p) = faulty(FaultPlan { calls: vec![PlatformCall::Deploy], ..FaultPlan::always(Fault::Http500) });
    assert_eq!(kind_of(p.deploy(&bot(1)).await), ErrorKind::Unavailable);
    memory.running.lock().unwrap().insert("job-9".into(), 9);
    assert_eq!(p.status("job-9").await.unwrap(), ResourceStatus::Running);
    p.stop("job-9").await.unwrap();
    assert_eq!(memory.stops.load(Ordering::SeqCst), 1);

    p.faults().set(FaultPlan { rate: 0.0, ..FaultPlan::always(Fault::Http500) });
    for i in 0..20 {
        p.deploy(&bot(i)).await.unwrap();
    }
    p.faults().set(FaultPlan { rate: 0.5, ..FaultPlan::always(Fault::Http500) });
    let mut failed = 0;
    for i in 0..400 {
        failed += usize::from(p.deploy(&bot(i)).await.is_err());
    }
    assert!((120..=280).contains(&failed), "about half of 400 fail, not {failed}");
}

#[test]
fn the_wrong_status_is_the_opposite_of_the_truth() {
    assert_eq!(wrong_status(&ResourceStatus::Running), ResourceStatus::Gone);
    assert_eq!(wrong_status(&ResourceStatus::Gone), ResourceStatus::Running);
    assert_eq!(wrong_status(&ResourceStatus::Exited { code: Some(0) }), ResourceStatus::Running);
}
