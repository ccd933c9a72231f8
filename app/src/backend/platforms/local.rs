//! The `local` platform: each bot is a `meeboter bot-sim` child process of this server, so a
//! fresh checkout shows the whole system alive without a cloud account. Development only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::process::{Child, Command};

use super::{BotLaunch, BoxFuture, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::model::platform::DeploymentPlatform;

/// How long a bot gets to leave after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

struct Process {
    bot_id: i64,
    pid: u32,
    child: Option<Child>,
    started: Instant,
    started_at: DateTime<Utc>,
    exit: Option<Option<i32>>,
}

impl Process {
    fn poll(&mut self) -> ResourceStatus {
        if let Some(code) = self.exit {
            return ResourceStatus::Exited { code };
        }
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => {
                self.exit = Some(status.code());
                self.child = None;
                ResourceStatus::Exited { code: status.code() }
            }
            Some(Ok(None)) => ResourceStatus::Running,
            Some(Err(_)) | None => ResourceStatus::Gone,
        }
    }
}

/// Runs bots as child processes.
#[derive(Clone)]
pub struct LocalPlatform {
    exe: PathBuf,
    args: Vec<String>,
    processes: Arc<Mutex<HashMap<String, Process>>>,
}

impl LocalPlatform {
    /// `exe` is the `meeboter` binary; `args` are extra `bot-sim` options (timings, protocol).
    pub fn new(exe: PathBuf, args: Vec<String>) -> Self {
        LocalPlatform { exe, args, processes: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Process>> {
        self.processes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks a child to stop (SIGTERM through kill(1): the workspace forbids `unsafe`).
    fn terminate(pid: u32) {
        let _ = std::process::Command::new("kill")
            .args(["-s", "TERM", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Platform for LocalPlatform {
    fn kind(&self) -> DeploymentPlatform {
        DeploymentPlatform::Local
    }

    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let child = Command::new(&self.exe)
                .arg("bot-sim")
                .args(&self.args)
                .env("BOT_ID", bot.bot_id.to_string())
                .env("MILO_URL", &bot.milo_url)
                .env("MILO_AUTH_TOKEN", &bot.token)
                .env("DOCKER_MEETING_PLATFORM", bot.meeting_platform.as_str())
                .env_remove("DATABASE_URL")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| PlatformError::Failed(format!("could not start {}: {e}", self.exe.display())))?;
            let pid = child.id().unwrap_or_default();
            let identifier = format!("local-{}-{pid}", bot.bot_id);
            self.lock().insert(
                identifier.clone(),
                Process {
                    bot_id: bot.bot_id,
                    pid,
                    child: Some(child),
                    started: Instant::now(),
                    started_at: Utc::now(),
                    exit: None,
                },
            );
            Ok(Launched { identifier })
        })
    }

    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let child = {
                let mut map = self.lock();
                let Some(p) = map.get_mut(identifier) else { return Ok(()) };
                if p.poll() != ResourceStatus::Running {
                    return Ok(());
                }
                Self::terminate(p.pid);
                p.child.take()
            };
            let Some(mut child) = child else { return Ok(()) };
            let code = match tokio::time::timeout(STOP_GRACE, child.wait()).await {
                Ok(Ok(status)) => status.code(),
                _ => {
                    let _ = child.kill().await;
                    child.wait().await.ok().and_then(|s| s.code())
                }
            };
            if let Some(p) = self.lock().get_mut(identifier) {
                p.exit = Some(code);
            }
            Ok(())
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move { Ok(self.lock().get_mut(identifier).map_or(ResourceStatus::Gone, Process::poll)) })
    }

    fn release(&self, _bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }

    fn details<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>> {
        Box::pin(async move {
            let mut map = self.lock();
            let p = map.get_mut(identifier).ok_or_else(|| PlatformError::NotFound(identifier.to_owned()))?;
            let status = p.poll();
            Ok(json!({
                "kind": "local",
                "identifier": identifier,
                "pid": p.pid,
                "startedAt": p.started_at,
                "uptimeSecs": p.started.elapsed().as_secs(),
                "status": status,
            }))
        })
    }

    /// Stops every child (SIGTERM, then SIGKILL after the grace period) and reaps them.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let ids: Vec<String> = self.lock().keys().cloned().collect();
            for id in ids {
                let _ = self.stop(&id).await;
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            let mut map = self.lock();
            Ok(map
                .iter_mut()
                .map(|(id, p)| ResourceSummary { identifier: id.clone(), bot_id: Some(p.bot_id), status: p.poll() })
                .collect())
        })
    }
}
