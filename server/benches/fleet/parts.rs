//! Parts 1 (a live fleet) and 2 (dispatch over three slow platforms).

use super::*;

/// A release server whose k8s, aws and coolify are simulated on `fleet` with `limits` (in that
/// order); a full platform hands its bots to the next at once (its default wait is 30 s to 5
/// minutes, which would be measured instead of the dispatch).
async fn simulated_server(
    bench: &Bench,
    name: &str,
    database: &str,
    fleet: &str,
    limits: [usize; 3],
) -> (Proc, String) {
    let [k8s, aws, coolify] = limits.map(|l| l.to_string());
    let env = [
        ("SIMULATED_PLATFORM_URL", fleet),
        ("PLATFORM_PRIORITY", "k8s,aws,coolify"),
        ("K8S_BOT_LIMIT", &k8s),
        ("AWS_BOT_LIMIT", &aws),
        ("COOLIFY_BOT_LIMIT", &coolify),
        ("DEPLOYMENT_QUEUE_MAX_CONCURRENT", DISPATCH_CONCURRENCY),
        ("K8S_QUEUE_TIMEOUT_MS", "0"),
        ("AWS_QUEUE_TIMEOUT_MS", "0"),
        ("COOLIFY_QUEUE_TIMEOUT_MS", "0"),
    ];
    bench.server(name, database, &env.map(|(k, v)| (k, v.to_owned()))).await
}

/// Part 1: `bots` live bots for `secs` seconds.
pub(super) async fn fleet_part(bench: &Bench, bots: usize, secs: u64) -> bool {
    let database = bench.fresh_database().await;
    let (fleet_proc, fleet) = bench.fleet_host("fleet-host", bots + 10);
    // Room for every bot; a Coolify pool has at most 999 slots (COOLIFY_BOT_LIMIT).
    let coolify = (bots / 3 + 10).min(999);
    let other = (bots + 10 - coolify).div_ceil(2);
    let (server, base) = simulated_server(bench, "fleet-server", &database, &fleet, [other, other, coolify]).await;
    let key = api_key(&database).await;
    let http = reqwest::Client::new();
    let ramp = Instant::now();
    create_bots(&base, &key, bots, 16).await;
    let mut conn = AsyncPgConnection::establish(&database).await.expect("connect");
    let waiting = Instant::now();
    loop {
        let running = fleet_stats(&http, &fleet).await["runningTotal"].as_u64().unwrap_or(0);
        if running as usize >= bots
            && count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'IN_CALL'").await as usize >= bots
        {
            break;
        }
        assert!(waiting.elapsed() < Duration::from_secs(900), "the bots did not all join their calls");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ramp_secs = ramp.elapsed().as_secs_f64();

    // The window: heartbeat latencies from now on, CPU and memory of the server process.
    let pid = server.pid();
    let ticks = clock_ticks();
    http.post(format!("{fleet}/stats/heartbeats/reset")).send().await.expect("reset heartbeats");
    let before = fleet_stats(&http, &fleet).await;
    const HEARTBEAT: &str = "/api/v1/bot/{id}/heartbeat";
    let served_before = route_histogram(&http, &base, HEARTBEAT).await;
    let (cpu0, t0) = (cpu_seconds(pid, ticks), Instant::now());
    let (mut peak, mut sum, mut samples) = (0f64, 0f64, 0u32);
    while t0.elapsed() < Duration::from_secs(secs) {
        let rss = rss_mb(pid);
        peak = peak.max(rss);
        sum += rss;
        samples += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let cores = (cpu_seconds(pid, ticks) - cpu0) / t0.elapsed().as_secs_f64();
    let after = fleet_stats(&http, &fleet).await;
    let served_after = route_histogram(&http, &base, HEARTBEAT).await;
    let (server_p50, _) = histogram_quantile(&served_before, &served_after, 0.50);
    let (server_p99, served) = histogram_quantile(&served_before, &served_after, 0.99);
    // Lines are stored before the server answers, so counting after reading `logLinesSent`
    // finds every line sent (and perhaps a few more, in flight meanwhile).
    let stored = count(&mut conn, "SELECT count(*) AS n FROM bot_logs").await as u64;
    let in_call = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'IN_CALL'").await;
    let sent = after["logLinesSent"].as_u64().unwrap_or(0);
    let lost = sent.saturating_sub(stored);
    let p50 = after["heartbeatP50Ms"].as_f64().unwrap_or(f64::NAN);
    let p99 = after["heartbeatP99Ms"].as_f64().unwrap_or(f64::NAN);
    let beats = after["heartbeats"].as_u64().unwrap_or(0);
    let window_lines = sent - before["logLinesSent"].as_u64().unwrap_or(0);
    drop(server);
    drop(fleet_proc);

    header(&format!(
        "Fleet: {bots} live bots for {secs} s (heartbeat every 10 s, 1 log line/s each; ramp-up {ramp_secs:.0} s)"
    ));
    let cpu_ok = cores <= 1.0;
    let rss_ok = peak <= 200.0;
    // The goal is the server's: the bots measure from inside the fleet host, which shares the
    // two cores with the server and PostgreSQL, so their view adds the host's own waits.
    let p99_ok = server_p99 <= 10.0;
    let lost_ok = lost == 0 && after["logLinesDropped"].as_u64() == Some(0);
    line("server CPU, average (cores)", format!("{cores:.2}"), "<= 1.00", Some(cpu_ok));
    line("server RSS, peak (MB)", format!("{peak:.0}"), "<= 200", Some(rss_ok));
    line("server RSS, average (MB)", format!("{:.0}", sum / f64::from(samples.max(1))), "", None);
    line("heartbeats in the window", beats.to_string(), "", None);
    line("heartbeats answered (server, /metrics)", served.to_string(), "", None);
    line("heartbeat p50 (ms, server, /metrics)", format!("{server_p50:.2}"), "", None);
    line("heartbeat p99 (ms, server, /metrics)", format!("{server_p99:.2}"), "<= 10", Some(p99_ok));
    line("heartbeat p50 (ms, bots)", format!("{p50:.2}"), "", None);
    line("heartbeat p99 (ms, bots)", format!("{p99:.2}"), "", None);
    line("heartbeat max (ms, bots)", format!("{:.1}", after["heartbeatMaxMs"].as_f64().unwrap_or(f64::NAN)), "", None);
    line("log lines sent in the window", window_lines.to_string(), "", None);
    line("log lines sent (whole run)", sent.to_string(), "", None);
    line("log lines stored (bot_logs)", stored.to_string(), ">= sent", None);
    line("log lines lost (sent - stored)", lost.to_string(), "0", Some(lost == 0));
    line("log lines dropped by bots", after["logLinesDropped"].to_string(), "0", Some(lost_ok));
    line("bot requests failed", after["failedRequests"].to_string(), "", None);
    line("bots still in their call", in_call.to_string(), &bots.to_string(), Some(in_call as usize == bots));
    println!("(no lines archived: archival starts only after a bot ends, and these stay in their calls)");
    cpu_ok && rss_ok && p99_ok && lost_ok && in_call as usize == bots
}

/// Part 2: `bots` created at once over three platforms whose calls take 50 ms.
pub(super) async fn dispatch_part(bench: &Bench, bots: usize) -> bool {
    let database = bench.fresh_database().await;
    let (fleet_proc, fleet) = bench.fleet_host("dispatch-host", bots + 10);
    let http = reqwest::Client::new();
    for kind in ["k8s", "aws", "coolify"] {
        let res = http
            .put(format!("{fleet}/platforms/{kind}/faults"))
            .json(&json!({ "latencyMs": 50 }))
            .send()
            .await
            .expect("set a fault plan");
        assert!(res.status().is_success(), "fault plan: {}", res.status());
    }
    // 40 % of the bots per platform: the first two fill up, the third takes the rest.
    let limit = (bots * 2).div_ceil(5);
    let (server, base) = simulated_server(bench, "dispatch-server", &database, &fleet, [limit; 3]).await;
    let key = api_key(&database).await;
    let mut conn = AsyncPgConnection::establish(&database).await.expect("connect");
    // Meetings that all start at the same minute: the bots are created scheduled (an hour
    // ahead), then their start moves to now, and the scheduler hands them all to the queue at
    // once. The clock runs from that moment: creating a thousand bots through the API (one
    // user, so one at a time) is not what this part measures.
    let created = Instant::now();
    let start = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    create_bots_at(&base, &key, bots, 32, Some(start)).await;
    let created_in = created.elapsed();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE bots SET start_time = now() WHERE status = 'SCHEDULED'"),
        &mut conn,
    )
    .await
    .expect("move the meetings to now");
    let started = Instant::now();
    let (mut queued_at, mut reserved_at, mut placed_at) = (None, None, None);
    while placed_at.is_none() || reserved_at.is_none() {
        let waited = started.elapsed();
        assert!(waited < Duration::from_secs(300), "dispatch did not finish in 5 minutes");
        let scheduled = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'SCHEDULED'").await;
        let queued = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'QUEUED'").await;
        let placed =
            count(&mut conn, "SELECT count(*) AS n FROM bots WHERE platform_identifier IS NOT NULL").await as usize;
        if scheduled == 0 && queued_at.is_none() {
            queued_at = Some(waited);
        }
        if scheduled == 0 && queued == 0 && reserved_at.is_none() {
            reserved_at = Some(waited);
        }
        if placed >= bots && placed_at.is_none() {
            placed_at = Some(waited);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = fleet_stats(&http, &fleet).await;
    let fatal = count(&mut conn, "SELECT count(*) AS n FROM bots WHERE status = 'FATAL'").await;
    drop(server);
    drop(fleet_proc);

    header(&format!(
        "Dispatch: {bots} meetings starting at once over k8s, aws, coolify (each call 50 ms, limits {limit} each, \
         *_QUEUE_TIMEOUT_MS=0, DEPLOYMENT_QUEUE_MAX_CONCURRENT={DISPATCH_CONCURRENCY})"
    ));
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let (reserved, placed) = (reserved_at.unwrap_or_default(), placed_at.unwrap_or_default());
    line("created beforehand (API, 32 clients, one user)", secs(created_in), "", None);
    line("all in the queue (scheduler)", secs(queued_at.unwrap_or_default()), "", None);
    line("none QUEUED any more", secs(reserved), "", None);
    line("all placed (platform answered)", secs(placed), "<= 10 s", Some(placed.as_secs_f64() <= 10.0));
    let mut ok = placed.as_secs_f64() <= 10.0;
    for kind in ["k8s", "aws", "coolify"] {
        let max = stats["maxRunning"][kind].as_u64().unwrap_or(0);
        let launches = stats["launches"][kind].as_u64().unwrap_or(0);
        let pass = max <= limit as u64;
        ok &= pass;
        line(
            &format!("{kind}: launches / most running"),
            format!("{launches} / {max}"),
            &format!("<= {limit}"),
            Some(pass),
        );
    }
    let duplicates = stats["duplicates"].as_u64().unwrap_or(0);
    line("bots running twice at once", duplicates.to_string(), "0", Some(duplicates == 0));
    line("bots FATAL", fatal.to_string(), "0", Some(fatal == 0));
    let launched = kinds_sum(&stats, "launches");
    line("launches in all", launched.to_string(), &bots.to_string(), Some(launched as usize == bots));
    ok && duplicates == 0 && fatal == 0 && launched as usize == bots
}
