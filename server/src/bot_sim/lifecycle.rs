//! One simulated bot's life, the same for the single `bot-sim` process and each task of the
//! fleet host: config → JOINING_CALL → IN_WAITING_ROOM → IN_CALL (screenshot, participants) →
//! log lines and chat → leave when told (or after its call time) → CALL_ENDED → flush → DONE.
//! Like the real bot images, it heartbeats from the moment it has its configuration until it
//! exits, on a task of its own, so a slow server answering its status reports never makes it
//! look silent.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use serde_json::json;

use super::client::{Client, LogBuffer};
use super::{Behaviour, BotContext, Failure, Identity, SimError};

/// Bots stream their logs at least this often (or at 100 lines).
const SHIP_EVERY: Duration = Duration::from_secs(2);
/// Lines that make a bot stream at once.
const SHIP_AT_LINES: usize = 100;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Runs one bot until it is done; `leave` resolving (SIGTERM for a process) makes it leave the
/// call. Answers its exit code: 0 when it ended DONE, 1 for a simulated crash or FATAL.
pub async fn run_bot(
    http: &reqwest::Client,
    identity: Identity,
    behaviour: &Behaviour,
    context: BotContext,
    leave: impl Future<Output = ()>,
) -> Result<u8, SimError> {
    let client = Client {
        http: http.clone(),
        base: identity.milo_url.trim_end_matches('/').to_owned(),
        token: identity.token,
        protocol: behaviour.protocol,
        meter: context.meter.clone(),
    };
    let config = client.config(identity.bot_id, identity.pool_slot_uuid.as_deref()).await?;
    let id = config["id"].as_i64().ok_or_else(|| SimError::Other(format!("config without an id: {config}")))?;
    let records = config["recordingEnabled"].as_bool().unwrap_or(false);
    let target = identity.recording.clone().unwrap_or_else(|| {
        super::recording::RecordingTarget::Upload(format!("{}/api/v1/bot/{id}/recording", client.base))
    });
    let mut logs = LogBuffer::new(context.echo_logs);
    logs.push(
        "INFO",
        format!("Simulated bot {id} starting ({:?}), meeting {}", behaviour.protocol, config["meeting"]["meetingUrl"]),
    );
    let told_to_leave = Arc::new(Notify::new());
    let heartbeats = HeartbeatTask::start(&client, id, behaviour, &context, told_to_leave.clone());

    client.status(id, "JOINING_CALL", None).await?;
    logs.push("INFO", "Joining the call");
    tokio::time::sleep(secs(behaviour.join_secs / 2.0)).await;
    client.status(id, "IN_WAITING_ROOM", None).await?;
    logs.push("INFO", "In the waiting room");
    tokio::time::sleep(secs(behaviour.join_secs / 2.0)).await;
    client.status(id, "IN_CALL", None).await?;
    logs.push("INFO", "Admitted: in the call");
    if let Err(e) = client.screenshot(id, "state_change", "IN_CALL", "admitted to the call").await {
        logs.push("WARN", format!("screenshot upload failed: {e}"));
    }
    for p in ["participant-1", "participant-2"] {
        client.event(id, "PARTICIPANT_JOIN", json!({ "participantId": p })).await?;
        logs.push("DEBUG", format!("{p} joined"));
    }
    logs.ship(&client, id).await;

    match behaviour.fail {
        Some(Failure::Crash) => {
            logs.ship(&client, id).await;
            return Ok(1);
        }
        Some(Failure::Fatal) => {
            logs.push("FATAL", "Simulated failure: giving up");
            logs.ship(&client, id).await;
            client.status(id, "FATAL", None).await?;
            return Ok(1);
        }
        Some(Failure::Stuck) => {
            drop(heartbeats);
            loop {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
        _ => {}
    }

    let started = tokio::time::Instant::now();
    let mut chat = tokio::time::interval(secs(behaviour.heartbeat_secs.min(5.0)));
    let mut ship = tokio::time::interval(SHIP_EVERY.min(secs(behaviour.heartbeat_secs)));
    // With a log rate, lines come at that rate; without, one line per streaming tick.
    let rate = behaviour.log_rate.filter(|r| *r > 0.0);
    let mut line = tokio::time::interval(secs(1.0 / rate.unwrap_or(1.0)));
    let mut tick = 0u64;
    tokio::pin!(leave);
    let told_to_leave = loop {
        if behaviour.call_secs.is_some_and(|c| started.elapsed() >= secs(c)) {
            break false;
        }
        tokio::select! {
            () = told_to_leave.notified() => break true,
            _ = chat.tick() => {
                match client.dequeue(id).await {
                    Ok(Some(text)) => logs.push("INFO", format!("Sending chat message: {text}")),
                    Ok(None) => {}
                    Err(e) => logs.push("WARN", format!("chat dequeue failed: {e}")),
                }
            }
            _ = line.tick(), if rate.is_some() => {
                tick += 1;
                logs.push("TRACE", format!("still in the call ({tick})"));
                if logs.len() >= SHIP_AT_LINES {
                    logs.ship(&client, id).await;
                }
            }
            _ = ship.tick() => {
                if rate.is_none() {
                    tick += 1;
                    logs.push("TRACE", format!("still in the call ({tick})"));
                }
                for warning in heartbeats.failures() {
                    logs.push("WARN", warning);
                }
                logs.ship(&client, id).await;
            }
            _ = &mut leave => break true,
        }
    };
    if told_to_leave {
        logs.push("INFO", "Leaving the call as asked");
    } else {
        client.event(id, "CALL_ENDED", json!({ "description": "The simulated call ended." })).await?;
        client.status(id, "CALL_ENDED", None).await?;
        logs.push("INFO", "The call ended");
    }
    logs.push("INFO", "Done");
    for warning in heartbeats.failures() {
        logs.push("WARN", warning);
    }
    let recording = if records {
        match super::recording::upload(&client, id, &target).await {
            Ok(key) => {
                logs.push("INFO", format!("Recording uploaded: {key}"));
                Some(key)
            }
            Err(e) => {
                logs.push("FATAL", format!("Uploading the recording failed: {e}"));
                logs.ship(&client, id).await;
                client.status(id, "FATAL", None).await?;
                return Ok(1);
            }
        }
    } else {
        None
    };
    logs.ship(&client, id).await;
    client.flush(id).await?;
    client.status(id, "DONE", recording).await?;
    drop(heartbeats);
    Ok(0)
}

/// The bot's heartbeats, on a task of their own for as long as the bot runs (dropping it stops
/// them): every `heartbeat_secs` unless the bot is made silent; `shouldLeave` wakes the bot.
struct HeartbeatTask {
    task: tokio::task::JoinHandle<()>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
}

impl HeartbeatTask {
    fn start(client: &Client, id: i64, behaviour: &Behaviour, context: &BotContext, leave: Arc<Notify>) -> Self {
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (client, period, silent_by_design) =
            (client.clone(), secs(behaviour.heartbeat_secs), behaviour.fail == Some(Failure::NoHeartbeat));
        let (meter, silenced, seen) = (context.meter.clone(), context.silenced.clone(), failures.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if silent_by_design || silenced.load(Ordering::Relaxed) {
                    continue;
                }
                let sent = tokio::time::Instant::now();
                match client.heartbeat(id).await {
                    Ok(reply) => {
                        meter.heartbeat(sent.elapsed());
                        if reply["shouldLeave"] == json!(true) {
                            leave.notify_one();
                        }
                    }
                    Err(e) => seen.lock().unwrap_or_else(|p| p.into_inner()).push(format!("heartbeat failed: {e}")),
                }
            }
        });
        HeartbeatTask { task, failures }
    }

    /// The heartbeats that failed so far (the bot logs them).
    fn failures(&self) -> Vec<String> {
        std::mem::take(&mut *self.failures.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for HeartbeatTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}
