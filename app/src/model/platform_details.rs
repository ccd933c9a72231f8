//! What the Platform tab shows about the resource a bot runs on, per platform (the seeds'
//! `K8sDetails` / `K8sMetrics` and the local process). Typed here so the page never picks
//! apart untyped JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A bot's Kubernetes Job and its pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sDetails {
    pub job: K8sJob,
    /// The Job's pod, once the Job controller has made one.
    pub pod: Option<K8sPod>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sJob {
    pub name: String,
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    pub status: String,
    /// Why the Job failed (its Failed condition's reason and message).
    pub failure: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub completion_time: Option<DateTime<Utc>>,
    /// The node its pod runs on.
    pub node: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sPod {
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    pub node: Option<String>,
    /// The bot container's state: `running`, `waiting: ImagePullBackOff`,
    /// `terminated: OOMKilled (exit 137)`.
    pub container_state: String,
    pub restarts: i32,
}

/// Live CPU and memory of the bot's container against its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum K8sMetrics {
    Available {
        cpu: ResourceUsage,
        memory: ResourceUsage,
    },
    /// No numbers: the metrics API is not installed, or the pod has none yet (the reason says).
    Absent {
        reason: String,
    },
}

/// One resource's usage, as Kubernetes writes quantities (`180m`, `650Mi`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceUsage {
    pub usage: String,
    pub limit: Option<String>,
    /// Usage as a percentage of the limit, rounded, when there is a limit.
    pub percent: Option<u32>,
}

/// A Kubernetes event about the bot's Job or pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sEvent {
    pub time: Option<DateTime<Utc>>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    pub message: String,
    /// `Job/bot-42` or `Pod/bot-42-x7k2p`.
    pub object: String,
    pub count: i32,
}

/// A bot running as a process of this server (the local platform).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalProcess {
    pub pid: u32,
    /// `running`, `exited` or `gone`.
    pub state: String,
    pub exit_code: Option<i32>,
    /// Resident memory, when the process is running (read from /proc).
    pub rss_bytes: Option<u64>,
    /// CPU use over its lifetime, in percent of one core.
    pub cpu_percent: Option<f64>,
    pub uptime_secs: u64,
    pub started_at: DateTime<Utc>,
}
