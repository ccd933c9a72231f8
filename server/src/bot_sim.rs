//! `meeboter bot-sim`: a simulated bot that follows the bot contract exactly like a real bot
//! container (docs/BOT_API.md): it reads `BOT_ID` or `POOL_SLOT_UUID`, `MILO_URL` and
//! `MILO_AUTH_TOKEN`, fetches its config, reports JOINING_CALL → IN_WAITING_ROOM → IN_CALL with
//! participant events, heartbeats, streams logs, dequeues chat, and leaves when told (or when
//! its call ends), finishing DONE. It speaks REST or the upstream tRPC format.
//!
//! With `--fleet N --listen ADDR` it is instead the fleet host ([`fleet`]): up to N such bots
//! as tasks of one process, launched over HTTP by `SimulatedPlatform` drivers
//! (docs/SIMULATION.md). One bot's life is [`lifecycle::run_bot`] either way.

mod client;
pub mod fleet;
pub mod lifecycle;
pub mod meter;
pub mod recording;
mod screenshot;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use lifecycle::run_bot;
pub use meter::Meter;
pub use screenshot::fake_screenshot;

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
    #[arg(long, env = "BOT_ID", required_unless_present_any = ["pool_slot_uuid", "fleet"])]
    pub bot_id: Option<i64>,
    /// The Coolify pool slot to be; the server says which bot it runs.
    #[arg(long, env = "POOL_SLOT_UUID")]
    pub pool_slot_uuid: Option<String>,
    /// Where the server is.
    #[arg(long, env = "MILO_URL", required_unless_present = "fleet")]
    pub milo_url: Option<String>,
    /// The bot's token.
    #[arg(long, env = "MILO_AUTH_TOKEN", hide_env_values = true, required_unless_present = "fleet")]
    pub token: Option<String>,
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
    /// Log lines per second while in the call (default: one line every 2 s).
    #[arg(long, env = "BOT_SIM_LOG_RATE")]
    pub log_rate: Option<f64>,
    /// Be the fleet host: run up to this many bots as tasks, launched over HTTP. A flag only
    /// (no variable): a `BOT_SIM_*` in a server's environment reaches its local bots, which must
    /// stay single bots.
    #[arg(long)]
    pub fleet: Option<usize>,
    /// Where to upload the recording when there is no S3 (Meeboter's bot API).
    #[arg(long, env = "RECORDING_UPLOAD_URL")]
    pub recording_upload_url: Option<String>,
    /// S3, as real bots get it: with all of these the recording goes straight to the bucket.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "S3_BUCKET_NAME")]
    pub s3_bucket_name: Option<String>,
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    #[arg(long, env = "S3_ACCESS_KEY", hide_env_values = true)]
    pub s3_access_key: Option<String>,
    #[arg(long, env = "S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// Where the fleet host listens (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:9400", requires = "fleet")]
    pub listen: SocketAddr,
}

impl SimArgs {
    /// Where the recording goes: S3 when every `S3_*` setting is there, else the upload URL.
    pub fn recording_target(&self) -> Option<recording::RecordingTarget> {
        use recording::{RecordingTarget, S3Settings};
        match (&self.s3_endpoint, &self.s3_bucket_name, &self.s3_access_key, &self.s3_secret_key) {
            (Some(endpoint), Some(bucket), Some(access_key), Some(secret_key)) => {
                Some(RecordingTarget::S3(S3Settings {
                    endpoint: endpoint.clone(),
                    bucket: bucket.clone(),
                    region: self.s3_region.clone(),
                    access_key: access_key.clone(),
                    secret_key: secret_key.clone(),
                }))
            }
            _ => self.recording_upload_url.clone().map(RecordingTarget::Upload),
        }
    }

    /// How bots behave, from these flags.
    pub fn behaviour(&self) -> Behaviour {
        Behaviour {
            protocol: self.protocol,
            heartbeat_secs: self.heartbeat_secs,
            join_secs: self.join_secs,
            call_secs: self.call_secs,
            fail: self.fail,
            log_rate: self.log_rate,
        }
    }
}

/// Who a bot is and where its server is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub bot_id: Option<i64>,
    pub pool_slot_uuid: Option<String>,
    pub milo_url: String,
    /// The bot's token. Never logged.
    pub token: String,
    /// Where its recording goes (`None`: the bot API's upload route on `milo_url`).
    pub recording: Option<recording::RecordingTarget>,
}

/// How a bot behaves (timings, wire format, failure, log rate).
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub protocol: Protocol,
    pub heartbeat_secs: f64,
    pub join_secs: f64,
    pub call_secs: Option<f64>,
    pub fail: Option<Failure>,
    /// Log lines per second in the call; `None`: one line per streaming tick, as before.
    pub log_rate: Option<f64>,
}

impl Behaviour {
    /// Refuses timings a bot cannot follow, naming the flag.
    pub fn validate(&self) -> Result<(), SimError> {
        let checks = [
            ("--heartbeat-secs", Some(self.heartbeat_secs), 0.01),
            ("--join-secs", Some(self.join_secs), 0.0),
            ("--call-secs", self.call_secs, 0.0),
            ("--log-rate", self.log_rate, 0.0),
        ];
        for (flag, value, least) in checks {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < least || *v > 86_400.0) {
                return Err(SimError::Other(format!("{flag} must be from {least} to 86400, not {v}")));
            }
        }
        Ok(())
    }
}

/// What a bot shares with the process that runs it.
#[derive(Clone, Default)]
pub struct BotContext {
    /// Where it counts heartbeats, log lines and failed requests.
    pub meter: Arc<Meter>,
    /// When set, the bot stops heartbeating and keeps running (the fleet's kill switch).
    pub silenced: Arc<AtomicBool>,
    /// Whether its log lines are also printed (one bot: yes; a fleet: no).
    pub echo_logs: bool,
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

/// The HTTP client bots share (one per process: a fleet's bots reuse its connections).
pub fn http_client() -> Result<reqwest::Client, SimError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| SimError::Other(format!("HTTP client: {e}")))
}

/// Runs the single simulated bot of `args` until it is done (or SIGTERM/Ctrl-C tells it to
/// leave). Exit code 0 when it ended DONE.
pub async fn run(args: SimArgs) -> Result<u8, SimError> {
    let behaviour = args.behaviour();
    behaviour.validate()?;
    let recording = args.recording_target();
    let identity = Identity {
        bot_id: args.bot_id,
        pool_slot_uuid: args.pool_slot_uuid,
        milo_url: args.milo_url.ok_or_else(|| SimError::Other("set MILO_URL".into()))?,
        token: args.token.ok_or_else(|| SimError::Other("set MILO_AUTH_TOKEN".into()))?,
        recording,
    };
    let context = BotContext { echo_logs: true, ..BotContext::default() };
    run_bot(&http_client()?, identity, &behaviour, context, shutdown_signal()).await
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
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
