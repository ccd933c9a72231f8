//! The `local` platform: each bot is a `meeboter bot-sim` child process of this server, so a
//! fresh checkout shows the whole system alive without a cloud account. Development only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::process::{Child, Command};

use super::env::bot_environment;
use super::{BotLaunch, BoxFuture, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary};
use crate::backend::config::S3Config;
use crate::model::platform::DeploymentPlatform;
use crate::model::platform_details::LocalProcess;

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
    s3: Option<S3Config>,
    processes: Arc<Mutex<HashMap<String, Process>>>,
}

impl LocalPlatform {
    /// `exe` is the `meeboter` binary; `args` are extra `bot-sim` options (timings, protocol).
    pub fn new(exe: PathBuf, args: Vec<String>) -> Self {
        LocalPlatform { exe, args, s3: None, processes: Arc::default() }
    }

    /// Hands bots the S3 settings (`S3_*`), as every platform does.
    pub fn with_s3(mut self, s3: Option<S3Config>) -> Self {
        self.s3 = s3;
        self
    }

    /// What the Platform tab shows about a process this server started: `None` when this
    /// replica did not start it (or has forgotten it).
    pub fn process(&self, identifier: &str) -> Option<LocalProcess> {
        let mut map = self.lock();
        let p = map.get_mut(identifier)?;
        let (state, exit_code) = match p.poll() {
            ResourceStatus::Running => ("running", None),
            ResourceStatus::Exited { code } => ("exited", code),
            ResourceStatus::Gone => ("gone", None),
        };
        let uptime = p.started.elapsed();
        let usage = (state == "running").then(|| proc_usage(p.pid, uptime)).flatten();
        Some(LocalProcess {
            pid: p.pid,
            state: state.to_owned(),
            exit_code,
            rss_bytes: usage.map(|u| u.0),
            cpu_percent: usage.map(|u| u.1),
            uptime_secs: uptime.as_secs(),
            started_at: p.started_at,
        })
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

    /// Each process sees only its own children.
    fn sees_every_replica(&self) -> bool {
        false
    }

    /// The bot binary must exist and be executable.
    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            match std::fs::metadata(&self.exe) {
                Ok(m) if m.is_file() => Ok(()),
                Ok(_) => Err(PlatformError::rejected(format!("{} is not a file", self.exe.display()))),
                Err(e) => Err(PlatformError::unavailable(format!("{}: {e}", self.exe.display()))),
            }
        })
    }

    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            let child = Command::new(&self.exe)
                .arg("bot-sim")
                .args(&self.args)
                // Only what a bot needs: never the server's own secrets.
                .env_clear()
                .envs(inherited_env(std::env::vars()))
                .envs(bot_environment(bot, self.s3.as_ref()).all())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| PlatformError::unavailable(format!("could not start {}: {e}", self.exe.display())))?;
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

/// What a local bot keeps of the server's environment: the basics of a process and the
/// simulator's own settings (`BOT_SIM_*`), nothing else (no database URL, no API tokens).
pub fn inherited_env(server: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    const KEEP: [&str; 7] = ["PATH", "HOME", "LANG", "TZ", "RUST_LOG", "RUST_BACKTRACE", "LOG_FORMAT"];
    server.filter(|(k, _)| KEEP.contains(&k.as_str()) || k.starts_with("BOT_SIM_")).collect()
}

/// Resident memory (bytes) and lifetime CPU (% of one core) of a running process, from /proc.
fn proc_usage(pid: u32, uptime: Duration) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at state: utime and stime
    // are the 12th and 13th of them.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    let cpu_secs = ticks / 100.0;
    let percent = if uptime.as_secs_f64() > 0.0 { cpu_secs / uptime.as_secs_f64() * 100.0 } else { 0.0 };
    Some((rss_kib * 1024, (percent * 10.0).round() / 10.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_bots_inherit_no_server_secret() {
        let server = [
            ("PATH", "/usr/bin"),
            ("DATABASE_URL", "postgres://secret"),
            ("COOLIFY_API_TOKEN", "tok"),
            ("S3_SECRET_KEY", "s3"),
            ("BOT_SIM_HEARTBEAT_SECS", "1"),
            ("LEGACY_BOT_TOKEN", "legacy"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let kept: Vec<String> = inherited_env(server.into_iter()).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kept, ["PATH", "BOT_SIM_HEARTBEAT_SECS"]);
    }

    #[test]
    fn reads_this_process_usage_from_proc() {
        let (rss, cpu) = proc_usage(std::process::id(), Duration::from_secs(1)).unwrap();
        assert!(rss > 1024 * 1024, "{rss}");
        assert!(cpu >= 0.0);
        assert_eq!(proc_usage(u32::MAX, Duration::from_secs(1)), None);
    }
}
