//! Long-running work: the HTTP server, the workers (`app::backend::workers`), and shutdown on
//! SIGTERM/Ctrl-C: stop accepting, drain requests for at most [`DRAIN_DEADLINE`], stop the
//! workers, then write what is still buffered (heartbeats, API request logs) and stop local bots.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::backend::deployer::Deployer;
use app::backend::platforms::coolify::CoolifyPlatform;
use app::backend::platforms::registry::PROBE_INTERVAL;
use app::backend::state::AppState;
use app::backend::workers::coolify_pool::CoolifyPoolWorker;
use app::backend::workers::dispatcher::QueueDispatcher;
use app::backend::workers::health::HealthMonitor;
use app::backend::workers::log_archiver::LogArchiver;
use app::backend::workers::maintenance::Maintenance;
use app::backend::workers::reconciler::Reconciler;
use app::backend::workers::recordings::RecordingRetention;
use app::backend::workers::scheduler::Scheduler;
use app::backend::workers::webhooks::WebhookSender;
use secrecy::ExposeSecret;
use tokio::sync::watch;

/// How long in-flight requests may take to finish after SIGTERM (Kubernetes' default grace
/// period is 30 s; the rest is for the final flushes).
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(20);
/// How long the final flushes may take.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// Resolves when the process receives SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

/// The deployer over this process's platforms.
pub fn deployer(state: &AppState) -> Arc<Deployer> {
    Arc::new(Deployer::new(state.pool.clone(), state.config.clone(), state.platforms.clone()))
}

/// Background work of every replica: the workers. Resolves once `stop` turns true and every
/// worker has stopped.
async fn background(state: AppState, stop: watch::Receiver<bool>) {
    let url = state.config.database_url.expose_secret().to_owned();
    let dispatcher = QueueDispatcher::new(deployer(&state), url.clone());
    let scheduler = Scheduler { pool: state.pool.clone(), config: state.config.clone() };
    let health = HealthMonitor { pool: state.pool.clone(), config: state.config.clone() };
    let reconciler = Reconciler::new(state.pool.clone(), state.platforms.clone(), state.config.clone());
    let archiver = LogArchiver { pool: state.pool.clone(), storage: state.storage.clone() };
    let maintenance = Maintenance { pool: state.pool.clone() };
    let webhooks = WebhookSender { pool: state.pool.clone(), config: state.config.clone() };
    let retention = state.config.recording_retention_days.map(|days| {
        tracing::info!(days, "recordings are deleted {days} days after their bot reported them");
        RecordingRetention { pool: state.pool.clone(), storage: state.storage.clone(), days }.run(stop.clone())
    });
    if retention.is_none() {
        tracing::info!(
            "recording retention is off: recordings stay until their bot is deleted (RECORDING_RETENTION_DAYS)"
        );
    }
    let retention = async move {
        if let Some(worker) = retention {
            worker.await;
        }
    };
    // Each replica probes its own platforms (its credentials and network path), for /readyz.
    let platforms = state.platforms.clone();
    let probes = app::backend::workers::every(PROBE_INTERVAL, stop.clone(), move || {
        let platforms = platforms.clone();
        async move {
            platforms.probe_all().await;
        }
    });
    // The Coolify pool's upkeep, when this process drives Coolify (leader only).
    let coolify = state.platforms.driver::<CoolifyPlatform>().map(|platform| {
        let worker = CoolifyPoolWorker { platform, database_url: state.config.database_url.expose_secret().to_owned() };
        worker.run(stop.clone())
    });
    let coolify = async move {
        if let Some(worker) = coolify {
            worker.await;
        }
    };
    tokio::join!(
        probes,
        coolify,
        retention,
        dispatcher.run(stop.clone()),
        scheduler.run(stop.clone()),
        health.run(stop.clone()),
        reconciler.run(stop.clone()),
        archiver.run(stop.clone()),
        webhooks.run(stop.clone()),
        maintenance.run(stop),
    );
}

/// Serves HTTP on `addr` until SIGTERM or Ctrl-C, with the background work alongside.
pub async fn serve(state: AppState, addr: SocketAddr, started: Instant) -> std::io::Result<()> {
    let listener = listen(addr)?;
    tracing::info!(
        addr = %addr,
        url = %format!("http://{addr}"),
        startup_ms = started.elapsed().as_millis() as u64,
        "listening"
    );
    serve_until(state, listener, shutdown_signal()).await
}

/// Connections the kernel queues for `accept` (capped by `net.core.somaxconn`, 4096 on current
/// kernels). Tokio's default of 1024 overflowed when thousands of bots (re)connected at once: the
/// kernel dropped their SYNs and each waited 1 to 3 s to retry (the fleet benchmark's slowest
/// heartbeats; `nstat TcpExtListenOverflows` counted them).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves on `listener` until `shutdown` resolves, then drains (at most [`DRAIN_DEADLINE`]),
/// stops the workers and writes what is buffered.
pub async fn serve_until(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(background(state.clone(), stop_rx.clone()));
    let (logs, log_writer) = crate::http::api_v1::RequestLogSink::start_joinable(&state);
    let app = crate::http::router_with(state.clone(), logs).into_make_service_with_connect_info::<SocketAddr>();
    let signalled = {
        let stop_tx = stop_tx.clone();
        let live = state.live.clone();
        async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            // Open live streams would hold the drain up to its deadline: end them now.
            live.close();
        }
    };
    let mut drained = stop_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(signalled);
    let result = tokio::select! {
        r = server => r,
        () = async {
            let _ = drained.wait_for(|s| *s).await;
            tokio::time::sleep(DRAIN_DEADLINE).await;
        } => {
            tracing::warn!(deadline_secs = DRAIN_DEADLINE.as_secs(), "requests still running at the drain deadline were cut");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    let _ = worker.await;
    finish(&state, log_writer).await;
    tracing::info!("stopped");
    result
}

/// The final flushes: heartbeats still buffered, API request logs still queued, local bots.
async fn finish(state: &AppState, log_writer: tokio::task::JoinHandle<()>) {
    match tokio::time::timeout(FLUSH_DEADLINE, state.heartbeats.flush()).await {
        Ok(Ok(n)) if n > 0 => tracing::info!(bots = n, "buffered heartbeats written"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "writing buffered heartbeats failed"),
        Err(_) => tracing::warn!("writing buffered heartbeats timed out"),
    }
    // Every sink went with the router: the writer flushes what is queued and ends.
    if tokio::time::timeout(FLUSH_DEADLINE, log_writer).await.is_err() {
        tracing::warn!("writing queued API request logs timed out");
    }
    state.platforms.shutdown().await;
}

/// Runs only the background workers until shutdown (`meeboter worker`).
pub async fn work(state: AppState) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(background(state.clone(), stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = state.heartbeats.flush().await;
    state.platforms.shutdown().await;
}
