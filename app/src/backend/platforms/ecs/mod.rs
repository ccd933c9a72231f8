//! The AWS ECS platform: one task per bot, started with RunTask on `AWS_ECS_CLUSTER` from the
//! meeting platform's task definition. [`build`] makes the request (pure), [`view`] reads the
//! answers, [`errors`] maps ECS errors to platform error kinds. docs/AWS_ECS.md says what IAM
//! permissions this needs; docs/ECS_EMULATOR.md how it is tested against moto.

pub mod build;
pub mod errors;
pub mod view;

use std::time::Duration;

use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::config::timeout::TimeoutConfig;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, DesiredStatus, KeyValuePair,
    LaunchType, NetworkConfiguration, Tag, Task, TaskField, TaskOverride,
};
use aws_sdk_ecs::Client;
use secrecy::ExposeSecret;

use self::build::{Placement, RunTaskPlan};
use super::{BotLaunch, BoxFuture, ErrorKind, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::backend::config::{AwsConfig, S3Config};
use crate::model::platform::DeploymentPlatform;
use crate::model::platform_details::AwsTask;

/// One call, all its attempts together, may take this long.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// One attempt may take this long.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per call (the SDK's standard retry policy: exponential back-off with jitter on
/// throttling, timeouts and 5xx).
pub const MAX_ATTEMPTS: u32 = 3;
/// DescribeTasks takes at most this many tasks per call.
const DESCRIBE_BATCH: usize = 100;

/// Runs bots as ECS tasks.
pub struct EcsPlatform {
    client: Client,
    cfg: AwsConfig,
    cluster: String,
    s3: Option<S3Config>,
}

fn misconfigured(message: impl Into<String>) -> PlatformError {
    PlatformError::new(ErrorKind::Misconfigured, message)
}

fn check_arn(identifier: &str) -> Result<(), PlatformError> {
    if build::is_task_arn(identifier) {
        Ok(())
    } else {
        Err(PlatformError::rejected(format!("'{identifier}' is not an ECS task ARN")))
    }
}

impl EcsPlatform {
    /// Builds the client: region and credentials from the standard AWS chain (environment,
    /// profile, web identity, ECS task role, IMDS), `AWS_ENDPOINT_URL` when set, timeouts and
    /// the standard retry policy. No request is made (see `probe`).
    pub async fn connect(cfg: &AwsConfig, s3: Option<S3Config>) -> Result<Self, PlatformError> {
        let cluster = cfg.cluster.clone().ok_or_else(|| misconfigured("AWS_ECS_CLUSTER is not set"))?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(CALL_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = &cfg.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(c) = &cfg.static_credentials {
            loader = loader.credentials_provider(aws_sdk_ecs::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose_secret().to_owned(),
                c.session_token.as_ref().map(|t| t.expose_secret().to_owned()),
                None,
                "AWS_ACCESS_KEY_ID",
            ));
        }
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url.as_str().trim_end_matches('/'));
        }
        // Boxed: loading the shared configuration is a large future.
        let shared = Box::pin(loader.load()).await;
        if shared.region().is_none() {
            return Err(misconfigured("no AWS region: set AWS_REGION"));
        }
        Ok(EcsPlatform { client: Client::new(&shared), cfg: cfg.clone(), cluster, s3 })
    }

    async fn describe(&self, arns: &[String]) -> Result<Vec<Task>, PlatformError> {
        let mut tasks = Vec::new();
        for batch in arns.chunks(DESCRIBE_BATCH) {
            let out = self
                .client
                .describe_tasks()
                .cluster(&self.cluster)
                .set_tasks(Some(batch.to_vec()))
                .include(TaskField::Tags)
                .send()
                .await
                .map_err(|e| errors::map("DescribeTasks", e))?;
            tasks.extend(out.tasks.unwrap_or_default());
        }
        Ok(tasks)
    }

    /// The task, or `None` when ECS does not know it (a MISSING failure; the emulator answers
    /// neither task nor failure).
    async fn task(&self, arn: &str) -> Result<Option<Task>, PlatformError> {
        check_arn(arn)?;
        Ok(self.describe(&[arn.to_owned()]).await?.into_iter().next())
    }

    /// The Platform tab's view of the bot's task; `None` when ECS no longer knows it (stopped
    /// tasks are kept for about an hour).
    pub async fn task_details(&self, arn: &str) -> Result<Option<AwsTask>, PlatformError> {
        Ok(self.task(arn).await?.as_ref().map(view::task_view))
    }

    /// Every task ARN Meeboter started with `desired` status, over every page.
    async fn list_arns(&self, desired: DesiredStatus) -> Result<Vec<String>, PlatformError> {
        let mut pages = self
            .client
            .list_tasks()
            .cluster(&self.cluster)
            .started_by(build::STARTED_BY)
            .desired_status(desired)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            arns.extend(page.map_err(|e| errors::map("ListTasks", e))?.task_arns.unwrap_or_default());
        }
        Ok(arns)
    }

    async fn run(&self, plan: RunTaskPlan) -> Result<Launched, PlatformError> {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(plan.subnets))
            .set_security_groups(Some(plan.security_groups))
            .assign_public_ip(if plan.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
            .build()
            .map_err(|e| misconfigured(format!("network configuration: {e}")))?;
        let environment =
            plan.environment.into_iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect();
        let mut request = self
            .client
            .run_task()
            .cluster(plan.cluster)
            .task_definition(&plan.task_definition)
            .count(1)
            .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
            .overrides(
                TaskOverride::builder()
                    .container_overrides(
                        ContainerOverride::builder().name(plan.container).set_environment(Some(environment)).build(),
                    )
                    .build(),
            )
            .started_by(plan.started_by)
            .set_tags(Some(plan.tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .client_token(plan.client_token);
        request = match plan.placement {
            Placement::Fargate => request.launch_type(LaunchType::Fargate),
            Placement::Strategy(items) => {
                let mut strategy = Vec::new();
                for c in items {
                    strategy.push(
                        CapacityProviderStrategyItem::builder()
                            .capacity_provider(c.name)
                            .weight(c.weight)
                            .base(c.base)
                            .build()
                            .map_err(|e| misconfigured(format!("AWS_ECS_CAPACITY_PROVIDERS: {e}")))?,
                    );
                }
                request.set_capacity_provider_strategy(Some(strategy))
            }
        };
        let out = request.send().await.map_err(|e| match errors::map("RunTask", e) {
            // What RunTask does not find is the operator's (a task definition, a subnet).
            e if e.kind == ErrorKind::NotFound => PlatformError::new(ErrorKind::Misconfigured, e.message),
            e => e,
        })?;
        if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(Launched { identifier: arn.to_owned() });
        }
        let failure = out.failures().first();
        let reason = failure.and_then(|f| f.reason()).unwrap_or("no task and no failure in the answer");
        let detail = failure.and_then(|f| f.detail()).map(|d| format!(" ({d})")).unwrap_or_default();
        Err(PlatformError::new(
            errors::failure_kind(reason),
            format!("ECS RunTask of {} placed no task: {reason}{detail}", plan.task_definition),
        ))
    }
}

impl Platform for EcsPlatform {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::Aws
    }

    /// The cluster is ACTIVE and every configured task definition exists and is ACTIVE.
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            let out = self
                .client
                .describe_clusters()
                .clusters(&self.cluster)
                .send()
                .await
                .map_err(|e| errors::map("DescribeClusters", e))?;
            match out.clusters().first() {
                Some(c) if c.status() == Some("ACTIVE") => {
                    let missing: Vec<&str> = self
                        .cfg
                        .capacity_providers
                        .iter()
                        .map(|p| p.name.as_str())
                        .filter(|name| !c.capacity_providers().iter().any(|have| have == name))
                        .collect();
                    if !missing.is_empty() {
                        return Err(misconfigured(format!(
                            "ECS cluster {} has no capacity provider {} (AWS_ECS_CAPACITY_PROVIDERS): associate it with PutClusterCapacityProviders",
                            self.cluster,
                            missing.join(", ")
                        )));
                    }
                }
                Some(c) => {
                    return Err(misconfigured(format!(
                        "ECS cluster {} is {} (AWS_ECS_CLUSTER)",
                        self.cluster,
                        c.status().unwrap_or("in an unknown state")
                    )))
                }
                None => {
                    return Err(misconfigured(format!("ECS cluster {} was not found (AWS_ECS_CLUSTER)", self.cluster)))
                }
            }
            for (var, def) in build::task_definitions(&self.cfg) {
                let out = self.client.describe_task_definition().task_definition(def).send().await.map_err(|e| {
                    let e = errors::map("DescribeTaskDefinition", e);
                    match e.kind {
                        ErrorKind::Rejected | ErrorKind::NotFound => {
                            misconfigured(format!("task definition {def} ({var}) was not found: {}", e.message))
                        }
                        _ => e,
                    }
                })?;
                let status = out.task_definition().and_then(|t| t.status()).map(|s| s.as_str().to_owned());
                if status.as_deref() != Some("ACTIVE") {
                    return Err(misconfigured(format!(
                        "task definition {def} ({var}) is {}",
                        status.as_deref().unwrap_or("in an unknown state")
                    )));
                }
            }
            Ok(())
        })
    }

    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let plan = build::run_task(&self.cfg, &self.cluster, bot, self.s3.as_ref()).ok_or_else(|| {
                misconfigured(format!("no task definition for {} (AWS_ECS_TASK_DEF_*)", bot.meeting_platform.as_str()))
            })?;
            let fallback = build::on_demand_fallback(&plan);
            match (self.run(plan).await, fallback) {
                (Err(e), Some(fallback)) if e.kind == ErrorKind::Capacity => {
                    tracing::warn!(bot_id = bot.bot_id, error = %e, "no capacity for the strategy: trying FARGATE on demand");
                    self.run(fallback).await
                }
                (r, _) => r,
            }
        })
    }

    /// StopTask with a reason; a task ECS does not know (any more) is stopped already.
    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            check_arn(identifier)?;
            match self
                .client
                .stop_task()
                .cluster(&self.cluster)
                .task(identifier)
                .reason(build::STOP_REASON)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => match errors::map("StopTask", e) {
                    e if e.kind == ErrorKind::NotFound => Ok(()),
                    e => Err(e),
                },
            }
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            Ok(match self.task(identifier).await? {
                Some(t) => view::resource_status(&t),
                None => ResourceStatus::Gone,
            })
        })
    }

    fn release(&self, _bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }

    /// Every task Meeboter started that ECS still knows: running ones and recently stopped
    /// ones, each with its bot (from its tags).
    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            let mut arns = self.list_arns(DesiredStatus::Running).await?;
            arns.extend(self.list_arns(DesiredStatus::Stopped).await?);
            arns.sort();
            arns.dedup();
            Ok(self
                .describe(&arns)
                .await?
                .iter()
                .map(|t| ResourceSummary {
                    identifier: t.task_arn().unwrap_or_default().to_owned(),
                    bot_id: view::task_bot(t),
                    status: view::resource_status(t),
                })
                .collect())
        })
    }
}
