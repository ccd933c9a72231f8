//! The queue dispatcher: runs [`Deployer::dispatch_pass`] whenever a bot is queued (it LISTENs on
//! `deployment_queue`) and every second (retries, waiting bots), pass after pass while
//! each claims as many bots as it may.
//! Beside it, it renews the leases of this replica's claimed rows every
//! [`crate::backend::deployer::LEASE_RENEWAL`] (so other replicas know it is alive) and probes the
//! unhealthy platforms whose back-off ended.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::watch;

use crate::backend::deployer::{Deployer, LEASE_RENEWAL};

/// Dispatches the deployment queue of this process.
pub struct QueueDispatcher {
    deployer: Arc<Deployer>,
    database_url: String,
}

impl QueueDispatcher {
    pub fn new(deployer: Arc<Deployer>, database_url: String) -> Self {
        QueueDispatcher { deployer, database_url }
    }

    /// Dispatches until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let listener = tokio::spawn(listen(self.deployer.clone(), self.database_url.clone()));
        let leases = tokio::spawn(renew(self.deployer.clone()));
        let mut probing: Option<tokio::task::JoinHandle<()>> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.deployer.woken() => {}
                _ = stop.changed() => break,
            }
            if probing.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                let deployer = self.deployer.clone();
                probing = Some(tokio::spawn(async move {
                    if let Err(e) = deployer.probe_due().await {
                        tracing::warn!(error = %e, "probing unhealthy platforms failed");
                    }
                }));
            }
            loop {
                match self.deployer.dispatch_pass().await {
                    Ok(pass) if pass.full && !*stop.borrow() => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "dispatch failed");
                        break;
                    }
                }
            }
        }
        listener.abort();
        leases.abort();
        if let Some(p) = probing {
            p.abort();
        }
    }
}

/// Renews this replica's leases until aborted.
async fn renew(deployer: Arc<Deployer>) {
    let mut tick = tokio::time::interval(LEASE_RENEWAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = deployer.renew_leases().await {
            tracing::warn!(error = %e, "renewing queue leases failed");
        }
    }
}

/// Keeps a connection that LISTENs on `deployment_queue` and wakes the dispatcher on each
/// notification; reconnects after errors.
async fn listen(deployer: Arc<Deployer>, url: String) {
    use futures_util::StreamExt;
    loop {
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => {
                if diesel::sql_query("LISTEN deployment_queue").execute(&mut conn).await.is_ok() {
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(Ok(_)) = stream.next().await {
                        deployer.wake();
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "queue listener: cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
