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

/// A bot's AWS ECS task (the seeds' `bots.aws.getTask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsTask {
    pub task_arn: String,
    /// The last part of the ARN, as the ECS console shows it.
    pub task_id: String,
    pub cluster: String,
    /// `PROVISIONING`, `PENDING`, `ACTIVATING`, `RUNNING`, `DEACTIVATING`, `STOPPING`,
    /// `DEPROVISIONING` or `STOPPED`.
    pub last_status: String,
    pub desired_status: String,
    /// The task definition's `family:revision`.
    pub task_definition: String,
    /// `FARGATE`, `EC2`, … when started with a launch type.
    pub launch_type: Option<String>,
    /// The capacity provider that placed it (`FARGATE_SPOT`), when started with a strategy.
    pub capacity_provider: Option<String>,
    /// Task-level CPU units and memory (MiB), as ECS writes them (`512`, `1024`).
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub containers: Vec<AwsContainer>,
    /// Why it stopped (`Essential container in task exited`), and the stop code.
    pub stopped_reason: Option<String>,
    pub stop_code: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsContainer {
    pub name: String,
    pub last_status: Option<String>,
    pub exit_code: Option<i32>,
    /// Why the container stopped, when ECS says.
    pub reason: Option<String>,
}

/// The Coolify pool slot a bot runs in (the seeds' `bots.coolify.getSlot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoolifySlot {
    /// `pool-google-meet-001`.
    pub slot_name: String,
    /// The slot's state in the pool: `IDLE`, `DEPLOYING`, `HEALTHY` or `ERROR`.
    pub status: String,
    pub application_uuid: String,
    /// Whether the slot still holds this bot (false once the bot released it).
    pub assigned: bool,
    /// The application's image (`ghcr.io/org/meeboter-zoom-bot:latest`).
    pub image: Option<String>,
    /// The container state Coolify reports (`running:healthy`, `exited:unhealthy`); `None` when
    /// Coolify could not be asked (the reason is in `live_error`).
    pub app_status: Option<String>,
    pub live_error: Option<String>,
    pub limits_cpus: Option<String>,
    pub limits_memory: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub recovery_attempts: i32,
    pub error_message: Option<String>,
}
