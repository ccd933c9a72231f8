//! ECS answers as what Meeboter shows and decides on: the Platform tab's task view and the
//! reconciler's resource status.

use aws_sdk_ecs::primitives::DateTime as AwsTime;
use aws_sdk_ecs::types::Task;
use chrono::{DateTime, Utc};

use super::super::ResourceStatus;
use super::build::{bot_of, task_id};
use crate::model::platform_details::{AwsContainer, AwsTask};

fn time(t: Option<&AwsTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// The task definition's `family:revision`, from its ARN.
fn family_revision(arn: &str) -> String {
    arn.rsplit_once("task-definition/").map(|(_, f)| f.to_owned()).unwrap_or_else(|| arn.to_owned())
}

/// The cluster's name, from its ARN.
fn cluster_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// The Platform tab's view of a task.
pub fn task_view(task: &Task) -> AwsTask {
    let arn = task.task_arn().unwrap_or_default().to_owned();
    AwsTask {
        task_id: task_id(&arn).to_owned(),
        cluster: cluster_name(task.cluster_arn().unwrap_or_default()),
        last_status: task.last_status().unwrap_or("UNKNOWN").to_owned(),
        desired_status: task.desired_status().unwrap_or("UNKNOWN").to_owned(),
        task_definition: family_revision(task.task_definition_arn().unwrap_or_default()),
        // moto (and a task started with a strategy) may answer an empty launch type.
        launch_type: task.launch_type().map(|l| l.as_str().to_owned()).filter(|l| !l.is_empty()),
        capacity_provider: task.capacity_provider_name().filter(|c| !c.is_empty()).map(str::to_owned),
        cpu: task.cpu().map(str::to_owned),
        memory: task.memory().map(str::to_owned),
        containers: task
            .containers()
            .iter()
            .map(|c| AwsContainer {
                name: c.name().unwrap_or_default().to_owned(),
                last_status: c.last_status().map(str::to_owned),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
            })
            .collect(),
        stopped_reason: task.stopped_reason().map(str::to_owned),
        stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
        created_at: time(task.created_at()),
        started_at: time(task.started_at()),
        stopped_at: time(task.stopped_at()),
        task_arn: arn,
    }
}

/// Whether the bot's task still runs, as the reconciler needs it: every state before STOPPED
/// (provisioning, pending, running, stopping) holds the bot's resource; STOPPED has the bot
/// container's exit code when ECS knows it.
pub fn resource_status(task: &Task) -> ResourceStatus {
    match task.last_status().unwrap_or_default() {
        "STOPPED" | "DELETED" => {
            let code = task.containers().iter().find_map(|c| c.exit_code());
            ResourceStatus::Exited { code }
        }
        _ => ResourceStatus::Running,
    }
}

/// The bot a task belongs to (its `botId` tag).
pub fn task_bot(task: &Task) -> Option<i64> {
    bot_of(task.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Container, LaunchType, Tag, TaskStopCode};

    use super::*;

    fn stopped_spot_task() -> Task {
        Task::builder()
            .task_arn("arn:aws:ecs:eu-west-1:123456789012:task/bots/4d1c9e8a7b6f")
            .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/bots")
            .task_definition_arn("arn:aws:ecs:eu-west-1:123456789012:task-definition/meeboter-zoom-bot:7")
            .last_status("STOPPED")
            .desired_status("STOPPED")
            .capacity_provider_name("FARGATE_SPOT")
            .cpu("512")
            .memory("1024")
            .containers(
                Container::builder()
                    .name("zoom-bot")
                    .last_status("STOPPED")
                    .exit_code(137)
                    .reason("OutOfMemoryError: Container killed due to memory usage")
                    .build(),
            )
            .stopped_reason("Essential container in task exited")
            .stop_code(TaskStopCode::EssentialContainerExited)
            .created_at(AwsTime::from_secs(1_764_460_800))
            .started_at(AwsTime::from_secs(1_764_460_830))
            .stopped_at(AwsTime::from_secs(1_764_462_600))
            .tags(Tag::builder().key("botId").value("42").build())
            .build()
    }

    #[test]
    fn a_stopped_spot_task_shows_its_placement_container_and_reason() {
        let v = task_view(&stopped_spot_task());
        assert_eq!(v.task_id, "4d1c9e8a7b6f");
        assert_eq!(v.cluster, "bots");
        assert_eq!(v.task_definition, "meeboter-zoom-bot:7");
        assert_eq!(v.capacity_provider.as_deref(), Some("FARGATE_SPOT"));
        assert_eq!(v.launch_type, None);
        assert_eq!(v.containers[0].exit_code, Some(137));
        assert_eq!(v.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(v.started_at.unwrap().timestamp(), 1_764_460_830);
        assert_eq!(resource_status(&stopped_spot_task()), ResourceStatus::Exited { code: Some(137) });
        assert_eq!(task_bot(&stopped_spot_task()), Some(42));
    }

    #[test]
    fn every_state_before_stopped_holds_the_resource() {
        for s in ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"] {
            let t = Task::builder().last_status(s).launch_type(LaunchType::Fargate).build();
            assert_eq!(resource_status(&t), ResourceStatus::Running, "{s}");
            assert_eq!(task_view(&t).launch_type.as_deref(), Some("FARGATE"));
        }
    }
}
