//! `FakePlatform`: an in-memory platform whose truth the test controls, for the reconciler's
//! and the deployer's tests (and the soak scenarios). Resources live in a shared map (clones of
//! one fake see the same platform); the test makes a resource vanish or exit, makes `list()` lag
//! behind the truth or leave entries out, makes `stop()` slow (the resource keeps running until
//! [`FakePlatform::settle`], like an ECS task in STOPPING), fails calls, pauses `status()` at a
//! chosen moment, and counts every call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use app::backend::platforms::{
    BotLaunch, BoxFuture, Launched, Platform, PlatformError, ResourceStatus, ResourceSummary,
};
use app::model::platform::DeploymentPlatform;
use tokio::sync::{Notify, Semaphore};

/// The exit code a resource stopped by [`FakePlatform::stop`] reports (SIGTERM).
pub const STOPPED_CODE: i32 = 143;

/// One resource as the platform knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub bot_id: Option<i64>,
    pub status: ResourceStatus,
    /// Asked to stop but still running (slow stops only).
    pub stopping: bool,
}

/// A platform call the fake can be told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    Deploy,
    List,
    Status,
    Stop,
}

#[derive(Default)]
struct State {
    resources: BTreeMap<String, Resource>,
    launched: u64,
    /// What `list()` answers instead of the truth (a lagging list).
    frozen: Option<Vec<ResourceSummary>>,
    /// Identifiers `list()` leaves out (a wrong list).
    hidden: BTreeSet<String>,
    slow_stops: bool,
    /// Like the local platform: each replica sees only its own resources.
    own_only: bool,
    failing: BTreeSet<Call>,
    list_calls: usize,
    status_calls: Vec<String>,
    stop_calls: Vec<String>,
    released: Vec<i64>,
}

/// A pause of `status()`: the call announces it has begun, then waits to be let go.
struct Pause {
    entered: Notify,
    /// Closed to let every waiting call go.
    release: Semaphore,
}

/// An in-memory platform; clones share one platform.
#[derive(Clone)]
pub struct FakePlatform {
    kind: DeploymentPlatform,
    state: Arc<Mutex<State>>,
    pause: Arc<Mutex<Option<Arc<Pause>>>>,
}

impl FakePlatform {
    pub fn new(kind: DeploymentPlatform) -> Self {
        FakePlatform { kind, state: Arc::default(), pause: Arc::default() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a running resource for `bot_id`; answers its identifier (`<kind>-<bot>-<n>`).
    pub fn launch(&self, bot_id: i64) -> String {
        let mut s = self.lock();
        s.launched += 1;
        let identifier = format!("{}-{bot_id}-{}", self.kind.as_str(), s.launched);
        s.resources.insert(
            identifier.clone(),
            Resource { bot_id: Some(bot_id), status: ResourceStatus::Running, stopping: false },
        );
        identifier
    }

    /// Puts a running resource with this identifier, naming `bot_id` (or no bot).
    pub fn insert(&self, identifier: &str, bot_id: Option<i64>) {
        self.lock()
            .resources
            .insert(identifier.to_owned(), Resource { bot_id, status: ResourceStatus::Running, stopping: false });
    }

    /// The resource disappears (a deleted Job, a reset slot): `status()` answers Gone.
    pub fn vanish(&self, identifier: &str) {
        self.lock().resources.remove(identifier);
    }

    /// The resource's process ends with `code`.
    pub fn exit(&self, identifier: &str, code: Option<i32>) {
        if let Some(r) = self.lock().resources.get_mut(identifier) {
            r.status = ResourceStatus::Exited { code };
            r.stopping = false;
        }
    }

    /// The resource now names another bot (a pool slot given to someone else).
    pub fn reassign(&self, identifier: &str, bot_id: Option<i64>) {
        if let Some(r) = self.lock().resources.get_mut(identifier) {
            r.bot_id = bot_id;
        }
    }

    /// `list()` answers what is true now, until [`Self::thaw_list`] (a list that lags).
    pub fn freeze_list(&self) {
        let snapshot = summaries(&self.lock().resources);
        self.lock().frozen = Some(snapshot);
    }

    pub fn thaw_list(&self) {
        self.lock().frozen = None;
    }

    /// `list()` leaves this resource out (a list that is wrong).
    pub fn hide(&self, identifier: &str) {
        self.lock().hidden.insert(identifier.to_owned());
    }

    pub fn unhide(&self, identifier: &str) {
        self.lock().hidden.remove(identifier);
    }

    /// From now on `stop()` only asks: the resource keeps running until [`Self::settle`].
    pub fn slow_stops(&self, slow: bool) {
        self.lock().slow_stops = slow;
    }

    /// From now on the fake says it sees only this process's resources (like the local
    /// platform), so what it does not list may run elsewhere.
    pub fn own_resources_only(&self, own: bool) {
        self.lock().own_only = own;
    }

    /// Every resource asked to stop has stopped.
    pub fn settle(&self) {
        for r in self.lock().resources.values_mut().filter(|r| r.stopping) {
            r.status = ResourceStatus::Exited { code: Some(STOPPED_CODE) };
            r.stopping = false;
        }
    }

    /// Makes `call` fail (the platform is unavailable) or work again.
    pub fn fail(&self, call: Call, failing: bool) {
        let mut s = self.lock();
        if failing {
            s.failing.insert(call);
        } else {
            s.failing.remove(&call);
        }
    }

    /// Holds the next `status()` calls until the answer's [`Paused::resume`]; `entered` resolves
    /// once one has begun.
    pub fn pause_status(&self) -> Paused {
        let pause = Arc::new(Pause { entered: Notify::new(), release: Semaphore::new(0) });
        *self.pause.lock().unwrap_or_else(|p| p.into_inner()) = Some(pause.clone());
        Paused { pause, fake: self.clone() }
    }

    /// The truth about one resource.
    pub fn resource(&self, identifier: &str) -> Option<Resource> {
        self.lock().resources.get(identifier).cloned()
    }

    /// The identifiers of the running resources.
    pub fn running(&self) -> Vec<String> {
        self.lock()
            .resources
            .iter()
            .filter(|(_, r)| r.status == ResourceStatus::Running)
            .map(|(i, _)| i.clone())
            .collect()
    }

    pub fn list_calls(&self) -> usize {
        self.lock().list_calls
    }

    pub fn status_calls(&self) -> usize {
        self.lock().status_calls.len()
    }

    /// How many times `status(identifier)` was asked.
    pub fn status_calls_of(&self, identifier: &str) -> usize {
        self.lock().status_calls.iter().filter(|i| *i == identifier).count()
    }

    /// Every `stop()` call, in order, by identifier.
    pub fn stop_calls(&self) -> Vec<String> {
        self.lock().stop_calls.clone()
    }

    /// How many times `identifier` was asked to stop.
    pub fn stops_of(&self, identifier: &str) -> usize {
        self.lock().stop_calls.iter().filter(|i| *i == identifier).count()
    }

    /// The bots `release()` was called for.
    pub fn released(&self) -> Vec<i64> {
        self.lock().released.clone()
    }

    fn check(&self, call: Call) -> Result<(), PlatformError> {
        if self.lock().failing.contains(&call) {
            return Err(PlatformError::unavailable(format!("the fake refuses {call:?}")));
        }
        Ok(())
    }
}

/// A pause of `status()` in progress.
pub struct Paused {
    pause: Arc<Pause>,
    fake: FakePlatform,
}

impl Paused {
    /// Resolves once a `status()` call has begun and is waiting.
    pub async fn entered(&self) {
        self.pause.entered.notified().await;
    }

    /// Lets the waiting call (and later ones) go on.
    pub fn resume(self) {
        *self.fake.pause.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.pause.release.close();
    }
}

fn summaries(resources: &BTreeMap<String, Resource>) -> Vec<ResourceSummary> {
    resources
        .iter()
        .map(|(i, r)| ResourceSummary { identifier: i.clone(), bot_id: r.bot_id, status: r.status.clone() })
        .collect()
}

impl Platform for FakePlatform {
    fn kind(&self) -> DeploymentPlatform {
        self.kind
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async { Ok(()) })
    }

    fn sees_every_replica(&self) -> bool {
        !self.lock().own_only
    }

    fn deploy<'a>(&'a self, bot: &'a BotLaunch) -> BoxFuture<'a, Result<Launched, PlatformError>> {
        Box::pin(async move {
            self.check(Call::Deploy)?;
            Ok(Launched { identifier: self.launch(bot.bot_id) })
        })
    }

    fn stop<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.lock().stop_calls.push(identifier.to_owned());
            self.check(Call::Stop)?;
            let mut s = self.lock();
            let slow = s.slow_stops;
            if let Some(r) = s.resources.get_mut(identifier).filter(|r| r.status == ResourceStatus::Running) {
                if slow {
                    r.stopping = true;
                } else {
                    r.status = ResourceStatus::Exited { code: Some(STOPPED_CODE) };
                }
            }
            Ok(())
        })
    }

    fn status<'a>(&'a self, identifier: &'a str) -> BoxFuture<'a, Result<ResourceStatus, PlatformError>> {
        Box::pin(async move {
            self.lock().status_calls.push(identifier.to_owned());
            let pause = self.pause.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(pause) = pause {
                pause.entered.notify_one();
                let _closed = pause.release.acquire().await;
            }
            self.check(Call::Status)?;
            Ok(self.lock().resources.get(identifier).map_or(ResourceStatus::Gone, |r| r.status.clone()))
        })
    }

    fn release(&self, bot_id: i64) -> BoxFuture<'_, Result<(), PlatformError>> {
        Box::pin(async move {
            self.lock().released.push(bot_id);
            Ok(())
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ResourceSummary>, PlatformError>> {
        Box::pin(async move {
            self.lock().list_calls += 1;
            self.check(Call::List)?;
            let s = self.lock();
            let all = s.frozen.clone().unwrap_or_else(|| summaries(&s.resources));
            Ok(all.into_iter().filter(|r| !s.hidden.contains(&r.identifier)).collect())
        })
    }
}
