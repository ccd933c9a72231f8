//! The fleet host (`meeboter bot-sim --fleet N --listen ADDR`): the shared "cloud" of the
//! soak tests and the fleet benchmark. It plays Kubernetes, ECS and Coolify at once: each
//! launch over HTTP ([`api`]) starts a simulated bot as a task of this process (sharing one HTTP
//! client), so thousands of bots fit on one machine and a `meeboter serve` replica killed with
//! `kill -9` leaves its bots running here. Faults, kill switches and statistics make the
//! platform misbehave and show what happened (docs/SIMULATION.md).

mod api;
mod stats;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use app::backend::platforms::faults::Faults;
use app::model::platform::DeploymentPlatform;
use tokio::task::AbortHandle;

pub use api::router;
pub use stats::FleetStats;

use super::{http_client, run_bot, Behaviour, BotContext, Identity, Meter, SimArgs, SimError};

/// The platform kinds the host plays.
pub const KINDS: [DeploymentPlatform; 3] =
    [DeploymentPlatform::K8s, DeploymentPlatform::Aws, DeploymentPlatform::Coolify];

/// What the host runs: how many bots at most, and how each behaves.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// At most this many bots run at once (over all kinds); more is "quota exceeded".
    pub capacity: usize,
    pub behaviour: Behaviour,
}

/// What a launch asks for.
#[derive(Debug, Clone)]
pub struct Launch {
    pub bot_id: i64,
    pub milo_url: String,
    /// Never logged.
    pub token: String,
}

/// Why a launch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This kind names resources per bot (a Job, a slot) and the bot has a running one.
    Conflict,
    /// `capacity` bots run already.
    Quota,
}

/// How a resource of the host is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Running,
    Exited(Option<i32>),
}

struct Resource {
    kind: DeploymentPlatform,
    bot_id: i64,
    run: Run,
    task: Option<AbortHandle>,
    silenced: Arc<AtomicBool>,
}

/// Everything the host knows, behind one lock (held only for bookkeeping, never across I/O).
#[derive(Default)]
struct State {
    resources: HashMap<String, Resource>,
    /// Running identifiers of each bot (over all kinds).
    running_by_bot: HashMap<i64, Vec<String>>,
    running: HashMap<DeploymentPlatform, u64>,
    max_running: HashMap<DeploymentPlatform, u64>,
    max_running_total: u64,
    launches: HashMap<DeploymentPlatform, u64>,
    /// Bots that had more than one resource running at the same time.
    duplicates: BTreeSet<i64>,
    /// Launches of each bot, ever (a bot placed twice, even one after the other, shows here).
    launches_by_bot: HashMap<i64, u32>,
    conflicts: u64,
    quota_refusals: u64,
    phantoms: u64,
    vanished: u64,
    sequence: u64,
}

impl State {
    fn running_total(&self) -> u64 {
        self.running.values().sum()
    }

    /// Books a resource as no longer running.
    fn stopped_running(&mut self, identifier: &str, kind: DeploymentPlatform, bot_id: i64) {
        if let Some(n) = self.running.get_mut(&kind) {
            *n = n.saturating_sub(1);
        }
        if let Some(ids) = self.running_by_bot.get_mut(&bot_id) {
            ids.retain(|i| i != identifier);
            if ids.is_empty() {
                self.running_by_bot.remove(&bot_id);
            }
        }
    }
}

struct Host {
    options: FleetOptions,
    http: reqwest::Client,
    meter: Arc<Meter>,
    faults: HashMap<DeploymentPlatform, Faults>,
    state: Mutex<State>,
}

/// A running fleet host; clones share it.
#[derive(Clone)]
pub struct FleetHost(Arc<Host>);

impl FleetHost {
    pub fn new(options: FleetOptions) -> Result<Self, SimError> {
        options.behaviour.validate()?;
        let faults = KINDS.iter().map(|k| (*k, Faults::default())).collect();
        Ok(FleetHost(Arc::new(Host {
            options,
            http: http_client()?,
            meter: Arc::default(),
            faults,
            state: Mutex::default(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault plan of a kind (switch it with `set`/`clear`).
    pub fn faults(&self, kind: DeploymentPlatform) -> Option<&Faults> {
        self.0.faults.get(&kind)
    }

    /// Starts a bot on `kind`; answers its resource's identifier.
    pub fn launch(&self, kind: DeploymentPlatform, launch: Launch) -> Result<String, Refusal> {
        let mut state = self.lock();
        let mine = state.running_by_bot.get(&launch.bot_id).cloned().unwrap_or_default();
        // A Job name or a pool slot is per bot; RunTask starts another task every time.
        let per_bot = kind != DeploymentPlatform::Aws;
        if per_bot && mine.iter().any(|id| state.resources.get(id).is_some_and(|r| r.kind == kind)) {
            state.conflicts += 1;
            return Err(Refusal::Conflict);
        }
        if state.running_total() >= self.0.options.capacity as u64 {
            state.quota_refusals += 1;
            return Err(Refusal::Quota);
        }
        state.sequence += 1;
        let identifier = format!("sim-{}-{}-{}", kind.as_str(), launch.bot_id, state.sequence);
        if !mine.is_empty() {
            state.duplicates.insert(launch.bot_id);
        }
        let silenced = Arc::new(AtomicBool::new(false));
        let context = BotContext { meter: self.0.meter.clone(), silenced: silenced.clone(), echo_logs: false };
        let identity = Identity {
            bot_id: Some(launch.bot_id),
            pool_slot_uuid: None,
            milo_url: launch.milo_url,
            token: launch.token,
            recording: None,
        };
        let host = self.clone();
        let id = identifier.clone();
        let bot_id = launch.bot_id;
        // Spawned under the lock: the task books its exit under the same lock, so it cannot
        // finish before its resource is recorded.
        let task = tokio::spawn(async move {
            let behaviour = host.0.options.behaviour.clone();
            let code = match run_bot(&host.0.http, identity, &behaviour, context, std::future::pending()).await {
                Ok(code) => i32::from(code),
                Err(e) => {
                    tracing::debug!(bot_id, error = %e, "simulated bot failed");
                    1
                }
            };
            host.exited(&id, code);
        });
        state.resources.insert(
            identifier.clone(),
            Resource { kind, bot_id, run: Run::Running, task: Some(task.abort_handle()), silenced },
        );
        state.running_by_bot.entry(bot_id).or_default().push(identifier.clone());
        *state.launches.entry(kind).or_default() += 1;
        *state.launches_by_bot.entry(bot_id).or_default() += 1;
        let running = {
            let n = state.running.entry(kind).or_default();
            *n += 1;
            *n
        };
        let max = state.max_running.entry(kind).or_default();
        *max = (*max).max(running);
        state.max_running_total = state.max_running_total.max(state.running_total());
        Ok(identifier)
    }

    /// Counts a launch answered with a phantom identifier (the `wrongAnswer` fault).
    fn phantom(&self, kind: DeploymentPlatform, bot_id: i64) -> String {
        let mut state = self.lock();
        state.phantoms += 1;
        state.sequence += 1;
        format!("phantom-{}-{bot_id}-{}", kind.as_str(), state.sequence)
    }

    /// A bot task ended by itself: its resource stays, exited, until it is deleted.
    fn exited(&self, identifier: &str, code: i32) {
        let mut state = self.lock();
        let Some(r) = state.resources.get_mut(identifier) else { return };
        if r.run != Run::Running {
            return;
        }
        r.run = Run::Exited(Some(code));
        r.task = None;
        let (kind, bot_id) = (r.kind, r.bot_id);
        state.stopped_running(identifier, kind, bot_id);
    }

    /// Deletes a resource of `kind`, aborting its bot; `false` when there is none.
    pub fn remove(&self, kind: DeploymentPlatform, identifier: &str) -> bool {
        let mut state = self.lock();
        if state.resources.get(identifier).is_none_or(|r| r.kind != kind) {
            return false;
        }
        let Some(r) = state.resources.remove(identifier) else { return false };
        if let Some(task) = &r.task {
            task.abort();
        }
        if r.run == Run::Running {
            state.stopped_running(identifier, kind, r.bot_id);
        }
        true
    }

    /// The kill switch: the resource disappears behind the deployer's back.
    pub fn vanish(&self, kind: DeploymentPlatform, identifier: &str) -> bool {
        let gone = self.remove(kind, identifier);
        if gone {
            self.lock().vanished += 1;
        }
        gone
    }

    /// The kill switch: every running bot `bot_id` stops heartbeating (and keeps running).
    /// Answers how many were silenced.
    pub fn silence(&self, bot_id: i64) -> usize {
        let state = self.lock();
        let ids = state.running_by_bot.get(&bot_id).cloned().unwrap_or_default();
        for id in &ids {
            if let Some(r) = state.resources.get(id) {
                r.silenced.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        ids.len()
    }

    /// One resource of `kind`: its bot and how it is doing.
    pub fn resource(&self, kind: DeploymentPlatform, identifier: &str) -> Option<(i64, Run)> {
        self.lock().resources.get(identifier).filter(|r| r.kind == kind).map(|r| (r.bot_id, r.run))
    }

    /// Every resource of `kind`, by identifier.
    pub fn resources(&self, kind: DeploymentPlatform) -> Vec<(String, i64, Run)> {
        let state = self.lock();
        let mut all: Vec<(String, i64, Run)> = state
            .resources
            .iter()
            .filter(|(_, r)| r.kind == kind)
            .map(|(id, r)| (id.clone(), r.bot_id, r.run))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// `meeboter bot-sim --fleet N`: serves the host on `--listen` until SIGTERM or Ctrl-C.
/// Prints `fleet host listening on http://ADDR` first (the address a port 0 got).
pub async fn run(args: SimArgs) -> Result<u8, SimError> {
    let capacity = args.fleet.ok_or_else(|| SimError::Other("--fleet is required".into()))?;
    let options = FleetOptions { capacity, behaviour: args.behaviour() };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| SimError::Other(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().map_err(|e| SimError::Other(e.to_string()))?;
    let host = FleetHost::new(options)?;
    println!("fleet host listening on http://{addr} (capacity {capacity})");
    tracing::info!(url = %format!("http://{addr}"), capacity, "fleet host listening");
    axum::serve(listener, router(host))
        .with_graceful_shutdown(super::shutdown_signal())
        .await
        .map_err(|e| SimError::Other(format!("fleet host: {e}")))?;
    Ok(0)
}

/// Serves a new fleet host on `listener` (tests and harnesses run it in-process).
pub async fn serve(listener: tokio::net::TcpListener, options: FleetOptions) -> Result<(), SimError> {
    let host = FleetHost::new(options)?;
    axum::serve(listener, router(host)).await.map_err(|e| SimError::Other(format!("fleet host: {e}")))
}
