//! `GET /stats`: what the fleet host saw, for the soak tables and the fleet benchmark.

use std::collections::BTreeMap;

use app::backend::platforms::faults::FaultCounts;
use serde::{Deserialize, Serialize};

use super::{FleetHost, KINDS};
use crate::bot_sim::meter::MeterSnapshot;

/// The host's statistics (camelCase JSON; per-kind maps are keyed `k8s`, `aws`, `coolify`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetStats {
    pub capacity: u64,
    /// Resources started, per kind (phantoms not included).
    pub launches: BTreeMap<String, u64>,
    /// Resources running now, per kind.
    pub running: BTreeMap<String, u64>,
    /// The most resources ever running at once per kind, counted at each launch.
    pub max_running: BTreeMap<String, u64>,
    pub running_total: u64,
    pub max_running_total: u64,
    /// How many bots had more than one resource running at the same time.
    pub duplicates: u64,
    /// Those bots (at most the first 100).
    pub duplicate_bots: Vec<i64>,
    /// How many bots were launched more than once (at the same time or one after the other).
    pub relaunched: u64,
    /// Those bots (at most the first 100, lowest ids first).
    pub relaunched_bots: Vec<i64>,
    /// Launches refused with 409 (the bot's Job or slot runs already).
    pub conflicts: u64,
    /// Launches refused with 507 (capacity reached).
    pub quota_refusals: u64,
    /// Launches answered with a phantom identifier (the `wrongAnswer` fault).
    pub phantoms: u64,
    /// Resources removed by the vanish kill switch.
    pub vanished: u64,
    /// Calls to each kind's API and the faults injected into them.
    pub faults: BTreeMap<String, FaultCounts>,
    /// What the bots measured: heartbeats and their latency, log lines, failed requests.
    #[serde(flatten)]
    pub meter: MeterSnapshot,
}

impl FleetHost {
    /// Forgets the heartbeat latencies measured so far (`POST /stats/heartbeats/reset`).
    pub fn reset_heartbeats(&self) {
        self.0.meter.heartbeat_latency.reset();
    }

    pub fn stats(&self) -> FleetStats {
        let meter = self.0.meter.snapshot();
        let state = self.lock();
        let per_kind = |map: &std::collections::HashMap<_, u64>| {
            KINDS.iter().map(|k| (k.as_str().to_owned(), map.get(k).copied().unwrap_or(0))).collect()
        };
        let mut relaunched: Vec<i64> =
            state.launches_by_bot.iter().filter(|(_, n)| **n > 1).map(|(bot, _)| *bot).collect();
        relaunched.sort_unstable();
        FleetStats {
            capacity: self.0.options.capacity as u64,
            launches: per_kind(&state.launches),
            running: per_kind(&state.running),
            max_running: per_kind(&state.max_running),
            running_total: state.running_total(),
            max_running_total: state.max_running_total,
            duplicates: state.duplicates.len() as u64,
            duplicate_bots: state.duplicates.iter().take(100).copied().collect(),
            relaunched: relaunched.len() as u64,
            relaunched_bots: relaunched.into_iter().take(100).collect(),
            conflicts: state.conflicts,
            quota_refusals: state.quota_refusals,
            phantoms: state.phantoms,
            vanished: state.vanished,
            faults: self.0.faults.iter().map(|(k, f)| (k.as_str().to_owned(), f.counts())).collect(),
            meter,
        }
    }
}
