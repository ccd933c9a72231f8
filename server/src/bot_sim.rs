//! `meeboter bot-sim`: a simulated bot that follows the bot contract exactly like a real bot
//! container (docs/BOT_API.md): it reads `BOT_ID` or `POOL_SLOT_UUID`, `MILO_URL` and
//! `MILO_AUTH_TOKEN`, fetches its config, reports JOINING_CALL → IN_WAITING_ROOM → IN_CALL with
//! participant events, heartbeats, streams logs, dequeues chat, and leaves when told (or when
//! its call ends), finishing DONE. It speaks REST or the upstream tRPC format.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

/// Which wire format to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// `/api/v1/bot/...`
    Rest,
    /// `/api/trpc/...` with batching and superjson, as existing bot containers do.
    Trpc,
}

/// How the simulated bot misbehaves, for testing the server's handling of failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Failure {
    /// Exit with status 1 once in the call, without a word.
    Crash,
    /// Report FATAL once in the call, then exit 1.
    Fatal,
    /// Stop doing anything once in the call (no heartbeats, no exit).
    Stuck,
    /// Stay in the call but never send a heartbeat.
    NoHeartbeat,
}

/// The simulator's settings (each also read from the environment).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// The bot to be (K8s, ECS, local).
    #[arg(long, env = "BOT_ID", required_unless_present = "pool_slot_uuid")]
    pub bot_id: Option<i64>,
    /// The Coolify pool slot to be; the server says which bot it runs.
    #[arg(long, env = "POOL_SLOT_UUID")]
    pub pool_slot_uuid: Option<String>,
    /// Where the server is.
    #[arg(long, env = "MILO_URL")]
    pub milo_url: String,
    /// The bot's token.
    #[arg(long, env = "MILO_AUTH_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Wire format.
    #[arg(long, env = "BOT_SIM_PROTOCOL", value_enum, default_value = "rest")]
    pub protocol: Protocol,
    /// Seconds between heartbeats (real bots: 10).
    #[arg(long, env = "BOT_SIM_HEARTBEAT_SECS", default_value_t = 10.0)]
    pub heartbeat_secs: f64,
    /// Seconds from JOINING_CALL to IN_CALL (half of it in the waiting room).
    #[arg(long, env = "BOT_SIM_JOIN_SECS", default_value_t = 4.0)]
    pub join_secs: f64,
    /// Leave on its own after this many seconds in the call (default: stay until told).
    #[arg(long, env = "BOT_SIM_CALL_SECS")]
    pub call_secs: Option<f64>,
    /// Misbehave this way once in the call.
    #[arg(long, env = "BOT_SIM_FAIL", value_enum)]
    pub fail: Option<Failure>,
}

/// A failure to talk to the server.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{method} {url}: {reason}")]
    Http { method: &'static str, url: String, reason: String },
    #[error("the server answered {status} to {what}: {body}")]
    Refused { what: String, status: u16, body: String },
    #[error("{0}")]
    Other(String),
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    protocol: Protocol,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Client {
    async fn send(&self, method: &'static str, url: String, body: Option<Value>) -> Result<Value, SimError> {
        let mut req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url),
        };
        req = req.header("X-Milo-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| SimError::Http { method, url: url.clone(), reason: e.to_string() })?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| SimError::Http { method, url: url.clone(), reason: e.to_string() })?;
        if !(200..300).contains(&status) {
            return Err(SimError::Refused { what: format!("{method} {url}"), status, body: text });
        }
        serde_json::from_str(&text).map_err(|e| SimError::Other(format!("{url}: unreadable answer: {e}")))
    }

    /// A tRPC call as `httpBatchLink` makes it: `?batch=1`, input `{"0": {"json": ...}}`.
    async fn trpc(&self, path: &str, query: bool, input: Value, dates: &[&str]) -> Result<Value, SimError> {
        let mut one = json!({ "json": input });
        if !dates.is_empty() {
            let values: serde_json::Map<String, Value> =
                dates.iter().map(|d| ((*d).to_owned(), json!(["Date"]))).collect();
            one["meta"] = json!({ "values": values });
        }
        let batch = json!({ "0": one });
        let answer = if query {
            let input: String = url_encode(&batch.to_string());
            self.send("GET", format!("{}/api/trpc/{path}?batch=1&input={input}", self.base), None).await?
        } else {
            self.send("POST", format!("{}/api/trpc/{path}?batch=1", self.base), Some(batch)).await?
        };
        let first = answer.get(0).cloned().unwrap_or(Value::Null);
        if let Some(err) = first.get("error") {
            return Err(SimError::Other(format!("{path}: {}", err["json"]["message"])));
        }
        Ok(first["result"]["data"]["json"].clone())
    }

    async fn config(&self, bot: Option<i64>, slot: Option<&str>) -> Result<Value, SimError> {
        match (self.protocol, bot, slot) {
            (Protocol::Rest, Some(id), _) => {
                self.send("GET", format!("{}/api/v1/bot/{id}/config", self.base), None).await
            }
            (Protocol::Rest, None, Some(uuid)) => {
                self.send("GET", format!("{}/api/v1/bot/slots/{uuid}/config", self.base), None).await
            }
            (Protocol::Trpc, Some(id), _) => self.trpc("bots.getConfig", true, json!({ "botId": id }), &[]).await,
            (Protocol::Trpc, None, Some(uuid)) => {
                self.trpc("infrastructure.coolify.pool.getSlot", true, json!({ "poolSlotUuid": uuid }), &[]).await
            }
            _ => Err(SimError::Other("set BOT_ID or POOL_SLOT_UUID".into())),
        }
    }

    async fn heartbeat(&self, id: i64) -> Result<Value, SimError> {
        match self.protocol {
            Protocol::Rest => self.send("POST", format!("{}/api/v1/bot/{id}/heartbeat", self.base), None).await,
            Protocol::Trpc => self.trpc("bots.sendHeartbeat", false, json!({ "id": id.to_string() }), &[]).await,
        }
    }

    async fn event(&self, id: i64, event_type: &str, data: Value) -> Result<(), SimError> {
        let event = json!({ "eventType": event_type, "eventTime": now(), "data": data });
        match self.protocol {
            Protocol::Rest => {
                self.send("POST", format!("{}/api/v1/bot/{id}/events", self.base), Some(json!({ "events": [event] })))
                    .await?;
            }
            Protocol::Trpc => {
                self.trpc(
                    "bots.events.report",
                    false,
                    json!({ "id": id.to_string(), "event": event }),
                    &["event.eventTime"],
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Reports a status the way real bots do: the event, then the status change.
    async fn status(&self, id: i64, status: &str, recording: Option<String>) -> Result<(), SimError> {
        self.event(id, status, json!({ "description": format!("simulated bot: {status}") })).await?;
        let mut body = json!({ "status": status });
        if let Some(r) = recording {
            body["recording"] = json!(r);
        }
        match self.protocol {
            Protocol::Rest => {
                self.send("POST", format!("{}/api/v1/bot/{id}/status", self.base), Some(body)).await?;
            }
            Protocol::Trpc => {
                body["id"] = json!(id.to_string());
                self.trpc("bots.updateStatus", false, body, &[]).await?;
            }
        }
        Ok(())
    }

    async fn logs(&self, id: i64, lines: &[(String, &str, String)]) -> Result<(), SimError> {
        if lines.is_empty() {
            return Ok(());
        }
        let entries: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(i, (at, level, message))| {
                json!({ "id": format!("{id}-{at}-{i}"), "botId": id, "timestamp": at, "level": level, "message": message, "state": "simulated" })
            })
            .collect();
        match self.protocol {
            Protocol::Rest => {
                self.send("POST", format!("{}/api/v1/bot/{id}/logs", self.base), Some(json!({ "entries": entries })))
                    .await?;
            }
            Protocol::Trpc => {
                let dates: Vec<String> = (0..entries.len()).map(|i| format!("entries.{i}.timestamp")).collect();
                let refs: Vec<&str> = dates.iter().map(String::as_str).collect();
                self.trpc("bots.logs.stream", false, json!({ "botId": id.to_string(), "entries": entries }), &refs)
                    .await?;
            }
        }
        Ok(())
    }

    /// Uploads a screenshot the way real bots do (multipart to the upstream route, in either mode).
    async fn screenshot(&self, id: i64, kind: &str, state: &str, trigger: &str) -> Result<(), SimError> {
        let url = format!("{}/api/bots/{id}/screenshots", self.base);
        let part = reqwest::multipart::Part::bytes(fake_screenshot(state))
            .file_name("screenshot.png")
            .mime_str("image/png")
            .map_err(|e| SimError::Other(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("type", kind.to_owned())
            .text("state", state.to_owned())
            .text("trigger", trigger.to_owned());
        let res = self
            .http
            .post(&url)
            .header("X-Milo-Token", &self.token)
            .multipart(form)
            .send()
            .await
            .map_err(|e| SimError::Http { method: "POST", url: url.clone(), reason: e.to_string() })?;
        if res.status().as_u16() != 201 {
            let status = res.status().as_u16();
            return Err(SimError::Refused {
                what: format!("POST {url}"),
                status,
                body: res.text().await.unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn flush(&self, id: i64) -> Result<(), SimError> {
        match self.protocol {
            Protocol::Rest => self.send("POST", format!("{}/api/v1/bot/{id}/logs/flush", self.base), None).await?,
            Protocol::Trpc => self.trpc("bots.logs.flush", false, json!({ "botId": id.to_string() }), &[]).await?,
        };
        Ok(())
    }

    async fn dequeue(&self, id: i64) -> Result<Option<String>, SimError> {
        let v = match self.protocol {
            Protocol::Rest => {
                self.send("POST", format!("{}/api/v1/bot/{id}/chat/dequeue", self.base), None).await?["message"].clone()
            }
            Protocol::Trpc => {
                self.trpc("bots.chat.dequeueMessage", true, json!({ "botId": id.to_string() }), &[]).await?
            }
        };
        Ok(v.get("messageText").and_then(Value::as_str).map(str::to_owned))
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Log lines waiting to be streamed (bots send every 2 s or at 100 lines).
#[derive(Default)]
struct LogBuffer(Vec<(String, &'static str, String)>);

impl LogBuffer {
    fn push(&mut self, level: &'static str, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(target: "bot_sim", level, "{message}");
        self.0.push((now(), level, message));
    }

    async fn ship(&mut self, client: &Client, id: i64) {
        if let Err(e) = client.logs(id, &self.0).await {
            tracing::warn!(error = %e, "streaming logs failed; keeping them for the next try");
            self.0.truncate(500);
            return;
        }
        self.0.clear();
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Runs the simulated bot until it is done. Exit code 0 when it ended DONE.
pub async fn run(args: SimArgs) -> Result<u8, SimError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| SimError::Other(format!("HTTP client: {e}")))?;
    let client = Client {
        http,
        base: args.milo_url.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
        protocol: args.protocol,
    };
    let config = client.config(args.bot_id, args.pool_slot_uuid.as_deref()).await?;
    let id = config["id"].as_i64().ok_or_else(|| SimError::Other(format!("config without an id: {config}")))?;
    let recording =
        config["recordingEnabled"].as_bool().unwrap_or(false).then(|| format!("bots/{id}/recordings/simulated.webm"));
    let mut logs = LogBuffer::default();
    logs.push(
        "INFO",
        format!("Simulated bot {id} starting ({:?}), meeting {}", args.protocol, config["meeting"]["meetingUrl"]),
    );

    client.status(id, "JOINING_CALL", None).await?;
    logs.push("INFO", "Joining the call");
    tokio::time::sleep(secs(args.join_secs / 2.0)).await;
    client.status(id, "IN_WAITING_ROOM", None).await?;
    logs.push("INFO", "In the waiting room");
    tokio::time::sleep(secs(args.join_secs / 2.0)).await;
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

    match args.fail {
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
        Some(Failure::Stuck) => loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        },
        _ => {}
    }

    let started = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval(secs(args.heartbeat_secs));
    let mut chat = tokio::time::interval(secs(args.heartbeat_secs.min(5.0)));
    let mut ship = tokio::time::interval(Duration::from_secs(2).min(secs(args.heartbeat_secs)));
    let mut tick = 0u64;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let told_to_leave = loop {
        if args.call_secs.is_some_and(|c| started.elapsed() >= secs(c)) {
            break false;
        }
        tokio::select! {
            _ = heartbeat.tick(), if args.fail != Some(Failure::NoHeartbeat) => {
                match client.heartbeat(id).await {
                    Ok(reply) if reply["shouldLeave"] == json!(true) => break true,
                    Ok(_) => {}
                    Err(e) => logs.push("WARN", format!("heartbeat failed: {e}")),
                }
            }
            _ = chat.tick() => {
                match client.dequeue(id).await {
                    Ok(Some(text)) => logs.push("INFO", format!("Sending chat message: {text}")),
                    Ok(None) => {}
                    Err(e) => logs.push("WARN", format!("chat dequeue failed: {e}")),
                }
            }
            _ = ship.tick() => {
                tick += 1;
                logs.push("TRACE", format!("still in the call ({tick})"));
                logs.ship(&client, id).await;
            }
            _ = &mut shutdown => break true,
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
    logs.ship(&client, id).await;
    client.flush(id).await?;
    client.status(id, "DONE", recording).await?;
    Ok(0)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A small PNG (uncompressed deflate) the simulated bot "captures": a gradient tinted by state.
pub fn fake_screenshot(state: &str) -> Vec<u8> {
    const W: u32 = 160;
    const H: u32 = 90;
    let tint: [u8; 3] = match state {
        "IN_CALL" => [16, 185, 129],
        "FATAL" => [220, 38, 38],
        _ => [99, 102, 241],
    };
    let mut raw = Vec::with_capacity(((W * 3 + 1) * H) as usize);
    let mut row = vec![0u8]; // filter type 0, then RGB pixels
    for x in 0..W {
        let shade = (x * 255 / W) as u16;
        row.extend(tint.map(|c| ((u16::from(c) * (128 + shade / 2)) / 255) as u8));
    }
    for _ in 0..H {
        raw.extend_from_slice(&row);
    }
    // zlib stream with stored (uncompressed) deflate blocks.
    let mut z = vec![0x78, 0x01];
    for (i, chunk) in raw.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= raw.len();
        z.push(u8::from(last));
        let len = chunk.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&W.to_be_bytes());
    ihdr.extend_from_slice(&H.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fake_screenshot_is_a_png() {
        let png = super::fake_screenshot("IN_CALL");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND with its CRC");
    }
}
