//! The Platform tab of a bot on AWS ECS (replaces `bots.aws.getTask`): for the bot's owner or
//! an administrator, and only for a bot that ran on ECS (400 otherwise).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::error::AppError;
use crate::model::platform_details::AwsTask;

/// The bot's ECS task: ARN, statuses, task definition, placement, containers, why it stopped.
#[server(prefix = "/fn", endpoint = "get_aws_task", input = Json)]
pub async fn get_aws_task(id: i64) -> Result<AwsTask, AppError> {
    use crate::backend::platforms::ecs::EcsPlatform;
    use crate::backend::services::bots::platform::platform_failure;
    use crate::model::platform::DeploymentPlatform;
    let (ecs, arn) = super::platform::resource_of::<EcsPlatform>(id, DeploymentPlatform::Aws).await?;
    ecs.task_details(&arn).await.map_err(|e| platform_failure(DeploymentPlatform::Aws, &e))?.ok_or_else(|| {
        AppError::NotFound("ECS no longer knows this task (stopped tasks are kept about an hour).".into())
    })
}
