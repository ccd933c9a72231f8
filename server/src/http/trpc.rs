//! `/api/trpc/...`: the bot procedures in the wire format existing bot containers speak
//! (tRPC `httpBatchLink` with the superjson transformer, see docs/BOT_API.md):
//!
//! - query `GET /api/trpc/<path>?batch=1&input={"0":{"json":<input>}}`,
//!   mutation `POST /api/trpc/<path>?batch=1` with the same object as the body;
//! - several procedures in one request: `/api/trpc/a,b?batch=1` with inputs `"0"`, `"1"`;
//! - each answer is `{"result":{"data":{"json","meta"?}}}` or
//!   `{"error":{"json":{"message","code","data":{"code","httpStatus","path"}}}}`, in an array
//!   for a batch; Dates travel as ISO strings named in `meta.values`.
//!
//! The procedures call the same service as the REST routes (`bot_api`), with the same token check.

use std::collections::HashMap;

use app::backend::services::bot_api::{self as svc, LogEntry, ReportedEvent, StatusUpdate};
use app::backend::state::AppState;
use app::model::error::AppError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// Most procedures one batch may call.
pub const MAX_BATCH: usize = 32;

/// `/api/trpc` with no procedure.
pub async fn handle_root() -> Response {
    let e = TrpcError::new("NOT_FOUND", 404, "Name a procedure: /api/trpc/<path>.");
    (StatusCode::NOT_FOUND, Json(e.body(""))).into_response()
}

/// A body larger than the server accepts, in tRPC's shape (the edge's body limit answers
/// tRPC paths with it).
pub fn too_large(max_bytes: usize) -> Response {
    let e = TrpcError::new("PAYLOAD_TOO_LARGE", 413, format!("The body is larger than {} KiB.", max_bytes / 1024));
    (StatusCode::PAYLOAD_TOO_LARGE, Json(e.body(""))).into_response()
}

/// Whether a procedure is a query (GET) or a mutation (POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Mutation,
}

/// Every procedure, and whether it is a query or a mutation.
const PROCEDURES: [(&str, Kind); 8] = [
    ("bots.getConfig", Kind::Query),
    ("bots.chat.dequeueMessage", Kind::Query),
    ("infrastructure.coolify.pool.getSlot", Kind::Query),
    ("bots.updateStatus", Kind::Mutation),
    ("bots.sendHeartbeat", Kind::Mutation),
    ("bots.events.report", Kind::Mutation),
    ("bots.logs.stream", Kind::Mutation),
    ("bots.logs.flush", Kind::Mutation),
];

/// The names of every procedure (the authorisation matrix requires a row for each).
pub fn procedures() -> impl Iterator<Item = &'static str> {
    PROCEDURES.iter().map(|(p, _)| *p)
}

fn kind_of(path: &str) -> Option<Kind> {
    PROCEDURES.iter().find(|(p, _)| *p == path).map(|(_, k)| *k)
}

/// One procedure's failure, in tRPC terms.
#[derive(Debug)]
struct TrpcError {
    code: &'static str,
    status: u16,
    message: String,
}

impl TrpcError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        TrpcError { code, status, message: message.into() }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new("BAD_REQUEST", 400, message)
    }

    /// The JSON-RPC number tRPC sends next to the code name.
    fn number(&self) -> i32 {
        match self.code {
            "PARSE_ERROR" => -32700,
            "BAD_REQUEST" => -32600,
            "UNAUTHORIZED" => -32001,
            "FORBIDDEN" => -32003,
            "NOT_FOUND" => -32004,
            "METHOD_NOT_SUPPORTED" => -32005,
            "CONFLICT" => -32009,
            "PRECONDITION_FAILED" => -32012,
            "PAYLOAD_TOO_LARGE" => -32013,
            "TOO_MANY_REQUESTS" => -32029,
            _ => -32603,
        }
    }

    fn body(&self, path: &str) -> Value {
        json!({ "error": { "json": {
            "message": self.message,
            "code": self.number(),
            "data": { "code": self.code, "httpStatus": self.status, "path": path, "zodError": null },
        } } })
    }
}

impl From<AppError> for TrpcError {
    fn from(e: AppError) -> Self {
        let code = match &e {
            AppError::Validation { .. } | AppError::BadRequest { .. } => "BAD_REQUEST",
            AppError::Unauthorized(_) => "UNAUTHORIZED",
            AppError::Forbidden => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Conflict { .. } => "CONFLICT",
            AppError::Precondition(_) => "PRECONDITION_FAILED",
            AppError::TooLarge(_) => "PAYLOAD_TOO_LARGE",
            AppError::TooManyRequests(_) | AppError::DailyLimit { .. } => "TOO_MANY_REQUESTS",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            AppError::Internal | AppError::Transport(_) => "INTERNAL_SERVER_ERROR",
        };
        let status = if code == "BAD_REQUEST" { 400 } else { e.status() };
        let message = match &e {
            AppError::Validation { field: Some(f), message } | AppError::BadRequest { field: Some(f), message } => {
                format!("{f}: {message}")
            }
            _ => e.to_string(),
        };
        TrpcError { code, status, message }
    }
}

/// A procedure's answer: superjson `json`, plus the paths of the values that are Dates.
struct Output {
    json: Value,
    dates: Vec<String>,
    /// The procedure returns nothing (`undefined`, which superjson tells apart from `null`).
    nothing: bool,
}

impl Output {
    fn plain(json: Value) -> Self {
        Output { json, dates: Vec::new(), nothing: false }
    }

    fn nothing() -> Self {
        Output { json: Value::Null, dates: Vec::new(), nothing: true }
    }

    fn body(self) -> Value {
        if self.nothing {
            // superjson's encoding of `undefined` (a procedure that returns nothing).
            return json!({ "result": { "data": { "json": null, "meta": { "values": ["undefined"] } } } });
        }
        let mut data = Map::new();
        data.insert("json".into(), self.json);
        if !self.dates.is_empty() {
            let values: Map<String, Value> = self.dates.into_iter().map(|p| (p, json!(["Date"]))).collect();
            data.insert("meta".into(), json!({ "values": values }));
        }
        json!({ "result": { "data": data } })
    }
}

/// A Date as JavaScript's `toISOString` writes it (milliseconds, `Z`).
fn js_date(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub async fn handle(
    State(state): State<AppState>,
    method: Method,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // axum's rejections are plain text: answer them as tRPC errors instead.
    let raw_paths = match &path {
        Ok(Path(p)) => p.clone(),
        Err(_) => String::new(),
    };
    let paths: Vec<&str> = raw_paths.split(',').collect();
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let batch = query.get("batch").is_some_and(|b| b == "1" || b == "true");
    let fail_all = |e: TrpcError| -> Response {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        if batch {
            (status, Json(Value::Array(paths.iter().map(|p| e.body(p)).collect()))).into_response()
        } else {
            (status, Json(e.body(paths[0]))).into_response()
        }
    };
    if path.is_err() {
        return fail_all(TrpcError::new("NOT_FOUND", 404, "The procedure path is not valid UTF-8."));
    }
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return fail_all(TrpcError::new(
            "METHOD_NOT_SUPPORTED",
            405,
            format!("tRPC answers GET (queries) and POST (mutations), not {method}."),
        ));
    }
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return fail_all(TrpcError::new("PAYLOAD_TOO_LARGE", 413, "The body is larger than the server accepts."))
        }
        Err(_) => return fail_all(TrpcError::bad_request("The body could not be read.")),
    };
    if !batch && paths.len() > 1 {
        return fail_all(TrpcError::bad_request("Several procedures in one request need ?batch=1."));
    }
    if paths.len() > MAX_BATCH {
        return fail_all(TrpcError::new(
            "PAYLOAD_TOO_LARGE",
            413,
            format!("Call at most {MAX_BATCH} procedures in one batch."),
        ));
    }
    let raw = if method != Method::POST {
        query.get("input").cloned().unwrap_or_default()
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(s) => s,
            Err(_) => return fail_all(TrpcError::new("PARSE_ERROR", 400, "The body is not UTF-8.")),
        }
    };
    let input: Value = if raw.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(&raw) {
            Ok(v) => v,
            Err(e) => return fail_all(TrpcError::new("PARSE_ERROR", 400, format!("The input is not valid JSON: {e}"))),
        }
    };
    let token = svc::token_from_headers(&headers).map(str::to_owned);
    let mut answers = Vec::with_capacity(paths.len());
    let mut statuses = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let one = if batch { input.get(i.to_string()).cloned().unwrap_or(Value::Null) } else { input.clone() };
        let result = match kind_of(path) {
            None => Err(TrpcError::new("NOT_FOUND", 404, format!("No procedure found on path \"{path}\""))),
            Some(Kind::Query) if method == Method::POST => {
                Err(TrpcError::new("METHOD_NOT_SUPPORTED", 405, format!("{path} is a query: call it with GET.")))
            }
            Some(Kind::Mutation) if method != Method::POST => {
                Err(TrpcError::new("METHOD_NOT_SUPPORTED", 405, format!("{path} is a mutation: call it with POST.")))
            }
            Some(_) => call(&state, path, unwrap_superjson(one), token.as_deref()).await,
        };
        match result {
            Ok(out) => {
                statuses.push(200);
                answers.push(out.body());
            }
            Err(e) => {
                if e.status >= 500 {
                    tracing::error!(path, message = %e.message, "tRPC procedure failed");
                }
                statuses.push(e.status);
                answers.push(e.body(path));
            }
        }
    }
    let status = if statuses.iter().all(|s| *s == statuses[0]) { statuses[0] } else { 207 };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if batch {
        (status, Json(Value::Array(answers))).into_response()
    } else {
        (status, Json(answers.pop().unwrap_or(Value::Null))).into_response()
    }
}

/// The `json` part of a superjson value (Dates inside are ISO strings, which the inputs parse
/// whether or not `meta` names them).
fn unwrap_superjson(v: Value) -> Value {
    match v {
        Value::Object(mut m) if m.contains_key("json") => m.remove("json").unwrap_or(Value::Null),
        other => other,
    }
}

fn field<T: DeserializeOwned>(input: &Value, name: &str) -> Result<T, TrpcError> {
    let v = input.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| TrpcError::bad_request(format!("{name}: {e}")))
}

/// A bot id sent as a number or a string of digits.
fn id_field(input: &Value, name: &str) -> Result<i64, TrpcError> {
    let id = match input.get(name) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    id.filter(|id| *id > 0).ok_or_else(|| TrpcError::bad_request(format!("{name}: expected a positive bot id")))
}

/// Runs one procedure. The token is checked before a connection is taken (the check uses the
/// heartbeat cache, or one connection of its own that it gives back first), so a procedure holds
/// at most one connection at a time.
async fn call(state: &AppState, path: &str, input: Value, token: Option<&str>) -> Result<Output, TrpcError> {
    if path == "bots.sendHeartbeat" {
        // The hot path: answered from the heartbeat cache, no connection taken.
        let id = id_field(&input, "id")?;
        return Ok(Output::plain(json!(state.heartbeats.beat(id, token).await?)));
    }
    if path == "infrastructure.coolify.pool.getSlot" {
        let uuid: String = field(&input, "poolSlotUuid")?;
        let mut conn = connection(state).await?;
        let id = svc::slot_bot(&mut conn, &uuid).await?;
        svc::authorize(&mut conn, &state.config, id, token).await?;
        return config_output(svc::get_config(&mut conn, id).await?);
    }
    let id = match path {
        "bots.updateStatus" | "bots.events.report" => id_field(&input, "id")?,
        "bots.getConfig" | "bots.logs.stream" | "bots.logs.flush" | "bots.chat.dequeueMessage" => {
            id_field(&input, "botId")?
        }
        _ => return Err(TrpcError::new("NOT_FOUND", 404, format!("No procedure found on path \"{path}\""))),
    };
    // Inputs are read before the token is checked, so a malformed call is answered as such.
    let update: Option<StatusUpdate> = if path == "bots.updateStatus" {
        let mut rest = input.clone();
        if let Value::Object(m) = &mut rest {
            m.remove("id");
        }
        Some(serde_json::from_value(rest).map_err(|e| TrpcError::bad_request(e.to_string()))?)
    } else {
        None
    };
    let event: Option<ReportedEvent> = if path == "bots.events.report" { Some(field(&input, "event")?) } else { None };
    let entries: Option<Vec<LogEntry>> =
        if path == "bots.logs.stream" { Some(field(&input, "entries")?) } else { None };
    state.heartbeats.authorize(id, token).await?;
    if let Some(entries) = &entries {
        state.bot_limits.take(id, svc::limits::Kind::LogLines, entries.len())?;
    }
    if path == "bots.logs.flush" {
        return Ok(Output::plain(json!({ "success": true })));
    }
    if path == "bots.chat.dequeueMessage" {
        return Ok(Output::plain(json!(state.heartbeats.dequeue_chat(id, token).await?)));
    }
    if let Some(entries) = &entries {
        let received = state.log_writer.write(id, entries).await?;
        return Ok(Output::plain(json!({ "received": received })));
    }
    let mut conn = connection(state).await?;
    let conn = &mut *conn;
    match (path, update, event) {
        ("bots.getConfig", ..) => config_output(svc::get_config(conn, id).await?),
        ("bots.updateStatus", Some(update), ..) => {
            let reply = svc::update_status(conn, id, &update).await?;
            state.heartbeats.forget(id);
            Ok(Output::plain(json!({ "id": reply.id, "status": reply.status })))
        }
        ("bots.events.report", _, Some(event)) => {
            svc::report_events(conn, id, std::slice::from_ref(&event)).await?;
            Ok(Output::nothing())
        }
        _ => Err(TrpcError::new("NOT_FOUND", 404, format!("No procedure found on path \"{path}\""))),
    }
}

/// A connection of the bot API's own pool (every procedure here is a bot's).
async fn connection(state: &AppState) -> Result<app::backend::db::DbConn, TrpcError> {
    state.bot_pool.get().await.map_err(|e| TrpcError::from(app::backend::error::internal("database unavailable", e)))
}

fn config_output(c: svc::BotConfig) -> Result<Output, TrpcError> {
    let (start, end) = (c.start_time, c.end_time);
    let mut json = serde_json::to_value(c)
        .map_err(|e| TrpcError::from(app::backend::error::internal("encoding a config failed", e)))?;
    json["startTime"] = js_date(start);
    json["endTime"] = js_date(end);
    Ok(Output { json, dates: vec!["startTime".into(), "endTime".into()], nothing: false })
}
