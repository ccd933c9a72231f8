//! What a scenario measured: a continuous sampler of active bots per platform, and the table each
//! scenario prints (then asserts: a failed check fails the test after the whole table is shown).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use server::bot_sim::fleet::{FleetHost, Run};

use super::cluster::{pairs, PLATFORMS};

/// Samples, every 100 ms, the active bots (DEPLOYING .. CALL_ENDED) per deployment platform
/// from the database and the running resources per platform on the fleet host, and keeps the
/// highest count each reached.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default, Clone, Debug)]
pub struct Seen {
    pub samples: u64,
    pub max: BTreeMap<String, i64>,
    pub fleet_max: BTreeMap<String, i64>,
}

impl Sampler {
    pub async fn start(database_url: &str, fleet: FleetHost) -> Sampler {
        let mut conn = AsyncPgConnection::establish(database_url).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, w) = (stop.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !s.load(Ordering::Relaxed) {
                tick.tick().await;
                let rows = pairs(
                    &mut conn,
                    "SELECT deployment_platform AS k, count(*) AS n FROM bots WHERE deployment_platform IS NOT NULL \
                     AND status IN ('DEPLOYING','JOINING_CALL','IN_WAITING_ROOM','IN_CALL','LEAVING','CALL_ENDED') \
                     GROUP BY deployment_platform",
                )
                .await;
                let running: Vec<(String, i64)> = PLATFORMS
                    .iter()
                    .map(|(p, _)| {
                        let n = fleet.resources(*p).iter().filter(|r| r.2 == Run::Running).count();
                        (p.as_str().to_owned(), i64::try_from(n).unwrap_or(i64::MAX))
                    })
                    .collect();
                let mut w = w.lock().unwrap();
                w.samples += 1;
                for (k, n) in running {
                    let m = w.fleet_max.entry(k).or_insert(0);
                    *m = (*m).max(n);
                }
                for (k, n) in rows {
                    let m = w.max.entry(k).or_insert(0);
                    *m = (*m).max(n);
                }
            }
        });
        Sampler { stop, seen, task }
    }

    /// Stops sampling and answers what it saw.
    pub async fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.seen.lock().unwrap().clone()
    }
}

/// One scenario's table.
pub struct Table {
    scenario: &'static str,
    size: String,
    rows: Vec<(String, String, String, bool)>,
    notes: Vec<String>,
}

impl Table {
    pub fn new(scenario: &'static str, size: impl Into<String>) -> Table {
        Table { scenario, size: size.into(), rows: Vec::new(), notes: Vec::new() }
    }

    /// A measured value against its goal; `pass` says whether it met it.
    pub fn check(&mut self, what: impl Into<String>, value: impl ToString, goal: impl Into<String>, pass: bool) {
        self.rows.push((what.into(), value.to_string(), goal.into(), pass));
    }

    /// A measured value with no goal (context for the reader).
    pub fn info(&mut self, what: impl Into<String>, value: impl ToString) {
        self.rows.push((what.into(), value.to_string(), "-".into(), true));
    }

    /// A line printed under the table (what to look at when a check failed).
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Prints the table, then fails the test if a check did not pass.
    pub fn finish(self) {
        let head = ("measure".to_owned(), "value".to_owned(), "goal".to_owned());
        let w0 = self.rows.iter().map(|r| r.0.len()).chain([head.0.len()]).max().unwrap_or(0);
        let w1 = self.rows.iter().map(|r| r.1.len()).chain([head.1.len()]).max().unwrap_or(0);
        let w2 = self.rows.iter().map(|r| r.2.len()).chain([head.2.len()]).max().unwrap_or(0);
        let ws = self.scenario.len().max("scenario".len());
        let wz = self.size.len().max("size".len());
        let mut out = String::new();
        out.push_str(&format!(
            "\n| {:ws$} | {:wz$} | {:w0$} | {:w1$} | {:w2$} | pass |\n",
            "scenario", "size", head.0, head.1, head.2
        ));
        out.push_str(&format!(
            "|{}|{}|{}|{}|{}|------|\n",
            "-".repeat(ws + 2),
            "-".repeat(wz + 2),
            "-".repeat(w0 + 2),
            "-".repeat(w1 + 2),
            "-".repeat(w2 + 2)
        ));
        for (what, value, goal, pass) in &self.rows {
            let mark = if goal == "-" {
                ""
            } else if *pass {
                "yes"
            } else {
                "NO"
            };
            out.push_str(&format!(
                "| {:ws$} | {:wz$} | {what:w0$} | {value:w1$} | {goal:w2$} | {mark:4} |\n",
                self.scenario, self.size
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        println!("{out}");
        let failed: Vec<&str> = self.rows.iter().filter(|r| !r.3).map(|r| r.0.as_str()).collect();
        assert!(failed.is_empty(), "{}: failed checks: {}\n{out}", self.scenario, failed.join(", "));
    }
}
