//! The fleet benchmark: a release `meeboter serve` (its own database, every cloud platform
//! simulated by a `meeboter bot-sim --fleet` host, docs/SIMULATION.md) measured from outside its
//! process, in three parts, each printed as a table with its goal and pass/fail:
//!
//! 1. **fleet**: N live bots (heartbeat every 10 s, one log line per second each) for D minutes:
//!    the server's average CPU (utime + stime from `/proc/<pid>/stat`, in cores), its peak and
//!    average RSS (`VmRSS`), heartbeat p50/p99 as the bots measured them, and log lines sent
//!    against lines stored;
//! 2. **dispatch**: bots created at once over k8s, aws and coolify whose calls each take 50 ms
//!    (fault plans with `latencyMs` on the fleet host): time until all are placed, and the most
//!    bots ever running per platform against its limit;
//! 3. **heartbeat throughput**: 64 keep-alive connections, one per bot with its own token, against
//!    the server's heartbeat endpoint and against a bare axum handler (a child process of this
//!    binary, same runtime), in the same run; the ratio of the two rates.
//!
//! Run: `DATABASE_URL=postgres://... cargo bench -p server --bench fleet` (`./dev bench` does it
//! against the private cluster). `FLEET_BENCH=quick` runs the small sizes (500 bots for 30 s, 200
//! dispatched bots, 5 s load rounds); the default is the full size (5,000 bots for 5 minutes,
//! 1,000 dispatched bots, 15 s rounds). `FLEET_BENCH_PARTS=dispatch,throughput` runs only some
//! parts (fleet, dispatch, throughput); `FLEET_BENCH_MEEBOTER=path` runs another `meeboter` binary
//! (a saved build, to compare before and after a change). Uses its own database, `meeboter_fleet_bench`, recreated
//! for each part. Logs of the children: `target/tmp/fleet-bench/`.

mod harness;
mod parts;
mod throughput;

use harness::*;
use parts::*;
use throughput::*;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{json, Value};

/// When set, this binary is the bare axum server of part 3, listening on the address it names.
const BARE_VAR: &str = "FLEET_BENCH_BARE_AXUM";
const MEEBOTER: &str = env!("CARGO_BIN_EXE_meeboter");
const DB_NAME: &str = "meeboter_fleet_bench";
/// Concurrent connections of the heartbeat load generator, one bot (and token) each.
const CONNECTIONS: usize = 64;
/// Platform calls at once per process during the dispatch part (`DEPLOYMENT_QUEUE_MAX_CONCURRENT`):
/// one claim batch (64) at a time, so each pass pays one 50 ms call instead of sixteen.
const DISPATCH_CONCURRENCY: &str = "64";

struct Sizes {
    mode: &'static str,
    fleet_bots: usize,
    fleet_secs: u64,
    dispatch_bots: usize,
    load_secs: u64,
}

fn main() {
    if let Ok(addr) = std::env::var(BARE_VAR) {
        bare_axum(&addr);
        return;
    }
    let sizes = match std::env::var("FLEET_BENCH").as_deref() {
        Ok("quick") => Sizes { mode: "quick", fleet_bots: 500, fleet_secs: 30, dispatch_bots: 200, load_secs: 5 },
        Ok("full") | Ok("") | Err(_) => {
            Sizes { mode: "full", fleet_bots: 5_000, fleet_secs: 300, dispatch_bots: 1_000, load_secs: 15 }
        }
        Ok(other) => {
            eprintln!("FLEET_BENCH must be quick or full (unset: full), not '{other}'");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let ok = rt.block_on(Box::pin(run(&sizes)));
    if !ok {
        println!("\nfleet benchmark: some goals were missed (see the tables above)");
    }
}

/// A minimal axum server answering `POST /ping` with `{}`: the ceiling of part 3.
fn bare_axum(addr: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the bare axum server");
        println!("bare axum listening on http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new().route(
            "/ping",
            axum::routing::post(|| async { ([(http::header::CONTENT_TYPE, "application/json")], "{}") }),
        );
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn run(sizes: &Sizes) -> bool {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at PostgreSQL");
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a database name");
    let bench =
        Bench { prefix: prefix.to_owned(), logs: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet-bench") };
    std::fs::create_dir_all(&bench.logs).expect("log directory");
    println!(
        "fleet benchmark ({} mode) on {} ({} cores); release meeboter at {}; logs in {}",
        sizes.mode,
        machine(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        meeboter(),
        bench.logs.display()
    );
    let parts = std::env::var("FLEET_BENCH_PARTS").unwrap_or_else(|_| "fleet,dispatch,throughput".into());
    let wanted = |part: &str| parts.split(',').any(|p| p.trim() == part);
    let mut ok = true;
    if wanted("fleet") {
        ok &= fleet_part(&bench, sizes.fleet_bots, sizes.fleet_secs).await;
    }
    if wanted("dispatch") {
        ok &= dispatch_part(&bench, sizes.dispatch_bots).await;
    }
    if wanted("throughput") {
        ok &= throughput_part(&bench, sizes.load_secs).await;
    }
    ok
}

/// The `meeboter` binary: this build's, or `FLEET_BENCH_MEEBOTER` (to compare two builds).
fn meeboter() -> String {
    std::env::var("FLEET_BENCH_MEEBOTER").unwrap_or_else(|_| MEEBOTER.to_owned())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cpu}, {mem_gib:.0} GiB")
}
