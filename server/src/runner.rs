//! Long-running work: the HTTP server, the maintenance worker, and shutdown on SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use app::backend::auth::{rate_limit, sessions};
use app::backend::deployer::Deployer;
use app::backend::platforms::local::LocalPlatform;
use app::backend::platforms::Platform;
use app::backend::state::AppState;
use tokio::sync::watch;

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

/// The platforms this process can drive, and the deployer over them.
pub fn deployer(state: &AppState) -> (Arc<Deployer>, Option<LocalPlatform>) {
    let mut available: Vec<Arc<dyn Platform>> = Vec::new();
    let local = state.local.clone();
    if let Some(l) = &local {
        available.push(Arc::new(l.clone()));
    }
    (Arc::new(Deployer::new(state.pool.clone(), state.config.clone(), available)), local)
}

/// Background work of every replica: maintenance and the deployer (dispatcher, scheduler,
/// health, reconcile). Resolves once `stop` turns true and everything has stopped, local bots
/// included.
async fn background(state: AppState, stop: watch::Receiver<bool>) {
    let (deployer, local) = deployer(&state);
    let jobs =
        tokio::join!(maintenance(state.clone(), stop.clone()), archiver(state, stop.clone()), deployer.run(stop));
    let _ = jobs;
    if let Some(local) = local {
        local.shutdown().await;
    }
}

/// Serves HTTP on `addr` until shutdown, with the background work alongside.
pub async fn serve(state: AppState, addr: SocketAddr, started: Instant) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(background(state.clone(), stop_rx));
    tracing::info!(
        addr = %addr,
        url = %format!("http://{addr}"),
        startup_ms = started.elapsed().as_millis() as u64,
        "listening"
    );
    let app = crate::http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    tracing::info!("stopped");
    result
}

/// Runs only the background workers until shutdown (`meeboter worker`).
pub async fn work(state: AppState) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(background(state, stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
}

/// How often finished bots' log lines are moved to object storage.
pub const ARCHIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Moves the log lines of bots that ended a minute ago or more to object storage (gzip JSON
/// lines). Safe on several replicas at once: each object is written before its lines are deleted,
/// and lines deleted twice are simply gone.
pub async fn archiver(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ARCHIVE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.changed() => return,
        }
        let Ok(mut conn) = state.pool.get().await else { continue };
        match app::backend::services::log_archive::archive_finished(&mut conn, &state.storage, chrono::Utc::now()).await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(lines = n, "log lines archived"),
            Err(e) => tracing::warn!(error = %e, "log archival failed"),
        }
    }
}

/// How often expired sessions and old sign-in attempts are deleted.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(600);

/// Deletes expired sessions and sign-in attempts outside the rate-limit window. Idempotent,
/// so several replicas may run it at once.
pub async fn maintenance(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.changed() => return,
        }
        let Ok(mut conn) = state.pool.get().await else {
            tracing::warn!("maintenance: database unavailable, will retry");
            continue;
        };
        match (sessions::prune_expired(&mut conn).await, rate_limit::prune(&mut conn).await) {
            (Ok(s), Ok(a)) => tracing::debug!(sessions = s, sign_in_attempts = a, "maintenance done"),
            (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "maintenance failed"),
        }
    }
}
