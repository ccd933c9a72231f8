//! What the API answers, as the Platform tab shows it and the deployer needs it: plain
//! functions from k8s-openapi objects to the typed views of `model::platform_details`.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Deserialize;

use super::build::CONTAINER;
use crate::backend::platforms::ResourceStatus;
use crate::model::platform_details::{K8sEvent, K8sJob, K8sMetrics, K8sPod, ResourceUsage};

/// `metrics.k8s.io/v1beta1` PodMetrics (not part of k8s-openapi): only what we read.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    pub usage: std::collections::BTreeMap<String, String>,
}

fn time(t: &Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.0.as_second(), u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0))
}

fn condition_true<'a>(job: &'a Job, kind: &str) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == kind && c.status == "True")
}

/// The bot container's status in a pod.
fn container_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.iter().find(|c| c.name == CONTAINER)
}

/// The exit code of the bot container, once it has terminated.
pub fn exit_code(pod: &Pod) -> Option<i32> {
    container_status(pod)?.state.as_ref()?.terminated.as_ref().map(|t| t.exit_code)
}

/// What became of a Job (and its pod, for the exit code).
pub fn resource_status(job: &Job, pod: Option<&Pod>) -> ResourceStatus {
    if condition_true(job, "Complete").is_some() {
        ResourceStatus::Exited { code: Some(pod.and_then(exit_code).unwrap_or(0)) }
    } else if condition_true(job, "Failed").is_some() {
        ResourceStatus::Exited { code: pod.and_then(exit_code) }
    } else {
        ResourceStatus::Running
    }
}

/// The Job card: name, status, times, node.
pub fn job_view(job: &Job, pod: Option<&Pod>) -> K8sJob {
    let status = job.status.as_ref();
    let pod_phase = pod.and_then(|p| p.status.as_ref()?.phase.as_deref());
    let (state, failure) = if condition_true(job, "Complete").is_some() {
        ("Succeeded", None)
    } else if let Some(c) = condition_true(job, "Failed") {
        let why = [c.reason.as_deref(), c.message.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        ("Failed", Some(why).filter(|w| !w.is_empty()))
    } else if status.and_then(|s| s.ready).unwrap_or(0) > 0 || pod_phase == Some("Running") {
        ("Running", None)
    } else {
        ("Pending", None)
    };
    K8sJob {
        name: job.metadata.name.clone().unwrap_or_default(),
        status: state.to_owned(),
        failure,
        start_time: status.and_then(|s| s.start_time.as_ref()).and_then(time),
        completion_time: status.and_then(|s| s.completion_time.as_ref()).and_then(time),
        node: pod.and_then(|p| p.spec.as_ref()?.node_name.clone()),
    }
}

/// The Pod card: name, phase, node, the bot container's state and restarts.
pub fn pod_view(pod: &Pod) -> K8sPod {
    let container = container_status(pod);
    let state = container.and_then(|c| c.state.as_ref());
    let container_state = match state.map(|s| (&s.running, &s.terminated, &s.waiting)) {
        None => "not started".to_owned(),
        Some((Some(_), _, _)) => "running".to_owned(),
        Some((_, Some(t), _)) => match &t.reason {
            Some(reason) => format!("terminated: {reason} (exit {})", t.exit_code),
            None => format!("terminated (exit {})", t.exit_code),
        },
        Some((_, _, waiting)) => match waiting.as_ref().and_then(|w| w.reason.as_deref()) {
            Some(reason) => format!("waiting: {reason}"),
            None => "waiting".to_owned(),
        },
    };
    K8sPod {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".to_owned()),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        container_state,
        restarts: container.map_or(0, |c| c.restart_count),
    }
}

/// The newest `limit` events, newest first.
pub fn events_view(events: impl IntoIterator<Item = Event>, limit: usize) -> Vec<K8sEvent> {
    let mut all: Vec<K8sEvent> = events
        .into_iter()
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .and_then(time)
                .or_else(|| e.event_time.as_ref().and_then(|t| DateTime::from_timestamp(t.0.as_second(), 0)))
                .or_else(|| e.first_timestamp.as_ref().and_then(time))
                .or_else(|| e.metadata.creation_timestamp.as_ref().and_then(time));
            K8sEvent {
                time: when,
                kind: e.type_.unwrap_or_else(|| "Normal".to_owned()),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                object: format!(
                    "{}/{}",
                    e.involved_object.kind.unwrap_or_default(),
                    e.involved_object.name.unwrap_or_default()
                ),
                count: e.count.unwrap_or(1),
            }
        })
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.time));
    all.truncate(limit);
    all
}

/// CPU and memory of the bot container against its limits (from the pod's spec).
pub fn metrics_view(metrics: &PodMetrics, pod: &Pod) -> K8sMetrics {
    let Some(usage) = metrics.containers.iter().find(|c| c.name == CONTAINER).map(|c| &c.usage) else {
        return K8sMetrics::Absent { reason: "the metrics API has no numbers for the bot container yet".to_owned() };
    };
    let limits = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.resources.as_ref()?.limits.clone())
        .unwrap_or_default();
    let one = |key: &str, show: fn(f64) -> String| {
        let used = usage.get(key).and_then(|q| parse_quantity(q));
        let limit = limits.get(key).and_then(|q| parse_quantity(&q.0));
        let percent = match (used, limit) {
            (Some(u), Some(l)) if l > 0.0 => Some((u / l * 100.0).round() as u32),
            _ => None,
        };
        ResourceUsage { usage: used.map_or_else(|| "-".to_owned(), show), limit: limit.map(show), percent }
    };
    K8sMetrics::Available { cpu: one("cpu", show_cpu), memory: one("memory", show_memory) }
}

/// Cores as millicores (`180m`, `1000m`), as the API server may answer `1` for `1000m`.
pub fn show_cpu(cores: f64) -> String {
    format!("{}m", (cores * 1000.0).round() as u64)
}

/// Bytes in whole GiB when they are (`2Gi`), otherwise in MiB (`650Mi`).
pub fn show_memory(bytes: f64) -> String {
    const MI: f64 = 1024.0 * 1024.0;
    const GI: f64 = MI * 1024.0;
    if bytes >= GI && (bytes % GI).abs() < 1.0 {
        format!("{}Gi", (bytes / GI) as u64)
    } else {
        format!("{}Mi", (bytes / MI).round() as u64)
    }
}

/// A Kubernetes quantity (`180m`, `250000000n`, `1.5`, `650Mi`, `1G`) as a number of its base
/// unit (cores, bytes).
pub fn parse_quantity(q: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 15] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Pi", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Ei", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let q = q.trim();
    for (suffix, factor) in SUFFIXES {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| v * factor);
        }
    }
    q.parse::<f64>().ok().filter(|v| v.is_finite())
}
