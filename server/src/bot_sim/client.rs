//! The simulated bot's side of the bot API (docs/BOT_API.md) in either wire format, and the
//! buffer its log lines wait in before they are streamed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use super::meter::Meter;
use super::screenshot::fake_screenshot;
use super::{Protocol, SimError};

/// How often a request is tried when it fails for a transient reason.
const ATTEMPTS: u32 = 3;

/// One bot's connection to the server: the shared HTTP client, its token and wire format.
#[derive(Clone)]
pub(super) struct Client {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) token: String,
    pub(super) protocol: Protocol,
    /// Where requests that fail are counted (the fleet's statistics).
    pub(super) meter: Arc<Meter>,
}

pub(super) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Client {
    /// Sends a request; a transient failure (no answer, 502, 503, 504) is tried again twice,
    /// after 250 ms and 500 ms, so a server replica that restarts does not end the bot. Each
    /// failed attempt is counted.
    async fn send(&self, method: &'static str, url: String, body: Option<Value>) -> Result<Value, SimError> {
        let mut pause = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            let result = self.send_once(method, url.clone(), body.clone()).await;
            let Err(e) = result else { return result };
            self.meter.request_failed();
            let transient = matches!(e, SimError::Http { .. } | SimError::Refused { status: 502..=504, .. });
            if !transient || attempt >= ATTEMPTS {
                return Err(e);
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            attempt += 1;
        }
    }

    async fn send_once(&self, method: &'static str, url: String, body: Option<Value>) -> Result<Value, SimError> {
        let mut req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url),
        };
        req = req.header("X-Milo-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| SimError::Http { method, url: url.clone(), reason: describe(&e) })?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| SimError::Http { method, url: url.clone(), reason: describe(&e) })?;
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

    pub(super) async fn config(&self, bot: Option<i64>, slot: Option<&str>) -> Result<Value, SimError> {
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

    pub(super) async fn heartbeat(&self, id: i64) -> Result<Value, SimError> {
        match self.protocol {
            Protocol::Rest => self.send("POST", format!("{}/api/v1/bot/{id}/heartbeat", self.base), None).await,
            Protocol::Trpc => self.trpc("bots.sendHeartbeat", false, json!({ "id": id.to_string() }), &[]).await,
        }
    }

    pub(super) async fn event(&self, id: i64, event_type: &str, data: Value) -> Result<(), SimError> {
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
    pub(super) async fn status(&self, id: i64, status: &str, recording: Option<String>) -> Result<(), SimError> {
        self.event(id, status, json!({ "description": format!("simulated bot: {status}") })).await?;
        let mut body = json!({ "status": status });
        if let Some(r) = recording {
            body["recording"] = json!(r);
            body["speakerTimeframes"] = super::recording::speaker_timeframes();
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

    pub(super) async fn logs(&self, id: i64, lines: &[(String, &str, String)]) -> Result<(), SimError> {
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
    pub(super) async fn screenshot(&self, id: i64, kind: &str, state: &str, trigger: &str) -> Result<(), SimError> {
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
        let res =
            self.http.post(&url).header("X-Milo-Token", &self.token).multipart(form).send().await.map_err(|e| {
                self.meter.request_failed();
                SimError::Http { method: "POST", url: url.clone(), reason: describe(&e) }
            })?;
        if res.status().as_u16() != 201 {
            self.meter.request_failed();
            let status = res.status().as_u16();
            return Err(SimError::Refused {
                what: format!("POST {url}"),
                status,
                body: res.text().await.unwrap_or_default(),
            });
        }
        Ok(())
    }

    pub(super) async fn flush(&self, id: i64) -> Result<(), SimError> {
        match self.protocol {
            Protocol::Rest => self.send("POST", format!("{}/api/v1/bot/{id}/logs/flush", self.base), None).await?,
            Protocol::Trpc => self.trpc("bots.logs.flush", false, json!({ "botId": id.to_string() }), &[]).await?,
        };
        Ok(())
    }

    pub(super) async fn dequeue(&self, id: i64) -> Result<Option<String>, SimError> {
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

/// A transport error with its causes ("error sending request: connection reset by peer").
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The most lines a bot keeps while the server does not take them; newer ones are dropped.
const LOG_BUFFER_LIMIT: usize = 500;

/// Log lines waiting to be streamed (bots send every 2 s or at 100 lines).
#[derive(Default)]
pub(super) struct LogBuffer {
    lines: Vec<(String, &'static str, String)>,
    /// Whether each line is also printed (a single bot: yes; a fleet of thousands: no).
    echo: bool,
}

impl LogBuffer {
    /// An empty buffer; `echo` also prints each line.
    pub(super) fn new(echo: bool) -> Self {
        LogBuffer { lines: Vec::new(), echo }
    }

    pub(super) fn push(&mut self, level: &'static str, message: impl Into<String>) {
        let message = message.into();
        if self.echo {
            tracing::info!(target: "bot_sim", level, "{message}");
        }
        self.lines.push((now(), level, message));
    }

    pub(super) fn len(&self) -> usize {
        self.lines.len()
    }

    pub(super) async fn ship(&mut self, client: &Client, id: i64) {
        if let Err(e) = client.logs(id, &self.lines).await {
            if self.echo {
                tracing::warn!(error = %e, "streaming logs failed; keeping them for the next try");
            }
            client.meter.log_lines_dropped(self.lines.len().saturating_sub(LOG_BUFFER_LIMIT));
            self.lines.truncate(LOG_BUFFER_LIMIT);
            return;
        }
        client.meter.log_lines_sent(self.lines.len());
        self.lines.clear();
    }
}
